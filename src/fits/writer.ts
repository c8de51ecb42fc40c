/**
 * Writing FITS files: images (any BITPIX, unsigned types via BZERO, optional tile compression
 * through ./compress) and binary tables (every TFORM, variable-length arrays on the heap), with
 * standard headers, big-endian data, 2880-byte padding, and CHECKSUM/DATASUM on request.
 */
import { TesseraError } from '../util/errors.js';
import { writeAtomicStream } from '../util/atomic.js';
import { onesSum, setChecksums } from './checksum.js';
import { BLOCK, Header, type Card } from './header.js';
import { alignedBytes, bitpixFor, encodePixels, encodePixelsInto, type PixelArray } from './pixels.js';
import { parseBinaryTform } from './table.js';

import { compressImage, type CompressOptions } from './compress/index.js';

export interface ColumnInput {
  name: string;
  /**
   * Flat typed array (n·repeat values), boolean[] (L, or X with tform 'nX'), string[] (A),
   * or one entry per row for a variable-length column (typed arrays, strings or boolean[]).
   * Complex columns (tform C/M): Float32Array/Float64Array with re, im interleaved.
   */
  data: PixelArray | number[] | string[] | boolean[] | readonly (PixelArray | string | boolean[])[];
  /** Explicit TFORM (e.g. '3E', 'C', '16X', '1PJ', '20A'); inferred from data when absent. */
  tform?: string;
  unit?: string;
  dim?: number[];
  /** TNULL for integer columns. */
  tnull?: number | bigint;
  /** Written as TDISPn. */
  disp?: string;
}

export type HduInput =
  | { kind: 'image'; header?: Header; data: PixelArray | null; shape: number[]; bitpix?: number; extname?: string; compress?: CompressOptions }
  | { kind: 'bintable'; header?: Header; extname?: string; columns: ColumnInput[]; nrows: number };

export interface WriteOptions {
  /** Add CHECKSUM and DATASUM to every HDU. */
  checksum?: boolean;
  /** File name used in error messages (writeFits passes its path). */
  name?: string;
}

/** Keywords that describe structure: never copied from a user's header. */
const STRUCTURAL = /^(SIMPLE|XTENSION|BITPIX|NAXIS\d*|EXTEND|PCOUNT|GCOUNT|END|BSCALE|BZERO|CHECKSUM|DATASUM|TFIELDS|THEAP|(TTYPE|TFORM|TUNIT|TDIM|TSCAL|TZERO|TNULL|TBCOL|TDISP)\d+|ZIMAGE|ZSIMPLE|ZTENSION|ZBITPIX|ZNAXIS\d*|ZTILE\d+|ZCMPTYPE|ZNAME\d+|ZVAL\d+|ZQUANTIZ|ZDITHER0|ZEXTEND|ZPCOUNT|ZGCOUNT|ZBLANK|ZHECKSUM|ZDATASUM|ZBLOCKED|ZMASKCMP|ZSCALE|ZZERO)$/;

function userCards(h: Header | undefined, keepBlank: boolean): Card[] {
  if (!h) return [];
  return h.cards.filter((c) => {
    const k = c.key.trim().toUpperCase();
    if (k === 'BLANK') return keepBlank;
    if (k === 'EXTNAME') return false;
    return !STRUCTURAL.test(k);
  }).map((c) => ({ ...c }));
}

function pad(n: number): Uint8Array {
  const r = n % BLOCK;
  return new Uint8Array(r === 0 ? 0 : BLOCK - r);
}

function hduWhere(name: string | undefined, i: number, extname?: string): string {
  const h = extname ? `HDU ${i} '${extname}'` : `HDU ${i}`;
  return name === undefined ? h : `${name}[${h}]`;
}

/** The HDUs as written: an empty primary first when the first HDU cannot be the primary. */
function withPrimary(hdus: HduInput[]): HduInput[] {
  const first = hdus[0];
  if (!first || first.kind !== 'image' || first.compress) return [{ kind: 'image', data: null, shape: [] }, ...hdus];
  return hdus;
}

