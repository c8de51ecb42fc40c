/**
 * A fast in-place complex FFT for 2-D convolution: radix-2 decimation in time with pairs of
 * stages fused (radix-2²: one pass over memory per two stages), precomputed twiddles, and a 2-D
 * transform that leaves the spectrum TRANSPOSED (rows, transpose, rows) — pointwise products
 * between spectra made by the same routine are unaffected, and the inverse undoes the layout.
 * The inverse is unnormalised (the caller folds 1/n² into a kernel spectrum).
 */

export class Fft {
  readonly n: number;
  private readonly rev: Uint32Array;
  private readonly cs: Float64Array;
  private readonly sn: Float64Array;
  private readonly logn: number;

  constructor(n: number) {
    let l = 0;
    while (1 << l < n) l++;
    if (1 << l !== n || n < 4) throw new RangeError(`Fft: size ${n} must be a power of two ≥ 4`);
    this.n = n; this.logn = l;
    this.rev = new Uint32Array(n);
    for (let i = 0; i < n; i++) { let r = 0; for (let b = 0, v = i; b < l; b++, v >>= 1) r = (r << 1) | (v & 1); this.rev[i] = r; }
    this.cs = new Float64Array(n); this.sn = new Float64Array(n);
    for (let i = 0; i < n; i++) { this.cs[i] = Math.cos((2 * Math.PI * i) / n); this.sn[i] = Math.sin((2 * Math.PI * i) / n); }
  }

  /** In-place transform of re/im[off .. off+n). Forward uses e^{−2πi kx/n}; inverse unnormalised. */
  run(re: Float64Array, im: Float64Array, off: number, inverse: boolean): void {
    const n = this.n, rev = this.rev;
    for (let i = 0; i < n; i++) {
      const j = rev[i]!;
      if (j > i) {
        const a = off + i, b = off + j;
        let t = re[a]!; re[a] = re[b]!; re[b] = t;
        t = im[a]!; im[a] = im[b]!; im[b] = t;
      }
    }
    this.runBitrev(re, im, off, inverse);
  }

  /**
   * Decimation-in-time stages only: input in BIT-REVERSED order, output in natural order (the
   * transform of the naturally ordered sequence). Pairs with runDif for convolutions without any
   * permutation pass.
   */
  runBitrev(re: Float64Array, im: Float64Array, off: number, inverse: boolean): void {
    const n = this.n, cs = this.cs, sn = this.sn;
    const sg = inverse ? 1 : -1;
    let h = 1;
    let stage = 0;
    if (this.logn & 1) {
      // one plain radix-2 stage (half = 1, twiddle 1)
      for (let s = off; s < off + n; s += 2) {
        const ar = re[s]!, ai = im[s]!, br = re[s + 1]!, bi = im[s + 1]!;
        re[s] = ar + br; im[s] = ai + bi; re[s + 1] = ar - br; im[s + 1] = ai - bi;
      }
      h = 2; stage = 1;
    } else {
      // first fused pair of stages (halves 1 and 2): all twiddles are 1 or ±i
      for (let g = off; g < off + n; g += 4) {
        const a0r = re[g]!, a0i = im[g]!, x1r = re[g + 1]!, x1i = im[g + 1]!;
        const a2r = re[g + 2]!, a2i = im[g + 2]!, x3r = re[g + 3]!, x3i = im[g + 3]!;
        const b0r = a0r + x1r, b0i = a0i + x1i, b1r = a0r - x1r, b1i = a0i - x1i;
        const b2r = a2r + x3r, b2i = a2i + x3i, b3r = a2r - x3r, b3i = a2i - x3i;
        re[g] = b0r + b2r; im[g] = b0i + b2i; re[g + 2] = b0r - b2r; im[g + 2] = b0i - b2i;
        // b3·(sg·i)
        const tr = -sg * b3i, ti = sg * b3r;
        re[g + 1] = b1r + tr; im[g + 1] = b1i + ti; re[g + 3] = b1r - tr; im[g + 3] = b1i - ti;
      }
      h = 4; stage = 2;
    }
    for (; stage < this.logn; stage += 2) {
      // fused stages with halves h and 2h over groups of 4h
      const q = 4 * h;
      const st1 = n / (2 * h), st2 = n / q;
      // twiddle index outermost: each twiddle set is formed once per stage
      for (let k = 0; k < h; k++) {
        const w1r = cs[k * st1]!, w1i = sg * sn[k * st1]!;
        const w2r = cs[k * st2]!, w2i = sg * sn[k * st2]!;
        // w3 = W_{4h}^{k+h} = w2 · W_4^1 = w2 · (sg·i)
        const w3r = -sg * w2i, w3i = sg * w2r;
        for (let g = off; g < off + n; g += q) {
          const i0 = g + k, i1 = i0 + h, i2 = i1 + h, i3 = i2 + h;
          const a0r = re[i0]!, a0i = im[i0]!;
          let tr = re[i1]! * w1r - im[i1]! * w1i, ti = re[i1]! * w1i + im[i1]! * w1r;
          const b0r = a0r + tr, b0i = a0i + ti, b1r = a0r - tr, b1i = a0i - ti;
          const a2r = re[i2]!, a2i = im[i2]!;
          tr = re[i3]! * w1r - im[i3]! * w1i; ti = re[i3]! * w1i + im[i3]! * w1r;
          const b2r = a2r + tr, b2i = a2i + ti, b3r = a2r - tr, b3i = a2i - ti;
          tr = b2r * w2r - b2i * w2i; ti = b2r * w2i + b2i * w2r;
          re[i0] = b0r + tr; im[i0] = b0i + ti; re[i2] = b0r - tr; im[i2] = b0i - ti;
          tr = b3r * w3r - b3i * w3i; ti = b3r * w3i + b3i * w3r;
          re[i1] = b1r + tr; im[i1] = b1i + ti; re[i3] = b1r - tr; im[i3] = b1i - ti;
        }
      }
      h *= 4;
    }
  }

