/**
 * detectSources: background, matched filtering, thresholding, labelling, deblending,
 * cleaning and measurement of every source of an image, SExtractor-style.
 *
 * Pixel convention: internal arrays are 0-based; the catalog's pixel columns (X_IMAGE, XWIN_IMAGE,
 * XPEAK_IMAGE, ...) are FITS 1-based, as SExtractor writes them.
 */
import type { MaskedImage } from '../image/masked-image.js';
import { DEFAULT_BAD_MASK, MaskBits } from '../image/masked-image.js';
import { correlate, gaussianKernel, normalizeKernel, type Kernel } from '../image/convolve.js';
import { fftComplex } from '../image/fft.js';
import { quickselect } from '../image/stats.js';
import { estimateBackground, type Background } from './background.js';
import { labelAboveThreshold } from './segment.js';
import {
  analyse, cleanObjects, deblendFootprint, type IsoObject,
  FLAG_CROWDED, FLAG_BLENDED, FLAG_SATURATED, FLAG_TRUNCATED, FLAG_APER_INCOMPLETE, FLAG_DEBLEND_OVERFLOW, MAX_DEBLEND_CELLS,
  primeLikeliestChild,
} from './deblend.js';
import { pixelPlanes, sumCircles, sumEllipse, type PixelPlanes } from './aperture.js';
import { SourceCatalog } from './catalog.js';
import { stampOrigin, type PsfLike } from './psf-like.js';

export interface DetectOptions {
  /** Detection threshold in units of the noise (default 1.5). */
  threshSigma?: number;
  /** Minimum number of pixels above threshold (default 5). */
  minArea?: number;
  /** Deblending levels (default 32) and minimum contrast (default 0.005). */
  deblendNThresh?: number;
  deblendMinCont?: number;
  /** CLEAN spurious detections in the wings of bright objects (default true) with Moffat β = cleanParam (1). */
  clean?: boolean;
  cleanParam?: number;
  /**
   * Detection filter. Default: a normalised Gaussian of FWHM `filterFwhm` (default 2 px, like
   * SExtractor's default.conv), or of the PSF FWHM when a PSF is given (matched filter).
   * `null` disables filtering.
   */
  filterKernel?: Kernel | null;
  filterFwhm?: number;
  /**
   * How the threshold relates to the filtered image:
   * 'unfiltered' (default, SExtractor/SEP convention): filtered value > thresh × σ of the
   *   unfiltered pixel, so "1.5σ" means what it means to SExtractor users;
   * 'filtered': filtered value > thresh × σ of the filtered value, σ_f² = Σ k²·σ² (a true S/N
   *   threshold on the matched-filter output).
   */
  threshMode?: 'unfiltered' | 'filtered';
  /** Circular aperture DIAMETERS in pixels (as SExtractor's PHOT_APERTURES), default [6]. */
  apertures?: number[];
  /** PHOT_AUTOPARAMS: Kron factor and minimum radius (units of A/B), default 2.5, 3.5. */
  autoParams?: [number, number];
  /** PHOT_FLUXFRAC for FLUX_RADIUS (default 0.5). */
  fluxFrac?: number;
  /** Background mesh size (64) and median filter size (3). */
  backSize?: number | [number, number];
  backFilterSize?: number | [number, number];
  /** A background to use instead of estimating one (e.g. from a previous pass). */
  background?: Background;
  /** Gain in e⁻/ADU; when > 0 the Poisson noise of sources is added to the errors (default 0: none). */
  gain?: number;
  /** Saturation level in ADU (image values before background subtraction); pixels ≥ it flag 4. */
  satLevel?: number;
  /** Mask bits that make a pixel unusable (default DEFAULT_BAD_MASK). */
  badMask?: number;
  /** PSF model: enables FLUX_PSF and SPREAD_MODEL and the matched filter. */
  psf?: PsfLike;
  /** Return the segmentation map (object NUMBER per pixel). */
  segmentation?: boolean;
  /**
   * A plane (width × height) to receive image − background at EVERY pixel (unusable ones
   * included, NaN stays NaN), from the same background pass the detection uses: callers that
   * need the sky-subtracted image (tessera calibrate) save a pass over the background spline.
   * During the call it also serves as detection's working plane (unusable pixels 0); their values
   * are put back before detectSources returns.
   */
  subtractedOut?: Float32Array;
  /**
   * A plane (width × height) to receive the map of unusable pixels that detection uses (1 = NaN or
   * ±Inf, a badMask bit, or no finite positive variance; else 0) instead of an internal scratch
   * plane: callers that measure on the same pixels afterwards (tessera calibrate) reuse it.
   */
  unusableOut?: Uint8Array;
  /** When given, filled with the wall time in milliseconds of each phase (diagnostics). */
  timings?: Record<string, number>;
  /**
   * 'full' (default): every measurement. 'isophotal': only what the footprints give (positions,
   * moments, shape, ISOAREA, FLUX_ISO, FLUX_MAX, flags), like SEP's extract() alone.
   */
  measure?: 'full' | 'isophotal';
}

export interface DetectResult {
  catalog: SourceCatalog;
  background: Background;
  /** Global background and RMS (medians of the meshes). */
  globalBack: number;
  globalRms: number;
  /** Segmentation map (NUMBER per pixel, 0 for sky), when asked for. */
  segmentation?: Int32Array;
  /** Number of footprints before deblending/cleaning, for diagnostics. */
  nFootprints: number;
}

/** Run background estimation, detection and measurement on an image. */
/**
 * One pass, row by row from the background spline: the usable-pixel map `bad`, the
 * background-subtracted image `d` (unusable pixels 0) and, when `skyVar` is given, the per-pixel
 * sky variance with each row's smallest value in `rowMinVar`. (A function of its own: V8
 * optimises it quickly, without compiling the whole of detectSources for its loop.)
 */
/** Whether any pixel is usable (finite, not masked, positive finite variance). */
function anyUsable(img: MaskedImage, badMask: number): boolean {
  const { image, mask } = img;
  const npixTot = img.width * img.height;
  const vp = img.variance;
  for (let i = 0; i < npixTot; i++) {
    const v = image[i]!;
    if (v - v !== 0) continue;
    if (mask !== undefined && (mask[i]! & badMask) !== 0) continue;
    if (vp !== undefined) { const s = vp[i]!; if (!(s > 0 && s < Infinity)) continue; }
    return true;
  }
  return false;
}

/** Deblend and analyse every footprint (thresholds: see detectSources). */
function deblendAll(fp: { count: number; start: Int32Array; pixels: Int32Array }, f: Float32Array, d: Float32Array, width: number, thresh: number,
  threshVar: Float32Array | undefined, bkg: Background, opt: { nthresh: number; mincont: number; minArea: number }): IsoObject[] {
  const { nthresh, mincont, minArea } = opt;
  primeDeblending();
  const objs: IsoObject[] = [];
  // one copy of every footprint's pixels (the labelling's arrays are scratch), of which the
  // objects keep views: not an array buffer per object, which the young-generation GC must track
  const kept = Int32Array.from(fp.pixels.subarray(0, fp.start[fp.count]!));
  for (let o = 0; o < fp.count; o++) {
    const pix = fp.pixels.subarray(fp.start[o]!, fp.start[o + 1]!);
    // the detection threshold of this object: thresh × the mean noise over its pixels (variance
    // plane), or × the background RMS at its peak pixel
    let pk = pix[0]!, best = -Infinity, tsum = 0;
    for (let k = 0; k < pix.length; k++) { const i = pix[k]!; if (threshVar) tsum += Math.sqrt(threshVar[i]!); if (f[i]! > best) { best = f[i]!; pk = i; } }
    const dthresh = threshVar ? thresh * (tsum / pix.length) : thresh * bkg.rmsAt(pk % width, Math.floor(pk / width));
    const mthresh = dthresh;
    const kids = deblendFootprint(pix, f, d, width, dthresh, { nthresh, mincont, minArea });
    if (kids) for (const c of kids) objs.push(analyse(c, d, f, width, dthresh, mthresh, FLAG_BLENDED));
    else {
      const overflow = nthresh > 1 && pix.length * nthresh > MAX_DEBLEND_CELLS ? FLAG_DEBLEND_OVERFLOW : 0;
      objs.push(analyse(kept.subarray(fp.start[o]!, fp.start[o + 1]!), d, f, width, dthresh, mthresh, overflow));
    }
  }
  return objs;
}

