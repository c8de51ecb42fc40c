/**
 * `tessera demo`: the whole transient path on a simulated survey, run by the local engine.
 *
 *  1. simulate a small survey (template and search epochs, transients, variables, artefacts);
 *  2. initialise a repository and ingest the exposures (read their headers: CCDs, WCS, MJD, band);
 *  3. queue the campaign — refcat build → calibrate (per exposure) → diff (per search CCD, against
 *     the template epoch's same CCD) → associate (per patch) → forced (per search CCD) → products —
 *     with its dependencies, and run it with an in-process engine worker (shell-command tasks for
 *     `tessera refcat/calibrate/diff`, in-process kinds for the rest), showing progress;
 *  4. compare with the simulation's truth: transients brighter than the 5σ depth recovered as
 *     diaObjects, and what each candidate is.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker } from '../engine/worker.js';
import type { NewTask, Outcome } from '../engine/types.js';
import { ProgressDisplay, perKind } from '../engine/progress.js';
import { FitsReader } from '../fits/reader.js';
import { loadTasks, tesseraArgv } from '../pipeline/campaign.js';
import { pipelineExecutor } from '../pipeline/kinds.js';
import { datasetPath } from '../pipeline/layout.js';
import { Repository } from '../pipeline/repo.js';
import { productLayout } from '../products/layout.js';
import { column, readTableFits } from '../products/tables.js';
import { smallCamera } from '../sim/camera.js';
import { simulateSurvey } from '../sim/simulate.js';
import { smallPreset } from '../sim/survey.js';
import { openSimulation } from '../sim/truth.js';
import { separationDeg } from '../sky/sphere.js';
import { TesseraError } from '../util/errors.js';
import { Wcs } from '../wcs/wcs.js';
import { planTransientTasks, type PlannedCcd } from './tasks.js';

export interface DemoOptions {
  dir: string;
  ccds?: number;
  width?: number;
  height?: number;
  templateEpochs?: number;
  searchEpochs?: number;
  transients?: number;
  seed?: number;
  /** Tasks run at once (default 2). */
  jobs?: number;
  quiet?: boolean;
  out: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface DemoResult {
  repo: string;
  report: string;
  /** Seconds per stage (sum of task times) and wall time. */
  stageSeconds: Record<string, number>;
  wallSeconds: number;
  ccdEpochs: number;
  transientsDetectable: number;
  transientsRecovered: number;
  candidates: number;
  candidatesByTruth: Record<string, number>;
  failedTasks: number;
}

