/**
 * Reading FITS files: HDU structure from the headers alone (data units are skipped by seeking),
 * then images, image sections, tables and raw data units on request, one HDU at a time.
 * `.fits.gz` (whole-file gzip) is decompressed in memory; tile-compressed image HDUs are
 * decoded by ./compress.
 */
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { TesseraError, where as fmtWhere } from '../util/errors.js';
import { BLOCK, Header } from './header.js';
import { alignedBytes, bytesPerPixel, decodePixels, type PixelArray, type Scaling } from './pixels.js';
import { FileSource, MemorySource, type ByteSource } from './source.js';
import { decodeTable, type FitsTable } from './table.js';
import { onesSum, verifySums, type ChecksumResult } from './checksum.js';

import { decompressImage, imageHeaderOf } from './compress/index.js';

export type { PixelArray } from './pixels.js';
export type { FitsTable, FitsColumn } from './table.js';

export type HduType = 'image' | 'bintable' | 'table' | 'compressed-image';

export interface HduInfo {
  index: number;
  extname?: string;
  type: HduType;
  header: Header;
  /** Byte offset of the header in the file. */
  headerOffset: number;
  /** Byte offset of the data unit (just after the header's padding). */
  dataOffset: number;
  /** Size of the data unit without padding (main table + heap for tables). */
  dataBytes: number;
}

export interface FitsImage {
  /** Pixel values, row-major with NAXIS1 varying fastest (physical values unless raw). */
  data: PixelArray;
  /** [NAXIS1, NAXIS2, ...] of the returned data (of the section when one was asked for). */
  shape: number[];
  header: Header;
}