let deblendPrimed = false;
/**
 * Deblends a tiny synthetic footprint of three peaks once per process (results discarded), so
 * that the deblending functions have type feedback for their branches before V8 optimises them
 * (see primeMeasurements).
 */
function primeDeblending(): void {
  if (deblendPrimed) return;
  deblendPrimed = true;
  primeLikeliestChild();
  const w = 40, h = 24;
  const f = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      f[y * w + x] = 100 * Math.exp(-((x - 10) ** 2 + (y - 12) ** 2) / 8) + 60 * Math.exp(-((x - 18) ** 2 + (y - 11) ** 2) / 8)
        + 40 * Math.exp(-((x - 27) ** 2 + (y - 14) ** 2) / 6);
    }
  }
  // thresholds that are not integers, as real ones: the objects' number fields then hold doubles
  // from the start (a field going from small integer to double later changes the objects' shape
  // and discards the code optimised for it)
  const t = 1.25;
  const fp = labelAboveThreshold(f, w, h, t, 1, 5);
  for (let o = 0; o < fp.count; o++) {
    const pix = fp.pixels.subarray(fp.start[o]!, fp.start[o + 1]!);
    const kids = deblendFootprint(pix, f, f, w, t, { nthresh: 32, mincont: 0.005, minArea: 5 });
    if (kids) for (const c of kids) analyse(c, f, f, w, t, t, FLAG_BLENDED);
    const whole = analyse(Int32Array.from(pix), f, f, w, t, t, 0);
    // detectSources sets mthresh after analyse: V8 first takes the objects' fields as constant,
    // and the first write would discard analyse's optimised code (and that of its callers)
    whole.mthresh = t + 0.5;
  }
}

/** Segmentation map: object k's footprint pixels hold k + 1. */
function paintSegmentation(objs: IsoObject[], seg: Int32Array): void {
  for (let k = 0; k < objs.length; k++) { const px = objs[k]!.pix; for (let j = 0; j < px.length; j++) seg[px[j]!] = k + 1; }
}

/** Unusable pixels counted by the first pass of subtractRowVariance. */
let rowBad = 0;

/**
 * One row with a variance plane: bad, d and skyVar (the variance; the background RMS² at unusable
 * pixels), returning the row's smallest skyVar. The pixel loop has no call in it; the RMS row is
 * only evaluated when the row has an unusable pixel.
 */
function subtractRowVariance(image: Float32Array, mask: Uint32Array | undefined, vp: Float32Array, badMask: number, brow: Float32Array,
  bad: Uint8Array, d: Float32Array, skyVar: Float32Array, o: number, width: number, bkg: Background, y: number, rrow: Float32Array,
  saved: SavedPixels | undefined): number {
  const vmin = mask !== undefined
    ? rowPassMasked(image, mask, vp, badMask, brow, bad, d, skyVar, o, width)
    : rowPassUnmasked(image, vp, brow, bad, d, skyVar, o, width);
  if (rowBad === 0) return vmin === Infinity ? 0 : vmin;
  bkg.rmsRow(y, rrow);
  const m = saved ? badRowRmsSaved(bad, skyVar, rrow, o, width, vmin, saved) : badRowRms(bad, skyVar, rrow, o, width, vmin);
  return m === Infinity ? 0 : m;
}

function rowPassMasked(image: Float32Array, mask: Uint32Array, vp: Float32Array, badMask: number, brow: Float32Array,
  bad: Uint8Array, d: Float32Array, skyVar: Float32Array, o: number, width: number): number {
  let vmin = Infinity, nb = 0;
  for (let x = 0; x < width; x++) {
    const i = o + x;
    const v = image[i]!, s = vp[i]!;
    skyVar[i] = s;
    if (v - v !== 0 || (mask[i]! & badMask) !== 0 || !(s > 0 && s < Infinity)) { bad[i] = 1; d[i] = 0; nb++; }
    else { bad[i] = 0; d[i] = v - brow[x]!; if (s < vmin) vmin = s; }
  }
  rowBad = nb;
  return vmin;
}

function rowPassUnmasked(image: Float32Array, vp: Float32Array, brow: Float32Array,
  bad: Uint8Array, d: Float32Array, skyVar: Float32Array, o: number, width: number): number {
  let vmin = Infinity, nb = 0;
  for (let x = 0; x < width; x++) {
    const i = o + x;
    const v = image[i]!, s = vp[i]!;
    skyVar[i] = s;
    if (v - v !== 0 || !(s > 0 && s < Infinity)) { bad[i] = 1; d[i] = 0; nb++; }
    else { bad[i] = 0; d[i] = v - brow[x]!; if (s < vmin) vmin = s; }
  }
  rowBad = nb;
  return vmin;
}

/** Unusable pixels of a row get the background RMS² as their noise; the row minimum with them. */
function badRowRms(bad: Uint8Array, skyVar: Float32Array, rrow: Float32Array, o: number, width: number, vmin: number): number {
  for (let x = 0; x < width; x++) {
    if (bad[o + x] === 0) continue;
    const r = rrow[x]!, s = r * r;
    skyVar[o + x] = s;
    if (s < vmin) vmin = s;
  }
  return vmin;
}

/** badRowRms on the caller's variance plane: each value is saved before it is replaced. */
function badRowRmsSaved(bad: Uint8Array, skyVar: Float32Array, rrow: Float32Array, o: number, width: number, vmin: number, saved: SavedPixels): number {
  for (let x = 0; x < width; x++) {
    if (bad[o + x] === 0) continue;
    const r = rrow[x]!, s = r * r;
    saved.save(o + x, skyVar[o + x]!);
    skyVar[o + x] = s;
    if (s < vmin) vmin = s;
  }
  return vmin;
}

/**
 * The background pass (see detectSources). When `d` is the caller's `sub` plane (subtractedOut),
 * it holds d during the call: the image − background values of its unusable pixels (where d is 0)
 * go to `savedSub`, to be put back when detection is done.
 */
function subtractBackground(img: MaskedImage, bkg: Background, badMask: number, bad: Uint8Array, d: Float32Array,
  skyVar: Float32Array | undefined, rowMinVar: Float64Array, sub: Float32Array | undefined, saved: SavedPixels | undefined,
  savedSub: SavedPixels | undefined): void {
  const { width, height, image, mask } = img;
  const vp = img.variance;
  const brow = new Float32Array(width), rrow = new Float32Array(width);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    bkg.backRow(y, brow);
    if (sub && sub !== d) for (let x = 0; x < width; x++) sub[o + x] = image[o + x]! - brow[x]!;
    if (skyVar && vp) {
      // with a variance plane (the calibrate case): one pass over the row, then the background
      // RMS only at the row's unusable pixels
      rowMinVar[y] = subtractRowVariance(image, mask, vp, badMask, brow, bad, d, skyVar, o, width, bkg, y, rrow, saved);
    } else if (!skyVar && mask === undefined) {
      // the common case, in a tight loop: only NaN/Inf pixels are unusable
      subtractRowPlain(image, brow, bad, d, o, width);
    } else {
      subtractRowGeneral(img, bkg, badMask, bad, d, skyVar, rowMinVar, brow, rrow, y);
    }
    if (savedSub) saveUnusable(bad, image, brow, o, width, savedSub);
  }
}

/** Only NaN/Inf pixels are unusable (no mask, no variance plane). */
function subtractRowPlain(image: Float32Array, brow: Float32Array, bad: Uint8Array, d: Float32Array, o: number, width: number): void {
  for (let x = 0; x < width; x++) {
    const i = o + x;
    const v = image[i]!;
    if (v - v !== 0) { bad[i] = 1; d[i] = 0; } else { bad[i] = 0; d[i] = v - brow[x]!; }
  }
}

/** image − background of the row's unusable pixels, saved (as the sub plane would hold them). */
function saveUnusable(bad: Uint8Array, image: Float32Array, brow: Float32Array, o: number, width: number, saved: SavedPixels): void {
  for (let x = 0; x < width; x++) if (bad[o + x] !== 0) saved.save(o + x, image[o + x]! - brow[x]!);
}

