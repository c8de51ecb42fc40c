/**
 * Simulated CCD images with known truth for detection tests and benchmarks: Gaussian or Moffat
 * stars (pixel-integrated), optional exponential galaxies, a background with a gradient, and
 * Gaussian noise of the sky + Poisson variance. Galaxies are convolved with the PSF. Deterministic (seeded).
 * Positions in the truth are 0-based pixel coordinates.
 */

import { GaussianPsf, MoffatPsf } from '../../src/detect/psf-like.js';
import { correlateFFT } from '../../src/image/convolve.js';
import { rng } from '../helpers.js';

export { rng };

export function gaussianRng(u: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) { const s = spare; spare = null; return s; }
    let a = 0;
    while (a === 0) a = u();
    const b = u();
    const r = Math.sqrt(-2 * Math.log(a));
    spare = r * Math.sin(2 * Math.PI * b);
    return r * Math.cos(2 * Math.PI * b);
  };
}

/** erf with |error| < 1.2e-7 (Numerical Recipes erfc Chebyshev fit). */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
}

export interface Star { x: number; y: number; flux: number }

export interface SimOptions {
  width: number;
  height: number;
  stars: Star[];
  /** 'gaussian' (exact pixel integration) or 'moffat' (β = 3, sub-sampled). */
  profile?: 'gaussian' | 'moffat';
  fwhm?: number;
  /** Sky level and gradient per pixel along x and y. */
  sky?: number;
  skyGradX?: number;
  skyGradY?: number;
  /** Read noise σ (ADU); the noise variance is readNoise² + (sky + signal)/gain. */
  readNoise?: number;
  gain?: number;
  seed?: number;
  /** Exponential galaxies: positions, fluxes, scale lengths (px), axis ratios, angles. */
  galaxies?: { x: number; y: number; flux: number; h: number; q: number; theta: number }[];
}

export interface SimImage {
  width: number;
  height: number;
  image: Float32Array;
  /** The noiseless model (sky + sources). */
  model: Float32Array;
  /** The true noise variance per pixel. */
  variance: Float32Array;
  sky: Float32Array;
}

/** Add a pixel-integrated source (flux 1 profile scaled) into `out`. */
function addGaussian(out: Float32Array, w: number, h: number, xc: number, yc: number, flux: number, sigma: number): void {
  const r = Math.ceil(sigma * 6 + 2);
  const x0 = Math.max(0, Math.floor(xc) - r), x1 = Math.min(w - 1, Math.floor(xc) + r);
  const y0 = Math.max(0, Math.floor(yc) - r), y1 = Math.min(h - 1, Math.floor(yc) + r);
  const s = Math.SQRT2 * sigma;
  const fx = new Float64Array(x1 - x0 + 1);
  for (let x = x0; x <= x1; x++) fx[x - x0] = 0.5 * (erf((x + 0.5 - xc) / s) - erf((x - 0.5 - xc) / s));
  for (let y = y0; y <= y1; y++) {
    const fy = 0.5 * (erf((y + 0.5 - yc) / s) - erf((y - 0.5 - yc) / s));
    const row = y * w;
    for (let x = x0; x <= x1; x++) out[row + x]! += flux * fy * fx[x - x0]!;
  }
}

function addProfile(out: Float32Array, w: number, h: number, xc: number, yc: number, flux: number, radius: number, prof: (dx: number, dy: number) => number, norm: number, sub: number): void {
  const x0 = Math.max(0, Math.floor(xc - radius)), x1 = Math.min(w - 1, Math.ceil(xc + radius));
  const y0 = Math.max(0, Math.floor(yc - radius)), y1 = Math.min(h - 1, Math.ceil(yc + radius));
  const scale = flux / norm;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const dx0 = x - xc, dy0 = y - yc;
      const near = dx0 * dx0 + dy0 * dy0 < 36;
      const ns = near ? sub : 1;
      let s = 0;
      for (let b = 0; b < ns; b++) for (let a = 0; a < ns; a++) s += prof(dx0 + (a + 0.5) / ns - 0.5, dy0 + (b + 0.5) / ns - 0.5);
      out[y * w + x]! += (scale * s) / (ns * ns);
    }
  }
}

