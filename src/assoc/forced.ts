/**
 * Forced PSF photometry at fixed sky positions on one image (a difference image, or a
 * calibrated direct image): sky → pixel through the image's WCS, the PSF rendered at that
 * position, and a linear least-squares fit of the PSF amplitude — optionally with a constant
 * local background — with uniform weights in the stamp and the error propagated from the
 * variance plane (see below). Every position is measured whether or not
 * anything was detected there: a non-detection is a flux near zero with its error.
 *
 * Pixel convention: positions passed to the PSF are 0-based (first pixel centre 0,0); the
 * x/y columns returned are FITS (first pixel centre 1,1).
 */
import { DEFAULT_BAD_MASK, MaskBits, type MaskedImage } from '../image/masked-image.js';
import { TesseraError } from '../util/errors.js';
import type { Wcs } from '../wcs/wcs.js';

/** Anything that renders a PSF stamp (PsfModel does): values are fractions of the total flux. */
export interface PsfLike {
  stampAt(x: number, y: number, size: number, out?: Float32Array): Float32Array;
  fwhmPix?: number;
  radiusPix?: number;
}

/** Flag bits of forced measurements. */
export const FORCED_FLAGS = {
  /** The position is not on the image (not measured). */
  OFF_IMAGE: 1,
  /** The fitting stamp is cut by the image edge or touches EDGE pixels. */
  EDGE: 2,
  /** Masked (BAD/CR/NO_DATA) pixels inside the PSF core were left out of the fit. */
  MASKED: 4,
  /** Saturated pixels inside the PSF core. */
  SATURATED: 8,
  /** No usable pixels: flux is NaN. */
  NO_DATA: 16,
} as const;

export interface ForcedOptions {
  /** Half-size of the fitting stamp in pixels (default: ⌈2·FWHM⌉ within the PSF model's radius, at least 3). */
  radiusPix?: number;
  /** Fit a constant background together with the PSF amplitude (default false: difference images have none). */
  fitBackground?: boolean;
  /** Mask bits that exclude a pixel (default DEFAULT_BAD_MASK). */
  badMask?: number;
  /** Core radius (pixels) in which masked/saturated pixels raise the MASKED/SATURATED flags (default 1·FWHM, at least 2). */
  coreRadiusPix?: number;
  /**
   * Gain (e⁻ per image count). When given, the source's own Poisson noise (flux·P/gain per pixel,
   * for a positive flux) is added to the error — variance planes built from sky and read noise
   * (as CP weight maps are) leave it out.
   */
  gain?: number;
}

export interface ForcedResult {
  n: number;
  /** FITS pixel position (NaN when the projection fails). */
  x: Float64Array;
  y: Float64Array;
  /** PSF flux and 1σ error in image counts. */
  flux: Float64Array;
  fluxErr: Float64Array;
  /** Fitted local background per pixel (0 without fitBackground). */
  background: Float64Array;
  /** Reduced χ² of the fit. */
  chi2: Float64Array;
  flags: Int32Array;
  /** Number of pixels used. */
  npix: Int32Array;
}

/** Half-size of the stamp used for a PSF. */
export function forcedRadius(psf: PsfLike, opts: ForcedOptions = {}): number {
  if (opts.radiusPix !== undefined) return Math.max(1, Math.round(opts.radiusPix));
  // 2·FWHM holds essentially all of a point source's S/N; the model's values are fractions of the
  // total flux, so fitting over a smaller stamp still returns the total flux.
  const fw = psf.fwhmPix !== undefined && Number.isFinite(psf.fwhmPix) && psf.fwhmPix > 0 ? Math.max(3, Math.ceil(2 * psf.fwhmPix)) : Infinity;
  if (psf.radiusPix !== undefined && Number.isFinite(psf.radiusPix)) return Math.max(3, Math.min(fw, Math.round(psf.radiusPix)));
  if (Number.isFinite(fw)) return fw;
  throw new TesseraError('forced photometry: the PSF gives neither a radius nor a FWHM; pass radiusPix');
}

