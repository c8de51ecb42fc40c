/**
 * Rice coding of integer pixels (RICE_1 of the FITS tiled image convention, Pence/White/Seaman;
 * FITS standard §10.4.1).
 *
 * Stream layout: the first pixel as a raw big-endian value of `bytepix` bytes, then for each block
 * of `blocksize` pixels an `fsbits`-bit code (fs + 1; 0 = all differences zero; fsmax + 1 = raw
 * differences of 8·bytepix bits), then for every pixel of the block the zig-zag mapped difference
 * from the previous pixel: the high part (d >> fs) in unary (that many 0 bits then a 1), then the
 * low fs bits. Differences are taken modulo 2^(8·bytepix), so any input decodes exactly.
 */
import { CodecError } from './types.js';

const FSBITS = [0, 3, 4, 0, 5] as const;
const FSMAX = [0, 6, 14, 0, 25] as const;

function params(bytepix: number): { fsbits: number; fsmax: number; bbits: number } {
  if (bytepix !== 1 && bytepix !== 2 && bytepix !== 4) throw new CodecError(`Rice: BYTEPIX must be 1, 2 or 4, got ${bytepix}`);
  return { fsbits: FSBITS[bytepix]!, fsmax: FSMAX[bytepix]!, bbits: 8 * bytepix };
}

/**
 * Decode a Rice stream of `npix` pixels into `out[0..npix)`.
 * Values: bytepix 4 → signed 32-bit, 2 → signed 16-bit, 1 → unsigned 8-bit.
 * Throws CodecError when the stream ends early or is malformed; every loop is bounded by the input.
 */
export function riceDecode(src: Uint8Array, npix: number, bytepix: number, blocksize: number, out: Int32Array): void {
  const { fsbits, fsmax, bbits } = params(bytepix);
  if (!(blocksize > 0)) throw new CodecError(`Rice: block size must be positive, got ${blocksize}`);
  if (npix <= 0) return;
  const len = src.length;
  if (len < bytepix + 1) throw new CodecError(`Rice: compressed stream of ${len} bytes is too short`);
  if (bytepix === 4) {
    decode32(src, npix, blocksize, out);
    return;
  }
  if (bytepix === 2) {
    decode16(src, npix, blocksize, out);
    return;
  }
  let last = 0;
  for (let k = 0; k < bytepix; k++) last = (last << 8) | src[k]!;
  if (bytepix === 2) last = (last << 16) >> 16;
  const shift = bytepix === 2 ? 16 : 0; // sign-wrap for 16-bit values
  const mask8 = bytepix === 1;
  let c = bytepix;
  let b = src[c++]!;
  let nbits = 8;
  let i = 0;
  const fsmask = (1 << fsbits) - 1;
  while (i < npix) {
    nbits -= fsbits;
    while (nbits < 0) {
      b = (b << 8) | (c < len ? src[c]! : 0);
      c++;
      nbits += 8;
    }
    const fs = ((b >>> nbits) & fsmask) - 1;
    b &= (1 << nbits) - 1;
    let imax = i + blocksize;
    if (imax > npix) imax = npix;
    if (fs < 0) {
      for (; i < imax; i++) out[i] = last;
    } else if (fs === fsmax) {
      for (; i < imax; i++) {
        let diff: number;
        if (bbits === 32) {
          // two 16-bit halves; b holds < 8 bits, so each read fits in 24 bits
          while (nbits < 16) { b = (b << 8) | (c < len ? src[c]! : 0); c++; nbits += 8; }
          nbits -= 16;
          const hi = b >>> nbits;
          b &= (1 << nbits) - 1;
          while (nbits < 16) { b = (b << 8) | (c < len ? src[c]! : 0); c++; nbits += 8; }
          nbits -= 16;
          const lo = b >>> nbits;
          b &= (1 << nbits) - 1;
          diff = (hi << 16) | lo;
        } else {
          while (nbits < bbits) { b = (b << 8) | (c < len ? src[c]! : 0); c++; nbits += 8; }
          nbits -= bbits;
          diff = b >>> nbits;
          b &= (1 << nbits) - 1;
        }
        diff = diff & 1 ? ~(diff >>> 1) : diff >>> 1;
        last = mask8 ? (last + diff) & 255 : shift ? ((last + diff) << 16) >> 16 : (last + diff) | 0;
        out[i] = last;
      }
    } else if (fs > fsmax) {
      throw new CodecError(`Rice: invalid split code ${fs + 1} at pixel ${i}`);
    } else {
      for (; i < imax; i++) {
        while (b === 0) {
          if (c >= len) throw new CodecError(`Rice: compressed stream ends at pixel ${i} of ${npix}`);
          nbits += 8;
          b = src[c++]!;
        }
        const nzero = nbits - (32 - Math.clz32(b));
        nbits -= nzero + 1;
        b ^= 1 << nbits;
        nbits -= fs;
        while (nbits < 0) {
          b = (b << 8) | (c < len ? src[c]! : 0);
          c++;
          nbits += 8;
        }
        let diff = (nzero << fs) | (b >>> nbits);
        b &= (1 << nbits) - 1;
        diff = diff & 1 ? ~(diff >>> 1) : diff >>> 1;
        last = mask8 ? (last + diff) & 255 : shift ? ((last + diff) << 16) >> 16 : (last + diff) | 0;
        out[i] = last;
      }
    }
    if (c > len) throw new CodecError(`Rice: compressed stream ends at pixel ${i} of ${npix}`);
  }
}
/*
 * The specialised decoders read through a 32-bit window `w` whose top `n` bits (n ≤ 32) are the
 * next bits of the stream and whose other bits are 0: a code's unary part is one clz32, its low
 * bits one shift, and bytes are added only when a field does not fit. Reads past the end of
 * `src` give undefined, which the bit operations treat as 0; the check after each block (bits
 * consumed ≤ bits available) turns any such overrun into a CodecError.
 */

