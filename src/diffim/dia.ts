/**
 * Transient detection on a difference image: matched filter with the difference image's PSF,
 * positive and negative peaks, PSF flux with error (science counts), signed S/N, dipole pairing
 * with a two-PSF dipole fit, flags for masked/edge pixels, distances to the nearest template
 * source and reference star, and autoScan-like features for real/bogus scoring.
 *
 * Pixel convention: 0-based positions in the returned objects (the CLI adds 1).
 */
import type { MaskedImage } from '../image/masked-image.js';
import { MaskBits } from '../image/masked-image.js';
import { convolveSpatial } from './al/convolve.js';
import type { PsfLike } from '../detect/psf-like.js';

export const DIA_FLAGS = {
  /** A masked (NaN) pixel inside the PSF footprint. */
  MASKED: 1,
  /** Within a PSF radius of the image edge or of an undefined region. */
  EDGE: 2,
  /** Part of a dipole (a peak of the opposite sign within 2 FWHM). */
  DIPOLE: 4,
  /** Cosmic-ray or bad-pixel mask bits inside the footprint. */
  CR_BAD: 8,
} as const;

export interface DiaSource {
  x: number;
  y: number;
  flux: number;
  fluxErr: number;
  snr: number;
  flags: number;
  /** Dipole fit: fluxes of the positive and negative lobes and their separation (pixels). */
  dipolePos: number;
  dipoleNeg: number;
  dipoleSep: number;
  /** Distances (pixels) to the nearest template source / reference star (Infinity if none). */
  distTemplate: number;
  distRef: number;
  /** Feature vector (see FEATURE_NAMES). */
  features: Float64Array;
  rbScore: number;
}

export const FEATURE_NAMES = [
  'snr_abs', 'n2sig3', 'n3sig3', 'n2sig5', 'n3sig5', 'psf_chi2', 'ap_psf_ratio', 'diff_tmpl_ratio',
  'sharpness', 'ellipticity', 'size_ratio', 'mask_frac', 'col_med_ratio', 'dist_edge', 'dist_tmpl',
  'dist_ref', 'is_dipole', 'neg', 'peak_snr_ratio',
] as const;

export interface DiaOptions {
  /** Detection threshold on |S/N| of the matched filter (default 5). */
  thresh?: number;
  /** Template sources (0-based) for nearest-source distances. */
  templateSources?: { x: ArrayLike<number>; y: ArrayLike<number>; flux?: ArrayLike<number> };
  /** Reference-catalog stars in science pixels (0-based). */
  refStars?: { x: ArrayLike<number>; y: ArrayLike<number> };
  /** Matched template (science counts) for flux-ratio features. */
  matchedTemplate?: Float32Array;
  /** PSF FWHM of the difference image (pixels). */
  fwhmPix: number;
  /** Maximum number of sources kept (highest |S/N| first, default 5000). */
  maxSources?: number;
  /**
   * Precomputed significance and flux maps (ZOGY: S_corr and α·F_n): peaks are found on `snr`,
   * fluxes read at the peak pixel, errors = |flux/snr|.
   */
  maps?: { snr: Float32Array; flux: Float32Array };
}

/** A constant PSF given as a centred stamp (integer-pixel aligned; sub-pixel offsets ignored). */
export class StampPsf implements PsfLike {
  constructor(readonly data: Float32Array, readonly size: number, readonly fwhmPix: number) {}
  stampAt(_x: number, _y: number, size: number, out: Float32Array = new Float32Array(size * size)): Float32Array {
    out.fill(0);
    const h = (size - 1) >> 1, hs = (this.size - 1) >> 1;
    for (let j = -h; j <= h; j++) for (let i = -h; i <= h; i++) {
      if (Math.abs(i) > hs || Math.abs(j) > hs) continue;
      out[(j + h) * size + i + h] = this.data[(j + hs) * this.size + i + hs]!;
    }
    return out;
  }
  fwhmPixAt(): number { return this.fwhmPix; }
}

