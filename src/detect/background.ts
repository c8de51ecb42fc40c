/**
 * Sky background and its RMS, as SExtractor/SEP estimate them:
 * 1. the image is cut into meshes (default 64 × 64 px); in each, the usable pixels (finite,
 *    not masked, finite positive variance) are cut at ±2σ about the mean, then clipped
 *    iteratively at ±3σ about the median on a fine histogram; the background is the mode
 *    estimate 2.5·median − 1.5·mean (the median when the distribution is too skewed) and the
 *    RMS is the clipped σ. Meshes with less than half their pixels usable are filled from
 *    their neighbours.
 * 2. the mesh grid is median filtered (default 3 × 3), then
 * 3. interpolated to every pixel with a natural bicubic spline through the mesh centres.
 *
 * Pixel convention: 0-based.
 */
import type { MaskedImage } from '../image/masked-image.js';
import { DEFAULT_BAD_MASK } from '../image/masked-image.js';
import { sextractorMode, medianInPlace } from '../image/stats.js';
import { SplineGrid } from '../image/resample.js';

export interface BackgroundOptions {
  /** Mesh size in pixels, one number or [width, height] (default 64). */
  backSize?: number | [number, number];
  /** Median filter size on the mesh grid, one number or [nx, ny] (default 3; 1 = none). */
  backFilterSize?: number | [number, number];
  /** Mask bits that exclude a pixel (default DEFAULT_BAD_MASK). */
  badMask?: number;
  /** Pearson coefficient of the mode estimate (default 2.5; DES used 3.5). */
  pearson?: number;
  /** Extra per-pixel exclusion (1 = skip), e.g. a map of detected objects. */
  exclude?: Uint8Array;
}

export interface Background {
  width: number;
  height: number;
  /** Mesh grid size (nodes along x and y) and mesh size in pixels. */
  nx: number;
  ny: number;
  meshWidth: number;
  meshHeight: number;
  /** Mesh values after filtering, nx × ny row-major. */
  meshBack: Float64Array;
  meshRms: Float64Array;
  /** Node positions in pixels (0-based), the centres of the meshes. */
  xNodes: Float64Array;
  yNodes: Float64Array;
  /** Median of the mesh backgrounds and of the mesh RMS values. */
  globalBack: number;
  globalRms: number;
  /** Full-resolution background map (computed on first call, then cached). */
  back(): Float32Array;
  /** Full-resolution RMS map (computed on first call, then cached). */
  rms(): Float32Array;
  /** One row of the background / RMS map into out[offset ..] (no full map is built). */
  backRow(y: number, out: Float32Array | Float64Array, offset?: number): void;
  rmsRow(y: number, out: Float32Array | Float64Array, offset?: number): void;
  /** The background / RMS at one pixel position (0-based). */
  backAt(x: number, y: number): number;
  rmsAt(x: number, y: number): number;
}

const NBINS = 256;
const BIN_PER_SIGMA = 16;

// The per-pixel loops of meshStats live in their own small functions: inside meshStats, a hot
// loop optimised on the stack (OSR) on the first mesh left the rest of the function without type
// feedback, and V8 deoptimised and re-optimised it over and over (~60 times per CCD).
// cutMoments' Σu and Σu² (module variables: a keyed store after the loop, reached with no type
// feedback when the loop was optimised on the stack, bailed out on every call).
let cutSum = 0, cutSum2 = 0;
/** Count, Σu and Σu² (u = v − centre; in cutSum, cutSum2) of the values within [lo, hi]. */
function cutMoments(buf: Float32Array, n: number, centre: number, lo: number, hi: number): number {
  let m = 0, t = 0, t2 = 0;
  for (let i = 0; i < n; i++) { const v = buf[i]!; if (v >= lo && v <= hi) { const u = v - centre; m++; t += u; t2 += u * u; } }
  cutSum = t; cutSum2 = t2;
  return m;
}

