/**
 * Robust statistics on typed arrays: quickselect medians (no full sort), MAD, iterative
 * sigma clipping, and SExtractor's mode estimator. Functions that take `work` reorder it in
 * place; pass a scratch copy when the order matters.
 */

type Num = Float32Array | Float64Array;

/**
 * The k-th smallest element (0-based) of work[0..n), reordering work in place (Hoare's
 * quickselect with median-of-three pivots; O(n) on average).
 */
export function quickselect(work: Num, k: number, n = work.length): number {
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    if (hi === lo + 1) {
      if (work[lo]! > work[hi]!) { const t = work[lo]!; work[lo] = work[hi]!; work[hi] = t; }
      return work[k]!;
    }
    const mid = (lo + hi) >> 1;
    // median of three into work[mid], then use it as pivot
    let a = work[lo]!, b = work[mid]!, c = work[hi]!;
    if (a > b) { const t = a; a = b; b = t; }
    if (b > c) { const t = b; b = c; c = t; if (a > b) { const t2 = a; a = b; b = t2; } }
    work[lo] = a; work[mid] = b; work[hi] = c;
    const pivot = b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (work[i]! < pivot) i++;
      while (work[j]! > pivot) j--;
      if (i <= j) {
        const t = work[i]!; work[i] = work[j]!; work[j] = t;
        i++; j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return work[k]!;
  }
  return work[k]!;
}

/** Median of work[0..n) (mean of the two middle values when n is even); reorders work. NaN if n = 0. */
export function medianInPlace(work: Num, n = work.length): number {
  if (n <= 0) return NaN;
  const h = n >> 1;
  const hiv = quickselect(work, h, n);
  if (n & 1) return hiv;
  // the lower middle is the maximum of the left part after selection
  let lov = -Infinity;
  for (let i = 0; i < h; i++) if (work[i]! > lov) lov = work[i]!;
  return 0.5 * (lov + hiv);
}

/** Median of the finite values of an array (the input is not modified). */
export function median(values: ArrayLike<number>): number {
  const w = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) { const v = values[i]!; if (v - v === 0) w[n++] = v; }
  return medianInPlace(w, n);
}

/** Median absolute deviation about the median of the finite values (not scaled). */
export function mad(values: ArrayLike<number>): { median: number; mad: number } {
  const w = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) { const v = values[i]!; if (v - v === 0) w[n++] = v; }
  const m = medianInPlace(w, n);
  for (let i = 0; i < n; i++) w[i] = Math.abs(w[i]! - m);
  return { median: m, mad: medianInPlace(w, n) };
}

/** MAD → Gaussian sigma. */
export const MAD_TO_SIGMA = 1.482602218505602;

export interface ClippedStats {
  mean: number;
  median: number;
  /** Standard deviation of the kept values. */
  sigma: number;
  /** SExtractor's mode: 2.5·median − 1.5·mean when |mean − median| < 0.3·σ, else the median. */
  mode: number;
  /** Number of values kept after clipping. */
  n: number;
  iterations: number;
}

/**
 * Iterative sigma clipping about the median (SExtractor/SEP `backguess` style): keep values
 * within ±nsigma·σ of the median, recompute, until the kept set stops changing or maxIter.
 * `work` holds the values in [0, n) and is reordered/compacted in place.
 */
export function clippedStatsInPlace(work: Num, n = work.length, nsigma = 3, maxIter = 100): ClippedStats {
  let iterations = 0;
  let mean = NaN, sigma = NaN, med = NaN;
  for (;;) {
    if (n === 0) return { mean: NaN, median: NaN, sigma: NaN, mode: NaN, n: 0, iterations };
    let s = 0, s2 = 0;
    for (let i = 0; i < n; i++) s += work[i]!;
    mean = s / n;
    for (let i = 0; i < n; i++) { const d = work[i]! - mean; s2 += d * d; }
    sigma = n > 1 ? Math.sqrt(s2 / (n - 1)) : 0;
    med = medianInPlace(work, n);
    if (iterations >= maxIter || !(sigma > 0)) break;
    const lo = med - nsigma * sigma;
    const hi = med + nsigma * sigma;
    let m = 0;
    for (let i = 0; i < n; i++) { const v = work[i]!; if (v >= lo && v <= hi) work[m++] = v; }
    iterations++;
    if (m === n) break;
    n = m;
  }
  return { mean, median: med, sigma, mode: sextractorMode(mean, med, sigma), n, iterations };
}

/** Sigma-clipped statistics of the finite values of an array (input untouched). */
export function clippedStats(values: ArrayLike<number>, nsigma = 3, maxIter = 100): ClippedStats {
  const w = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) { const v = values[i]!; if (v - v === 0) w[n++] = v; }
  return clippedStatsInPlace(w, n, nsigma, maxIter);
}

/**
 * SExtractor's mode estimate of a clipped distribution: 2.5·median − 1.5·mean when the
 * distribution is not too skewed (|mean − median| < 0.3σ), else the median.
 */
export function sextractorMode(mean: number, median: number, sigma: number, pearson = 2.5): number {
  if (!(sigma > 0)) return mean;
  return Math.abs(mean - median) < 0.3 * sigma ? pearson * median - (pearson - 1) * mean : median;
}

/** Mean and (sample) standard deviation of the finite values. */
export function meanStd(values: ArrayLike<number>): { mean: number; std: number; n: number } {
  let n = 0, s = 0;
  for (let i = 0; i < values.length; i++) { const v = values[i]!; if (v - v === 0) { s += v; n++; } }
  const mean = n ? s / n : NaN;
  let s2 = 0;
  for (let i = 0; i < values.length; i++) { const v = values[i]!; if (v - v === 0) s2 += (v - mean) * (v - mean); }
  return { mean, std: n > 1 ? Math.sqrt(s2 / (n - 1)) : NaN, n };
}

/** Percentile (0..100) of the finite values by quickselect (nearest rank with linear interpolation). */
export function percentile(values: ArrayLike<number>, p: number): number {
  const w = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) { const v = values[i]!; if (v - v === 0) w[n++] = v; }
  if (n === 0) return NaN;
  const pos = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const k = Math.floor(pos);
  const a = quickselect(w, k, n);
  if (k + 1 >= n) return a;
  let b = Infinity;
  for (let i = k + 1; i < n; i++) if (w[i]! < b) b = w[i]!;
  return a + (pos - k) * (b - a);
}
