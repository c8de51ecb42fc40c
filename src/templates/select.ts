/**
 * DES-GW-style template selection: for one search CCD, the template CCDs of the registry that
 * can serve as its template — same band, overlapping footprint, far enough apart in time,
 * passing quality cuts — ranked best first, plus a small "cover set" of them that together
 * cover the search CCD (greedy maximum coverage).
 *
 * A pure function over plain records (no I/O): the campaign engine builds the records from its
 * registry, tests build them by hand.
 *
 * Coverage is measured on a grid of sample points inside the search CCD's footprint (a
 * gnomonic grid of about `samples` points over its bounding region, kept where the polygon
 * contains them), so fractions have a resolution of ~1/samples.
 */
import { SphericalPolygon, gnomonicProject, gnomonicUnproject, radecToVec, separationDeg, vecToRadec } from '../sky/sphere.js';
import { TesseraError } from '../util/errors.js';

/** One CCD of the registry, as selection needs it. */
export interface CcdRecord {
  expnum: number;
  /** CCD name (DECam EXTNAME such as 'N4') and number (CCDNUM). */
  ccdName: string;
  ccdNum: number;
  band: string;
  mjd: number;
  /** Footprint corners on the sky, RA/Dec degrees, in order around the CCD. */
  footprint: ReadonlyArray<readonly [number, number]>;
  /** Seeing: PSF FWHM in arcseconds. */
  fwhmArcsec: number;
  /** 5σ point-source depth, AB magnitude. */
  depth: number;
  /** Zero point (AB mag for 1 count) and whether its calibration passed (DES-GW's flag). */
  zp: number;
  zpOk: boolean;
  /** Sky level (counts per pixel) and exposure time (s); carried for callers, not cut on by default. */
  sky: number;
  exptime: number;
  /** Path (and HDU) of the calibrated CCD image. */
  path: string;
}

export interface SelectOptions {
  /** Minimum |Δmjd| between search and template, days (DES-GW: 0.5). */
  minSeparationDays?: number;
  /** Only templates taken before the search (mjd_template ≤ mjd_search − minSeparationDays). */
  beforeOnly?: boolean;
  /** Quality cuts: maximum FWHM (arcsec), minimum depth (mag), maximum sky (counts/pixel), minimum exposure time (s). */
  maxFwhmArcsec?: number;
  minDepth?: number;
  maxSky?: number;
  minExptime?: number;
  /** Require zpOk (default true). */
  requireZpOk?: boolean;
  /** A candidate must cover at least this fraction of the search CCD (default 0.01). */
  minOverlapFraction?: number;
  /** Cover set: stop when this fraction of the search CCD is covered (default 0.99)… */
  coverGoal?: number;
  /** …or when this many templates have been chosen (default 4)… */
  maxCoverTemplates?: number;
  /** …or when the next template adds less than this fraction (default 0.01). */
  minCoverGain?: number;
  /** Score weights (see templateScore): seeing penalty per magnitude of FWHM ratio (default 1). */
  seeingWeight?: number;
  /** Number of coverage sample points over the search CCD (default 2000). */
  samples?: number;
}

export type RejectReason = 'same exposure' | 'band' | 'too close in time' | 'after search' | 'seeing' | 'depth' | 'sky' | 'exptime' | 'zero point flag' | 'no overlap' | 'overlap too small';

export interface TemplateCandidate {
  record: CcdRecord;
  /** Fraction of the search CCD's area that this template covers (0–1). */
  overlapFraction: number;
  /** Ranking score in magnitudes, higher is better (see templateScore). */
  score: number;
}

export interface TemplateSelection {
  /** Every accepted template CCD, best first. */
  candidates: TemplateCandidate[];
  /** The cover set, in the order chosen (greedy maximum coverage). */
  cover: TemplateCandidate[];
  /** Fraction of the search CCD covered by the cover set. */
  coveredFraction: number;
  /** Fraction covered by all candidates together (what the cover set could reach at most). */
  coverableFraction: number;
  /** Rejected records (those of the same band that touch the search CCD, plus band/time failures) with a reason. */
  rejected: { record: CcdRecord; reason: RejectReason }[];
}

