/**
 * FITS tiled image compression (FITS standard §10): a compressed image is a BINTABLE with
 * ZIMAGE = T, one row per tile. This module converts between that table (header + data unit
 * bytes) and the image it stands for, pixel for pixel as cfitsio/astropy read it.
 *
 * Shapes are in FITS axis order: [NAXIS1, NAXIS2, ...] (NAXIS1 varies fastest in the array).
 */
import { TesseraError } from '../../util/errors.js';
import { Header, type Card } from '../header.js';
import { CodecError, type CompressOptions, type CompressionType, type DitherMethod, type PixelArray } from './types.js';
import { riceDecode, riceEncode } from './rice.js';
import { gzipDecode, gzipEncode, unshuffleBytes } from './gzip.js';
import { plioDecode } from './plio.js';
import { hcompressDecode } from './hcompress.js';
import { dequantize, quantize, NULL_VALUE, type DitherCode } from './quantize.js';
import { tileColumns, TileTable, type TileColumn } from './table.js';
import { copyTile, tileBox, tileGrid } from './tiles.js';

export type { CompressOptions, CompressionType, DitherMethod, PixelArray } from './types.js';
export { CodecError } from './types.js';

/** True when a header describes a tile-compressed image (ZIMAGE = T). */
export function isCompressedImage(header: Header): boolean {
  const v = header.get('ZIMAGE');
  return v === true;
}

/* ------------------------------------------------------------------ image header */

/** Table and compression keywords that do not belong to the image header. */
const TABLE_KEYS = new Set([
  'XTENSION', 'BITPIX', 'NAXIS', 'PCOUNT', 'GCOUNT', 'TFIELDS', 'THEAP', 'EXTEND', 'SIMPLE',
  'ZIMAGE', 'ZCMPTYPE', 'ZBITPIX', 'ZNAXIS', 'ZTENSION', 'ZSIMPLE', 'ZEXTEND', 'ZBLOCKED',
  'ZPCOUNT', 'ZGCOUNT', 'ZQUANTIZ', 'ZDITHER0', 'ZSCALE', 'ZZERO', 'ZBLANK', 'ZHECKSUM', 'ZDATASUM',
  'CHECKSUM', 'DATASUM', 'ZMASKCMP',
]);
const TABLE_KEY_RE = /^(NAXIS\d+|ZNAXIS\d+|ZTILE\d+|ZNAME\d+|ZVAL\d+|T(TYPE|FORM|UNIT|SCAL|ZERO|NULL|DISP|DIM|DMIN|DMAX|LMIN|LMAX)\d+)$/;

function isTableKey(key: string): boolean {
  const k = key.toUpperCase();
  return TABLE_KEYS.has(k) || TABLE_KEY_RE.test(k);
}

/** The header of the uncompressed image that a compressed-image table header stands for. */
export function imageHeaderOf(tableHeader: Header): Header {
  const where = tableHeader.where;
  const zbitpix = tableHeader.integer('ZBITPIX');
  const znaxis = tableHeader.integer('ZNAXIS');
  const cards: Card[] = [];
  const primary = tableHeader.get('ZSIMPLE') === true;
  if (primary) {
    cards.push({ key: 'SIMPLE', value: true, comment: 'conforms to FITS standard' });
  } else {
    cards.push({ key: 'XTENSION', value: tableHeader.optionalString('ZTENSION') ?? 'IMAGE', comment: 'image extension' });
  }
  cards.push({ key: 'BITPIX', value: zbitpix, comment: tableHeader.comment('ZBITPIX') ?? 'bits per data value' });
  cards.push({ key: 'NAXIS', value: znaxis, comment: tableHeader.comment('ZNAXIS') ?? 'number of data axes' });
  for (let i = 1; i <= znaxis; i++) {
    cards.push({ key: `NAXIS${i}`, value: tableHeader.integer(`ZNAXIS${i}`), comment: tableHeader.comment(`ZNAXIS${i}`) ?? `length of data axis ${i}` });
  }
  if (primary) {
    const ext = tableHeader.get('ZEXTEND');
    if (ext !== undefined) cards.push({ key: 'EXTEND', value: ext, comment: tableHeader.comment('ZEXTEND') });
  } else {
    cards.push({ key: 'PCOUNT', value: tableHeader.optionalNumber('ZPCOUNT') ?? 0, comment: 'number of random group parameters' });
    cards.push({ key: 'GCOUNT', value: tableHeader.optionalNumber('ZGCOUNT') ?? 1, comment: 'number of random groups' });
  }
  for (const c of tableHeader.cards) {
    if (c.value !== undefined && isTableKey(c.key)) continue;
    // the default EXTNAME that fpack/astropy give a compressed HDU is not part of the image
    if (c.key.toUpperCase() === 'EXTNAME' && typeof c.value === 'string' && c.value.trim() === 'COMPRESSED_IMAGE') continue;
    if (c.key.toUpperCase() === 'END') continue;
    cards.push({ ...c });
  }
  const hsum = tableHeader.get('ZHECKSUM');
  const dsum = tableHeader.get('ZDATASUM');
  if (hsum !== undefined) cards.push({ key: 'CHECKSUM', value: hsum, comment: tableHeader.comment('ZHECKSUM') });
  if (dsum !== undefined) cards.push({ key: 'DATASUM', value: dsum, comment: tableHeader.comment('ZDATASUM') });
  return new Header(cards, where);
}

