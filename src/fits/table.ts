/**
 * FITS tables, decoded column by column.
 *
 * Binary tables (XTENSION='BINTABLE'), for a column of repeat r and n rows:
 *  - numbers are one flat typed array of n·r values, row i at [i·r, (i+1)·r):
 *    B Uint8Array, I Int16Array, J Int32Array, K BigInt64Array, E Float32Array, D Float64Array;
 *    TZERO = -128 / 2^15 / 2^31 / 2^63 with TSCAL = 1 gives Int8Array / Uint16Array / Uint32Array /
 *    BigUint64Array; any other TSCAL/TZERO gives Float64Array of physical values (as astropy);
 *  - C and M (complex) are Float32Array / Float64Array of 2·n·r values, re and im interleaved;
 *  - L and X are boolean[] of n·r values (X: bit j of row i, most significant bit first);
 *  - A is string[]: one string per row (trailing blanks and anything from the first NUL dropped),
 *    or, with a TDIM of two or more axes, n·(r / TDIM1) strings of TDIM1 characters;
 *  - P and Q (variable-length arrays) are one entry per row: a typed array (as above), a string
 *    (PA/QA), or a boolean[] (PL/QL, PX/QX), read from the heap.
 *  `nulls` (integer columns with TNULL, flat like data) is 1 where the stored value equals TNULL;
 *  `data` keeps the (scaled) stored value there, as astropy does.
 * ASCII tables (XTENSION='TABLE'): Aw → string[] (trailing blanks dropped), Iw → Int32Array,
 *  Fw.d / Ew.d / Dw.d → Float64Array; TSCAL/TZERO applied; a field equal to TNULL or blank is a
 *  null: NaN for floats, 0 for integers, flagged in `nulls`.
 */
import { TesseraError } from '../util/errors.js';
import type { Header } from './header.js';
import { alignedBytes, flipSignBits, swapInPlace, type PixelArray } from './pixels.js';

export type ColumnData = PixelArray | string[] | boolean[] | (PixelArray | string | boolean[])[];

export interface FitsColumn {
  name: string;
  tform: string;
  /** The element type letter (L X B I J K A E D C M), for P/Q the type of the array elements. */
  type: string;
  /** P or Q for variable-length array columns. */
  vla?: 'P' | 'Q';
  unit?: string;
  dim?: number[];
  repeat: number;
  data: ColumnData;
  nulls?: Uint8Array;
  tnull?: number | bigint | string;
  tscal?: number;
  tzero?: number;
  /** 1-based index of the column in the table (TTYPEn's n). */
  index: number;
}

export interface FitsTable {
  nrows: number;
  columns: FitsColumn[];
  /** A column by name (case-insensitive); throws a TesseraError listing the names when absent. */
  column(name: string): FitsColumn;
  header: Header;
}

/** Parsed binary TFORM. */
export interface BinaryFormat {
  repeat: number;
  type: string;
  vla?: 'P' | 'Q';
  /** For P/Q: maximum length from "(max)" when given. */
  max?: number;
  /** Bytes per row in the main table. */
  width: number;
}

const ELEMENT_BYTES: Record<string, number> = { L: 1, B: 1, I: 2, J: 4, K: 8, A: 1, E: 4, D: 8, C: 8, M: 16 };

export function parseBinaryTform(tform: string, where: string, key: string): BinaryFormat {
  const s = tform.trim().toUpperCase();
  const vla = /^(\d*)([PQ])([LXBIJKAEDCM])(?:\((\d+)\))?$/.exec(s);
  if (vla) {
    const repeat = vla[1] ? Number(vla[1]) : 1;
    if (repeat > 1) throw new TesseraError(`${where}: keyword ${key}: variable-length format '${tform}' with repeat > 1 is not allowed`);
    const f: BinaryFormat = { repeat, type: vla[3]!, vla: vla[2] as 'P' | 'Q', width: repeat * (vla[2] === 'P' ? 8 : 16) };
    if (vla[4]) f.max = Number(vla[4]);
    return f;
  }
  const m = /^(\d*)([LXBIJKAEDCM])(.*)$/.exec(s);
  if (!m || (m[3] && m[2] !== 'A')) throw new TesseraError(`${where}: keyword ${key}: unknown TFORM '${tform}'`);
  const repeat = m[1] ? Number(m[1]) : 1;
  const type = m[2]!;
  const width = type === 'X' ? Math.ceil(repeat / 8) : repeat * ELEMENT_BYTES[type]!;
  return { repeat, type, width };
}