/**
 * The ranking score of a template candidate, in magnitudes (higher is better):
 *
 *   score = depth − seeingWeight · 2.5·log10(max(1, FWHM_template / FWHM_search)) + 2.5·log10(overlapFraction)
 *
 * Depth counts one for one; a template blurrier than the search image loses 2.5·log10 of the
 * FWHM ratio per unit weight (PSF matching then has to deconvolve or pre-convolve the search
 * image), a sharper one is not penalised; partial overlap costs as a magnitude of lost area
 * (half the CCD covered = −0.75 mag). Ties go to the earlier MJD, then the lower expnum.
 */
export function templateScore(t: Pick<CcdRecord, 'depth' | 'fwhmArcsec'>, searchFwhmArcsec: number, overlapFraction: number, seeingWeight = 1): number {
  const ratio = searchFwhmArcsec > 0 ? t.fwhmArcsec / searchFwhmArcsec : 1;
  return t.depth - seeingWeight * 2.5 * Math.log10(Math.max(1, ratio)) + 2.5 * Math.log10(Math.max(overlapFraction, 1e-6));
}

/** Centre and radius (deg) of a footprint, for a cheap pre-filter. */
function circleOf(fp: ReadonlyArray<readonly [number, number]>): { ra: number; dec: number; r: number } {
  let sx = 0, sy = 0, sz = 0;
  for (const [ra, dec] of fp) { const v = radecToVec(ra, dec); sx += v[0]; sy += v[1]; sz += v[2]; }
  const [ra, dec] = vecToRadec([sx, sy, sz]);
  let r = 0;
  for (const [a, d] of fp) r = Math.max(r, separationDeg(ra, dec, a, d));
  return { ra, dec, r };
}

function polygonOf(rec: CcdRecord, what: string): SphericalPolygon {
  if (!rec.footprint || rec.footprint.length < 3) {
    throw new TesseraError(`${what} expnum ${rec.expnum} CCD ${rec.ccdName}: footprint needs at least 3 corners, got ${rec.footprint?.length ?? 0}`);
  }
  for (const [ra, dec] of rec.footprint) {
    if (!Number.isFinite(ra) || !Number.isFinite(dec) || dec < -90 || dec > 90) {
      throw new TesseraError(`${what} expnum ${rec.expnum} CCD ${rec.ccdName}: bad footprint corner (${ra}, ${dec})`);
    }
  }
  return SphericalPolygon.fromPairs(rec.footprint as [number, number][]);
}

/** Sample points (unit vectors, flat xyz) inside a polygon on a gnomonic grid. */
export function footprintSamples(fp: ReadonlyArray<readonly [number, number]>, samples = 2000): Float64Array {
  const poly = SphericalPolygon.fromPairs(fp as [number, number][]);
  const c = circleOf(fp);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const [ra, dec] of fp) {
    const p = gnomonicProject(c.ra, c.dec, ra, dec);
    if (!p) continue;
    x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]); y0 = Math.min(y0, p[1]); y1 = Math.max(y1, p[1]);
  }
  const w = x1 - x0, h = y1 - y0;
  // grid of nx × ny cells with about `samples` points over the bounding box, square cells
  const cell = Math.sqrt((w * h) / samples) || 1e-6;
  const nx = Math.max(1, Math.round(w / cell)), ny = Math.max(1, Math.round(h / cell));
  const pts: number[] = [];
  for (let j = 0; j < ny; j++) {
    const eta = y0 + ((j + 0.5) / ny) * h;
    for (let i = 0; i < nx; i++) {
      const xi = x0 + ((i + 0.5) / nx) * w;
      const [ra, dec] = gnomonicUnproject(c.ra, c.dec, xi, eta);
      const v = radecToVec(ra, dec);
      if (poly.containsVec(v)) pts.push(v[0], v[1], v[2]);
    }
  }
  return Float64Array.from(pts);
}

/**
 * Choose templates for a search CCD from registry records. Records of the search exposure
 * itself are skipped. Throws TesseraError on malformed footprints.
 */