export interface ReadImageOptions {
  /** 0-based half-open row range [y0, y1) along NAXIS2 (in every plane of a cube). */
  rows?: [number, number];
  /** 0-based half-open box; applies to every plane of a cube. */
  box?: { x0: number; y0: number; x1: number; y1: number };
  /** Return the stored integers without BSCALE/BZERO/BLANK. */
  raw?: boolean;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** Size in bytes of an HDU's data unit (without padding), from its header. */
export function dataUnitBytes(h: Header, primary: boolean): number {
  const bitpix = h.integer('BITPIX');
  if (![8, 16, 32, 64, -32, -64].includes(bitpix)) {
    throw new TesseraError(`${h.where}: keyword BITPIX: expected 8, 16, 32, 64, -32 or -64, got ${bitpix}`);
  }
  const naxis = h.integer('NAXIS');
  if (naxis < 0 || naxis > 999) throw new TesseraError(`${h.where}: keyword NAXIS: expected 0..999, got ${naxis}`);
  if (naxis === 0) return 0;
  let n = 1;
  const groups = primary && h.get('GROUPS') === true && h.get('NAXIS1') === 0;
  for (let i = 1; i <= naxis; i++) {
    const v = h.integer(`NAXIS${i}`);
    if (v < 0) throw new TesseraError(`${h.where}: keyword NAXIS${i}: expected a non-negative integer, got ${v}`);
    if (groups && i === 1) continue;
    n *= v;
  }
  const pcount = primary && !groups ? 0 : h.optionalNumber('PCOUNT') ?? 0;
  const gcount = primary && !groups ? 1 : h.optionalNumber('GCOUNT') ?? 1;
  if (!Number.isInteger(pcount) || pcount < 0) throw new TesseraError(`${h.where}: keyword PCOUNT: expected a non-negative integer, got ${pcount}`);
  if (!Number.isInteger(gcount) || gcount < 0) throw new TesseraError(`${h.where}: keyword GCOUNT: expected a non-negative integer, got ${gcount}`);
  const bytes = bytesPerPixel(bitpix) * gcount * (pcount + n);
  if (!Number.isSafeInteger(bytes)) throw new TesseraError(`${h.where}: data size overflows (NAXISn too large)`);
  return bytes;
}

function padded(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

export class FitsReader {
  readonly path: string;
  readonly hdus: HduInfo[];
  /** Irregularities that do not stop reading (e.g. the last HDU's padding is missing). */
  readonly warnings: string[] = [];
  private src: ByteSource;

  private constructor(src: ByteSource, path: string) {
    this.src = src;
    this.path = path;
    this.hdus = scanHdus(src, path, this.warnings);
  }

  /** Open a file and read its headers only (.fits, .fits.fz, .fits.gz). */
  static open(path: string): FitsReader {
    const src = new FileSource(path);
    const magic = src.read(0, 2);
    if (magic.length === 2 && magic[0] === GZIP_MAGIC[0] && magic[1] === GZIP_MAGIC[1]) {
      src.close();
      let bytes: Uint8Array;
      try {
        bytes = gunzipSync(readFileSync(path));
      } catch (e) {
        throw new TesseraError(`${path}: corrupt gzip file (${(e as Error).message})`);
      }
      return new FitsReader(new MemorySource(bytes, path), path);
    }
    try {
      return new FitsReader(src, path);
    } catch (e) {
      src.close();
      throw e;
    }
  }

  static fromBytes(bytes: Uint8Array, name: string): FitsReader {
    if (bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1]) {
      try {
        bytes = gunzipSync(bytes);
      } catch (e) {
        throw new TesseraError(`${name}: corrupt gzip data (${(e as Error).message})`);
      }
    }
    return new FitsReader(new MemorySource(bytes, name), name);
  }

  /** An HDU by 0-based index or by EXTNAME (case-insensitive), optionally "EXTNAME,EXTVER"; an integer string is an index. */
  hdu(sel: number | string): HduInfo {
    if (typeof sel === 'string' && /^\d+$/.test(sel.trim())) sel = Number(sel.trim());
    if (typeof sel === 'number') {
      const h = this.hdus[sel];
      if (!h) throw new TesseraError(`${this.path}: no HDU ${sel} (the file has ${this.hdus.length}: 0..${this.hdus.length - 1})`);
      return h;
    }
    // "NAME" or "NAME,EXTVER" (as cfitsio's file[SCI,2]).
    const m = /^(.*?)\s*,\s*(\d+)$/.exec(sel.trim());
    const want = (m ? m[1]! : sel).trim().toUpperCase();
    const ver = m ? Number(m[2]) : undefined;
    const h = this.hdus.find((x) => x.extname?.trim().toUpperCase() === want && (ver === undefined || (x.header.optionalNumber('EXTVER') ?? 1) === ver));
    if (!h) {
      const names = this.hdus.filter((x) => x.extname).map((x) => x.extname);
      throw new TesseraError(`${this.path}: no HDU with EXTNAME '${sel}' (${names.length ? `EXTNAMEs: ${names.join(', ')}` : 'no HDU has an EXTNAME'})`);
    }
    return h;
  }

  /** The image header of an HDU: for a tile-compressed HDU, the header of the image it holds. */
  imageHeader(sel: number | string): Header {
    const h = this.hdu(sel);
    if (h.type !== 'compressed-image') return h.header;
    const ih = imageHeaderOf(h.header);
    ih.where = h.header.where;
    return ih;
  }

  /** The data unit of an HDU as stored (big-endian; main table + heap for tables). */
  readRawData(sel: number | string): Uint8Array {
    const h = this.hdu(sel);
    const out = alignedBytes(h.dataBytes);
    this.src.readInto(out, h.dataOffset);
    return out;
  }

  readImage(sel: number | string, opts: ReadImageOptions = {}): FitsImage {
    const h = this.hdu(sel);
    const where = h.header.where;
    if (h.type === 'compressed-image') {
      const rows = opts.box ? ([opts.box.y0, opts.box.y1] as [number, number]) : opts.rows;
      const out = decompressImage(h.header, this.readRawData(h.index), where, rows, opts.raw === true);
      out.header.where = where;
      if (opts.box) return cutColumns(out, opts.box, where);
      return out;
    }
    if (h.type !== 'image') throw new TesseraError(`${where}: HDU is a ${h.type === 'table' ? 'ASCII table' : 'binary table'}, not an image`);
    const hd = h.header;
    if (hd.get('GROUPS') === true && hd.get('NAXIS1') === 0) throw new TesseraError(`${where}: random-groups data are not supported`);
    const bitpix = hd.integer('BITPIX');
    const naxis = hd.integer('NAXIS');
    const shape: number[] = [];
    for (let i = 1; i <= naxis; i++) shape.push(hd.integer(`NAXIS${i}`));
    const scaling: Scaling = { bscale: hd.optionalNumber('BSCALE') ?? 1, bzero: hd.optionalNumber('BZERO') ?? 0 };
    const blank = hd.get('BLANK');
    if (bitpix > 0 && blank !== undefined && blank !== null) {
      if (typeof blank !== 'number' && typeof blank !== 'bigint') throw new TesseraError(`${where}: keyword BLANK: expected an integer, got ${String(blank)}`);
      scaling.blank = blank;
    }
    const size = bytesPerPixel(bitpix);
    if (naxis === 0) return { data: decodePixels(alignedBytes(0), bitpix, 0, scaling, opts.raw), shape: [], header: hd };
    const nx = shape[0]!;
    const ny = naxis >= 2 ? shape[1]! : 1;
    let planes = 1;
    for (let i = 2; i < naxis; i++) planes *= shape[i]!;
    let x0 = 0, x1 = nx, y0 = 0, y1 = ny;
    if (opts.rows || opts.box) {
      if (naxis < 2) throw new TesseraError(`${where}: a row range or box needs an image with NAXIS >= 2 (NAXIS = ${naxis})`);
      if (opts.box) ({ x0, x1, y0, y1 } = opts.box);
      else [y0, y1] = opts.rows!;
      if (!(Number.isInteger(x0) && Number.isInteger(x1) && Number.isInteger(y0) && Number.isInteger(y1) && 0 <= x0 && x0 < x1 && x1 <= nx && 0 <= y0 && y0 < y1 && y1 <= ny)) {
        throw new TesseraError(`${where}: section x [${x0}, ${x1}) y [${y0}, ${y1}) is not inside the ${nx}×${ny} image (0-based, end exclusive)`);
      }
    }
    const w = x1 - x0;
    const hgt = y1 - y0;
    const n = w * hgt * planes;
    const bytes = alignedBytes(hgt * nx * planes * size);
    const planeBytes = nx * ny * size;
    const spanBytes = hgt * nx * size;
    for (let p = 0; p < planes; p++) {
      this.src.readInto(bytes.subarray(p * spanBytes, (p + 1) * spanBytes), h.dataOffset + p * planeBytes + y0 * nx * size);
    }
    if (w !== nx) {
      // Compact each row's [x0, x1) to the front (destination never overtakes the source).
      const rowBytes = nx * size;
      const outRow = w * size;
      for (let r = 0; r < hgt * planes; r++) bytes.copyWithin(r * outRow, r * rowBytes + x0 * size, r * rowBytes + x1 * size);
    }
    const data = decodePixels(bytes, bitpix, n, scaling, opts.raw);
    const outShape = [w, ...(naxis >= 2 ? [hgt] : []), ...shape.slice(2)];
    return { data, shape: outShape, header: hd };
  }

  readTable(sel: number | string): FitsTable {
    const h = this.hdu(sel);
    if (h.type !== 'bintable' && h.type !== 'table' && h.type !== 'compressed-image') {
      throw new TesseraError(`${h.header.where}: HDU is an image, not a table`);
    }
    return decodeTable(h.header, this.readRawData(h.index), h.type === 'table');
  }

  /** The header of an HDU as stored (with its padding). */
  headerBytes(sel: number | string): Uint8Array {
    const h = this.hdu(sel);
    return this.src.read(h.headerOffset, h.dataOffset - h.headerOffset);
  }

  /** Verify CHECKSUM/DATASUM of an HDU (reads its data in 16 MB pieces; missing final padding counts as zeros). */
  checksums(sel: number | string): ChecksumResult {
    const h = this.hdu(sel);
    const total = padded(h.dataBytes);
    const avail = Math.min(total, this.src.size - h.dataOffset);
    let sum = 0;
    const piece = 16 * 1024 * 1024;
    for (let o = 0; o < avail; o += piece) sum = onesSum(this.src.read(h.dataOffset + o, Math.min(piece, avail - o)), sum);
    return verifySums(h.header, this.headerBytes(h.index), sum);
  }

  close(): void {
    this.src.close();
  }
}

/** Cut a row-band image (shape [nx, y1-y0, ...]) down to the box's columns. */
function cutColumns(img: FitsImage, box: { x0: number; x1: number }, where: string): FitsImage {
  const nx = img.shape[0]!;
  if (!(0 <= box.x0 && box.x0 < box.x1 && box.x1 <= nx)) throw new TesseraError(`${where}: box x [${box.x0}, ${box.x1}) is not inside the image width ${nx}`);
  const w = box.x1 - box.x0;
  const rows = img.data.length / nx;
  const Ctor = img.data.constructor as new (n: number) => PixelArray;
  const out = new Ctor(w * rows);
  for (let r = 0; r < rows; r++) (out as Float64Array).set((img.data as Float64Array).subarray(r * nx + box.x0, r * nx + box.x1), r * w);
  return { data: out, shape: [w, ...img.shape.slice(1)], header: img.header };
}

/** Read one header starting at pos, block by block, until its END card. */
function readHeaderAt(src: ByteSource, pos: number, where: string, first: Uint8Array): { header: Header; byteLength: number } {
  const chunks: Uint8Array[] = [];
  let p = pos;
  for (;;) {
    if (p >= src.size) {
      const total = p - pos;
      throw new TesseraError(`${where}: header starting at byte ${pos} has no END card before the end of the file (${total} bytes read; file truncated?)`);
    }
    const block = p === pos ? first : src.read(p, BLOCK);
    if (p !== pos && startsWith(block, 'XTENSION=')) {
      throw new TesseraError(`${where}: header starting at byte ${pos} has no END card (the next extension's XTENSION header starts at byte ${p})`);
    }
    chunks.push(block);
    p += block.length;
    if (hasEnd(block)) break;
    if (block.length < BLOCK) {
      throw new TesseraError(`${where}: header starting at byte ${pos} has no END card before the end of the file (file truncated?)`);
    }
  }
  const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  return Header.parse(all, where);
}

function hasEnd(block: Uint8Array): boolean {
  for (let o = 0; o + 80 <= block.length; o += 80) {
    if (block[o] === 0x45 && block[o + 1] === 0x4e && block[o + 2] === 0x44 && block[o + 3] === 0x20 &&
      block[o + 4] === 0x20 && block[o + 5] === 0x20 && block[o + 6] === 0x20 && block[o + 7] === 0x20) return true;
  }
  return false;
}

function startsWith(bytes: Uint8Array, s: string): boolean {
  if (bytes.length < s.length) return false;
  for (let i = 0; i < s.length; i++) if (bytes[i] !== s.charCodeAt(i)) return false;
  return true;
}

function scanHdus(src: ByteSource, path: string, warnings: string[]): HduInfo[] {
  const hdus: HduInfo[] = [];
  if (src.size === 0) throw new TesseraError(`${path}: empty file, not FITS`);
  let pos = 0;
  for (let index = 0; pos < src.size; index++) {
    const first = src.read(pos, BLOCK);
    if (index === 0) {
      if (!startsWith(first, 'SIMPLE  =')) throw new TesseraError(`${path}: not a FITS file (does not start with SIMPLE =)`);
    } else if (!startsWith(first, 'XTENSION=')) {
      // Trailing blocks of zeros or blanks after the last HDU are tolerated (as astropy does).
      if (first.every((b) => b === 0 || b === 0x20)) {
        const rest = src.read(pos, Math.min(src.size - pos, 1 << 20));
        if (rest.every((b) => b === 0 || b === 0x20)) break;
      }
      throw new TesseraError(`${path}: unexpected bytes after HDU ${index - 1} at byte ${pos} (expected an XTENSION header or the end of the file)`);
    }
    let where = fmtWhere(path, index);
    const { header, byteLength } = readHeaderAt(src, pos, where, first);
    const extname = header.cards.find((c) => c.key.toUpperCase() === 'EXTNAME' && typeof c.value === 'string')?.value as string | undefined;
    if (extname) {
      where = fmtWhere(path, index, extname.trim());
      header.where = where;
    }
    let type: HduType;
    if (index === 0) {
      if (header.get('SIMPLE') !== true) throw new TesseraError(`${where}: SIMPLE is not T (the file does not claim to conform to FITS)`);
      type = 'image';
    } else {
      const x = header.get('XTENSION');
      const xt = typeof x === 'string' ? x.trim().toUpperCase() : '';
      if (xt === 'IMAGE' || xt === 'IUEIMAGE') type = 'image';
      else if (xt === 'BINTABLE' || xt === 'A3DTABLE') type = header.get('ZIMAGE') === true ? 'compressed-image' : 'bintable';
      else if (xt === 'TABLE') type = 'table';
      else throw new TesseraError(`${where}: unsupported XTENSION ${JSON.stringify(x)}`);
    }
    const dataBytes = dataUnitBytes(header, index === 0);
    const dataOffset = pos + byteLength;
    if (dataOffset + dataBytes > src.size) {
      const dims: string[] = [];
      const naxis = header.optionalNumber('NAXIS') ?? 0;
      for (let i = 1; i <= naxis; i++) dims.push(`NAXIS${i}=${header.get(`NAXIS${i}`)}`);
      throw new TesseraError(
        `${where}: data unit needs ${dataBytes} bytes (BITPIX=${header.get('BITPIX')}, ${dims.join(', ')}${header.has('PCOUNT') ? `, PCOUNT=${header.get('PCOUNT')}` : ''}) ` +
        `but the file ends ${Math.max(0, src.size - dataOffset)} bytes after the header: truncated file or wrong NAXISn`,
      );
    }
    const info: HduInfo = { index, type, header, headerOffset: pos, dataOffset, dataBytes };
    if (extname) info.extname = extname.trim();
    hdus.push(info);
    pos = dataOffset + padded(dataBytes);
  }
  if (pos > src.size) {
    warnings.push(`${path}: the file ends ${pos - src.size} bytes short of a multiple of 2880: the last HDU's padding is missing (truncated file?)`);
  }
  return hdus;
}