/** Nearest-neighbour distances through a uniform grid. */
class PointGrid {
  private cells = new Map<number, number[]>();
  constructor(private xs: ArrayLike<number>, private ys: ArrayLike<number>, private cell: number) {
    for (let i = 0; i < xs.length; i++) {
      const k = this.key(Math.floor(xs[i]! / cell), Math.floor(ys[i]! / cell));
      (this.cells.get(k) ?? this.cells.set(k, []).get(k)!).push(i);
    }
  }
  private key(i: number, j: number): number { return (j + 1000) * 100003 + (i + 1000); }
  nearest(x: number, y: number, maxRings = 6): number {
    const ci = Math.floor(x / this.cell), cj = Math.floor(y / this.cell);
    let best = Infinity;
    for (let r = 0; r <= maxRings; r++) {
      for (let j = cj - r; j <= cj + r; j++) for (let i = ci - r; i <= ci + r; i++) {
        if (Math.max(Math.abs(i - ci), Math.abs(j - cj)) !== r) continue;
        for (const p of this.cells.get(this.key(i, j)) ?? []) {
          const d = Math.hypot(this.xs[p]! - x, this.ys[p]! - y);
          if (d < best) best = d;
        }
      }
      if (best <= r * this.cell) break;
    }
    return best;
  }
}

/** Weighted linear least squares of amplitude(s): one PSF at (x, y). */
function psfFit(img: Float32Array, v: Float32Array, width: number, height: number, P: Float32Array, size: number, x: number, y: number): { flux: number; err: number; chi2: number; nBad: number } {
  const h = (size - 1) >> 1;
  const x0 = Math.round(x) - h, y0 = Math.round(y) - h;
  let spd = 0, spp = 0, nBad = 0;
  for (let j = 0; j < size; j++) {
    const yy = y0 + j;
    for (let i = 0; i < size; i++) {
      const xx = x0 + i;
      const p = P[j * size + i]!;
      if (xx < 0 || yy < 0 || xx >= width || yy >= height) { nBad++; continue; }
      const d = img[yy * width + xx]!, s = v[yy * width + xx]!;
      if (d !== d || !(s > 0)) { nBad++; continue; }
      spd += (p * d) / s; spp += (p * p) / s;
    }
  }
  const flux = spp > 0 ? spd / spp : NaN;
  let chi2 = 0, n = 0;
  for (let j = 0; j < size; j++) {
    const yy = y0 + j;
    if (yy < 0 || yy >= height) continue;
    for (let i = 0; i < size; i++) {
      const xx = x0 + i;
      if (xx < 0 || xx >= width) continue;
      const d = img[yy * width + xx]!, s = v[yy * width + xx]!;
      if (d !== d || !(s > 0)) continue;
      const r = d - flux * P[j * size + i]!;
      chi2 += (r * r) / s; n++;
    }
  }
  return { flux, err: spp > 0 ? 1 / Math.sqrt(spp) : NaN, chi2: n > 1 ? chi2 / (n - 1) : NaN, nBad };
}

/**
 * Detect positive and negative point sources on a difference image. The matched filter is the
 * correlation of D with the PSF; S/N = (D ⋆ P)/√(var·ΣP²) with the local variance.
 */
