/**
 * simulateSurvey(config, {outDir}): plan the survey, draw the sky, render every CCD of every
 * exposure (in worker threads), write the CP-like exposure files, the truth tables, the Gaia-like
 * reference catalog and a manifest.
 *
 * Output layout (outDir):
 *   manifest.json                      what was written (files per exposure, truth, refcat), config summary
 *   exposures/c4d_..._ooi_<b>_v1.fits.fz   image MEF per exposure (see output.ts)
 *   exposures/c4d_..._oow_<b>_v1.fits.fz   inverse-variance MEF
 *   exposures/c4d_..._ood_<b>_v1.fits.fz   data-quality mask MEF
 *   refcat/gaia.fits                   Gaia-like reference catalog (with errors; NOT the truth)
 *   truth/sources.fits                 STARS, GALAXIES, TRANSIENTS, ASTEROIDS: every source's true parameters
 *   truth/ccds.fits                    EXPOSURES (true/header pointing, zero point, conditions) and
 *                                      CCDS (per exposure×CCD: true and header WCS, zero point, PSF model and stamps)
 *   truth/epochs.fits                  EPOCHS: per exposure×CCD×source: true position, flux (ADU), AB mag
 */

import { cpus } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Header } from '../fits/header.js';
import { writeFits, type ColumnInput } from '../fits/writer.js';
import { writeFileAtomic } from '../util/atomic.js';
import { TesseraError } from '../util/errors.js';
import { BANDS } from './bands.js';
import { CcdGeometry } from './geometry.js';
import { encodePrimary, exposureFileName, type ProductKind } from './output.js';
import { AtomicFile } from '../util/atomic.js';
import { MASK_BITS } from './render.js';
import { PSF_BETA, PSF_WING_BETA, PSF_WING_FRAC, PSF_WING_SCALE } from './psf.js';
import { makeRefcat, refcatColumns } from './refcat.js';
import { generateCatalog, REF_EPOCH_YR, type SkyCatalog } from './sources.js';
import { planSurvey, type SurveyConfig, type SurveyPlan } from './survey.js';
import { runCcdTask, type CcdTaskResult, type TaskContext } from './task.js';

export interface SimulateOptions {
  outDir: string;
  /** Worker threads (default min(2, CPUs)); 0 renders in this thread. */
  jobs?: number;
  /** Called with a line of progress text. */
  onProgress?: (msg: string) => void;
}

export interface ManifestExposure {
  expnum: number;
  band: string;
  role: string;
  tile: number;
  mjd: number;
  /** Paths relative to outDir. */
  image: string;
  weight: string;
  mask: string;
  ccds: string[];
}

export interface SimulationManifest {
  tessera: 'simulation';
  version: 1;
  seed: string;
  camera: string;
  field: { ra: number; dec: number };
  bands: string[];
  exposures: ManifestExposure[];
  refcat: string;
  truth: { sources: string; ccds: string; epochs: string };
  /** Mask bit values used in the ood files. */
  maskBits: Record<string, number>;
  counts: { stars: number; galaxies: number; transients: number; variables: number; asteroids: number; refcat: number };
}

export interface SimulationResult {
  outDir: string;
  manifest: SimulationManifest;
  plan: SurveyPlan;
  catalog: SkyCatalog;
  /** Per exposure×CCD results without the encoded pixels (truth rows, PSF, zero points). */
  ccds: Omit<CcdTaskResult, 'encoded'>[];
  timing: { catalogMs: number; renderMs: number; encodeMs: number; wallMs: number };
}

/** A pool of render workers (or the current thread when jobs = 0). */
class Pool {
  private workers: Worker[] = [];
  private idle: Worker[] = [];
  private queue: { expIndex: number; ccdIndex: number; resolve: (r: CcdTaskResult) => void; reject: (e: Error) => void }[] = [];
  private busy = new Map<Worker, { resolve: (r: CcdTaskResult) => void; reject: (e: Error) => void }>();