  /**
   * Decimation in frequency (Gentleman–Sande; the transpose of runBitrev's network): natural
   * input, output in BIT-REVERSED order. runBitrev(runDif(x)) with opposite signs = n·x.
   */
  runDif(re: Float64Array, im: Float64Array, off: number, inverse: boolean): void {
    const n = this.n, cs = this.cs, sn = this.sn;
    const sg = inverse ? 1 : -1;
    // fused radix-2² blocks from the largest half-size down, then the odd radix-2 stage
    // (the DIT schedule: [h = 1 plain if log n is odd], fused h = 1|2, ×4, …, n/4)
    const hMin = this.logn & 1 ? 2 : 4;
    for (let h = n / 4; h >= hMin; h /= 4) {
      const q = 4 * h;
      const st1 = n / (2 * h), st2 = n / q;
      for (let k = 0; k < h; k++) {
        const w1r = cs[k * st1]!, w1i = sg * sn[k * st1]!;
        const w2r = cs[k * st2]!, w2i = sg * sn[k * st2]!;
        const w3r = -sg * w2i, w3i = sg * w2r;
        for (let g = off; g < off + n; g += q) {
          const i0 = g + k, i1 = i0 + h, i2 = i1 + h, i3 = i2 + h;
          const a0r = re[i0]!, a0i = im[i0]!, a1r = re[i1]!, a1i = im[i1]!;
          const a2r = re[i2]!, a2i = im[i2]!, a3r = re[i3]!, a3i = im[i3]!;
          // transpose of the DIT pair (h, 2h): first the 2h stage, then the h stage
          const c0r = a0r + a2r, c0i = a0i + a2i;
          let dr = a0r - a2r, di = a0i - a2i;
          const c2r = dr * w2r - di * w2i, c2i = dr * w2i + di * w2r;
          const c1r = a1r + a3r, c1i = a1i + a3i;
          dr = a1r - a3r; di = a1i - a3i;
          const c3r = dr * w3r - di * w3i, c3i = dr * w3i + di * w3r;
          re[i0] = c0r + c1r; im[i0] = c0i + c1i;
          dr = c0r - c1r; di = c0i - c1i;
          re[i1] = dr * w1r - di * w1i; im[i1] = dr * w1i + di * w1r;
          re[i2] = c2r + c3r; im[i2] = c2i + c3i;
          dr = c2r - c3r; di = c2i - c3i;
          re[i3] = dr * w1r - di * w1i; im[i3] = dr * w1i + di * w1r;
        }
      }
    }
    if (this.logn & 1) {
      for (let s = off; s < off + n; s += 2) {
        const ar = re[s]!, ai = im[s]!, br = re[s + 1]!, bi = im[s + 1]!;
        re[s] = ar + br; im[s] = ai + bi; re[s + 1] = ar - br; im[s + 1] = ai - bi;
      }
    } else {
      // last fused pair of stages (halves 2 and 1): all twiddles are 1 or ±i
      for (let g = off; g < off + n; g += 4) {
        const a0r = re[g]!, a0i = im[g]!, a1r = re[g + 1]!, a1i = im[g + 1]!;
        const a2r = re[g + 2]!, a2i = im[g + 2]!, a3r = re[g + 3]!, a3i = im[g + 3]!;
        const c0r = a0r + a2r, c0i = a0i + a2i, c2r = a0r - a2r, c2i = a0i - a2i;
        const c1r = a1r + a3r, c1i = a1i + a3i, dr = a1r - a3r, di = a1i - a3i;
        // (a1 − a3)·(sg·i)
        const c3r = -sg * di, c3i = sg * dr;
        re[g] = c0r + c1r; im[g] = c0i + c1i; re[g + 1] = c0r - c1r; im[g + 1] = c0i - c1i;
        re[g + 2] = c2r + c3r; im[g + 2] = c2i + c3i; re[g + 3] = c2r - c3r; im[g + 3] = c2i - c3i;
      }
    }
  }