/** The byte chunks of one HDU (header, data, padding). */
function encodeHdu(hdu: HduInput, i: number, opts: WriteOptions): Uint8Array[] {
  const primary = i === 0;
  const where = hduWhere(opts.name, i, hdu.extname);
  let header: Header;
  let data: Uint8Array[];
  if (hdu.kind === 'image' && hdu.compress) {
    if (!hdu.data) throw new TesseraError(`${where}: a compressed image needs data`);
    const ih = imageHeader(hdu, false, where, false);
    const opts = hdu.compress.ditherSeed === undefined ? { ...hdu.compress, ditherSeed: headerSeed(ih.header) } : hdu.compress;
    const out = compressImage(ih.header, hdu.data, hdu.shape, opts, where);
    header = out.header;
    data = [out.bytes];
  } else if (hdu.kind === 'image') {
    const r = imageHeader(hdu, primary, where);
    header = r.header;
    data = r.data ? [r.data] : [];
  } else {
    const r = encodeBinaryTable(hdu, where);
    header = r.header;
    data = r.data;
  }
  const dataLen = data.reduce((a, b) => a + b.length, 0);
  if (dataLen) data.push(pad(dataLen));
  if (opts.checksum) setChecksums(header, data);
  return [header.toBytes(), ...data];
}

/** Encode HDUs to the byte chunks of a FITS file. */
export function encodeFits(hdus: HduInput[], opts: WriteOptions = {}): Uint8Array[] {
  return withPrimary(hdus).flatMap((hdu, i) => encodeHdu(hdu, i, opts));
}

/**
 * Write a FITS file atomically (temporary file in the same folder, fsync, rename), encoding one
 * HDU at a time so that only one HDU's bytes are held in memory besides the inputs.
 */