export function detectDiaSources(diff: MaskedImage, psf: PsfLike, opts: DiaOptions): DiaSource[] {
  const { width, height, image } = diff;
  const variance = diff.variance!;
  const mask = diff.mask;
  const thr = opts.thresh ?? 5;
  const fwhm = opts.fwhmPix;
  const size = 2 * Math.ceil(2 * fwhm) + 1;
  const h = (size - 1) >> 1;
  const P0 = psf.stampAt(Math.round((width - 1) / 2), Math.round((height - 1) / 2), size);
  let p2 = 0;
  for (const v of P0) p2 += v * v;
  let snr: Float32Array;
  if (opts.maps) snr = opts.maps.snr;
  else {
    const clean = new Float32Array(image.length);
    for (let i = 0; i < clean.length; i++) { const v = image[i]!; clean[i] = v === v ? v : 0; }
    // correlation with P = convolution with the flipped stamp (our tiled FFT)
    const flipped = new Float64Array(size * size);
    for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) flipped[(size - 1 - j) * size + (size - 1 - i)] = P0[j * size + i]!;
    const filt = convolveSpatial({ src: clean, width, height, terms: [{ kernel: flipped, size, ax: 0, ay: 0 }], cx: 0, cy: 0, sx: 1, sy: 1 });
    // S/N in place of the filtered image
    snr = filt;
    for (let i = 0; i < snr.length; i++) {
      const s = variance[i]!;
      snr[i] = image[i]! === image[i]! && s > 0 ? filt[i]! / Math.sqrt(s * p2) : 0;
    }
  }
  // peaks: local extrema of S/N in 5 × 5 above |thr|
  const peaks: { x: number; y: number; s: number }[] = [];
  for (let y = 2; y < height - 2; y++) {
    for (let x = 2; x < width - 2; x++) {
      const i = y * width + x;
      const s = snr[i]!;
      if (!(s >= thr || s <= -thr)) continue;
      let ext = true;
      for (let dy = -2; dy <= 2 && ext; dy++) for (let dx = -2; dx <= 2; dx++) {
        if (!dx && !dy) continue;
        const o = snr[i + dy * width + dx]!;
        if (s > 0 ? o > s : o < s) { ext = false; break; }
      }
      if (ext) peaks.push({ x, y, s });
    }
  }
  peaks.sort((a, b) => Math.abs(b.s) - Math.abs(a.s));
  peaks.length = Math.min(peaks.length, opts.maxSources ?? 5000);
  const tgrid = opts.templateSources && opts.templateSources.x.length ? new PointGrid(opts.templateSources.x, opts.templateSources.y, 32) : null;
  const rgrid = opts.refStars && opts.refStars.x.length ? new PointGrid(opts.refStars.x, opts.refStars.y, 32) : null;
  const out: DiaSource[] = [];
  const P = new Float32Array(size * size);
  for (const pk of peaks) {
    // sub-pixel position: quadratic interpolation of the S/N peak
    const i = pk.y * width + pk.x;
    const c = snr[i]!, l = snr[i - 1]!, r = snr[i + 1]!, u = snr[i - width]!, d = snr[i + width]!;
    const denx = l - 2 * c + r, deny = u - 2 * c + d;
    const ox = denx !== 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (l - r)) / denx)) : 0;
    const oy = deny !== 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (u - d)) / deny)) : 0;
    const x = pk.x + ox, y = pk.y + oy;
    psf.stampAt(x, y, size, P);
    const f = psfFit(image, variance, width, height, P, size, x, y);
    if (opts.maps) { f.flux = opts.maps.flux[i]!; f.err = Math.abs(f.flux / pk.s); }
    let flags = 0;
    if (f.nBad > 0) flags |= DIA_FLAGS.MASKED;
    if (x < size || y < size || x > width - 1 - size || y > height - 1 - size) flags |= DIA_FLAGS.EDGE;
    let nearNan = false, crBad = 0, nMasked = 0;
    const x0 = Math.round(x) - h, y0 = Math.round(y) - h;
    for (let j = -2; j < size + 2; j++) for (let q = -2; q < size + 2; q++) {
      const xx = x0 + q, yy = y0 + j;
      if (xx < 0 || yy < 0 || xx >= width || yy >= height) { nearNan = true; continue; }
      const k = yy * width + xx;
      if (image[k] !== image[k]) nearNan = true;
      if (mask && j >= 0 && j < size && q >= 0 && q < size) {
        if (mask[k]! & (MaskBits.CR | MaskBits.BAD | MaskBits.SAT)) crBad++;
        if (mask[k]! & ~(MaskBits.DETECTED | MaskBits.DETECTED_NEGATIVE)) nMasked++;
      }
    }
    if (nearNan) flags |= DIA_FLAGS.EDGE;
    if (crBad) flags |= DIA_FLAGS.CR_BAD;
    out.push({
      x, y, flux: f.flux, fluxErr: f.err, snr: f.flux / f.err, flags, dipolePos: NaN, dipoleNeg: NaN, dipoleSep: NaN,
      distTemplate: tgrid ? tgrid.nearest(x, y) : Infinity, distRef: rgrid ? rgrid.nearest(x, y) : Infinity,
      features: new Float64Array(FEATURE_NAMES.length), rbScore: NaN,
    });
    const src = out[out.length - 1]!;
    // features
    const F = src.features;
    computeFeatures(F, src, image, variance, mask, width, height, P, size, f.chi2, nMasked / (size * size), pk.s, opts.matchedTemplate, fwhm);
  }
  // dipoles: opposite-sign peaks within 2 FWHM; fit two PSFs of opposite sign (linear amplitudes at the two positions)
  const grid = new PointGrid(out.map((s) => s.x), out.map((s) => s.y), Math.max(4, 2 * fwhm));
  void grid;
  const rad = 2 * fwhm;
  for (let a = 0; a < out.length; a++) {
    const A = out[a]!;
    if (A.snr <= 0 || A.flags & DIA_FLAGS.DIPOLE) continue;
    let best = -1, bd = Infinity;
    for (let b = 0; b < out.length; b++) {
      const B = out[b]!;
      if (B.snr >= 0) continue;
      const dd = Math.hypot(A.x - B.x, A.y - B.y);
      if (dd < rad && dd < bd) { bd = dd; best = b; }
    }
    if (best < 0) continue;
    const B = out[best]!;
    const fit = dipoleFit(image, variance, width, height, psf, size, A.x, A.y, B.x, B.y);
    for (const S of [A, B]) {
      S.flags |= DIA_FLAGS.DIPOLE;
      S.dipolePos = fit.pos; S.dipoleNeg = fit.neg; S.dipoleSep = bd;
      S.features[FEATURE_NAMES.indexOf('is_dipole')] = 1;
    }
  }
  return out;
}

