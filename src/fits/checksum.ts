/**
 * CHECKSUM / DATASUM (FITS standard, appendix J; Seaman, Pence & Rots): the 32-bit ones'
 * complement sum of the big-endian 32-bit words of the data unit (DATASUM, as an unsigned
 * decimal string) and of the whole HDU, which the CHECKSUM card (the complement of the sum,
 * encoded as 16 ASCII characters) brings to −0 (all ones).
 */
import { Header } from './header.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Ones' complement 32-bit sum of big-endian words of `bytes` (length a multiple of 4), added to `sum`. */
export function onesSum(bytes: Uint8Array, sum = 0): number {
  // Two 16-bit halves with end-around carries, kept in small integers (folded after every run of
  // words) so that the optimised code never leaves int32 arithmetic. Folding early leaves the
  // value modulo 2^32 − 1, and a non-zero sum stays non-zero, so the result is the same.
  let hi = sum >>> 16;
  let lo = sum & 0xffff;
  const n = bytes.length - (bytes.length % 4);
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
    // One 32-bit load per word: w = b0 | b1<<8 | b2<<16 | b3<<24 on a little-endian machine.
    const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, n >>> 2);
    const nw = u32.length;
    // Byte lanes: a word's bytes 0 and 2 summed in the two 16-bit halves of `a`, bytes 1 and 3 in
    // those of `b` (two masks and two adds a word); 256 words cannot overflow a lane. Runs of
    // 16384 words keep h and l < 2^31.
    for (let start = 0; start < nw; start += 16384) {
      const end = start + 16384 < nw ? start + 16384 : nw;
      let h = 0;
      let l = 0;
      for (let s = start; s < end; s += 256) {
        const e = s + 256 < end ? s + 256 : end;
        let a = 0;
        let b = 0;
        for (let i = s; i < e; i++) {
          const w = u32[i]!;
          a = (a + (w & 0x00ff00ff)) | 0;
          b = (b + ((w >>> 8) & 0x00ff00ff)) | 0;
        }
        h += ((a & 0xffff) << 8) + (b & 0xffff);
        l += ((a >>> 16) << 8) + (b >>> 16);
      }
      hi = (hi + h) | 0;
      lo = (lo + l) | 0;
      const hc = hi >>> 16;
      const lc = lo >>> 16;
      hi = (hi & 0xffff) + lc;
      lo = (lo & 0xffff) + hc;
    }
  } else {
    for (let start = 0; start < n; start += 65536) {
      const end = start + 65536 < n ? start + 65536 : n;
      let h = 0;
      let l = 0;
      for (let i = start; i < end; i += 4) {
        h += (bytes[i]! << 8) | bytes[i + 1]!;
        l += (bytes[i + 2]! << 8) | bytes[i + 3]!;
      }
      hi += h;
      lo += l;
      const hc = hi >>> 16;
      const lc = lo >>> 16;
      hi = (hi & 0xffff) + lc;
      lo = (lo & 0xffff) + hc;
    }
  }
  if (n < bytes.length) {
    // A partial last word is padded with zeros.
    const b = [0, 0, 0, 0];
    for (let k = n; k < bytes.length; k++) b[k - n] = bytes[k]!;
    hi += (b[0]! << 8) | b[1]!;
    lo += (b[2]! << 8) | b[3]!;
  }
  let hicarry = hi >>> 16;
  let locarry = lo >>> 16;
  while (hicarry || locarry) {
    hi = (hi & 0xffff) + locarry;
    lo = (lo & 0xffff) + hicarry;
    hicarry = hi >>> 16;
    locarry = lo >>> 16;
  }
  return hi * 65536 + lo;
}