export function writeFits(path: string, hdus: HduInput[], opts: WriteOptions = {}): void {
  const o = { ...opts, name: opts.name ?? path };
  const list = withPrimary(hdus);
  try {
    writeAtomicStream(path, (out) => {
      const writeAll = (chunk: Uint8Array): void => out.write(chunk);
      list.forEach((hdu, i) => {
        if (hdu.kind === 'image' && !hdu.compress && hdu.data && hdu.data.length * 8 > PIECE_BYTES) {
          writeImageInPieces(writeAll, hdu, i, o);
        } else {
          for (const chunk of encodeHdu(hdu, i, o)) writeAll(chunk);
        }
      });
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof TesseraError || typeof code !== 'string') throw e;
    throw new TesseraError(`${path}: cannot write (${code}: ${(e as Error).message.replace(/^[A-Z]+: /, '')})`, { cause: e });
  }
}

/* ---------------------------------------------------------------- images */

/** Big images are encoded through one scratch buffer of this size (a multiple of 8 bytes). */
const PIECE_BYTES = 4 << 20;

/**
 * Write an uncompressed image HDU piece by piece: no full-size big-endian copy is made (with
 * checksums the pieces are encoded twice: once to sum them, once to write them).
 */
function writeImageInPieces(writeAll: (b: Uint8Array) => void, hdu: Extract<HduInput, { kind: 'image' }>, i: number, opts: WriteOptions): void {
  const where = hduWhere(opts.name, i, hdu.extname);
  const { header } = imageHeader(hdu, i === 0, where, false);
  const data = hdu.data as Float32Array;
  const bitpix = header.integer('BITPIX');
  const size = Math.abs(bitpix) / 8;
  const per = PIECE_BYTES / size;
  const scratch = alignedBytes(PIECE_BYTES);
  const n = data.length;
  const pieces = function* (): Generator<Uint8Array> {
    for (let s = 0; s < n; s += per) yield encodePixelsInto(data.subarray(s, Math.min(n, s + per)), bitpix, scratch, where);
  };
  if (opts.checksum) {
    let sum = 0;
    for (const p of pieces()) sum = onesSum(p, sum); // only the last piece can end mid-word: zero padding follows
    setChecksums(header, { datasum: sum });
  }
  writeAll(header.toBytes());
  for (const p of pieces()) writeAll(p);
  writeAll(pad(n * size));
}

/**
 * The dither seed (ZDITHER0, 1..10000) of a compressed HDU written without one: from its header
 * (FNV-1a of the cards), so that the same inputs give the same bytes (pipeline tasks are
 * reproducible) while different CCDs and exposures still get different dither sequences.
 * fpack, and `tessera fits compress`, take it from the clock instead.
 */
function headerSeed(h: Header): number {
  let x = 0x811c9dc5;
  for (const c of h.cards) {
    const text = `${c.key}=${String(c.value)};`;
    for (let i = 0; i < text.length; i++) x = Math.imul(x ^ text.charCodeAt(i), 0x01000193);
  }
  return ((x >>> 0) % 10000) + 1;
}

function imageHeader(hdu: Extract<HduInput, { kind: 'image' }>, primary: boolean, where: string, encode = true): { header: Header; data?: Uint8Array } {
  const h = new Header([], where);
  const n = hdu.shape.reduce((a, b) => a * b, 1);
  if (hdu.data && hdu.data.length !== n) {
    throw new TesseraError(`${where}: data has ${hdu.data.length} values but shape ${JSON.stringify(hdu.shape)} needs ${n}`);
  }
  for (const s of hdu.shape) if (!Number.isInteger(s) || s < 0) throw new TesseraError(`${where}: bad image shape ${JSON.stringify(hdu.shape)}`);
  const natural = hdu.data ? bitpixFor(hdu.data) : { bitpix: hdu.bitpix ?? 8 };
  const bitpix = hdu.bitpix ?? natural.bitpix;
  if (![8, 16, 32, 64, -32, -64].includes(bitpix)) throw new TesseraError(`${where}: bad BITPIX ${bitpix}`);
  if (primary) h.set('SIMPLE', true, 'conforms to FITS standard');
  else h.set('XTENSION', 'IMAGE', 'image extension');
  h.set('BITPIX', bitpix, 'array data type');
  const naxis = hdu.data ? hdu.shape.length : 0;
  h.set('NAXIS', naxis, 'number of array dimensions');
  for (let i = 0; i < naxis; i++) h.set(`NAXIS${i + 1}`, hdu.shape[i]!);
  if (primary) h.set('EXTEND', true);
  else {
    h.set('PCOUNT', 0, 'number of parameters');
    h.set('GCOUNT', 1, 'number of groups');
  }
  const extname = hdu.extname ?? hdu.header?.optionalString('EXTNAME');
  if (extname !== undefined) h.set('EXTNAME', extname, 'extension name');
  const unsigned = hdu.data && bitpix === natural.bitpix ? natural.bzero : undefined;
  if (unsigned !== undefined) {
    h.set('BSCALE', 1);
    h.set('BZERO', unsigned);
  }
  for (const c of userCards(hdu.header, bitpix > 0 && unsigned === undefined)) h.cards.push(c);
  if (!hdu.data || !encode) return { header: h };
  return { header: h, data: encodePixels(hdu.data, bitpix, where) };
}

/* ---------------------------------------------------------------- binary tables */

interface Prepared {
  tform: string;
  width: number;
  tzero?: number | bigint;
  /** Big-endian bytes of the column, nrows·width (descriptors for VLA). */
  bytes: Uint8Array;
  heap?: Uint8Array[];
  dim?: number[];
}

const TYPE_OF: [new (...a: never[]) => PixelArray, string, (number | bigint)?][] = [
  [Float32Array, 'E'], [Float64Array, 'D'], [Uint8Array, 'B'], [Int8Array, 'B', -128], [Int16Array, 'I'],
  [Uint16Array, 'I', 32768], [Int32Array, 'J'], [Uint32Array, 'J', 2147483648], [BigInt64Array, 'K'],
  [BigUint64Array, 'K', 9223372036854775808n],
];

function typeOf(a: PixelArray): { type: string; tzero?: number | bigint } {
  for (const [C, t, z] of TYPE_OF) if (a instanceof C) return z === undefined ? { type: t } : { type: t, tzero: z };
  throw new TesseraError('unsupported column array type');
}

const BITPIX_OF: Record<string, number> = { B: 8, I: 16, J: 32, K: 64, E: -32, D: -64 };

/** Big-endian bytes of numeric values stored as type letter `t`. */
function numericBytes(a: PixelArray, t: string, where: string): Uint8Array {
  const natural = typeOf(a);
  if (natural.type === t) {
    return encodePixels(a, bitpixFor(a).bitpix, where);
  }
  return encodePixels(a, BITPIX_OF[t]!, where);
}

function boolBytes(v: readonly boolean[]): Uint8Array {
  const out = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] ? 0x54 : 0x46;
  return out;
}

