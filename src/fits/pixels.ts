/**
 * Pixel arrays: big-endian FITS bytes ↔ native typed arrays, and BSCALE/BZERO/BLANK scaling the
 * way astropy applies it (so values agree bit for bit):
 *  - BSCALE=1 with BZERO = -128 / 2^15 / 2^31 / 2^63 on BITPIX 8/16/32/64: Int8Array / Uint16Array /
 *    Uint32Array / BigUint64Array (pseudo-unsigned, exact);
 *  - any other BSCALE/BZERO, or BLANK on an integer image: floats — Float32Array for BITPIX 8, 16
 *    and -32 (computed in single precision), Float64Array for 32, 64 and -64; BLANK pixels → NaN;
 *  - otherwise the stored type: Uint8Array, Int16Array, Int32Array, BigInt64Array, Float32Array, Float64Array.
 */
import { TesseraError } from '../util/errors.js';

export type PixelArray =
  | Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | BigInt64Array | BigUint64Array | Float32Array | Float64Array;

export const BITPIXES = [8, 16, 32, 64, -32, -64] as const;

export function bytesPerPixel(bitpix: number): number {
  return Math.abs(bitpix) / 8;
}

/** Swap big-endian ↔ native in place (element size 1, 2, 4 or 8). */
export function swapInPlace(bytes: Uint8Array, size: number): void {
  if (size === 1 || bytes.length === 0) return;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (size === 2) b.swap16();
  else if (size === 4) b.swap32();
  else if (size === 8) b.swap64();
  else throw new Error(`swapInPlace: bad element size ${size}`);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Flip the top bit of each native-order element of `size` bytes (n elements), 32 bits at a time
 * where the buffer allows it.
 */
export function flipSignBits(bytes: Uint8Array, size: number, n: number): void {
  const len = n * size;
  const aligned = bytes.byteOffset % 4 === 0;
  if (!LITTLE_ENDIAN || !aligned || size === 8) {
    // Byte by byte: the most significant byte of each element.
    const msb = LITTLE_ENDIAN ? size - 1 : 0;
    for (let o = msb; o < len; o += size) bytes[o] ^= 0x80;
    return;
  }
  const words = len >>> 2;
  const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, words);
  const mask = size === 1 ? 0x80808080 : size === 2 ? 0x80008000 : 0x80000000;
  for (let i = 0; i < words; i++) u32[i] ^= mask;
  for (let o = words * 4 + size - 1; o < len; o += size) bytes[o] ^= 0x80;
}

/** A fresh, aligned byte buffer (typed-array views on it need alignment). */
export function alignedBytes(n: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(n));
}

/** View native-order bytes (offset aligned) as the typed array for a BITPIX. */
export function viewAs(bytes: Uint8Array, bitpix: number, n: number): PixelArray {
  const { buffer, byteOffset } = bytes;
  switch (bitpix) {
    case 8: return new Uint8Array(buffer, byteOffset, n);
    case 16: return new Int16Array(buffer, byteOffset, n);
    case 32: return new Int32Array(buffer, byteOffset, n);
    case 64: return new BigInt64Array(buffer, byteOffset, n);
    case -32: return new Float32Array(buffer, byteOffset, n);
    case -64: return new Float64Array(buffer, byteOffset, n);
    default: throw new TesseraError(`unsupported BITPIX ${bitpix}`);
  }
}

export interface Scaling {
  bscale: number;
  bzero: number;
  /** BLANK (integer images only). */
  blank?: number | bigint;
}

const UNSIGNED_ZERO: Record<number, number> = { 8: -128, 16: 32768, 32: 2147483648, 64: 9223372036854775808 };

/** Is this BSCALE/BZERO the pseudo-unsigned (or signed-byte) convention? */
export function isPseudoUnsigned(bitpix: number, s: Scaling): boolean {
  return bitpix > 0 && s.bscale === 1 && s.bzero === UNSIGNED_ZERO[bitpix];
}

/**
 * Turn big-endian stored pixels into values. `bytes` must be a buffer this function may modify
 * (it is swapped in place) whose byteOffset is aligned for the element size.
 */
export function decodePixels(bytes: Uint8Array, bitpix: number, n: number, s: Scaling, raw = false): PixelArray {
  const size = bytesPerPixel(bitpix);
  if (bytes.length < n * size) throw new Error('decodePixels: buffer too short');
  const pseudo = !raw && isPseudoUnsigned(bitpix, s);
  swapInPlace(bytes.subarray(0, n * size), size);
  // Pseudo-unsigned: flip the sign bit of each value (x + 2^(bits-1) reinterpreted as unsigned).
  if (pseudo) flipSignBits(bytes, size, n);
  const { buffer, byteOffset } = bytes;
  if (pseudo) {
    switch (bitpix) {
      case 8: return new Int8Array(buffer, byteOffset, n);
      case 16: return new Uint16Array(buffer, byteOffset, n);
      case 32: return new Uint32Array(buffer, byteOffset, n);
      default: return new BigUint64Array(buffer, byteOffset, n);
    }
  }
  const stored = viewAs(bytes, bitpix, n);
  const blank = bitpix > 0 && s.blank !== undefined && s.blank !== 0 && s.blank !== 0n ? s.blank : undefined;
  if (raw || (s.bscale === 1 && s.bzero === 0 && blank === undefined)) return stored;
  if (bitpix === 64) {
    const src = stored as BigInt64Array;
    const out = new Float64Array(n);
    const bl = blank === undefined ? undefined : BigInt(blank);
    for (let i = 0; i < n; i++) {
      const v = src[i]!;
      out[i] = bl !== undefined && v === bl ? NaN : Number(v) * s.bscale + s.bzero;
    }
    return out;
  }
  const src = stored as Uint8Array | Int16Array | Int32Array | Float32Array | Float64Array;
  const bl = blank === undefined ? NaN : Number(blank);
  if (bitpix === 8 || bitpix === 16 || bitpix === -32) {
    // Single precision throughout, as numpy does for float32 arrays and Python float scalars.
    const out = bitpix === -32 ? (src as Float32Array) : new Float32Array(n);
    const fs = Math.fround(s.bscale);
    const fz = Math.fround(s.bzero);
    const doScale = s.bscale !== 1;
    const doZero = s.bzero !== 0;
    for (let i = 0; i < n; i++) {
      const r = src[i]!;
      if (r === bl) { out[i] = NaN; continue; }
      let v = r;
      if (doScale) v = Math.fround(v * fs);
      if (doZero) v = v + fz;
      out[i] = v;
    }
    return out;
  }
  const out = bitpix === -64 ? (src as Float64Array) : new Float64Array(n);
  const bs = s.bscale;
  const bz = s.bzero;
  for (let i = 0; i < n; i++) {
    const r = src[i]!;
    out[i] = r === bl ? NaN : r * bs + bz;
  }
  return out;
}