/** A row with a mask and/or a sky-variance plane from the RMS map (no variance plane given). */
function subtractRowGeneral(img: MaskedImage, bkg: Background, badMask: number, bad: Uint8Array, d: Float32Array,
  skyVar: Float32Array | undefined, rowMinVar: Float64Array, brow: Float32Array, rrow: Float32Array, y: number): void {
  const { width, image, mask } = img;
  const vp = img.variance;
  const o = y * width;
  // the RMS row is needed for every pixel without a variance plane, else only for unusable ones
  let haveRms = false;
  if (skyVar && !vp) { bkg.rmsRow(y, rrow); haveRms = true; }
  let vmin = Infinity;
  for (let x = 0; x < width; x++) {
    const i = o + x;
    const v = image[i]!;
    let isBad = v - v !== 0 || (mask !== undefined && (mask[i]! & badMask) !== 0);
    let s = 0;
    if (vp) { s = vp[i]!; if (!(s > 0 && s < Infinity)) isBad = true; }
    else if (skyVar) { const r = rrow[x]!; s = r * r; }
    // an unusable pixel gets the background RMS as its noise (for the threshold only: it is
    // never summed), so a footprint can cover it but nothing is detected on it
    if (isBad) {
      bad[i] = 1; d[i] = 0;
      if (skyVar) {
        if (!haveRms) { bkg.rmsRow(y, rrow); haveRms = true; }
        const r = rrow[x]!; s = r * r;
      }
    } else { bad[i] = 0; d[i] = v - brow[x]!; }
    if (skyVar) { skyVar[i] = s; if (s < vmin) vmin = s; }
  }
  rowMinVar[y] = vmin === Infinity ? 0 : vmin;
}

export function detectSources(img: MaskedImage, opts: DetectOptions = {}): DetectResult {
  const { width, height } = img;
  const npixTot = width * height;
  const badMask = opts.badMask ?? DEFAULT_BAD_MASK;
  const psf = opts.psf;

  // quick check: at least one usable pixel
  {
    const any = anyUsable(img, badMask);
    if (!any) throw new RangeError('detectSources: no usable pixel in the image (all NaN, masked or zero weight)');
  }

  const tm = opts.timings;
  let t0 = tm ? performance.now() : 0;
  const lap = (name: string) => { if (tm) { const t = performance.now(); tm[name] = (tm[name] ?? 0) + t - t0; t0 = t; } };
  const bkg = opts.background ?? estimateBackground(img, { backSize: opts.backSize, backFilterSize: opts.backFilterSize, badMask });
  lap('background');
  // detection filter
  let kern: Kernel | null;
  if (opts.filterKernel !== undefined) kern = opts.filterKernel ? normalizeKernel(opts.filterKernel) : null;
  else {
    const fw = psf?.fwhmPixAt ? psf.fwhmPixAt(width / 2, height / 2) : (opts.filterFwhm ?? 2);
    kern = opts.filterFwhm === undefined && !psf ? normalizeKernel({ width: 3, height: 3, data: Float64Array.from([1, 2, 1, 2, 4, 2, 1, 2, 1]) }) : gaussianKernel(fw);
  }
  const vp = img.variance;
  const filteredMode = kern !== null && (opts.threshMode ?? 'unfiltered') === 'filtered';
  // A per-pixel sky-variance plane is only needed with a variance plane or for the filtered-noise
  // threshold; otherwise the noise comes from the background RMS spline, row by row (threshold)
  // or at each object's position (errors).
  const needPlane = vp !== undefined || filteredMode;

  // One pass, row by row from the background spline (no full-resolution maps are built):
  // the usable-pixel map, the background-subtracted image (unusable pixels set to 0) and, when
  // needed, the per-pixel sky variance with each row's smallest value (a threshold pre-test).
  if (opts.unusableOut && opts.unusableOut.length !== npixTot) throw new RangeError(`detectSources: unusableOut holds ${opts.unusableOut.length} pixels, the image ${npixTot}`);
  const bad = opts.unusableOut ?? scratch.u8('bad', npixTot);
  // the caller's subtractedOut plane holds d during the call (its unusable pixels restored after)
  const d = opts.subtractedOut ?? scratch.f32('d', npixTot);
  // With a variance plane, the sky variance IS that plane, its unusable pixels holding the
  // background RMS² for the duration of this call (their values are saved and restored before
  // it returns or throws): no 32 MB copy per 2k×4k CCD.
  const skyVar = vp ?? (needPlane ? scratch.f32('skyVar', npixTot) : undefined);
  const saved = vp ? new SavedPixels() : undefined;
  const savedSub = opts.subtractedOut ? new SavedPixels() : undefined;
  const rowMinVar = new Float64Array(height);
  if (opts.subtractedOut && opts.subtractedOut.length !== npixTot) throw new RangeError(`detectSources: subtractedOut holds ${opts.subtractedOut.length} pixels, the image ${npixTot}`);
  try {
    subtractBackground(img, bkg, badMask, bad, d, skyVar, rowMinVar, opts.subtractedOut, saved, savedSub);
    return detectOnPlanes(img, opts, bkg, kern, bad, d, skyVar, rowMinVar, tm ? lap : undefined);
  } finally {
    if (saved && vp) saved.restore(vp);
    if (savedSub && opts.subtractedOut) savedSub.restore(opts.subtractedOut);
  }
}

/** Pixel values saved before an in-place change (index, value), to be put back. */
class SavedPixels {
  idx = new Int32Array(4096);
  val = new Float32Array(4096);
  n = 0;
  save(i: number, v: number): void {
    if (this.n === this.idx.length) {
      const a = new Int32Array(this.n * 2), b = new Float32Array(this.n * 2);
      a.set(this.idx); b.set(this.val); this.idx = a; this.val = b;
    }
    this.idx[this.n] = i; this.val[this.n++] = v;
  }
  restore(plane: Float32Array): void {
    const { idx, val, n } = this;
    for (let k = 0; k < n; k++) plane[idx[k]!] = val[k]!;
    this.n = 0;
  }
}

/** detectSources after the background pass: filtering, labelling, deblending, cleaning, measurement. */
function detectOnPlanes(img: MaskedImage, opts: DetectOptions, bkg: Background, kern: Kernel | null, bad: Uint8Array, d: Float32Array,
  skyVar: Float32Array | undefined, rowMinVar: Float64Array, lap: ((name: string) => void) | undefined): DetectResult {
  const { width, height, image, mask } = img;
  const npixTot = width * height;
  const thresh = opts.threshSigma ?? 1.5;
  const minArea = opts.minArea ?? 5;
  const gain = opts.gain ?? 0;
  const satLevel = opts.satLevel ?? Infinity;
  const diam = opts.apertures ?? [6];
  const [kronFact, kronMin] = opts.autoParams ?? [2.5, 3.5];
  const fluxFrac = opts.fluxFrac ?? 0.5;
  const psf = opts.psf;
  const filteredMode = kern !== null && (opts.threshMode ?? 'unfiltered') === 'filtered';

  lap?.('subtract');
  const f = kern ? correlate(d, width, height, kern, 'auto', scratch.f32('f', npixTot)) : d;
  // the variance the threshold is compared with (per pixel), when there is a plane
  let threshVar: Float32Array | undefined = skyVar;
  if (filteredMode) {
    const k2: Kernel = { width: kern!.width, height: kern!.height, data: kern!.data.map((v) => v * v) };
    threshVar = correlate(skyVar!, width, height, k2, 'auto', scratch.f32('threshVar', npixTot));
  }
  lap?.('filter');
  // unusable pixels hold d = 0; they may join a footprint (so IMAFLAGS_ISO sees them) but never start one
  const fp = threshVar
    ? labelAboveThreshold(f, width, height, thresh, threshVar, minArea, undefined, true, threshVar === skyVar ? rowMinVar : undefined)
    : labelAboveThreshold(f, width, height, thresh, (y, out) => bkg.rmsRow(y, out), minArea);
  lap?.('label');

  // deblend and analyse
  const nthresh = opts.deblendNThresh ?? 32;
  const mincont = opts.deblendMinCont ?? 0.005;
  let objs = deblendAll(fp, f, d, width, thresh, threshVar, bkg, { nthresh, mincont, minArea });
  lap?.('deblend');
  if (opts.clean ?? true) {
    // SEP's mthresh: how far the object's minArea-th brightest pixel rises above the threshold
    for (const o of objs) o.mthresh = excessAtMinArea(o.pix, f, threshVar, o.dthresh, thresh, minArea);
    objs = cleanObjects(objs, d, f, width, opts.cleanParam ?? 1);
  }
  lap?.('clean');
  // number objects in raster order of their barycentres
  objs.sort((p, q) => (Math.round(p.my) - Math.round(q.my)) || (p.mx - q.mx));
  const n = objs.length;
  // segmentation map: needed to mask neighbours in the AUTO/Kron/FLUX_RADIUS measurements
  const full = (opts.measure ?? 'full') === 'full';
  let seg: Int32Array | undefined;
  if (full || opts.segmentation) {
    seg = opts.segmentation ? new Int32Array(npixTot) : scratch.i32('seg', npixTot);
    if (!opts.segmentation) seg.fill(0);
    paintSegmentation(objs, seg);
  }

  lap?.('segmentation');
  // errors: the sky variance plane when there is one, else the background RMS² at each object
  // (set per object in measure), plus the sources' Poisson noise with a gain
  const planes: PixelPlanes = pixelPlanes({ width, height, data: d, variance: skyVar, constVariance: 0, gain, bad, segmentation: seg });
  const cat = measure(objs, planes, {
    image, mask, bkg, diam, kronFact, kronMin, fluxFrac, satLevel, psf, width, height, f,
    full,
  });
  lap?.('measure');
  return {
    catalog: cat, background: bkg, globalBack: bkg.globalBack, globalRms: bkg.globalRms,
    segmentation: opts.segmentation ? seg : undefined, nFootprints: fp.count,
  };
}

