/**
 * Transient candidates: diaObjects ranked by real/bogus score, number of detections and
 * significance, with a host classification (nuclear / offset / hostless from the distance to the
 * nearest template source) and the light-curve trend (rising / fading / rise-fade / flat) from
 * the forced photometry on difference images.
 */
import type { LightCurve, LightCurvePoint } from './lightcurve.js';
import { column, type ProductTable } from './tables.js';

export interface CandidateOptions {
  /** Minimum number of detections (default 2). */
  minDetections?: number;
  /** Minimum real/bogus score (mean over detections; objects with no score are kept) (default 0.5). */
  minRbScore?: number;
  /** Minimum combined detection S/N √ΣS/N² (default 6). */
  minSnr?: number;
  /** Nuclear when the nearest template source is within this distance (arcsec, default 0.5). */
  nuclearArcsec?: number;
  /** Hostless when no template source is within this distance (arcsec, default 3). */
  hostlessArcsec?: number;
  /** Significance (σ) of a flux change for rise/fade (default 3). */
  trendSigma?: number;
}

export interface Candidate {
  rank: number;
  diaObjectId: number;
  ra: number;
  dec: number;
  nDetections: number;
  meanRbScore: number;
  maxSnr: number;
  snrComb: number;
  firstMjd: number;
  lastMjd: number;
  /** 'nuclear' | 'offset' | 'hostless' */
  host: string;
  distTemplate: number;
  /** 'rising' | 'fading' | 'rise-fade' | 'flat' | 'unknown' */
  trend: string;
  /** Peak forced flux (nanomaggies), its band and MJD. */
  peakFlux: number;
  peakBand: string;
  peakMjd: number;
  nForced: number;
  /** χ²/dof of the forced light curve about its weighted mean (variability significance). */
  chi2Const: number;
  score: number;
}

/** Light curves of every object from a forcedSource table (diff images only) and detection marks from diaSource. */
export function lightCurves(objects: ProductTable, forced: ProductTable | undefined, dia: ProductTable | undefined): Map<number, LightCurve> {
  const out = new Map<number, LightCurve>();
  const oid = column(objects, 'diaObjectId') as Float64Array, ra = column(objects, 'ra') as Float64Array, dec = column(objects, 'dec') as Float64Array;
  for (let i = 0; i < objects.nrows; i++) out.set(oid[i]!, { diaObjectId: oid[i]!, ra: ra[i]!, dec: dec[i]!, points: [] });
  const detected = new Set<string>();
  if (dia) {
    const d = column(dia, 'diaObjectId') as Float64Array, e = column(dia, 'expnum') as Int32Array, c = column(dia, 'ccd') as Int32Array;
    for (let i = 0; i < dia.nrows; i++) detected.add(`${d[i]}:${e[i]}:${c[i]}`);
  }
  if (forced) {
    const id = column(forced, 'diaObjectId') as Float64Array, mjd = column(forced, 'mjd') as Float64Array, band = column(forced, 'band') as string[];
    const fl = column(forced, 'psfFlux') as Float64Array, fe = column(forced, 'psfFluxErr') as Float64Array, flags = column(forced, 'flags') as Int32Array;
    const ex = column(forced, 'expnum') as Int32Array, cc = column(forced, 'ccd') as Int32Array, it = column(forced, 'imageType') as string[];
    for (let i = 0; i < forced.nrows; i++) {
      const lc = out.get(id[i]!);
      if (!lc || it[i] !== 'diff') continue;
      lc.points.push({ mjd: mjd[i]!, band: band[i]!, flux: fl[i]!, fluxErr: fe[i]!, flags: flags[i]!, expnum: ex[i]!, ccd: cc[i]!, imageType: it[i]!, detected: detected.has(`${id[i]}:${ex[i]}:${cc[i]}`) });
    }
  }
  for (const lc of out.values()) lc.points.sort((a, b) => a.mjd - b.mjd || a.expnum - b.expnum || a.ccd - b.ccd);
  return out;
}

