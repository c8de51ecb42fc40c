/**
 * HCOMPRESS_1 decoding (R. White's H-transform coder, as in the FITS tiled image convention).
 *
 * Stream: magic 0xDD 0x99; nx (rows, slow axis) and ny (row length) as 32-bit big-endian;
 * scale; the sum of all pixels (64-bit); the number of bit planes of the three coefficient
 * quadrants; then each quadrant's bit planes, quadtree-coded (Huffman-coded 4-bit nodes) or
 * written directly; a 0 nybble; then one sign bit per non-zero coefficient, byte aligned.
 * Decoding multiplies by `scale` and inverts the H-transform (optionally smoothing, which
 * adjusts the coefficients within ±scale/2 to remove blockiness of lossy tiles).
 *
 * Arithmetic is done in doubles so that 32-bit images (whose coefficients need more than 32
 * bits) decode exactly; shifts and masks are written as the floor divisions they stand for.
 */
import { CodecError } from './types.js';

class BitIn {
  private buf = 0;
  private bits = 0;
  pos: number;
  constructor(private readonly src: Uint8Array, start: number) {
    this.pos = start;
  }
  private byte(): number {
    if (this.pos >= this.src.length) throw new CodecError('HCOMPRESS: compressed stream ends early');
    return this.src[this.pos++]!;
  }
  reset(): void {
    this.bits = 0;
  }
  bit(): number {
    if (this.bits === 0) {
      this.buf = this.byte();
      this.bits = 8;
    }
    this.bits--;
    return (this.buf >> this.bits) & 1;
  }
  nbits(n: number): number {
    if (this.bits < n) {
      this.buf = ((this.buf << 8) | this.byte()) & 0xffff;
      this.bits += 8;
    }
    this.bits -= n;
    return (this.buf >> this.bits) & ((1 << n) - 1);
  }
  huffman(): number {
    let c = this.nbits(3);
    if (c < 4) return 1 << c;
    c = this.bit() | (c << 1);
    switch (c) {
      case 8: return 3;
      case 9: return 5;
      case 10: return 10;
      case 11: return 12;
      case 12: return 15;
    }
    c = this.bit() | (c << 1);
    switch (c) {
      case 26: return 6;
      case 27: return 7;
      case 28: return 9;
      case 29: return 11;
      case 30: return 13;
    }
    c = this.bit() | (c << 1);
    return c === 62 ? 0 : 14;
  }
}

function log2up(n: number): number {
  if (n <= 1) return 0;
  let l = Math.trunc(Math.log(n) / Math.log(2) + 0.5);
  if (n > 2 ** l) l++;
  return l;
}

/** Expand 4-bit codes a[(nx+1)/2 × (ny+1)/2] into bit plane `bit` of b (row length n, from off). */
type Coeffs = Float64Array | Int32Array;

/** bitins for 32-bit coefficients (bit ≤ 30): branch-free ORs. */
function bitinsI(a: Uint8Array, nx: number, ny: number, b: Int32Array, off: number, n: number, bit: number): void {
  let k = 0;
  let i = 0;
  for (; i < nx - 1; i += 2) {
    let s00 = off + n * i;
    let j = 0;
    for (; j < ny - 1; j += 2) {
      const v = a[k++]!;
      if (v !== 0) {
        b[s00] |= ((v >> 3) & 1) << bit;
        b[s00 + 1] |= ((v >> 2) & 1) << bit;
        b[s00 + n] |= ((v >> 1) & 1) << bit;
        b[s00 + n + 1] |= (v & 1) << bit;
      }
      s00 += 2;
    }
    if (j < ny) {
      const v = a[k++]!;
      b[s00] |= ((v >> 3) & 1) << bit;
      b[s00 + n] |= ((v >> 1) & 1) << bit;
    }
  }
  if (i < nx) {
    let s00 = off + n * i;
    let j = 0;
    for (; j < ny - 1; j += 2) {
      const v = a[k++]!;
      b[s00] |= ((v >> 3) & 1) << bit;
      b[s00 + 1] |= ((v >> 2) & 1) << bit;
      s00 += 2;
    }
    if (j < ny) b[s00] |= ((a[k++]! >> 3) & 1) << bit;
  }
}

function bitins(a: Uint8Array, nx: number, ny: number, b: Coeffs, off: number, n: number, bit: number): void {
  if (b instanceof Int32Array && bit <= 30) {
    bitinsI(a, nx, ny, b, off, n, bit);
    return;
  }
  const pv = 2 ** bit;
  let k = 0;
  let i = 0;
  for (; i < nx - 1; i += 2) {
    let s00 = off + n * i;
    let j = 0;
    for (; j < ny - 1; j += 2) {
      const v = a[k++]!;
      if (v & 8) b[s00] += pv;
      if (v & 4) b[s00 + 1] += pv;
      if (v & 2) b[s00 + n] += pv;
      if (v & 1) b[s00 + n + 1] += pv;
      s00 += 2;
    }
    if (j < ny) {
      const v = a[k++]!;
      if (v & 8) b[s00] += pv;
      if (v & 2) b[s00 + n] += pv;
    }
  }
  if (i < nx) {
    let s00 = off + n * i;
    let j = 0;
    for (; j < ny - 1; j += 2) {
      const v = a[k++]!;
      if (v & 8) b[s00] += pv;
      if (v & 4) b[s00 + 1] += pv;
      s00 += 2;
    }
    if (j < ny) {
      const v = a[k++]!;
      if (v & 8) b[s00] += pv;
    }
  }
}

