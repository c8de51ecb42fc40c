/** Small deterministic random helpers and simulated diaSource streams for the assoc tests. */
import { allocDiaSources, makeDiaSourceId, type DiaSourceTable } from '../../src/assoc/types.js';
import { dc2SkyMap } from '../../src/sky/skymap.js';
import { PsfModel } from '../../src/psf/model.js';

export function rng(seed: number): { u(): number; n(): number } {
  let s = seed >>> 0;
  const u = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | undefined;
  const n = (): number => {
    if (spare !== undefined) { const v = spare; spare = undefined; return v; }
    let a = 0, b = 0, r = 0;
    do { a = 2 * u() - 1; b = 2 * u() - 1; r = a * a + b * b; } while (r >= 1 || r === 0);
    const f = Math.sqrt((-2 * Math.log(r)) / r);
    spare = b * f;
    return a * f;
  };
  return { u, n };
}

export interface StreamTruth {
  sources: DiaSourceTable;
  /** true object index of each source (−1 = spurious) */
  truthId: Int32Array;
  ra: Float64Array;
  dec: Float64Array;
  nObjects: number;
}

/**
 * Known objects scattered over tract pixels [x0,x1)×[y0,y1) of a DC2 tract (0.2″/px), minimum
 * separation minSepArcsec, observed over `epochs` visits in alternating bands with positional
 * noise sigmaArcsec, detection probability pDet, plus `spurious` random detections per visit.
 */
export function simulateStream(o: {
  seed: number; tract: number; x0: number; x1: number; y0: number; y1: number; nObjects: number; epochs: number;
  sigmaArcsec: number; pDet: number; spurious: number; minSepArcsec?: number; bands?: string[];
}): StreamTruth {
  const r = rng(o.seed);
  const tract = dc2SkyMap().tract(o.tract);
  const bands = o.bands ?? ['g', 'r'];
  const px: number[] = [], py: number[] = [];
  const minSepPix = (o.minSepArcsec ?? 2) / 0.2;
  const cell = new Map<string, number[]>();
  while (px.length < o.nObjects) {
    const x = o.x0 + r.u() * (o.x1 - o.x0), y = o.y0 + r.u() * (o.y1 - o.y0);
    const cx = Math.floor(x / minSepPix), cy = Math.floor(y / minSepPix);
    let ok = true;
    for (let a = -1; a <= 1 && ok; a++) for (let b = -1; b <= 1 && ok; b++) {
      for (const k of cell.get(`${cx + a},${cy + b}`) ?? []) if (Math.hypot(px[k]! - x, py[k]! - y) < minSepPix) { ok = false; break; }
    }
    if (!ok) continue;
    const key = `${cx},${cy}`;
    (cell.get(key) ?? cell.set(key, []).get(key)!).push(px.length);
    px.push(x); py.push(y);
  }
  const ra = new Float64Array(o.nObjects), dec = new Float64Array(o.nObjects), flux = new Float64Array(o.nObjects);
  for (let k = 0; k < o.nObjects; k++) { [ra[k], dec[k]] = tract.pixelToSky(px[k]!, py[k]!); flux[k] = 50 + 500 * r.u(); }
  const rows: { ra: number; dec: number; truth: number; e: number; band: string; mjd: number; f: number; fe: number }[] = [];
  const perRows: number[] = [];
  for (let e = 0; e < o.epochs; e++) {
    const start = rows.length;
    const band = bands[e % bands.length]!;
    const mjd = 60000 + e * 1.7;
    for (let k = 0; k < o.nObjects; k++) {
      if (r.u() > o.pDet) continue;
      const cosd = Math.cos((dec[k]! * Math.PI) / 180);
      const dra = (o.sigmaArcsec * r.n()) / 3600 / cosd, ddec = (o.sigmaArcsec * r.n()) / 3600;
      const fe = 5 + 0.05 * flux[k]!;
      rows.push({ ra: ra[k]! + dra, dec: dec[k]! + ddec, truth: k, e, band, mjd, f: flux[k]! * (1 + 0.3 * Math.sin(e)) + fe * r.n(), fe });
    }
    for (let s = 0; s < o.spurious; s++) {
      const [sr, sd] = tract.pixelToSky(o.x0 + r.u() * (o.x1 - o.x0), o.y0 + r.u() * (o.y1 - o.y0));
      rows.push({ ra: sr, dec: sd, truth: -1, e, band, mjd, f: 30 * r.n(), fe: 10 });
    }
    perRows.push(rows.length - start);
  }
  const t = allocDiaSources(rows.length, true);
  const truthId = new Int32Array(rows.length);
  const seen = new Int32Array(o.epochs);
  rows.forEach((w, i) => {
    const ccd = 1 + (seen[w.e]! % 4);
    t.diaSourceId[i] = makeDiaSourceId(1000 + w.e, ccd, seen[w.e]!++);
    t.ra[i] = w.ra; t.dec[i] = w.dec; t.raErrArcsec![i] = o.sigmaArcsec; t.decErrArcsec![i] = o.sigmaArcsec;
    t.mjd[i] = w.mjd; t.expnum[i] = 1000 + w.e; t.ccd[i] = ccd; t.band[i] = w.band;
    t.psfFlux[i] = w.f; t.psfFluxErr[i] = w.fe; t.snr[i] = w.f / w.fe; t.rbScore[i] = w.truth >= 0 ? 0.9 : 0.2;
    truthId[i] = w.truth;
  });
  return { sources: t, truthId, ra, dec, nObjects: o.nObjects };
}

/** A degree-0 Gaussian PSF model (σ in pixels), unit sum. */
export function gaussianPsf(sigma: number, size = 25): PsfModel {
  const c = (size - 1) / 2;
  const coeffs = new Float64Array(size * size);
  let s = 0;
  for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) { const v = Math.exp(-((i - c) ** 2 + (j - c) ** 2) / (2 * sigma * sigma)); coeffs[j * size + i] = v; s += v; }
  for (let k = 0; k < coeffs.length; k++) coeffs[k]! /= s;
  return new PsfModel({ size, sampling: 1, degree: 0, polZero: [0, 0], polScale: [1, 1], coeffs, fwhmPix: 2.3548 * sigma });
}