/** FITS pixel positions of sky positions, and whether each falls on the image (pixel centre within [0.5, N+0.5)). */
export function pixelPositions(wcs: Wcs, ra: ArrayLike<number>, dec: ArrayLike<number>, width: number, height: number): { x: Float64Array; y: Float64Array; on: Uint8Array } {
  const n = ra.length;
  const p = wcs.skyToPix(ra, dec, 1);
  const x = Float64Array.from(p.x as ArrayLike<number>), y = Float64Array.from(p.y as ArrayLike<number>);
  const on = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const xi = x[i]!, yi = y[i]!;
    on[i] = xi >= 0.5 && xi < width + 0.5 && yi >= 0.5 && yi < height + 0.5 ? 1 : 0;
  }
  return { x, y, on };
}

/**
 * Measure PSF fluxes at pixel positions (FITS convention) on an image. Off-image positions get
 * flags OFF_IMAGE and NaN flux. The variance plane is required (a difference image has one).
 */
export function forcedPhotometryPixels(img: MaskedImage, psf: PsfLike, xFits: ArrayLike<number>, yFits: ArrayLike<number>, opts: ForcedOptions = {}): ForcedResult {
  const { width, height, image } = img;
  const variance = img.variance;
  if (!variance) throw new TesseraError('forced photometry needs a variance plane');
  const mask = img.mask;
  const n = xFits.length;
  const r = forcedRadius(psf, opts);
  const D = 2 * r + 1;
  const bad = opts.badMask ?? DEFAULT_BAD_MASK;
  const fwhm = psf.fwhmPix && Number.isFinite(psf.fwhmPix) ? psf.fwhmPix : r / 2;
  const core = opts.coreRadiusPix ?? Math.max(2, fwhm);
  const core2 = core * core;
  const fitBg = !!opts.fitBackground;
  const gain = opts.gain !== undefined && opts.gain > 0 && Number.isFinite(opts.gain) ? opts.gain : 0;
  const stamp = new Float32Array(D * D);
  const out: ForcedResult = {
    n, x: new Float64Array(n), y: new Float64Array(n), flux: new Float64Array(n), fluxErr: new Float64Array(n),
    background: new Float64Array(n), chi2: new Float64Array(n), flags: new Int32Array(n), npix: new Int32Array(n),
  };
  for (let i = 0; i < n; i++) {
    const xf = xFits[i]!, yf = yFits[i]!;
    out.x[i] = xf; out.y[i] = yf;
    const x = xf - 1, y = yf - 1;
    if (!(x >= -0.5 && x < width - 0.5 && y >= -0.5 && y < height - 0.5)) {
      out.flux[i] = NaN; out.fluxErr[i] = NaN; out.chi2[i] = NaN; out.background[i] = NaN; out.flags[i] = FORCED_FLAGS.OFF_IMAGE | FORCED_FLAGS.NO_DATA;
      continue;
    }
    psf.stampAt(x, y, D, stamp);
    const cx = Math.round(x), cy = Math.round(y);
    const x0 = cx - r, y0 = cy - r;
    let flags = 0;
    if (x0 < 0 || y0 < 0 || x0 + D > width || y0 + D > height) flags |= FORCED_FLAGS.EDGE;
    // normal equations: [spp spu; spu suu] [a b] = [spd sd]
    // Uniform weights inside the stamp, the error propagated with each pixel's variance. Where the
    // variance plane holds the sources' Poisson noise, 1/variance weights down-weight a bright
    // source's core and lean on the PSF wings, where the difference image's PSF model is least
    // accurate: on the demo's difference images that made bright fluxes 0.5–1% lower than uniform
    // weights. For sky-dominated stamps the two weightings are the same.
    let spp = 0, spu = 0, suu = 0, spd = 0, sd = 0, sp3 = 0, spv = 0, sppv = 0, sv = 0, sp2 = 0, npix = 0;
    const ja = Math.max(0, -y0), jb = Math.min(D, height - y0), ka = Math.max(0, -x0), kb = Math.min(D, width - x0);
    for (let j = ja; j < jb; j++) {
      const row = (y0 + j) * width + x0;
      const dyc = y0 + j - y;
      for (let k = ka; k < kb; k++) {
        const p = row + k;
        const v = variance[p]!, d = image[p]!;
        const m = mask ? mask[p]! : 0;
        if (m !== 0) {
          if (m & MaskBits.EDGE) flags |= FORCED_FLAGS.EDGE;
          const dxc = x0 + k - x;
          if (dxc * dxc + dyc * dyc <= core2) {
            if (m & MaskBits.SAT) flags |= FORCED_FLAGS.SATURATED;
            if (m & bad & ~MaskBits.SAT & ~MaskBits.EDGE) flags |= FORCED_FLAGS.MASKED;
          }
          if (m & bad) continue;
        }
        if (!(v > 0) || d !== d || v === Infinity) {
          const dxc = x0 + k - x;
          if (dxc * dxc + dyc * dyc <= core2) flags |= FORCED_FLAGS.MASKED;
          continue;
        }
        const P = stamp[j * D + k]!;
        spp += P * P; spd += P * d; sp3 += P * P * P; sppv += P * P * v;
        if (fitBg) { spu += P; suu += 1; sd += d; spv += P * v; sv += v; sp2 += P * P; }
        npix++;
      }
    }
    let a: number, b = 0, varA: number;
    if (fitBg) {
      const det = spp * suu - spu * spu;
      if (!(det > 0) || npix < 3) { a = NaN; varA = NaN; }
      else { a = (spd * suu - spu * sd) / det; b = (spp * sd - spu * spd) / det; varA = (suu * suu * sppv - 2 * suu * spu * spv + spu * spu * sv) / (det * det); }
    } else if (spp > 0) { a = spd / spp; varA = sppv / (spp * spp); }
    else { a = NaN; varA = NaN; }
    if (!Number.isFinite(a)) {
      out.flux[i] = NaN; out.fluxErr[i] = NaN; out.chi2[i] = NaN; out.background[i] = NaN; out.flags[i] = flags | FORCED_FLAGS.NO_DATA; out.npix[i] = npix;
      continue;
    }
    // χ²
    let c2 = 0;
    for (let j = ja; j < jb; j++) {
      const row = (y0 + j) * width + x0;
      for (let k = ka; k < kb; k++) {
        const p = row + k;
        const v = variance[p]!, d = image[p]!;
        if ((mask && (mask[p]! & bad)) || !(v > 0) || d !== d || v === Infinity) continue;
        const res = d - a * stamp[j * D + k]! - b;
        c2 += (res * res) / v;
      }
    }
    // source Poisson noise (variance a·P/gain per pixel) for a > 0: Var(a) += Σ r²·a·P/gain with
    // r the pixel's row of the least-squares solution
    if (gain > 0 && a > 0) {
      if (fitBg) { const det = spp * suu - spu * spu; varA += (a * (suu * suu * sp3 - 2 * suu * spu * sp2 + spu * spu * spu)) / gain / (det * det); }
      else varA += (a * sp3) / gain / (spp * spp);
    }
    const dof = npix - (fitBg ? 2 : 1);
    out.flux[i] = a; out.fluxErr[i] = Math.sqrt(varA); out.background[i] = b;
    out.chi2[i] = dof > 0 ? c2 / dof : NaN; out.flags[i] = flags; out.npix[i] = npix;
  }
  return out;
}