/** Parse TDIM "(a,b,c)". */
export function parseTdim(s: string, where: string, key: string): number[] {
  const m = /^\s*\(\s*(\d+(?:\s*,\s*\d+)*)\s*\)\s*$/.exec(s);
  if (!m) throw new TesseraError(`${where}: keyword ${key}: expected a TDIM like '(4,3)', got '${s}'`);
  return m[1]!.split(',').map((x) => Number(x.trim()));
}

/** Rows without bytes cost nothing in the file; refuse absurd counts rather than allocate them. */
function checkRowCount(where: string, rowBytes: number, nrows: number): void {
  if (nrows < 0) throw new TesseraError(`${where}: keyword NAXIS2: expected a non-negative row count, got ${nrows}`);
  if (rowBytes === 0 && nrows > 10_000_000) {
    throw new TesseraError(`${where}: NAXIS1 = 0 (rows without bytes) but NAXIS2 = ${nrows}: refusing to build ${nrows} empty rows`);
  }
}

function makeTable(header: Header, nrows: number, columns: FitsColumn[]): FitsTable {
  return {
    nrows,
    columns,
    header,
    column(name: string): FitsColumn {
      const want = name.trim().toUpperCase();
      const c = columns.find((x) => x.name.trim().toUpperCase() === want);
      if (!c) throw new TesseraError(`${header.where}: no column '${name}' (columns: ${columns.map((x) => x.name).join(', ')})`);
      return c;
    },
  };
}

/** Decode a table HDU from its header and its whole data unit (main table + heap). */
export function decodeTable(header: Header, data: Uint8Array, ascii: boolean): FitsTable {
  return ascii ? decodeAsciiTable(header, data) : decodeBinaryTable(header, data);
}

const decoder = new TextDecoder('latin1');

/** The string of `width` characters at `start`: up to the first NUL, trailing blanks dropped. */
function cleanText(text: string, start: number, width: number): string {
  const stop = start + width;
  let end = start;
  while (end < stop && text.charCodeAt(end) !== 0) end++;
  while (end > start && text.charCodeAt(end - 1) === 0x20) end--;
  return text.slice(start, end);
}

function cleanString(bytes: Uint8Array): string {
  let end = bytes.indexOf(0);
  if (end < 0) end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0x20) end--;
  return decoder.decode(bytes.subarray(0, end));
}

const UNSIGNED_TZERO: Record<string, number> = { B: -128, I: 32768, J: 2147483648, K: 9223372036854775808 };

/**
 * Big-endian elements → values of one type (typed array, booleans, strings). `bytes` is owned
 * (modified in place) and aligned.
 */
function decodeElements(bytes: Uint8Array, type: string, count: number, tscal: number, tzero: number, strWidth?: number): PixelArray | boolean[] | string {
  switch (type) {
    case 'L': {
      const out: boolean[] = new Array(count);
      for (let i = 0; i < count; i++) out[i] = bytes[i] === 0x54; // 'T'
      return out;
    }
    case 'X': {
      const out: boolean[] = new Array(count);
      for (let i = 0; i < count; i++) out[i] = ((bytes[i >> 3]! >> (7 - (i & 7))) & 1) === 1;
      return out;
    }
    case 'A':
      return cleanString(bytes.subarray(0, strWidth ?? count));
  }
  const size = type === 'C' ? 4 : type === 'M' ? 8 : ELEMENT_BYTES[type]!;
  const n = type === 'C' || type === 'M' ? 2 * count : count;
  const unsigned = tscal === 1 && UNSIGNED_TZERO[type] === tzero;
  swapInPlace(bytes.subarray(0, n * size), size);
  if (unsigned) flipSignBits(bytes, size, n);
  const { buffer, byteOffset } = bytes;
  let stored: PixelArray;
  switch (type) {
    case 'B': stored = unsigned ? new Int8Array(buffer, byteOffset, n) : new Uint8Array(buffer, byteOffset, n); break;
    case 'I': stored = unsigned ? new Uint16Array(buffer, byteOffset, n) : new Int16Array(buffer, byteOffset, n); break;
    case 'J': stored = unsigned ? new Uint32Array(buffer, byteOffset, n) : new Int32Array(buffer, byteOffset, n); break;
    case 'K': stored = unsigned ? new BigUint64Array(buffer, byteOffset, n) : new BigInt64Array(buffer, byteOffset, n); break;
    case 'E': case 'C': stored = new Float32Array(buffer, byteOffset, n); break;
    default: stored = new Float64Array(buffer, byteOffset, n); break;
  }
  if (unsigned || (tscal === 1 && tzero === 0) || type === 'C' || type === 'M') return stored;
  const out = new Float64Array(n);
  if (stored instanceof BigInt64Array) {
    for (let i = 0; i < n; i++) out[i] = Number(stored[i]!) * tscal + tzero;
  } else {
    const s = stored as Exclude<PixelArray, BigInt64Array | BigUint64Array>;
    if (tscal !== 1) for (let i = 0; i < n; i++) out[i] = s[i]! * tscal + tzero;
    else for (let i = 0; i < n; i++) out[i] = s[i]! + tzero;
  }
  return out;
}

