/**
 * Simulated science/template pairs with truth, for tests, benchmarks and real/bogus training:
 * the same star field rendered with two Gaussian PSFs, a photometric scaling, different
 * backgrounds (with a gradient), Poisson + read noise, a small registration error of the
 * template, transients (positive and fading) added to the science image, and optional
 * artefacts (cosmic rays, a bad column, a masked NaN region).
 *
 * Pixel convention: 0-based positions in the truth tables (centre of the first pixel = 0, 0).
 */
import { MaskBits } from '../image/masked-image.js';

/** Deterministic PRNG (mulberry32) with normal deviates. */
export class Rng {
  private s: number;
  private spare: number | null = null;
  constructor(seed: number) { this.s = seed >>> 0 || 1; }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    if (this.spare !== null) { const v = this.spare; this.spare = null; return v; }
    let u = 0, v = 0, s = 0;
    do { u = 2 * this.next() - 1; v = 2 * this.next() - 1; s = u * u + v * v; } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spare = v * f;
    return u * f;
  }
}

function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26 is too coarse for photometry at 1e-4; use a high-precision series/continued form
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y = 1 - t * Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? y : -y;
}

/** Pixel-integrated 1-D Gaussian weights for pixels x0..x0+n−1 around centre c. */
function gauss1d(c: number, sigma: number, x0: number, n: number, out: Float64Array): void {
  const k = 1 / (Math.SQRT2 * sigma);
  let prev = erf((x0 - 0.5 - c) * k);
  for (let i = 0; i < n; i++) {
    const cur = erf((x0 + i + 0.5 - c) * k);
    out[i] = 0.5 * (cur - prev);
    prev = cur;
  }
}

/** Add a pixel-integrated Gaussian point source of total flux `flux` at (x, y) (0-based). */
export function addGaussian(img: Float32Array, width: number, height: number, x: number, y: number, flux: number, fwhmPix: number, radius = Math.ceil(2.5 * fwhmPix) + 3): void {
  const sigma = fwhmPix / 2.3548200450309493;
  const x0 = Math.max(0, Math.round(x) - radius), x1 = Math.min(width - 1, Math.round(x) + radius);
  const y0 = Math.max(0, Math.round(y) - radius), y1 = Math.min(height - 1, Math.round(y) + radius);
  if (x1 < x0 || y1 < y0) return;
  const gx = new Float64Array(x1 - x0 + 1), gy = new Float64Array(y1 - y0 + 1);
  gauss1d(x, sigma, x0, gx.length, gx);
  gauss1d(y, sigma, y0, gy.length, gy);
  for (let j = 0; j < gy.length; j++) {
    const row = (y0 + j) * width + x0, f = flux * gy[j]!;
    for (let i = 0; i < gx.length; i++) img[row + i]! += f * gx[i]!;
  }
}

export interface PairOptions {
  width?: number;
  height?: number;
  seed?: number;
  nStars?: number;
  /** Star fluxes in template counts: power law between these (default 300 .. 3e5). */
  fluxRange?: [number, number];
  fwhmSci?: number;
  fwhmTmpl?: number;
  /** Science / template flux ratio (the true kernel sum). */
  fluxRatio?: number;
  skySci?: number;
  skyTmpl?: number;
  /** Background gradient across the image, science only (counts). */
  skyGradient?: number;
  gain?: number;
  readNoise?: number;
  /** Template noise scale (< 1: a deeper template): template noise is multiplied by this. */
  tmplNoise?: number;
  /** Registration error of the template (pixels): its stars sit at (x + dx, y + dy). */
  shift?: [number, number];
  /** Transients: positive (new source) in science counts. */
  transients?: { x: number; y: number; flux: number }[];
  /** Stars that fade: science flux = fluxRatio·flux·(1 − fade). */
  fading?: { index: number; fade: number }[];
  /** Misregistered stars (dipole artefacts): science position offset by (dx, dy) pixels. */
  movers?: { index: number; dx: number; dy: number }[];
  /** Stars with a locally wrong PSF in the science image (bright-star residuals): FWHM × scale. */
  wideStars?: { index: number; scale: number }[];
  /** Artefacts in the science image. */
  cosmicRays?: number;
  badColumn?: number;
  /** A NaN/NO_DATA rectangle in the template [x0, y0, x1, y1). */
  nanRect?: [number, number, number, number];
}

export interface SimImage {
  width: number;
  height: number;
  image: Float32Array;
  variance: Float32Array;
  mask: Uint32Array;
  fwhmPix: number;
}

export interface SimPair {
  science: SimImage;
  template: SimImage;
  /** Star positions on the science grid (0-based) and template-count fluxes. */
  stars: { x: number; y: number; flux: number }[];
  transients: { x: number; y: number; flux: number }[];
  cosmicRays: { x: number; y: number; flux: number }[];
  opts: Required<Omit<PairOptions, 'transients' | 'fading' | 'nanRect' | 'badColumn' | 'movers' | 'wideStars'>> & PairOptions;
}