/* ------------------------------------------------------------------ decompression */

interface Params {
  type: CompressionType;
  zbitpix: number;
  size: number[];
  tile: number[];
  blocksize: number;
  bytepix: number;
  smooth: boolean;
  quantized: boolean;
  dither: DitherCode;
  ditherSeed: number;
}

function normType(raw: string, where: string): CompressionType {
  const t = raw.trim().toUpperCase();
  if (t === 'RICE_1' || t === 'RICE_ONE') return 'RICE_1';
  if (t === 'GZIP_1' || t === 'GZIP_2' || t === 'HCOMPRESS_1' || t === 'PLIO_1' || t === 'NOCOMPRESS') return t;
  throw new TesseraError(`${where}: ZCMPTYPE = '${raw}' is not a supported compression (RICE_1, GZIP_1, GZIP_2, HCOMPRESS_1, PLIO_1, NOCOMPRESS)`);
}

function zoptions(h: Header): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 1; i < 100; i++) {
    const name = h.get(`ZNAME${i}`);
    if (name === undefined) break;
    const val = h.get(`ZVAL${i}`);
    if (typeof name === 'string' && typeof val === 'number') m.set(name.trim().toUpperCase(), val);
  }
  return m;
}

function readParams(h: Header, cols: Map<string, TileColumn>, where: string): Params {
  const type = normType(h.string('ZCMPTYPE'), where);
  const zbitpix = h.integer('ZBITPIX');
  if (![8, 16, 32, 64, -32, -64].includes(zbitpix)) throw new TesseraError(`${where}: ZBITPIX = ${zbitpix} is not a valid BITPIX`);
  const znaxis = h.integer('ZNAXIS');
  if (znaxis < 1 || znaxis > 999) throw new TesseraError(`${where}: ZNAXIS = ${znaxis} is not a valid number of axes`);
  const size: number[] = [];
  const tile: number[] = [];
  for (let i = 1; i <= znaxis; i++) {
    const n = h.integer(`ZNAXIS${i}`);
    if (n < 0) throw new TesseraError(`${where}: ZNAXIS${i} = ${n} is negative`);
    size.push(n);
    const t = h.optionalNumber(`ZTILE${i}`) ?? (i === 1 ? n : 1);
    if (!Number.isInteger(t) || t < 1) throw new TesseraError(`${where}: ZTILE${i} = ${t} is not a positive integer`);
    tile.push(t);
  }
  const opts = zoptions(h);
  let blocksize = opts.get('BLOCKSIZE') ?? 32;
  let bytepix = opts.get('BYTEPIX') ?? 4;
  if (type === 'RICE_1' && !opts.has('BLOCKSIZE') && !opts.has('BYTEPIX')) {
    // ZVAL1/ZVAL2 without names (very old files): block size then bytes per pixel
    blocksize = h.optionalNumber('ZVAL1') ?? 32;
    bytepix = h.optionalNumber('ZVAL2') ?? 4;
  }
  if (blocksize < 16 && bytepix > 8) [blocksize, bytepix] = [bytepix, blocksize];
  const smooth = (opts.get('SMOOTH') ?? 0) !== 0;
  let quantized = false;
  let dither: DitherCode = 0;
  if (zbitpix < 0) {
    const hasScale = cols.has('ZSCALE') || cols.has('ZZERO') || h.has('ZSCALE') || h.has('ZZERO');
    const q = (h.optionalString('ZQUANTIZ') ?? '').trim().toUpperCase();
    quantized = hasScale && q !== 'NONE';
    if (q === 'SUBTRACTIVE_DITHER_1') dither = 1;
    else if (q === 'SUBTRACTIVE_DITHER_2') dither = 2;
  }
  const ditherSeed = h.optionalNumber('ZDITHER0') ?? 1;
  return { type, zbitpix, size, tile, blocksize, bytepix, smooth, quantized, dither, ditherSeed };
}

