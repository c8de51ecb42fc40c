/**
 * Photometric calibration maths: clipped means, zero points from matched stars, aperture
 * corrections, exposure-level outlier flags and 5σ PSF depth.
 *
 * Magnitude convention: mag = ZP − 2.5·log10(counts), with counts the TOTAL instrumental flux
 * (PSF flux × aperture correction), so MAGZERO applies to any total flux in counts.
 */
import { TesseraError } from '../util/errors.js';
import { gaiaToBand, type ColorMode } from './colorterms.js';

export interface ClippedStats {
  mean: number;
  /** Standard error of the mean (σ/√N). */
  err: number;
  std: number;
  median: number;
  n: number;
  /** true for values kept after clipping. */
  kept: boolean[];
}

/** κσ-clipped mean around the median (default 3σ, 3 iterations, as BLISS). */
export function clippedMean(values: ArrayLike<number>, nsigma = 3, iterations = 3): ClippedStats {
  const n = values.length;
  const kept = new Array<boolean>(n);
  for (let i = 0; i < n; i++) kept[i] = Number.isFinite(values[i]!);
  let mean = NaN, std = NaN, median = NaN, m = 0;
  for (let it = 0; it <= iterations; it++) {
    const v: number[] = [];
    for (let i = 0; i < n; i++) if (kept[i]) v.push(values[i]!);
    m = v.length;
    if (m === 0) break;
    v.sort((a, b) => a - b);
    median = m % 2 ? v[(m - 1) / 2]! : 0.5 * (v[m / 2 - 1]! + v[m / 2]!);
    mean = v.reduce((a, b) => a + b, 0) / m;
    std = m > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (m - 1)) : 0;
    if (it === iterations || !(std > 0)) break;
    let changed = false;
    for (let i = 0; i < n; i++) {
      if (!kept[i]) continue;
      if (Math.abs(values[i]! - median) > nsigma * std) { kept[i] = false; changed = true; }
    }
    if (!changed) break;
  }
  return { mean, err: m > 0 ? std / Math.sqrt(m) : NaN, std, median, n: m, kept };
}

export interface ZeroPointResult {
  zp: number;
  zpErr: number;
  /** rms of Δm about the mean. */
  rms: number;
  nStars: number;
  /** Per input star: used in the final mean. */
  used: boolean[];
  /** Per input star: Δm = refMag + 2.5 log10(flux). */
  delta: Float64Array;
}

/**
 * Zero point from matched stars: Δm = refMag + 2.5·log10(flux), clipped mean (3σ, 3 iterations),
 * error σ/√N. Stars with non-positive flux, S/N < snMin or refMag outside [magMin, magMax] are
 * ignored. Needs at least `minStars` (default 3) after clipping.
 */
export function zeroPoint(
  flux: ArrayLike<number>, fluxErr: ArrayLike<number>, refMag: ArrayLike<number>,
  opts: { snMin?: number; magMin?: number; magMax?: number; minStars?: number; nsigma?: number; what?: string } = {},
): ZeroPointResult {
  const n = flux.length;
  const snMin = opts.snMin ?? 10, magMin = opts.magMin ?? -Infinity, magMax = opts.magMax ?? Infinity;
  const delta = new Float64Array(n).fill(NaN);
  for (let i = 0; i < n; i++) {
    const f = flux[i]!, e = fluxErr[i]!, m = refMag[i]!;
    if (!(f > 0) || !Number.isFinite(m) || m < magMin || m > magMax) continue;
    if (e > 0 && f / e < snMin) continue;
    delta[i] = m + 2.5 * Math.log10(f);
  }
  const st = clippedMean(delta, opts.nsigma ?? 3, 3);
  const minStars = opts.minStars ?? 3;
  if (st.n < minStars) {
    throw new TesseraError(`${opts.what ?? 'zero point'}: only ${st.n} usable matched star(s), need at least ${minStars}`);
  }
  return { zp: st.mean, zpErr: st.err, rms: st.std, nStars: st.n, used: st.kept, delta };
}

/**
 * Aperture correction: the clipped mean ratio of large-aperture flux to PSF flux over the
 * brightest clean stars (the PSF being normalised within its stamp). Only the `maxStars`
 * brightest stars with aperture S/N ≥ snMin are used: a large aperture integrates any error of
 * the sky level over its whole area, which matters least for the brightest stars. Returns the
 * multiplicative factor and its error; 1 with NaN error when fewer than 3 stars qualify.
 */
export function apertureCorrection(psfFlux: ArrayLike<number>, apFlux: ArrayLike<number>, apFluxErr: ArrayLike<number>, snMin = 50, maxStars = 15): { factor: number; err: number; n: number } {
  const cand: { a: number; r: number }[] = [];
  for (let i = 0; i < psfFlux.length; i++) {
    const p = psfFlux[i]!, a = apFlux[i]!, e = apFluxErr[i]!;
    if (!(p > 0) || !(a > 0) || !(a / e >= snMin)) continue;
    cand.push({ a, r: a / p });
  }
  cand.sort((u, v) => v.a - u.a);
  const r = cand.slice(0, maxStars).map((c) => c.r);
  if (r.length < 3) return { factor: 1, err: NaN, n: r.length };
  // Neighbours inside a large aperture only ever add flux, and can be frequent: clip around
  // the median with a MAD-based σ (floor 0.5%), not around a mean inflated by them.
  const sorted = r.slice().sort((a, b) => a - b);
  const med = sorted[sorted.length >> 1]!;
  const mad = r.map((v) => Math.abs(v - med)).sort((a, b) => a - b)[r.length >> 1]! * 1.4826;
  const lim = 3 * Math.max(mad, 0.005 * med);
  const kept = r.filter((v) => Math.abs(v - med) <= lim);
  const mean = kept.reduce((a, b) => a + b, 0) / kept.length;
  const sd = kept.length > 1 ? Math.sqrt(kept.reduce((a, b) => a + (b - mean) ** 2, 0) / (kept.length - 1)) : 0;
  return { factor: mean, err: sd / Math.sqrt(kept.length), n: kept.length };
}