/** Measure PSF fluxes at sky positions (degrees) on an image with a WCS. */
export function forcedPhotometry(img: MaskedImage, psf: PsfLike, wcs: Wcs, ra: ArrayLike<number>, dec: ArrayLike<number>, opts: ForcedOptions = {}): ForcedResult {
  const p = wcs.skyToPix(ra, dec, 1);
  return forcedPhotometryPixels(img, psf, p.x as ArrayLike<number>, p.y as ArrayLike<number>, opts);
}

/** Counts → nanomaggies for a zero point (mag of 1 count): 10^((22.5 − ZP)/2.5). */
export function nanomaggiesPerCount(zeroPoint: number): number {
  return Math.pow(10, (22.5 - zeroPoint) / 2.5);
}

/** What one forced measurement row is about. */
export interface ForcedImageMeta {
  /** 'diff' (difference image) or 'calexp' (calibrated direct image). */
  imageType: 'diff' | 'calexp';
  mjd: number;
  band: string;
  expnum: number;
  ccd: number;
  /** Zero point: AB magnitude of 1 count on this image. */
  zeroPoint: number;
}

/** The forcedSource table (one row per diaObject and image). */
export interface ForcedSourceTable {
  n: number;
  diaObjectId: Float64Array;
  ra: Float64Array;
  dec: Float64Array;
  expnum: Int32Array;
  ccd: Int32Array;
  band: string[];
  mjd: Float64Array;
  imageType: string[];
  x: Float64Array;
  y: Float64Array;
  /** PSF flux and error in nanomaggies. */
  psfFlux: Float64Array;
  psfFluxErr: Float64Array;
  /** The same in image counts, and the zero point that converts them. */
  psfFluxCounts: Float64Array;
  psfFluxErrCounts: Float64Array;
  zeroPoint: Float64Array;
  background: Float64Array;
  chi2: Float64Array;
  flags: Int32Array;
}

