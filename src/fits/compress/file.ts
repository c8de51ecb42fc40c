/**
 * Whole-file compression and decompression, like fpack and funpack: every image HDU with data is
 * tile-compressed (a primary image goes into the first extension, marked ZSIMPLE, behind an
 * empty primary HDU); tables and already-compressed HDUs are copied unchanged. Decompression
 * restores the images, a ZSIMPLE one back into the primary HDU.
 */
import { BLOCK, Header, type Card } from '../header.js';
import { FitsReader } from '../reader.js';
import { bytesPerPixel, encodePixels, swapInPlace } from '../pixels.js';
import { setChecksums } from '../checksum.js';
import { onesSum } from '../checksum.js';
import { writeAtomicStream, writeFileAtomic } from '../../util/atomic.js';
import { where as fmtWhere } from '../../util/errors.js';
import { compressImage } from './write.js';
import { decompressImage, decodeImageInto, imageHeaderOf, isCompressedImage } from './index.js';
import type { PixelArray } from '../pixels.js';
import type { CompressOptions } from './types.js';

export interface FileOptions {
  /**
   * CHECKSUM/DATASUM: 'auto' (default) recomputes them on the HDUs that had them, true on every
   * HDU, false drops stale ones (a copied HDU whose header bytes did not change keeps its own).
   */
  checksum?: boolean | 'auto';
}

export interface HduReport {
  index: number;
  extname?: string;
  action: 'compressed' | 'decompressed' | 'copied';
  inBytes: number;
  outBytes: number;
}

function pad(n: number): Uint8Array {
  const r = n % BLOCK;
  return new Uint8Array(r === 0 ? 0 : BLOCK - r);
}

function emptyPrimary(): Header {
  const cards: Card[] = [
    { key: 'SIMPLE', value: true, comment: 'file does conform to FITS standard' },
    { key: 'BITPIX', value: 8, comment: 'number of bits per data pixel' },
    { key: 'NAXIS', value: 0, comment: 'number of data axes' },
    { key: 'EXTEND', value: true, comment: 'FITS dataset may contain extensions' },
  ];
  return new Header(cards, '<primary>');
}

const HAD_SUMS = (h: Header): boolean => h.has('CHECKSUM') || h.has('DATASUM');

class Out {
  chunks: Uint8Array[] = [];
  total = 0;
  constructor(private readonly checksum: boolean | 'auto') {}
  /** Append an HDU; `hadSums` says whether the input HDU carried checksums. */
  hdu(header: Header, data: Uint8Array, hadSums: boolean): number {
    const body = data.length ? [data, pad(data.length)] : [];
    if (this.checksum === true || (this.checksum === 'auto' && hadSums)) {
      setChecksums(header, body);
    } else {
      header.delete('CHECKSUM');
      header.delete('DATASUM');
    }
    const hb = header.toBytes();
    this.chunks.push(hb, ...body);
    const n = hb.length + body.reduce((a, b) => a + b.length, 0);
    this.total += n;
    return n;
  }
  /** Append an HDU byte for byte. */
  raw(headerBytes: Uint8Array, data: Uint8Array): number {
    const body = data.length ? [data, pad(data.length)] : [];
    this.chunks.push(headerBytes, ...body);
    const n = headerBytes.length + body.reduce((a, b) => a + b.length, 0);
    this.total += n;
    return n;
  }
}

function copyHdu(r: FitsReader, i: number, out: Out, checksum: boolean | 'auto'): number {
  const info = r.hdu(i);
  const data = r.readRawData(i);
  if (checksum === true) return out.hdu(info.header.clone(), data, true);
  return out.raw(r.headerBytes(i), data);
}

/** fpack: compress every image HDU of an open file; returns the output chunks and a report. */
export function compressFits(r: FitsReader, opts: CompressOptions & FileOptions = {}): { chunks: Uint8Array[]; report: HduReport[] } {
  const checksum = opts.checksum ?? 'auto';
  const out = new Out(checksum);
  const report: HduReport[] = [];
  const baseSeed = opts.ditherSeed;
  for (const info of r.hdus) {
    const i = info.index;
    const w = fmtWhere(r.path, i, info.extname);
    const inBytes = info.dataOffset - info.headerOffset + Math.ceil(info.dataBytes / BLOCK) * BLOCK;
    const isImage = info.type === 'image' && info.dataBytes > 0 && (info.header.optionalNumber('NAXIS') ?? 0) > 0;
    if (!isImage) {
      if (i === 0 && info.type === 'image') {
        // empty primary: copy, making sure extensions are allowed
        const h = info.header.clone();
        if (h.get('EXTEND') !== true) {
          h.set('EXTEND', true, 'FITS dataset may contain extensions');
          report.push({ index: i, action: 'copied', inBytes, outBytes: out.hdu(h, new Uint8Array(0), HAD_SUMS(info.header)) });
          continue;
        }
      }
      report.push({ index: i, extname: info.extname, action: 'copied', inBytes, outBytes: copyHdu(r, i, out, checksum) });
      continue;
    }
    const img = r.readImage(i, { raw: true });
    // as cfitsio: a clock-based ZDITHER0 offset by the HDU number, unless one was given
    const seed = baseSeed ?? ((Math.floor(Date.now() / 1000) + i) % 10000) + 1;
    const c = compressImage(info.header, img.data, img.shape, { ...opts, ditherSeed: seed }, w, true);
    let outBytes = 0;
    if (i === 0) outBytes += out.hdu(emptyPrimary(), new Uint8Array(0), false);
    outBytes += out.hdu(c.header, c.bytes, HAD_SUMS(info.header));
    report.push({ index: i, extname: info.extname, action: 'compressed', inBytes, outBytes });
  }
  return { chunks: out.chunks, report };
}