/** Copy 4-bit codes a[(nx+1)/2 × (ny+1)/2] to b[nx × ny] (row length n), one bit per cell; a and b may alias. */
function qcopy(a: Uint8Array, nx: number, ny: number, b: Uint8Array, n: number): void {
  const nx2 = (nx + 1) >> 1;
  const ny2 = (ny + 1) >> 1;
  let k = ny2 * (nx2 - 1) + ny2 - 1;
  for (let i = nx2 - 1; i >= 0; i--) {
    let s00 = 2 * (n * i + ny2 - 1);
    for (let j = ny2 - 1; j >= 0; j--) {
      b[s00] = a[k--]!;
      s00 -= 2;
    }
  }
  let i = 0;
  for (; i < nx - 1; i += 2) {
    let s00 = n * i;
    let s10 = s00 + n;
    let j = 0;
    for (; j < ny - 1; j += 2) {
      const v = b[s00]!;
      b[s10 + 1] = v & 1;
      b[s10] = (v >> 1) & 1;
      b[s00 + 1] = (v >> 2) & 1;
      b[s00] = (v >> 3) & 1;
      s00 += 2;
      s10 += 2;
    }
    if (j < ny) {
      const v = b[s00]!;
      b[s10] = (v >> 1) & 1;
      b[s00] = (v >> 3) & 1;
    }
  }
  if (i < nx) {
    let s00 = n * i;
    let j = 0;
    for (; j < ny - 1; j += 2) {
      const v = b[s00]!;
      b[s00 + 1] = (v >> 2) & 1;
      b[s00] = (v >> 3) & 1;
      s00 += 2;
    }
    if (j < ny) b[s00] = (b[s00]! >> 3) & 1;
  }
}

function qtreeDecode(inp: BitIn, a: Coeffs, off: number, n: number, nqx: number, nqy: number, nbitplanes: number): void {
  const log2n = log2up(Math.max(nqx, nqy));
  const nqx2 = (nqx + 1) >> 1;
  const nqy2 = (nqy + 1) >> 1;
  // scratch must hold the largest expanded level (nqx2 × nqy2 codes, expanded in place)
  const scratch = new Uint8Array(Math.max(1, nqx2 * nqy2) + 4);
  for (let bit = nbitplanes - 1; bit >= 0; bit--) {
    const b = inp.nbits(4);
    if (b === 0) {
      const cnt = nqx2 * nqy2;
      for (let i = 0; i < cnt; i++) scratch[i] = inp.nbits(4);
      bitins(scratch, nqx, nqy, a, off, n, bit);
    } else if (b !== 0xf) {
      throw new CodecError(`HCOMPRESS: bad bit-plane format code ${b}`);
    } else {
      scratch[0] = inp.huffman();
      let nx = 1;
      let ny = 1;
      let nfx = nqx;
      let nfy = nqy;
      let c = 2 ** log2n;
      for (let k = 1; k < log2n; k++) {
        c /= 2;
        nx *= 2;
        ny *= 2;
        if (nfx <= c) nx -= 1; else nfx -= c;
        if (nfy <= c) ny -= 1; else nfy -= c;
        qcopy(scratch, nx, ny, scratch, ny);
        for (let i = nx * ny - 1; i >= 0; i--) if (scratch[i]) scratch[i] = inp.huffman();
      }
      bitins(scratch, nqx, nqy, a, off, n, bit);
    }
  }
}

function unshuffle(a: Float64Array, off: number, n: number, n2: number, tmp: Float64Array): void {
  const nhalf = (n + 1) >> 1;
  for (let i = nhalf, t = 0; i < n; i++, t++) tmp[t] = a[off + n2 * i]!;
  for (let i = nhalf - 1; i >= 0; i--) a[off + 2 * n2 * i] = a[off + n2 * i]!;
  for (let i = 1, t = 0; i < n; i += 2, t++) a[off + n2 * i] = tmp[t]!;
}

const imin = Math.min;
const imax = Math.max;

function hsmooth(a: Float64Array, nxtop: number, nytop: number, ny: number, scale: number): void {
  const smax = Math.floor(scale / 2);
  if (smax <= 0) return;
  const ny2 = ny * 2;
  for (let i = 2; i < nxtop - 2; i += 2) {
    let s00 = ny * i;
    let s10 = s00 + ny;
    for (let j = 0; j < nytop; j += 2) {
      const hm = a[s00 - ny2]!, h0 = a[s00]!, hp = a[s00 + ny2]!;
      let diff = hp - hm;
      const dmax = imax(imin(hp - h0, h0 - hm), 0) * 4;
      const dmin = imin(imax(hp - h0, h0 - hm), 0) * 4;
      if (dmin < dmax) {
        diff = imax(imin(diff, dmax), dmin);
        let s = Math.trunc((diff - a[s10]! * 8) / 8);
        s = imax(imin(s, smax), -smax);
        a[s10] = a[s10]! + s;
      }
      s00 += 2;
      s10 += 2;
    }
  }
  for (let i = 0; i < nxtop; i += 2) {
    let s00 = ny * i + 2;
    for (let j = 2; j < nytop - 2; j += 2) {
      const hm = a[s00 - 2]!, h0 = a[s00]!, hp = a[s00 + 2]!;
      let diff = hp - hm;
      const dmax = imax(imin(hp - h0, h0 - hm), 0) * 4;
      const dmin = imin(imax(hp - h0, h0 - hm), 0) * 4;
      if (dmin < dmax) {
        diff = imax(imin(diff, dmax), dmin);
        let s = Math.trunc((diff - a[s00 + 1]! * 8) / 8);
        s = imax(imin(s, smax), -smax);
        a[s00 + 1] = a[s00 + 1]! + s;
      }
      s00 += 2;
    }
  }
  for (let i = 2; i < nxtop - 2; i += 2) {
    let s00 = ny * i + 2;
    let s10 = s00 + ny;
    for (let j = 2; j < nytop - 2; j += 2) {
      const hmm = a[s00 - ny2 - 2]!, hpm = a[s00 + ny2 - 2]!, hmp = a[s00 - ny2 + 2]!, hpp = a[s00 + ny2 + 2]!;
      const h0 = a[s00]!;
      let diff = hpp + hmm - hmp - hpm;
      const hx2 = a[s10]! * 2;
      const hy2 = a[s00 + 1]! * 2;
      let m1 = imin(imax(hpp - h0, 0) - hx2 - hy2, imax(h0 - hpm, 0) + hx2 - hy2);
      let m2 = imin(imax(h0 - hmp, 0) - hx2 + hy2, imax(hmm - h0, 0) + hx2 + hy2);
      const dmax = imin(m1, m2) * 16;
      m1 = imax(imin(hpp - h0, 0) - hx2 - hy2, imin(h0 - hpm, 0) + hx2 - hy2);
      m2 = imax(imin(h0 - hmp, 0) - hx2 + hy2, imin(hmm - h0, 0) + hx2 + hy2);
      const dmin = imax(m1, m2) * 16;
      if (dmin < dmax) {
        diff = imax(imin(diff, dmax), dmin);
        let s = Math.trunc((diff - a[s10 + 1]! * 64) / 64);
        s = imax(imin(s, smax), -smax);
        a[s10 + 1] = a[s10 + 1]! + s;
      }
      s00 += 2;
      s10 += 2;
    }
  }
}