/**
 * Scratch planes reused from one call to the next when the image size repeats (a pipeline
 * runs CCD after CCD): saves allocating and page-faulting ~150 MB per 2k×4k CCD. Nothing that
 * detectSources returns lives in them (the segmentation map, when asked for, is fresh).
 */
const scratch = {
  pool: new Map<string, Float32Array | Uint8Array | Int32Array>(),
  f32(name: string, n: number): Float32Array {
    let a = this.pool.get(name);
    if (!(a instanceof Float32Array) || a.length !== n) { a = new Float32Array(n); this.pool.set(name, a); }
    return a;
  },
  u8(name: string, n: number): Uint8Array {
    let a = this.pool.get(name);
    if (!(a instanceof Uint8Array) || a.length !== n) { a = new Uint8Array(n); this.pool.set(name, a); }
    return a;
  },
  i32(name: string, n: number): Int32Array {
    let a = this.pool.get(name);
    if (!(a instanceof Int32Array) || a.length !== n) { a = new Int32Array(n); this.pool.set(name, a); }
    return a;
  },
};

/** Release the scratch planes kept between calls of detectSources. */
export function releaseDetectScratch(): void {
  scratch.pool.clear();
}

interface MeasureContext {
  image: Float32Array;
  mask?: Uint32Array;
  bkg: Background;
  diam: number[];
  kronFact: number;
  kronMin: number;
  fluxFrac: number;
  satLevel: number;
  psf?: PsfLike;
  width: number;
  height: number;
  f: Float32Array;
  full: boolean;
}

const FWHM_LEVELS = [0.25, 0.35, 0.45, 0.55, 0.65, 0.75];
const GROWTH_SUB = 4;
const GROWTH_BINS_PER_PIX = 20;

let primed = false;
/**
 * Runs the aperture, growth-curve and windowed measurements once on a tiny synthetic plane
 * whose apertures cross the edge, an unusable pixel and a neighbour (results discarded), so
 * that their rare branches have type feedback before V8 optimises them: a branch first taken
 * in optimised code deoptimises the function, which is then compiled again (10–40 ms each on
 * one core). Once per process; the planes have the types detection uses.
 */
function primeMeasurements(): void {
  if (primed) return;
  primed = true;
  const w = 16, h = 16, n = w * h;
  const data = new Float32Array(n), variance = new Float32Array(n).fill(1), bad = new Uint8Array(n), seg = new Int32Array(n);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = 100 * Math.exp(-((x - 3) ** 2 + (y - 4) ** 2) / 4) + 0.1;
  // unusable pixels inside and on the rim of the apertures (centre 3, 4; radius 6), one mirrored
  // onto a usable pixel, one onto another unusable one; neighbour pixels likewise
  // (mirror of (x, y) about (3.3, 4.2): (round(6.6 − x), round(8.4 − y)))
  for (const [x, y] of [[5, 4], [1, 4], [6, 4], [7, 3], [8, 7], [2, 1]] as const) bad[y * w + x] = 1;
  for (const [x, y] of [[2, 2], [5, 6], [9, 4], [9, 5], [3, 9], [0, 8], [1, 8]] as const) seg[y * w + x] = 2;
  const f = new Float64Array(2), v = new Float64Array(2), fl = new Int32Array(2), hist = new Float64Array(256);
  for (const vp of [variance, undefined]) {
    const p = pixelPlanes({ width: w, height: h, data, variance: vp, constVariance: 1, gain: 1, bad, segmentation: seg });
    // a centre off the pixel grid: mirrored coordinates include −0 (Math.round(−0.4)), as for real sources
    sumCircles(p, 3.3, 4.2, [2, 6], f, v, fl, 0);
    sumEllipse(p, 3.3, 4.2, 1, 1, 0, 6, 1, 1);
    fluxRadius(p, 3.3, 4.2, 6, 50, 1, hist);
    windowed(p, 3.3, 4.2, 1);
  }
}

/** Catalog columns being filled by measure (one entry per object; FAPER* n × naper). */
interface MeasureColumns {
  NUMBER: Int32Array; X: Float64Array; Y: Float64Array; XW: Float64Array; YW: Float64Array; EX2W: Float64Array; EY2W: Float64Array; EXYW: Float64Array;
  X2: Float64Array; Y2: Float64Array; XY: Float64Array; EX2: Float64Array; EY2: Float64Array; EXY: Float64Array;
  A: Float64Array; B: Float64Array; TH: Float64Array; EA: Float64Array; EB: Float64Array; ETH: Float64Array; CXX: Float64Array; CYY: Float64Array; CXY: Float64Array;
  AREA: Int32Array; FISO: Float64Array; FISOE: Float64Array; FMAX: Float64Array; XPK: Int32Array; YPK: Int32Array;
  FAPER: Float64Array; FAPERE: Float64Array; aperFlags: Int32Array;
  FAUTO: Float64Array; FAUTOE: Float64Array; KRON: Float64Array; FRAD: Float64Array; FWHM: Float64Array;
  FPSF: Float64Array; FPSFE: Float64Array; SPREAD: Float64Array; SPREADE: Float64Array;
  BACK: Float64Array; THRESH: Float64Array; FLAGS: Int32Array; IMAF: Int32Array; NIMAF: Int32Array; ELONG: Float64Array; SNRW: Float64Array;
}

/** Scratch of measure, shared by its objects. */
interface MeasureWork {
  radii: number[];
  hist: Float64Array;
  areas: Int32Array;
  psfWork: PsfWork | null;
}