/** Two PSFs at fixed positions, amplitudes by weighted least squares. */
function dipoleFit(img: Float32Array, v: Float32Array, width: number, height: number, psf: PsfLike, size: number, xa: number, ya: number, xb: number, yb: number): { pos: number; neg: number } {
  const cx = Math.round((xa + xb) / 2), cy = Math.round((ya + yb) / 2);
  const big = size + 2 * Math.ceil(Math.max(Math.abs(xa - xb), Math.abs(ya - yb)));
  const bs = big | 1, hb = (bs - 1) >> 1, h = (size - 1) >> 1;
  const Pa = psf.stampAt(xa, ya, size), Pb = psf.stampAt(xb, yb, size);
  let aa = 0, bb = 0, ab = 0, ad = 0, bd = 0;
  for (let j = -hb; j <= hb; j++) for (let i = -hb; i <= hb; i++) {
    const xx = cx + i, yy = cy + j;
    if (xx < 0 || yy < 0 || xx >= width || yy >= height) continue;
    const d = img[yy * width + xx]!, s = v[yy * width + xx]!;
    if (d !== d || !(s > 0)) continue;
    const ua = xx - Math.round(xa) + h, va = yy - Math.round(ya) + h, ub = xx - Math.round(xb) + h, vb = yy - Math.round(yb) + h;
    const pa = ua >= 0 && va >= 0 && ua < size && va < size ? Pa[va * size + ua]! : 0;
    const pb = ub >= 0 && vb >= 0 && ub < size && vb < size ? Pb[vb * size + ub]! : 0;
    aa += (pa * pa) / s; bb += (pb * pb) / s; ab += (pa * pb) / s; ad += (pa * d) / s; bd += (pb * d) / s;
  }
  const det = aa * bb - ab * ab;
  if (!(det > 0)) return { pos: NaN, neg: NaN };
  return { pos: (bb * ad - ab * bd) / det, neg: (aa * bd - ab * ad) / det };
}

