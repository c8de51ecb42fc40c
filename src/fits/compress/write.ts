/**
 * Compression of an image into the tiled-image BINTABLE (FITS standard §10), with fpack's
 * defaults: RICE_1, row tiles, floats quantized to noise/4 with SUBTRACTIVE_DITHER_1.
 */
import { TesseraError } from '../../util/errors.js';
import { Header, type Card } from '../header.js';
import type { CompressOptions, CompressionType, PixelArray } from './types.js';
import { riceEncode } from './rice.js';
import { gzipEncode } from './gzip.js';
import { quantize, tileStats, NULL_VALUE, type DitherCode } from './quantize.js';
import { hcompressEncode } from './hcompress.js';
import { copyTile, tileBox, tileGrid, type TileGrid } from './tiles.js';

/** Keywords of the image header that the table header replaces or renames. */
const IMAGE_STRUCTURE = /^(SIMPLE|XTENSION|BITPIX|NAXIS\d*|PCOUNT|GCOUNT|EXTEND|CHECKSUM|DATASUM|END)$/;

function bigEndian(values: ArrayLike<number>, n: number, width: number, float: boolean): Uint8Array {
  const out = new Uint8Array(n * width);
  const v = new DataView(out.buffer);
  if (float) {
    if (width === 4) for (let i = 0; i < n; i++) v.setFloat32(4 * i, values[i]!, false);
    else for (let i = 0; i < n; i++) v.setFloat64(8 * i, values[i]!, false);
  } else if (width === 1) {
    for (let i = 0; i < n; i++) out[i] = values[i]! & 255;
  } else if (width === 2) {
    for (let i = 0; i < n; i++) v.setInt16(2 * i, values[i]!, false);
  } else if (width === 4) {
    for (let i = 0; i < n; i++) v.setInt32(4 * i, values[i]!, false);
  } else {
    for (let i = 0; i < n; i++) v.setBigInt64(8 * i, BigInt(values[i]!), false);
  }
  return out;
}

/** A ZDITHER0 from the clock, as cfitsio does (1..10000). */
function clockSeed(): number {
  const t = Math.floor(Date.now() / 1000) + Math.floor(process.cpuUsage().user / 10000);
  return (t % 10000) + 1;
}

function typeName(t: string): CompressionType {
  return t as CompressionType;
}

/** Everything about an image's compression that does not depend on its pixel values. */
export interface CompressionPlan {
  readonly where: string;
  readonly imageHeader: Header;
  readonly opts: CompressOptions;
  readonly bitpix: number;
  readonly shape: number[];
  readonly isFloat: boolean;
  readonly type: CompressionType;
  readonly lossless: boolean;
  readonly qlevel: number;
  readonly ditherName: string;
  readonly dither: DitherCode;
  readonly seed: number;
  readonly tile: number[];
  readonly grid: TileGrid;
  readonly bscale: number;
  readonly bzero: number;
  readonly blankKey: number | undefined;
  readonly rowTiles: boolean;
  readonly hscale: number;
  readonly intWidth: number;
  readonly fltWidth: number;
  readonly bytepix: number;
}

/** The compressed tiles t0..t0 + comp.length − 1 of an image. */
export interface TileRun {
  t0: number;
  comp: Uint8Array[];
  /** Lossless fallback of a tile that could not be quantized (null otherwise). */
  gz: (Uint8Array | null)[];
  zscale: Float64Array;
  zzero: Float64Array;
  anyNull: boolean;
  anyGzipFallback: boolean;
}

/**
 * Check the options against the image and fix the tiling, dither seed and scaling. `shape` is in
 * FITS order [NAXIS1, NAXIS2, ...]. `stored`: integer pixels will be given as stored values (no
 * BSCALE/BZERO applied), e.g. from a raw read.
 */