  /**
   * Forward 2-D transform for convolutions: runDif on rows, transpose, runDif on rows. The
   * spectrum is transposed AND bit-reversed on both axes; runInverseRows (runBitrev) undoes it.
   */
  run2dDif(re: Float64Array, im: Float64Array): void {
    const n = this.n;
    for (let y = 0; y < n; y++) this.runDif(re, im, y * n, false);
    transpose(re, n); transpose(im, n);
    for (let y = 0; y < n; y++) this.runDif(re, im, y * n, false);
  }

  /** 2-D n × n transform: rows, transpose, rows (spectrum left transposed; see the module comment). */
  run2d(re: Float64Array, im: Float64Array, inverse: boolean): void {
    const n = this.n;
    for (let y = 0; y < n; y++) this.run(re, im, y * n, inverse);
    transpose(re, n); transpose(im, n);
    for (let y = 0; y < n; y++) this.run(re, im, y * n, inverse);
  }

  /**
   * runDif along the COLUMNS of an n × n row-major array (every column at once: the twiddles of
   * a butterfly row are loaded once and the inner loop runs along a contiguous row). Rows of the
   * result are in bit-reversed order. No transpose needed.
   */
  runColsDif(re: Float64Array, im: Float64Array, inverse: boolean): void {
    // blocks of columns go through all stages while in cache (a 256 × 64 complex block is 256 KB)
    const B = 64;
    for (let c0 = 0; c0 < this.n; c0 += B) this.colsDif(re, im, inverse, c0, Math.min(this.n, c0 + B));
  }

