/**
 * calibrateCcd: the single-epoch calibration of one CCD, as a library function with plain
 * inputs and outputs (no file I/O): background, detection and measurement, PSF model, PSF
 * photometry and aperture correction, astrometric solution against a reference catalog, zero
 * point, depth and seeing. The campaign engine wraps it as a task; `tessera calibrate` runs it
 * per CCD of an exposure (./exposure.ts).
 *
 * Pixel convention: planes are 0-based row-major; catalog columns are FITS 1-based.
 */
import { TesseraError } from '../../util/errors.js';
import type { MaskedImage } from '../../image/masked-image.js';
import { detectSources, sumCircles, measurePsfAt, pixelPlanes, type SourceCatalog } from '../../detect/index.js';
import { fitPsf, selectPsfStars, psfPhotometry, noiseEquivalentArea, type PsfModel } from '../../psf/index.js';
import type { Wcs } from '../../wcs/wcs.js';
import { solveAstrometry, mjdToJulianYear, type AstromModel } from '../../calib/astrometry.js';
import { ccdZeroPoint, apertureCorrection, psfDepth, zeroPointError } from '../../calib/photometry.js';
import type { ColorMode } from '../../calib/colorterms.js';

/** Reference stars (Gaia-like) at the epoch of the exposure. */
export interface RefStars {
  ra: ArrayLike<number>;
  dec: ArrayLike<number>;
  g: ArrayLike<number>;
  bp: ArrayLike<number>;
  rp: ArrayLike<number>;
}

/** Cone query of the reference catalog at an epoch (Julian year); throws TesseraError for missing regions. */
export type RefQuery = (raDeg: number, decDeg: number, radiusDeg: number, epochJyear: number) => RefStars;

export interface CalibrateCcdInputs {
  image: MaskedImage;
  /** WCS from the raw header (starting point of the astrometry). */
  headerWcs: Wcs;
  band: string;
  mjd: number;
  expnum: number;
  ccdName: string;
  gain?: number;
  saturate?: number;
  refQuery: RefQuery;
}

export interface CalibrateConfig {
  threshSigma?: number;
  minArea?: number;
  /** Background mesh size in pixels (default 128). */
  backSize?: number;
  /** Aperture diameters (pixels) for FLUX_APER (default [6, 12, 24]). */
  apertures?: number[];
  psfDegree?: number;
  astromModel?: AstromModel;
  astromOrder?: number;
  colorMode?: ColorMode;
  /** Largest header WCS error searched (arcsec, default 120). */
  maxOffsetArcsec?: number;
}

export interface CcdQa {
  expnum: number;
  ccd: string;
  band: string;
  mjd: number;
  zp: number;
  zpErr: number;
  /** Seeing FWHM (arcsec), from the PSF model at the CCD centre (pixel-deconvolved). */
  seeingArcsec: number;
  /** Sky level (counts) subtracted. */
  sky: number;
  /** Sky noise (counts per pixel). */
  skyRms: number;
  /** 5σ PSF depth (AB mag). */
  depth: number;
  astromRmsArcsec: number;
  nAstromStars: number;
  nZpStars: number;
  nPsfStars: number;
  nSources: number;
  apCorr: number;
  /** Parts of zpErr (mag): the clipped mean's statistical error σ/√N and the aperture correction's error. */
  zpErrStat?: number;
  apCorrErrMag?: number;
  /** Comma-separated notes and flags ('' when clean); failures say why. */
  flags: string;
}

export interface CalibrateCcdResult {
  /** Sky-subtracted image (0-based planes). */
  image: Float32Array;
  variance: Float32Array;
  mask: Uint16Array | Uint32Array | Uint8Array | undefined;
  width: number;
  height: number;
  wcs: Wcs;
  psf: PsfModel;
  catalog: SourceCatalog;
  qa: CcdQa;
  /** Wall time of each step (seconds). */
  timings: Record<string, number>;
  /** CPU time of each step (seconds; this process, all threads). */
  cpu: Record<string, number>;
  /** Keywords for the IMAGE header (MAGZERO, MAGZERR, FWHM, SKYLEVEL, DEPTH, ASTRRMS, NASTRSTR, ...). */
  keywords: { key: string; value: number | string | boolean; comment: string }[];
}