export function simulate(o: SimOptions): SimImage {
  const { width: w, height: h } = o;
  const n = w * h;
  const fwhm = o.fwhm ?? 4;
  const sky = o.sky ?? 1000;
  const gx = o.skyGradX ?? 0, gy = o.skyGradY ?? 0;
  const gain = o.gain ?? 1;
  const rn = o.readNoise ?? 5;
  const skyMap = new Float32Array(n);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) skyMap[y * w + x] = sky + gx * (x - w / 2) + gy * (y - h / 2);
  const model = Float32Array.from(skyMap);
  const sigma = fwhm / 2.3548;
  if ((o.profile ?? 'gaussian') === 'gaussian') {
    for (const s of o.stars) addGaussian(model, w, h, s.x, s.y, s.flux, sigma);
  } else {
    const beta = 3;
    const alpha = fwhm / (2 * Math.sqrt(2 ** (1 / beta) - 1));
    const a2 = alpha * alpha;
    const norm = (Math.PI * a2) / (beta - 1);
    const prof = (dx: number, dy: number) => (1 + (dx * dx + dy * dy) / a2) ** -beta;
    for (const s of o.stars) {
      // radius where the profile × flux falls below 0.02 ADU
      const rr = Math.min(200, Math.max(4 * fwhm, alpha * Math.sqrt(Math.pow(s.flux / norm / 0.02, 1 / beta))));
      addProfile(model, w, h, s.x, s.y, s.flux, rr, prof, norm, 5);
    }
  }
  // galaxies: rendered on their own plane, then convolved with the PSF (FFT)
  const galPlane = new Float32Array(n);
  for (const g of o.galaxies ?? []) {
    const c = Math.cos(g.theta), sn = Math.sin(g.theta);
    const prof = (dx: number, dy: number) => {
      const u = dx * c + dy * sn, v = (-dx * sn + dy * c) / g.q;
      return Math.exp(-Math.sqrt(u * u + v * v) / g.h);
    };
    addProfile(galPlane, w, h, g.x, g.y, g.flux, 8 * g.h + 3, prof, 2 * Math.PI * g.h * g.h * g.q, 5);
  }
  if (o.galaxies?.length) {
    const size = 2 * Math.ceil(4 * fwhm) + 1;
    const psf = (o.profile ?? 'gaussian') === 'gaussian' ? new GaussianPsf(fwhm) : new MoffatPsf(fwhm, 3);
    const k = psf.stampAt(0, 0, size);
    const conv = correlateFFT(galPlane, w, h, { width: size, height: size, data: k });
    for (let i = 0; i < n; i++) model[i]! += conv[i]!;
  }
  const variance = new Float32Array(n);
  const image = new Float32Array(n);
  const gr = gaussianRng(rng(o.seed ?? 1));
  for (let i = 0; i < n; i++) {
    const v = rn * rn + Math.max(model[i]!, 0) / gain;
    variance[i] = v;
    image[i] = model[i]! + Math.sqrt(v) * gr();
  }
  return { width: w, height: h, image, model, variance, sky: skyMap };
}

/** Random star positions (uniform, away from edges by `margin`) with log-uniform fluxes. */
export function randomStars(count: number, w: number, h: number, fluxMin: number, fluxMax: number, seed = 7, margin = 10): Star[] {
  const u = rng(seed);
  const out: Star[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      x: margin + u() * (w - 2 * margin),
      y: margin + u() * (h - 2 * margin),
      flux: fluxMin * Math.pow(fluxMax / fluxMin, u()),
    });
  }
  return out;
}

/** Nearest-neighbour matching of detections (0-based x, y) to truth within `radius`; one-to-one greedy. */
export function matchPositions(tx: ArrayLike<number>, ty: ArrayLike<number>, dx: ArrayLike<number>, dy: ArrayLike<number>, radius: number): Int32Array {
  // returns for each truth index the matched detection index or −1
  const cell = Math.max(radius, 1);
  const grid = new Map<number, number[]>();
  for (let j = 0; j < dx.length; j++) {
    const k = Math.floor(dy[j]! / cell) * 100000 + Math.floor(dx[j]! / cell);
    const l = grid.get(k); if (l) l.push(j); else grid.set(k, [j]);
  }
  const pairs: [number, number, number][] = [];
  for (let i = 0; i < tx.length; i++) {
    const cx = Math.floor(tx[i]! / cell), cy = Math.floor(ty[i]! / cell);
    for (let a = -1; a <= 1; a++) for (let b = -1; b <= 1; b++) {
      const l = grid.get((cy + a) * 100000 + cx + b);
      if (!l) continue;
      for (const j of l) {
        const d2 = (dx[j]! - tx[i]!) ** 2 + (dy[j]! - ty[i]!) ** 2;
        if (d2 <= radius * radius) pairs.push([d2, i, j]);
      }
    }
  }
  pairs.sort((p, q) => p[0] - q[0]);
  const mt = new Int32Array(tx.length).fill(-1);
  const used = new Uint8Array(dx.length);
  for (const [, i, j] of pairs) if (mt[i] === -1 && !used[j]) { mt[i] = j; used[j] = 1; }
  return mt;
}