  private colsDif(re: Float64Array, im: Float64Array, inverse: boolean, cA: number, cB: number): void {
    const n = this.n, cs = this.cs, sn = this.sn;
    const sg = inverse ? 1 : -1;
    const hMin = this.logn & 1 ? 2 : 4;
    for (let h = n / 4; h >= hMin; h /= 4) {
      const q = 4 * h;
      const st1 = n / (2 * h), st2 = n / q;
      for (let g = 0; g < n; g += q) {
        for (let k = 0; k < h; k++) {
          const w1r = cs[k * st1]!, w1i = sg * sn[k * st1]!;
          const w2r = cs[k * st2]!, w2i = sg * sn[k * st2]!;
          const w3r = -sg * w2i, w3i = sg * w2r;
          const o0 = (g + k) * n, o1 = o0 + h * n, o2 = o1 + h * n, o3 = o2 + h * n;
          for (let c = cA; c < cB; c++) {
            const i0 = o0 + c, i1 = o1 + c, i2 = o2 + c, i3 = o3 + c;
            const a0r = re[i0]!, a0i = im[i0]!, a1r = re[i1]!, a1i = im[i1]!;
            const a2r = re[i2]!, a2i = im[i2]!, a3r = re[i3]!, a3i = im[i3]!;
            const c0r = a0r + a2r, c0i = a0i + a2i;
            let dr = a0r - a2r, di = a0i - a2i;
            const c2r = dr * w2r - di * w2i, c2i = dr * w2i + di * w2r;
            const c1r = a1r + a3r, c1i = a1i + a3i;
            dr = a1r - a3r; di = a1i - a3i;
            const c3r = dr * w3r - di * w3i, c3i = dr * w3i + di * w3r;
            re[i0] = c0r + c1r; im[i0] = c0i + c1i;
            dr = c0r - c1r; di = c0i - c1i;
            re[i1] = dr * w1r - di * w1i; im[i1] = dr * w1i + di * w1r;
            re[i2] = c2r + c3r; im[i2] = c2i + c3i;
            dr = c2r - c3r; di = c2i - c3i;
            re[i3] = dr * w1r - di * w1i; im[i3] = dr * w1i + di * w1r;
          }
        }
      }
    }
    if (this.logn & 1) {
      for (let s = 0; s < n; s += 2) {
        const o0 = s * n, o1 = o0 + n;
        for (let c = cA; c < cB; c++) {
          const ar = re[o0 + c]!, ai = im[o0 + c]!, br = re[o1 + c]!, bi = im[o1 + c]!;
          re[o0 + c] = ar + br; im[o0 + c] = ai + bi; re[o1 + c] = ar - br; im[o1 + c] = ai - bi;
        }
      }
    } else {
      // last fused pair of stages (halves 2 and 1): twiddles 1 or ±i
      for (let g = 0; g < n; g += 4) {
        const o0 = g * n, o1 = o0 + n, o2 = o1 + n, o3 = o2 + n;
        for (let c = cA; c < cB; c++) {
          const a0r = re[o0 + c]!, a0i = im[o0 + c]!, a1r = re[o1 + c]!, a1i = im[o1 + c]!;
          const a2r = re[o2 + c]!, a2i = im[o2 + c]!, a3r = re[o3 + c]!, a3i = im[o3 + c]!;
          const c0r = a0r + a2r, c0i = a0i + a2i, c2r = a0r - a2r, c2i = a0i - a2i;
          const c1r = a1r + a3r, c1i = a1i + a3i, dr = a1r - a3r, di = a1i - a3i;
          const c3r = -sg * di, c3i = sg * dr;
          re[o0 + c] = c0r + c1r; im[o0 + c] = c0i + c1i; re[o1 + c] = c0r - c1r; im[o1 + c] = c0i - c1i;
          re[o2 + c] = c2r + c3r; im[o2 + c] = c2i + c3i; re[o3 + c] = c2r - c3r; im[o3 + c] = c2i - c3i;
        }
      }
    }
  }

  /**
   * runBitrev along the COLUMNS of an n × n row-major array (rows in bit-reversed order in,
   * natural out), every column at once.
   */
  runColsBitrev(re: Float64Array, im: Float64Array, inverse: boolean): void {
    const B = 64;
    for (let c0 = 0; c0 < this.n; c0 += B) this.colsBitrev(re, im, inverse, c0, Math.min(this.n, c0 + B));
  }

