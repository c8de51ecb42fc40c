/**
 * `tessera demo`: simulate a small survey, build its reference catalog, initialise a repository,
 * register the exposures, plan the transient campaign, run it on the local engine and compare the
 * candidates with the simulation's truth.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { simulateSurvey, openSimulation, type SimulationManifest } from '../../sim/index.js';
import { writeFileAtomic } from '../../util/atomic.js';
import type { SurveyConfig } from '../../sim/survey.js';
import { buildRefcat, MANIFEST } from '../../calib/refcat/index.js';
import { Repository, REPO_CONFIG } from '../repo.js';
import { TesseraError } from '../../util/errors.js';
import { demoSurveyConfig, type DemoSize } from './config.js';
import { ingestFiles } from '../ingest.js';
import { readCcds } from './registry.js';
import { DEFAULT_QUEUE, planCampaign, type PlanResult } from './plan.js';
import { kindTimings, runCampaign, type KindTiming } from './run.js';
import { evaluateDemo, type DemoEvaluation } from './evaluate.js';
import { reportPath } from './stages.js';

/** Marks a directory made by tessera demo (its size and seed), so that it can be resumed. */
export const DEMO_STAMP = 'tessera-demo.json';

export interface DemoOptions {
  dir: string;
  size: DemoSize;
  workers: number;
  seed: number | string;
  quiet?: boolean;
}

export interface DemoResult {
  ok: boolean;
  dir: string;
  repo: string;
  report: string;
  config: SurveyConfig;
  plan: PlanResult;
  failed: number;
  evaluation?: DemoEvaluation;
  timings: KindTiming[];
  /** Wall time (s) of each phase: simulate, refcat, register+plan, run, evaluate. */
  phases: Record<string, number>;
  /** Exposure × CCD count (the CCD-epochs processed). */
  ccdEpochs: number;
}