/**
 * Output array type and scaling, following the reader's rules for plain images (../pixels.ts,
 * which match astropy): pseudo-unsigned BZERO → unsigned arrays; other BSCALE/BZERO, or a BLANK
 * on an integer image → Float32Array (BITPIX 8, 16; single precision) or Float64Array (32, 64)
 * with BLANK → NaN; otherwise the stored type.
 */
interface OutputKind {
  make(n: number): PixelArray;
  bscale: number;
  bzero: number;
  /** 'float': float image; 'scaled32'/'scaled64': scaled integers; 'int': stored (+ unsigned offset) */
  mode: 'float' | 'scaled32' | 'scaled64' | 'int' | 'big';
}

const UNSIGNED_ZERO: Record<number, number> = { 8: -128, 16: 32768, 32: 2147483648, 64: 9223372036854775808 };

function outputKind(zbitpix: number, h: Header, blank: number | undefined, raw = false): OutputKind {
  const bscale = raw && zbitpix > 0 ? 1 : h.optionalNumber('BSCALE') ?? 1;
  const bzero = raw && zbitpix > 0 ? 0 : h.optionalNumber('BZERO') ?? 0;
  if (raw) blank = undefined;
  if (zbitpix === -32) return { make: (n) => new Float32Array(n), bscale, bzero, mode: 'float' };
  if (zbitpix === -64) return { make: (n) => new Float64Array(n), bscale, bzero, mode: 'float' };
  if (bscale === 1 && bzero === UNSIGNED_ZERO[zbitpix]) {
    if (zbitpix === 8) return { make: (n) => new Int8Array(n), bscale, bzero, mode: 'int' };
    if (zbitpix === 16) return { make: (n) => new Uint16Array(n), bscale, bzero, mode: 'int' };
    if (zbitpix === 32) return { make: (n) => new Uint32Array(n), bscale, bzero, mode: 'int' };
    return { make: (n) => new BigUint64Array(n), bscale, bzero, mode: 'big' };
  }
  const hasBlank = blank !== undefined && blank !== 0;
  if (bscale === 1 && bzero === 0 && !hasBlank) {
    if (zbitpix === 8) return { make: (n) => new Uint8Array(n), bscale, bzero, mode: 'int' };
    if (zbitpix === 16) return { make: (n) => new Int16Array(n), bscale, bzero, mode: 'int' };
    if (zbitpix === 32) return { make: (n) => new Int32Array(n), bscale, bzero, mode: 'int' };
    return { make: (n) => new BigInt64Array(n), bscale, bzero, mode: 'big' };
  }
  if (zbitpix === 8 || zbitpix === 16) return { make: (n) => new Float32Array(n), bscale, bzero, mode: 'scaled32' };
  return { make: (n) => new Float64Array(n), bscale, bzero, mode: 'scaled64' };
}

function wrapCodec(e: unknown, where: string, tile: number): never {
  if (e instanceof CodecError) throw new TesseraError(`${where}: compressed tile ${tile} is corrupt: ${e.message}`);
  throw e;
}