// Four interleaved integer histograms: noise puts consecutive values in the same few bins, and
// one array's increments would wait on each other (store → load of the same element).
const hist4 = new Int32Array(4 * NBINS);
function fillHistogram(buf: Float32Array, n: number, x0: number, inv: number, hist: Float64Array): void {
  const h = hist4;
  h.fill(0);
  countBins(buf, n, x0, inv, h);
  for (let b = 0; b < NBINS; b++) hist[b] = h[b]! + h[NBINS + b]! + h[2 * NBINS + b]! + h[3 * NBINS + b]!;
}

/**
 * The counting loop alone, in four interleaved histograms (no store-to-load chain on repeated
 * bins). Nothing follows the loop: code after a loop that V8 optimises on the stack has no type
 * feedback yet, and the optimised code then deoptimised on every mesh.
 */
function countBins(buf: Float32Array, n: number, x0: number, inv: number, h: Int32Array): void {
  for (let i = 0; i < n; i++) {
    const b = Math.floor((buf[i]! - x0) * inv);
    if (b >= 0 && b < NBINS) h[(i & 3) * NBINS + b]!++;
  }
}

/**
 * Mesh statistics on `n` values in buf, whose sum and sum of squares about `shift` are given
 * (the copy loop accumulates them): { back, rms } or null when unusable.
 */
function meshStats(buf: Float32Array, n: number, hist: Float64Array, pearson: number, sum: number, sum2: number, shift: number): { back: number; rms: number } | null {
  if (n < 2) return null;
  let mean = sum / n;
  let sig = Math.sqrt(Math.max(0, sum2 / n - mean * mean));
  mean += shift;
  // ±2σ cut about the mean (removes most of the bright object pixels)
  {
    const m = cutMoments(buf, n, mean, mean - 2 * sig, mean + 2 * sig);
    if (m < 2) return { back: mean, rms: sig };
    const dm = cutSum / m;
    sig = Math.sqrt(Math.max(0, cutSum2 / m - dm * dm));
    mean += dm;
  }
  if (!(sig > 0)) return { back: mean, rms: 0 };
  // fine histogram over mean ± 8σ₂ (σ₂: the 2σ-cut sigma, ~0.88 of the true one)
  const bw = sig / BIN_PER_SIGMA;
  const x0 = mean - (NBINS / 2) * bw;
  fillHistogram(buf, n, x0, 1 / bw, hist);
  // iterative ±3σ clipping about the median on the histogram (bin centres at x0 + (b + 0.5)·bw)
  let lo = 0, hi = NBINS - 1;
  let med = mean, cmean = mean, csig = sig;
  for (let iter = 0; iter < 100; iter++) {
    let cnt = 0, t = 0, t2 = 0;
    for (let b = lo; b <= hi; b++) { const h = hist[b]!; if (h) { cnt += h; const c = b + 0.5; t += h * c; t2 += h * c * c; } }
    if (cnt < 2) break;
    const mb = t / cnt;
    const sb = Math.sqrt(Math.max(0, t2 / cnt - mb * mb));
    // median with linear interpolation inside the bin
    const half = cnt / 2;
    let acc = 0, b = lo;
    for (; b <= hi; b++) { if (acc + hist[b]! >= half) break; acc += hist[b]!; }
    const medb = b + (hist[b]! > 0 ? (half - acc) / hist[b]! : 0.5);
    med = x0 + medb * bw;
    cmean = x0 + mb * bw;
    csig = sb * bw;
    const nlo = Math.max(0, Math.ceil(medb - 3 * sb - 0.5)), nhi = Math.min(NBINS - 1, Math.floor(medb + 3 * sb - 0.5));
    if (nlo === lo && nhi === hi) break;
    lo = nlo; hi = nhi;
  }
  return { back: sextractorMode(cmean, med, csig, pearson), rms: csig };
}

// The mesh copy loops, in functions of their own (optimised early, not on the stack of
// estimateBackground); Σu and Σu² (u = v − shift) of the copied values in copySum, copySum2.
let copySum = 0, copySum2 = 0;

