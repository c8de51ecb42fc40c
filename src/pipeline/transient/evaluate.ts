/**
 * What a transient campaign on simulated data found, against the simulation's truth:
 *  - transients recovered: a true transient counts as "bright" when, on at least one search CCD
 *    that contains it, its true magnitude is brighter than that CCD's 5σ PSF depth (calexp
 *    DEPTH); it is recovered when a diaObject lies within `matchArcsec` (1″) of it;
 *  - false candidates: ranked candidates (tables/candidates.json) within `matchArcsec` of no true
 *    transient, variable star or asteroid (at any search epoch);
 *  - forced-photometry pulls: on each difference image, for the diaObjects matched to a transient,
 *    (forced flux − expected) / error with expected = true flux at the search epoch − true flux at
 *    the template epoch (nanomaggies; the forced flux is on the search CCD's calibrated scale after
 *    PSF matching; the truth is put on that scale with the CCD's calibrated flux scale measured on
 *    its own stars, calibratedFluxScale); their median and robust width (1.4826 · MAD); the
 *    calibration's flux-scale and zero-point errors are reported apart;
 *  - duplicates across regions: diaObjects of different regions closer than the association
 *    radius, and diaSources assigned in more than one region.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FitsReader } from '../../fits/reader.js';
import { column, readTableFits, type ProductTable } from '../../products/tables.js';
import { productLayout } from '../../products/layout.js';
import { generateCatalog, transientMagAt, starPosAt, asteroidPosAt } from '../../sim/sources.js';
import { planSurvey, type SurveyConfig } from '../../sim/survey.js';
import type { Band } from '../../sim/bands.js';
import { separationDeg } from '../../sky/sphere.js';
import type { Repository } from '../repo.js';
import type { CcdEntry } from './registry.js';
import { openSimulation } from '../../sim/truth.js';
import { calexpPath, diffPath, srcPath } from './diff-stage.js';
import { listFilesRecursive } from '../../util/fs.js';

export interface DemoEvaluation {
  transientsTotal: number;
  /** Transients brighter than the 5σ depth on at least one search CCD that holds them. */
  bright: number;
  brightRecovered: number;
  /** All transients (any brightness) with a diaObject within the match radius. */
  recovered: number;
  candidates: number;
  falseCandidates: number;
  diaObjects: number;
  /**
   * Forced measurements of transient-matched diaObjects (blends of two transients excluded) on
   * difference images: (flux − expected)/error with expected = fluxScale of the search CCD (see
   * zpOffsets) × the true flux difference (search − template epoch, nanomaggies), and the
   * measured/expected flux ratios. The calibration's flux-scale error is measured on the CCD's
   * own stars (the template CCD's when the diff convolved the science, CONVOLVE = SCIENCE: D is
   * then on the template's calibrated scale) and divided out, so that the pulls test the forced photometry (difference image,
   * its PSF and variance) with the measurement's own statistical error; the calibration error is
   * a systematic reported apart (zpOffsets). (Correcting by MAGZERO − true zero point instead
   * would be wrong: MAGZERO is fitted to PSF fluxes × APCORR and its offset mostly compensates
   * the CCD's aperture-correction error, which forced fluxes carry too.)
   */
  pulls: number[];
  pullMedian: number;
  pullWidth: number;
  /**
   * Calibration zero-point error of each search CCD, reported apart from the pulls (a systematic
   * shared by every measurement on the CCD, not part of a forced flux's statistical error):
   * MAGZERO − true zero point (mag) and the calibration's stated MAGZERR; and the calibrated flux
   * scale actually achieved, `fluxScale` = median over isolated non-variable stars (true mag
   * 17–21, S/N > 20, unflagged) of calibrated FLUX_PSF / true flux (nStars of them). MAGZERO is
   * fitted to PSF fluxes × APCORR, so its offset from the true zero point largely compensates the
   * CCD's aperture-correction error; fluxScale is what a flux measured the same way is off by.
   */
  zpOffsets: { expnum: number; ccd: number; offset: number; magzerr: number; fluxScale: number; nStars: number }[];
  /** One record per pull: where it was measured, the expected flux, the measurement and its error. */
  pullRecords: { expnum: number; ccd: number; transient: number; expected: number; flux: number; err: number }[];
  fluxRatioMedian: number;
  /**
   * Forced measurements at diaObjects with no transient, variable star, asteroid or static source
   * brighter than r = 21 within 4″, on exposures where the object was not detected: expected 0.
   */
  nullPulls: number[];
  nullPullMedian: number;
  nullPullWidth: number;
  duplicateObjects: number;
  duplicateSources: number;
  missedBright: { id: number; mag: number; depth: number }[];
}