/** Big-endian bytes → numbers (Int32 for integers up to 32 bits, Float64 otherwise). */
function readBigEndian(bytes: Uint8Array, width: number, float: boolean, n: number, outI: Int32Array, outF: Float64Array, outB: BigInt64Array): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (float) {
    if (width === 4) for (let i = 0; i < n; i++) outF[i] = v.getFloat32(4 * i, false);
    else for (let i = 0; i < n; i++) outF[i] = v.getFloat64(8 * i, false);
    return;
  }
  if (width === 1) for (let i = 0; i < n; i++) outI[i] = bytes[i]!;
  else if (width === 2) for (let i = 0, o = 0; i < n; i++, o += 2) outI[i] = (((bytes[o]! << 8) | bytes[o + 1]!) << 16) >> 16;
  else if (width === 4) {
    for (let i = 0, o = 0; i < n; i++, o += 4) outI[i] = (bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!;
  }
  else for (let i = 0; i < n; i++) outB[i] = v.getBigInt64(8 * i, false);
}

/**
 * Decompress a tile-compressed image. `data` is the HDU's data unit (NAXIS1·NAXIS2 bytes of
 * table, then the heap at THEAP). `rows` = [y0, y1) restricts the result to those rows of axis 2
 * (0-based), decoding only the tiles that cover them; shape then has y1 − y0 on axis 2.
 * `raw`: integer images come back as their stored values (no BSCALE/BZERO/BLANK), as written
 * in an uncompressed data unit.
 */
export function decompressImage(
  tableHeader: Header,
  data: Uint8Array,
  where: string,
  rows?: [number, number],
  raw = false,
): { header: Header; data: PixelArray; shape: number[] } {
  return decodeImageInto(tableHeader, data, where, rows, raw, undefined);
}

/**
 * Band-by-band decoding of a whole 2-D image: `rows` (a multiple of the tile height) rows at a
 * time go into one buffer, handed to `emit` (a view, overwritten by the next band) as soon as
 * they are complete.
 */
export interface ImageBands {
  rows: number;
  emit(data: PixelArray, y0: number, y1: number): void;
}

/**
 * decompressImage, decoding into `into` when it is an array of the output type with room for
 * the result (the result is then a view on its start), so that a caller decoding an image band
 * by band reuses one buffer. Otherwise a fresh array, as decompressImage.
 */