function bitBytes(v: readonly boolean[], nbits: number, nrows: number): Uint8Array {
  const w = Math.ceil(nbits / 8);
  const out = new Uint8Array(nrows * w);
  for (let r = 0; r < nrows; r++) for (let j = 0; j < nbits; j++) if (v[r * nbits + j]) out[r * w + (j >> 3)]! |= 0x80 >> (j & 7);
  return out;
}

function isTyped(x: unknown): x is PixelArray {
  return ArrayBuffer.isView(x) && !(x instanceof DataView);
}

function prepareColumn(col: ColumnInput, nrows: number, where: string): Prepared {
  const cw = `${where} column ${col.name}`;
  let d = col.data;
  // Plain arrays of numbers are written as doubles (or converted to the explicit TFORM).
  if (Array.isArray(d) && d.length > 0 && typeof d[0] === 'number' && d.every((v) => typeof v === 'number')) {
    d = Float64Array.from(d as unknown as number[]);
  }
  const explicit = col.tform ? parseBinaryTform(col.tform, where, `column ${col.name} tform`) : undefined;
  // Variable-length arrays: one entry per row that is itself an array or a string.
  const isVla = explicit?.vla !== undefined || (!isTyped(d) && d.length > 0 && (isTyped(d[0]) || Array.isArray(d[0]) || (typeof d[0] === 'string' && explicit?.vla !== undefined)));
  if (isVla) return prepareVla({ ...col, data: d as ColumnInput['data'] }, nrows, cw, explicit?.vla, explicit?.type);
  if (isTyped(d)) {
    const nat = typeOf(d);
    let type = explicit?.type ?? nat.type;
    const perValue = type === 'C' || type === 'M' ? 2 : 1;
    if (nrows === 0 && d.length !== 0) throw new TesseraError(`${cw}: ${d.length} values for 0 rows`);
    const repeat = explicit?.repeat ?? (nrows ? d.length / perValue / nrows : col.dim ? col.dim.reduce((a, b) => a * b, 1) : 1);
    if (!Number.isInteger(repeat) || d.length !== nrows * repeat * perValue) {
      throw new TesseraError(`${cw}: ${d.length} values do not fill ${nrows} rows${explicit ? ` of ${col.tform}` : ''}`);
    }
    if (type === 'C' || type === 'M') {
      const bytes = encodePixels(d, type === 'C' ? -32 : -64, cw);
      return { tform: `${repeat}${type}`, width: repeat * (type === 'C' ? 8 : 16), bytes };
    }
    if (!(type in BITPIX_OF)) throw new TesseraError(`${cw}: TFORM '${col.tform}' does not fit a ${d.constructor.name}`);
    let tzero: number | bigint | undefined;
    if (type === nat.type) tzero = nat.tzero;
    else type = explicit!.type;
    const bytes = numericBytes(d, type, cw);
    const p: Prepared = { tform: `${repeat}${type}`, width: repeat * (BITPIX_OF[type]! === 8 ? 1 : Math.abs(BITPIX_OF[type]!) / 8), bytes };
    if (tzero !== undefined) p.tzero = tzero;
    return p;
  }
  if (d.length > 0 && typeof d[0] === 'boolean' || explicit?.type === 'L' || explicit?.type === 'X') {
    const v = d as boolean[];
    const repeat = explicit?.repeat ?? (nrows ? v.length / nrows : 1);
    if (!Number.isInteger(repeat) || v.length !== nrows * repeat) throw new TesseraError(`${cw}: ${v.length} values do not fill ${nrows} rows`);
    if (explicit?.type === 'X') return { tform: `${repeat}X`, width: Math.ceil(repeat / 8), bytes: bitBytes(v, repeat, nrows) };
    return { tform: `${repeat}L`, width: repeat, bytes: boolBytes(v) };
  }
  // Strings.
  const v = d as string[];
  for (const s of v) if (typeof s !== 'string') throw new TesseraError(`${cw}: mixed value types (expected strings)`);
  const per = nrows ? v.length / nrows : 1;
  if (!Number.isInteger(per) || v.length !== nrows * per) throw new TesseraError(`${cw}: ${v.length} strings do not fill ${nrows} rows`);
  let maxLen = 1;
  for (const s of v) if (s.length > maxLen) maxLen = s.length;
  let sub = per > 1 ? col.dim?.[0] ?? maxLen : explicit?.repeat ?? col.dim?.[0] ?? maxLen;
  if (per === 1 && explicit) sub = explicit.repeat;
  if (sub < maxLen) throw new TesseraError(`${cw}: a string of ${maxLen} characters does not fit width ${sub}`);
  const width = sub * per;
  // NUL-padded (as numpy/astropy write strings), written straight into the column buffer.
  const buf = Buffer.alloc(nrows * width);
  for (let i = 0; i < v.length; i++) if (v[i]!.length) buf.write(v[i]!, i * sub, sub, 'latin1');
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  const p: Prepared = { tform: `${width}A`, width, bytes };
  if (per > 1) p.dim = [sub, per];
  return p;
}