/** Measure object k (NUMBER k + 1) into the columns. */
function measureObject(k: number, o: IsoObject, p: PixelPlanes, c: MeasureContext, m: MeasureColumns, mw: MeasureWork): void {
  const { width, height, data: d, variance: skyVarPlane } = p;
  const ig = p.gain && p.gain > 0 ? 1 / p.gain : 0;
  const naper = c.diam.length;
  const { radii, hist, areas, psfWork } = mw;
  const { NUMBER, X, Y, XW, YW, EX2W, EY2W, EXYW, X2, Y2, XY, EX2, EY2, EXY, A, B, TH, EA, EB, ETH, CXX, CYY, CXY,
    AREA, FISO, FISOE, FMAX, XPK, YPK, FAPER, FAPERE, aperFlags, FAUTO, FAUTOE, KRON, FRAD, FWHM, FPSF, FPSFE, SPREAD, SPREADE,
    BACK, THRESH, FLAGS, IMAF, NIMAF, ELONG, SNRW } = m;
  const id = k + 1;
  NUMBER[k] = id;
  let flags = o.flags;
  X[k] = o.mx + 1; Y[k] = o.my + 1;
  X2[k] = o.x2; Y2[k] = o.y2; XY[k] = o.xy;
  A[k] = o.a; B[k] = o.b; TH[k] = (o.theta * 180) / Math.PI;
  CXX[k] = o.cxx; CYY[k] = o.cyy; CXY[k] = o.cxy;
  ELONG[k] = o.b > 0 ? o.a / o.b : 0;
  // ISOAREA as SExtractor's: footprint pixels whose (unfiltered) value is above the threshold
  let isoArea = 0;
  for (let j = 0; j < o.pix.length; j++) if (d[o.pix[j]!]! > o.dthresh) isoArea++;
  AREA[k] = isoArea; FISO[k] = o.flux; FMAX[k] = o.peak; XPK[k] = o.peakx + 1; YPK[k] = o.peaky + 1;
  THRESH[k] = o.dthresh;
  // without a variance plane, the sky variance of this object is the background RMS² at its centre
  if (!skyVarPlane) { const r = c.bkg.rmsAt(o.mx, o.my); p.constVariance = r * r; }
  const cv = p.constVariance ?? 0;
  // isophotal errors, flags from the footprint
  let sv = 0, sxx = 0, syy = 0, sxy = 0, imaf = 0, nimaf = 0, sat = false;
  const pix = o.pix;
  for (let j = 0; j < pix.length; j++) {
    const i = pix[j]!;
    const x = i % width, y = (i - x) / width;
    const dv = d[i]!;
    const s = (skyVarPlane ? skyVarPlane[i]! : cv) + (dv > 0 ? dv * ig : 0);
    const dx = x - o.mx, dy = y - o.my;
    sv += s; sxx += s * dx * dx; syy += s * dy * dy; sxy += s * dx * dy;
    // without a branch around the arithmetic: masked pixels are rare, and an operation first met
    // in optimised code deoptimises it (then measureObject is compiled again)
    if (c.mask) { const m = c.mask[i]!; imaf |= m; nimaf += m !== 0 ? 1 : 0; if ((m & MaskBits.SAT) !== 0) sat = true; }
    if (c.image[i]! >= c.satLevel) sat = true;
  }
  FISOE[k] = Math.sqrt(sv);
  const fl2 = o.flux * o.flux;
  if (fl2 > 0) { EX2[k] = sxx / fl2; EY2[k] = syy / fl2; EXY[k] = sxy / fl2; }
  if (o.singular) { EX2[k]! += 1 / 144 / Math.max(fl2 / sv, 1); EY2[k]! += 1 / 144 / Math.max(fl2 / sv, 1); }
  const es = errorEllipse(EX2[k]!, EY2[k]!, EXY[k]!);
  EA[k] = es.a; EB[k] = es.b; ETH[k] = es.theta;
  IMAF[k] = imaf; NIMAF[k] = nimaf;
  flags |= sat ? FLAG_SATURATED : 0;
  flags |= o.xmin === 0 || o.ymin === 0 || o.xmax === width - 1 || o.ymax === height - 1 ? FLAG_TRUNCATED : 0;
  BACK[k] = c.bkg.backAt(o.mx, o.my);
  if (!c.full) { FLAGS[k] = flags; return; }

  // circular apertures at the isophotal barycentre
  sumCircles(p, o.mx, o.my, radii, FAPER, FAPERE, aperFlags, k * naper);
  for (let q = 0; q < naper; q++) {
    FAPERE[k * naper + q] = Math.sqrt(FAPERE[k * naper + q]!);
    flags |= aperFlags[k * naper + q]!;
  }

  // Kron radius within 6 × the isophotal ellipse, neighbours and bad pixels left out
  const kr = kronRadius(p, o, id);
  const rk = kr.rk;
  // as SExtractor: the Kron window (6 × the isophotal ellipse) crossing the edge flags 16
  if (kronWindowCrossesEdge(o, width, height)) flags |= FLAG_APER_INCOMPLETE;
  let kf = c.kronFact * rk;
  if (!(kf >= c.kronMin)) kf = c.kronMin;
  KRON[k] = kf;
  const bmin = Math.max(o.b, 1e-3);
  const auto = sumEllipse(p, o.mx, o.my, o.cxx, o.cyy, o.cxy, kf, bmin, id);
  FAUTO[k] = auto.flux; FAUTOE[k] = Math.sqrt(auto.variance);
  flags |= auto.flags;
  // flag 1: other objects or unusable pixels cover more than 10% of the Kron window or of the AUTO aperture
  if (kr.maskedFrac > 0.1 || auto.neighbourArea + auto.badArea > 0.1 * (auto.area + auto.badArea)) flags |= FLAG_CROWDED;

  // half-light radius from the growth curve in circles, normalised to FLUX_AUTO
  const rmax = Math.max(kf * o.a, 2);
  FRAD[k] = fluxRadius(p, o.mx, o.my, rmax, c.fluxFrac * auto.flux, id, hist);

  // windowed centroid
  const sig = FRAD[k]! > 0 ? Math.max((2 * FRAD[k]!) / 2.3548, 0.5) : Math.max(o.a, 0.5);
  const w = windowed(p, o.mx, o.my, sig);
  XW[k] = w.x + 1; YW[k] = w.y + 1; EX2W[k] = w.ex2; EY2W[k] = w.ey2; EXYW[k] = w.exy; SNRW[k] = w.snr;

  // FWHM from the areas above fractions of the peak (Gaussian profile: A(t) = 2πσ²·ln(peak/t))
  FWHM[k] = fwhmFromAreas(pix, d, o.peak, areas);

  if (c.psf && psfWork) {
    const r = psfWork.measure(c.psf, p, w.x, w.y);
    FPSF[k] = r.flux; FPSFE[k] = r.fluxErr; SPREAD[k] = r.spread; SPREADE[k] = r.spreadErr;
    flags |= r.flags;
  }
  FLAGS[k] = flags;
}

function measure(objs: IsoObject[], p: PixelPlanes, c: MeasureContext): SourceCatalog {
  const n = objs.length;
  const naper = c.diam.length;
  const F64 = () => new Float64Array(n);
  const I32 = () => new Int32Array(n);
  const m: MeasureColumns = {
    NUMBER: I32(), X: F64(), Y: F64(), XW: F64(), YW: F64(), EX2W: F64(), EY2W: F64(), EXYW: F64(),
    X2: F64(), Y2: F64(), XY: F64(), EX2: F64(), EY2: F64(), EXY: F64(),
    A: F64(), B: F64(), TH: F64(), EA: F64(), EB: F64(), ETH: F64(), CXX: F64(), CYY: F64(), CXY: F64(),
    AREA: I32(), FISO: F64(), FISOE: F64(), FMAX: F64(), XPK: I32(), YPK: I32(),
    FAPER: new Float64Array(n * naper), FAPERE: new Float64Array(n * naper), aperFlags: new Int32Array(n * naper),
    FAUTO: F64(), FAUTOE: F64(), KRON: F64(), FRAD: F64(), FWHM: F64(),
    FPSF: F64(), FPSFE: F64(), SPREAD: F64(), SPREADE: F64(),
    BACK: F64(), THRESH: F64(), FLAGS: I32(), IMAF: I32(), NIMAF: I32(), ELONG: F64(), SNRW: F64(),
  };
  const w: MeasureWork = {
    radii: c.diam.map((x) => x / 2), hist: new Float64Array(4096), areas: new Int32Array(FWHM_LEVELS.length),
    psfWork: c.psf ? new PsfWork() : null,
  };
  primeMeasurements();
  // one object at a time in a function of its own (compiled once, not on-stack in this loop)
  for (let k = 0; k < n; k++) measureObject(k, objs[k]!, p, c, m, w);
  const { NUMBER, X, Y, XW, YW, EX2W, EY2W, EXYW, X2, Y2, XY, EX2, EY2, EXY, A, B, TH, EA, EB, ETH, CXX, CYY, CXY,
    AREA, FISO, FISOE, FMAX, XPK, YPK, FAPER, FAPERE, FAUTO, FAUTOE, KRON, FRAD, FWHM, FPSF, FPSFE, SPREAD, SPREADE,
    BACK, THRESH, FLAGS, IMAF, NIMAF, ELONG, SNRW } = m;

  const cat = new SourceCatalog(n);
  cat.add('NUMBER', NUMBER, 'Running object number')
    .add('X_IMAGE', X, 'Object position along x (isophotal barycentre, FITS 1-based)', 'pixel')
    .add('Y_IMAGE', Y, 'Object position along y (isophotal barycentre, FITS 1-based)', 'pixel');
  if (c.full) {
    cat.add('XWIN_IMAGE', XW, 'Windowed position estimate along x', 'pixel')
      .add('YWIN_IMAGE', YW, 'Windowed position estimate along y', 'pixel')
      .add('ERRX2WIN_IMAGE', EX2W, 'Variance of windowed position along x', 'pixel**2')
      .add('ERRY2WIN_IMAGE', EY2W, 'Variance of windowed position along y', 'pixel**2')
      .add('ERRXYWIN_IMAGE', EXYW, 'Covariance of windowed position between x and y', 'pixel**2');
  }
  cat.add('X2_IMAGE', X2, 'Variance along x', 'pixel**2')
    .add('Y2_IMAGE', Y2, 'Variance along y', 'pixel**2')
    .add('XY_IMAGE', XY, 'Covariance between x and y', 'pixel**2')
    .add('ERRX2_IMAGE', EX2, 'Variance of position along x', 'pixel**2')
    .add('ERRY2_IMAGE', EY2, 'Variance of position along y', 'pixel**2')
    .add('ERRXY_IMAGE', EXY, 'Covariance of position between x and y', 'pixel**2')
    .add('A_IMAGE', A, 'Profile RMS along major axis', 'pixel')
    .add('B_IMAGE', B, 'Profile RMS along minor axis', 'pixel')
    .add('THETA_IMAGE', TH, 'Position angle (CCW from x)', 'deg')
    .add('ERRA_IMAGE', EA, 'RMS position error along major axis', 'pixel')
    .add('ERRB_IMAGE', EB, 'RMS position error along minor axis', 'pixel')
    .add('ERRTHETA_IMAGE', ETH, 'Error ellipse position angle (CCW from x)', 'deg')
    .add('CXX_IMAGE', CXX, 'Cxx object ellipse parameter', 'pixel**(-2)')
    .add('CYY_IMAGE', CYY, 'Cyy object ellipse parameter', 'pixel**(-2)')
    .add('CXY_IMAGE', CXY, 'Cxy object ellipse parameter', 'pixel**(-2)')
    .add('ELONGATION', ELONG, 'A_IMAGE/B_IMAGE')
    .add('ISOAREA_IMAGE', AREA, 'Isophotal area above analysis threshold', 'pixel**2')
    .add('FLUX_ISO', FISO, 'Isophotal flux', 'count')
    .add('FLUXERR_ISO', FISOE, 'RMS error for isophotal flux', 'count')
    .add('FLUX_MAX', FMAX, 'Peak flux above background', 'count')
    .add('XPEAK_IMAGE', XPK, 'x-coordinate of the brightest pixel', 'pixel')
    .add('YPEAK_IMAGE', YPK, 'y-coordinate of the brightest pixel', 'pixel');
  if (c.full) {
    cat.add('FLUX_APER', FAPER, `Flux in circular apertures of diameters ${c.diam.join(', ')} px`, 'count', naper)
    .add('FLUXERR_APER', FAPERE, 'RMS error of FLUX_APER', 'count', naper)
    .add('FLUX_AUTO', FAUTO, 'Flux within a Kron-like elliptical aperture', 'count')
    .add('FLUXERR_AUTO', FAUTOE, 'RMS error for AUTO flux', 'count')
    .add('KRON_RADIUS', KRON, 'Kron aperture in units of A or B')
    .add('FLUX_RADIUS', FRAD, `Radius enclosing ${c.fluxFrac} of FLUX_AUTO`, 'pixel')
    .add('FWHM_IMAGE', FWHM, 'FWHM assuming a Gaussian core', 'pixel')
    .add('SNR_WIN', SNRW, 'Gaussian-weighted SNR');
  }
  if (c.psf && c.full) {
    cat.add('FLUX_PSF', FPSF, 'Flux from PSF fitting', 'count')
      .add('FLUXERR_PSF', FPSFE, 'RMS flux error for PSF fitting', 'count')
      .add('SPREAD_MODEL', SPREAD, 'Spread parameter from model fitting')
      .add('SPREADERR_MODEL', SPREADE, 'Spread parameter error from model fitting');
  }
  cat.add('BACKGROUND', BACK, 'Background at centroid position', 'count')
    .add('THRESHOLD', THRESH, 'Detection threshold above background', 'count')
    .add('FLAGS', FLAGS, 'Extraction flags')
    .add('IMAFLAGS_ISO', IMAF, 'OR of the mask bits over the isophotal footprint')
    .add('NIMAFLAGS_ISO', NIMAF, 'Number of flagged pixels entering IMAFLAGS_ISO');
  return cat;
}

