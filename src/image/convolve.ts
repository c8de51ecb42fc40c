/**
 * Convolution and correlation of Float32Array images with small or large kernels.
 *
 * - Direct 2-D (cost ∝ kernel area), separable (∝ kw + kh), and FFT-based overlap-save in
 *   tiles (cost per pixel nearly independent of kernel size: difference imaging uses it).
 * - `convolveAuto`/`correlateAuto` pick the cheapest.
 *
 * Conventions: images and kernels are row-major; a kernel of kw × kh has its centre at
 * (cx, cy) = ((kw − 1) / 2, (kh − 1) / 2) rounded down (odd sizes are the usual case).
 * correlate:  out(x, y) = Σ k[j][i] · src(x + i − cx, y + j − cy)   (matched filter)
 * convolve:   out(x, y) = Σ k[j][i] · src(x − i + cx', y − j + cy')  (the kernel flipped)
 * Outside the image the source counts as zero.
 */
import { fftComplex, nextPow2 } from './fft.js';

export interface Kernel {
  width: number;
  height: number;
  /** Row-major values, width × height. */
  data: Float64Array | Float32Array;
}

export function kernel(width: number, height: number, data: ArrayLike<number>): Kernel {
  if (data.length !== width * height) throw new RangeError(`kernel: ${data.length} values for ${width}×${height}`);
  return { width, height, data: Float64Array.from(data) };
}

/** The kernel rotated by 180° (turns a correlation into a convolution and back). */
export function flipKernel(k: Kernel): Kernel {
  const n = k.width * k.height;
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = k.data[n - 1 - i]!;
  return { width: k.width, height: k.height, data: d };
}

/** Scale a kernel so its values sum to 1 (unchanged if the sum is 0). */
export function normalizeKernel(k: Kernel): Kernel {
  let s = 0;
  for (let i = 0; i < k.data.length; i++) s += k.data[i]!;
  const d = Float64Array.from(k.data);
  if (s !== 0) for (let i = 0; i < d.length; i++) d[i]! /= s;
  return { width: k.width, height: k.height, data: d };
}

/**
 * A normalised circular Gaussian kernel of the given FWHM in pixels, sampled at pixel centres,
 * of odd size (default: 2·ceil(1.5·FWHM)+1, at least 3), like SExtractor's gauss_*.conv.
 */
export function gaussianKernel(fwhmPix: number, size?: number): Kernel {
  const sigma = fwhmPix / (2 * Math.sqrt(2 * Math.log(2)));
  const n = size ?? Math.max(3, 2 * Math.ceil(1.5 * fwhmPix) + 1);
  if (n % 2 !== 1) throw new RangeError(`gaussianKernel: size ${n} must be odd`);
  const c = (n - 1) / 2;
  const d = new Float64Array(n * n);
  for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) d[j * n + i] = Math.exp(-((i - c) ** 2 + (j - c) ** 2) / (2 * sigma * sigma));
  return normalizeKernel({ width: n, height: n, data: d });
}

/**
 * If the kernel is an outer product k[j][i] = ky[j]·kx[i] (to relative precision tol), return
 * the two 1-D factors, else null.
 */
export function separate(k: Kernel, tol = 1e-9): { kx: Float64Array; ky: Float64Array } | null {
  const { width: w, height: h, data } = k;
  // pivot: the largest |value|
  let pi = 0;
  for (let i = 1; i < w * h; i++) if (Math.abs(data[i]!) > Math.abs(data[pi]!)) pi = i;
  const p = data[pi]!;
  if (p === 0) return null;
  const px = pi % w, py = (pi - px) / w;
  const kx = new Float64Array(w), ky = new Float64Array(h);
  for (let i = 0; i < w; i++) kx[i] = data[py * w + i]! / p;
  for (let j = 0; j < h; j++) ky[j] = data[j * w + px]!;
  const scale = Math.abs(p);
  for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) {
    if (Math.abs(ky[j]! * kx[i]! - data[j * w + i]!) > tol * scale) return null;
  }
  return { kx, ky };
}