export function simulatePair(o: PairOptions = {}): SimPair {
  const width = o.width ?? 512, height = o.height ?? 512;
  const rng = new Rng(o.seed ?? 1);
  const opts = {
    width, height, seed: o.seed ?? 1, nStars: o.nStars ?? Math.round((width * height) / 2000),
    fluxRange: o.fluxRange ?? [300, 3e5] as [number, number],
    fwhmSci: o.fwhmSci ?? 4.7, fwhmTmpl: o.fwhmTmpl ?? 3.0, fluxRatio: o.fluxRatio ?? 1.2,
    skySci: o.skySci ?? 1000, skyTmpl: o.skyTmpl ?? 500, skyGradient: o.skyGradient ?? 50,
    gain: o.gain ?? 4, readNoise: o.readNoise ?? 5, tmplNoise: o.tmplNoise ?? 0.5,
    shift: o.shift ?? [0.1, -0.08] as [number, number], cosmicRays: o.cosmicRays ?? 0,
    transients: o.transients, fading: o.fading, nanRect: o.nanRect, badColumn: o.badColumn,
  };
  const n = width * height;
  const stars: { x: number; y: number; flux: number }[] = [];
  const [f0, f1] = opts.fluxRange;
  // dN/dF ∝ F^-2 (N(>F) ∝ 1/F), a reasonable bright-star count
  for (let i = 0; i < opts.nStars; i++) {
    const u = rng.next();
    const flux = 1 / (1 / f0 - u * (1 / f0 - 1 / f1));
    stars.push({ x: rng.next() * (width - 1), y: rng.next() * (height - 1), flux });
  }
  const fade = new Map<number, number>();
  for (const f of opts.fading ?? []) fade.set(f.index, f.fade);
  const move = new Map<number, [number, number]>();
  for (const m of o.movers ?? []) move.set(m.index, [m.dx, m.dy]);
  const wide = new Map<number, number>();
  for (const w of o.wideStars ?? []) wide.set(w.index, w.scale);
  const sciSig = new Float32Array(n), tmplSig = new Float32Array(n);
  for (let i = 0; i < stars.length; i++) {
    const s = stars[i]!;
    addGaussian(tmplSig, width, height, s.x + opts.shift[0], s.y + opts.shift[1], s.flux, opts.fwhmTmpl);
    const mv = move.get(i) ?? [0, 0];
    addGaussian(sciSig, width, height, s.x + mv[0], s.y + mv[1], s.flux * opts.fluxRatio * (1 - (fade.get(i) ?? 0)), opts.fwhmSci * (wide.get(i) ?? 1));
  }
  const transients = opts.transients ?? [];
  for (const t of transients) addGaussian(sciSig, width, height, t.x, t.y, t.flux, opts.fwhmSci);
  const mk = (sig: Float32Array, sky: number, grad: number, noiseScale: number, fwhm: number): SimImage => {
    const image = new Float32Array(n), variance = new Float32Array(n), mask = new Uint32Array(n);
    const rn2 = opts.readNoise * opts.readNoise;
    for (let y = 0; y < height; y++) {
      const b = sky + grad * (y / height - 0.5);
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        const s = sig[i]!;
        const v = ((b + Math.max(s, 0)) / opts.gain + rn2) * noiseScale * noiseScale;
        variance[i] = v;
        image[i] = b + s + Math.sqrt(v) * rng.normal();
      }
    }
    return { width, height, image, variance, mask, fwhmPix: fwhm };
  };
  const science = mk(sciSig, opts.skySci, opts.skyGradient, 1, opts.fwhmSci);
  const template = mk(tmplSig, opts.skyTmpl, 0, opts.tmplNoise, opts.fwhmTmpl);
  const cosmicRays: { x: number; y: number; flux: number }[] = [];
  for (let i = 0; i < opts.cosmicRays; i++) {
    const x = Math.floor(rng.next() * width), y = Math.floor(rng.next() * height);
    const flux = 500 + rng.next() * 5000;
    cosmicRays.push({ x, y, flux });
    science.image[y * width + x]! += flux;
    if (rng.next() < 0.5 && x + 1 < width) science.image[y * width + x + 1]! += flux * 0.4;
  }
  if (opts.badColumn !== undefined) {
    const x = opts.badColumn;
    for (let y = 0; y < height; y++) science.image[y * width + x]! += 400;
  }
  if (opts.nanRect) {
    const [x0, y0, x1, y1] = opts.nanRect;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) { template.image[y * width + x] = NaN; template.mask[y * width + x] = MaskBits.NO_DATA; }
  }
  return { science, template, stars, transients, cosmicRays, opts };
}