let excessWork = new Float64Array(0);
/**
 * The minArea-th largest value of f − threshold over a footprint (0 when smaller than minArea);
 * the threshold is thresh·σ per pixel with a variance plane, else the object's own dthresh.
 */
function excessAtMinArea(pix: Int32Array, f: Float32Array, threshVar: Float32Array | undefined, dthresh: number, thresh: number, minArea: number): number {
  const n = pix.length;
  if (n < minArea || minArea < 1) return 0;
  if (excessWork.length < n) excessWork = new Float64Array(Math.max(n, 2 * excessWork.length));
  if (threshVar) for (let k = 0; k < n; k++) { const i = pix[k]!; excessWork[k] = f[i]! - thresh * Math.sqrt(threshVar[i]!); }
  else for (let k = 0; k < n; k++) excessWork[k] = f[pix[k]!]! - dthresh;
  return quickselect(excessWork, n - minArea, n);
}

function errorEllipse(x2: number, y2: number, xy: number): { a: number; b: number; theta: number } {
  const t1 = (x2 + y2) / 2;
  const t2 = Math.sqrt(((x2 - y2) / 2) ** 2 + xy * xy);
  const theta = x2 === y2 && xy === 0 ? 0 : (0.5 * Math.atan2(2 * xy, x2 - y2) * 180) / Math.PI;
  return { a: Math.sqrt(Math.max(t1 + t2, 0)), b: Math.sqrt(Math.max(t1 - t2, 0)), theta };
}

function kronWindowCrossesEdge(o: IsoObject, width: number, height: number): boolean {
  const det = o.cxx * o.cyy - (o.cxy * o.cxy) / 4;
  if (!(det > 0)) return false;
  const hx = 6 * Math.sqrt(o.cyy / det), hy = 6 * Math.sqrt(o.cxx / det);
  return o.mx - hx < -0.5 || o.my - hy < -0.5 || o.mx + hx > width - 0.5 || o.my + hy > height - 0.5;
}

/**
 * First-moment (Kron) radius in units of the isophotal ellipse, within 6× that ellipse; also the
 * fraction of that window covered by other objects or unusable pixels.
 */
function kronRadius(p: PixelPlanes, o: IsoObject, id: number): { rk: number; maskedFrac: number } {
  const { width, height, data, bad, segmentation } = p;
  const R = 6;
  const det = o.cxx * o.cyy - (o.cxy * o.cxy) / 4;
  if (!(det > 0)) return { rk: 0, maskedFrac: 0 };
  const hx = R * Math.sqrt(o.cyy / det), hy = R * Math.sqrt(o.cxx / det);
  const x0 = Math.max(0, Math.floor(o.mx - hx)), x1 = Math.min(width - 1, Math.ceil(o.mx + hx));
  const y0 = Math.max(0, Math.floor(o.my - hy)), y1 = Math.min(height - 1, Math.ceil(o.my + hy));
  let sr = 0, sf = 0, npx = 0, nmask = 0;
  for (let y = y0; y <= y1; y++) {
    const dy = y - o.my;
    const row = y * width;
    for (let x = x0; x <= x1; x++) {
      const dx = x - o.mx;
      const r2 = o.cxx * dx * dx + o.cyy * dy * dy + o.cxy * dx * dy;
      if (r2 > R * R) continue;
      npx++;
      const i = row + x;
      if (bad && bad[i]) { nmask++; continue; }
      if (segmentation) { const s = segmentation[i]!; if (s !== 0 && s !== id) { nmask++; continue; } }
      const v = data[i]!;
      sr += Math.sqrt(r2) * v;
      sf += v;
    }
  }
  return { rk: sf > 0 && sr > 0 ? sr / sf : 0, maskedFrac: npx ? nmask / npx : 0 };
}

