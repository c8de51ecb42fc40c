/**
 * Astrometric calibration of one CCD: reference stars are projected through the header WCS,
 * the detections are matched to them by triangle pattern matching (robust to tens of arcsec of
 * offset, degrees of rotation and per cent of scale), then the match is iterated with a shrinking
 * radius and a WCS fit (src/wcs fitWcs: TPV order 3 by default, or TAN-SIP, TAN) with clipping.
 * Failures (too few stars, no consistent pattern, poor fit, low match fraction) are TesseraErrors
 * naming the CCD, never a silently wrong solution.
 *
 * Pixel coordinates here are FITS (first pixel centre = 1, 1), as in catalogs.
 */
import { TesseraError } from '../util/errors.js';
import type { Wcs } from '../wcs/wcs.js';
import { fitWcs } from '../wcs/fit.js';
import { findPattern, matchPoints, similarityRotationDeg, similarityScale, IDENTITY, type Similarity } from './match.js';

export type AstromModel = 'tan' | 'tan-sip' | 'tpv';

export interface AstromOptions {
  model?: AstromModel;
  /** Distortion order (default 3 for TPV, 3 for SIP). Lowered automatically when stars are few. */
  order?: number;
  /** Clip threshold of the WCS fit (σ, default 3). */
  clipSigma?: number;
  /** Largest header WCS offset searched (arcsec, default 120). */
  maxOffsetArcsec?: number;
  /** Largest rotation searched (degrees, default 3). */
  maxRotationDeg?: number;
  /** Largest scale error searched (fraction, default 0.05). */
  maxScaleChange?: number;
  /** Minimum number of matched stars in the final fit (default 8). */
  minStars?: number;
  /** Final fit rms above this fails (arcsec, default 0.5). */
  maxRmsArcsec?: number;
  /** Final match radius floor (arcsec, default 0.5). */
  matchRadiusArcsec?: number;
  /** Minimum fraction of usable reference stars on the CCD that are matched (default 0.15). */
  minMatchFraction?: number;
  /** Name used in error messages (e.g. 'exposure 123 CCD N4'). */
  what?: string;
}

export interface AstromResult {
  wcs: Wcs;
  rmsArcsec: number;
  nStars: number;
  /** Matched detection indices (into the input) and reference indices. */
  detIndex: number[];
  refIndex: number[];
  model: AstromModel;
  order: number;
  /** Header-frame correction found by the pattern matcher. */
  offsetArcsec: number;
  rotationDeg: number;
  scale: number;
  matchFraction: number;
  notes: string[];
}

export interface AstromDetections {
  /** FITS pixel coordinates. */
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Used to rank detections (brightest first). */
  flux: ArrayLike<number>;
}

export interface AstromReference {
  ra: ArrayLike<number>;
  dec: ArrayLike<number>;
  /** Used to rank reference stars (brightest first). */
  mag: ArrayLike<number>;
}

/** Julian epoch (years) of an MJD: 2000 + (MJD − 51544.5)/365.25. */
export function mjdToJulianYear(mjd: number): number {
  return 2000 + (mjd - 51544.5) / 365.25;
}

function orderFor(model: AstromModel, want: number, n: number): number {
  if (model === 'tan') return 1;
  // Need about 3 stars per free parameter per axis.
  let o = want;
  while (o > 1 && n < 3 * (((o + 1) * (o + 2)) / 2)) o--;
  return o;
}