/** Copy the finite pixels of mesh [x0, x1) × [y0, y1) into buf; returns their number. */
function copyMesh(image: Float32Array, width: number, x0: number, x1: number, y0: number, y1: number, shift: number, buf: Float32Array): number {
  let n = 0, sum = 0, sum2 = 0;
  for (let y = y0; y < y1; y++) {
    const row = y * width;
    for (let x = x0; x < x1; x++) {
      const v = image[row + x]!;
      if (v - v !== 0) continue;
      buf[n++] = v;
      const u = v - shift;
      sum += u; sum2 += u * u;
    }
  }
  copySum = sum; copySum2 = sum2;
  return n;
}

/** copyMesh for usable pixels only: finite, no badMask bit, finite positive variance, not excluded. */
function copyMeshMasked(image: Float32Array, mask: Uint32Array | undefined, variance: Float32Array | undefined, exclude: Uint8Array | undefined,
  badMask: number, width: number, x0: number, x1: number, y0: number, y1: number, shift: number, buf: Float32Array): number {
  let n = 0, sum = 0, sum2 = 0;
  for (let y = y0; y < y1; y++) {
    const row = y * width;
    for (let x = x0; x < x1; x++) {
      const k = row + x;
      const v = image[k]!;
      if (v - v !== 0) continue;
      if (mask !== undefined && (mask[k]! & badMask) !== 0) continue;
      if (variance !== undefined) { const s = variance[k]!; if (!(s > 0 && s < Infinity)) continue; }
      if (exclude !== undefined && exclude[k]) continue;
      buf[n++] = v;
      const u = v - shift;
      sum += u; sum2 += u * u;
    }
  }
  copySum = sum; copySum2 = sum2;
  return n;
}

function pair(v: number | [number, number] | undefined, def: number): [number, number] {
  if (v === undefined) return [def, def];
  return typeof v === 'number' ? [v, v] : v;
}

/** Estimate the background and RMS meshes of an image (maps are interpolated lazily). */
export function estimateBackground(img: MaskedImage, opts: BackgroundOptions = {}): Background {
  const { width, height, image, variance, mask } = img;
  const [bw, bh] = pair(opts.backSize, 64);
  const [fw, fh] = pair(opts.backFilterSize, 3);
  if (!(bw >= 1 && bh >= 1)) throw new RangeError(`background: bad mesh size ${bw}×${bh}`);
  const pearson = opts.pearson ?? 2.5;
  const badMask = opts.badMask ?? DEFAULT_BAD_MASK;
  const exclude = opts.exclude;
  const nx = Math.ceil(width / bw), ny = Math.ceil(height / bh);
  const back = new Float64Array(nx * ny).fill(NaN);
  const rms = new Float64Array(nx * ny).fill(NaN);
  const buf = new Float32Array(bw * bh);
  const hist = new Float64Array(NBINS);
  for (let j = 0; j < ny; j++) {
    const y0 = j * bh, y1 = Math.min(height, y0 + bh);
    for (let i = 0; i < nx; i++) {
      const x0 = i * bw, x1 = Math.min(width, x0 + bw);
      // sums about a shift (the first pixel of the mesh) keep the variance accurate
      const shift = Number.isFinite(image[y0 * width + x0]!) ? image[y0 * width + x0]! : 0;
      const n = mask === undefined && variance === undefined && exclude === undefined
        ? copyMesh(image, width, x0, x1, y0, y1, shift, buf)
        : copyMeshMasked(image, mask, variance, exclude, badMask, width, x0, x1, y0, y1, shift, buf);
      const sum = copySum, sum2 = copySum2;
      const area = (x1 - x0) * (y1 - y0);
      if (n < 0.5 * area) continue;
      const st = meshStats(buf, n, hist, pearson, sum, sum2, shift);
      if (st) { back[j * nx + i] = st.back; rms[j * nx + i] = st.rms; }
    }
  }
  fillHoles(back, nx, ny);
  fillHoles(rms, nx, ny);
  const fBack = medianFilterGrid(back, nx, ny, fw, fh);
  const fRms = medianFilterGrid(rms, nx, ny, fw, fh);
  const xNodes = new Float64Array(nx), yNodes = new Float64Array(ny);
  for (let i = 0; i < nx; i++) xNodes[i] = (i * bw + Math.min(width, (i + 1) * bw) - 1) / 2;
  for (let j = 0; j < ny; j++) yNodes[j] = (j * bh + Math.min(height, (j + 1) * bh) - 1) / 2;
  const gb = medianInPlace(Float64Array.from(fBack));
  const gr = medianInPlace(Float64Array.from(fRms));
  let backMap: Float32Array | undefined, rmsMap: Float32Array | undefined;
  const gBack = new SplineGrid(fBack, nx, ny, xNodes, yNodes, width);
  const gRms = new SplineGrid(fRms, nx, ny, xNodes, yNodes, width);
  const full = (g: SplineGrid) => { const m = new Float32Array(width * height); for (let y = 0; y < height; y++) g.row(y, m, y * width); return m; };
  return {
    width, height, nx, ny, meshWidth: bw, meshHeight: bh,
    meshBack: fBack, meshRms: fRms, xNodes, yNodes, globalBack: gb, globalRms: gr,
    back() { return (backMap ??= full(gBack)); },
    rms() { return (rmsMap ??= full(gRms)); },
    backRow(y, out, offset = 0) { if (backMap) out.set(backMap.subarray(y * width, (y + 1) * width), offset); else gBack.row(y, out, offset); },
    rmsRow(y, out, offset = 0) { if (rmsMap) out.set(rmsMap.subarray(y * width, (y + 1) * width), offset); else gRms.row(y, out, offset); },
    backAt(x, y) { return gBack.at(x, y); },
    rmsAt(x, y) { return gRms.at(x, y); },
  };
}

