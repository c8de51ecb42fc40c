/**
 * LSST-style coadd templates: calibrated CCDs warped onto a patch or brick grid, scaled to a
 * common zero point, and combined as an inverse-variance weighted mean with optional outlier
 * rejection; with variance, mask and exposure-count planes and a coadd PSF model.
 *
 * Units. Inputs are counts per pixel with a zero point MAGZERO (AB mag of 1 count). Each input
 * is scaled by s = 10^(0.4·(magzero_out − MAGZERO)) so the coadd is in the units of `magzero`
 * (default 22.5: nanomaggies per pixel), variance by s².
 *
 * Weights. `weighting: 'image'` (default, as LSST's AssembleCoadd): one weight per input,
 * 1 / median(scaled variance) over its warped pixels, so bright stars (whose Poisson noise is in
 * the variance plane) are not down-weighted pixel by pixel, which would bias their fluxes; and
 * the coadd PSF is then exactly the weighted sum of the input PSFs. `'pixel'`: 1/variance per
 * pixel (lowest noise, slight flux bias on bright sources).
 *
 * Outlier rejection (`clip`, default on when at least 3 inputs cover a pixel): an input pixel is
 * rejected when it exceeds the per-pixel median of the inputs by more than `nsigma`·σ_i (default 5)
 * AND by more than `frac` (default 1) times the larger of |median| and the median image's
 * local maximum within ±1 px — positive outliers only (cosmic rays, satellite trails, asteroids,
 * transients). The fractional test keeps star cores of sharper inputs and wings of blurrier
 * inputs, which legitimately differ from the median by much more than the noise; the price is
 * that a cosmic ray on top of a star survives unless it exceeds the star's local level. Rejections are grown by `grow` pixels in the same input (the Lanczos
 * ringing around a sharp cosmic ray). Rejected pixels do not count in NEXP.
 *
 * Planes. IMAGE = Σ w_i v_i / Σ w_i; VARIANCE = Σ w_i² var_i / (Σ w_i)² (per pixel; warped noise
 * is correlated, see warp.ts); NEXP = number of inputs used; MASK = NO_DATA where no input
 * contributes (image and variance NaN), else the OR of the used inputs' bits (and of all inputs'
 * bits where none could be used).
 *
 * Coadd PSF. On an nx × ny grid of positions, each covering input's PSF is rendered at the
 * corresponding input position, warped to the coadd frame through the local Jacobian of the
 * coadd → input pixel map (Lanczos-3, flux-conserving), and summed with the input weights. A
 * src/psf PsfModel (pixel basis, sampling 1, polynomial variation of `degree` over the coadd) is
 * fitted to these stamps by least squares, so it serialises as the same PSF HDU as single CCDs
 * (psfToHdu / psfFromHdu) and `tessera diff` reads it. Where the set of inputs changes abruptly
 * (CCD edges) a low-order polynomial smooths the PSF over the jump; use a finer grid and a
 * higher degree, or PSF homogenisation, when that matters.
 *
 * PSF homogenisation (`homogenize: { fwhmPix }`): each warped input is convolved, before
 * stacking, with a Gaussian of σ_k² = σ_target² − σ_input² (σ_input from the input PSF's FWHM,
 * converted to coadd pixels), so every input has approximately a Gaussian PSF of the target FWHM
 * — exact for Gaussian input PSFs, approximate (core matched, wings not) for others. The coadd
 * PSF is then computed as above from the convolved input PSFs, so it stays consistent.
 *
 * Processing goes in strips of rows (`stripRows`, default 512): without clipping each input is
 * warped, accumulated and dropped in turn (memory: one warp per strip); with clipping all inputs
 * overlapping a strip are held at once (memory: number of inputs × strip). Strips overlap by the
 * rows that clipping (median neighbourhood and growth) and the homogenisation kernel reach, so
 * the result does not depend on the strip size beyond the pixel map's interpolation tolerance.
 * Pixel convention: 0-based.
 */