/** Radius of the circle holding `target` flux, from a sub-sampled growth curve out to rmax. */
function fluxRadius(p: PixelPlanes, xc: number, yc: number, rmax: number, target: number, id: number, hist: Float64Array): number {
  if (!(target > 0)) return 0;
  const { width, height, data, bad, segmentation } = p;
  const nb = Math.min(hist.length, Math.ceil(rmax * GROWTH_BINS_PER_PIX) + 1);
  hist.fill(0, 0, nb);
  const x0 = Math.floor(xc - rmax - 0.5), x1 = Math.ceil(xc + rmax + 0.5);
  const y0 = Math.floor(yc - rmax - 0.5), y1 = Math.ceil(yc + rmax + 0.5);
  const inv = 1 / (GROWTH_SUB * GROWTH_SUB);
  const binScale = (nb - 1) / rmax;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      let v: number;
      let ok = x >= 0 && y >= 0 && x < width && y < height;
      let i = ok ? y * width + x : -1;
      if (ok && ((bad && bad[i]) || (segmentation && segmentation[i]! !== 0 && segmentation[i]! !== id))) {
        // mirror correction
        // + 0: no −0 (Math.round(−0.3)), which optimised code would deoptimise on
        const mx = Math.round(2 * xc - x) + 0, my = Math.round(2 * yc - y) + 0;
        ok = mx >= 0 && my >= 0 && mx < width && my < height;
        i = ok ? my * width + mx : -1;
        if (ok && ((bad && bad[i]) || (segmentation && segmentation[i]! !== 0 && segmentation[i]! !== id))) ok = false;
      }
      if (!ok) continue;
      const cdx = x - xc, cdy = y - yc;
      const rc2 = cdx * cdx + cdy * cdy;
      if (rc2 > 9) {
        // far from the centre a single sample at the pixel centre is enough
        const r = Math.sqrt(rc2);
        if (r < rmax) hist[Math.floor(r * binScale)]! += data[i]!;
        continue;
      }
      v = data[i]! * inv;
      for (let b = 0; b < GROWTH_SUB; b++) {
        const dy = y - yc + (b + 0.5) / GROWTH_SUB - 0.5;
        for (let a = 0; a < GROWTH_SUB; a++) {
          const dx = x - xc + (a + 0.5) / GROWTH_SUB - 0.5;
          const r = Math.sqrt(dx * dx + dy * dy);
          if (r >= rmax) continue;
          hist[Math.floor(r * binScale)]! += v;
        }
      }
    }
  }
  let acc = 0;
  for (let b = 0; b < nb; b++) {
    const h = hist[b]!;
    if (acc + h >= target && h > 0) {
      const frac = (target - acc) / h;
      return (b + frac) / binScale;
    }
    acc += h;
  }
  return rmax;
}

// separable Gaussian window weights along x and y (reused)
// (empty at first: the first call grows them, so the growth has type feedback before V8 optimises)
let winWx = new Float64Array(0), winWy = new Float64Array(0);

/** SExtractor's iterative Gaussian-windowed centroid (0-based in and out) and its errors. */
function windowed(p: PixelPlanes, x0: number, y0: number, sig: number): { x: number; y: number; ex2: number; ey2: number; exy: number; snr: number } {
  const { width, height, data, variance, bad } = p;
  const cv = p.constVariance ?? 0, ig = p.gain && p.gain > 0 ? 1 / p.gain : 0;
  const rmax = 4 * sig;
  const r2max = rmax * rmax;
  const inv2s2 = 1 / (2 * sig * sig);
  const span = 2 * Math.ceil(rmax) + 3;
  if (winWx.length < span) { winWx = new Float64Array(2 * span); winWy = new Float64Array(2 * span); }
  const wx = winWx, wy = winWy;
  let xc = x0, yc = y0;
  const fail = { x: x0, y: y0, ex2: 0, ey2: 0, exy: 0, snr: 0 };
  for (let iter = 0; iter < 16; iter++) {
    const xa = Math.max(0, Math.floor(xc - rmax)), xb = Math.min(width - 1, Math.ceil(xc + rmax));
    const ya = Math.max(0, Math.floor(yc - rmax)), yb = Math.min(height - 1, Math.ceil(yc + rmax));
    // w(x, y) = exp(−dx²/2σ²)·exp(−dy²/2σ²): two short tables instead of one exp per pixel
    for (let x = xa; x <= xb; x++) { const dx = x - xc; wx[x - xa] = Math.exp(-dx * dx * inv2s2); }
    for (let y = ya; y <= yb; y++) { const dy = y - yc; wy[y - ya] = Math.exp(-dy * dy * inv2s2); }
    let sx = 0, sy = 0, swv = 0;
    for (let y = ya; y <= yb; y++) {
      const dy = y - yc;
      const row = y * width;
      const wyy = wy[y - ya]!;
      const lim = r2max - dy * dy;
      if (lim < 0) continue;
      for (let x = xa; x <= xb; x++) {
        const dx = x - xc;
        if (dx * dx > lim) continue;
        const i = row + x;
        if (bad && bad[i]) continue;
        const wv = wyy * wx[x - xa]! * data[i]!;
        swv += wv; sx += wv * dx; sy += wv * dy;
      }
    }
    if (!(swv > 0)) return fail;
    const ddx = (2 * sx) / swv, ddy = (2 * sy) / swv;
    // keep the window near the start: a runaway means the object is too faint
    if (Math.abs(xc + ddx - x0) > rmax || Math.abs(yc + ddy - y0) > rmax) return fail;
    xc += ddx; yc += ddy;
    if (ddx * ddx + ddy * ddy < 4e-8) break;
  }
  // errors at the final position
  const xa = Math.max(0, Math.floor(xc - rmax)), xb = Math.min(width - 1, Math.ceil(xc + rmax));
  const ya = Math.max(0, Math.floor(yc - rmax)), yb = Math.min(height - 1, Math.ceil(yc + rmax));
  for (let x = xa; x <= xb; x++) { const dx = x - xc; wx[x - xa] = Math.exp(-dx * dx * inv2s2); }
  for (let y = ya; y <= yb; y++) { const dy = y - yc; wy[y - ya] = Math.exp(-dy * dy * inv2s2); }
  let sw = 0, ex = 0, ey = 0, exy = 0, sww = 0;
  for (let y = ya; y <= yb; y++) {
    const dy = y - yc;
    const row = y * width;
    const wyy = wy[y - ya]!;
    const lim = r2max - dy * dy;
    if (lim < 0) continue;
    for (let x = xa; x <= xb; x++) {
      const dx = x - xc;
      if (dx * dx > lim) continue;
      const i = row + x;
      if (bad && bad[i]) continue;
      const w = wyy * wx[x - xa]!;
      const dv = data[i]!;
      const s = (variance ? variance[i]! : cv) + (dv + Math.abs(dv)) * 0.5 * ig;
      sw += w * dv;
      const w2s = w * w * s;
      ex += w2s * dx * dx; ey += w2s * dy * dy; exy += w2s * dx * dy;
      sww += w2s;
    }
  }
  const norm = sw > 0 ? 4 / (sw * sw) : 0;
  return { x: xc, y: yc, ex2: ex * norm, ey2: ey * norm, exy: exy * norm, snr: sww > 0 ? sw / Math.sqrt(sww) : 0 };
}

/** FWHM of a footprint from the slope of area vs log-threshold (Gaussian core). */
function fwhmFromAreas(pix: Int32Array, d: Float32Array, peak: number, areas: Int32Array): number {
  if (!(peak > 0)) return 0;
  areas.fill(0);
  const nl = FWHM_LEVELS.length;
  for (let j = 0; j < pix.length; j++) {
    const r = d[pix[j]!]! / peak;
    for (let l = 0; l < nl; l++) if (r > FWHM_LEVELS[l]!) areas[l]!++;
  }
  // least squares A = c − 2πσ²·ln t over the levels holding at least 2 pixels
  let sx = 0, sy = 0, sxx = 0, sxy = 0, m = 0;
  for (let l = 0; l < nl; l++) {
    if (areas[l]! < 2) continue;
    const x = Math.log(FWHM_LEVELS[l]!), y = areas[l]!;
    sx += x; sy += y; sxx += x * x; sxy += x * y; m++;
  }
  if (m >= 3) {
    const slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
    if (slope < 0) return 2.3548 * Math.sqrt(-slope / (2 * Math.PI));
  }
  // fallback: area above half maximum
  let a = 0;
  for (let j = 0; j < pix.length; j++) if (d[pix[j]!]! > 0.5 * peak) a++;
  return 2 * Math.sqrt(Math.max(a, 1) / Math.PI);
}

/** PSF flux and SPREAD_MODEL of sources at given positions (see measurePsfAt). */
export interface PsfMeasurement {
  /** PSF flux (weighted least squares with the sky variance as weights; the PSF's total flux). */
  flux: Float64Array;
  fluxErr: Float64Array;
  /** SPREAD_MODEL (Desai et al. 2012): ≈ 0 for point sources, > 0 for extended ones. */
  spread: Float64Array;
  spreadErr: Float64Array;
  /** FLAGS bits (16: the PSF stamp crosses the image edge or unusable pixels). */
  flags: Int32Array;
}

/**
 * PSF flux and SPREAD_MODEL/SPREADERR_MODEL at given 0-based positions, with a PSF known only
 * after detection (no second detection pass): the same measurement detectSources makes per
 * source when given `psf`. `planes.data` is the background-subtracted image; `planes.variance`
 * (or `constVariance`) the sky variance, used as weights; with `gain` > 0 the sources' Poisson
 * noise enters the errors (not the weights). Positions that are not finite give zeros and flag 16.
 */