/**
 * Sky level of annulus pixels: κσ-clipped (3σ, 5 passes) mode estimate 2.5·median − 1.5·mean
 * (SExtractor's), or the median when the distribution is too skewed. Faint undetected sources
 * skew sky pixels positive; the mode is less biased by them than the median.
 */
export function skyMode(v: number[]): number {
  if (v.length === 0) return 0;
  v.sort((a, b) => a - b);
  let lo = 0, hi = v.length;
  let med = v[v.length >> 1]!, mean = med, sd = 0;
  for (let it = 0; it < 5; it++) {
    const n = hi - lo;
    if (n < 3) break;
    med = v[lo + (n >> 1)]!;
    let s = 0, s2 = 0;
    for (let i = lo; i < hi; i++) { s += v[i]!; s2 += v[i]! * v[i]!; }
    mean = s / n; sd = Math.sqrt(Math.max(0, s2 / n - mean * mean));
    let nlo = lo, nhi = hi;
    while (nlo < nhi && v[nlo]! < med - 3 * sd) nlo++;
    while (nhi > nlo && v[nhi - 1]! > med + 3 * sd) nhi--;
    if (nlo === lo && nhi === hi) break;
    lo = nlo; hi = nhi;
  }
  return sd > 0 && Math.abs(mean - med) / sd < 0.3 ? 2.5 * med - 1.5 * mean : med;
}

/**
 * Systematic floor (mag) added in quadrature to MAGZERR: the aperture correction measures the flux
 * inside radius max(25 px, 7 FWHM) against a sky annulus just outside it, so PSF wing light beyond
 * the radius (and in the annulus) is never counted. On src/sim CCDs (Moffat core + 10% wing) that
 * leaves zero points 3.5 ± 1 mmag faint on average over 64 CCDs, as the wing profile predicts; real
 * PSF wings are of the same order.
 */
export const ZP_ERR_FLOOR_MAG = 0.003;

/** Finite values among every `step`-th element. */
function countFinite(a: Float32Array, step: number): number {
  let n = 0;
  for (let i = 0; i < a.length; i += step) if (a[i]! - a[i]! === 0) n++;
  return n;
}

/**
 * Row by row (no variance plane came with the image): the variance = RMS map² plus the sources'
 * Poisson noise max(0, sub)/gain (sub = the sky-subtracted image).
 */
function sourceVariance(width: number, height: number, bk: { rmsRow(y: number, out: Float32Array): void },
  sub: Float32Array, variance: Float32Array, g: number): void {
  const rrow = new Float32Array(width);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    bk.rmsRow(y, rrow);
    for (let x = 0; x < width; x++) { const r = rrow[x]!, v = sub[o + x]!; variance[o + x] = r * r + (g > 0 ? Math.max(0, v) / g : 0); }
  }
}

/**
 * variance += sub / gain where both are positive (the sources' Poisson noise). max(d, 0) is
 * written (d + |d|)·½ — the same value — so that the sky's pixels, half of them below 0 at random,
 * cost no mispredicted branch (3× faster on a real CCD); NaN pixels keep their variance.
 */
function addSourceNoise(variance: Float32Array, sub: Float32Array, g: number): void {
  for (let i = 0; i < variance.length; i++) {
    const v = variance[i]!, d = sub[i]!;
    if (v > 0 && d === d) variance[i] = v + ((d + Math.abs(d)) * 0.5) / g;
  }
}