function computeFeatures(F: Float64Array, s: DiaSource, img: Float32Array, v: Float32Array, mask: Uint32Array | undefined, width: number, height: number, P: Float32Array, size: number, chi2: number, maskFrac: number, peakSnr: number, tmpl: Float32Array | undefined, fwhm: number): void {
  void mask;
  const h = (size - 1) >> 1;
  const xc = Math.round(s.x), yc = Math.round(s.y);
  const sign = s.snr >= 0 ? 1 : -1;
  // negative-pixel counts (in the sign-flipped sense: pixels opposite to the source) in 7×7 / 11×11
  let n2s3 = 0, n3s3 = 0, n2s5 = 0, n3s5 = 0;
  let ap = 0, apT = 0, cen = 0, ring = 0, sxx = 0, syy = 0, sxy = 0, sw = 0;
  for (let j = -5; j <= 5; j++) for (let i = -5; i <= 5; i++) {
    const xx = xc + i, yy = yc + j;
    if (xx < 0 || yy < 0 || xx >= width || yy >= height) continue;
    const k = yy * width + xx;
    const d = img[k]! * sign, sd = Math.sqrt(v[k]!);
    if (d !== d || !(sd > 0)) continue;
    const in3 = Math.abs(i) <= 3 && Math.abs(j) <= 3;
    if (d < -2 * sd) { n2s5++; if (in3) n2s3++; }
    if (d < -3 * sd) { n3s5++; if (in3) n3s3++; }
    const r2 = i * i + j * j;
    if (r2 <= fwhm * fwhm) { ap += d; if (tmpl) { const t = tmpl[k]!; if (t === t) apT += t; } }
    if (r2 === 0) cen = d;
    if (r2 >= 1 && r2 <= 2) ring += d / 8;
    if (d > 0 && r2 <= 4 * fwhm * fwhm) { sxx += d * i * i; syy += d * j * j; sxy += d * i * j; sw += d; }
  }
  const flux = Math.abs(s.flux);
  const mxx = sw > 0 ? sxx / sw : 0, myy = sw > 0 ? syy / sw : 0, mxy = sw > 0 ? sxy / sw : 0;
  const tr = mxx + myy, dt = Math.sqrt(Math.max(0, ((mxx - myy) / 2) ** 2 + mxy * mxy));
  const a2 = tr / 2 + dt, b2 = Math.max(tr / 2 - dt, 1e-6);
  // expected second moment of the PSF (for size ratio)
  let pxx = 0, pw = 0;
  for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) { const p = P[j * size + i]!; const r2 = (i - h) ** 2 + (j - h) ** 2; if (r2 <= 4 * fwhm * fwhm) { pxx += p * r2; pw += p; } }
  const psize = pw > 0 ? pxx / pw / 2 : 1;
  // bad-column test: median of the column through the source (away from it) relative to the noise
  let colAbove = 0, colN = 0;
  for (let j = -25; j <= 25; j++) {
    if (Math.abs(j) < 3 * fwhm) continue;
    const yy = yc + j;
    if (yy < 0 || yy >= height) continue;
    const k = yy * width + xc;
    const d = img[k]!, sd = Math.sqrt(v[k]!);
    if (d === d && sd > 0) { colAbove += (d * sign) / sd; colN++; }
  }
  const edge = Math.min(s.x, s.y, width - 1 - s.x, height - 1 - s.y);
  F[0] = Math.abs(s.snr);
  F[1] = n2s3; F[2] = n3s3; F[3] = n2s5; F[4] = n3s5;
  F[5] = Number.isFinite(chi2) ? Math.min(chi2, 100) : 100;
  F[6] = flux > 0 ? Math.max(-5, Math.min(5, ap / flux)) : 0;
  F[7] = tmpl ? Math.max(-10, Math.min(10, Math.log10(Math.abs(apT) + 1) - Math.log10(Math.abs(ap) + 1))) : 0;
  F[8] = cen > 0 ? Math.max(-5, Math.min(5, ring / cen)) : -5;
  F[9] = 1 - Math.sqrt(b2 / Math.max(a2, 1e-6));
  F[10] = Math.max(0, Math.min(5, tr / 2 / Math.max(psize, 1e-3)));
  F[11] = maskFrac;
  F[12] = colN ? colAbove / colN : 0;
  F[13] = Math.min(edge, 200);
  F[14] = Math.min(s.distTemplate, 200);
  F[15] = Math.min(s.distRef, 200);
  F[16] = 0;
  F[17] = s.snr < 0 ? 1 : 0;
  F[18] = s.snr !== 0 ? Math.max(0, Math.min(5, Math.abs(peakSnr / s.snr))) : 0;
}