/** x rounded as (x + rnd) & -bit (two's complement), for doubles. */
function roundTo(x: number, prnd: number, nrnd: number, bit: number): number {
  return Math.floor((x + (x >= 0 ? prnd : nrnd)) / bit) * bit;
}
/** x & bit for a power of two `bit`. */
function bitAnd(x: number, bit: number): number {
  const q = Math.floor(x / bit);
  return (q - 2 * Math.floor(q / 2)) * bit;
}

function hinv(a: Float64Array, nx: number, ny: number, smooth: boolean, scale: number): void {
  const nmax = Math.max(nx, ny);
  const log2n = log2up(nmax);
  if (log2n === 0) return;
  const tmp = new Float64Array((nmax + 1) >> 1);
  let shift = 2; // divisor 2^shift → 2 (1 bit), 4 on the last pass
  let bit0 = 2 ** (log2n - 1);
  let bit1 = bit0 * 2;
  let bit2 = bit0 * 4;
  let prnd0 = bit0 / 2;
  let prnd1 = bit1 / 2;
  const prnd2 = bit2 / 2;
  let nrnd0 = prnd0 - 1;
  let nrnd1 = prnd1 - 1;
  const nrnd2 = prnd2 - 1;
  a[0] = roundTo(a[0]!, prnd2, nrnd2, bit2);
  let nxtop = 1;
  let nytop = 1;
  let nxf = nx;
  let nyf = ny;
  let c = 2 ** log2n;
  for (let k = log2n - 1; k >= 0; k--) {
    c /= 2;
    nxtop *= 2;
    nytop *= 2;
    if (nxf <= c) nxtop -= 1; else nxf -= c;
    if (nyf <= c) nytop -= 1; else nyf -= c;
    if (k === 0) {
      nrnd0 = 0;
      shift = 4;
    }
    for (let i = 0; i < nxtop; i++) unshuffle(a, ny * i, nytop, 1, tmp);
    for (let j = 0; j < nytop; j++) unshuffle(a, j, nxtop, ny, tmp);
    if (smooth) hsmooth(a, nxtop, nytop, ny, scale);
    const oddx = nxtop % 2;
    const oddy = nytop % 2;
    let i = 0;
    for (; i < nxtop - oddx; i += 2) {
      let s00 = ny * i;
      let s10 = s00 + ny;
      for (let j = 0; j < nytop - oddy; j += 2) {
        let h0 = a[s00]!;
        let hx = a[s10]!;
        let hy = a[s00 + 1]!;
        let hc = a[s10 + 1]!;
        hx = roundTo(hx, prnd1, nrnd1, bit1);
        hy = roundTo(hy, prnd1, nrnd1, bit1);
        hc = roundTo(hc, prnd0, nrnd0, bit0);
        const lowbit0 = bitAnd(hc, bit0);
        hx = hx >= 0 ? hx - lowbit0 : hx + lowbit0;
        hy = hy >= 0 ? hy - lowbit0 : hy + lowbit0;
        const lowbit1 = (bitAnd(hc, bit1) ^ bitAnd(hx, bit1) ^ bitAnd(hy, bit1)) ? bit1 : 0;
        h0 = h0 >= 0 ? h0 + lowbit0 - lowbit1 : h0 + (lowbit0 === 0 ? lowbit1 : lowbit0 - lowbit1);
        a[s10 + 1] = Math.floor((h0 + hx + hy + hc) / shift);
        a[s10] = Math.floor((h0 + hx - hy - hc) / shift);
        a[s00 + 1] = Math.floor((h0 - hx + hy - hc) / shift);
        a[s00] = Math.floor((h0 - hx - hy + hc) / shift);
        s00 += 2;
        s10 += 2;
      }
      if (oddy) {
        let h0 = a[s00]!;
        let hx = a[s10]!;
        hx = roundTo(hx, prnd1, nrnd1, bit1);
        const lowbit1 = bitAnd(hx, bit1);
        h0 = h0 >= 0 ? h0 - lowbit1 : h0 + lowbit1;
        a[s10] = Math.floor((h0 + hx) / shift);
        a[s00] = Math.floor((h0 - hx) / shift);
      }
    }
    if (oddx) {
      let s00 = ny * i;
      for (let j = 0; j < nytop - oddy; j += 2) {
        let h0 = a[s00]!;
        let hy = a[s00 + 1]!;
        hy = roundTo(hy, prnd1, nrnd1, bit1);
        const lowbit1 = bitAnd(hy, bit1);
        h0 = h0 >= 0 ? h0 - lowbit1 : h0 + lowbit1;
        a[s00 + 1] = Math.floor((h0 + hy) / shift);
        a[s00] = Math.floor((h0 - hy) / shift);
        s00 += 2;
      }
      if (oddy) a[s00] = Math.floor(a[s00]! / shift);
    }
    bit2 = bit1;
    bit1 = bit0;
    bit0 = bit0 / 2;
    prnd1 = prnd0;
    prnd0 = Math.floor(prnd0 / 2);
    nrnd1 = nrnd0;
    nrnd0 = prnd0 - 1;
  }
}