import { MaskBits, type MaskedImage } from '../image/masked-image.js';
import { MAD_TO_SIGMA, medianInPlace } from '../image/stats.js';
import { gaussianKernel, convolve } from '../image/convolve.js';
import { lanczos3 } from '../image/resample.js';
import type { PsfLike } from '../detect/psf-like.js';
import { PsfModel, nPolyTerms, polyTerms, stampShape } from '../psf/model.js';
import { solveSym } from '../psf/fit.js';
import type { Wcs } from '../wcs/wcs.js';
import { TesseraError } from '../util/errors.js';
import { DEFAULT_EXCLUDE, warpMaskedImage, type WarpOptions } from './warp.js';

export interface CoaddInput {
  /** Calibrated CCD: counts per pixel, variance (estimated from the pixels when absent), mask. */
  image: MaskedImage;
  wcs: Wcs;
  /** AB magnitude of one count. */
  magzero: number;
  psf?: PsfLike;
  /** Name for errors and provenance (file[HDU]). */
  id?: string;
}

export interface ClipOptions {
  /** Minimum number of inputs at a pixel for rejection (default 3). */
  minInputs?: number;
  nsigma?: number;
  frac?: number;
  grow?: number;
}

export interface CoaddOptions {
  /** Output zero point (default 22.5: nanomaggies). */
  magzero?: number;
  weighting?: 'image' | 'pixel';
  /** Outlier rejection (default on; false to disable). */
  clip?: boolean | ClipOptions;
  /** Input mask bits that exclude a pixel (default NO_DATA | BAD | SAT | CR | EDGE). */
  badMask?: number;
  /** Coadd PSF: grid of positions (default 5 × 5), stamp size (odd, default from the FWHMs), polynomial degree (default 2). */
  psf?: { nx?: number; ny?: number; size?: number; degree?: number } | false;
  /** Convolve every input to a Gaussian PSF of this FWHM (coadd pixels) before stacking. */
  homogenize?: { fwhmPix: number };
  /** Rows per processing strip (default 512). */
  stripRows?: number;
  warp?: WarpOptions;
}

export interface CoaddInputInfo {
  id: string;
  magzero: number;
  /** Flux scale applied (coadd units per count). */
  scale: number;
  /** Weight (image weighting; relative). */
  weight: number;
  /** Coadd pixels covered. */
  pixels: number;
  /** PSF FWHM in coadd pixels at the centre of its overlap (NaN without a PSF). */
  fwhmPix: number;
}

export interface Coadd {
  width: number;
  height: number;
  wcs: Wcs;
  magzero: number;
  image: Float32Array;
  variance: Float32Array;
  mask: Uint32Array;
  nexp: Uint16Array;
  psf?: PsfModel;
  inputs: CoaddInputInfo[];
  /** Pixels rejected by clipping (summed over inputs). */
  rejected: number;
  /** Mean per-pixel variance factor Σw² of the warps (noise is correlated; see warp.ts). */
  varianceFactor: number;
}

/** Half-size of the box over which the median image's local maximum sets the fractional clipping tolerance. */
const LOCAL_MAX_RADIUS = 1;

const DEFAULT_BAD = MaskBits.NO_DATA | MaskBits.BAD | MaskBits.SAT | MaskBits.CR | MaskBits.EDGE;

/** Robust σ of an image (MAD of up to 200k finite pixels). */
function robustSigma(img: Float32Array): number {
  const stride = Math.max(1, Math.floor(img.length / 200000));
  const v: number[] = [];
  for (let i = 0; i < img.length; i += stride) if (Number.isFinite(img[i]!)) v.push(img[i]!);
  if (v.length < 10) return NaN;
  const a = Float64Array.from(v);
  const med = medianInPlace(Float64Array.from(a));
  for (let i = 0; i < a.length; i++) a[i] = Math.abs(a[i]! - med);
  return medianInPlace(a) * MAD_TO_SIGMA;
}