export function planCompression(imageHeader: Header, shape: number[], opts: CompressOptions, where: string, stored = false): CompressionPlan {
  const ih = imageHeader;
  const bitpix = ih.integer('BITPIX');
  if (![8, 16, 32, 64, -32, -64].includes(bitpix)) throw new TesseraError(`${where}: BITPIX = ${bitpix} is not valid`);
  const nd = shape.length;
  if (nd < 1) throw new TesseraError(`${where}: cannot compress an image without axes`);
  const isFloat = bitpix < 0;
  const type = typeName(opts.type ?? 'RICE_1');
  const lossless = isFloat && (opts.lossless === true || type === 'NOCOMPRESS');
  const qlevel = opts.quantizeLevel ?? 4;
  if (isFloat && !lossless && qlevel === 0) throw new TesseraError(`${where}: quantize level 0 is not allowed; use lossless compression instead`);
  const ditherName = opts.dither ?? 'SUBTRACTIVE_DITHER_1';
  const dither: DitherCode = ditherName === 'NO_DITHER' ? 0 : ditherName === 'SUBTRACTIVE_DITHER_2' ? 2 : 1;
  const seed = opts.ditherSeed ?? clockSeed();
  if (!Number.isInteger(seed) || seed < 1 || seed > 10000) throw new TesseraError(`${where}: dither seed must be an integer 1..10000, got ${seed}`);
  if (type === 'PLIO_1') throw new TesseraError(`${where}: writing PLIO_1 is not supported (read only); use RICE_1 or GZIP for masks`);
  if (lossless && (type === 'RICE_1' || type === 'HCOMPRESS_1')) {
    throw new TesseraError(`${where}: lossless compression of floating-point pixels needs GZIP_1, GZIP_2 or NOCOMPRESS, not ${type}`);
  }
  if (bitpix === 64 && (type === 'RICE_1' || type === 'HCOMPRESS_1')) {
    throw new TesseraError(`${where}: ${type} cannot hold 64-bit integers; use GZIP_1 or GZIP_2`);
  }

  // tile shape
  let tile = opts.tile ? opts.tile.slice() : shape.map((n, i) => (i === 0 ? n : 1));
  if (type === 'HCOMPRESS_1' && !opts.tile) {
    // fpack: 16 rows (or the whole image when smaller)
    tile = shape.map((n, i) => (i === 0 ? n : i === 1 ? Math.min(n, 16) : 1));
  }
  while (tile.length < nd) tile.push(1);
  if (tile.length > nd) throw new TesseraError(`${where}: tile has ${tile.length} axes but the image has ${nd}`);
  tile = tile.map((t, i) => Math.min(t, shape[i]!));
  for (let i = 0; i < nd; i++) {
    if (!Number.isInteger(tile[i]) || tile[i]! < 1) throw new TesseraError(`${where}: tile size ${tile[i]} on axis ${i + 1} is not a positive integer`);
  }
  if (type === 'HCOMPRESS_1') {
    if (nd < 2 || tile.slice(2).some((t) => t !== 1)) throw new TesseraError(`${where}: HCOMPRESS_1 needs 2-D tiles`);
    if (tile[0]! < 4 || tile[1]! < 4) throw new TesseraError(`${where}: HCOMPRESS_1 tiles must be at least 4×4 pixels, got ${tile[0]}×${tile[1]}`);
    // the last tile of an axis must not be too small either
    for (let i = 0; i < 2; i++) {
      const rest = shape[i]! % tile[i]!;
      if (rest !== 0 && rest < 4) throw new TesseraError(`${where}: HCOMPRESS_1: the image size ${shape[i]} leaves a last tile of ${rest} pixels on axis ${i + 1}; choose a tile size that leaves at least 4`);
    }
  }
  const intWidth = bitpix === 8 ? 1 : bitpix === 16 ? 2 : bitpix === 32 ? 4 : 8;
  return {
    where,
    imageHeader: ih,
    opts,
    bitpix,
    shape,
    isFloat,
    type,
    lossless,
    qlevel,
    ditherName,
    dither,
    seed,
    tile,
    grid: tileGrid(shape, tile),
    bscale: stored ? 1 : ih.optionalNumber('BSCALE') ?? 1,
    bzero: stored ? 0 : ih.optionalNumber('BZERO') ?? 0,
    blankKey: ih.optionalNumber('BLANK'),
    rowTiles: tile[0]! === shape[0]! && tile.slice(1).every((t) => t === 1),
    hscale: opts.hcompressScale ?? 0,
    intWidth,
    fltWidth: bitpix === -32 ? 4 : 8,
    bytepix: isFloat ? 4 : intWidth,
  };
}