/** The 32-bit decoder (the float path). */
function decode32(src: Uint8Array, npix: number, blocksize: number, out: Int32Array): void {
  const len = src.length;
  let last = (src[0]! << 24) | (src[1]! << 16) | (src[2]! << 8) | src[3]!;
  let c = 4;
  let w = 0;
  let n = 0;
  let i = 0;
  while (i < npix) {
    while (n <= 24) { w |= src[c++]! << (24 - n); n += 8; }
    const fs = (w >>> 27) - 1;
    w <<= 5;
    n -= 5;
    let imax = i + blocksize;
    if (imax > npix) imax = npix;
    if (fs < 0) {
      for (; i < imax; i++) out[i] = last;
    } else if (fs === 25) {
      for (; i < imax; i++) {
        if (n < 16) { while (n <= 24) { w |= src[c++]! << (24 - n); n += 8; } }
        const hi = w >>> 16;
        w <<= 16;
        n -= 16;
        if (n < 16) { while (n <= 24) { w |= src[c++]! << (24 - n); n += 8; } }
        const lo = w >>> 16;
        w <<= 16;
        n -= 16;
        const d = (hi << 16) | lo;
        last = (last + ((d >>> 1) ^ -(d & 1))) | 0;
        out[i] = last;
      }
    } else if (fs > 25) {
      throw new CodecError(`Rice: invalid split code ${fs + 1} at pixel ${i}`);
    } else {
      const sh = 31 - fs;
      for (; i < imax; i++) {
        if (n <= 24) { while (n <= 24) { w |= src[c++]! << (24 - n); n += 8; } }
        let nzero: number;
        if (w === 0) {
          // the unary run goes past the window: whole zero bytes, then the byte with the 1
          nzero = n;
          let x = src[c++]!;
          while (x === 0) { nzero += 8; x = src[c++]!; }
          if (c > len) throw new CodecError(`Rice: compressed stream ends at pixel ${i} of ${npix}`);
          const z = Math.clz32(x) - 24;
          nzero += z;
          w = (x << (24 + z)) << 1;
          n = 7 - z;
        } else {
          nzero = Math.clz32(w);
          w = (w << nzero) << 1;
          n -= nzero + 1;
        }
        if (n < fs) { while (n <= 24) { w |= src[c++]! << (24 - n); n += 8; } }
        const d = (nzero << fs) | ((w >>> 1) >>> sh);
        w <<= fs;
        n -= fs;
        last = (last + ((d >>> 1) ^ -(d & 1))) | 0;
        out[i] = last;
      }
    }
    if (8 * c - n > 8 * len) throw new CodecError(`Rice: compressed stream ends at pixel ${i} of ${npix}`);
  }
}