/** hsmooth in 32-bit integers (as cfitsio does for 8- and 16-bit images). */
function hsmoothI(a: Int32Array, nxtop: number, nytop: number, ny: number, scale: number): void {
  const smax = scale >> 1;
  if (smax <= 0) return;
  const ny2 = ny << 1;
  for (let i = 2; i < nxtop - 2; i += 2) {
    let s00 = ny * i;
    let s10 = s00 + ny;
    for (let j = 0; j < nytop; j += 2) {
      const hm = a[s00 - ny2]!, h0 = a[s00]!, hp = a[s00 + ny2]!;
      let diff = hp - hm;
      const dmax = imax(imin(hp - h0, h0 - hm), 0) << 2;
      const dmin = imin(imax(hp - h0, h0 - hm), 0) << 2;
      if (dmin < dmax) {
        diff = imax(imin(diff, dmax), dmin);
        let s = diff - (a[s10]! << 3);
        s = s >= 0 ? s >> 3 : (s + 7) >> 3;
        s = imax(imin(s, smax), -smax);
        a[s10] = a[s10]! + s;
      }
      s00 += 2;
      s10 += 2;
    }
  }
  for (let i = 0; i < nxtop; i += 2) {
    let s00 = ny * i + 2;
    for (let j = 2; j < nytop - 2; j += 2) {
      const hm = a[s00 - 2]!, h0 = a[s00]!, hp = a[s00 + 2]!;
      let diff = hp - hm;
      const dmax = imax(imin(hp - h0, h0 - hm), 0) << 2;
      const dmin = imin(imax(hp - h0, h0 - hm), 0) << 2;
      if (dmin < dmax) {
        diff = imax(imin(diff, dmax), dmin);
        let s = diff - (a[s00 + 1]! << 3);
        s = s >= 0 ? s >> 3 : (s + 7) >> 3;
        s = imax(imin(s, smax), -smax);
        a[s00 + 1] = a[s00 + 1]! + s;
      }
      s00 += 2;
    }
  }
  for (let i = 2; i < nxtop - 2; i += 2) {
    let s00 = ny * i + 2;
    let s10 = s00 + ny;
    for (let j = 2; j < nytop - 2; j += 2) {
      const hmm = a[s00 - ny2 - 2]!, hpm = a[s00 + ny2 - 2]!, hmp = a[s00 - ny2 + 2]!, hpp = a[s00 + ny2 + 2]!;
      const h0 = a[s00]!;
      let diff = hpp + hmm - hmp - hpm;
      const hx2 = a[s10]! << 1;
      const hy2 = a[s00 + 1]! << 1;
      let m1 = imin(imax(hpp - h0, 0) - hx2 - hy2, imax(h0 - hpm, 0) + hx2 - hy2);
      let m2 = imin(imax(h0 - hmp, 0) - hx2 + hy2, imax(hmm - h0, 0) + hx2 + hy2);
      const dmax = imin(m1, m2) << 4;
      m1 = imax(imin(hpp - h0, 0) - hx2 - hy2, imin(h0 - hpm, 0) + hx2 - hy2);
      m2 = imax(imin(h0 - hmp, 0) - hx2 + hy2, imin(hmm - h0, 0) + hx2 + hy2);
      const dmin = imax(m1, m2) << 4;
      if (dmin < dmax) {
        diff = imax(imin(diff, dmax), dmin);
        let s = diff - (a[s10 + 1]! << 6);
        s = s >= 0 ? s >> 6 : (s + 63) >> 6;
        s = imax(imin(s, smax), -smax);
        a[s10 + 1] = a[s10 + 1]! + s;
      }
      s00 += 2;
      s10 += 2;
    }
  }
}

function unshuffleI(a: Int32Array, off: number, n: number, n2: number, tmp: Int32Array): void {
  const nhalf = (n + 1) >> 1;
  for (let i = nhalf, t = 0; i < n; i++, t++) tmp[t] = a[off + n2 * i]!;
  for (let i = nhalf - 1; i >= 0; i--) a[off + 2 * n2 * i] = a[off + n2 * i]!;
  for (let i = 1, t = 0; i < n; i += 2, t++) a[off + n2 * i] = tmp[t]!;
}

/** The inverse H-transform in 32-bit integers, when every coefficient is small enough (|c| < 2^27). */
function hinvI(a: Int32Array, nx: number, ny: number, smooth: boolean, scale: number): void {
  const nmax = nx > ny ? nx : ny;
  const log2n = log2up(nmax);
  if (log2n === 0) return;
  const tmp = new Int32Array((nmax + 1) >> 1);
  let shift = 1;
  let bit0 = 1 << (log2n - 1);
  let bit1 = bit0 << 1;
  const bit2 = bit0 << 2;
  let mask0 = -bit0;
  let mask1 = mask0 << 1;
  const mask2 = mask0 << 2;
  let prnd0 = bit0 >> 1;
  let prnd1 = bit1 >> 1;
  const prnd2 = bit2 >> 1;
  let nrnd0 = prnd0 - 1;
  let nrnd1 = prnd1 - 1;
  const nrnd2 = prnd2 - 1;
  a[0] = (a[0]! + (a[0]! >= 0 ? prnd2 : nrnd2)) & mask2;
  let nxtop = 1;
  let nytop = 1;
  let nxf = nx;
  let nyf = ny;
  let c = 1 << log2n;
  for (let k = log2n - 1; k >= 0; k--) {
    c >>= 1;
    nxtop <<= 1;
    nytop <<= 1;
    if (nxf <= c) nxtop -= 1; else nxf -= c;
    if (nyf <= c) nytop -= 1; else nyf -= c;
    if (k === 0) {
      nrnd0 = 0;
      shift = 2;
    }
    for (let i = 0; i < nxtop; i++) unshuffleI(a, ny * i, nytop, 1, tmp);
    for (let j = 0; j < nytop; j++) unshuffleI(a, j, nxtop, ny, tmp);
    if (smooth) hsmoothI(a, nxtop, nytop, ny, scale);
    const oddx = nxtop % 2;
    const oddy = nytop % 2;
    let i = 0;
    for (; i < nxtop - oddx; i += 2) {
      let s00 = ny * i;
      let s10 = s00 + ny;
      for (let j = 0; j < nytop - oddy; j += 2) {
        let h0 = a[s00]!;
        let hx = a[s10]!;
        let hy = a[s00 + 1]!;
        let hc = a[s10 + 1]!;
        hx = (hx + (hx >= 0 ? prnd1 : nrnd1)) & mask1;
        hy = (hy + (hy >= 0 ? prnd1 : nrnd1)) & mask1;
        hc = (hc + (hc >= 0 ? prnd0 : nrnd0)) & mask0;
        const lowbit0 = hc & bit0;
        hx = hx >= 0 ? hx - lowbit0 : hx + lowbit0;
        hy = hy >= 0 ? hy - lowbit0 : hy + lowbit0;
        const lowbit1 = (hc ^ hx ^ hy) & bit1;
        h0 = h0 >= 0 ? h0 + lowbit0 - lowbit1 : h0 + (lowbit0 === 0 ? lowbit1 : lowbit0 - lowbit1);
        a[s10 + 1] = (h0 + hx + hy + hc) >> shift;
        a[s10] = (h0 + hx - hy - hc) >> shift;
        a[s00 + 1] = (h0 - hx + hy - hc) >> shift;
        a[s00] = (h0 - hx - hy + hc) >> shift;
        s00 += 2;
        s10 += 2;
      }
      if (oddy) {
        let h0 = a[s00]!;
        let hx = a[s10]!;
        hx = (hx >= 0 ? hx + prnd1 : hx + nrnd1) & mask1;
        const lowbit1 = hx & bit1;
        h0 = h0 >= 0 ? h0 - lowbit1 : h0 + lowbit1;
        a[s10] = (h0 + hx) >> shift;
        a[s00] = (h0 - hx) >> shift;
      }
    }
    if (oddx) {
      let s00 = ny * i;
      for (let j = 0; j < nytop - oddy; j += 2) {
        let h0 = a[s00]!;
        let hy = a[s00 + 1]!;
        hy = (hy >= 0 ? hy + prnd1 : hy + nrnd1) & mask1;
        const lowbit1 = hy & bit1;
        h0 = h0 >= 0 ? h0 - lowbit1 : h0 + lowbit1;
        a[s00 + 1] = (h0 + hy) >> shift;
        a[s00] = (h0 - hy) >> shift;
        s00 += 2;
      }
      if (oddy) a[s00] = a[s00]! >> shift;
    }
    bit1 = bit0;
    bit0 = bit0 >> 1;
    mask1 = mask0;
    mask0 = mask0 >> 1;
    prnd1 = prnd0;
    prnd0 = prnd0 >> 1;
    nrnd1 = nrnd0;
    nrnd0 = prnd0 - 1;
  }
}