/** Finite image values at distance r1 ≤ d ≤ r2 from (xc, yc), outside unusable pixels and detected objects, appended to out. */
function annulusValues(im: Float32Array, width: number, bad: Uint8Array | undefined, seg: Int32Array,
  xc: number, yc: number, r1: number, r2: number, out: number[]): void {
  for (let yy = Math.floor(yc - r2); yy <= Math.ceil(yc + r2); yy++) {
    for (let xx = Math.floor(xc - r2); xx <= Math.ceil(xc + r2); xx++) {
      const d2 = (xx - xc) ** 2 + (yy - yc) ** 2;
      if (d2 < r1 * r1 || d2 > r2 * r2) continue;
      const p = yy * width + xx;
      if ((bad && bad[p]) || seg[p] !== 0) continue;
      const val = im[p]!;
      if (val - val === 0) out.push(val);
    }
  }
}

/**
 * The S × S cut-out at (ox, oy) of image − sky and the variance; cutBad = 1 for unusable pixels,
 * pixels of other objects than `id` (segmentation) and non-finite values.
 */
function fillCutout(im: Float32Array, variance: Float32Array, bad: Uint8Array | undefined, seg: Int32Array, width: number,
  ox: number, oy: number, S: number, sky: number, id: number, cutData: Float32Array, cutVar: Float32Array, cutBad: Uint8Array): void {
  for (let yy = 0; yy < S; yy++) {
    for (let xx = 0; xx < S; xx++) {
      const p = (oy + yy) * width + ox + xx, q = yy * S + xx;
      cutData[q] = im[p]! - sky; cutVar[q] = variance[p]!;
      const sg = seg[p]!;
      cutBad[q] = (bad && bad[p]) || (sg !== 0 && sg !== id) || !(im[p]! - im[p]! === 0) ? 1 : 0;
    }
  }
}