/**
 * Compress an image. `shape` is in FITS order [NAXIS1, NAXIS2, ...]; `data` holds physical pixel
 * values as the reader returns them (unsigned via BZERO, scaled integers as floats). Returns the
 * complete BINTABLE header and the data unit bytes (table then heap, without FITS padding).
 * `stored`: integer `data` are the stored values (no BSCALE/BZERO applied), e.g. from a raw read.
 */
export function compressImage(
  imageHeader: Header,
  data: PixelArray,
  shape: number[],
  opts: CompressOptions,
  where: string,
  stored = false,
): { header: Header; bytes: Uint8Array } {
  const npix = shape.reduce((a, b) => a * b, 1);
  if (data.length !== npix) throw new TesseraError(`${where}: ${data.length} pixels given for an image of ${shape.join('×')}`);
  const plan = planCompression(imageHeader, shape, opts, where, stored);
  return assembleCompressed(plan, [compressTiles(plan, data, 0, plan.grid.ntiles)]);
}

/**
 * Tiles [t0, t1) in whole rows of tiles, as row ranges of the image: how an image is split
 * between threads. A 2-D image is cut into about `parts` runs of tile rows; other images are
 * one run.
 */
export function tileRowRuns(plan: CompressionPlan, parts: number): { t0: number; t1: number; y0: number; y1: number }[] {
  const g = plan.grid;
  if (plan.shape.length !== 2) return [{ t0: 0, t1: g.ntiles, y0: 0, y1: plan.shape[1] ?? 1 }];
  const across = g.count[0]!;
  const tileRows = g.count[1]!;
  const per = Math.max(1, Math.ceil(tileRows / Math.max(1, parts)));
  const runs: { t0: number; t1: number; y0: number; y1: number }[] = [];
  for (let r = 0; r < tileRows; r += per) {
    const r1 = Math.min(tileRows, r + per);
    runs.push({ t0: r * across, t1: r1 * across, y0: r * plan.tile[1]!, y1: Math.min(plan.shape[1]!, r1 * plan.tile[1]!) });
  }
  return runs;
}

/**
 * Compress tiles [t0, t1). `data` holds the image, or for a 2-D image only its rows from
 * `dataRow0` on (at least those of the tiles).
 */