/** Bounding box (0-based, inclusive-exclusive) of an input's outline on the coadd grid, clipped; null when disjoint. */
function overlapBox(inp: CoaddInput, wcs: Wcs, W: number, H: number, pad: number): { x0: number; y0: number; x1: number; y1: number } | null {
  const w = inp.image.width, h = inp.image.height;
  const xs: number[] = [], ys: number[] = [];
  const n = 16;
  for (let k = 0; k <= n; k++) {
    const fx = -0.5 + (k / n) * w, fy = -0.5 + (k / n) * h;
    xs.push(fx, fx, -0.5, w - 0.5); ys.push(-0.5, h - 0.5, fy, fy);
  }
  const sky = inp.wcs.pixToSky(xs, ys, 0);
  const p = wcs.skyToPix(sky.ra, sky.dec, 0);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < p.x.length; i++) {
    const x = p.x[i]!, y = p.y[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  const bx0 = Math.max(0, Math.floor(x0) - pad), by0 = Math.max(0, Math.floor(y0) - pad);
  const bx1 = Math.min(W, Math.ceil(x1) + pad + 1), by1 = Math.min(H, Math.ceil(y1) + pad + 1);
  if (!(bx1 > bx0 && by1 > by0)) return null;
  return { x0: bx0, y0: by0, x1: bx1, y1: by1 };
}

/** Pixel-area ratio and Jacobian of the coadd → input map at coadd pixel (X, Y). */
function localMap(inp: CoaddInput, wcs: Wcs, X: number, Y: number): { x: number; y: number; J: [number, number, number, number] } | null {
  const h = 0.5;
  const s = wcs.pixToSky([X, X + h, X - h, X, X], [Y, Y, Y, Y + h, Y - h], 0);
  const p = inp.wcs.skyToPix(s.ra, s.dec, 0);
  for (let i = 0; i < 5; i++) if (!Number.isFinite(p.x[i]!) || !Number.isFinite(p.y[i]!)) return null;
  const J: [number, number, number, number] = [
    (p.x[1]! - p.x[2]!) / (2 * h), (p.x[3]! - p.x[4]!) / (2 * h),
    (p.y[1]! - p.y[2]!) / (2 * h), (p.y[3]! - p.y[4]!) / (2 * h),
  ];
  return { x: p.x[0]!, y: p.y[0]!, J };
}

/**
 * An input's PSF at input position (x, y), warped to the coadd frame: an M × M stamp centred on
 * the coadd pixel grid (star at the stamp centre), through the local Jacobian J (input pixels per
 * coadd pixel), flux-conserving.
 */
function warpedPsfStamp(psf: PsfLike, x: number, y: number, J: readonly number[], M: number, out: Float64Array): void {
  const detJ = Math.abs(J[0]! * J[3]! - J[1]! * J[2]!);
  const scale = Math.sqrt(Math.max(J[0]! ** 2 + J[2]! ** 2, J[1]! ** 2 + J[3]! ** 2));
  let m = Math.ceil(M * scale) + 6;
  if (m % 2 === 0) m++;
  const cx = Math.round(x), cy = Math.round(y);
  const s = psf.stampAt(cx, cy, m);
  const c = (m - 1) / 2, hM = (M - 1) / 2;
  for (let v = 0; v < M; v++) for (let u = 0; u < M; u++) {
    const du = u - hM, dv = v - hM;
    const sx = c + J[0]! * du + J[1]! * dv, sy = c + J[2]! * du + J[3]! * dv;
    const ix = Math.floor(sx), iy = Math.floor(sy);
    let acc = 0, ws = 0;
    for (let j = iy - 2; j <= iy + 3; j++) {
      if (j < 0 || j >= m) continue;
      const wy = lanczos3(sy - j);
      for (let i = ix - 2; i <= ix + 3; i++) {
        if (i < 0 || i >= m) continue;
        const w = wy * lanczos3(sx - i);
        acc += w * s[j * m + i]!; ws += w;
      }
    }
    out[v * M + u] = ws !== 0 ? (acc / ws) * detJ : 0;
  }
  // The sum of an interpolant resampled on a grid of a slightly different step beats against the
  // pixel period (≈1% for a 4-px FWHM star centred on both grids): restore the input's total.
  let sIn = 0, sOut = 0;
  for (let k = 0; k < m * m; k++) sIn += s[k]!;
  for (let k = 0; k < M * M; k++) sOut += out[k]!;
  if (sOut > 0) { const f = sIn / sOut; for (let k = 0; k < M * M; k++) out[k]! *= f; }
}

/** σ of a Gaussian of the given FWHM. */
const fwhmToSigma = (f: number) => f / (2 * Math.sqrt(2 * Math.log(2)));

/** A PsfLike: the input PSF convolved with a Gaussian of σ (input pixels), for homogenisation. */
class ConvolvedPsf implements PsfLike {
  constructor(private readonly base: PsfLike, private readonly sigma: number) {}
  stampAt(x: number, y: number, size: number, out: Float32Array = new Float32Array(size * size)): Float32Array {
    const s = this.base.stampAt(x, y, size);
    if (!(this.sigma > 0.05)) { out.set(s); return out; }
    const k = gaussianKernel(this.sigma * 2 * Math.sqrt(2 * Math.log(2)));
    const r = convolve(s, size, size, k, 'direct');
    out.set(r);
    return out;
  }
  fwhmPixAt(x: number, y: number): number {
    const f = this.base.fwhmPixAt ? this.base.fwhmPixAt(x, y) : NaN;
    return Math.sqrt(f * f + (this.sigma * 2 * Math.sqrt(2 * Math.log(2))) ** 2);
  }
}

/**
 * Coadd calibrated CCDs onto a width × height grid with WCS `wcs` (a patch's outer box or a
 * brick). Throws TesseraError when no input overlaps the grid or an input is malformed.
 */
export function coaddImages(inputs: readonly CoaddInput[], wcs: Wcs, width: number, height: number, opts: CoaddOptions = {}): Coadd {
  const zpOut = opts.magzero ?? 22.5;
  const bad = opts.badMask ?? DEFAULT_BAD;
  const clipOpt: ClipOptions | null = opts.clip === false ? null : { ...(typeof opts.clip === 'object' ? opts.clip : {}) };
  const minClip = clipOpt?.minInputs ?? 3, nsig = clipOpt?.nsigma ?? 5, frac = clipOpt?.frac ?? 1, grow = clipOpt?.grow ?? 2;
  const stripRows = Math.max(16, opts.stripRows ?? 512);
  const pixelWeights = opts.weighting === 'pixel';

  // ---- per-input preparation: overlap, scale, weight, homogenisation kernel
  interface Prep { inp: CoaddInput; src?: MaskedImage; id: string; box: { x0: number; y0: number; x1: number; y1: number }; scale: number; weight: number; varConst: number; fwhm: number; homSigma: number; psf?: PsfLike }
  const preps: Prep[] = [];
  inputs.forEach((inp, k) => {
    const id = inp.id ?? `input ${k}`;
    const im = inp.image;
    if (!(Number.isFinite(inp.magzero))) throw new TesseraError(`${id}: MAGZERO is missing or not a number`);
    if (im.image.length !== im.width * im.height) throw new TesseraError(`${id}: image has ${im.image.length} pixels, expected ${im.width}×${im.height}`);
    const box = overlapBox(inp, wcs, width, height, 4);
    if (!box) return;
    const scale = 10 ** (0.4 * (zpOut - inp.magzero));
    let varConst = NaN;
    if (!im.variance) {
      const s = robustSigma(im.image);
      if (!(s > 0)) throw new TesseraError(`${id}: no VARIANCE plane and the noise cannot be estimated from the pixels`);
      varConst = s * s;
    }
    // FWHM in coadd pixels at the centre of the overlap
    let fwhm = NaN;
    const cX = (box.x0 + box.x1 - 1) / 2, cY = (box.y0 + box.y1 - 1) / 2;
    const lm = localMap(inp, wcs, cX, cY);
    if (inp.psf && lm) {
      const fIn = inp.psf.fwhmPixAt ? inp.psf.fwhmPixAt(lm.x, lm.y) : stampShape(Float64Array.from(inp.psf.stampAt(Math.round(lm.x), Math.round(lm.y), 31)), 31, 1).fwhmPix;
      fwhm = fIn / Math.sqrt(Math.abs(lm.J[0]! * lm.J[3]! - lm.J[1]! * lm.J[2]!));
    }
    let homSigma = 0;
    let psf = inp.psf;
    if (opts.homogenize) {
      if (!inp.psf || !Number.isFinite(fwhm)) throw new TesseraError(`${id}: PSF homogenisation needs a PSF model for every input`);
      const st = fwhmToSigma(opts.homogenize.fwhmPix), si = fwhmToSigma(fwhm);
      if (si > st * 1.0001) throw new TesseraError(`${id}: PSF FWHM ${fwhm.toFixed(2)} px (coadd pixels) is broader than the homogenisation target ${opts.homogenize.fwhmPix} px`);
      homSigma = Math.sqrt(Math.max(0, st * st - si * si)); // coadd pixels
      const pixScale = lm ? Math.sqrt(Math.abs(lm.J[0]! * lm.J[3]! - lm.J[1]! * lm.J[2]!)) : 1;
      psf = new ConvolvedPsf(inp.psf, homSigma * pixScale);
    }
    preps.push({ inp, id, box, scale, weight: 1, varConst, fwhm, homSigma, psf });
  });
  if (preps.length === 0) throw new TesseraError(`coadd: none of the ${inputs.length} inputs overlaps the ${width}×${height} grid`);

  const image = new Float32Array(width * height);
  const variance = new Float32Array(width * height);
  const mask = new Uint32Array(width * height);
  const nexp = new Uint16Array(width * height);
  const pixelsCovered = new Float64Array(preps.length);
  let rejectedTotal = 0;
  let vfSum = 0, vfN = 0;

  // image weights: 1 / median scaled variance over the input's overlap (a warp of its variance
  // plane would give the same median up to the interpolation factor; the raw plane is cheaper)
  for (const p of preps) {
    const v = p.inp.image.variance;
    let med: number;
    if (v) {
      const stride = Math.max(1, Math.floor(v.length / 200000));
      const a: number[] = [];
      for (let i = 0; i < v.length; i += stride) { const x = v[i]!; if (x > 0 && x < Infinity) a.push(x); }
      if (a.length === 0) throw new TesseraError(`${p.id}: VARIANCE has no positive finite pixel`);
      med = medianInPlace(Float64Array.from(a));
    } else med = p.varConst;
    p.weight = 1 / (med * p.scale * p.scale);
  }

  // the warp sources, made once: excluded pixels set to NaN (so each strip's warp needs no
  // copy), a constant variance plane where none was given
  const exclude = opts.warp?.excludeMask ?? DEFAULT_EXCLUDE;
  for (const p of preps) {
    const im = p.inp.image;
    let image = im.image;
    if (im.mask && exclude) {
      for (let i = 0; i < im.mask.length; i++) {
        if (im.mask[i]! & exclude) {
          if (image === im.image) image = new Float32Array(im.image);
          image[i] = NaN;
        }
      }
    }
    p.src = { width: im.width, height: im.height, image, mask: im.mask, variance: im.variance ?? new Float32Array(im.width * im.height).fill(p.varConst) };
  }

  // ---- strips
  interface Warped { p: number; x0: number; y0: number; w: number; h: number; img: Float32Array; vr: Float32Array; mk: Uint32Array; rej: Uint8Array }
  // rows beyond the strip that a strip's warps need: the clipping growth, the homogenisation kernel
  let homHalf = 0;
  for (const p of preps) if (p.homSigma > 0.05) homHalf = Math.max(homHalf, (gaussianKernel(p.homSigma * 2 * Math.sqrt(2 * Math.log(2))).height - 1) / 2);
  const clipping = clipOpt !== null && preps.length >= minClip;
  const margin = (clipping ? grow + LOCAL_MAX_RADIUS : 0) + homHalf;
  // per-strip accumulators
  const accW = new Float64Array(width * stripRows), accWV = new Float64Array(width * stripRows), accW2V = new Float64Array(width * stripRows);
  const accN = new Uint16Array(width * stripRows), accM = new Uint32Array(width * stripRows), accAll = new Uint32Array(width * stripRows);
  const warpOne = (p: Prep, pi: number, r0: number, r1: number): Warped | null => {
    const y0 = Math.max(r0, p.box.y0), y1 = Math.min(r1, p.box.y1);
    if (y1 <= y0) return null;
    const x0 = p.box.x0, w = p.box.x1 - p.box.x0, h = y1 - y0;
    const r = warpMaskedImage(p.src!, p.inp.wcs, wcs.shifted(x0, y0), w, h, { ...opts.warp, excludeMask: 0 });
    const img = r.image, vr = r.variance!, mk = r.mask;
    if (r.coverage > 0) { vfSum += r.varianceFactor * r.coverage * w * h; vfN += r.coverage * w * h; }
    for (let i = 0; i < img.length; i++) { img[i]! *= p.scale; vr[i]! *= p.scale * p.scale; }
    if (p.homSigma > 0.05) {
      // convolve with the matching Gaussian; pixels whose kernel reaches missing data become NO_DATA
      const k = gaussianKernel(p.homSigma * 2 * Math.sqrt(2 * Math.log(2)));
      const filled = new Float32Array(img.length), vfill = new Float32Array(img.length), valid = new Float32Array(img.length);
      for (let i = 0; i < img.length; i++) {
        const ok = img[i]! === img[i]! && !(mk[i]! & bad);
        filled[i] = ok ? img[i]! : 0; vfill[i] = ok ? vr[i]! : 0; valid[i] = ok ? 1 : 0;
      }
      const conv = convolve(filled, w, h, k, 'auto');
      const k2 = { width: k.width, height: k.height, data: Float64Array.from(k.data, (x) => x * x) };
      const vconv = convolve(vfill, w, h, k2, 'auto');
      const cov = convolve(valid, w, h, k, 'auto');
      for (let i = 0; i < img.length; i++) {
        if (cov[i]! > 0.999) { img[i] = conv[i]!; vr[i] = vconv[i]!; }
        else { img[i] = NaN; vr[i] = NaN; mk[i]! |= MaskBits.NO_DATA; }
      }
    }
    return { p: pi, x0, y0, w, h, img, vr, mk, rej: new Uint8Array(img.length) };
  };
  const accumulate = (q: Warped, s0: number, s1: number) => {
    const pw = preps[q.p]!.weight;
    const ya = Math.max(s0, q.y0), yb = Math.min(s1, q.y0 + q.h);
    let used = 0;
    for (let y = ya; y < yb; y++) {
      const lrow = (y - q.y0) * q.w, arow = (y - s0) * width;
      for (let lx = 0; lx < q.w; lx++) {
        const x = q.x0 + lx;
        const i = lrow + lx, a = arow + x;
        const v = q.img[i]!, vv = q.vr[i]!, mk = q.mk[i]!;
        accAll[a]! |= mk;
        if (v !== v || mk & bad || !(vv > 0 && vv < Infinity)) continue;
        if (q.rej[i]) { rejectedTotal++; continue; }
        const w = pixelWeights ? 1 / vv : pw;
        accW[a]! += w; accWV[a]! += w * v; accW2V[a]! += w * w * vv; accN[a]!++; accM[a]! |= mk;
        used++;
      }
    }
    pixelsCovered[q.p]! += used;
  };
  for (let s0 = 0; s0 < height; s0 += stripRows) {
    const s1 = Math.min(height, s0 + stripRows);
    const r0 = Math.max(0, s0 - margin), r1 = Math.min(height, s1 + margin);
    const n = (s1 - s0) * width;
    accW.fill(0, 0, n); accWV.fill(0, 0, n); accW2V.fill(0, 0, n); accN.fill(0, 0, n); accM.fill(0, 0, n); accAll.fill(0, 0, n);
    if (!clipping) {
      // stream: warp, accumulate and drop one input at a time (memory: one warp per strip)
      preps.forEach((p, pi) => { const q = warpOne(p, pi, r0, r1); if (q) accumulate(q, s0, s1); });
    } else {
      const warped: Warped[] = [];
      preps.forEach((p, pi) => { const q = warpOne(p, pi, r0, r1); if (q) warped.push(q); });
      // ---- outlier rejection over rows r0..r1 (grown inside each input)
      const nIn = warped.length;
      const vals = new Float64Array(nIn);
      if (clipOpt && nIn >= minClip) {
        // per-pixel median of the usable inputs, then its local maximum over a (2R+1)² box
        const sh = r1 - r0;
        const med = new Float32Array(width * sh).fill(NaN);
        for (let y = r0; y < r1; y++) for (let x = 0; x < width; x++) {
          let n = 0;
          for (const q of warped) {
            const lx = x - q.x0, ly = y - q.y0;
            if (lx < 0 || ly < 0 || lx >= q.w || ly >= q.h) continue;
            const i = ly * q.w + lx;
            const v = q.img[i]!;
            if (v !== v || q.mk[i]! & bad || !(q.vr[i]! > 0)) continue;
            vals[n++] = v;
          }
          if (n >= minClip) med[(y - r0) * width + x] = medianInPlace(vals, n);
        }
        const R = LOCAL_MAX_RADIUS;
        const rowMax = new Float32Array(width * sh);
        for (let y = 0; y < sh; y++) for (let x = 0; x < width; x++) {
          let m = -Infinity;
          for (let k = Math.max(0, x - R); k <= Math.min(width - 1, x + R); k++) { const v = med[y * width + k]!; if (v > m) m = v; }
          rowMax[y * width + x] = m;
        }
        for (let y = r0; y < r1; y++) for (let x = 0; x < width; x++) {
          const mv = med[(y - r0) * width + x]!;
          if (mv !== mv) continue;
          let lmax = -Infinity;
          for (let k = Math.max(0, y - r0 - R); k <= Math.min(sh - 1, y - r0 + R); k++) { const v = rowMax[k * width + x]!; if (v > lmax) lmax = v; }
          const tolFrac = frac * Math.max(Math.abs(mv), lmax);
          for (const q of warped) {
            const lx = x - q.x0, ly = y - q.y0;
            if (lx < 0 || ly < 0 || lx >= q.w || ly >= q.h) continue;
            const i = ly * q.w + lx;
            const v = q.img[i]!;
            if (v !== v || q.mk[i]! & bad) continue;
            const d = v - mv;
            if (d > nsig * Math.sqrt(q.vr[i]!) && d > tolFrac) q.rej[i] = 1;
          }
        }
        if (grow > 0) for (const q of warped) {
          const src = q.rej, out = new Uint8Array(src.length);
          for (let ly = 0; ly < q.h; ly++) for (let lx = 0; lx < q.w; lx++) {
            if (!src[ly * q.w + lx]) continue;
            for (let dy = -grow; dy <= grow; dy++) {
              const yy = ly + dy; if (yy < 0 || yy >= q.h) continue;
              for (let dx = -grow; dx <= grow; dx++) {
                const xx = lx + dx; if (xx < 0 || xx >= q.w) continue;
                out[yy * q.w + xx] = 1;
              }
            }
          }
          q.rej = out;
        }
      }
      for (const q of warped) accumulate(q, s0, s1);
    }
    // ---- finish rows s0..s1
    for (let a = 0; a < n; a++) {
      const o = s0 * width + a;
      if (accN[a] === 0) { image[o] = NaN; variance[o] = NaN; mask[o] = MaskBits.NO_DATA | accAll[a]!; continue; }
      const sw = accW[a]!;
      image[o] = accWV[a]! / sw;
      variance[o] = accW2V[a]! / (sw * sw);
      mask[o] = accM[a]!;
      nexp[o] = accN[a]!;
    }
  }

  const infos: CoaddInputInfo[] = preps.map((p, i) => ({ id: p.id, magzero: p.inp.magzero, scale: p.scale, weight: p.weight, pixels: pixelsCovered[i]!, fwhmPix: p.homSigma > 0 ? opts.homogenize!.fwhmPix : p.fwhm }));
  const psf = opts.psf === false ? undefined : coaddPsf(preps.map((p) => ({ inp: p.inp, psf: p.psf, weight: p.weight, fwhm: infos[preps.indexOf(p)]!.fwhmPix })), wcs, width, height, bad, opts.psf || {});
  return { width, height, wcs, magzero: zpOut, image, variance, mask, nexp, psf, inputs: infos, rejected: rejectedTotal, varianceFactor: vfN > 0 ? vfSum / vfN : 1 };
}

/** The coadd PSF model (see the module notes); undefined when no input has a PSF. */
function coaddPsf(
  ins: { inp: CoaddInput; psf?: PsfLike; weight: number; fwhm: number }[], wcs: Wcs, W: number, H: number, badMask: number,
  o: { nx?: number; ny?: number; size?: number; degree?: number },
): PsfModel | undefined {
  const withPsf = ins.filter((i) => i.psf);
  if (withPsf.length === 0) return undefined;
  const nx = o.nx ?? 5, ny = o.ny ?? 5;
  let maxF = 0;
  for (const i of withPsf) if (Number.isFinite(i.fwhm)) maxF = Math.max(maxF, i.fwhm);
  let M = o.size ?? Math.min(63, Math.max(15, 2 * Math.ceil(3 * (maxF || 4)) + 1));
  if (M % 2 === 0) M++;
  const stamps: Float64Array[] = [], pos: [number, number][] = [];
  const tmp = new Float64Array(M * M);
  for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    const X = ((i + 0.5) / nx) * W - 0.5, Y = ((j + 0.5) / ny) * H - 0.5;
    const acc = new Float64Array(M * M);
    let sw = 0;
    for (const c of withPsf) {
      const lm = localMap(c.inp, wcs, X, Y);
      if (!lm) continue;
      const iw = c.inp.image.width, ih = c.inp.image.height;
      if (!(lm.x >= -0.5 && lm.y >= -0.5 && lm.x <= iw - 0.5 && lm.y <= ih - 0.5)) continue;
      // an input whose pixel there is unusable (chip defect, vignetting, NaN) does not contribute
      const q = Math.min(ih - 1, Math.max(0, Math.round(lm.y))) * iw + Math.min(iw - 1, Math.max(0, Math.round(lm.x)));
      if (c.inp.image.mask && c.inp.image.mask[q]! & badMask) continue;
      if (!Number.isFinite(c.inp.image.image[q]!)) continue;
      warpedPsfStamp(c.psf!, lm.x, lm.y, lm.J, M, tmp);
      for (let k = 0; k < M * M; k++) acc[k]! += c.weight * tmp[k]!;
      sw += c.weight;
    }
    if (sw === 0) continue;
    for (let k = 0; k < M * M; k++) acc[k]! /= sw;
    stamps.push(acc); pos.push([X, Y]);
  }
  if (stamps.length === 0) return undefined;
  let degree = o.degree ?? 2;
  while (degree > 0 && nPolyTerms(degree) > stamps.length) degree--;
  const nT = nPolyTerms(degree);
  const polZero: [number, number] = [(W - 1) / 2, (H - 1) / 2], polScale: [number, number] = [W, H];
  // normal equations (same design for every basis pixel)
  const A = new Float64Array(nT * nT), terms = new Float64Array(nT);
  const B = new Float64Array(nT * M * M);
  stamps.forEach((s, k) => {
    polyTerms((pos[k]![0] - polZero[0]) / polScale[0], (pos[k]![1] - polZero[1]) / polScale[1], degree, terms);
    for (let a = 0; a < nT; a++) {
      for (let b = 0; b < nT; b++) A[a * nT + b]! += terms[a]! * terms[b]!;
      const ta = terms[a]!;
      for (let q = 0; q < M * M; q++) B[a * M * M + q]! += ta * s[q]!;
    }
  });
  const coeffs = new Float64Array(nT * M * M);
  const rhs = new Float64Array(nT);
  for (let q = 0; q < M * M; q++) {
    for (let a = 0; a < nT; a++) rhs[a] = B[a * M * M + q]!;
    if (!solveSym(Float64Array.from(A), rhs, nT)) throw new TesseraError('coadd PSF: the polynomial fit is singular (too few PSF grid positions covered)');
    for (let a = 0; a < nT; a++) coeffs[a * M * M + q] = rhs[a]!;
  }
  return new PsfModel({ size: M, sampling: 1, degree, polZero, polScale, coeffs });
}