let iscratch = new Int32Array(0);
let fscratch = new Float64Array(0);

/**
 * Decode one HCOMPRESS_1 tile of `nrows` rows of `rowLength` pixels into out[0..n) (as doubles
 * holding integers). The sizes in the stream must match the tile.
 */
export function hcompressDecode(src: Uint8Array, smooth: boolean, rowLength: number, nrows: number, out: Int32Array): void {
  if (src.length < 2 + 12 + 8 + 3) throw new CodecError(`HCOMPRESS: stream of ${src.length} bytes is too short`);
  if (src[0] !== 0xdd || src[1] !== 0x99) throw new CodecError('HCOMPRESS: bad magic number');
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const nx = dv.getInt32(2, false);
  const ny = dv.getInt32(6, false);
  const scale = dv.getInt32(10, false);
  const sumall = Number(dv.getBigInt64(14, false));
  const nb = [src[22]!, src[23]!, src[24]!];
  if (nx !== nrows || ny !== rowLength) {
    throw new CodecError(`HCOMPRESS: stream is for ${ny}×${nx} pixels, the tile is ${rowLength}×${nrows}`);
  }
  if (nb.some((b) => b > 64)) throw new CodecError(`HCOMPRESS: bad number of bit planes ${nb.join(', ')}`);
  const nel = nx * ny;
  // 32-bit integers when the coefficients are small (8/16-bit images, quantized floats without
  // nulls): exact and several times faster; doubles otherwise
  const LIMIT = 2 ** 27;
  let useInt = Math.max(nb[0]!, nb[1]!, nb[2]!) <= 27 && Math.abs(sumall) < LIMIT;
  if (iscratch.length < nel) iscratch = new Int32Array(nel);
  const ai = iscratch.subarray(0, nel);
  let a: Coeffs;
  if (useInt) {
    a = ai;
  } else {
    if (fscratch.length < nel) fscratch = new Float64Array(nel);
    a = fscratch.subarray(0, nel);
  }
  a.fill(0);
  const inp = new BitIn(src, 25);
  const nx2 = (nx + 1) >> 1;
  const ny2 = (ny + 1) >> 1;
  qtreeDecode(inp, a, 0, ny, nx2, ny2, nb[0]!);
  qtreeDecode(inp, a, ny2, ny, nx2, ny >> 1, nb[1]!);
  qtreeDecode(inp, a, ny * nx2, ny, nx >> 1, ny2, nb[1]!);
  qtreeDecode(inp, a, ny * nx2 + ny2, ny, nx >> 1, ny >> 1, nb[2]!);
  if (inp.nbits(4) !== 0) throw new CodecError('HCOMPRESS: bad bit plane values (no end code)');
  inp.reset();
  if (useInt) {
    // sign bits, one per non-zero coefficient, read inline
    let pos = inp.pos;
    let byte = 0;
    let left = 0;
    for (let i = 0; i < nel; i++) {
      const v = ai[i]!;
      if (v === 0) continue;
      if (left === 0) {
        if (pos >= src.length) throw new CodecError('HCOMPRESS: compressed stream ends early');
        byte = src[pos++]!;
        left = 8;
      }
      left--;
      if ((byte >> left) & 1) ai[i] = -v;
    }
  } else {
    for (let i = 0; i < nel; i++) if (a[i] !== 0 && inp.bit()) a[i] = -a[i]!;
  }
  a[0] = sumall;
  if (useInt && scale > 1) {
    // the scaled coefficients must stay small for integer arithmetic
    let m = 0;
    for (let i = 0; i < nel; i++) { const v = Math.abs(ai[i]!); if (v > m) m = v; }
    if (m * scale >= LIMIT || (smooth && m * scale * 64 >= 2 ** 31)) {
      useInt = false;
      if (fscratch.length < nel) fscratch = new Float64Array(nel);
      const af = fscratch.subarray(0, nel);
      for (let i = 0; i < nel; i++) af[i] = ai[i]!;
      a = af;
    }
  }
  if (scale > 1) for (let i = 0; i < nel; i++) a[i] = a[i]! * scale;
  if (useInt) {
    hinvI(ai, nx, ny, smooth, scale);
    out.set(ai);
  } else {
    const af = a as Float64Array;
    hinv(af, nx, ny, smooth, scale);
    for (let i = 0; i < nel; i++) out[i] = af[i]! | 0; // (int) of the 64-bit value, as cfitsio
  }
}

/* ------------------------------------------------------------------ encoding */