export function solveAstrometry(
  det: AstromDetections, ref: AstromReference, headerWcs: Wcs,
  size: { width: number; height: number }, opts: AstromOptions = {},
): AstromResult {
  const what = opts.what ?? 'CCD';
  const model = opts.model ?? 'tpv';
  const wantOrder = opts.order ?? 3;
  const minStars = opts.minStars ?? 8;
  const notes: string[] = [];
  const { width, height } = size;
  const scaleArcsec = headerWcs.pixelScaleArcsec((width + 1) / 2, (height + 1) / 2, 1);
  const maxOffPix = (opts.maxOffsetArcsec ?? 120) / scaleArcsec;

  // Detections ranked by flux.
  const dOrder: number[] = [];
  for (let i = 0; i < det.x.length; i++) {
    if (Number.isFinite(det.x[i]!) && Number.isFinite(det.y[i]!) && det.flux[i]! > 0) dOrder.push(i);
  }
  dOrder.sort((a, b) => det.flux[b]! - det.flux[a]!);
  if (dOrder.length < minStars) {
    throw new TesseraError(`${what}: astrometry: only ${dOrder.length} usable detection(s), need at least ${minStars}`);
  }
  // Reference stars projected into the header frame; keep those near the CCD.
  const pr = headerWcs.skyToPix(ref.ra, ref.dec, 1);
  const margin = maxOffPix + 0.03 * Math.max(width, height);
  const rOrder: number[] = [];
  let nInside = 0;
  for (let i = 0; i < ref.ra.length; i++) {
    const x = pr.x[i]!, y = pr.y[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    if (x < 1 - margin || y < 1 - margin || x > width + margin || y > height + margin) continue;
    rOrder.push(i);
    if (x >= 1 && y >= 1 && x <= width && y <= height) nInside++;
  }
  rOrder.sort((a, b) => (ref.mag[a]! - ref.mag[b]!) || 0);
  if (rOrder.length < minStars) {
    throw new TesseraError(`${what}: astrometry: only ${rOrder.length} reference star(s) near the CCD footprint of the header WCS, need at least ${minStars} (wrong pointing, or a sparse/missing reference catalog region)`);
  }
  const dx = dOrder.map((i) => det.x[i]!), dy = dOrder.map((i) => det.y[i]!);
  let rx = rOrder.map((i) => pr.x[i]!), ry = rOrder.map((i) => pr.y[i]!);
  const tol = Math.max(2, 2.0 / scaleArcsec);
  const pat = findPattern({ x: dx, y: dy }, { x: rx, y: ry }, {
    nDet: 30, nRef: 40,
    maxRotationDeg: opts.maxRotationDeg ?? 3,
    maxScaleChange: opts.maxScaleChange ?? 0.05,
    maxShiftPix: maxOffPix,
    tolPix: tol,
    minSidePix: Math.max(20, 0.02 * Math.min(width, height)),
  }) ?? findPattern({ x: dx, y: dy }, { x: rx, y: ry }, {
    // A second try with more stars (faint-end mismatch between detection and reference ranks).
    nDet: 45, nRef: 70,
    maxRotationDeg: opts.maxRotationDeg ?? 3,
    maxScaleChange: opts.maxScaleChange ?? 0.05,
    maxShiftPix: maxOffPix,
    tolPix: tol,
    minSidePix: Math.max(20, 0.02 * Math.min(width, height)),
  });
  if (!pat) {
    throw new TesseraError(`${what}: astrometry: no consistent pattern between ${dx.length} detections and ${rx.length} reference stars within ${opts.maxOffsetArcsec ?? 120}″ / ${opts.maxRotationDeg ?? 3}° / ${((opts.maxScaleChange ?? 0.05) * 100).toFixed(0)}% of the header WCS`);
  }
  const cx = (width + 1) / 2, cy = (height + 1) / 2;
  const t0: Similarity = pat.transform;
  const offsetArcsec = Math.hypot(t0.a * cx - t0.b * cy + t0.tx - cx, t0.b * cx + t0.a * cy + t0.ty - cy) * scaleArcsec;

  // Iterate: match with a shrinking radius, fit the WCS, re-project.
  let t: Similarity = t0;
  let radiusPix = tol;
  let wcs: Wcs = headerWcs;
  let rms = NaN;
  let nUsed = 0;
  let order = 1;
  let pairs = { det: [] as number[], ref: [] as number[], dist: [] as number[] };
  const floorPix = (opts.matchRadiusArcsec ?? 0.5) / scaleArcsec;
  // Round 0: a linear (TAN) fit on the pattern match, to remove the bulk offset/rotation/scale
  // cheaply; rounds 1–2: the full model with a shrinking radius.
  const rounds = 3;
  for (let it = 0; it < rounds; it++) {
    pairs = matchPoints({ x: dx, y: dy }, { x: rx, y: ry }, t, radiusPix);
    if (pairs.det.length < minStars) break;
    order = it === 0 ? 1 : orderFor(model, wantOrder, pairs.det.length);
    const fitModel = order < 2 && model !== 'tan' ? 'tan' : model;
    const pts = {
      x: pairs.det.map((k) => dx[k]!), y: pairs.det.map((k) => dy[k]!),
      ra: pairs.ref.map((k) => ref.ra[rOrder[k]!]!), dec: pairs.ref.map((k) => ref.dec[rOrder[k]!]!),
    };
    const fit = fitWcs(pts, { model: fitModel, order, clipSigma: opts.clipSigma ?? 3, crpix: [cx, cy], imageSize: [width, height] });
    wcs = fit.wcs; rms = fit.rmsArcsec; nUsed = fit.nUsed;
    if (it === rounds - 1) break;
    const p2 = wcs.skyToPix(rOrder.map((i) => ref.ra[i]!), rOrder.map((i) => ref.dec[i]!), 1);
    rx = Array.from(p2.x); ry = Array.from(p2.y);
    t = IDENTITY;
    // After the linear round the residual distortion can still be a few pixels at the corners.
    radiusPix = it === 0 ? Math.max(floorPix, Math.min(radiusPix, Math.max(3, 5 * rms / scaleArcsec))) : Math.max(floorPix, Math.min(radiusPix, 5 * rms / scaleArcsec));
  }
  if (order < wantOrder && model !== 'tan') notes.push(`distortion order lowered from ${wantOrder} to ${order}: ${pairs.det.length} matched stars`);
  if (pairs.det.length < minStars || nUsed < minStars) {
    throw new TesseraError(`${what}: astrometry: only ${Math.min(pairs.det.length, nUsed || pairs.det.length)} matched star(s), need at least ${minStars}`);
  }
  const maxRms = opts.maxRmsArcsec ?? 0.5;
  if (!(rms <= maxRms)) {
    throw new TesseraError(`${what}: astrometry: fit rms ${rms.toFixed(3)}″ over ${nUsed} stars exceeds ${maxRms}″`);
  }
  const usable = Math.min(nInside, dOrder.length);
  const matchFraction = usable > 0 ? pairs.det.length / usable : 0;
  if (matchFraction < (opts.minMatchFraction ?? 0.15)) {
    throw new TesseraError(`${what}: astrometry: only ${pairs.det.length} of ${usable} reference stars on the CCD matched (${(matchFraction * 100).toFixed(0)}%); the solution is not trusted`);
  }
  return {
    wcs, rmsArcsec: rms, nStars: nUsed,
    detIndex: pairs.det.map((k) => dOrder[k]!),
    refIndex: pairs.ref.map((k) => rOrder[k]!),
    model, order,
    offsetArcsec, rotationDeg: similarityRotationDeg(t0), scale: similarityScale(t0),
    matchFraction, notes,
  };
}