/** Copy one column's bytes out of the row-major table into a fresh aligned buffer. */
function gather(table: Uint8Array, nrows: number, rowBytes: number, offset: number, width: number): Uint8Array {
  const out = alignedBytes(nrows * width);
  if (width === rowBytes) {
    out.set(table.subarray(0, nrows * width));
  } else if (width >= 32) {
    for (let r = 0; r < nrows; r++) out.set(table.subarray(r * rowBytes + offset, r * rowBytes + offset + width), r * width);
  } else {
    for (let r = 0, o = 0; r < nrows; r++) {
      const base = r * rowBytes + offset;
      for (let k = 0; k < width; k++) out[o++] = table[base + k]!;
    }
  }
  return out;
}

interface ColumnKeys {
  name: string;
  unit?: string;
  dim?: number[];
  tscal: number;
  tzero: number;
  tnull?: number | bigint | string;
}

function columnKeys(h: Header, i: number): ColumnKeys {
  const name = h.get(`TTYPE${i}`);
  const unit = h.get(`TUNIT${i}`);
  const k: ColumnKeys = {
    name: typeof name === 'string' ? name.trim() : `col${i}`,
    tscal: h.optionalNumber(`TSCAL${i}`) ?? 1,
    tzero: h.optionalNumber(`TZERO${i}`) ?? 0,
  };
  if (typeof unit === 'string' && unit.trim()) k.unit = unit.trim();
  const tnull = h.get(`TNULL${i}`);
  if (typeof tnull === 'number' || typeof tnull === 'bigint' || typeof tnull === 'string') k.tnull = tnull;
  const tdim = h.get(`TDIM${i}`);
  if (typeof tdim === 'string') k.dim = parseTdim(tdim, h.where, `TDIM${i}`);
  return k;
}