/** funpack: decompress every tile-compressed image HDU of an open file. */
export function decompressFits(r: FitsReader, opts: FileOptions = {}): { chunks: Uint8Array[]; report: HduReport[] } {
  const checksum = opts.checksum ?? 'auto';
  const out = new Out(checksum);
  const report: HduReport[] = [];
  const restorePrimary = restoresPrimary(r);
  for (const info of r.hdus) {
    const i = info.index;
    const w = fmtWhere(r.path, i, info.extname);
    const inBytes = info.dataOffset - info.headerOffset + Math.ceil(info.dataBytes / BLOCK) * BLOCK;
    if (i === 0 && restorePrimary) {
      report.push({ index: i, action: 'copied', inBytes, outBytes: 0 });
      continue;
    }
    if (!isCompressedImage(info.header)) {
      report.push({ index: i, extname: info.extname, action: 'copied', inBytes, outBytes: copyHdu(r, i, out, checksum) });
      continue;
    }
    const img = decompressImage(info.header, r.readRawData(i), w, undefined, true);
    const h = placed(img.header, i === 1 && restorePrimary);
    const bitpix = h.integer('BITPIX');
    // raw decoding returns a fresh array of exactly the BITPIX type: swap it in place to big-endian
    let data: Uint8Array;
    if (isNatural(bitpix, img.data)) {
      data = new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength);
      swapInPlace(data, bytesPerPixel(bitpix));
    } else {
      data = encodePixels(img.data, bitpix, w);
    }
    const hadSums = HAD_SUMS(info.header) || info.header.has('ZHECKSUM') || info.header.has('ZDATASUM');
    report.push({ index: i, extname: info.extname, action: 'decompressed', inBytes, outBytes: out.hdu(h, data, hadSums) });
  }
  return { chunks: out.chunks, report };
}

/** Whether decoded pixels are stored as BITPIX says (then a byte swap gives the data unit). */
function isNatural(bitpix: number, a: PixelArray): boolean {
  return (bitpix === -32 && a instanceof Float32Array) || (bitpix === -64 && a instanceof Float64Array) ||
    (bitpix === 8 && a instanceof Uint8Array) || (bitpix === 16 && a instanceof Int16Array) ||
    (bitpix === 32 && a instanceof Int32Array) || (bitpix === 64 && a instanceof BigInt64Array);
}

/** A ZSIMPLE image right after an empty primary becomes the primary again. */
function restoresPrimary(r: FitsReader): boolean {
  const first = r.hdus[1];
  return r.hdus[0]!.type === 'image' && r.hdus[0]!.dataBytes === 0 && first !== undefined && first.type === 'compressed-image' && first.header.get('ZSIMPLE') === true;
}

/** A restored image header as the primary HDU or as an IMAGE extension. */
function placed(h: Header, isPrimary: boolean): Header {
  if (!isPrimary && h.has('SIMPLE')) return asExtension(h);
  if (isPrimary && !h.has('SIMPLE')) return asPrimary(h);
  return h;
}

function asExtension(h: Header): Header {
  const cards: Card[] = [{ key: 'XTENSION', value: 'IMAGE', comment: 'image extension' }];
  const rest = h.cards.filter((c) => !['SIMPLE', 'EXTEND'].includes(c.key.toUpperCase()));
  const naxis = h.integer('NAXIS');
  // XTENSION, BITPIX, NAXIS, NAXISn, PCOUNT, GCOUNT, then the rest
  const struct = rest.slice(0, 2 + naxis);
  cards.push(...struct, { key: 'PCOUNT', value: 0, comment: 'number of parameters' }, { key: 'GCOUNT', value: 1, comment: 'number of groups' });
  cards.push(...rest.slice(2 + naxis));
  return new Header(cards, h.where);
}

function asPrimary(h: Header): Header {
  const rest = h.cards.filter((c) => !['XTENSION', 'PCOUNT', 'GCOUNT'].includes(c.key.toUpperCase()));
  const naxis = h.integer('NAXIS');
  const cards: Card[] = [{ key: 'SIMPLE', value: true, comment: 'conforms to FITS standard' }, ...rest.slice(0, 2 + naxis)];
  cards.push({ key: 'EXTEND', value: true, comment: 'FITS dataset may contain extensions' }, ...rest.slice(2 + naxis).filter((c) => c.key.toUpperCase() !== 'EXTEND'));
  return new Header(cards, h.where);
}

