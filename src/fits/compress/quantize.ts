/**
 * Floating-point quantization of tiles (FITS standard §10.2): noise estimate, subtractive
 * dithering with the standard random sequence, and the exact inverse used by cfitsio/astropy.
 */

export const N_RANDOM = 10000;
/** Quantized value that marks a null (NaN) pixel. */
export const NULL_VALUE = -2147483647;
/** SUBTRACTIVE_DITHER_2: quantized value that marks an exact 0.0. */
export const ZERO_VALUE = -2147483646;
const N_RESERVED_VALUES = 10;

let randoms: Float64Array | undefined;

/**
 * The 10000 dither offsets in [0,1): Park–Miller (a = 16807, m = 2^31 − 1, seed 1), each stored
 * as a 32-bit float as the standard and cfitsio do. The 10000th seed must be 1043618065.
 */
export function ditherRandoms(): Float64Array {
  if (randoms) return randoms;
  const r = new Float64Array(N_RANDOM);
  const a = 16807;
  const m = 2147483647;
  let seed = 1;
  for (let i = 0; i < N_RANDOM; i++) {
    const temp = a * seed;
    seed = temp - m * Math.trunc(temp / m);
    r[i] = Math.fround(seed / m);
  }
  if (seed !== 1043618065) throw new Error('dither random sequence is wrong (internal error)');
  randoms = r;
  return r;
}

/** Start index into the random table for the tile whose dither row is `row` (1-based: tile0 + ZDITHER0). */
function firstRandom(row: number, r: Float64Array): { iseed: number; next: number } {
  const iseed = (((row - 1) % N_RANDOM) + N_RANDOM) % N_RANDOM;
  return { iseed, next: Math.trunc(r[iseed]! * 500) };
}

export type DitherCode = 0 | 1 | 2; // 0 none, 1 SUBTRACTIVE_DITHER_1, 2 SUBTRACTIVE_DITHER_2

/**
 * Dequantize one tile as cfitsio does (double arithmetic, one rounding to the output type).
 * `row` = tile0 + ZDITHER0 (1-based dither row); `blank` is ZBLANK or undefined when nulls are not
 * checked. `out` receives `n` values starting at 0.
 */
export function dequantize(
  input: Int32Array,
  n: number,
  scale: number,
  zero: number,
  dither: DitherCode,
  row: number,
  blank: number | undefined,
  out: Float32Array | Float64Array,
): void {
  const check = blank !== undefined;
  const bl = blank ?? 0;
  if (dither === 0) {
    for (let i = 0; i < n; i++) {
      const v = input[i]!;
      out[i] = check && v === bl ? NaN : v * scale + zero;
    }
    return;
  }
  const r = ditherRandoms();
  let { iseed, next } = firstRandom(row, r);
  const d2 = dither === 2;
  let i = 0;
  while (i < n) {
    // a run of the random sequence without wrapping
    const start = i;
    let end = i + (N_RANDOM - next);
    if (end > n) end = n;
    const k = next - start;
    if (!check && !d2) {
      // the common case: no nulls declared, SUBTRACTIVE_DITHER_1
      for (; i < end; i++) out[i] = (input[i]! - r[i + k]! + 0.5) * scale + zero;
    } else {
      for (; i < end; i++) {
        const v = input[i]!;
        if (check && v === bl) out[i] = NaN;
        else if (d2 && v === ZERO_VALUE) out[i] = 0;
        else out[i] = (v - r[i + k]! + 0.5) * scale + zero;
      }
    }
    next += end - start;
    if (next === N_RANDOM) {
      if (++iseed === N_RANDOM) iseed = 0;
      next = Math.trunc(r[iseed]! * 500);
    }
  }
}