/** Direct 2-D correlation (zero outside). Cost ∝ width·height·kernel area. */
export function correlateDirect(src: Float32Array, width: number, height: number, k: Kernel, out: Float32Array = new Float32Array(width * height)): Float32Array {
  const { width: kw, height: kh, data } = k;
  const cx = (kw - 1) >> 1, cy = (kh - 1) >> 1;
  const acc = new Float64Array(width);
  for (let y = 0; y < height; y++) {
    acc.fill(0);
    for (let j = 0; j < kh; j++) {
      const sy = y + j - cy;
      if (sy < 0 || sy >= height) continue;
      const row = sy * width;
      for (let i = 0; i < kw; i++) {
        const kv = data[j * kw + i]!;
        if (kv === 0) continue;
        const dx = i - cx;
        const x0 = Math.max(0, -dx), x1 = Math.min(width, width - dx);
        const base = row + dx;
        for (let x = x0; x < x1; x++) acc[x]! += kv * src[base + x]!;
      }
    }
    const o = y * width;
    for (let x = 0; x < width; x++) out[o + x] = acc[x]!;
  }
  return out;
}

/**
 * Separable correlation with kx (along x) then ky (along y); centres at (len − 1) >> 1.
 * Zero outside the image. The x pass is kept in a ring of ky.length rows (no full-size
 * temporary); rows are processed as whole-row multiply-adds.
 */
export function correlateSeparable(
  src: Float32Array, width: number, height: number, kx: ArrayLike<number>, ky: ArrayLike<number>,
  out: Float32Array = new Float32Array(width * height),
): Float32Array {
  const nx = kx.length, ny = ky.length;
  const cx = (nx - 1) >> 1, cy = (ny - 1) >> 1;
  const ring = new Float32Array(width * ny);
  const acc = new Float64Array(width);
  const xpass = (sy: number) => {
    const row = sy * width;
    const o = (sy % ny) * width;
    if (nx === 3 && width >= 2) {
      const k0 = kx[0]!, k1 = kx[1]!, k2 = kx[2]!;
      ring[o] = k1 * src[row]! + k2 * src[row + 1]!;
      for (let x = 1; x < width - 1; x++) ring[o + x] = k0 * src[row + x - 1]! + k1 * src[row + x]! + k2 * src[row + x + 1]!;
      ring[o + width - 1] = k0 * src[row + width - 2]! + k1 * src[row + width - 1]!;
      return;
    }
    acc.fill(0);
    for (let i = 0; i < nx; i++) {
      const kv = kx[i]!;
      if (kv === 0) continue;
      const dx = i - cx;
      const x0 = Math.max(0, -dx), x1 = Math.min(width, width - dx);
      const base = row + dx;
      for (let x = x0; x < x1; x++) acc[x]! += kv * src[base + x]!;
    }
    for (let x = 0; x < width; x++) ring[o + x] = acc[x]!;
  };
  let next = 0; // next source row to run the x pass on
  for (let y = 0; y < height; y++) {
    const need = Math.min(height - 1, y + ny - 1 - cy);
    while (next <= need) xpass(next++);
    const o = y * width;
    if (ny === 3 && y >= 1 && y < height - 1) {
      const k0 = ky[0]!, k1 = ky[1]!, k2 = ky[2]!;
      const a = ((y - 1) % 3) * width, b = (y % 3) * width, c = ((y + 1) % 3) * width;
      for (let x = 0; x < width; x++) out[o + x] = k0 * ring[a + x]! + k1 * ring[b + x]! + k2 * ring[c + x]!;
      continue;
    }
    acc.fill(0);
    for (let j = 0; j < ny; j++) {
      const sy = y + j - cy;
      if (sy < 0 || sy >= height) continue;
      const kv = ky[j]!;
      if (kv === 0) continue;
      const r = (sy % ny) * width;
      for (let x = 0; x < width; x++) acc[x]! += kv * ring[r + x]!;
    }
    for (let x = 0; x < width; x++) out[o + x] = acc[x]!;
  }
  return out;
}