/** Compress IN to OUT (written atomically). */
export function compressFile(inPath: string, outPath: string, opts: CompressOptions & FileOptions = {}): HduReport[] {
  const r = FitsReader.open(inPath);
  try {
    const { chunks, report } = compressFits(r, opts);
    writeFileAtomic(outPath, chunks);
    return report;
  } finally {
    r.close();
  }
}

/** Bytes of the decoded image held at once when a file is decompressed band by band. */
const BAND_BYTES = 1 << 22;

/**
 * Decompress IN to OUT, written atomically (temporary file, fsync, rename) like writeFileAtomic,
 * but streamed: each 2-D image is decoded in one pass band by band (about 4 MB of rows, whole
 * tiles) into one reused buffer, byte-swapped and summed for DATASUM while in cache, and written out; the
 * header goes in last at its place (its length does not depend on the checksum values). The
 * bytes written are the same as those of decompressFits.
 */
export function decompressFile(inPath: string, outPath: string, opts: FileOptions = {}): HduReport[] {
  const r = FitsReader.open(inPath);
  try {
    const checksum = opts.checksum ?? 'auto';
    const report: HduReport[] = [];
    const restorePrimary = restoresPrimary(r);
    writeAtomicStream(outPath, (f) => {
      const out = new Out(checksum);
      const flush = (): void => {
        for (const c of out.chunks) f.write(c);
        out.chunks = [];
      };
      for (const info of r.hdus) {
        const i = info.index;
        const w = fmtWhere(r.path, i, info.extname);
        const inBytes = info.dataOffset - info.headerOffset + Math.ceil(info.dataBytes / BLOCK) * BLOCK;
        if (i === 0 && restorePrimary) {
          report.push({ index: i, action: 'copied', inBytes, outBytes: 0 });
          continue;
        }
        if (!isCompressedImage(info.header)) {
          report.push({ index: i, extname: info.extname, action: 'copied', inBytes, outBytes: copyHdu(r, i, out, checksum) });
          flush();
          continue;
        }
        const h = placed(imageHeaderOf(info.header), i === 1 && restorePrimary);
        const hadSums = HAD_SUMS(info.header) || info.header.has('ZHECKSUM') || info.header.has('ZDATASUM');
        const withSums = checksum === true || (checksum === 'auto' && hadSums);
        const bitpix = h.integer('BITPIX');
        const size = bytesPerPixel(bitpix);
        const naxis = h.integer('NAXIS');
        const nx = naxis >= 1 ? h.integer('NAXIS1') : 0;
        const ny = naxis >= 2 ? h.integer('NAXIS2') : 1;
        const tileRows = Math.max(1, info.header.optionalNumber('ZTILE2') ?? 1);
        const data = r.readRawData(i);
        // bands of whole tile rows (a multiple of 4 rows keeps them whole 32-bit words)
        const lcm = tileRows % 4 === 0 ? tileRows : tileRows % 2 === 0 ? tileRows * 2 : tileRows * 4;
        let rowsPer = Math.max(lcm, Math.floor(BAND_BYTES / Math.max(1, nx * size) / lcm) * lcm);
        if (naxis !== 2 || rowsPer >= ny) rowsPer = ny;
        // the header with placeholder sums: its final version has the same length
        if (withSums) setChecksums(h, { datasum: 0 });
        else { h.delete('CHECKSUM'); h.delete('DATASUM'); }
        const headerAt = f.offset;
        const hb0 = h.toBytes();
        f.write(hb0);
        let datasum = 0;
        let nbytes = 0;
        const emit = (a: PixelArray): void => {
          let bytes: Uint8Array;
          if (isNatural(bitpix, a)) {
            bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
            swapInPlace(bytes, size);
          } else {
            bytes = encodePixels(a, bitpix, w);
          }
          if (withSums) datasum = onesSum(bytes, datasum);
          f.write(bytes);
          nbytes += bytes.length;
        };
        if (rowsPer === ny) emit(decompressImage(info.header, data, w, undefined, true).data);
        else decodeImageInto(info.header, data, w, undefined, true, undefined, { rows: rowsPer, emit });
        const padding = pad(nbytes);
        f.write(padding);
        if (withSums) {
          setChecksums(h, { datasum });
          const hb = h.toBytes();
          if (hb.length !== hb0.length) throw new Error('decompressFile: header length changed with its checksums (internal error)');
          f.writeAt(hb, headerAt);
        }
        report.push({ index: i, extname: info.extname, action: 'decompressed', inBytes, outBytes: hb0.length + nbytes + padding.length });
      }
    });
    return report;
  } finally {
    r.close();
  }
}