const nmgy = (mag: number) => (Number.isFinite(mag) ? Math.pow(10, -0.4 * (mag - 22.5)) : 0);

function headerNum(path: string, key: string): number {
  const r = FitsReader.open(path);
  try {
    const v = r.imageHeader('IMAGE').get(key);
    return typeof v === 'number' ? v : NaN;
  } finally {
    r.close();
  }
}

/** Grid index over (ra, dec) for nearest-neighbour queries within a small radius. */
class SkyGrid {
  private cells = new Map<string, number[]>();
  constructor(private ra: ArrayLike<number>, private dec: ArrayLike<number>, private cellDeg: number) {
    for (let i = 0; i < ra.length; i++) {
      const k = this.key(ra[i]!, dec[i]!);
      let c = this.cells.get(k);
      if (!c) this.cells.set(k, (c = []));
      c.push(i);
    }
  }
  private key(ra: number, dec: number, dx = 0, dy = 0): string {
    return `${Math.floor((ra * Math.cos((dec * Math.PI) / 180)) / this.cellDeg) + dx},${Math.floor(dec / this.cellDeg) + dy}`;
  }
  /** Indices within radiusDeg (≤ cellDeg) of (ra, dec). */
  near(ra: number, dec: number, radiusDeg: number): number[] {
    const out: number[] = [];
    for (let dx = -1; dx <= 1; dx++) for (let dy = -1; dy <= 1; dy++) {
      for (const i of this.cells.get(this.key(ra, dec, dx, dy)) ?? []) if (separationDeg(ra, dec, this.ra[i]!, this.dec[i]!) <= radiusDeg) out.push(i);
    }
    return out;
  }
}