/** The 16-bit decoder, specialised like decode32. */
function decode16(src: Uint8Array, npix: number, blocksize: number, out: Int32Array): void {
  const len = src.length;
  let last = (((src[0]! << 8) | src[1]!) << 16) >> 16;
  let c = 2;
  let w = 0;
  let n = 0;
  let i = 0;
  while (i < npix) {
    while (n <= 24) { w |= src[c++]! << (24 - n); n += 8; }
    const fs = (w >>> 28) - 1;
    w <<= 4;
    n -= 4;
    let imax = i + blocksize;
    if (imax > npix) imax = npix;
    if (fs < 0) {
      for (; i < imax; i++) out[i] = last;
    } else if (fs === 14) {
      for (; i < imax; i++) {
        if (n < 16) { while (n <= 24) { w |= src[c++]! << (24 - n); n += 8; } }
        const d = w >>> 16;
        w <<= 16;
        n -= 16;
        last = ((last + ((d >>> 1) ^ -(d & 1))) << 16) >> 16;
        out[i] = last;
      }
    } else if (fs > 14) {
      throw new CodecError(`Rice: invalid split code ${fs + 1} at pixel ${i}`);
    } else {
      const sh = 31 - fs;
      for (; i < imax; i++) {
        if (n <= 24) { while (n <= 24) { w |= src[c++]! << (24 - n); n += 8; } }
        let nzero: number;
        if (w === 0) {
          // the unary run goes past the window: whole zero bytes, then the byte with the 1
          nzero = n;
          let x = src[c++]!;
          while (x === 0) { nzero += 8; x = src[c++]!; }
          if (c > len) throw new CodecError(`Rice: compressed stream ends at pixel ${i} of ${npix}`);
          const z = Math.clz32(x) - 24;
          nzero += z;
          w = (x << (24 + z)) << 1;
          n = 7 - z;
        } else {
          nzero = Math.clz32(w);
          w = (w << nzero) << 1;
          n -= nzero + 1;
        }
        if (n < fs) { while (n <= 24) { w |= src[c++]! << (24 - n); n += 8; } }
        const d = (nzero << fs) | ((w >>> 1) >>> sh);
        w <<= fs;
        n -= fs;
        last = ((last + ((d >>> 1) ^ -(d & 1))) << 16) >> 16;
        out[i] = last;
      }
    }
    if (8 * c - n > 8 * len) throw new CodecError(`Rice: compressed stream ends at pixel ${i} of ${npix}`);
  }
}

/** Output buffer reused across calls (the result is a copy of the bytes written). */
let encodeScratch = new Uint8Array(0);
let encodeDiff = new Uint32Array(32);

/**
 * Rice-encode `npix` integer pixels (any integer typed array; values are taken modulo
 * 2^(8·bytepix)). Returns the compressed bytes (a fresh array).
 *
 * Bits go into a left-aligned 32-bit window `w` holding `nb` pending bits; whole bytes leave it
 * only when the next code (at most 25 bits) would not fit, several at a time.
 */