/** FFT tile size minimising (log2 N)·N² / (N − k + 1)² for a kernel extent k. */
function chooseTile(k: number, width: number, height: number): number {
  let best = 0, bestCost = Infinity;
  const maxN = Math.max(nextPow2(Math.max(width, height) + k), 32);
  for (let n = nextPow2(Math.max(2 * k, 16)); n <= Math.min(1024, maxN); n *= 2) {
    const valid = n - k + 1;
    const cost = (Math.log2(n) * n * n) / (valid * valid);
    if (cost < bestCost) { bestCost = cost; best = n; }
  }
  return best || nextPow2(2 * k);
}

/**
 * Correlation by FFT, overlap-save in N × N tiles (N a power of two chosen from the kernel
 * size), two real tiles per complex transform. Cost per pixel ~ log N, nearly independent of
 * the kernel size. Zero outside the image; identical to correlateDirect to rounding.
 */
export function correlateFFT(src: Float32Array, width: number, height: number, k: Kernel, out: Float32Array = new Float32Array(width * height)): Float32Array {
  const { width: kw, height: kh, data } = k;
  const cx = (kw - 1) >> 1, cy = (kh - 1) >> 1;
  const n = chooseTile(Math.max(kw, kh), width, height);
  const vx = n - kw + 1, vy = n - kh + 1; // valid outputs per tile
  const nn = n * n;
  // kernel spectrum: kk[(e mod n)] = k[e + c] for offsets e in [−c, k − 1 − c]
  const kr = new Float64Array(nn), ki = new Float64Array(nn);
  for (let j = 0; j < kh; j++) for (let i = 0; i < kw; i++) {
    const ey = (j - cy + n) % n, ex = (i - cx + n) % n;
    kr[ey * n + ex] = data[j * kw + i]!;
  }
  fft2dInPlace(kr, ki, n, false);
  const br = new Float64Array(nn), bi = new Float64Array(nn);
  const tiles: [number, number][] = [];
  for (let ty = 0; ty < height; ty += vy) for (let tx = 0; tx < width; tx += vx) tiles.push([tx, ty]);
  for (let t = 0; t < tiles.length; t += 2) {
    br.fill(0); bi.fill(0);
    loadTile(src, width, height, tiles[t]![0] - cx, tiles[t]![1] - cy, n, br);
    const second = t + 1 < tiles.length;
    if (second) loadTile(src, width, height, tiles[t + 1]![0] - cx, tiles[t + 1]![1] - cy, n, bi);
    fft2dInPlace(br, bi, n, false);
    // multiply by conj(K)
    for (let i = 0; i < nn; i++) {
      const a = br[i]!, b = bi[i]!, c = kr[i]!, d = -ki[i]!;
      br[i] = a * c - b * d;
      bi[i] = a * d + b * c;
    }
    fft2dInPlace(br, bi, n, true);
    storeTile(br, n, tiles[t]![0], tiles[t]![1], cx, cy, vx, vy, out, width, height);
    if (second) storeTile(bi, n, tiles[t + 1]![0], tiles[t + 1]![1], cx, cy, vx, vy, out, width, height);
  }
  return out;
}

/**
 * Copy the n×n window of `src` whose corner is (bx, by) into `dst` (0-based; the window may
 * hang over the image edges: those pixels of `dst` are left untouched, so zero it first).
 */
export function loadTile(src: Float32Array, width: number, height: number, bx: number, by: number, n: number, dst: Float64Array): void {
  for (let y = 0; y < n; y++) {
    const sy = by + y;
    if (sy < 0 || sy >= height) continue;
    const x0 = Math.max(0, -bx), x1 = Math.min(n, width - bx);
    const srow = sy * width + bx, drow = y * n;
    for (let x = x0; x < x1; x++) dst[drow + x] = src[srow + x]!;
  }
}