/** The BITPIX (and BZERO for unsigned types) that stores a typed array losslessly. */
export function bitpixFor(data: PixelArray): { bitpix: number; bzero?: number | bigint } {
  if (data instanceof Float32Array) return { bitpix: -32 };
  if (data instanceof Float64Array) return { bitpix: -64 };
  if (data instanceof Uint8Array) return { bitpix: 8 };
  if (data instanceof Int8Array) return { bitpix: 8, bzero: -128 };
  if (data instanceof Int16Array) return { bitpix: 16 };
  if (data instanceof Uint16Array) return { bitpix: 16, bzero: 32768 };
  if (data instanceof Int32Array) return { bitpix: 32 };
  if (data instanceof Uint32Array) return { bitpix: 32, bzero: 2147483648 };
  if (data instanceof BigInt64Array) return { bitpix: 64 };
  if (data instanceof BigUint64Array) return { bitpix: 64, bzero: 9223372036854775808n };
  throw new TesseraError('unsupported pixel array type');
}

/**
 * Encode values to big-endian bytes for a BITPIX. With the natural BITPIX of the array (see
 * bitpixFor) this is an exact copy (unsigned types get their sign bit flipped for BZERO). Other
 * targets convert: any numbers → -32/-64; integers → wider integers; floats → integers round to
 * nearest and fail when out of range or NaN.
 */
export function encodePixels(data: PixelArray, bitpix: number, where = ''): Uint8Array {
  return encodePixelsInto(data, bitpix, alignedBytes(data.length * bytesPerPixel(bitpix)), where);
}

/**
 * encodePixels into a caller's buffer (aligned, at least data.length·|BITPIX|/8 bytes); returns
 * the filled part. Lets writers encode a big image piece by piece through one scratch buffer.
 */
export function encodePixelsInto(data: PixelArray, bitpix: number, buf: Uint8Array, where = ''): Uint8Array {
  const natural = bitpixFor(data);
  const size = bytesPerPixel(bitpix);
  const n = data.length;
  if (buf.length < n * size || buf.byteOffset % 8 !== 0) throw new Error('encodePixelsInto: scratch buffer too small or misaligned');
  const out = buf.length === n * size ? buf : buf.subarray(0, n * size);
  if (natural.bitpix === bitpix) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, n * size));
    swapInPlace(out, size);
    if (natural.bzero !== undefined) for (let i = 0, o = 0; i < n; i++, o += size) out[o] ^= 0x80;
    return out;
  }
  let target: PixelArray;
  switch (bitpix) {
    case -32: target = new Float32Array(out.buffer, out.byteOffset, n); break;
    case -64: target = new Float64Array(out.buffer, out.byteOffset, n); break;
    case 8: target = new Uint8Array(out.buffer, out.byteOffset, n); break;
    case 16: target = new Int16Array(out.buffer, out.byteOffset, n); break;
    case 32: target = new Int32Array(out.buffer, out.byteOffset, n); break;
    case 64: target = new BigInt64Array(out.buffer, out.byteOffset, n); break;
    default: throw new TesseraError(`${where}: unsupported BITPIX ${bitpix}`);
  }
  if (target instanceof BigInt64Array) {
    for (let i = 0; i < n; i++) {
      const v = data[i]!;
      if (typeof v === 'bigint') target[i] = v;
      else {
        if (!Number.isFinite(v)) throw new TesseraError(`${where}: pixel ${i} is ${v}, cannot be written as BITPIX 64`);
        target[i] = BigInt(Math.round(v));
      }
    }
  } else if (bitpix < 0) {
    const t = target as Float32Array | Float64Array;
    for (let i = 0; i < n; i++) t[i] = Number(data[i]!);
  } else {
    const t = target as Uint8Array | Int16Array | Int32Array;
    const lo = bitpix === 8 ? 0 : -(2 ** (bitpix - 1));
    const hi = bitpix === 8 ? 255 : 2 ** (bitpix - 1) - 1;
    for (let i = 0; i < n; i++) {
      const v = Math.round(Number(data[i]!));
      if (!(v >= lo && v <= hi)) throw new TesseraError(`${where}: pixel ${i} value ${data[i]} does not fit BITPIX ${bitpix}`);
      t[i] = v;
    }
  }
  swapInPlace(out, size);
  return out;
}