/** Huffman codes of the 4-bit quadtree nodes (value → code, length), as the decoder reads them. */
const HCODE = [0x3e, 0x00, 0x01, 0x08, 0x02, 0x09, 0x1a, 0x1b, 0x03, 0x1c, 0x0a, 0x1d, 0x0b, 0x1e, 0x3f, 0x0c];
const HLEN = [6, 3, 3, 4, 3, 4, 5, 5, 3, 5, 4, 5, 4, 5, 6, 4];

class BitOut {
  bytes: Uint8Array;
  n = 0;
  private buf = 0;
  private bits = 0; // pending bits in buf (< 8)
  constructor(size: number) {
    this.bytes = new Uint8Array(Math.max(64, size));
  }
  private push(b: number): void {
    if (this.n >= this.bytes.length) {
      const nb = new Uint8Array(this.bytes.length * 2);
      nb.set(this.bytes);
      this.bytes = nb;
    }
    this.bytes[this.n++] = b;
  }
  /** Write the low n (≤ 24) bits of v, most significant first. */
  put(v: number, n: number): void {
    this.buf = (this.buf << n) | (v & ((1 << n) - 1));
    this.bits += n;
    while (this.bits >= 8) {
      this.bits -= 8;
      this.push((this.buf >>> this.bits) & 255);
    }
    this.buf &= (1 << this.bits) - 1;
  }
  /** Flush a partial byte (zero-padded). */
  align(): void {
    if (this.bits > 0) this.push((this.buf << (8 - this.bits)) & 255);
    this.buf = 0;
    this.bits = 0;
  }
  raw(b: Uint8Array): void {
    for (let i = 0; i < b.length; i++) this.push(b[i]!);
  }
}

function shuffle(a: Float64Array, off: number, n: number, n2: number, tmp: Float64Array): void {
  let t = 0;
  for (let i = 1; i < n; i += 2) tmp[t++] = a[off + n2 * i]!;
  let p1 = off + n2;
  for (let i = 2; i < n; i += 2, p1 += n2) a[p1] = a[off + n2 * i]!;
  t = 0;
  for (let i = 1; i < n; i += 2, p1 += n2) a[p1] = tmp[t++]!;
}

/** Forward H-transform of a[nx][ny] (ny fastest), in place. */
function htrans(a: Float64Array, nx: number, ny: number): void {
  const nmax = Math.max(nx, ny);
  const log2n = log2up(nmax);
  const tmp = new Float64Array((nmax + 1) >> 1);
  let div = 1; // 2^shift: 1 on the first pass, then 2
  let bit1 = 2; // mask = -bit1, rounding prnd = bit1/2
  let bit2 = 4; // mask2 = -bit2, prnd2 = bit2/2
  let nxtop = nx;
  let nytop = ny;
  const r1 = (h: number, bit: number): number => Math.floor((h >= 0 ? h + bit / 2 : h) / bit) * bit;
  const r2 = (h: number, bit: number): number => Math.floor((h >= 0 ? h + bit / 2 : h + bit / 2 - 1) / bit) * bit;
  for (let k = 0; k < log2n; k++) {
    const oddx = nxtop % 2;
    const oddy = nytop % 2;
    const up = 2 / div; // << (1 - shift)
    let i = 0;
    for (; i < nxtop - oddx; i += 2) {
      let s00 = i * ny;
      let s10 = s00 + ny;
      for (let j = 0; j < nytop - oddy; j += 2) {
        const a00 = a[s00]!, a01 = a[s00 + 1]!, a10 = a[s10]!, a11 = a[s10 + 1]!;
        const h0 = Math.floor((a11 + a10 + a01 + a00) / div);
        const hx = Math.floor((a11 + a10 - a01 - a00) / div);
        const hy = Math.floor((a11 - a10 + a01 - a00) / div);
        const hc = Math.floor((a11 - a10 - a01 + a00) / div);
        a[s10 + 1] = hc;
        a[s10] = r1(hx, bit1);
        a[s00 + 1] = r1(hy, bit1);
        a[s00] = r2(h0, bit2);
        s00 += 2;
        s10 += 2;
      }
      if (oddy) {
        const h0 = (a[s10]! + a[s00]!) * up;
        const hx = (a[s10]! - a[s00]!) * up;
        a[s10] = r1(hx, bit1);
        a[s00] = r2(h0, bit2);
      }
    }
    if (oddx) {
      let s00 = i * ny;
      for (let j = 0; j < nytop - oddy; j += 2) {
        const h0 = (a[s00 + 1]! + a[s00]!) * up;
        const hy = (a[s00 + 1]! - a[s00]!) * up;
        a[s00 + 1] = r1(hy, bit1);
        a[s00] = r2(h0, bit2);
        s00 += 2;
      }
      if (oddy) a[s00] = r2(a[s00]! * up * 2, bit2);
    }
    for (let r = 0; r < nxtop; r++) shuffle(a, ny * r, nytop, 1, tmp);
    for (let c = 0; c < nytop; c++) shuffle(a, c, nxtop, ny, tmp);
    nxtop = (nxtop + 1) >> 1;
    nytop = (nytop + 1) >> 1;
    div = 2;
    bit1 = bit2;
    bit2 *= 2;
  }
}

function shuffleI(a: Int32Array, off: number, n: number, n2: number, tmp: Int32Array): void {
  let t = 0;
  for (let i = 1; i < n; i += 2) tmp[t++] = a[off + n2 * i]!;
  let p1 = off + n2;
  for (let i = 2; i < n; i += 2, p1 += n2) a[p1] = a[off + n2 * i]!;
  t = 0;
  for (let i = 1; i < n; i += 2, p1 += n2) a[p1] = tmp[t++]!;
}