export function decodeImageInto(
  tableHeader: Header,
  data: Uint8Array,
  where: string,
  rows: [number, number] | undefined,
  raw: boolean,
  into: PixelArray | undefined,
  bands?: ImageBands,
): { header: Header; data: PixelArray; shape: number[] } {
  const h = tableHeader;
  const { columns, rowLength } = tileColumns(h, where);
  const naxis1 = h.integer('NAXIS1');
  const nrows = h.integer('NAXIS2');
  if (naxis1 !== rowLength) throw new TesseraError(`${where}: NAXIS1 = ${naxis1} but the TFORMs add up to ${rowLength} bytes per row`);
  const theap = h.optionalNumber('THEAP') ?? naxis1 * nrows;
  const p = readParams(h, columns, where);
  const header = imageHeaderOf(h);
  const grid = tileGrid(p.size, p.tile);
  const npixTotal = p.size.reduce((a, b) => a * b, 1);
  if (npixTotal === 0) return { header, data: outputKind(p.zbitpix, h, undefined).make(0), shape: p.size };
  if (grid.ntiles !== nrows) throw new TesseraError(`${where}: the table has ${nrows} rows but the image needs ${grid.ntiles} tiles of ${p.tile.join('×')}`);
  const table = new TileTable(data, rowLength, nrows, theap, where);

  const cComp = columns.get('COMPRESSED_DATA');
  if (!cComp || !cComp.descriptor) throw new TesseraError(`${where}: no COMPRESSED_DATA variable-length column`);
  const cGzip = columns.get('GZIP_COMPRESSED_DATA');
  const cUnc = columns.get('UNCOMPRESSED_DATA');
  const cScale = columns.get('ZSCALE');
  const cZero = columns.get('ZZERO');
  const cBlank = columns.get('ZBLANK');
  const kScale = h.optionalNumber('ZSCALE');
  const kZero = h.optionalNumber('ZZERO');
  const kBlank = h.optionalNumber('ZBLANK') ?? h.optionalNumber('BLANK');
  const tileBlank = (t: number): number | undefined => (cBlank ? table.scalar(cBlank, t) : kBlank);
  const kind = outputKind(p.zbitpix, h, cBlank ? undefined : kBlank, raw);
  const headerBzero = h.optionalNumber('BZERO') ?? 0;
  const isFloat = p.zbitpix < 0;
  if (p.type === 'RICE_1' && ![1, 2, 4].includes(p.bytepix)) throw new TesseraError(`${where}: RICE_1 BYTEPIX = ${p.bytepix}, expected 1, 2 or 4`);
  if (p.type === 'RICE_1' && !(p.blocksize > 0)) throw new TesseraError(`${where}: RICE_1 BLOCKSIZE = ${p.blocksize} is not positive`);

  // the output slab
  const nd = p.size.length;
  let y0 = 0;
  let y1 = nd >= 2 ? p.size[1]! : 1;
  if (rows) {
    if (nd < 2) throw new TesseraError(`${where}: a row range needs an image with at least 2 axes`);
    [y0, y1] = rows;
    if (!(Number.isInteger(y0) && Number.isInteger(y1) && y0 >= 0 && y1 <= p.size[1]! && y0 < y1)) {
      throw new TesseraError(`${where}: row range [${y0}, ${y1}) is outside the image (0..${p.size[1]})`);
    }
  }
  const shape = p.size.slice();
  if (nd >= 2) shape[1] = y1 - y0;
  const origin = new Array<number>(nd).fill(0);
  if (nd >= 2) origin[1] = y0;
  // band mode: the slab is one band of rows, moved down the image as bands complete
  const banded = bands !== undefined && nd === 2 && !rows && bands.rows % p.tile[1]! === 0 && bands.rows < p.size[1]!;
  if (bands && !banded) throw new Error('decodeImageInto: bands need a 2-D image and whole tile rows (internal error)');
  let bandEnd = y1;
  if (banded) {
    bandEnd = bands.rows;
    shape[1] = bands.rows;
  }
  const npix = shape.reduce((a, b) => a * b, 1);
  const maxLen = grid.maxTileLength;
  let out: PixelArray, ints: Int32Array, flts: Float64Array, bigs: BigInt64Array, tileBuf: PixelArray;
  try {
    out = into && into.constructor === kind.make(0).constructor && into.length >= npix ? (into.subarray(0, npix) as PixelArray) : kind.make(npix);
    ints = new Int32Array(maxLen);
    flts = new Float64Array(maxLen);
    bigs = new BigInt64Array(p.zbitpix === 64 ? maxLen : 0);
    tileBuf = kind.make(maxLen);
  } catch (e) {
    if (e instanceof RangeError) {
      throw new TesseraError(`${where}: image of ${shape.join('×')} pixels in tiles of ${p.tile.join('×')} is too large to hold in memory (ZNAXISn/ZTILEn corrupt?)`);
    }
    throw e;
  }
  const start = new Array<number>(nd).fill(0);
  const extent = new Array<number>(nd).fill(0);
  const rowTiles = p.tile[0]! >= p.size[0]! && p.tile.slice(1).every((t) => t === 1);

  for (let t = 0; t < grid.ntiles; t++) {
    const len = tileBox(grid, t, start, extent);
    if (nd >= 2 && (start[1]! + extent[1]! <= y0 || start[1]! >= y1)) continue;
    const tileNo = t + 1;
    // ---- decode the tile into ints (raw integers) or flts (raw floats)
    let haveFloats = false;
    let haveBig = false;
    const desc = table.descriptor(cComp, t);
    try {
      if (desc.count === 0) {
        if (cGzip && table.descriptor(cGzip, t).count > 0) {
          const bytes = gzipDecode(table.heapBytes(cGzip, t, tileNo), len * 8);
          const w = bytes.length / len;
          if (w !== 4 && w !== 8) throw new CodecError(`GZIP_COMPRESSED_DATA inflates to ${bytes.length} bytes, expected ${len} floats`);
          readBigEndian(bytes, w, true, len, ints, flts, bigs);
          haveFloats = true;
        } else if (cUnc && table.descriptor(cUnc, t).count > 0) {
          const bytes = table.heapBytes(cUnc, t, tileNo);
          const w = bytes.length / len;
          const ft = cUnc.type === 'E' || cUnc.type === 'D';
          if (!Number.isInteger(w) || ![1, 2, 4, 8].includes(w)) throw new CodecError(`UNCOMPRESSED_DATA holds ${bytes.length} bytes for ${len} pixels`);
          readBigEndian(bytes, w, ft, len, ints, flts, bigs);
          haveFloats = ft;
          haveBig = !ft && w === 8;
        } else {
          throw new CodecError('no compressed data for this tile (empty COMPRESSED_DATA and no fallback column)');
        }
      } else {
        const src = table.heapBytes(cComp, t, tileNo);
        switch (p.type) {
          case 'RICE_1':
            riceDecode(src, len, p.bytepix, p.blocksize, ints);
            break;
          case 'GZIP_1':
          case 'GZIP_2': {
            let bytes = gzipDecode(src, len * 8);
            const w = bytes.length / len;
            if (!Number.isInteger(w) || ![1, 2, 4, 8].includes(w)) throw new CodecError(`tile inflates to ${bytes.length} bytes for ${len} pixels`);
            const asFloat = isFloat && !p.quantized;
            if (p.type === 'GZIP_2' && !asFloat && (w === 4 || w === 2)) {
              // integers from shuffled bytes in one pass
              if (w === 4) {
                for (let i = 0, n2 = len, n3 = 2 * len, n4 = 3 * len; i < len; i++) {
                  ints[i] = (bytes[i]! << 24) | (bytes[n2 + i]! << 16) | (bytes[n3 + i]! << 8) | bytes[n4 + i]!;
                }
              } else {
                for (let i = 0; i < len; i++) ints[i] = (((bytes[i]! << 8) | bytes[len + i]!) << 16) >> 16;
              }
              break;
            }
            if (p.type === 'GZIP_2') bytes = unshuffleBytes(bytes, w);
            readBigEndian(bytes, w, asFloat, len, ints, flts, bigs);
            haveFloats = asFloat;
            haveBig = !asFloat && w === 8;
            break;
          }
          case 'PLIO_1':
            plioDecode(src, len, ints);
            if (headerBzero === 32768 && p.zbitpix === 16) for (let i = 0; i < len; i++) ints[i] = ints[i]! - 32768;
            break;
          case 'HCOMPRESS_1':
            hcompressDecode(src, p.smooth, extent[0]!, len / extent[0]!, ints);
            break;
          case 'NOCOMPRESS': {
            const w = src.length / len;
            if (!Number.isInteger(w) || ![1, 2, 4, 8].includes(w)) throw new CodecError(`tile holds ${src.length} bytes for ${len} pixels`);
            const asFloat = isFloat && !p.quantized;
            readBigEndian(src, w, asFloat, len, ints, flts, bigs);
            haveFloats = asFloat;
            haveBig = !asFloat && w === 8;
            break;
          }
        }
      }
    } catch (e) {
      wrapCodec(e, where, tileNo);
    }

    // ---- convert to pixel values
    let target: PixelArray;
    let direct = false;
    let outOffset = 0;
    if (rowTiles) {
      // row tiles: the tile is one image row, contiguous in the output slab
      let stride = shape[0]!;
      outOffset = start[0]!;
      for (let i = 1; i < nd; i++) { outOffset += (start[i]! - origin[i]!) * stride; stride *= shape[i]!; }
      target = out;
      direct = true;
    } else {
      target = tileBuf.subarray(0, len);
    }
    const o = direct ? outOffset : 0;
    const dst = (direct ? (out as Exclude<PixelArray, BigInt64Array | BigUint64Array>).subarray(o, o + len) : target) as Exclude<PixelArray, BigInt64Array | BigUint64Array>;
    const src = haveFloats ? flts : ints;
    switch (kind.mode) {
      case 'float': {
        const fd = dst as Float32Array | Float64Array;
        if (haveFloats) {
          if (kind.bscale === 1 && kind.bzero === 0) fd.set(flts.subarray(0, len));
          else for (let i = 0; i < len; i++) fd[i] = flts[i]! * kind.bscale + kind.bzero;
        } else if (p.quantized) {
          let scale = cScale ? table.scalar(cScale, t) : kScale ?? 1;
          let zero = cZero ? table.scalar(cZero, t) : kZero ?? 0;
          if (kind.bscale !== 1 || kind.bzero !== 0) {
            zero = zero * kind.bscale + kind.bzero;
            scale = scale * kind.bscale;
          }
          dequantize(ints, len, scale, zero, p.dither, t + p.ditherSeed, tileBlank(t), fd);
        } else {
          for (let i = 0; i < len; i++) fd[i] = ints[i]! * kind.bscale + kind.bzero;
        }
        break;
      }
      case 'scaled32': {
        const fd = dst as Float32Array;
        const fs = Math.fround(kind.bscale);
        const fz = Math.fround(kind.bzero);
        const bl = tileBlank(t) ?? NaN;
        for (let i = 0; i < len; i++) {
          const r = src[i]!;
          if (r === bl) { fd[i] = NaN; continue; }
          let v = r;
          if (kind.bscale !== 1) v = Math.fround(v * fs);
          if (kind.bzero !== 0) v = v + fz;
          fd[i] = v;
        }
        break;
      }
      case 'scaled64': {
        const fd = dst as Float64Array;
        const bl = tileBlank(t) ?? NaN;
        if (haveBig) {
          const blb = Number.isFinite(bl) ? BigInt(bl) : undefined;
          for (let i = 0; i < len; i++) {
            const r = bigs[i]!;
            fd[i] = r === blb ? NaN : Number(r) * kind.bscale + kind.bzero;
          }
        } else {
          for (let i = 0; i < len; i++) {
            const r = src[i]!;
            fd[i] = r === bl ? NaN : r * kind.bscale + kind.bzero;
          }
        }
        break;
      }
      case 'int': {
        const zz = kind.bzero;
        // decoded values wider than the stored type only from HCOMPRESS, PLIO or a wider BYTEPIX
        const exact = p.zbitpix === 32 || (p.type === 'RICE_1' && p.bytepix * 8 === p.zbitpix) || p.type === 'GZIP_1' || p.type === 'GZIP_2';
        if (exact || haveFloats) {
          if (zz === 0) for (let i = 0; i < len; i++) dst[i] = src[i]!;
          else for (let i = 0; i < len; i++) dst[i] = src[i]! + zz;
        } else {
          // clip to the stored type's range as cfitsio does (lossy HCOMPRESS can overshoot)
          const lo = p.zbitpix === 8 ? 0 : -32768;
          const hi = p.zbitpix === 8 ? 255 : 32767;
          for (let i = 0; i < len; i++) {
            const v = src[i]!;
            dst[i] = (v < lo ? lo : v > hi ? hi : v) + zz;
          }
        }
        break;
      }
      case 'big': {
        const bd = (direct ? (out as BigInt64Array).subarray(o, o + len) : target) as BigInt64Array | BigUint64Array;
        const off = kind.bzero === 0 ? 0n : 9223372036854775808n;
        if (haveBig) for (let i = 0; i < len; i++) bd[i] = bigs[i]! + off;
        else for (let i = 0; i < len; i++) bd[i] = BigInt(src[i]!) + off;
        break;
      }
    }
    if (!direct) copyTile(true, target, out, start, extent, shape, origin);
    if (banded && start[1]! + extent[1]! === bandEnd && start[0]! + extent[0]! === p.size[0]!) {
      bands.emit(out.subarray(0, (bandEnd - origin[1]!) * shape[0]!) as PixelArray, origin[1]!, bandEnd);
      origin[1] = bandEnd;
      bandEnd = Math.min(y1, bandEnd + bands.rows);
      shape[1] = bandEnd - origin[1]!;
    }
  }
  return { header, data: out, shape };
}

/* ------------------------------------------------------------------ compression */

export { compressImage } from './write.js';
export { NULL_VALUE };