function storeTile(res: Float64Array, n: number, tx: number, ty: number, cx: number, cy: number, vx: number, vy: number, out: Float32Array, width: number, height: number): void {
  const w = Math.min(vx, width - tx), h = Math.min(vy, height - ty);
  for (let y = 0; y < h; y++) {
    const srow = (y + cy) * n + cx, drow = (ty + y) * width + tx;
    for (let x = 0; x < w; x++) out[drow + x] = res[srow + x]!;
  }
}

// 2-D FFT with the column pass done on transposed copies (rows are contiguous, cache-friendly)
let colR = new Float64Array(0), colI = new Float64Array(0);
function fft2dInPlace(re: Float64Array, im: Float64Array, n: number, inverse: boolean): void {
  for (let y = 0; y < n; y++) fftComplex(re, im, inverse, n, y * n, 1);
  if (colR.length < n) { colR = new Float64Array(n); colI = new Float64Array(n); }
  for (let x = 0; x < n; x++) {
    for (let y = 0; y < n; y++) { colR[y] = re[y * n + x]!; colI[y] = im[y * n + x]!; }
    fftComplex(colR, colI, inverse, n, 0, 1);
    for (let y = 0; y < n; y++) { re[y * n + x] = colR[y]!; im[y * n + x] = colI[y]!; }
  }
}

export type ConvolveMethod = 'auto' | 'direct' | 'separable' | 'fft';

/** Correlate choosing direct, separable or FFT by estimated cost (or as forced by method). */
export function correlate(src: Float32Array, width: number, height: number, k: Kernel, method: ConvolveMethod = 'auto', out?: Float32Array): Float32Array {
  const sep = method === 'auto' || method === 'separable' ? separate(k) : null;
  if (method === 'separable' && !sep) throw new RangeError('correlate: kernel is not separable');
  if (method === 'fft') return correlateFFT(src, width, height, k, out);
  if (method === 'direct') return correlateDirect(src, width, height, k, out);
  if (sep) {
    if (method === 'separable' || k.width + k.height <= 40) return correlateSeparable(src, width, height, sep.kx, sep.ky, out);
  }
  // direct costs ~kernel area per pixel; FFT ~ 4·log2(N)·(N/valid)² flops per pixel with two tiles per transform
  if (k.width * k.height <= 64) return correlateDirect(src, width, height, k, out);
  return correlateFFT(src, width, height, k, out);
}

/** Convolve (kernel flipped) choosing the method as `correlate` does. */
export function convolve(src: Float32Array, width: number, height: number, k: Kernel, method: ConvolveMethod = 'auto', out?: Float32Array): Float32Array {
  return correlate(src, width, height, flipKernel(k), method, out);
}

/**
 * Matched-filter detection map for a point source of profile k (a PSF stamp, centred, any
 * normalisation) on an image with per-pixel variance (zero/Infinity/NaN = no data):
 *   flux(x) = Σ k·d/σ² / Σ k²/σ²   (the best-fit amplitude × Σk, i.e. the flux when Σk = 1)
 *   snr(x)  = Σ k·d/σ² / √(Σ k²/σ²)
 * computed with two correlations. Returns both maps (Float32Array, width × height).
 */
export function matchedFilter(
  image: Float32Array, variance: Float32Array | number, width: number, height: number, k: Kernel, method: ConvolveMethod = 'auto',
): { flux: Float32Array; snr: Float32Array } {
  const n = width * height;
  const dw = new Float32Array(n), w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = typeof variance === 'number' ? variance : variance[i]!;
    const v = image[i]!;
    if (s > 0 && s < Infinity && v - v === 0) { w[i] = 1 / s; dw[i] = v / s; }
  }
  const k2: Kernel = { width: k.width, height: k.height, data: Float64Array.from(k.data, (x) => x * x) };
  const num = correlate(dw, width, height, k, method);
  const den = correlate(w, width, height, k2, method);
  const flux = new Float32Array(n), snr = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const D = den[i]!;
    if (D > 0) { flux[i] = num[i]! / D; snr[i] = num[i]! / Math.sqrt(D); }
  }
  return { flux, snr };
}