export function compressTiles(plan: CompressionPlan, data: PixelArray, t0: number, t1: number, dataRow0 = 0): TileRun {
  const { where, shape, grid, isFloat, type, lossless, qlevel, dither, seed, bscale, bzero, blankKey, rowTiles, hscale, intWidth, fltWidth, bitpix } = plan;
  const nd = shape.length;
  const intData = data instanceof Int8Array || data instanceof Int16Array || data instanceof Int32Array || data instanceof Uint8Array || data instanceof Uint16Array || data instanceof Uint32Array;
  const bigData = data instanceof BigInt64Array || data instanceof BigUint64Array;

  const maxLen = grid.maxTileLength;
  const tileVals = isFloat ? (bitpix === -32 ? new Float32Array(maxLen) : new Float64Array(maxLen)) : new Float64Array(maxLen);
  const ints = new Int32Array(maxLen);
  const start = new Array<number>(nd).fill(0);
  const extent = new Array<number>(nd).fill(0);
  // the slab that `data` holds
  const origin = new Array<number>(nd).fill(0);
  const dataSize = shape.slice();
  if (nd >= 2) {
    origin[1] = dataRow0;
    dataSize[1] = data.length / shape.reduce((a, b, i) => (i === 1 ? a : a * b), 1);
  }
  const rowOffset = dataRow0 * shape[0]!;

  const n = t1 - t0;
  const comp: Uint8Array[] = [];
  const gz: (Uint8Array | null)[] = [];
  const zscale = new Float64Array(n);
  const zzero = new Float64Array(n);
  let anyGzipFallback = false;
  let anyNull = false;

  for (let t = t0; t < t1; t++) {
    const len = tileBox(grid, t, start, extent);
    // gather the tile's values
    let vals: Float32Array | Float64Array;
    let rawReady = false;
    if (rowTiles && !bigData) {
      const off = t * shape[0]! - rowOffset;
      if (isFloat && (data instanceof Float32Array || data instanceof Float64Array) && (bitpix === -32) === (data instanceof Float32Array)) {
        vals = data.subarray(off, off + len);
      } else if (!isFloat && intData && bscale === 1 && intWidth < 8) {
        // integers stored as they are (minus an unsigned offset): straight into the tile buffer
        vals = tileVals.subarray(0, 0);
        const src = data as Exclude<PixelArray, BigInt64Array | BigUint64Array | Float32Array | Float64Array>;
        if (bzero === 0) for (let i = 0; i < len; i++) ints[i] = src[off + i]!;
        else for (let i = 0; i < len; i++) ints[i] = src[off + i]! - bzero;
        rawReady = true;
      } else {
        vals = tileVals.subarray(0, len);
        const src = data as Exclude<PixelArray, BigInt64Array | BigUint64Array>;
        for (let i = 0; i < len; i++) vals[i] = src[off + i]!;
      }
    } else {
      vals = tileVals.subarray(0, len);
      if (!bigData) copyTile(false, vals, data, start, extent, dataSize, origin);
    }

    if (isFloat) {
      let q: ReturnType<typeof quantize> | undefined;
      if (!lossless) {
        q = quantize(vals, extent[0]!, len / extent[0]!, qlevel, dither, t + seed, ints);
      }
      if (q) {
        zscale[t - t0] = q.scale;
        zzero[t - t0] = q.zero;
        if (q.anyNull) anyNull = true;
        comp.push(encodeInts(type, ints, len, 4, 32, extent, hscale, where, t));
        gz.push(null);
      } else if (lossless) {
        const be = bigEndian(vals, len, fltWidth, true);
        comp.push(type === 'NOCOMPRESS' ? be : gzipEncode(be, fltWidth, type === 'GZIP_2'));
        gz.push(null);
      } else {
        // not quantizable (constant tile, or range too large): lossless gzip fallback
        comp.push(new Uint8Array(0));
        gz.push(gzipEncode(bigEndian(vals, len, fltWidth, true), fltWidth, false));
        anyGzipFallback = true;
      }
    } else {
      // integers: stored values
      const raw = ints;
      if (intWidth === 8) {
        // 64-bit integers stay BigInt all the way (exact beyond 2^53)
        const be = new Uint8Array(len * 8);
        const dvb = new DataView(be.buffer);
        if (bigData) {
          const Ctor = data.constructor as new (n: number) => BigInt64Array | BigUint64Array;
          const tmp = new Ctor(len);
          copyTile(false, tmp, data, start, extent, dataSize, origin);
          const z = Number.isInteger(bzero) ? BigInt(bzero) : 0n;
          for (let i = 0; i < len; i++) dvb.setBigInt64(8 * i, BigInt.asIntN(64, tmp[i]! - z), false);
        } else {
          for (let i = 0; i < len; i++) {
            const v = vals[i]!;
            let r: number;
            if (v !== v) {
              if (blankKey === undefined) throw new TesseraError(`${where}: NaN pixels in an integer image need a BLANK keyword`);
              r = blankKey;
            } else {
              r = Math.round((v - bzero) / bscale);
            }
            dvb.setBigInt64(8 * i, BigInt(r), false);
          }
        }
        comp.push(type === 'NOCOMPRESS' ? be : gzipEncode(be, 8, type === 'GZIP_2'));
        gz.push(null);
        continue;
      }
      if (bigData) throw new TesseraError(`${where}: 64-bit integer pixels given for BITPIX ${bitpix}`);
      if (rawReady) {
        // already in `ints`
      } else if (intData && bscale === 1) {
        for (let i = 0; i < len; i++) raw[i] = vals[i]! - bzero;
      } else {
        for (let i = 0; i < len; i++) {
          const v = vals[i]!;
          if (v !== v) {
            if (blankKey === undefined) throw new TesseraError(`${where}: NaN pixels in an integer image need a BLANK keyword`);
            raw[i] = blankKey;
          } else {
            raw[i] = Math.round((v - bzero) / bscale);
          }
        }
      }
      comp.push(encodeInts(type, raw, len, intWidth, bitpix, extent, hscale, where, t));
      gz.push(null);
    }
  }

  return { t0, comp, gz, zscale, zzero, anyNull, anyGzipFallback };
}