export function riceEncode(
  pix: Int32Array | Int16Array | Uint8Array | Uint16Array,
  npix: number,
  bytepix: number,
  blocksize = 32,
): Uint8Array {
  const { fsbits, fsmax, bbits } = params(bytepix);
  if (!(blocksize > 0)) throw new CodecError(`Rice: block size must be positive, got ${blocksize}`);
  const nblocks = Math.ceil(npix / blocksize);
  // worst case per pixel is bbits + 4 bits (see the bound on the unary part), plus block codes
  const need = Math.ceil((npix * (bbits + 4) + nblocks * fsbits) / 8) + bytepix + 16;
  if (encodeScratch.length < need) encodeScratch = new Uint8Array(Math.max(need, 2 * encodeScratch.length));
  const out = encodeScratch;
  let p = 0;
  let w = 0;
  let nb = 0;
  if (encodeDiff.length < blocksize) encodeDiff = new Uint32Array(blocksize);
  const diff = encodeDiff;
  const wrapMask = bytepix === 4 ? 0 : (1 << bbits) - 1;

  let last = pix[0]! | 0;
  if (bytepix === 4) {
    out[p++] = (last >>> 24) & 255; out[p++] = (last >>> 16) & 255; out[p++] = (last >>> 8) & 255; out[p++] = last & 255;
  } else if (bytepix === 2) {
    out[p++] = (last >>> 8) & 255; out[p++] = last & 255;
  } else {
    out[p++] = last & 255;
  }

  for (let i = 0; i < npix; i += blocksize) {
    const n = npix - i < blocksize ? npix - i : blocksize;
    let sum = 0;
    if (bytepix === 4) {
      for (let j = 0; j < n; j++) {
        const next = pix[i + j]! | 0;
        const d = (next - last) | 0;
        const m = ((d << 1) ^ (d >> 31)) >>> 0;
        diff[j] = m;
        sum += m;
        last = next;
      }
    } else {
      const sh = 32 - bbits;
      for (let j = 0; j < n; j++) {
        const next = pix[i + j]! | 0;
        const d = ((next - last) << sh) >> sh; // wrapped signed difference
        const m = ((d << 1) ^ (d >> 31)) & wrapMask;
        diff[j] = m;
        sum += m;
        last = next;
      }
    }
    let dpsum = (sum - Math.floor(n / 2) - 1) / n;
    if (dpsum < 0) dpsum = 0;
    // not truncated to the pixel width (unlike cfitsio's short/byte coders): keeps the bound above
    // fs = number of bits of floor(floor(dpsum) / 2) (dpsum < 2^32, so that fits in 31 bits)
    const psum = Math.floor(dpsum) >>> 1;
    const fs = psum > 0 ? 32 - Math.clz32(psum) : 0;

    // the block code (fsbits ≤ 5 bits)
    const code = fs >= fsmax ? fsmax + 1 : fs === 0 && sum === 0 ? 0 : fs + 1;
    if (nb + fsbits > 32) { do { out[p++] = w >>> 24; w <<= 8; nb -= 8; } while (nb >= 8); }
    w |= code << (32 - nb - fsbits);
    nb += fsbits;
    if (fs >= fsmax) {
      // raw differences, 16 bits (or 8) at a time
      const half = bbits === 32 ? 16 : bbits;
      for (let j = 0; j < n; j++) {
        const m = diff[j]!;
        if (bbits === 32) {
          if (nb + 16 > 32) { do { out[p++] = w >>> 24; w <<= 8; nb -= 8; } while (nb >= 8); }
          w |= (m >>> 16) << (16 - nb);
          nb += 16;
        }
        if (nb + half > 32) { do { out[p++] = w >>> 24; w <<= 8; nb -= 8; } while (nb >= 8); }
        w |= (bbits === 32 ? m & 0xffff : m) << (32 - nb - half);
        nb += half;
      }
    } else if (code !== 0) {
      const lowMask = fs === 0 ? 0 : (1 << fs) - 1;
      const one = 1 << fs;
      for (let j = 0; j < n; j++) {
        const m = diff[j]!;
        const top = m >>> fs;
        const len = top + fs + 1;
        if (len <= 25) {
          // `top` zeros, a 1 and the fs low bits: one code of len bits (its leading zeros are implicit)
          if (nb + len > 32) { do { out[p++] = w >>> 24; w <<= 8; nb -= 8; } while (nb >= 8); }
          w |= (one | (m & lowMask)) << (32 - nb - len);
          nb += len;
          continue;
        }
        // long unary run: zero bytes, then the 1 and the fs low bits (fs + 1 ≤ 25 bits)
        nb += top;
        while (nb >= 8) { out[p++] = w >>> 24; w <<= 8; nb -= 8; }
        const cl = fs + 1;
        if (nb + cl > 32) { do { out[p++] = w >>> 24; w <<= 8; nb -= 8; } while (nb >= 8); }
        w |= (one | (m & lowMask)) << (32 - nb - cl);
        nb += cl;
      }
    }
  }
  while (nb > 0) { out[p++] = w >>> 24; w <<= 8; nb -= 8; }
  return out.slice(0, p);
}