function prepareVla(col: ColumnInput, nrows: number, cw: string, kind: 'P' | 'Q' | undefined, etype: string | undefined): Prepared {
  const rows = col.data as readonly (PixelArray | string | boolean[])[];
  if (rows.length !== nrows) throw new TesseraError(`${cw}: ${rows.length} variable-length entries for ${nrows} rows`);
  const heap: Uint8Array[] = [];
  const counts = new Float64Array(nrows);
  const offsets = new Float64Array(nrows);
  let type = etype;
  let off = 0;
  let max = 0;
  for (let r = 0; r < nrows; r++) {
    const v = rows[r]!;
    let bytes: Uint8Array;
    let count: number;
    if (typeof v === 'string') {
      type ??= 'A';
      if (type !== 'A') throw new TesseraError(`${cw}: row ${r + 1} is a string in a ${type} column`);
      bytes = Buffer.from(v, 'latin1');
      count = bytes.length;
    } else if (Array.isArray(v)) {
      type ??= 'L';
      if (type === 'X') { bytes = bitBytes(v, v.length, 1); count = v.length; }
      else if (type === 'L') { bytes = boolBytes(v); count = v.length; }
      else throw new TesseraError(`${cw}: row ${r + 1} is a boolean array in a ${type} column`);
    } else if (isTyped(v)) {
      const nat = typeOf(v);
      type ??= nat.type;
      if (type === 'C' || type === 'M') {
        bytes = encodePixels(v, type === 'C' ? -32 : -64, cw);
        count = v.length / 2;
      } else {
        if (!(type in BITPIX_OF)) throw new TesseraError(`${cw}: row ${r + 1}: a ${v.constructor.name} in a ${type} column`);
        if (nat.tzero !== undefined && nat.type === type) {
          throw new TesseraError(`${cw}: unsigned/signed-byte arrays are not supported in variable-length columns (convert to a wider signed type)`);
        }
        bytes = numericBytes(v, type, cw);
        count = v.length;
      }
    } else {
      throw new TesseraError(`${cw}: row ${r + 1}: unsupported value`);
    }
    counts[r] = count;
    offsets[r] = off;
    heap.push(bytes);
    off += bytes.length;
    max = Math.max(max, count);
  }
  const q = kind === 'Q' || off > 0x7fffffff;
  const width = q ? 16 : 8;
  const desc = new Uint8Array(nrows * width);
  const dv = new DataView(desc.buffer);
  for (let r = 0; r < nrows; r++) {
    if (q) {
      dv.setBigInt64(r * 16, BigInt(counts[r]!));
      dv.setBigInt64(r * 16 + 8, BigInt(offsets[r]!));
    } else {
      dv.setInt32(r * 8, counts[r]!);
      dv.setInt32(r * 8 + 4, offsets[r]!);
    }
  }
  return { tform: `1${q ? 'Q' : 'P'}${type ?? 'B'}(${max})`, width, bytes: desc, heap };
}