export async function runDemo(opts: DemoOptions, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<DemoResult> {
  const dir = resolve(opts.dir);
  const stamp = join(dir, DEMO_STAMP);
  const want = { size: opts.size, seed: String(opts.seed) };
  let resume = false;
  if (existsSync(dir) && readdirSync(dir).length) {
    // A directory made by an earlier `tessera demo` with the same size and seed is resumed: the
    // simulation and reference catalog are reused, planning adds nothing, finished tasks are skipped.
    let prev: { size?: string; seed?: string } | undefined;
    try { prev = JSON.parse(readFileSync(stamp, 'utf8')) as { size?: string; seed?: string }; } catch { prev = undefined; }
    if (!prev) throw new TesseraError(`${dir}: exists and is not empty (tessera demo needs a new or empty directory, or one an earlier tessera demo made)`);
    if (prev.size !== want.size || prev.seed !== want.seed) throw new TesseraError(`${dir}: made by tessera demo --size ${prev.size} --seed ${prev.seed}; give the same options to resume it, or a new directory`);
    resume = true;
  }
  mkdirSync(dir, { recursive: true });
  if (!resume) writeFileAtomic(stamp, JSON.stringify(want) + '\n');
  const say = (s: string) => io.stdout.write(`${s}\n`);
  const phases: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => { const n = performance.now(); phases[name] = (n - t) / 1000; t = n; };

  const cfg = demoSurveyConfig(opts.size, opts.seed);
  say(`tessera demo: a ${opts.size} simulated survey (seed ${opts.seed}), ${opts.workers} worker(s), in ${dir}`);
  const simDone = resume && existsSync(join(dir, 'sim', 'manifest.json'));
  const manifest: SimulationManifest = simDone
    ? openSimulation(join(dir, 'sim')).manifest
    : (await simulateSurvey(cfg, { outDir: join(dir, 'sim'), jobs: Math.min(2, opts.workers) })).manifest;
  const sim = { manifest };
  const exps = sim.manifest.exposures;
  const nccd = exps[0]?.ccds.length ?? 0;
  say(`  ${simDone ? 'reusing the simulation:' : 'simulated'} ${exps.length} exposures × ${nccd} CCDs (${exps.filter((e) => e.role === 'template').length} template, ${exps.filter((e) => e.role === 'search').length} search epochs), ${sim.manifest.counts.transients} transients, ${sim.manifest.counts.variables} variable stars, ${sim.manifest.counts.asteroids} asteroids -> ${join(dir, 'sim')}`);
  lap('simulate');
  const refcatDir = join(dir, 'refcat');
  if (!existsSync(join(refcatDir, MANIFEST))) {
    const man = await buildRefcat([join(dir, 'sim', sim.manifest.refcat)], refcatDir);
    say(`  reference catalog: ${man.nrows} stars -> ${refcatDir}`);
  }
  lap('refcat');

  const repo = existsSync(join(dir, 'repo', REPO_CONFIG)) ? Repository.open(join(dir, 'repo')) : Repository.init(join(dir, 'repo'));
  const store = await repo.openStore();
  try {
    const ing = await ingestFiles(store, exps.map((e) => join(dir, 'sim', e.image)));
    const rejected = ing.filter((o) => o.status === 'rejected').map((o) => (o as { reason: string }).reason);
    if (rejected.length) throw new TesseraError(`ingesting the simulated exposures: ${rejected.join('; ')}`);
    const reg = { added: ing.filter((o) => o.status === 'ingested').length, known: ing.filter((o) => o.status === 'skipped').length };
    const templates = exps.filter((e) => e.role === 'template').map((e) => e.expnum);
    const plan = await planCampaign(repo, store, { refcat: refcatDir, templates }, DEFAULT_QUEUE);
    say(`  repository ${repo.root}: ${reg.added} exposures ingested${reg.known ? ` (${reg.known} already)` : ''}; planned ${plan.added} tasks${plan.skipped ? ` (${plan.skipped} already planned)` : ''} (${Object.entries(plan.byKind).map(([k, n]) => `${n} ${k}`).join(', ')}) in ${plan.regions} patch(es)`);
    lap('plan');
    say(`  running calibrate -> diff -> associate -> forced -> report (progress on stderr)`);
    const run = await runCampaign(repo, store, { workers: opts.workers, queue: DEFAULT_QUEUE, quiet: opts.quiet, stderr: io.stderr });
    lap('run');
    const timings = await kindTimings(store, DEFAULT_QUEUE);
    const report = reportPath(repo);
    const ccdEpochs = exps.length * nccd;
    say('');
    say(`  stage       tasks   time/task   total task-s   wall span`);
    for (const k of timings) say(`  ${k.kind.padEnd(10)} ${String(`${k.succeeded}/${k.tasks}`).padStart(6)}  ${(k.taskSeconds / Math.max(1, k.tasks)).toFixed(2).padStart(8)} s  ${k.taskSeconds.toFixed(1).padStart(11)} s  ${k.spanSeconds.toFixed(1).padStart(8)} s`);
    say(`  campaign wall time ${run.seconds.toFixed(1)} s for ${ccdEpochs} CCD-epochs (${(run.seconds / Math.max(1, ccdEpochs)).toFixed(2)} s per CCD-epoch)`);
    if (run.failed || run.badWorkers) {
      say(`  ${run.failed} task(s) FAILED${run.badWorkers ? `, ${run.badWorkers} worker(s) exited abnormally` : ''}: see tessera queue tasks ${repo.root} ${DEFAULT_QUEUE} --state FAILED`);
      return { ok: false, dir, repo: repo.root, report, config: cfg, plan, failed: run.failed, timings, phases, ccdEpochs };
    }
    const ev = evaluateDemo(repo, (await readCcds(store)).ccds, cfg, join(dir, 'sim'));
    lap('evaluate');
    say('');
    say(`Found against the simulation's truth:`);
    say(`  transients in the search CCDs:        ${ev.transientsTotal}`);
    say(`  brighter than the 5σ depth:            ${ev.bright}, recovered as diaObjects (within 1″): ${ev.brightRecovered} (${ev.bright ? ((100 * ev.brightRecovered) / ev.bright).toFixed(0) : '—'}%)`);
    say(`  all transients recovered:              ${ev.recovered}`);
    say(`  diaObjects:                            ${ev.diaObjects}; duplicates across patches: ${ev.duplicateObjects}`);
    say(`  candidates:                            ${ev.candidates}, false (no transient, variable or asteroid within 1″): ${ev.falseCandidates}`);
    say(`  forced photometry of transients:       ${ev.pulls.length} measurements, flux/truth median ${ev.fluxRatioMedian.toFixed(3)}; pulls median ${ev.pullMedian.toFixed(2)}, width ${ev.pullWidth.toFixed(2)} (1.4826·MAD)`);
    const zo = ev.zpOffsets.map((z) => z.offset), ze = ev.zpOffsets.map((z) => z.magzerr).filter((e) => e > 0).sort((a, b) => a - b);
    if (zo.length) say(`  calibration zero points (search CCDs): MAGZERO − true ${(zo.reduce((a, b) => a + b, 0) / zo.length).toFixed(4)} mag mean, ${Math.max(...zo.map(Math.abs)).toFixed(4)} max |·|; stated MAGZERR median ${ze.length ? ze[ze.length >> 1]!.toFixed(4) : '—'}; calibrated flux scale on the CCDs' stars ${ev.zpOffsets.map((z) => z.fluxScale.toFixed(3)).join(' ')} (a systematic, divided out of the pulls)`);
    say(`  report: ${report}`);
    return { ok: true, dir, repo: repo.root, report, config: cfg, plan, failed: 0, evaluation: ev, timings, phases, ccdEpochs };
  } finally {
    await store.close();
  }
}