export function measurePsfAt(planes: PixelPlanes, psf: PsfLike, x: ArrayLike<number>, y: ArrayLike<number>): PsfMeasurement {
  const n = x.length;
  if (y.length !== n) throw new RangeError(`measurePsfAt: ${n} x positions but ${y.length} y positions`);
  const out: PsfMeasurement = {
    flux: new Float64Array(n), fluxErr: new Float64Array(n), spread: new Float64Array(n), spreadErr: new Float64Array(n), flags: new Int32Array(n),
  };
  planes = pixelPlanes(planes);
  const work = new PsfWork();
  for (let k = 0; k < n; k++) {
    const xk = x[k]!, yk = y[k]!;
    if (!Number.isFinite(xk) || !Number.isFinite(yk)) { out.flags[k] = FLAG_APER_INCOMPLETE; continue; }
    const r = work.measure(psf, planes, xk, yk);
    out.flux[k] = r.flux; out.fluxErr[k] = r.fluxErr; out.spread[k] = r.spread; out.spreadErr[k] = r.spreadErr; out.flags[k] = r.flags;
  }
  return out;
}

/** PSF photometry and SPREAD_MODEL at a position, with reusable buffers. */
class PsfWork {
  private stamp = new Float32Array(0);
  private gal = new Float64Array(0);
  private gal32 = new Float32Array(0);
  private pad = new Float64Array(0);

  measure(psf: PsfLike, p: PixelPlanes, x: number, y: number): { flux: number; fluxErr: number; spread: number; spreadErr: number; flags: number } {
    const { width, height, data, variance, bad } = p;
    const cv = p.constVariance ?? 0, ig = p.gain && p.gain > 0 ? 1 / p.gain : 0;
    const fwhm = psf.fwhmPixAt ? psf.fwhmPixAt(x, y) : 3;
    const size = Math.min(51, Math.max(7, 2 * Math.ceil(2.5 * fwhm) + 1));
    if (this.stamp.length < size * size) this.stamp = new Float32Array(size * size);
    const P = psf.stampAt(x, y, size, this.stamp);
    const G = this.galaxyModel(psf, x, y, P, size, fwhm / 16);
    const { x0, y0 } = stampOrigin(x, y, size);
    let pwp = 0, pwd = 0, gwd = 0, gwp = 0;
    let vpp = 0, vgg = 0, vgp = 0;
    let flags = 0;
    for (let v = 0; v < size; v++) {
      const iy = y0 + v;
      for (let u = 0; u < size; u++) {
        const ix = x0 + u;
        const pv = P[v * size + u]!, gv = G[v * size + u]!;
        if (ix < 0 || iy < 0 || ix >= width || iy >= height) { if (pv > 1e-3) flags |= FLAG_APER_INCOMPLETE; continue; }
        const i = iy * width + ix;
        if (bad && bad[i]) { if (pv > 1e-3) flags |= FLAG_APER_INCOMPLETE; continue; }
        // weights from the sky variance alone (unbiased by the source's own noise); errors with all of it
        const sv = variance ? variance[i]! : cv;
        if (!(sv > 0 && sv < Infinity)) continue;
        const dv = data[i]!;
        if (dv - dv !== 0) { if (pv > 1e-3) flags |= FLAG_APER_INCOMPLETE; continue; }
        const w = 1 / sv, tv = sv + (dv + Math.abs(dv)) * 0.5 * ig;
        pwp += pv * w * pv; pwd += pv * w * dv; gwd += gv * w * dv; gwp += gv * w * pv;
        const w2t = w * w * tv;
        vpp += pv * pv * w2t; vgg += gv * gv * w2t; vgp += gv * pv * w2t;
      }
    }
    if (!(pwp > 0)) return { flux: 0, fluxErr: 0, spread: 0, spreadErr: 0, flags };
    const flux = pwd / pwp;
    const fluxErr = Math.sqrt(vpp) / pwp;
    let spread = 0, spreadErr = 0;
    if (pwd !== 0) {
      spread = gwd / pwd - gwp / pwp;
      const Aa = gwd, Bb = pwd;
      const varS = vgg / (Bb * Bb) - (2 * Aa * vgp) / (Bb * Bb * Bb) + (Aa * Aa * vpp) / (Bb * Bb * Bb * Bb);
      spreadErr = Math.sqrt(Math.max(varS, 0));
    }
    return { flux, fluxErr, spread, spreadErr, flags };
  }

  /**
   * The PSF convolved with an exponential disk of scale length h, normalised to the PSF's sum:
   * a direct convolution of the stamp (zero outside it) with the disk's pixel kernel (diskKernel).
   */
  private galaxyModel(psf: PsfLike, x: number, y: number, P: Float32Array, size: number, h: number): Float32Array | Float64Array {
    const dk = diskKernel(h);
    if (psf.convolvedStampAt) {
      if (this.gal32.length < size * size) this.gal32 = new Float32Array(size * size);
      const gs = psf.convolvedStampAt(x, y, size, dk, this.gal32);
      if (gs) return gs;
    }
    if (this.gal.length < size * size) this.gal = new Float64Array(size * size);
    const g = this.gal;
    const { r: R, k: K } = dk;
    const D = 2 * R + 1, S = size + 2 * R;
    // the stamp zero-padded by R on every side, so the inner loops need no bounds tests
    if (this.pad.length < S * S) this.pad = new Float64Array(S * S);
    const pad = this.pad;
    pad.fill(0, 0, S * S);
    for (let v = 0; v < size; v++) for (let u = 0; u < size; u++) pad[(v + R) * S + u + R] = P[v * size + u]!;
    for (let v = 0; v < size; v++) {
      for (let u = 0; u < size; u++) {
        let acc = 0;
        // G(v, u) = Σ K(b, a) · P(v + R − b, u + R − a)
        for (let b = 0; b < D; b++) {
          const prow = (v + 2 * R - b) * S + u + 2 * R, krow = b * D;
          for (let a = 0; a < D; a++) acc += K[krow + a]! * pad[prow - a]!;
        }
        g[v * size + u] = acc;
      }
    }
    return g;
  }
}

/**
 * Pixel kernel of an exponential disk of scale length h (pixels): the inverse DFT, on a 64 × 64
 * grid, of the disk's Fourier transform (1 + (2πh·k)²)^−3/2, truncated to radius
 * max(4, ⌈6h⌉) and renormalised to sum 1. Cached per h rounded to 0.001 px (the
 * galaxy model of SPREAD_MODEL uses h = FWHM/16, a slowly varying function of position).
 */
const diskKernels = new Map<number, { key: number; r: number; k: Float64Array }>();
function diskKernel(hIn: number): { key: number; r: number; k: Float64Array } {
  const key = Math.max(0, Math.round(hIn * 1000));
  const hit = diskKernels.get(key);
  if (hit) return hit;
  const h = key / 1000;
  const N = 64, nn = N * N;
  const re = new Float64Array(nn), im = new Float64Array(nn);
  const c = 2 * Math.PI * h;
  for (let ky = 0; ky < N; ky++) {
    const fy = (ky <= N / 2 ? ky : ky - N) / N;
    for (let kx = 0; kx < N; kx++) {
      const fx = (kx <= N / 2 ? kx : kx - N) / N;
      re[ky * N + kx] = Math.pow(1 + c * c * (fx * fx + fy * fy), -1.5);
    }
  }
  fft2(re, im, N, true);
  // re now holds the kernel with its centre at (0, 0), periodic
  const at = (u: number, v: number) => re[((v + N) % N) * N + ((u + N) % N)]!;
  // the kernel's far wings are band-limit ringing (|K| ≲ 1e-3 beyond 4 px for h ≤ 0.5 px): a
  // 9 × 9 kernel changes SPREAD_MODEL by ~1e-4 (median) from the untruncated convolution
  const r = Math.min(15, Math.max(4, Math.ceil(6 * h)));
  const D = 2 * r + 1;
  const k = new Float64Array(D * D);
  let sum = 0;
  for (let v = -r; v <= r; v++) for (let u = -r; u <= r; u++) { const val = at(u, v); k[(v + r) * D + u + r] = val; sum += val; }
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  const out = { key, r, k };
  diskKernels.set(key, out);
  return out;
}

function fft2(re: Float64Array, im: Float64Array, n: number, inverse: boolean): void {
  for (let y = 0; y < n; y++) fftComplex(re, im, inverse, n, y * n, 1);
  for (let x = 0; x < n; x++) fftComplex(re, im, inverse, n, x, n);
}