/** Trend of a light curve from its good points (flags 0, finite). */
export function trendOf(points: LightCurvePoint[], sigma = 3): { trend: string; peak?: LightCurvePoint; chi2: number } {
  const good = points.filter((p) => p.flags === 0 && Number.isFinite(p.flux) && p.fluxErr > 0);
  if (good.length < 2) return { trend: 'unknown', peak: good[0], chi2: NaN };
  let peak = good[0]!;
  for (const p of good) if (p.flux / p.fluxErr > peak.flux / peak.fluxErr) peak = p;
  let sw = 0, swf = 0;
  for (const p of good) { const w = 1 / (p.fluxErr * p.fluxErr); sw += w; swf += w * p.flux; }
  const m = swf / sw;
  let c2 = 0;
  for (const p of good) c2 += ((p.flux - m) / p.fluxErr) ** 2;
  const chi2 = c2 / (good.length - 1);
  const sig = (a: LightCurvePoint, b: LightCurvePoint): number => (b.flux - a.flux) / Math.hypot(a.fluxErr, b.fluxErr);
  // compare within the peak's band where possible
  const sameBand = good.filter((p) => p.band === peak.band);
  const ref = sameBand.length >= 2 ? sameBand : good;
  const first = ref[0]!, last = ref[ref.length - 1]!;
  const rose = peak !== first && sig(first, peak) > sigma;
  const faded = peak !== last && sig(last, peak) > sigma;
  const trend = rose && faded ? 'rise-fade' : rose ? 'rising' : faded ? 'fading' : 'flat';
  return { trend, peak, chi2 };
}

/** Rank candidates. Score = rb × (1 − e^(−nDet/2)) × min(1, snrComb/20), rb = mean score (0.5 when unknown). */
export function rankCandidates(objects: ProductTable, curves: Map<number, LightCurve>, opts: CandidateOptions = {}): Candidate[] {
  const minDet = opts.minDetections ?? 2, minRb = opts.minRbScore ?? 0.5, minSnr = opts.minSnr ?? 6;
  const nucl = opts.nuclearArcsec ?? 0.5, hostless = opts.hostlessArcsec ?? 3;
  const g = (n: string) => column(objects, n) as Float64Array;
  const id = g('diaObjectId'), ra = g('ra'), dec = g('dec'), rb = g('meanRbScore'), maxSnr = g('maxSnr'), snrComb = g('snrComb');
  const first = g('firstMjd'), last = g('lastMjd'), dt = g('distTemplate');
  const nd = column(objects, 'nDiaSources') as Int32Array;
  const out: Candidate[] = [];
  for (let i = 0; i < objects.nrows; i++) {
    if (nd[i]! < minDet || !(snrComb[i]! >= minSnr)) continue;
    if (Number.isFinite(rb[i]!) && rb[i]! < minRb) continue;
    const lc = curves.get(id[i]!);
    const t = trendOf(lc?.points ?? [], opts.trendSigma ?? 3);
    const r = Number.isFinite(rb[i]!) ? rb[i]! : 0.5;
    const d = dt[i]!;
    out.push({
      rank: 0, diaObjectId: id[i]!, ra: ra[i]!, dec: dec[i]!, nDetections: nd[i]!, meanRbScore: rb[i]!, maxSnr: maxSnr[i]!, snrComb: snrComb[i]!,
      firstMjd: first[i]!, lastMjd: last[i]!, host: Number.isFinite(d) && d <= nucl ? 'nuclear' : Number.isFinite(d) && d <= hostless ? 'offset' : 'hostless',
      distTemplate: d, trend: t.trend, peakFlux: t.peak?.flux ?? NaN, peakBand: t.peak?.band ?? '', peakMjd: t.peak?.mjd ?? NaN,
      nForced: lc?.points.length ?? 0, chi2Const: t.chi2, score: r * (1 - Math.exp(-nd[i]! / 2)) * Math.min(1, snrComb[i]! / 20),
    });
  }
  out.sort((a, b) => b.score - a.score || b.snrComb - a.snrComb || a.diaObjectId - b.diaObjectId);
  out.forEach((c, k) => (c.rank = k + 1));
  return out;
}

const CAND_FIELDS: (keyof Candidate)[] = ['rank', 'diaObjectId', 'ra', 'dec', 'score', 'nDetections', 'meanRbScore', 'maxSnr', 'snrComb', 'host', 'distTemplate', 'trend', 'peakFlux', 'peakBand', 'peakMjd', 'firstMjd', 'lastMjd', 'nForced', 'chi2Const'];

export function candidatesCsv(c: Candidate[]): string {
  const f = (v: unknown): string => (typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v));
  return [CAND_FIELDS.join(','), ...c.map((x) => CAND_FIELDS.map((k) => f(x[k])).join(','))].join('\n') + '\n';
}

export function candidatesJson(c: Candidate[]): string {
  return JSON.stringify(c.map((x) => Object.fromEntries(CAND_FIELDS.map((k) => [k, typeof x[k] === 'number' && !Number.isFinite(x[k] as number) ? null : x[k]]))), null, 1) + '\n';
}