/** Scratch buffers reused across tiles by the noise estimator. */
class Scratch {
  d2 = new Float32Array(0);
  d3 = new Float32Array(0);
  d5 = new Float32Array(0);
  good = new Float64Array(0);
  rows2 = new Float64Array(0);
  rows3 = new Float64Array(0);
  rows5 = new Float64Array(0);
  ensure(nx: number, ny: number): void {
    if (this.d2.length < nx) {
      this.d2 = new Float32Array(nx);
      this.d3 = new Float32Array(nx);
      this.d5 = new Float32Array(nx);
      this.good = new Float64Array(nx);
    }
    if (this.rows2.length < ny) {
      this.rows2 = new Float64Array(ny);
      this.rows3 = new Float64Array(ny);
      this.rows5 = new Float64Array(ny);
    }
  }
}
const scratch = new Scratch();

/** k-th smallest of a[0..n) (partially reorders a). Hoare selection, bounded. */
function select(a: Float32Array | Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // median of three as pivot
    let x = a[lo]!, y = a[mid]!, z = a[hi]!;
    if (x > y) { const t = x; x = y; y = t; }
    if (y > z) { y = z; }
    if (x > y) { y = x; }
    const pivot = y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!; a[i] = a[j]!; a[j] = t;
        i++; j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

const HBINS = 256;
let bucket = new Float32Array(256);

const hist2 = new Int32Array(HBINS);
const hist3 = new Int32Array(HBINS);
const hist5 = new Int32Array(HBINS);
/** Histogram bin widths for the next row: the previous row's mean/32 (0 before any row). */
let width2 = 0;
let width3 = 0;
let width5 = 0;

/**
 * k-th smallest of a[0..n) given the histogram `h` of bins of width 1/inv (last bin open) that
 * was filled from the same Float32 values: select only within the bin that holds it. Exact for
 * any bin width; a width far from the data's scale just makes that bin larger. Non-finite data
 * go to the plain selection.
 */
function selectInHistogram(a: Float32Array, n: number, k: number, sum: number, h: Int32Array, inv: number): number {
  if (!Number.isFinite(sum) || n < 64) return select(a, n, k);
  const last = HBINS - 1;
  let cum = 0;
  let bin = 0;
  for (; bin < last; bin++) {
    if (cum + h[bin]! > k) break;
    cum += h[bin]!;
  }
  const cnt = h[bin]!;
  if (bucket.length < cnt) bucket = new Float32Array(cnt);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const v = a[i]!;
    const x = v * inv;
    if ((x < last ? x | 0 : last) === bin) bucket[m++] = v;
  }
  if (m !== cnt) return select(a, n, k); // cannot happen; keeps the result exact regardless
  return select(bucket, m, k - cum);
}

export interface TileStats {
  ngood: number;
  min: number;
  max: number;
  /** Noise from the median absolute 2nd, 3rd and 5th order differences along rows (0 when unknown). */
  noise2: number;
  noise3: number;
  noise5: number;
}

/**
 * Background noise of a tile of nx × ny pixels (NaN = null) from the median absolute differences
 * of 2nd, 3rd and 5th order along each row, the median over rows (Stoehr et al., ST-ECF Newsletter
 * 42, as cfitsio), and the min/max of the good pixels.
 */