/**
 * Forced photometry of diaObjects on one image: only the objects whose position falls on the
 * image are measured (every one of them, detected or not), and returned as forcedSource rows.
 */
export function forcedSourcesOnImage(
  img: MaskedImage, psf: PsfLike, wcs: Wcs,
  objects: { n: number; diaObjectId: ArrayLike<number>; ra: ArrayLike<number>; dec: ArrayLike<number> },
  meta: ForcedImageMeta, opts: ForcedOptions = {},
): ForcedSourceTable {
  if (!Number.isFinite(meta.zeroPoint)) throw new TesseraError(`forced photometry of exposure ${meta.expnum} CCD ${meta.ccd}: zero point is not a number`);
  const pos = pixelPositions(wcs, objects.ra, objects.dec, img.width, img.height);
  const rows: number[] = [];
  for (let i = 0; i < objects.n; i++) if (pos.on[i]) rows.push(i);
  const xs = Float64Array.from(rows, (i) => pos.x[i]!), ys = Float64Array.from(rows, (i) => pos.y[i]!);
  const res = forcedPhotometryPixels(img, psf, xs, ys, opts);
  const m = rows.length;
  const s = nanomaggiesPerCount(meta.zeroPoint);
  const t: ForcedSourceTable = {
    n: m, diaObjectId: new Float64Array(m), ra: new Float64Array(m), dec: new Float64Array(m), expnum: new Int32Array(m).fill(meta.expnum),
    ccd: new Int32Array(m).fill(meta.ccd), band: new Array<string>(m).fill(meta.band), mjd: new Float64Array(m).fill(meta.mjd),
    imageType: new Array<string>(m).fill(meta.imageType), x: res.x, y: res.y, psfFlux: new Float64Array(m), psfFluxErr: new Float64Array(m),
    psfFluxCounts: res.flux, psfFluxErrCounts: res.fluxErr, zeroPoint: new Float64Array(m).fill(meta.zeroPoint),
    background: res.background, chi2: res.chi2, flags: res.flags,
  };
  for (let j = 0; j < m; j++) {
    const i = rows[j]!;
    t.diaObjectId[j] = objects.diaObjectId[i]!; t.ra[j] = objects.ra[i]!; t.dec[j] = objects.dec[i]!;
    t.psfFlux[j] = res.flux[j]! * s; t.psfFluxErr[j] = res.fluxErr[j]! * s;
  }
  return t;
}

/** Concatenate forcedSource tables. */
export function concatForced(parts: ForcedSourceTable[]): ForcedSourceTable {
  const n = parts.reduce((a, p) => a + p.n, 0);
  const f64 = (): Float64Array => new Float64Array(n);
  const t: ForcedSourceTable = {
    n, diaObjectId: f64(), ra: f64(), dec: f64(), expnum: new Int32Array(n), ccd: new Int32Array(n), band: [], mjd: f64(), imageType: [],
    x: f64(), y: f64(), psfFlux: f64(), psfFluxErr: f64(), psfFluxCounts: f64(), psfFluxErrCounts: f64(), zeroPoint: f64(),
    background: f64(), chi2: f64(), flags: new Int32Array(n),
  };
  let o = 0;
  for (const p of parts) {
    for (const k of ['diaObjectId', 'ra', 'dec', 'expnum', 'ccd', 'mjd', 'x', 'y', 'psfFlux', 'psfFluxErr', 'psfFluxCounts', 'psfFluxErrCounts', 'zeroPoint', 'background', 'chi2', 'flags'] as const) {
      (t[k] as Float64Array).set((p[k] as Float64Array).subarray(0, p.n), o);
    }
    for (let i = 0; i < p.n; i++) { t.band.push(p.band[i]!); t.imageType.push(p.imageType[i]!); }
    o += p.n;
  }
  return t;
}