/** The BINTABLE of a compressed image from the runs of its tiles (in order, covering them all). */
export function assembleCompressed(plan: CompressionPlan, runs: readonly TileRun[]): { header: Header; bytes: Uint8Array } {
  const { where, imageHeader: ih, opts, bitpix, shape, isFloat, type, lossless, ditherName, dither, seed, tile, grid, hscale, intWidth, fltWidth, bytepix } = plan;
  const nd = shape.length;
  const comp: Uint8Array[] = [];
  const gz: (Uint8Array | null)[] = [];
  const zscale = new Float64Array(grid.ntiles);
  const zzero = new Float64Array(grid.ntiles);
  let anyGzipFallback = false;
  let anyNull = false;
  for (const r of runs) {
    if (r.t0 !== comp.length) throw new Error(`assembleCompressed: tile run starts at ${r.t0}, expected ${comp.length} (internal error)`);
    zscale.set(r.zscale, r.t0);
    zzero.set(r.zzero, r.t0);
    for (const c of r.comp) comp.push(c);
    for (const g of r.gz) gz.push(g);
    anyGzipFallback ||= r.anyGzipFallback;
    anyNull ||= r.anyNull;
  }
  if (comp.length !== grid.ntiles) throw new Error(`assembleCompressed: ${comp.length} of ${grid.ntiles} tiles (internal error)`);

  // ---- table and heap
  const quantCols = isFloat && !lossless;
  const nocomp = type === 'NOCOMPRESS';
  let heapLen = 0;
  for (const c of comp) heapLen += c.length;
  for (const g of gz) if (g) heapLen += g.length;
  const useQ = heapLen >= 2 ** 31;
  const descW = useQ ? 16 : 8;
  const cols: { name: string; form: string; width: number }[] = [];
  let maxComp = 0;
  for (const c of comp) maxComp = Math.max(maxComp, c.length);
  let maxGz = 0;
  for (const g of gz) if (g) maxGz = Math.max(maxGz, g.length);
  const D = useQ ? 'Q' : 'P';
  const compElem = nocomp ? (isFloat ? (fltWidth === 4 ? 'E' : 'D') : intWidth === 1 ? 'B' : intWidth === 2 ? 'I' : intWidth === 4 ? 'J' : 'K') : 'B';
  const compElemW = nocomp ? (isFloat ? fltWidth : intWidth) : 1;
  cols.push({ name: 'COMPRESSED_DATA', form: `1${D}B(${nocomp ? 0 : maxComp})`, width: descW });
  if (nocomp) cols.push({ name: 'UNCOMPRESSED_DATA', form: `1${D}${compElem}(${maxComp / compElemW})`, width: descW });
  if (anyGzipFallback) cols.push({ name: 'GZIP_COMPRESSED_DATA', form: `1${D}B(${maxGz})`, width: descW });
  if (quantCols) {
    cols.push({ name: 'ZSCALE', form: '1D', width: 8 });
    cols.push({ name: 'ZZERO', form: '1D', width: 8 });
  }
  const rowLen = cols.reduce((a, c) => a + c.width, 0);
  const tableLen = rowLen * grid.ntiles;
  const bytes = new Uint8Array(tableLen + heapLen);
  const dv = new DataView(bytes.buffer);
  let heapPos = 0;
  const putDesc = (p: number, count: number, off: number): void => {
    if (useQ) { dv.setBigInt64(p, BigInt(count), false); dv.setBigInt64(p + 8, BigInt(off), false); }
    else { dv.setInt32(p, count, false); dv.setInt32(p + 4, off, false); }
  };
  for (let t = 0; t < grid.ntiles; t++) {
    let p = t * rowLen;
    const c = comp[t]!;
    if (nocomp) {
      putDesc(p, 0, 0);
      p += descW;
    }
    putDesc(p, c.length / compElemW, c.length ? heapPos : 0);
    bytes.set(c, tableLen + heapPos);
    heapPos += c.length;
    p += descW;
    if (anyGzipFallback) {
      const g = gz[t];
      if (g) {
        putDesc(p, g.length, heapPos);
        bytes.set(g, tableLen + heapPos);
        heapPos += g.length;
      } else {
        putDesc(p, 0, 0);
      }
      p += descW;
    }
    if (quantCols) {
      dv.setFloat64(p, zscale[t]!, false);
      dv.setFloat64(p + 8, zzero[t]!, false);
    }
  }

  // ---- header
  const cards: Card[] = [];
  const primary = ih.has('SIMPLE');
  cards.push({ key: 'XTENSION', value: 'BINTABLE', comment: 'binary table extension' });
  cards.push({ key: 'BITPIX', value: 8, comment: '8-bit bytes' });
  cards.push({ key: 'NAXIS', value: 2, comment: '2-dimensional binary table' });
  cards.push({ key: 'NAXIS1', value: rowLen, comment: 'width of table in bytes' });
  cards.push({ key: 'NAXIS2', value: grid.ntiles, comment: 'number of rows in table' });
  cards.push({ key: 'PCOUNT', value: heapLen, comment: 'size of special data area' });
  cards.push({ key: 'GCOUNT', value: 1, comment: 'one data group (required keyword)' });
  cards.push({ key: 'TFIELDS', value: cols.length, comment: 'number of fields in each row' });
  cols.forEach((c, i) => {
    cards.push({ key: `TTYPE${i + 1}`, value: c.name, comment: `label for field ${i + 1}` });
    cards.push({ key: `TFORM${i + 1}`, value: c.form, comment: 'data format of field' });
  });
  cards.push({ key: 'ZIMAGE', value: true, comment: 'extension contains compressed image' });
  for (let i = 0; i < nd; i++) cards.push({ key: `ZTILE${i + 1}`, value: tile[i]!, comment: `size of tiles to be compressed` });
  cards.push({ key: 'ZCMPTYPE', value: type, comment: 'compression algorithm' });
  if (type === 'RICE_1') {
    cards.push({ key: 'ZNAME1', value: 'BLOCKSIZE', comment: 'compression block size' });
    cards.push({ key: 'ZVAL1', value: 32, comment: 'pixels per block' });
    cards.push({ key: 'ZNAME2', value: 'BYTEPIX', comment: 'bytes per pixel (1, 2, 4, or 8)' });
    cards.push({ key: 'ZVAL2', value: bytepix, comment: 'bytes per pixel (1, 2, 4, or 8)' });
  } else if (type === 'HCOMPRESS_1') {
    cards.push({ key: 'ZNAME1', value: 'SCALE', comment: 'HCOMPRESS scale factor' });
    cards.push({ key: 'ZVAL1', value: hscale, comment: 'HCOMPRESS scale factor' });
    cards.push({ key: 'ZNAME2', value: 'SMOOTH', comment: 'HCOMPRESS smooth option' });
    cards.push({ key: 'ZVAL2', value: opts.hcompressSmooth ? 1 : 0, comment: 'HCOMPRESS smooth option' });
  }
  if (isFloat) {
    cards.push({ key: 'ZQUANTIZ', value: lossless ? 'NONE' : ditherName, comment: 'quantization method' });
    if (!lossless && dither !== 0) cards.push({ key: 'ZDITHER0', value: seed, comment: 'dithering offset when quantizing floats' });
    if (anyNull) cards.push({ key: 'ZBLANK', value: NULL_VALUE, comment: 'null value in the compressed integer array' });
  }
  if (primary) {
    cards.push({ key: 'ZSIMPLE', value: true, comment: 'file does conform to FITS standard' });
  } else {
    cards.push({ key: 'ZTENSION', value: 'IMAGE', comment: 'image extension' });
  }
  cards.push({ key: 'ZBITPIX', value: bitpix, comment: 'data type of original image' });
  cards.push({ key: 'ZNAXIS', value: nd, comment: 'dimension of original image' });
  for (let i = 0; i < nd; i++) cards.push({ key: `ZNAXIS${i + 1}`, value: shape[i]!, comment: `length of original image axis` });
  if (primary) {
    const ext = ih.get('EXTEND');
    if (ext !== undefined) cards.push({ key: 'ZEXTEND', value: ext, comment: 'may contain extensions' });
  } else {
    cards.push({ key: 'ZPCOUNT', value: ih.optionalNumber('PCOUNT') ?? 0, comment: 'original PCOUNT' });
    cards.push({ key: 'ZGCOUNT', value: ih.optionalNumber('GCOUNT') ?? 1, comment: 'original GCOUNT' });
  }
  const hsum = ih.get('CHECKSUM');
  const dsum = ih.get('DATASUM');
  if (hsum !== undefined) cards.push({ key: 'ZHECKSUM', value: hsum, comment: 'HDU checksum of the uncompressed image' });
  if (dsum !== undefined) cards.push({ key: 'ZDATASUM', value: dsum, comment: 'data unit checksum of the uncompressed image' });
  for (const c of ih.cards) {
    if (c.value !== undefined && IMAGE_STRUCTURE.test(c.key.toUpperCase())) continue;
    if (c.key.toUpperCase() === 'END') continue;
    cards.push({ ...c });
  }
  return { header: new Header(cards, where), bytes };
}