/**
 * Aperture-correction error assumed when it could not be measured (fewer than 3 bright stars:
 * the factor stays 1): the typical size of the correction itself for DECam-like PSFs (1–3%).
 */
export const APCORR_ERR_UNMEASURED_MAG = 0.03;

/**
 * The error of a CCD zero point, MAGZERR: the statistical error of the clipped mean over the
 * matched stars (σ/√N) and the error of the aperture correction — one factor applied to every
 * star, so its error does not average down with N and is ignored by σ/√N — added in quadrature,
 * plus an optional systematic floor (mag). apCorrErr is the error of the multiplicative factor;
 * NaN (not measured) counts as APCORR_ERR_UNMEASURED_MAG.
 */
export function zeroPointError(statErr: number, apCorr: number, apCorrErr: number, floorMag = 0): { err: number; apCorrErrMag: number } {
  const apMag = Number.isFinite(apCorrErr) && apCorr > 0 ? (2.5 / Math.LN10) * (apCorrErr / apCorr) : APCORR_ERR_UNMEASURED_MAG;
  return { err: Math.sqrt(statErr * statErr + apMag * apMag + floorMag * floorMag), apCorrErrMag: apMag };
}

export interface CcdZp {
  ccd: string;
  zp: number;
}

/**
 * Exposure zero point (median of CCD zero points) and outlier CCDs (|ZP − median| > maxDev,
 * default 0.15 mag); the exposure is flagged when ≥ 20% of its CCDs are outliers (BLISS rules).
 */
export function exposureZeroPoint(ccds: readonly CcdZp[], maxDev = 0.15): { zp: number; outliers: string[]; exposureFlagged: boolean } {
  const v = ccds.map((c) => c.zp).filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return { zp: NaN, outliers: [], exposureFlagged: true };
  const m = v.length % 2 ? v[(v.length - 1) / 2]! : 0.5 * (v[v.length / 2 - 1]! + v[v.length / 2]!);
  const outliers = ccds.filter((c) => Number.isFinite(c.zp) && Math.abs(c.zp - m) > maxDev).map((c) => c.ccd);
  return { zp: m, outliers, exposureFlagged: outliers.length >= 0.2 * v.length };
}

/**
 * 5σ point-source depth (AB mag): the flux whose PSF-weighted S/N is 5 against sky noise σ per
 * pixel is 5·σ·√NEA counts (NEA = 1/ΣP²), so depth = ZP − 2.5·log10(5·σ·√NEA).
 */
export function psfDepth(zp: number, skySigma: number, neaPix: number): number {
  return zp - 2.5 * Math.log10(5 * skySigma * Math.sqrt(neaPix));
}


export interface CcdZpInput {
  /** Instrumental PSF fluxes (counts) of the matched stars and their errors. */
  psfFlux: ArrayLike<number>;
  psfFluxErr: ArrayLike<number>;
  /** Gaia G, BP, RP of the matched reference stars (same order). */
  gaiaG: ArrayLike<number>;
  gaiaBp: ArrayLike<number>;
  gaiaRp: ArrayLike<number>;
  band: string;
  /** 'colorterm' (Legacy Surveys polynomials, default) or 'G' (BLISS-like G only). */
  mode?: ColorMode;
  /** Multiplicative aperture correction turning PSF fluxes into total fluxes (default 1). */
  apCorr?: number;
  /** Usable Gaia G range (default 15.5–20.5: brighter stars saturate in DECam exposures). */
  gMin?: number;
  gMax?: number;
  /** Minimum S/N of the PSF flux (default 30: faint stars carry the sky error most). */
  snMin?: number;
  what?: string;
}

/** Zero point of one CCD from matched Gaia stars: mag = ZP − 2.5·log10(total counts). */
export function ccdZeroPoint(inp: CcdZpInput): ZeroPointResult & { refMag: Float64Array } {
  const refMag = gaiaToBand(inp.band, inp.gaiaG, inp.gaiaBp, inp.gaiaRp, inp.mode ?? 'colorterm');
  const gMin = inp.gMin ?? 15.5, gMax = inp.gMax ?? 20.5;
  const n = refMag.length;
  const ap = inp.apCorr ?? 1;
  const f = new Float64Array(n), e = new Float64Array(n), m = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = inp.gaiaG[i]!;
    m[i] = g >= gMin && g <= gMax ? refMag[i]! : NaN;
    f[i] = inp.psfFlux[i]! * ap;
    e[i] = inp.psfFluxErr[i]! * ap;
  }
  return { ...zeroPoint(f, e, m, { what: inp.what ?? 'zero point', snMin: inp.snMin ?? 30 }), refMag };
}