  constructor(private ctx: TaskContext, jobs: number) {
    for (let i = 0; i < jobs; i++) {
      const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: ctx });
      w.on('message', (m: { ok: boolean; result?: CcdTaskResult; error?: string }) => {
        const job = this.busy.get(w)!;
        this.busy.delete(w);
        if (m.ok) job.resolve(m.result!); else job.reject(new Error(m.error));
        this.idle.push(w);
        this.pump();
      });
      w.on('error', (e) => {
        const job = this.busy.get(w);
        this.busy.delete(w);
        job?.reject(e);
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  run(expIndex: number, ccdIndex: number): Promise<CcdTaskResult> {
    if (!this.workers.length) {
      return new Promise((resolve, reject) => {
        setImmediate(() => {
          try { resolve(runCcdTask(this.ctx, expIndex, ccdIndex)); } catch (e) { reject(e as Error); }
        });
      });
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ expIndex, ccdIndex, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length && this.queue.length) {
      const w = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.busy.set(w, job);
      w.postMessage({ expIndex: job.expIndex, ccdIndex: job.ccdIndex });
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function f64(a: number[]): Float64Array { return Float64Array.from(a); }
function i32(a: number[]): Int32Array { return Int32Array.from(a); }

/** Run a whole simulation. */
export async function simulateSurvey(config: SurveyConfig, opts: SimulateOptions): Promise<SimulationResult> {
  const t0 = performance.now();
  const say = opts.onProgress ?? (() => undefined);
  const out = opts.outDir;
  if (!out) throw new TesseraError('simulateSurvey: an output directory is needed');
  const ccdIndices = config.camera.ccds.map((c, i) => ({ c, i }))
    .filter(({ c }) => !config.ccdnums || config.ccdnums.includes(c.ccdnum)).map(({ i }) => i);
  if (!ccdIndices.length) throw new TesseraError(`no CCD of camera '${config.camera.name}' matches the CCD numbers ${config.ccdnums?.join(',')}`);

  const plan = planSurvey(config);
  const catalog = generateCatalog(plan);
  const refcat = makeRefcat(config.seed, catalog.stars);
  const catalogMs = performance.now() - t0;
  say(`sky: ${catalog.stars.n} stars, ${catalog.galaxies.n} galaxies, ${catalog.transients.n} transients, ${catalog.asteroids.n} asteroids; refcat ${refcat.n} stars`);

  writeFits(join(out, 'refcat', 'gaia.fits'), [{ kind: 'bintable', extname: 'GAIA', columns: refcatColumns(refcat), nrows: refcat.n }]);
  writeSourcesTruth(join(out, 'truth', 'sources.fits'), catalog);

  const jobs = opts.jobs ?? Math.min(2, cpus().length);
  const pool = new Pool({ plan, catalog }, Math.max(0, Math.floor(jobs)));
  const results: Omit<CcdTaskResult, 'encoded'>[] = [];
  const manifestExps: ManifestExposure[] = [];
  let renderMs = 0, encodeMs = 0;
  const kinds: ProductKind[] = ['ooi', 'oow', 'ood'];
  try {
    // Exposure by exposure: CCD tasks run in parallel; HDUs are appended in CCD order.
    for (const exp of plan.exposures) {
      const names = Object.fromEntries(kinds.map((k) => [k, exposureFileName(exp, k)])) as Record<ProductKind, string>;
      const streams = kinds.map((k) => new AtomicFile(join(out, 'exposures', names[k])));
      try {
        kinds.forEach((k, n) => writeChunks(streams[n]!, encodePrimary(config, exp, k, ccdIndices.length)));
        const pending = ccdIndices.map((ci) => {
          const p = pool.run(exp.index, ci);
          p.catch(() => undefined); // a failure is reported once, by the await below
          return p;
        });
        for (const p of pending) {
          const r = await p;
          writeChunks(streams[0]!, r.encoded.ooi);
          writeChunks(streams[1]!, r.encoded.oow);
          writeChunks(streams[2]!, r.encoded.ood);
          renderMs += r.renderMs; encodeMs += r.encodeMs;
          const { encoded, ...rest } = r;
          encoded.ooi.length = 0; // the bytes are on disk; keep only the truth
          results.push(rest);
        }
        for (const s of streams) s.finish();
      } catch (e) {
        for (const s of streams) s.abort();
        throw e;
      }
      manifestExps.push({
        expnum: exp.expnum, band: exp.band, role: exp.role, tile: exp.tile, mjd: exp.mjd,
        image: join('exposures', names.ooi), weight: join('exposures', names.oow), mask: join('exposures', names.ood),
        ccds: ccdIndices.map((i) => config.camera.ccds[i]!.name),
      });
      say(`exposure ${exp.expnum} (${exp.band}, ${exp.role}, MJD ${exp.mjd.toFixed(3)}): ${ccdIndices.length} CCDs written`);
    }
  } finally {
    await pool.close();
  }

  writeCcdTruth(join(out, 'truth', 'ccds.fits'), plan, results);
  writeEpochTruth(join(out, 'truth', 'epochs.fits'), plan, results);

  const manifest: SimulationManifest = {
    tessera: 'simulation', version: 1, seed: String(config.seed), camera: config.camera.name,
    field: { ra: config.fieldRaDeg, dec: config.fieldDecDeg }, bands: config.bands,
    exposures: manifestExps,
    refcat: join('refcat', 'gaia.fits'),
    truth: { sources: join('truth', 'sources.fits'), ccds: join('truth', 'ccds.fits'), epochs: join('truth', 'epochs.fits') },
    maskBits: { ...MASK_BITS },
    counts: {
      stars: catalog.stars.n, galaxies: catalog.galaxies.n, transients: catalog.transients.n,
      variables: Array.from(catalog.stars.varAmp).filter((a) => a > 0).length, asteroids: catalog.asteroids.n, refcat: refcat.n,
    },
  };
  writeFileAtomic(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return { outDir: out, manifest, plan, catalog, ccds: results, timing: { catalogMs, renderMs, encodeMs, wallMs: performance.now() - t0 } };
}

function bandColumns(prefix: string, mag: Record<string, Float64Array>): ColumnInput[] {
  return BANDS.map((b) => ({ name: `${prefix}${b}`, data: mag[b]!, unit: 'mag' }));
}

function writeSourcesTruth(path: string, cat: SkyCatalog): void {
  const s = cat.stars, g = cat.galaxies, t = cat.transients, a = cat.asteroids;
  writeFits(path, [
    { kind: 'image', data: null, shape: [] },
    {
      kind: 'bintable', extname: 'STARS', nrows: s.n, columns: [
        { name: 'id', data: BigInt64Array.from(s.id, (v) => BigInt(v)) },
        { name: 'ra', data: s.ra, unit: 'deg' }, { name: 'dec', data: s.dec, unit: 'deg' },
        { name: 'pmra', data: s.pmra, unit: 'mas.yr**-1' }, { name: 'pmdec', data: s.pmdec, unit: 'mas.yr**-1' },
        { name: 'ref_epoch', data: new Float64Array(s.n).fill(REF_EPOCH_YR), unit: 'yr' },
        { name: 'gaia_g', data: s.g, unit: 'mag' }, { name: 'gaia_bp', data: s.bp, unit: 'mag' }, { name: 'gaia_rp', data: s.rp, unit: 'mag' },
        ...bandColumns('mag_', s.mag),
        { name: 'var_amp', data: s.varAmp, unit: 'mag' }, { name: 'var_period', data: s.varPeriod, unit: 'd' }, { name: 'var_phase', data: s.varPhase },
      ],
    },
    {
      kind: 'bintable', extname: 'GALAXIES', nrows: g.n, columns: [
        { name: 'id', data: BigInt64Array.from(g.id, (v) => BigInt(v)) },
        { name: 'ra', data: g.ra, unit: 'deg' }, { name: 'dec', data: g.dec, unit: 'deg' },
        ...bandColumns('mag_', g.mag),
        { name: 'sersic_n', data: Int16Array.from(g.sersic) }, { name: 're_arcsec', data: g.reArcsec, unit: 'arcsec' },
        { name: 'axis_ratio', data: g.q }, { name: 'pa_deg', data: g.pa, unit: 'deg' },
      ],
    },
    {
      kind: 'bintable', extname: 'TRANSIENTS', nrows: t.n, columns: [
        { name: 'id', data: BigInt64Array.from(t.id, (v) => BigInt(v)) },
        { name: 'ra', data: t.ra, unit: 'deg' }, { name: 'dec', data: t.dec, unit: 'deg' },
        { name: 'host_id', data: BigInt64Array.from(t.hostId, (v) => BigInt(v)) },
        { name: 'kind', data: Int16Array.from(t.kind) },
        { name: 'offset_arcsec', data: t.offsetArcsec, unit: 'arcsec' },
        { name: 'peak_mjd', data: t.peakMjd, unit: 'd' }, { name: 'peak_mag_r', data: t.peakMag, unit: 'mag' },
        { name: 'tau_rise', data: t.tauRise, unit: 'd' }, { name: 'tau_fall', data: t.tauFall, unit: 'd' },
        ...bandColumns('color_', t.color), ...bandColumns('color_slope_', t.colorSlope),
      ],
    },
    {
      kind: 'bintable', extname: 'ASTEROIDS', nrows: a.n, columns: [
        { name: 'id', data: BigInt64Array.from(a.id, (v) => BigInt(v)) },
        { name: 'ra0', data: a.ra0, unit: 'deg' }, { name: 'dec0', data: a.dec0, unit: 'deg' }, { name: 'mjd0', data: a.mjd0, unit: 'd' },
        { name: 'rate_ra', data: a.rateRa, unit: 'deg/d' }, { name: 'rate_dec', data: a.rateDec, unit: 'deg/d' },
        ...bandColumns('mag_', a.mag),
      ],
    },
  ]);
}

function writeCcdTruth(path: string, plan: SurveyPlan, results: Omit<CcdTaskResult, 'encoded'>[]): void {
  const cfg = plan.config, cam = cfg.camera;
  const ex = plan.exposures;
  const rows = results;
  const n = rows.length;
  const col = (f: (r: Omit<CcdTaskResult, 'encoded'>) => number) => f64(rows.map(f));
  const wcsT = rows.map((r) => new CcdGeometry(cam, cam.ccds[r.ccdIndex]!, ex[r.expIndex]!.pointing).tpvParams());
  const wcsH = rows.map((r) => new CcdGeometry(cam, cam.ccds[r.ccdIndex]!, ex[r.expIndex]!.headerPointing).tpvParams());
  const stampSize = rows[0]?.psf.size ?? 31;
  const nPsf = rows[0]?.psf.x.length ?? 9;
  const stamps = new Float32Array(n * nPsf * stampSize * stampSize);
  rows.forEach((r, i) => r.psf.stamps.forEach((s, k) => stamps.set(s, (i * nPsf + k) * stampSize * stampSize)));
  const flat = (f: (r: Omit<CcdTaskResult, 'encoded'>) => number[]) => Float64Array.from(rows.flatMap(f));
  writeFits(path, [
    { kind: 'image', data: null, shape: [] },
    {
      kind: 'bintable', extname: 'EXPOSURES', nrows: ex.length, columns: [
        { name: 'expnum', data: i32(ex.map((e) => e.expnum)) },
        { name: 'band', data: ex.map((e) => e.band) },
        { name: 'role', data: ex.map((e) => e.role.padEnd(8)) },
        { name: 'tile', data: i32(ex.map((e) => e.tile)) },
        { name: 'mjd', data: f64(ex.map((e) => e.mjd)), unit: 'd' },
        { name: 'exptime', data: f64(ex.map((e) => e.exptime)), unit: 's' },
        { name: 'airmass', data: f64(ex.map((e) => e.airmass)) },
        { name: 'seeing_arcsec', data: f64(ex.map((e) => e.seeingArcsec)), unit: 'arcsec' },
        { name: 'sky_mag', data: f64(ex.map((e) => e.skyMag)), unit: 'mag/arcsec**2' },
        { name: 'transparency', data: f64(ex.map((e) => e.transparency)) },
        { name: 'zp_electrons', data: f64(ex.map((e) => e.zpElectrons)), unit: 'mag' },
        { name: 'ra_true', data: f64(ex.map((e) => e.pointing.raDeg)), unit: 'deg' },
        { name: 'dec_true', data: f64(ex.map((e) => e.pointing.decDeg)), unit: 'deg' },
        { name: 'rot_true', data: f64(ex.map((e) => e.pointing.rotDeg)), unit: 'deg' },
        { name: 'ra_header', data: f64(ex.map((e) => e.headerPointing.raDeg)), unit: 'deg' },
        { name: 'dec_header', data: f64(ex.map((e) => e.headerPointing.decDeg)), unit: 'deg' },
        { name: 'rot_header', data: f64(ex.map((e) => e.headerPointing.rotDeg)), unit: 'deg' },
        { name: 'satellite', data: ex.map((e) => e.satellite) },
      ],
    },
    {
      kind: 'bintable', extname: 'CCDS', nrows: n, columns: [
        { name: 'expnum', data: i32(rows.map((r) => ex[r.expIndex]!.expnum)) },
        { name: 'ccdnum', data: i32(rows.map((r) => cam.ccds[r.ccdIndex]!.ccdnum)) },
        { name: 'ccdname', data: rows.map((r) => cam.ccds[r.ccdIndex]!.name.padEnd(4)) },
        { name: 'band', data: rows.map((r) => ex[r.expIndex]!.band) },
        { name: 'mjd', data: col((r) => ex[r.expIndex]!.mjd), unit: 'd' },
        { name: 'zp_adu', data: col((r) => r.zpAdu), unit: 'mag' },
        { name: 'gain', data: col((r) => cam.ccds[r.ccdIndex]!.gain), unit: 'electron/adu' },
        { name: 'rdnoise', data: col((r) => cam.ccds[r.ccdIndex]!.readNoiseE), unit: 'electron' },
        { name: 'saturate', data: col((r) => cam.ccds[r.ccdIndex]!.saturateAdu), unit: 'adu' },
        { name: 'throughput', data: col((r) => cam.ccds[r.ccdIndex]!.throughput) },
        { name: 'sky_adu', data: col((r) => r.skyAdu), unit: 'adu' },
        { name: 'n_cosmic', data: i32(rows.map((r) => r.nCosmicRays)) },
        { name: 'n_badcol', data: i32(rows.map((r) => r.nBadColumns)) },
        { name: 'n_hotpix', data: i32(rows.map((r) => r.nHotPixels)) },
        { name: 'satellite', data: rows.map((r) => r.satellite) },
        { name: 'crval', data: Float64Array.from(wcsT.flatMap((p) => p.crval)), tform: '2D', unit: 'deg' },
        { name: 'crpix', data: Float64Array.from(wcsT.flatMap((p) => p.crpix)), tform: '2D' },
        { name: 'cd', data: Float64Array.from(wcsT.flatMap((p) => [p.cd[0][0], p.cd[0][1], p.cd[1][0], p.cd[1][1]])), tform: '4D', unit: 'deg' },
        { name: 'pv1', data: Float64Array.from(wcsT.flatMap((p) => p.pv1)), tform: '12D' },
        { name: 'pv2', data: Float64Array.from(wcsT.flatMap((p) => p.pv2)), tform: '12D' },
        { name: 'hdr_crval', data: Float64Array.from(wcsH.flatMap((p) => p.crval)), tform: '2D', unit: 'deg' },
        { name: 'hdr_cd', data: Float64Array.from(wcsH.flatMap((p) => [p.cd[0][0], p.cd[0][1], p.cd[1][0], p.cd[1][1]])), tform: '4D', unit: 'deg' },
        { name: 'psf_x', data: flat((r) => r.psf.x), tform: `${nPsf}D` },
        { name: 'psf_y', data: flat((r) => r.psf.y), tform: `${nPsf}D` },
        { name: 'psf_fwhm', data: flat((r) => r.psf.fwhmPix), tform: `${nPsf}D`, unit: 'pix' },
        { name: 'psf_alpha', data: flat((r) => r.psf.alpha), tform: `${nPsf}D`, unit: 'pix' },
        { name: 'psf_e1', data: flat((r) => r.psf.e1), tform: `${nPsf}D` },
        { name: 'psf_e2', data: flat((r) => r.psf.e2), tform: `${nPsf}D` },
        { name: 'psf_stamps', data: stamps, tform: `${nPsf * stampSize * stampSize}E`, dim: [stampSize, stampSize, nPsf] },
      ],
      header: psfKeywords(),
    },
  ]);
}

function psfKeywords(): Header {
  return headerWith([
    ['PSFBETA', PSF_BETA, 'Moffat beta of the PSF core'],
    ['PSFWFRAC', PSF_WING_FRAC, 'flux fraction in the wing Moffat'],
    ['PSFWSCAL', PSF_WING_SCALE, 'wing alpha / core alpha'],
    ['PSFWBETA', PSF_WING_BETA, 'Moffat beta of the wing'],
  ]);
}

function headerWith(cards: [string, number, string][]): Header {
  const h = new Header([], 'CCDS');
  for (const [k, v, c] of cards) h.set(k, v, c);
  return h;
}

function writeEpochTruth(path: string, plan: SurveyPlan, results: Omit<CcdTaskResult, 'encoded'>[]): void {
  const cam = plan.config.camera;
  let n = 0;
  for (const r of results) n += r.truth.n;
  const expnum = new Int32Array(n), ccdnum = new Int32Array(n), id = new BigInt64Array(n), type = new Int16Array(n);
  const ra = new Float64Array(n), dec = new Float64Array(n), x = new Float64Array(n), y = new Float64Array(n);
  const flux = new Float64Array(n), mag = new Float64Array(n), peak = new Float64Array(n);
  let o = 0;
  for (const r of results) {
    const t = r.truth;
    const e = plan.exposures[r.expIndex]!.expnum, c = cam.ccds[r.ccdIndex]!.ccdnum;
    for (let k = 0; k < t.n; k++, o++) {
      expnum[o] = e; ccdnum[o] = c; id[o] = BigInt(t.id[k]!); type[o] = t.type[k]!;
      ra[o] = t.ra[k]!; dec[o] = t.dec[k]!; x[o] = t.x[k]!; y[o] = t.y[k]!;
      flux[o] = t.flux[k]!; mag[o] = t.mag[k]!; peak[o] = t.peak[k]!;
    }
  }
  writeFits(path, [
    { kind: 'image', data: null, shape: [] },
    {
      kind: 'bintable', extname: 'EPOCHS', nrows: n, columns: [
        { name: 'expnum', data: expnum }, { name: 'ccdnum', data: ccdnum }, { name: 'id', data: id },
        { name: 'type', data: type },
        { name: 'ra', data: ra, unit: 'deg' }, { name: 'dec', data: dec, unit: 'deg' },
        { name: 'x', data: x, unit: 'pix' }, { name: 'y', data: y, unit: 'pix' },
        { name: 'flux', data: flux, unit: 'adu' }, { name: 'mag', data: mag, unit: 'mag' },
        { name: 'peak', data: peak, unit: 'adu' },
      ],
    },
  ]);
}

function writeChunks(file: AtomicFile, chunks: readonly Uint8Array[]): void {
  for (const c of chunks) file.write(c);
}