function decodeBinaryTable(h: Header, data: Uint8Array): FitsTable {
  const where = h.where;
  const rowBytes = h.integer('NAXIS1');
  const nrows = h.integer('NAXIS2');
  const tfields = h.integer('TFIELDS');
  if (tfields < 0 || tfields > 999) throw new TesseraError(`${where}: keyword TFIELDS: expected 0..999, got ${tfields}`);
  const pcount = h.optionalNumber('PCOUNT') ?? 0;
  const mainBytes = rowBytes * nrows;
  const theap = h.optionalNumber('THEAP') ?? mainBytes;
  if (!Number.isInteger(theap) || theap < mainBytes || theap > mainBytes + pcount) {
    throw new TesseraError(`${where}: keyword THEAP: ${theap} is outside the data unit (main table ${mainBytes} bytes, PCOUNT ${pcount})`);
  }
  const heapEnd = mainBytes + pcount;
  const formats: BinaryFormat[] = [];
  let total = 0;
  for (let i = 1; i <= tfields; i++) {
    const f = parseBinaryTform(h.string(`TFORM${i}`), where, `TFORM${i}`);
    formats.push(f);
    total += f.width;
  }
  if (total !== rowBytes) throw new TesseraError(`${where}: the TFORMn widths add up to ${total} bytes per row but NAXIS1 = ${rowBytes}`);
  checkRowCount(where, rowBytes, nrows);
  if (data.length < mainBytes) throw new TesseraError(`${where}: table needs ${mainBytes} bytes for ${nrows} rows but the data unit has ${data.length}`);
  const columns: FitsColumn[] = [];
  let offset = 0;
  for (let i = 1; i <= tfields; i++) {
    const f = formats[i - 1]!;
    const k = columnKeys(h, i);
    const col: FitsColumn = { name: k.name, tform: h.string(`TFORM${i}`).trim(), type: f.type, repeat: f.repeat, data: [], index: i };
    if (k.unit !== undefined) col.unit = k.unit;
    if (k.dim !== undefined) col.dim = k.dim;
    if (k.tscal !== 1) col.tscal = k.tscal;
    if (k.tzero !== 0) col.tzero = k.tzero;
    if (k.tnull !== undefined) col.tnull = k.tnull;
    if (f.vla) {
      col.vla = f.vla;
      col.data = decodeVla(data, nrows, rowBytes, offset, f, k, theap, heapEnd, where, k.name);
    } else {
      const raw = gather(data, nrows, rowBytes, offset, f.width);
      if (f.type === 'A' && f.repeat === 0) {
        col.data = new Array<string>(nrows).fill('');
      } else if (f.type === 'A') {
        const sub = k.dim && k.dim.length >= 2 ? k.dim[0]! : f.repeat;
        if (sub <= 0 || f.repeat % sub !== 0) throw new TesseraError(`${where}: keyword TDIM${i}: first axis ${sub} does not divide the string width ${f.repeat}`);
        const per = f.repeat === 0 ? 0 : f.repeat / sub;
        const out: string[] = new Array(nrows * per);
        // One Latin-1 decode of the whole column, then a slice per value.
        const text = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('latin1');
        for (let r = 0; r < nrows; r++) {
          for (let j = 0; j < per; j++) out[r * per + j] = cleanText(text, r * f.repeat + j * sub, sub);
        }
        col.data = out;
      } else if (f.type === 'X') {
        const out: boolean[] = new Array(nrows * f.repeat);
        for (let r = 0; r < nrows; r++) {
          const base = r * f.width;
          for (let j = 0; j < f.repeat; j++) out[r * f.repeat + j] = ((raw[base + (j >> 3)]! >> (7 - (j & 7))) & 1) === 1;
        }
        col.data = out;
      } else {
        if (k.tnull !== undefined && 'BIJK'.includes(f.type)) col.nulls = nullsOf(raw, f.type, nrows * f.repeat, k.tnull);
        col.data = decodeElements(raw, f.type, nrows * f.repeat, k.tscal, k.tzero) as PixelArray | boolean[];
      }
    }
    if (k.dim) {
      const prod = k.dim.reduce((a, b) => a * b, 1);
      if (!f.vla && prod > f.repeat) throw new TesseraError(`${where}: keyword TDIM${i}: ${prod} elements but the column holds ${f.repeat}`);
    }
    columns.push(col);
    offset += f.width;
  }
  return makeTable(h, nrows, columns);
}

/** 1 where the big-endian stored integer equals TNULL (computed before scaling). */
function nullsOf(raw: Uint8Array, type: string, n: number, tnull: number | bigint | string): Uint8Array {
  const out = new Uint8Array(n);
  if (typeof tnull === 'string') return out;
  const size = ELEMENT_BYTES[type]!;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.length);
  for (let i = 0; i < n; i++) {
    const o = i * size;
    let v: number | bigint;
    switch (type) {
      case 'B': v = raw[o]!; break;
      case 'I': v = dv.getInt16(o); break;
      case 'J': v = dv.getInt32(o); break;
      default: v = dv.getBigInt64(o); break;
    }
    // eslint-disable-next-line eqeqeq
    if (typeof v === 'bigint' ? v === BigInt(tnull) : v === Number(tnull)) out[i] = 1;
  }
  return out;
}

function decodeVla(
  data: Uint8Array, nrows: number, rowBytes: number, offset: number, f: BinaryFormat, k: ColumnKeys,
  theap: number, heapEnd: number, where: string, name: string,
): (PixelArray | string | boolean[])[] {
  const out: (PixelArray | string | boolean[])[] = new Array(nrows);
  const dv = new DataView(data.buffer, data.byteOffset, data.length);
  const elem = f.type === 'X' ? 0 : ELEMENT_BYTES[f.type]!;
  for (let r = 0; r < nrows; r++) {
    const o = r * rowBytes + offset;
    let count: number;
    let off: number;
    if (f.vla === 'P') {
      count = dv.getInt32(o);
      off = dv.getInt32(o + 4);
    } else {
      const c = dv.getBigInt64(o);
      const p = dv.getBigInt64(o + 8);
      if (c > BigInt(Number.MAX_SAFE_INTEGER) || p > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new TesseraError(`${where}: row ${r + 1} column ${name}: heap descriptor (${c}, ${p}) out of range`);
      }
      count = Number(c);
      off = Number(p);
    }
    const nbytes = f.type === 'X' ? Math.ceil(count / 8) : count * elem;
    const start = theap + off;
    if (count < 0 || off < 0 || start + nbytes > heapEnd || start + nbytes > data.length) {
      throw new TesseraError(`${where}: row ${r + 1} column ${name}: heap descriptor (${count} elements at offset ${off}) runs outside the heap (${heapEnd - theap} bytes)`);
    }
    const bytes = alignedBytes(nbytes);
    bytes.set(data.subarray(start, start + nbytes));
    out[r] = decodeElements(bytes, f.type, count, k.tscal, k.tzero, nbytes) as PixelArray | string | boolean[];
  }
  return out;
}

