/**
 * Fast Fourier transforms on Float64Array (split real/imaginary arrays): an iterative radix-2
 * complex FFT with cached twiddles and bit-reversal tables, a real FFT by packing, and a 2-D
 * FFT. Sizes must be powers of two: pad with `nextPow2` (convolution pads anyway).
 *
 * Convention: forward X[k] = Σ x[n]·exp(−2πi·nk/N); inverse includes the 1/N factor.
 */

interface Plan {
  n: number;
  rev: Uint32Array;
  cos: Float64Array;
  sin: Float64Array;
}

const plans = new Map<number, Plan>();

export function isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** Smallest power of two ≥ n. */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function plan(n: number): Plan {
  let p = plans.get(n);
  if (p) return p;
  if (!isPow2(n)) throw new RangeError(`fft: size ${n} is not a power of two`);
  const bits = Math.round(Math.log2(n));
  const rev = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0, v = i; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
    rev[i] = r;
  }
  const cos = new Float64Array(n / 2);
  const sin = new Float64Array(n / 2);
  for (let i = 0; i < n / 2; i++) {
    cos[i] = Math.cos((2 * Math.PI * i) / n);
    sin[i] = Math.sin((2 * Math.PI * i) / n);
  }
  p = { n, rev, cos, sin };
  plans.set(n, p);
  return p;
}

/**
 * In-place complex FFT of length n (power of two) on re/im, reading elements at
 * offset + i·stride (so rows and columns of a 2-D array can be transformed without copies).
 * inverse = true computes the inverse transform including the 1/n factor.
 */
export function fftComplex(re: Float64Array, im: Float64Array, inverse = false, n = re.length, offset = 0, stride = 1): void {
  if (n <= 1) return;
  const { rev, cos, sin } = plan(n);
  // bit-reversal permutation
  for (let i = 0; i < n; i++) {
    const j = rev[i]!;
    if (j > i) {
      const a = offset + i * stride, b = offset + j * stride;
      let t = re[a]!; re[a] = re[b]!; re[b] = t;
      t = im[a]!; im[a] = im[b]!; im[b] = t;
    }
  }
  const sgn = inverse ? 1 : -1;
  for (let size = 2; size <= n; size *= 2) {
    const half = size >> 1;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * step]!;
        const wi = sgn * sin[k * step]!;
        const a = offset + (start + k) * stride;
        const b = a + half * stride;
        const br = re[b]!, bi = im[b]!;
        const tr = br * wr - bi * wi;
        const ti = br * wi + bi * wr;
        const ar = re[a]!, ai = im[a]!;
        re[b] = ar - tr; im[b] = ai - ti;
        re[a] = ar + tr; im[a] = ai + ti;
      }
    }
  }
  if (inverse) {
    const s = 1 / n;
    for (let i = 0; i < n; i++) { const a = offset + i * stride; re[a]! *= s; im[a]! *= s; }
  }
}

/**
 * Forward FFT of a real sequence x (length n, power of two ≥ 2) through one complex FFT of
 * length n/2. Returns the n/2+1 non-redundant coefficients (the rest are conjugates).
 */
export function fftReal(x: ArrayLike<number>): { re: Float64Array; im: Float64Array } {
  const n = x.length;
  if (!isPow2(n) || n < 2) throw new RangeError(`fftReal: size ${n} is not a power of two ≥ 2`);
  const h = n / 2;
  const zr = new Float64Array(h), zi = new Float64Array(h);
  for (let i = 0; i < h; i++) { zr[i] = x[2 * i]!; zi[i] = x[2 * i + 1]!; }
  fftComplex(zr, zi, false, h);
  const re = new Float64Array(h + 1), im = new Float64Array(h + 1);
  for (let k = 0; k <= h; k++) {
    const k1 = k % h, k2 = (h - k) % h;
    // even part E = (Z[k] + conj Z[h-k]) / 2, odd part O = (Z[k] - conj Z[h-k]) / (2i)
    const er = 0.5 * (zr[k1]! + zr[k2]!), ei = 0.5 * (zi[k1]! - zi[k2]!);
    const or = 0.5 * (zi[k1]! + zi[k2]!), oi = -0.5 * (zr[k1]! - zr[k2]!);
    const ang = (-2 * Math.PI * k) / n;
    const c = Math.cos(ang), s = Math.sin(ang);
    re[k] = er + (or * c - oi * s);
    im[k] = ei + (or * s + oi * c);
  }
  return { re, im };
}

/** Inverse of fftReal: from n/2+1 coefficients back to n real samples. */
export function ifftReal(re: Float64Array, im: Float64Array, n: number): Float64Array {
  const h = n / 2;
  if (!isPow2(n) || re.length < h + 1) throw new RangeError(`ifftReal: bad size ${n}`);
  const zr = new Float64Array(h), zi = new Float64Array(h);
  for (let k = 0; k < h; k++) {
    // E = (X[k] + conj X[h-k]) / 2, O = (X[k] − conj X[h-k]) / 2 · exp(+2πik/n)
    const ar = re[k]!, ai = im[k]!, br = re[h - k]!, bi = -im[h - k]!;
    const er = 0.5 * (ar + br), ei = 0.5 * (ai + bi);
    const dr = 0.5 * (ar - br), di = 0.5 * (ai - bi);
    const ang = (2 * Math.PI * k) / n;
    const c = Math.cos(ang), s = Math.sin(ang);
    const or = dr * c - di * s, oi = dr * s + di * c;
    // Z[k] = E + i·O
    zr[k] = er - oi;
    zi[k] = ei + or;
  }
  fftComplex(zr, zi, true, h);
  const out: Float64Array = new Float64Array(n);
  for (let i = 0; i < h; i++) { out[2 * i] = zr[i]!; out[2 * i + 1] = zi[i]!; }
  return out;
}

/** In-place 2-D complex FFT of an nx × ny array (row-major, both powers of two). */
export function fft2d(re: Float64Array, im: Float64Array, nx: number, ny: number, inverse = false): void {
  if (re.length < nx * ny || im.length < nx * ny) throw new RangeError('fft2d: arrays too small');
  for (let y = 0; y < ny; y++) fftComplex(re, im, inverse, nx, y * nx, 1);
  for (let x = 0; x < nx; x++) fftComplex(re, im, inverse, ny, x, nx);
}