const q = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const t0 = performance.now();
  const dir = resolve(o.dir);
  const say = (s: string) => o.out.write(`${s}\n`);
  const simDir = join(dir, 'sim'), repoDir = join(dir, 'repo');
  mkdirSync(dir, { recursive: true });
  // 1. simulate
  const stageSeconds: Record<string, number> = {};
  if (!existsSync(join(simDir, 'manifest.json'))) {
    const cfg = smallPreset({ seed: o.seed ?? 1 });
    cfg.camera = smallCamera({ nccd: o.ccds ?? 2, width: o.width ?? 1024, height: o.height ?? 1024 });
    cfg.templateEpochs = o.templateEpochs ?? 1;
    cfg.searchEpochs = o.searchEpochs ?? 3;
    cfg.sources.transients = o.transients ?? 12;
    const ts = performance.now();
    const r = await simulateSurvey(cfg, { outDir: simDir, jobs: Math.min(o.jobs ?? 2, 2) });
    stageSeconds.simulate = (performance.now() - ts) / 1000;
    say(`demo: simulated ${r.manifest.exposures.length} exposures × ${cfg.camera.ccds.length} CCDs (${r.manifest.counts.transients} transients, ${r.manifest.counts.variables} variables, ${r.manifest.counts.asteroids} asteroids) → ${simDir}`);
  } else say(`demo: reusing the simulation in ${simDir}`);
  const sim = openSimulation(simDir);
  const man = sim.manifest;

  // 2. repository and ingest
  const repo = existsSync(join(repoDir, 'tessera-repo.json')) ? Repository.open(repoDir) : Repository.init(repoDir);
  interface Ccd { expnum: number; name: string; ccdnum: number; band: string; mjd: number; role: string; tile: number; wcs: Wcs; width: number; height: number }
  const ccds: Ccd[] = [];
  for (const e of man.exposures) {
    const r = FitsReader.open(join(simDir, e.image));
    try {
      for (const h of r.hdus) {
        if (!h.extname || !e.ccds.includes(h.extname.trim())) continue;
        const hd = r.imageHeader(h.index);
        const zn1 = hd.get('ZNAXIS1'), zn2 = hd.get('ZNAXIS2');
        const width = Number(zn1 ?? hd.get('NAXIS1')), height = Number(zn2 ?? hd.get('NAXIS2'));
        ccds.push({ expnum: e.expnum, name: h.extname.trim(), ccdnum: Number(hd.get('CCDNUM')), band: e.band, mjd: e.mjd, role: e.role, tile: e.tile, wcs: Wcs.fromHeader(hd, `${e.image}[${h.extname}]`), width, height });
      }
    } finally {
      r.close();
    }
  }
  say(`demo: ingested ${man.exposures.length} exposures, ${ccds.length} CCDs (${ccds.filter((c) => c.role === 'search').length} search CCD-epochs) into ${repoDir}`);

  // 3. the campaign
  const [node, bin] = tesseraArgv() as [string, string];
  const T = `${q(node)} ${q(bin)}`;
  const refcat = join(repoDir, 'refcat');
  const calDir = (e: number) => join(repoDir, 'calib', String(e));
  const calexp = (e: number, name: string) => join(calDir(e), String(e), name, 'calexp.fits.fz');
  const tasks: NewTask[] = [{ key: 'refcat', kind: 'cmd', params: { cmd: `${T} refcat build ${q(join(simDir, man.refcat))} -o ${q(refcat)}`, outputs: [join(refcat, 'manifest.json')] } }];
  for (const e of man.exposures) {
    tasks.push({
      key: `calibrate/${e.expnum}`, kind: 'cmd', after: ['refcat'],
      params: { cmd: `${T} calibrate ${q(join(simDir, e.image))} --weight ${q(join(simDir, e.weight))} --mask ${q(join(simDir, e.mask))} --refcat ${q(refcat)} -o ${q(calDir(e.expnum))} -j 1`, outputs: [join(calDir(e.expnum), 'qa.csv')] },
    });
  }
  const planned: PlannedCcd[] = [];
  const L = productLayout(repoDir);
  for (const c of ccds.filter((x) => x.role === 'search')) {
    const tpl = ccds.filter((x) => x.role === 'template' && x.band === c.band && x.tile === c.tile && x.name === c.name).sort((a, b) => a.mjd - b.mjd)[0];
    if (!tpl) throw new TesseraError(`demo: no template for exposure ${c.expnum} CCD ${c.name}`);
    const id = { band: c.band, expnum: c.expnum, ccd: c.ccdnum };
    const outs = [datasetPath(repoDir, 'diff', id), datasetPath(repoDir, 'diaSrc', id), L.stampsFits(id)];
    const key = `diff/${c.expnum}/${c.ccdnum}`;
    tasks.push({
      key, kind: 'cmd', after: [`calibrate/${c.expnum}`, `calibrate/${tpl.expnum}`],
      params: { cmd: `${T} diff ${q(calexp(c.expnum, c.name))} ${q(calexp(tpl.expnum, tpl.name))} -o ${q(outs[0]!)} --sources ${q(outs[1]!)} --stamps ${q(outs[2]!)}`, outputs: outs },
    });
    planned.push({ ...id, mjd: c.mjd, wcs: c.wcs, width: c.width, height: c.height, diffKey: key, scienceCalexp: calexp(c.expnum, c.name), templateCalexp: calexp(tpl.expnum, tpl.name) });
  }
  tasks.push(...planTransientTasks(planned, { marginPix: 200 }));
  const store = await repo.openStore();
  let failed = 0;
  try {
    await loadTasks(store, 'demo', tasks);
    const base = pipelineExecutor(repo);
    const executor = async (...a: Parameters<typeof base>): Promise<Outcome> => {
      const out = await base(...a);
      const stage = a[0].key.split('/')[0]!;
      stageSeconds[stage] = (stageSeconds[stage] ?? 0) + (out.seconds ?? 0);
      return out;
    };
    const progress = new ProgressDisplay(o.out, 10);
    const w = new Worker({ store, executor, logsDir: repo.logsDir, queue: 'demo', slots: o.jobs ?? 2, workerId: `demo:${process.pid}`, leaseSeconds: 120 });
    let finished = false;
    const done = w.run().then((s) => { finished = true; return s; });
    while (!finished) {
      await Promise.race([done, new Promise((r) => setTimeout(r, 1000))]);
      if (!o.quiet && !finished) progress.render(await store.counts('demo'));
    }
    await done;
    const rows = await store.counts('demo');
    if (!o.quiet) progress.render(rows, undefined, true);
    failed = perKind(rows).reduce((a, k) => a + k.failed, 0);
  } finally {
    await store.close();
  }
  const report = join(repoDir, 'report.html');
  if (!existsSync(report)) throw new TesseraError(`demo: the campaign did not finish (${failed} task(s) failed; see tessera queue tasks ${repoDir} demo --state failed and ${repo.logsDir})`);

  // 4. truth
  const depthOf = (e: number, name: string): number => {
    const r = FitsReader.open(calexp(e, name));
    try { const d = r.imageHeader('IMAGE').get('DEPTH'); return typeof d === 'number' ? d : NaN; } finally { r.close(); }
  };
  const transients = new Map<number, { ra: number; dec: number; bestMag: number; detectable: boolean }>();
  const others: { ra: number; dec: number; type: number }[] = [];
  for (const c of ccds.filter((x) => x.role === 'search')) {
    const depth = depthOf(c.expnum, c.name);
    const t = sim.sourcesOn(c.expnum, c.name, 3);
    for (let i = 0; i < t.n; i++) {
      const prev = transients.get(t.id[i]!) ?? { ra: t.ra[i]!, dec: t.dec[i]!, bestMag: Infinity, detectable: false };
      prev.bestMag = Math.min(prev.bestMag, t.mag[i]!);
      if (t.mag[i]! < depth) prev.detectable = true;
      transients.set(t.id[i]!, prev);
    }
    for (const type of [1, 4]) {
      const s = sim.sourcesOn(c.expnum, c.name, type);
      for (let i = 0; i < s.n; i++) others.push({ ra: s.ra[i]!, dec: s.dec[i]!, type });
    }
  }
  const objFiles = readdirRecursive(join(repoDir, 'assoc')).filter((f) => /diaObject-.*\.fits$/.test(f));
  const oRa: number[] = [], oDec: number[] = [];
  for (const f of objFiles) { const t = readTableFits(f); oRa.push(...(column(t, 'ra') as Float64Array)); oDec.push(...(column(t, 'dec') as Float64Array)); }
  const near = (ra: number, dec: number, ras: ArrayLike<number>, decs: ArrayLike<number>, r: number) => {
    for (let i = 0; i < ras.length; i++) if (Math.abs(decs[i]! - dec) < r / 3600 && separationDeg(ra, dec, ras[i]!, decs[i]!) * 3600 < r) return true;
    return false;
  };
  let detectable = 0, recovered = 0;
  for (const t of transients.values()) if (t.detectable) { detectable++; if (near(t.ra, t.dec, oRa, oDec, 1)) recovered++; }
  const cands = JSON.parse(readFileSync(L.candidates('json'), 'utf8')) as { ra: number; dec: number }[];
  const by: Record<string, number> = { transient: 0, 'star (variable or residual)': 0, asteroid: 0, 'no counterpart (false)': 0 };
  const tr = [...transients.values()];
  const stars = others.filter((x) => x.type === 1), ast = others.filter((x) => x.type === 4);
  for (const c of cands) {
    if (near(c.ra, c.dec, tr.map((x) => x.ra), tr.map((x) => x.dec), 1)) by.transient!++;
    else if (near(c.ra, c.dec, stars.map((x) => x.ra), stars.map((x) => x.dec), 1)) by['star (variable or residual)']!++;
    else if (near(c.ra, c.dec, ast.map((x) => x.ra), ast.map((x) => x.dec), 3)) by.asteroid!++;
    else by['no counterpart (false)']!++;
  }
  const wall = (performance.now() - t0) / 1000;
  const nSearch = ccds.filter((x) => x.role === 'search').length;
  say('');
  say(`demo: finished in ${wall.toFixed(1)} s (${nSearch} search CCD-epochs; ${failed} failed task(s))`);
  say(`  time per stage (sum over tasks): ${Object.entries(stageSeconds).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}`);
  say(`  truth: ${transients.size} transients on the search CCDs, ${detectable} brighter than the 5σ depth at some epoch; ${recovered} of them recovered as diaObjects (${detectable ? ((100 * recovered) / detectable).toFixed(0) : '—'}%)`);
  say(`  candidates: ${cands.length} — ${Object.entries(by).map(([k, v]) => `${v} ${k}`).join(', ')}`);
  say(`  report: ${report}`);
  say(`  try: tessera query ${repoDir} "SELECT diaObjectId, nDiaSources, maxSnr FROM diaObject ORDER BY maxSnr DESC LIMIT 5"`);
  return {
    repo: repoDir, report, stageSeconds, wallSeconds: wall, ccdEpochs: nSearch, transientsDetectable: detectable, transientsRecovered: recovered,
    candidates: cands.length, candidatesByTruth: by, failedTasks: failed,
  };
}

function readdirRecursive(d: string): string[] {
  if (!existsSync(d)) return [];
  return readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? readdirRecursive(join(d, e.name)) : [join(d, e.name)]));
}
