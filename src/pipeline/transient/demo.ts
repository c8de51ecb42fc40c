/**
 * `tessera demo`: simulate a small survey, build its reference catalog, initialise a repository,
 * register the exposures, plan the transient campaign, run it on the local engine and compare the
 * candidates with the simulation's truth.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandIO } from '../../cli/args.js';
import { simulateSurvey } from '../../sim/index.js';
import { buildRefcat } from '../../calib/refcat/index.js';
import { Repository } from '../repo.js';
import { TesseraError } from '../../util/errors.js';
import { demoSurveyConfig, type DemoSize } from './config.js';

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
}

export async function runDemo(opts: DemoOptions, io: Pick<CommandIO, 'stdout' | 'stderr'>): Promise<DemoResult> {
  const dir = resolve(opts.dir);
  if (existsSync(dir) && readdirSync(dir).length) throw new TesseraError(`${dir}: exists and is not empty (tessera demo needs a new or empty directory)`);
  mkdirSync(dir, { recursive: true });
  const say = (s: string) => io.stdout.write(`${s}\n`);
  const cfg = demoSurveyConfig(opts.size, opts.seed);
  say(`[demo] simulating a ${opts.size} survey (seed ${opts.seed}) in ${join(dir, 'sim')}`);
  const sim = await simulateSurvey(cfg, { outDir: join(dir, 'sim'), jobs: Math.min(2, opts.workers) });
  say(`[demo] ${sim.manifest.exposures.length} exposures × ${sim.manifest.exposures[0]?.ccds.length ?? 0} CCDs, ${sim.manifest.counts.transients} transients`);
  await buildRefcat([join(dir, 'sim', sim.manifest.refcat)], join(dir, 'refcat'));
  const repo = Repository.init(join(dir, 'repo'));
  const store = await repo.openStore();
  await store.close();
  throw new TesseraError(`${repo.root}: the campaign planner (src/pipeline/transient/plan.ts) is not built yet`);
}