/** Calibrate one CCD. Throws TesseraError naming the CCD when it cannot be calibrated. */
export function calibrateCcd(inp: CalibrateCcdInputs, config: CalibrateConfig = {}): CalibrateCcdResult {
  const what = `exposure ${inp.expnum} CCD ${inp.ccdName}`;
  const img = inp.image;
  const { width, height } = img;
  const notes: string[] = [];

  // Usable pixels at all?
  const im = img.image;
  if (countFinite(im, 7) === 0) throw new TesseraError(`${what}: no usable pixel (all NaN)`);

  const timings: Record<string, number> = {};
  const cpu: Record<string, number> = {};
  let tMark = performance.now();
  let cMark = process.cpuUsage();
  const lap = (name: string) => {
    const t = performance.now(); timings[name] = (t - tMark) / 1000; tMark = t;
    const c = process.cpuUsage(cMark); cpu[name] = (c.user + c.system) / 1e6; cMark = process.cpuUsage();
  };

  // 1. Background, detection, measurement.
  // Sky-subtracted image from detection's own background pass.
  const sub = new Float32Array(width * height);
  // Unusable pixels (mask bits, NaN, no usable variance) for the PSF fit and PSF photometry:
  // detection's own map (each of those steps skips NaN and non-positive-variance pixels anyway).
  const bad = new Uint8Array(width * height);
  let det;
  try {
    det = detectSources(img, {
      subtractedOut: sub,
      unusableOut: bad,
      threshSigma: config.threshSigma ?? 1.5,
      minArea: config.minArea ?? 5,
      apertures: config.apertures ?? [6, 12, 24],
      gain: inp.gain ?? 0,
      satLevel: inp.saturate,
      backSize: config.backSize ?? 128,
      segmentation: true,
    });
  } catch (e) {
    if (e instanceof RangeError) throw new TesseraError(`${what}: ${e.message}`);
    throw e;
  }
  const cat = det.catalog;
  const n = cat.length;
  const sky = det.globalBack, skyRms = det.globalRms;
  // Without a variance plane, the variance, row by row from the background RMS spline: no
  // full-size background or RMS map is built.
  let variance = img.variance;
  const g = inp.gain ?? 0;
  if (!variance) variance = new Float32Array(width * height);
  if (!img.variance) sourceVariance(width, height, det.background, sub, variance, g);
  if (n < 3) throw new TesseraError(`${what}: only ${n} source(s) detected`);
  lap('detect');

  const X = cat.get('XWIN_IMAGE'), Y = cat.get('YWIN_IMAGE');
  const FA = cat.get('FLUX_AUTO'), FAE = cat.get('FLUXERR_AUTO');
  const FW = cat.get('FWHM_IMAGE'), A = cat.get('A_IMAGE'), B = cat.get('B_IMAGE');
  const FLAGS = cat.get('FLAGS');
  const x0 = new Float64Array(n), y0 = new Float64Array(n);
  for (let i = 0; i < n; i++) { x0[i] = X[i]! - 1; y0[i] = Y[i]! - 1; }

  // 2. PSF.
  const sel = selectPsfStars({ x: x0, y: y0, flux: FA, fluxErr: FAE, fwhm: FW, a: A, b: B, flags: FLAGS },
    { edgePix: 20, width, height, maxStars: 150 });
  if (sel.indices.length < 3) {
    throw new TesseraError(`${what}: only ${sel.indices.length} PSF star candidate(s) (of ${n} sources; rejected: flags ${sel.counts.flags}, S/N ${sel.counts.sn}, ellipticity ${sel.counts.ellip}, size ${sel.counts.size}, crowding ${sel.counts.isolation})`);
  }
  const fit = fitPsf({ data: sub, width, height, variance, mask: bad }, sel.indices.map((i) => ({ x: x0[i]!, y: y0[i]!, flux: FA[i]! })), {
    fwhmPix: Number.isFinite(sel.fwhmMode) ? sel.fwhmMode : 3,
    degree: config.psfDegree ?? 2,
    iterations: 6,
  });
  notes.push(...fit.notes);
  const psf = fit.model;
  lap('psf');

  // 3. PSF photometry of every source; aperture correction from the PSF stars.
  const ph = psfPhotometry({ data: sub, width, height, variance, mask: bad }, psf, x0, y0);
  // Large aperture (radius max(25 px, 7 FWHM)) with a local annulus sky, on the PSF stars.
  const rAc = Math.max(25, 7 * psf.fwhmPix);
  const starPsf: number[] = [], starAp: number[] = [], starApE: number[] = [];
  {
    // On the image before background subtraction, with a local annulus sky: the large aperture
    // must not depend on how the background map behaves under bright stars. Pixels of other
    // detected objects (segmentation map) are treated as unusable: the aperture sum replaces
    // them by their mirror image about the star, and the annulus ignores them.
    const seg = det.segmentation!;
    const NUM = cat.get('NUMBER');
    const R = Math.ceil(rAc) + 1, S = 2 * R + 1;
    const cutData = new Float32Array(S * S), cutVar = new Float32Array(S * S), cutBad = new Uint8Array(S * S);
    const planes = pixelPlanes({ width: S, height: S, data: cutData, variance: cutVar, bad: cutBad });
    const f = new Float64Array(1), v = new Float64Array(1);
    const ann: number[] = [];
    // The 30 brightest PSF stars away from the edges (apertureCorrection uses the top 15).
    const cand = fit.used.map((k) => sel.indices[k]!).filter((i) => {
      const xc = x0[i]!, yc = y0[i]!;
      return xc >= rAc + 12 && yc >= rAc + 12 && xc <= width - rAc - 13 && yc <= height - rAc - 13 && ph.flux[i]! > 0;
    }).sort((a, b) => ph.flux[b]! - ph.flux[a]!).slice(0, 30);
    for (const i of cand) {
      const xc = x0[i]!, yc = y0[i]!;
      const id = NUM[i]!;
      ann.length = 0;
      annulusValues(im, width, bad, seg, xc, yc, rAc + 3, rAc + 10, ann);
      const skyLocal = skyMode(ann);
      // The cut-out holds image − local sky: a pixel of a neighbour whose mirror about the star
      // is unusable too is left out of the sum, and so is its sky (in a crowded field, subtracting
      // π r² × sky after such gaps would take away the sky of pixels never summed).
      const ox = Math.round(xc) - R, oy = Math.round(yc) - R;
      fillCutout(im, variance, bad, seg, width, ox, oy, S, skyLocal, id, cutData, cutVar, cutBad);
      sumCircles(planes, xc - ox, yc - oy, [rAc], f, v, null, 0);
      starPsf.push(ph.flux[i]!); starAp.push(f[0]!); starApE.push(Math.sqrt(v[0]!));
    }
  }
  const ac = apertureCorrection(starPsf, starAp, starApE, 30);
  if (!Number.isFinite(ac.err)) notes.push('aperture correction: too few bright stars, 1 used');
  const apCorr = ac.factor;
  psf.fluxFraction = 1 / apCorr;
  const FPSF = new Float64Array(n), FPSFE = new Float64Array(n);
  for (let i = 0; i < n; i++) { FPSF[i] = ph.flux[i]! * apCorr; FPSFE[i] = ph.fluxErr[i]! * apCorr; }

  // SPREAD_MODEL (star/galaxy separation) with the fitted PSF at the same positions. The weights
  // are the sky variance; a variance plane given with the image (a weight map) holds no source
  // noise, so the gain adds it to the errors; one built here already does.
  const spr = measurePsfAt(pixelPlanes({ width, height, data: sub, variance, bad, gain: img.variance ? inp.gain ?? 0 : 0 }), psf, x0, y0);
  lap('photometry');

  // 4. Astrometry.
  const epoch = mjdToJulianYear(inp.mjd);
  const [cRa, cDec] = inp.headerWcs.pixToSkyOne((width + 1) / 2, (height + 1) / 2, 1);
  const corner = inp.headerWcs.pixToSkyOne(1, 1, 1);
  const cosd = Math.cos((cDec * Math.PI) / 180);
  const halfDiag = Math.hypot((corner[0] - cRa) * cosd, corner[1] - cDec);
  const radius = halfDiag + (config.maxOffsetArcsec ?? 120) / 3600 + 0.02;
  const ref = inp.refQuery(cRa, cDec, radius, epoch);
  // Detections for astrometry: clean, compact, significant.
  const aIdx: number[] = [];
  for (let i = 0; i < n; i++) {
    if ((FLAGS[i]! & ~3) !== 0) continue; // allow crowded/blended bits only
    if (!(FA[i]! > 5 * FAE[i]!)) continue;
    aIdx.push(i);
  }
  const ast = solveAstrometry(
    { x: aIdx.map((i) => X[i]!), y: aIdx.map((i) => Y[i]!), flux: aIdx.map((i) => FA[i]!) },
    { ra: ref.ra, dec: ref.dec, mag: ref.g },
    inp.headerWcs, { width, height },
    { model: config.astromModel ?? 'tpv', order: config.astromOrder, maxOffsetArcsec: config.maxOffsetArcsec, what },
  );
  notes.push(...ast.notes);
  const wcs = ast.wcs;
  lap('astrometry');

  // 5. Zero point from matched stars (1″), PSF fluxes corrected to total.
  const zpF: number[] = [], zpE: number[] = [], zG: number[] = [], zBp: number[] = [], zRp: number[] = [];
  const sky2 = wcs.pixToSky(ast.detIndex.map((k) => X[aIdx[k]!]!), ast.detIndex.map((k) => Y[aIdx[k]!]!), 1);
  for (let m = 0; m < ast.detIndex.length; m++) {
    const i = aIdx[ast.detIndex[m]!]!, j = ast.refIndex[m]!;
    const dra = (sky2.ra[m]! - ref.ra[j]!) * Math.cos((ref.dec[j]! * Math.PI) / 180), dde = sky2.dec[m]! - ref.dec[j]!;
    if (Math.hypot(dra, dde) * 3600 > 1) continue;
    if (FLAGS[i]! !== 0) continue;
    zpF.push(FPSF[i]!); zpE.push(FPSFE[i]!); zG.push(ref.g[j]!); zBp.push(ref.bp[j]!); zRp.push(ref.rp[j]!);
  }
  const zp = ccdZeroPoint({ psfFlux: zpF, psfFluxErr: zpE, gaiaG: zG, gaiaBp: zBp, gaiaRp: zRp, band: inp.band, mode: config.colorMode, what: `${what}: zero point` });
  // MAGZERR: the clipped mean's σ/√N and the aperture correction's error (common to every star).
  const zpe = zeroPointError(zp.zpErr, ac.factor, ac.err, ZP_ERR_FLOOR_MAG);

  // 6. Depth and seeing.
  const cx = (width - 1) / 2, cy = (height - 1) / 2;
  const nea = noiseEquivalentArea(psf, cx, cy);
  const depth = psfDepth(zp.zp, skyRms, nea);
  const scale = wcs.pixelScaleArcsec((width + 1) / 2, (height + 1) / 2, 1);
  const shape = psf.shapeAt(cx, cy);
  const seeing = shape.fwhmOpticalPix * scale;
  // PSF QA over the CCD: FWHM and ellipticity on a 3 × 5 grid.
  const map = psf.shapeMap(width, height, 3, 5);
  let fwMin = Infinity, fwMax = -Infinity, elMax = 0;
  for (let k = 0; k < map.fwhmPix.length; k++) {
    fwMin = Math.min(fwMin, map.fwhmPix[k]!); fwMax = Math.max(fwMax, map.fwhmPix[k]!); elMax = Math.max(elMax, map.ellipticity[k]!);
  }

  // 7. Calibrated catalog columns.
  const sk = wcs.pixToSky(X, Y, 1);
  const mag = (f: ArrayLike<number>, e: ArrayLike<number>, scaleF = 1) => {
    const m = new Float32Array(n), me = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const fl = f[i]! * scaleF;
      m[i] = fl > 0 ? zp.zp - 2.5 * Math.log10(fl) : 99;
      me[i] = fl > 0 ? (2.5 / Math.LN10) * (e[i]! * scaleF) / fl : 99;
    }
    return [m, me] as const;
  };
  const [mPsf, mePsf] = mag(FPSF, FPSFE);
  const [mAuto, meAuto] = mag(FA, FAE);
  cat.add('ALPHA_J2000', sk.ra, 'Right ascension (calibrated WCS)', 'deg')
    .add('DELTA_J2000', sk.dec, 'Declination (calibrated WCS)', 'deg')
    .add('FLUX_PSF', FPSF, 'PSF flux, aperture-corrected to total', 'count')
    .add('FLUXERR_PSF', FPSFE, 'RMS error of FLUX_PSF', 'count')
    .add('MAG_PSF', mPsf, 'AB magnitude from FLUX_PSF (MAGZERO)', 'mag')
    .add('MAGERR_PSF', mePsf, 'RMS error of MAG_PSF', 'mag')
    .add('MAG_AUTO', mAuto, 'AB magnitude from FLUX_AUTO (MAGZERO)', 'mag')
    .add('MAGERR_AUTO', meAuto, 'RMS error of MAG_AUTO', 'mag');
  const chi = new Float32Array(n);
  for (let i = 0; i < n; i++) chi[i] = ph.chi2[i]!;
  cat.add('CHI2_PSF', chi, 'Reduced chi2 of the PSF fit')
    .add('SPREAD_MODEL', spr.spread, 'Spread parameter from model fitting (star ~ 0, galaxy > 0)')
    .add('SPREADERR_MODEL', spr.spreadErr, 'Spread parameter error from model fitting');

  lap('zeropoint+catalog');
  const flags: string[] = [...notes];
  const qa: CcdQa = {
    expnum: inp.expnum, ccd: inp.ccdName, band: inp.band, mjd: inp.mjd,
    zp: zp.zp, zpErr: zpe.err, zpErrStat: zp.zpErr, apCorrErrMag: zpe.apCorrErrMag, seeingArcsec: seeing, sky, skyRms, depth,
    astromRmsArcsec: ast.rmsArcsec, nAstromStars: ast.nStars, nZpStars: zp.nStars,
    nPsfStars: fit.used.length, nSources: n, apCorr, flags: flags.join('; '),
  };
  const keywords: CalibrateCcdResult['keywords'] = [
    { key: 'MAGZERO', value: zp.zp, comment: 'AB zero point: mag = MAGZERO - 2.5 log10(counts)' },
    { key: 'MAGZERR', value: zpe.err, comment: 'error of MAGZERO (mag): stat + apcorr + floor' },
    { key: 'MAGZSTAT', value: zp.zpErr, comment: 'statistical error of the star mean (mag)' },
    { key: 'APCORERR', value: zpe.apCorrErrMag, comment: 'error of the aperture correction (mag)' },
    { key: 'MAGZRMS', value: zp.rms, comment: 'rms of star zero points (mag)' },
    { key: 'NZPSTAR', value: zp.nStars, comment: 'stars in the zero point' },
    { key: 'ZPCOLOR', value: config.colorMode === 'G' ? 'GAIA-G' : 'GAIA-LS-COLORTERM', comment: 'reference magnitudes' },
    { key: 'APCORR', value: apCorr, comment: 'PSF-flux aperture correction (multiplicative)' },
    { key: 'APCORRAD', value: rAc, comment: 'aperture-correction radius (pixels)' },
    { key: 'FWHM', value: seeing, comment: 'seeing FWHM (arcsec), PSF model at CCD centre' },
    { key: 'FWHMPIX', value: shape.fwhmPix, comment: 'FWHM of the pixelised PSF model (pixels)' },
    { key: 'ELLIPTIC', value: shape.ellipticity, comment: 'PSF ellipticity 1-b/a at CCD centre' },
    { key: 'FWHMMIN', value: fwMin, comment: 'min PSF FWHM over a 3x5 grid (pixels)' },
    { key: 'FWHMMAX', value: fwMax, comment: 'max PSF FWHM over a 3x5 grid (pixels)' },
    { key: 'ELLIPMAX', value: elMax, comment: 'max PSF ellipticity over a 3x5 grid' },
    { key: 'SKYLEVEL', value: sky, comment: 'median sky level subtracted (counts)' },
    { key: 'SKYSIGMA', value: skyRms, comment: 'sky noise (counts per pixel)' },
    { key: 'DEPTH', value: depth, comment: '5-sigma PSF depth (AB mag)' },
    { key: 'PSFNEA', value: nea, comment: 'PSF noise-equivalent area (pixels)' },
    { key: 'ASTRRMS', value: ast.rmsArcsec, comment: 'astrometric fit rms (arcsec)' },
    { key: 'NASTRSTR', value: ast.nStars, comment: 'stars in the astrometric fit' },
    { key: 'ASTRMODL', value: `${ast.model.toUpperCase()}${ast.order}`, comment: 'astrometric model and order' },
    { key: 'ASTREPOC', value: epoch, comment: 'reference catalog epoch (Julian year)' },
    { key: 'NPSFSTAR', value: fit.used.length, comment: 'stars in the PSF model' },
  ];
  // The VARIANCE plane written out holds the source's own Poisson noise too (as LSST calexps do:
  // max(0, image)/gain per pixel), so that the difference image's variance, and every error
  // measured from it (forced photometry, diaSources), include the noise of the science and
  // template sources (hosts, residuals). A weight map gives sky + read noise only: the term is
  // added here, after the measurements above, which take the source noise from the gain
  // themselves; a variance built here already has it. VARSRC = T says so (downstream steps must
  // then not add it again from GAIN).
  if (g > 0) {
    if (img.variance) addSourceNoise(variance, sub, g);
    keywords.push({ key: 'VARSRC', value: true, comment: 'VARIANCE includes source Poisson noise' });
  }
  return { image: sub, variance, mask: img.mask as CalibrateCcdResult['mask'], width, height, wcs, psf, catalog: cat, qa, keywords, timings, cpu };
}