function encodeInts(
  type: CompressionType,
  ints: Int32Array,
  len: number,
  width: number,
  bitpix: number,
  extent: number[],
  hscale: number,
  where: string,
  t: number,
): Uint8Array {
  switch (type) {
    case 'RICE_1':
      return riceEncode(ints, len, width, 32);
    case 'GZIP_1':
    case 'GZIP_2':
      return gzipEncode(bigEndian(ints, len, width, false), width, type === 'GZIP_2');
    case 'NOCOMPRESS':
      return bigEndian(ints, len, width, false);
    case 'HCOMPRESS_1': {
      const ny = len / extent[0]!;
      let scale = hscale;
      if (scale > 0) {
        // relative to the tile's noise (as cfitsio): smallest of the 2nd/3rd/5th-order MAD estimates
        const f = new Float64Array(len);
        for (let i = 0; i < len; i++) f[i] = ints[i]!;
        const st = tileStats(f, extent[0]!, ny);
        let noise = st.noise3;
        if (st.noise2 !== 0 && st.noise2 < noise) noise = st.noise2;
        if (st.noise5 !== 0 && st.noise5 < noise) noise = st.noise5;
        scale *= noise;
      } else {
        scale = -scale;
      }
      return hcompressEncode(ints.subarray(0, len), extent[0]!, ny, Math.trunc(scale + 0.5));
    }
    default:
      throw new TesseraError(`${where}: tile ${t + 1}: cannot write ${type}`);
  }
}