export function tileStats(data: Float32Array | Float64Array, nx: number, ny: number): TileStats {
  let n = nx * ny;
  if (nx < 9) { nx = n; ny = 1; }
  const s = scratch;
  s.ensure(nx, ny);
  let min = Infinity;
  let max = -Infinity;
  let ngood = 0;
  let nrows = 0;
  let nrows2 = 0;
  const { d2, d3, d5, good, rows2, rows3, rows5 } = s;
  for (let y = 0; y < ny; y++) {
    const base = y * nx;
    let g = 0;
    for (let x = 0; x < nx; x++) {
      const v = data[base + x]!;
      if (v === v) {
        good[g++] = v;
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    ngood += g;
    if (g < 9) continue;
    let nv = 0;
    let nv2 = 0;
    let s2 = 0, s3 = 0, s5 = 0;
    // histograms of the differences, filled on the way, with the previous row's bin widths
    const inv2 = width2 > 0 && Number.isFinite(width2) ? 1 / width2 : 0;
    const inv3 = width3 > 0 && Number.isFinite(width3) ? 1 / width3 : 0;
    const inv5 = width5 > 0 && Number.isFinite(width5) ? 1 / width5 : 0;
    hist2.fill(0);
    hist3.fill(0);
    hist5.fill(0);
    const last = HBINS - 1;
    // rolling window v1..v9 over the good pixels of the row
    let v1 = good[0]!, v2 = good[1]!, v3 = good[2]!, v4 = good[3]!, v5 = good[4]!, v6 = good[5]!, v7 = good[6]!, v8 = good[7]!;
    for (let k = 8; k < g; k++) {
      const v9 = good[k]!;
      if (!(v5 === v6 && v6 === v7)) {
        const d = Math.fround(Math.abs(v5 - v7));
        d2[nv2++] = d;
        s2 += d;
        const x = d * inv2;
        hist2[x < last ? x | 0 : last]!++;
      }
      if (!(v3 === v4 && v4 === v5 && v5 === v6 && v6 === v7)) {
        const e3 = Math.fround(Math.abs(2 * v5 - v3 - v7));
        const e5 = Math.fround(Math.abs(6 * v5 - 4 * v3 - 4 * v7 + v1 + v9));
        d3[nv] = e3;
        d5[nv] = e5;
        s3 += e3;
        s5 += e5;
        const x3 = e3 * inv3;
        hist3[x3 < last ? x3 | 0 : last]!++;
        const x5 = e5 * inv5;
        hist5[x5 < last ? x5 | 0 : last]!++;
        nv++;
      }
      v1 = v2; v2 = v3; v3 = v4; v4 = v5; v5 = v6; v6 = v7; v7 = v8; v8 = v9;
    }
    if (nv === 0) continue;
    if (nv2 > 0) {
      rows2[nrows2++] = selectInHistogram(d2, nv2, (nv2 - 1) >> 1, s2, hist2, inv2);
      width2 = s2 / nv2 / 32;
    }
    rows3[nrows] = selectInHistogram(d3, nv, (nv - 1) >> 1, s3, hist3, inv3);
    rows5[nrows] = selectInHistogram(d5, nv, (nv - 1) >> 1, s5, hist5, inv5);
    width3 = s3 / nv / 32;
    width5 = s5 / nv / 32;
    nrows++;
  }
  const med = (a: Float64Array, m: number): number => {
    if (m === 0) return 0;
    if (m === 1) return a[0]!;
    const lo = select(a, m, (m - 1) >> 1);
    const hi = select(a, m, m >> 1);
    return (lo + hi) / 2;
  };
  return {
    ngood,
    min,
    max,
    noise2: 1.0483579 * med(rows2, nrows2),
    noise3: 0.6052697 * med(rows3, nrows),
    noise5: 0.1772048 * med(rows5, nrows),
  };
}

/**
 * Subtractive-dither quantization of data[i0..i1) with random r[i + k] (no wrap inside the run):
 * loops without the tests that the tile does not need (no NaN; exact zeros kept only by
 * SUBTRACTIVE_DITHER_2). The arithmetic is cfitsio's, whatever the loop.
 */
function ditherRun(data: Float32Array | Float64Array, i0: number, i1: number, k: number, r: Float64Array,
  zero: number, delta: number, d2: boolean, nulls: boolean, out: Int32Array): void {
  if (nulls) {
    for (let i = i0; i < i1; i++) {
      const v = data[i]!;
      if (v !== v) out[i] = NULL_VALUE;
      else if (d2 && v === 0) out[i] = ZERO_VALUE;
      else {
        const x = (v - zero) / delta + r[i + k]! - 0.5;
        out[i] = x >= 0 ? (x + 0.5) | 0 : -((0.5 - x) | 0);
      }
    }
  } else if (d2) {
    for (let i = i0; i < i1; i++) {
      const v = data[i]!;
      if (v === 0) { out[i] = ZERO_VALUE; continue; }
      const x = (v - zero) / delta + r[i + k]! - 0.5;
      out[i] = x >= 0 ? (x + 0.5) | 0 : -((0.5 - x) | 0);
    }
  } else {
    for (let i = i0; i < i1; i++) {
      const x = (data[i]! - zero) / delta + r[i + k]! - 0.5;
      out[i] = x >= 0 ? (x + 0.5) | 0 : -((0.5 - x) | 0);
    }
  }
}

/** Min, max and count of the good (non-NaN) pixels: what quantization with a fixed step needs. */
function tileRange(data: Float32Array | Float64Array, n: number): Pick<TileStats, 'ngood' | 'min' | 'max'> {
  let min = Infinity;
  let max = -Infinity;
  let ngood = 0;
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    if (v === v) {
      ngood++;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return { ngood, min, max };
}

export interface Quantized {
  scale: number;
  zero: number;
  /** True when some pixels were null (coded NULL_VALUE; ZBLANK must be written). */
  anyNull: boolean;
}

/**
 * Quantize a tile of floats (NaN = null) into `out`. qlevel > 0: step = noise/qlevel;
 * qlevel < 0: step = |qlevel|. Returns undefined when the tile cannot be quantized (constant
 * tile, no noise, or a range beyond 32-bit integers); the caller then stores it losslessly.
 * `row` = tile0 + ZDITHER0 (used only when dithering).
 */
export function quantize(
  data: Float32Array | Float64Array,
  nx: number,
  ny: number,
  qlevel: number,
  dither: DitherCode,
  row: number,
  out: Int32Array,
): Quantized | undefined {
  const n = nx * ny;
  if (n <= 1) return undefined;
  // With an absolute step only the range is needed: skip the noise statistics (the costly part).
  const st = qlevel >= 0 ? tileStats(data, nx, ny) : tileRange(data, n);
  let min = st.min;
  let max = st.max;
  let delta: number;
  if (st.ngood === 0) { min = 0; max = 1; }
  if (qlevel >= 0) {
    const { noise2, noise3, noise5 } = st as TileStats;
    let stdev = 1;
    if (st.ngood !== 0) {
      stdev = noise3;
      if (noise2 !== 0 && noise2 < stdev) stdev = noise2;
      if (noise5 !== 0 && noise5 < stdev) stdev = noise5;
    }
    delta = stdev / (qlevel === 0 ? 4 : qlevel);
    if (delta === 0) return undefined;
  } else {
    delta = -qlevel;
  }
  if (!Number.isFinite(min) || !Number.isFinite(max) || !Number.isFinite(delta)) return undefined;
  if ((max - min) / delta > 2 * 2147483647 - N_RESERVED_VALUES) return undefined;

  let zero: number;
  const anyNull = st.ngood !== n;
  if (anyNull || dither === 2) {
    zero = min - delta * (NULL_VALUE + N_RESERVED_VALUES);
  } else if ((max - min) / delta < 2147483647 - N_RESERVED_VALUES) {
    zero = Math.trunc(min / delta + 0.5) * delta;
  } else {
    zero = (min + max) / 2;
  }

  if (dither !== 0) {
    const r = ditherRandoms();
    let { iseed, next } = firstRandom(row, r);
    let i = 0;
    while (i < n) {
      // a run of the random sequence without wrapping
      let end = i + (N_RANDOM - next);
      if (end > n) end = n;
      ditherRun(data, i, end, next - i, r, zero, delta, dither === 2, anyNull, out);
      next += end - i;
      i = end;
      if (next === N_RANDOM) {
        if (++iseed === N_RANDOM) iseed = 0;
        next = Math.trunc(r[iseed]! * 500);
      }
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = data[i]!;
      if (v !== v) out[i] = NULL_VALUE;
      else {
        const x = (v - zero) / delta;
        out[i] = x >= 0 ? (x + 0.5) | 0 : -((0.5 - x) | 0);
      }
    }
  }
  return { scale: delta, zero, anyNull };
}