/** Forward H-transform in 32-bit integers (as cfitsio for 8/16-bit images), when values are small enough. */
function htransI(a: Int32Array, nx: number, ny: number): void {
  const nmax = nx > ny ? nx : ny;
  const log2n = log2up(nmax);
  const tmp = new Int32Array((nmax + 1) >> 1);
  let shift = 0;
  let mask = -2;
  let mask2 = mask << 1;
  let prnd = 1;
  let prnd2 = prnd << 1;
  let nrnd2 = prnd2 - 1;
  let nxtop = nx;
  let nytop = ny;
  for (let k = 0; k < log2n; k++) {
    const oddx = nxtop % 2;
    const oddy = nytop % 2;
    let i = 0;
    for (; i < nxtop - oddx; i += 2) {
      let s00 = i * ny;
      let s10 = s00 + ny;
      for (let j = 0; j < nytop - oddy; j += 2) {
        const a00 = a[s00]!, a01 = a[s00 + 1]!, a10 = a[s10]!, a11 = a[s10 + 1]!;
        const h0 = (a11 + a10 + a01 + a00) >> shift;
        const hx = (a11 + a10 - a01 - a00) >> shift;
        const hy = (a11 - a10 + a01 - a00) >> shift;
        const hc = (a11 - a10 - a01 + a00) >> shift;
        a[s10 + 1] = hc;
        a[s10] = (hx >= 0 ? hx + prnd : hx) & mask;
        a[s00 + 1] = (hy >= 0 ? hy + prnd : hy) & mask;
        a[s00] = (h0 >= 0 ? h0 + prnd2 : h0 + nrnd2) & mask2;
        s00 += 2;
        s10 += 2;
      }
      if (oddy) {
        const h0 = (a[s10]! + a[s00]!) << (1 - shift);
        const hx = (a[s10]! - a[s00]!) << (1 - shift);
        a[s10] = (hx >= 0 ? hx + prnd : hx) & mask;
        a[s00] = (h0 >= 0 ? h0 + prnd2 : h0 + nrnd2) & mask2;
      }
    }
    if (oddx) {
      let s00 = i * ny;
      for (let j = 0; j < nytop - oddy; j += 2) {
        const h0 = (a[s00 + 1]! + a[s00]!) << (1 - shift);
        const hy = (a[s00 + 1]! - a[s00]!) << (1 - shift);
        a[s00 + 1] = (hy >= 0 ? hy + prnd : hy) & mask;
        a[s00] = (h0 >= 0 ? h0 + prnd2 : h0 + nrnd2) & mask2;
        s00 += 2;
      }
      if (oddy) {
        const h0 = a[s00]! << (2 - shift);
        a[s00] = (h0 >= 0 ? h0 + prnd2 : h0 + nrnd2) & mask2;
      }
    }
    for (let r = 0; r < nxtop; r++) shuffleI(a, ny * r, nytop, 1, tmp);
    for (let c = 0; c < nytop; c++) shuffleI(a, c, nxtop, ny, tmp);
    nxtop = (nxtop + 1) >> 1;
    nytop = (nytop + 1) >> 1;
    shift = 1;
    mask = mask2;
    prnd = prnd2;
    mask2 = mask2 << 1;
    prnd2 = prnd2 << 1;
    nrnd2 = prnd2 - 1;
  }
}

/** 4-bit codes of bit plane `bit` of a (row length n) over nx × ny, into b[(nx+1)/2 × (ny+1)/2]. */
function onebitI(a: Int32Array, off: number, n: number, nx: number, ny: number, b: Uint8Array, bit: number): void {
  let k = 0;
  let i = 0;
  for (; i < nx - 1; i += 2) {
    let s00 = off + n * i;
    let j = 0;
    for (; j < ny - 1; j += 2) {
      b[k++] = ((a[s00 + n + 1]! >> bit) & 1) | (((a[s00 + n]! >> bit) & 1) << 1) | (((a[s00 + 1]! >> bit) & 1) << 2) | (((a[s00]! >> bit) & 1) << 3);
      s00 += 2;
    }
    if (j < ny) b[k++] = (((a[s00 + n]! >> bit) & 1) << 1) | (((a[s00]! >> bit) & 1) << 3);
  }
  if (i < nx) {
    let s00 = off + n * i;
    let j = 0;
    for (; j < ny - 1; j += 2) {
      b[k++] = (((a[s00 + 1]! >> bit) & 1) << 2) | (((a[s00]! >> bit) & 1) << 3);
      s00 += 2;
    }
    if (j < ny) b[k++] = ((a[s00]! >> bit) & 1) << 3;
  }
}

function onebit(a: Coeffs, off: number, n: number, nx: number, ny: number, b: Uint8Array, bit: number): void {
  if (a instanceof Int32Array && bit <= 30) {
    onebitI(a, off, n, nx, ny, b, bit);
    return;
  }
  const p = 2 ** bit;
  const at = (s: number): number => Math.floor(a[s]! / p) & 1;
  let k = 0;
  let i = 0;
  for (; i < nx - 1; i += 2) {
    let s00 = off + n * i;
    const s10d = n;
    let j = 0;
    for (; j < ny - 1; j += 2) {
      b[k++] = at(s00 + s10d + 1) | (at(s00 + s10d) << 1) | (at(s00 + 1) << 2) | (at(s00) << 3);
      s00 += 2;
    }
    if (j < ny) b[k++] = (at(s00 + s10d) << 1) | (at(s00) << 3);
  }
  if (i < nx) {
    let s00 = off + n * i;
    let j = 0;
    for (; j < ny - 1; j += 2) {
      b[k++] = (at(s00 + 1) << 2) | (at(s00) << 3);
      s00 += 2;
    }
    if (j < ny) b[k++] = at(s00) << 3;
  }
}

/** Reduce codes a[nx × ny] (row length n) to one 4-bit code per 2×2 block of non-zero flags. */
function reduce(a: Uint8Array, n: number, nx: number, ny: number, b: Uint8Array): void {
  let k = 0;
  let i = 0;
  const nz = (v: number): number => (v !== 0 ? 1 : 0);
  for (; i < nx - 1; i += 2) {
    let s00 = n * i;
    let s10 = s00 + n;
    let j = 0;
    for (; j < ny - 1; j += 2) {
      b[k++] = nz(a[s10 + 1]!) | (nz(a[s10]!) << 1) | (nz(a[s00 + 1]!) << 2) | (nz(a[s00]!) << 3);
      s00 += 2;
      s10 += 2;
    }
    if (j < ny) b[k++] = (nz(a[s10]!) << 1) | (nz(a[s00]!) << 3);
  }
  if (i < nx) {
    let s00 = n * i;
    let j = 0;
    for (; j < ny - 1; j += 2) {
      b[k++] = (nz(a[s00 + 1]!) << 2) | (nz(a[s00]!) << 3);
      s00 += 2;
    }
    if (j < ny) b[k++] = nz(a[s00]!) << 3;
  }
}