function encodeBinaryTable(hdu: Extract<HduInput, { kind: 'bintable' }>, where: string): { header: Header; data: Uint8Array[] } {
  const nrows = hdu.nrows;
  if (!Number.isInteger(nrows) || nrows < 0) throw new TesseraError(`${where}: bad row count ${nrows}`);
  if (hdu.columns.length > 999) throw new TesseraError(`${where}: ${hdu.columns.length} columns (FITS allows 999)`);
  const prepared = hdu.columns.map((c) => prepareColumn(c, nrows, where));
  const rowBytes = prepared.reduce((a, p) => a + p.width, 0);
  const table = new Uint8Array(rowBytes * nrows);
  let offset = 0;
  for (const p of prepared) {
    const w = p.width;
    const src = p.bytes;
    if (w === rowBytes) table.set(src);
    else if (w >= 32) for (let r = 0; r < nrows; r++) table.set(src.subarray(r * w, (r + 1) * w), r * rowBytes + offset);
    else {
      // Narrow columns: a byte loop beats one subarray + set per row.
      for (let r = 0, i = 0; r < nrows; r++) {
        const base = r * rowBytes + offset;
        for (let k = 0; k < w; k++) table[base + k] = src[i++]!;
      }
    }
    offset += w;
  }
  const heap: Uint8Array[] = [];
  let heapBytes = 0;
  for (const p of prepared) {
    if (!p.heap) continue;
    // Descriptors were written relative to this column's own heap; shift them to the shared heap.
    if (heapBytes) shiftDescriptors(table, nrows, rowBytes, prepared, p, heapBytes);
    for (const h of p.heap) { heap.push(h); heapBytes += h.length; }
  }
  const h = new Header([], where);
  h.set('XTENSION', 'BINTABLE', 'binary table extension');
  h.set('BITPIX', 8, 'array data type');
  h.set('NAXIS', 2, 'number of array dimensions');
  h.set('NAXIS1', rowBytes, 'length of dimension 1');
  h.set('NAXIS2', nrows, 'length of dimension 2');
  h.set('PCOUNT', heapBytes, 'number of group parameters');
  h.set('GCOUNT', 1, 'number of groups');
  h.set('TFIELDS', hdu.columns.length, 'number of table fields');
  hdu.columns.forEach((c, k) => {
    const i = k + 1;
    const p = prepared[k]!;
    h.set(`TTYPE${i}`, c.name);
    h.set(`TFORM${i}`, p.tform);
    if (c.unit) h.set(`TUNIT${i}`, c.unit);
    const dim = c.dim ?? p.dim;
    if (dim) h.set(`TDIM${i}`, `(${dim.join(',')})`);
    if (c.tnull !== undefined) h.set(`TNULL${i}`, c.tnull);
    if (p.tzero !== undefined) {
      h.set(`TSCAL${i}`, 1);
      h.set(`TZERO${i}`, p.tzero);
    }
    if (c.disp) h.set(`TDISP${i}`, c.disp);
  });
  const extname = hdu.extname ?? hdu.header?.optionalString('EXTNAME');
  if (extname !== undefined) h.set('EXTNAME', extname, 'extension name');
  for (const c of userCards(hdu.header, false)) h.cards.push(c);
  const data = nrows * rowBytes + heapBytes > 0 ? [table, ...heap] : [];
  return { header: h, data };
}

function shiftDescriptors(table: Uint8Array, nrows: number, rowBytes: number, prepared: Prepared[], p: Prepared, by: number): void {
  let offset = 0;
  for (const x of prepared) {
    if (x === p) break;
    offset += x.width;
  }
  const dv = new DataView(table.buffer, table.byteOffset, table.length);
  for (let r = 0; r < nrows; r++) {
    const o = r * rowBytes + offset;
    if (p.width === 16) dv.setBigInt64(o + 8, dv.getBigInt64(o + 8) + BigInt(by));
    else {
      const v = dv.getInt32(o + 4) + by;
      if (v > 0x7fffffff) throw new TesseraError('heap larger than 2 GB: use Q (tform 1Q...) columns');
      dv.setInt32(o + 4, v);
    }
  }
}