/* ---------------------------------------------------------------- ASCII tables */

function decodeAsciiTable(h: Header, data: Uint8Array): FitsTable {
  const where = h.where;
  const rowBytes = h.integer('NAXIS1');
  const nrows = h.integer('NAXIS2');
  const tfields = h.integer('TFIELDS');
  if (tfields < 0 || tfields > 999) throw new TesseraError(`${where}: keyword TFIELDS: expected 0..999, got ${tfields}`);
  if (data.length < rowBytes * nrows) throw new TesseraError(`${where}: table needs ${rowBytes * nrows} bytes but the data unit has ${data.length}`);
  checkRowCount(where, rowBytes, nrows);
  const text = Buffer.from(data.buffer, data.byteOffset, rowBytes * nrows).toString('latin1');
  const columns: FitsColumn[] = [];
  for (let i = 1; i <= tfields; i++) {
    const tform = h.string(`TFORM${i}`).trim().toUpperCase();
    const m = /^([AIJFED])(\d+)(?:\.(\d+))?$/.exec(tform);
    if (!m) throw new TesseraError(`${where}: keyword TFORM${i}: unknown ASCII-table TFORM '${tform}'`);
    const type = m[1]!;
    const width = Number(m[2]);
    const tbcol = h.integer(`TBCOL${i}`);
    if (tbcol < 1 || tbcol - 1 + width > rowBytes) throw new TesseraError(`${where}: keyword TBCOL${i}: field at column ${tbcol} of width ${width} runs outside the ${rowBytes}-character row`);
    const k = columnKeys(h, i);
    const col: FitsColumn = { name: k.name, tform, type, repeat: 1, data: [], index: i };
    if (k.unit !== undefined) col.unit = k.unit;
    if (k.tscal !== 1) col.tscal = k.tscal;
    if (k.tzero !== 0) col.tzero = k.tzero;
    if (k.tnull !== undefined) col.tnull = k.tnull;
    const nullText = k.tnull === undefined ? undefined : String(k.tnull).trim();
    if (type === 'A') {
      const out: string[] = new Array(nrows);
      for (let r = 0; r < nrows; r++) out[r] = text.slice(r * rowBytes + tbcol - 1, r * rowBytes + tbcol - 1 + width).replace(/[ \0]+$/, '');
      col.data = out;
    } else {
      const isInt = type === 'I' || type === 'J';
      const out = isInt && k.tscal === 1 && k.tzero === 0 ? new Int32Array(nrows) : new Float64Array(nrows);
      const nulls = new Uint8Array(nrows);
      let anyNull = false;
      for (let r = 0; r < nrows; r++) {
        const field = text.slice(r * rowBytes + tbcol - 1, r * rowBytes + tbcol - 1 + width).trim();
        if (field === '' || (nullText !== undefined && field === nullText)) {
          nulls[r] = 1;
          anyNull = true;
          out[r] = out instanceof Float64Array && !isInt ? NaN : 0;
          continue;
        }
        const v = isInt ? (/^[-+]?\d+$/.test(field) ? Number(field) : NaN) : parseAsciiFloat(field, m[3] ? Number(m[3]) : 0);
        if (Number.isNaN(v)) throw new TesseraError(`${where}: row ${r + 1} column ${k.name}: cannot read '${field}' as ${tform}`);
        out[r] = out instanceof Int32Array ? v : v * k.tscal + k.tzero;
      }
      col.data = out;
      if (anyNull) col.nulls = nulls;
    }
    columns.push(col);
  }
  return makeTable(h, nrows, columns);
}

/** Fortran-style float: 'D' exponent; an implied decimal point (Fw.d without '.') shifts by d. */
function parseAsciiFloat(s: string, decimals: number): number {
  const t = s.replace(/[dD]/, 'E').replace(/\s+/g, '');
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return NaN;
  const v = Number(t);
  if (!t.includes('.') && decimals > 0) return v / 10 ** decimals;
  return v;
}