function qtreeEncode(out: BitOut, a: Coeffs, off: number, n: number, nqx: number, nqy: number, nbitplanes: number): void {
  const log2n = log2up(Math.max(nqx, nqy));
  const nqx2 = (nqx + 1) >> 1;
  const nqy2 = (nqy + 1) >> 1;
  const bmax = (nqx2 * nqy2 + 1) >> 1;
  const scratch = new Uint8Array(Math.max(1, nqx2 * nqy2));
  // the non-zero codes of every level, in order, and where each level starts
  const codes = new Uint8Array(2 * Math.max(1, nqx2 * nqy2) + 64);
  const levelStart = new Int32Array(log2n + 2);
  for (let bit = nbitplanes - 1; bit >= 0; bit--) {
    onebit(a, off, n, nqx, nqy, scratch, bit);
    let nx = nqx2;
    let ny = nqy2;
    let ncodes = 0;
    let nlevels = 0;
    let totalBits = 0;
    let direct = false;
    for (let k = 0; ; k++) {
      levelStart[nlevels++] = ncodes;
      const cnt = nx * ny;
      for (let i = 0; i < cnt; i++) {
        const v = scratch[i]!;
        if (v) { codes[ncodes++] = v; totalBits += HLEN[v]!; }
      }
      if (totalBits >> 3 >= bmax) { direct = true; break; }
      if (k + 1 >= log2n) break;
      reduce(scratch, ny, nx, ny, scratch);
      nx = (nx + 1) >> 1;
      ny = (ny + 1) >> 1;
    }
    levelStart[nlevels] = ncodes;
    if (direct) {
      // the quadtree would expand the data: write the bit plane directly, 4 bits per 2×2 block
      out.put(0, 4);
      onebit(a, off, n, nqx, nqy, scratch, bit);
      for (let i = 0; i < nqx2 * nqy2; i++) out.put(scratch[i]!, 4);
      continue;
    }
    out.put(0xf, 4);
    if (totalBits === 0) {
      out.put(HCODE[0]!, HLEN[0]!);
    } else {
      for (let l = nlevels - 1; l >= 0; l--) {
        for (let i = levelStart[l + 1]! - 1; i >= levelStart[l]!; i--) out.put(HCODE[codes[i]!]!, HLEN[codes[i]!]!);
      }
    }
  }
}

/**
 * HCOMPRESS_1-encode a tile of `nrows` rows of `rowLength` integers. `scale` > 1 quantizes the
 * coefficients (lossy); 0 or 1 is lossless.
 */
export function hcompressEncode(values: ArrayLike<number>, rowLength: number, nrows: number, scale: number): Uint8Array {
  const nx = nrows;
  const ny = rowLength;
  const nel = nx * ny;
  // 32-bit integers when the transform cannot overflow (|v|·2^(log2n+3) < 2^31), doubles otherwise
  let maxAbs = 0;
  for (let i = 0; i < nel; i++) { const v = Math.abs(values[i]!); if (v > maxAbs) maxAbs = v; }
  const useInt = maxAbs * 2 ** (log2up(Math.max(nx, ny)) + 3) < 2 ** 31;
  const a: Coeffs = useInt ? new Int32Array(nel) : new Float64Array(nel);
  for (let i = 0; i < nel; i++) a[i] = values[i]!;
  if (useInt) htransI(a as Int32Array, nx, ny);
  else htrans(a as Float64Array, nx, ny);
  if (scale > 1) {
    const d = Math.trunc((scale + 1) / 2) - 1;
    for (let i = 0; i < nel; i++) {
      const v = a[i]!;
      a[i] = Math.trunc((v > 0 ? v + d : v - d) / scale);
    }
  }
  const out = new BitOut(nel + 64);
  const hdr = new Uint8Array(25);
  const dv = new DataView(hdr.buffer);
  hdr[0] = 0xdd;
  hdr[1] = 0x99;
  dv.setInt32(2, nx, false);
  dv.setInt32(6, ny, false);
  dv.setInt32(10, scale, false);
  dv.setBigInt64(14, BigInt(a[0]!), false);
  a[0] = 0;
  // sign bits, then absolute values
  const signs = new Uint8Array((nel + 7) >> 3);
  let ns = 0;
  for (let i = 0; i < nel; i++) {
    const v = a[i]!;
    if (v !== 0) {
      if (v < 0) {
        signs[ns >> 3]! |= 0x80 >> (ns & 7);
        a[i] = -v;
      }
      ns++;
    }
  }
  const nx2 = (nx + 1) >> 1;
  const ny2 = (ny + 1) >> 1;
  const vmax = [0, 0, 0];
  for (let r = 0; r < nx; r++) {
    for (let c = 0; c < ny; c++) {
      const q = (c >= ny2 ? 1 : 0) + (r >= nx2 ? 1 : 0);
      const v = a[r * ny + c]!;
      if (v > vmax[q]!) vmax[q] = v;
    }
  }
  const nb = vmax.map((v) => (v > 0 ? Math.floor(Math.log2(v)) + 1 : 0));
  // Math.log2 can round up at exact powers of two minus a little; fix by checking
  for (let q = 0; q < 3; q++) {
    while (nb[q]! > 0 && 2 ** (nb[q]! - 1) > vmax[q]!) nb[q]!--;
    while (2 ** nb[q]! <= vmax[q]!) nb[q]!++;
  }
  hdr[22] = nb[0]!;
  hdr[23] = nb[1]!;
  hdr[24] = nb[2]!;
  out.raw(hdr);
  qtreeEncode(out, a, 0, ny, nx2, ny2, nb[0]!);
  qtreeEncode(out, a, ny2, ny, nx2, ny >> 1, nb[1]!);
  qtreeEncode(out, a, ny * nx2, ny, nx >> 1, ny2, nb[1]!);
  qtreeEncode(out, a, ny * nx2 + ny2, ny, nx >> 1, ny >> 1, nb[2]!);
  out.put(0, 4);
  out.align();
  out.raw(signs.subarray(0, (ns + 7) >> 3));
  return out.bytes.slice(0, out.n);
}