function median(a: number[]): number {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Calibrated flux scale of one CCD against the truth: median over isolated, non-variable stars
 * (true mag 17–21 in the band, no other star within 3″, S/N > 20, FLAGS 0) of the calibrated
 * FLUX_PSF (counts × 10^(−0.4·(MAGZERO − 22.5)), nanomaggies) over the true flux. NaN (n = 0)
 * when the source catalog is missing or no star qualifies.
 */
export function calibratedFluxScale(src: string, zp: number, st: ReturnType<typeof generateCatalog>['stars'], band: Band, mjd: number): { scale: number; n: number } {
  if (!existsSync(src) || !Number.isFinite(zp)) return { scale: NaN, n: 0 };
  const t = readTableFits(src);
  const ra = column(t, 'ALPHA_J2000') as ArrayLike<number>, dec = column(t, 'DELTA_J2000') as ArrayLike<number>;
  const f = column(t, 'FLUX_PSF') as ArrayLike<number>, fe = column(t, 'FLUXERR_PSF') as ArrayLike<number>, fl = column(t, 'FLAGS') as ArrayLike<number>;
  const sRa: number[] = [], sDec: number[] = [], sMag: number[] = [];
  for (let k = 0; k < st.n; k++) {
    const [a, d] = starPosAt(st, k, mjd);
    sRa.push(a); sDec.push(d); sMag.push(st.varAmp[k]! > 0 ? NaN : st.mag[band][k]!);
  }
  const grid = new SkyGrid(sRa, sDec, 3 / 3600);
  const toNmgy = Math.pow(10, -0.4 * (zp - 22.5));
  const r: number[] = [];
  for (let i = 0; i < t.nrows; i++) {
    if (!(f[i]! > 20 * fe[i]!) || Number(fl[i]) !== 0) continue;
    const near = grid.near(ra[i]!, dec[i]!, 3 / 3600);
    if (near.length !== 1) continue;
    const k = near[0]!;
    if (separationDeg(ra[i]!, dec[i]!, sRa[k]!, sDec[k]!) > 0.3 / 3600 || !(sMag[k]! >= 17 && sMag[k]! <= 21)) continue;
    r.push((f[i]! * toNmgy) / nmgy(sMag[k]!));
  }
  return { scale: median(r), n: r.length };
}

export function evaluateDemo(repo: Repository, ccds: readonly CcdEntry[], cfg: SurveyConfig, simDir: string, opts: { matchArcsec?: number; assocRadiusArcsec?: number } = {}): DemoEvaluation {
  const sim = openSimulation(simDir);
  const match = (opts.matchArcsec ?? 1) / 3600;
  const assocR = (opts.assocRadiusArcsec ?? 0.5) / 3600;
  const plan = planSurvey(cfg);
  const cat = generateCatalog(plan);
  const tr = cat.transients;
  const L = productLayout(repo.root);

  // diaObjects and diaSources per region.
  const objFiles = listFilesRecursive(join(repo.root, 'assoc'), /^diaObject-.*\.fits$/);
  const srcFiles = listFilesRecursive(join(repo.root, 'assoc'), /^diaSource-.*\.fits$/);
  const oRa: number[] = [], oDec: number[] = [], oId: number[] = [], oRegion: number[] = [];
  objFiles.forEach((f, k) => {
    const t = readTableFits(f);
    const ra = column(t, 'ra') as Float64Array, dec = column(t, 'dec') as Float64Array, id = column(t, 'diaObjectId') as Float64Array;
    for (let i = 0; i < t.nrows; i++) { oRa.push(ra[i]!); oDec.push(dec[i]!); oId.push(id[i]!); oRegion.push(k); }
  });
  const objGrid = new SkyGrid(oRa, oDec, 2 / 3600);
  let duplicateObjects = 0;
  for (let i = 0; i < oRa.length; i++) for (const j of objGrid.near(oRa[i]!, oDec[i]!, assocR)) if (j > i && oRegion[j] !== oRegion[i]) duplicateObjects++;
  const seenSrc = new Map<number, number>();
  let duplicateSources = 0;
  const detectedOn = new Set<string>();
  srcFiles.forEach((f, k) => {
    const t = readTableFits(f);
    const id = column(t, 'diaSourceId') as Float64Array;
    const oid = column(t, 'diaObjectId') as Float64Array, ex = column(t, 'expnum') as ArrayLike<number>;
    for (let i = 0; i < t.nrows; i++) {
      detectedOn.add(`${oid[i]}/${Number(ex[i])}`);
      const prev = seenSrc.get(id[i]!);
      if (prev !== undefined && prev !== k) duplicateSources++;
      seenSrc.set(id[i]!, k);
    }
  });

  // Search CCDs with their depth, and the truth of transients on them.
  const searches = ccds.filter((c) => existsSync(diffPath(repo, c)));
  const bright = new Map<number, { mag: number; depth: number }>();
  const zpOffsets: DemoEvaluation['zpOffsets'] = searches.map((c) => {
    const zp = headerNum(calexpPath(repo, c), 'MAGZERO');
    const sc = calibratedFluxScale(srcPath(repo, c), zp, cat.stars, c.band as Band, c.mjd);
    return { expnum: c.expnum, ccd: c.ccd, offset: zp - sim.ccd(c.expnum, c.ccd).zpAdu, magzerr: headerNum(calexpPath(repo, c), 'MAGZERR'), fluxScale: sc.scale, nStars: sc.n };
  });
  const scaleOf = new Map(zpOffsets.map((z) => [`${z.expnum}/${z.ccd}`, z.fluxScale]));
  const onSearch = new Set<number>();
  const trGrid = new SkyGrid(tr.ra, tr.dec, 2 / 3600);
  for (const c of searches) {
    const depth = headerNum(calexpPath(repo, c), 'DEPTH');
    const fp = c.footprint;
    const decs = fp.map((p) => p[1]), ras = fp.map((p) => p[0]);
    for (let k = 0; k < tr.n; k++) {
      // inside the CCD's RA/Dec bounding box (small CCDs, no RA wrap in the demo field)
      if (!(tr.ra[k]! >= Math.min(...ras) && tr.ra[k]! <= Math.max(...ras) && tr.dec[k]! >= Math.min(...decs) && tr.dec[k]! <= Math.max(...decs))) continue;
      onSearch.add(k);
      const m = transientMagAt(tr, k, c.band as Band, c.mjd);
      if (m < depth) {
        const b = bright.get(k);
        if (!b || m - depth < b.mag - b.depth) bright.set(k, { mag: m, depth });
      }
    }
  }
  let brightRecovered = 0, recovered = 0;
  const missedBright: DemoEvaluation['missedBright'] = [];
  const trOfObject = new Map<number, number>();
  for (const k of onSearch) {
    const hits = objGrid.near(tr.ra[k]!, tr.dec[k]!, match);
    for (const h of hits) trOfObject.set(oId[h]!, trOfObject.has(oId[h]!) ? -1 : k);
    if (hits.length) recovered++;
    const b = bright.get(k);
    if (b) {
      if (hits.length) brightRecovered++;
      else missedBright.push({ id: tr.id[k]!, mag: b.mag, depth: b.depth });
    }
  }

  // False candidates.
  let candidates = 0, falseCandidates = 0;
  const cj = L.candidates('json');
  if (existsSync(cj)) {
    const list = JSON.parse(readFileSync(cj, 'utf8')) as { ra: number; dec: number }[];
    const cands = Array.isArray(list) ? list : ((list as { candidates?: { ra: number; dec: number }[] }).candidates ?? []);
    candidates = cands.length;
    const st = cat.stars;
    const varIdx: number[] = [];
    for (let k = 0; k < st.n; k++) if (st.varAmp[k]! > 0) varIdx.push(k);
    const mjds = searches.map((c) => c.mjd);
    for (const c of cands) {
      if (trGrid.near(c.ra, c.dec, match).length) continue;
      let known = false;
      for (const k of varIdx) {
        const [a, d] = starPosAt(st, k, mjds[0] ?? 0);
        if (separationDeg(c.ra, c.dec, a, d) <= match) { known = true; break; }
      }
      for (let k = 0; !known && k < cat.asteroids.n; k++) {
        for (const m of mjds) {
          const [a, d] = asteroidPosAt(cat.asteroids, k, m);
          if (separationDeg(c.ra, c.dec, a, d) <= 2 * match) { known = true; break; }
        }
      }
      if (!known) falseCandidates++;
    }
  }

  // Forced-photometry pulls of transient-matched objects, and null pulls elsewhere.
  const pulls: number[] = [], ratios: number[] = [], nullPulls: number[] = [];
  const pullRecords: DemoEvaluation['pullRecords'] = [];
  const forcedFiles = listFilesRecursive(join(repo.root, 'forced'), /^forced-.*\.fits$/).filter((f) => !f.endsWith('-calexp.fits')); // difference images only
  const regMjd = new Map(ccds.map((c) => [c.expnum, c.mjd]));
  const st = cat.stars;
  const varRa: number[] = [], varDec: number[] = [];
  for (let k = 0; k < st.n; k++) if (st.varAmp[k]! > 0) { const [a, d] = starPosAt(st, k, searches[0]?.mjd ?? 0); varRa.push(a); varDec.push(d); }
  const varGrid = new SkyGrid(varRa, varDec, 4 / 3600);
  const astPos: [number, number][] = [];
  for (let k = 0; k < cat.asteroids.n; k++) for (const c of searches) astPos.push(asteroidPosAt(cat.asteroids, k, c.mjd));
  const astGrid = new SkyGrid(astPos.map((p) => p[0]), astPos.map((p) => p[1]), 4 / 3600);
  // static sources bright enough to leave subtraction residuals (r < 21)
  const bRa: number[] = [], bDec: number[] = [];
  for (let k = 0; k < st.n; k++) if (st.mag.r[k]! < 21) { const [a, d] = starPosAt(st, k, searches[0]?.mjd ?? 0); bRa.push(a); bDec.push(d); }
  for (let k = 0; k < cat.galaxies.n; k++) if (cat.galaxies.mag.r[k]! < 21) { bRa.push(cat.galaxies.ra[k]!); bDec.push(cat.galaxies.dec[k]!); }
  const brightGrid = new SkyGrid(bRa, bDec, 4 / 3600);
  for (const f of forcedFiles) {
    const t: ProductTable = readTableFits(f);
    if (!t.nrows) continue;
    const id = column(t, 'diaObjectId') as Float64Array, flux = column(t, 'psfFlux') as Float64Array, err = column(t, 'psfFluxErr') as Float64Array;
    const ra = column(t, 'ra') as Float64Array, dec = column(t, 'dec') as Float64Array;
    const exp = column(t, 'expnum') as ArrayLike<number>, ccdC = column(t, 'ccd') as ArrayLike<number>, mjdC = column(t, 'mjd') as Float64Array;
    const flags = column(t, 'flags') as ArrayLike<number>;
    const band = column(t, 'band') as string[];
    const c0 = ccds.find((c) => c.expnum === Number(exp[0]) && c.ccd === Number(ccdC[0]));
    if (!c0) continue;
    const tmplExp = headerNum(diffPath(repo, c0), 'TMPLEXP');
    // With the science convolved, D is on the template's calibrated scale (its MAGZERO is the
    // template's PSF zero point + 2.5 log10 KSUM): the template CCD's flux scale applies.
    const dh = (() => { const r = FitsReader.open(diffPath(repo, c0)); try { return r.imageHeader('IMAGE'); } finally { r.close(); } })();
    const conv = String(dh.get('CONVOLVE') ?? '').trim().toUpperCase();
    let sc = scaleOf.get(`${c0.expnum}/${c0.ccd}`);
    if (conv === 'SCIENCE') {
      const tc = ccds.find((c) => c.expnum === tmplExp && c.ccd === Number(dh.get('TMPLCCD')));
      sc = tc ? calibratedFluxScale(srcPath(repo, tc), headerNum(calexpPath(repo, tc), 'MAGZERO'), cat.stars, tc.band as Band, tc.mjd).scale : NaN;
    }
    const scale = sc !== undefined && Number.isFinite(sc) ? sc : 1;
    const tmplMjd = regMjd.get(tmplExp) ?? NaN;
    for (let i = 0; i < t.nrows; i++) {
      if (!(err[i]! > 0) || !Number.isFinite(flux[i]!) || Number(flags[i]) !== 0) continue;
      const k = trOfObject.get(id[i]!);
      if (k !== undefined) {
        if (k < 0) continue; // a blend of two transients
        const b = (band[i] ?? c0.band) as Band;
        const expect = scale * (nmgy(transientMagAt(tr, k, b, mjdC[i]!)) - nmgy(transientMagAt(tr, k, b, tmplMjd)));
        pulls.push((flux[i]! - expect) / err[i]!);
        pullRecords.push({ expnum: Number(exp[i]), ccd: Number(ccdC[i]), transient: tr.id[k]!, expected: expect, flux: flux[i]!, err: err[i]! });
        if (expect > 5 * err[i]!) ratios.push(flux[i]! / expect);
        continue;
      }
      if (detectedOn.has(`${id[i]}/${Number(exp[i])}`)) continue;
      const r4 = 4 / 3600;
      if (trGrid.near(ra[i]!, dec[i]!, r4).length || varGrid.near(ra[i]!, dec[i]!, r4).length || astGrid.near(ra[i]!, dec[i]!, r4).length || brightGrid.near(ra[i]!, dec[i]!, r4).length) continue;
      nullPulls.push(flux[i]! / err[i]!);
    }
  }
  const nm = median(nullPulls);
  const nmad = median(nullPulls.map((p) => Math.abs(p - nm)));
  const pm = median(pulls);
  const mad = median(pulls.map((p) => Math.abs(p - pm)));
  return {
    transientsTotal: onSearch.size, bright: bright.size, brightRecovered, recovered, candidates, falseCandidates,
    diaObjects: oRa.length, pulls, pullMedian: pm, pullWidth: 1.4826 * mad, pullRecords, zpOffsets, fluxRatioMedian: median(ratios),
    nullPulls, nullPullMedian: nm, nullPullWidth: 1.4826 * nmad, duplicateObjects, duplicateSources, missedBright,
  };
}