  private colsBitrev(re: Float64Array, im: Float64Array, inverse: boolean, cA: number, cB: number): void {
    const n = this.n, cs = this.cs, sn = this.sn;
    const sg = inverse ? 1 : -1;
    let h = 1;
    let stage = 0;
    if (this.logn & 1) {
      for (let s = 0; s < n; s += 2) {
        const o0 = s * n, o1 = o0 + n;
        for (let c = cA; c < cB; c++) {
          const ar = re[o0 + c]!, ai = im[o0 + c]!, br = re[o1 + c]!, bi = im[o1 + c]!;
          re[o0 + c] = ar + br; im[o0 + c] = ai + bi; re[o1 + c] = ar - br; im[o1 + c] = ai - bi;
        }
      }
      h = 2; stage = 1;
    } else {
      // first fused pair of stages (halves 1 and 2): twiddles 1 or ±i
      for (let g = 0; g < n; g += 4) {
        const o0 = g * n, o1 = o0 + n, o2 = o1 + n, o3 = o2 + n;
        for (let c = cA; c < cB; c++) {
          const a0r = re[o0 + c]!, a0i = im[o0 + c]!, x1r = re[o1 + c]!, x1i = im[o1 + c]!;
          const a2r = re[o2 + c]!, a2i = im[o2 + c]!, x3r = re[o3 + c]!, x3i = im[o3 + c]!;
          const b0r = a0r + x1r, b0i = a0i + x1i, b1r = a0r - x1r, b1i = a0i - x1i;
          const b2r = a2r + x3r, b2i = a2i + x3i, b3r = a2r - x3r, b3i = a2i - x3i;
          re[o0 + c] = b0r + b2r; im[o0 + c] = b0i + b2i; re[o2 + c] = b0r - b2r; im[o2 + c] = b0i - b2i;
          const tr = -sg * b3i, ti = sg * b3r;
          re[o1 + c] = b1r + tr; im[o1 + c] = b1i + ti; re[o3 + c] = b1r - tr; im[o3 + c] = b1i - ti;
        }
      }
      h = 4; stage = 2;
    }
    for (; stage < this.logn; stage += 2) {
      const q = 4 * h;
      const st1 = n / (2 * h), st2 = n / q;
      for (let g = 0; g < n; g += q) {
        for (let k = 0; k < h; k++) {
          const w1r = cs[k * st1]!, w1i = sg * sn[k * st1]!;
          const w2r = cs[k * st2]!, w2i = sg * sn[k * st2]!;
          const w3r = -sg * w2i, w3i = sg * w2r;
          const o0 = (g + k) * n, o1 = o0 + h * n, o2 = o1 + h * n, o3 = o2 + h * n;
          for (let c = cA; c < cB; c++) {
            const i0 = o0 + c, i1 = o1 + c, i2 = o2 + c, i3 = o3 + c;
            const a0r = re[i0]!, a0i = im[i0]!;
            const x1r = re[i1]!, x1i = im[i1]!, x3r = re[i3]!, x3i = im[i3]!;
            let tr = x1r * w1r - x1i * w1i, ti = x1r * w1i + x1i * w1r;
            const b0r = a0r + tr, b0i = a0i + ti, b1r = a0r - tr, b1i = a0i - ti;
            const a2r = re[i2]!, a2i = im[i2]!;
            tr = x3r * w1r - x3i * w1i; ti = x3r * w1i + x3i * w1r;
            const b2r = a2r + tr, b2i = a2i + ti, b3r = a2r - tr, b3i = a2i - ti;
            tr = b2r * w2r - b2i * w2i; ti = b2r * w2i + b2i * w2r;
            re[i0] = b0r + tr; im[i0] = b0i + ti; re[i2] = b0r - tr; im[i2] = b0i - ti;
            tr = b3r * w3r - b3i * w3i; ti = b3r * w3i + b3i * w3r;
            re[i1] = b1r + tr; im[i1] = b1i + ti; re[i3] = b1r - tr; im[i3] = b1i - ti;
          }
        }
      }
      h *= 4;
    }
  }

  /** runBitrev (bit-reversed input, natural output) on rows [r0, r1) of an n × n array. */
  runRowsBitrev(re: Float64Array, im: Float64Array, r0: number, r1: number, inverse: boolean): void {
    const n = this.n;
    for (let y = r0; y < r1; y++) this.runBitrev(re, im, y * n, inverse);
  }
}

/** In-place transpose of an n × n array (16 × 16 blocks). */
export function transpose(a: Float64Array, n: number): void {
  const B = 16;
  for (let by = 0; by < n; by += B) for (let bx = by; bx < n; bx += B) {
    for (let y = by; y < by + B; y++) {
      for (let x = bx === by ? y + 1 : bx; x < bx + B; x++) {
        const i = y * n + x, j = x * n + y;
        const t = a[i]!; a[i] = a[j]!; a[j] = t;
      }
    }
  }
}

const cache = new Map<number, Fft>();
export function fftOf(n: number): Fft {
  let f = cache.get(n);
  if (!f) { f = new Fft(n); cache.set(n, f); }
  return f;
}