export function selectTemplates(search: CcdRecord, registry: readonly CcdRecord[], opts: SelectOptions = {}): TemplateSelection {
  const minSep = opts.minSeparationDays ?? 0.5;
  const maxFwhm = opts.maxFwhmArcsec ?? Infinity;
  const minDepth = opts.minDepth ?? -Infinity;
  const maxSky = opts.maxSky ?? Infinity;
  const minExp = opts.minExptime ?? 0;
  const needZp = opts.requireZpOk ?? true;
  const minOverlap = opts.minOverlapFraction ?? 0.01;
  const seeingWeight = opts.seeingWeight ?? 1;

  polygonOf(search, 'search');
  const pts = footprintSamples(search.footprint, opts.samples ?? 2000);
  const npts = pts.length / 3;
  if (npts === 0) throw new TesseraError(`search expnum ${search.expnum} CCD ${search.ccdName}: footprint has no area`);
  const sc = circleOf(search.footprint);

  const rejected: TemplateSelection['rejected'] = [];
  const accepted: { cand: TemplateCandidate; hits: Uint8Array }[] = [];
  for (const rec of registry) {
    if (rec.expnum === search.expnum) continue;
    if (rec.band !== search.band) { rejected.push({ record: rec, reason: 'band' }); continue; }
    const dt = rec.mjd - search.mjd;
    if (Math.abs(dt) < minSep) { rejected.push({ record: rec, reason: 'too close in time' }); continue; }
    if (opts.beforeOnly && dt > 0) { rejected.push({ record: rec, reason: 'after search' }); continue; }
    // geometry first (cheap circle test), so that quality rejections list only touching CCDs
    const poly = polygonOf(rec, 'template');
    const tc = circleOf(rec.footprint);
    if (separationDeg(sc.ra, sc.dec, tc.ra, tc.dec) > sc.r + tc.r) continue;
    const hits = new Uint8Array(npts);
    let n = 0;
    for (let k = 0; k < npts; k++) if (poly.containsVec([pts[3 * k]!, pts[3 * k + 1]!, pts[3 * k + 2]!])) { hits[k] = 1; n++; }
    if (n === 0) continue;
    const frac = n / npts;
    if (!(rec.fwhmArcsec <= maxFwhm)) { rejected.push({ record: rec, reason: 'seeing' }); continue; }
    if (!(rec.depth >= minDepth)) { rejected.push({ record: rec, reason: 'depth' }); continue; }
    if (!(rec.sky <= maxSky)) { rejected.push({ record: rec, reason: 'sky' }); continue; }
    if (!(rec.exptime >= minExp)) { rejected.push({ record: rec, reason: 'exptime' }); continue; }
    if (needZp && !rec.zpOk) { rejected.push({ record: rec, reason: 'zero point flag' }); continue; }
    if (frac < minOverlap) { rejected.push({ record: rec, reason: 'overlap too small' }); continue; }
    accepted.push({ cand: { record: rec, overlapFraction: frac, score: templateScore(rec, search.fwhmArcsec, frac, seeingWeight) }, hits });
  }
  const order = (a: TemplateCandidate, b: TemplateCandidate) =>
    b.score - a.score || a.record.mjd - b.record.mjd || a.record.expnum - b.record.expnum || a.record.ccdNum - b.record.ccdNum;
  accepted.sort((a, b) => order(a.cand, b.cand));

  // coverage reachable by all candidates
  const any = new Uint8Array(npts);
  for (const a of accepted) for (let k = 0; k < npts; k++) any[k]! |= a.hits[k]!;
  let coverable = 0;
  for (let k = 0; k < npts; k++) coverable += any[k]!;

  // greedy maximum coverage; among gains within one sample point of the best, the better score wins
  // (the list is sorted by score, so the first such candidate)
  const goal = opts.coverGoal ?? 0.99, maxN = opts.maxCoverTemplates ?? 4, minGain = opts.minCoverGain ?? 0.01;
  const covered = new Uint8Array(npts);
  let nCovered = 0;
  const cover: TemplateCandidate[] = [];
  const used = new Uint8Array(accepted.length);
  while (cover.length < maxN && nCovered / npts < goal) {
    let best = -1, bestGain = 0;
    for (let i = 0; i < accepted.length; i++) {
      if (used[i]) continue;
      const h = accepted[i]!.hits;
      let g = 0;
      for (let k = 0; k < npts; k++) if (h[k] && !covered[k]) g++;
      if (g > bestGain + 1) { best = i; bestGain = g; }
    }
    if (best < 0 || bestGain / npts < minGain) break;
    used[best] = 1;
    const h = accepted[best]!.hits;
    for (let k = 0; k < npts; k++) if (h[k] && !covered[k]) { covered[k] = 1; nCovered++; }
    cover.push(accepted[best]!.cand);
  }
  return {
    candidates: accepted.map((a) => a.cand),
    cover,
    coveredFraction: nCovered / npts,
    coverableFraction: coverable / npts,
    rejected,
  };
}