/** The sum of the concatenation of chunks (words may straddle chunk boundaries). */
export function onesSumChunks(chunks: readonly Uint8Array[]): number {
  let sum = 0;
  const carry = new Uint8Array(4);
  let nc = 0;
  for (const chunk of chunks) {
    let c = chunk;
    if (nc) {
      const take = Math.min(4 - nc, c.length);
      carry.set(c.subarray(0, take), nc);
      nc += take;
      c = c.subarray(take);
      if (nc < 4) continue;
      sum = onesSum(carry, sum);
      nc = 0;
    }
    const whole = c.length - (c.length % 4);
    sum = onesSum(c.subarray(0, whole), sum);
    if (whole < c.length) {
      carry.fill(0);
      carry.set(c.subarray(whole));
      nc = c.length - whole;
    }
  }
  if (nc) {
    carry.fill(0, nc);
    sum = onesSum(carry, sum);
  }
  return sum;
}

/** Ones' complement addition of two 32-bit sums. */
export function addSums(a: number, b: number): number {
  let s = a + b;
  while (s > 0xffffffff) s = (s % 4294967296) + Math.floor(s / 4294967296);
  return s;
}

const EXCLUDE = new Set([0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60]);

/** Encode a 32-bit value as the 16 characters of a CHECKSUM card (complement: encode ~value). */
export function encodeChecksum(sum: number, complement = true): string {
  const value = complement ? 0xffffffff - sum : sum;
  const asc: number[] = new Array(16).fill(0);
  for (let i = 0; i < 4; i++) {
    const byte = Math.floor(value / 2 ** ((3 - i) * 8)) & 0xff;
    const quotient = Math.floor(byte / 4) + 0x30;
    const remainder = byte % 4;
    const ch = [quotient + remainder, quotient, quotient, quotient];
    for (let check = true; check;) {
      check = false;
      for (let j = 0; j < 4; j += 2) {
        if (EXCLUDE.has(ch[j]!) || EXCLUDE.has(ch[j + 1]!)) {
          ch[j]!++;
          ch[j + 1]!--;
          check = true;
        }
      }
    }
    for (let j = 0; j < 4; j++) asc[4 * j + i] = ch[j]!;
  }
  // Rotate right by one character.
  let s = '';
  for (let i = 0; i < 16; i++) s += String.fromCharCode(asc[(i + 15) % 16]!);
  return s;
}

/** Set DATASUM and CHECKSUM in a header for the given data unit (padded bytes, or the chunks of it). */
export function setChecksums(header: Header, data: Uint8Array | readonly Uint8Array[] | { datasum: number }): void {
  const datasum = 'datasum' in data ? data.datasum : onesSumChunks(data instanceof Uint8Array ? [data] : data);
  if (!header.has('CHECKSUM')) header.set('CHECKSUM', '0000000000000000', 'HDU checksum');
  if (!header.has('DATASUM')) header.set('DATASUM', '0', 'data unit checksum');
  header.set('DATASUM', String(datasum));
  header.set('CHECKSUM', '0000000000000000');
  const sum = addSums(onesSum(header.toBytes()), datasum);
  header.set('CHECKSUM', encodeChecksum(sum));
}

export type SumStatus = 'ok' | 'bad' | 'absent';

export interface ChecksumResult {
  datasum: SumStatus;
  checksum: SumStatus;
  /** The computed data sum (decimal as in DATASUM). */
  computedDatasum: string;
}

/**
 * Verify an HDU: headerBytes are the header as stored (with padding), dataSum the ones' sum of
 * its data unit including padding.
 */
export function verifySums(header: Header, headerBytes: Uint8Array, dataSum: number): ChecksumResult {
  const res: ChecksumResult = { datasum: 'absent', checksum: 'absent', computedDatasum: String(dataSum) };
  const ds = header.get('DATASUM');
  if (ds !== undefined && ds !== null) {
    const declared = typeof ds === 'string' ? Number(ds.trim()) : Number(ds);
    res.datasum = declared === dataSum ? 'ok' : 'bad';
  }
  if (header.get('CHECKSUM') !== undefined) {
    const total = addSums(onesSum(headerBytes), dataSum);
    res.checksum = total === 0xffffffff || total === 0 ? 'ok' : 'bad';
  }
  return res;
}