/** Replace NaN meshes by the mean of their valid neighbours, growing inwards; all-NaN grids become 0. */
function fillHoles(g: Float64Array, nx: number, ny: number): void {
  let any = false, holes = false;
  for (let i = 0; i < g.length; i++) { if (g[i]! === g[i]!) any = true; else holes = true; }
  if (!holes) return;
  if (!any) { g.fill(NaN); return; }
  const next = Float64Array.from(g);
  for (;;) {
    let changed = false, left = false;
    for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
      const k = j * nx + i;
      if (g[k]! === g[k]!) continue;
      let s = 0, c = 0;
      for (let dj = -1; dj <= 1; dj++) for (let di = -1; di <= 1; di++) {
        const ii = i + di, jj = j + dj;
        if (ii < 0 || jj < 0 || ii >= nx || jj >= ny) continue;
        const v = g[jj * nx + ii]!;
        if (v === v) { s += v; c++; }
      }
      if (c) { next[k] = s / c; changed = true; } else left = true;
    }
    g.set(next);
    if (!left || !changed) break;
  }
}

/** Median filter of a grid with an fw × fh window (shrunk at the edges). */
function medianFilterGrid(g: Float64Array, nx: number, ny: number, fw: number, fh: number): Float64Array {
  if (fw <= 1 && fh <= 1) return Float64Array.from(g);
  const out = new Float64Array(nx * ny);
  const hw = (fw - 1) >> 1, hh = (fh - 1) >> 1;
  const work = new Float64Array(fw * fh);
  for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    let n = 0;
    for (let jj = Math.max(0, j - hh); jj <= Math.min(ny - 1, j + hh); jj++) {
      for (let ii = Math.max(0, i - hw); ii <= Math.min(nx - 1, i + hw); ii++) {
        const v = g[jj * nx + ii]!;
        if (v === v) work[n++] = v;
      }
    }
    out[j * nx + i] = n ? medianInPlace(work, n) : NaN;
  }
  return out;
}
