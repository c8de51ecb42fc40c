import { cpus } from 'node:os';
import type { CommandSpec } from '../args.js';
import { boolOpt, intOpt, stringOpt } from '../args.js';
import { UsageError } from '../../util/errors.js';
import { parseDemoSize } from '../../pipeline/transient/config.js';
import { runDemo } from '../../pipeline/transient/demo.js';

export const commands: CommandSpec[] = [
  {
    name: 'demo',
    summary: 'the whole transient path on a simulated survey: simulate, calibrate, diff, associate, forced photometry, report',
    usage: '[DIR] [--size small|tiny] [--workers N] [--seed S]',
    options: [
      { name: 'size', type: 'string', valueName: 'small|tiny', description: 'small: 4 CCDs of 1024², 2 template + 3 search epochs; tiny: 2 CCDs of 768², 1 + 2 epochs', default: 'small' },
      { name: 'workers', short: 'j', type: 'string', valueName: 'N', description: 'worker processes (default: number of cores)' },
      { name: 'seed', type: 'string', valueName: 'S', description: 'random seed of the simulated survey', default: '1' },
      { name: 'quiet', short: 'q', type: 'boolean', description: 'no progress display (the summary is still printed)' },
    ],
    details: `DIR (default ./tessera-demo) must be new or empty. It receives:
  DIR/sim/     the simulated exposures (image, weight, mask per exposure), truth tables, Gaia-like catalog
  DIR/refcat/  the HEALPix-partitioned reference catalog built from it
  DIR/repo/    the repository: CCD registry, task queue 'transient', calexp/, src/, diff/, diaSrc/,
               assoc/, forced/, tables/*.parquet, candidates, logs/, report.html
The survey's field straddles a rings-skymap patch boundary. The campaign is planned from the
registry (src/pipeline/transient: calibrate per CCD → diff per search CCD after the calibrate
tasks of the CCD and of its template candidates → associate per patch after every diff touching
it → forced per search CCD → products) and run on the local engine by N worker processes with the
progress display. It ends with the time per stage and a comparison with the simulation's truth:
transients brighter than the 5σ depth recovered as diaObjects (within 1″), false candidates (no
transient, variable star or asteroid within 1″), forced-photometry pulls against the true fluxes,
and duplicate diaObjects across patches. Exit status 1 when a task failed.`,
    async run(args, io) {
      const size = parseDemoSize(stringOpt(args, 'size'));
      const workers = intOpt(args, 'workers') ?? cpus().length;
      if (workers < 1) throw new UsageError('--workers: expected at least 1');
      const seed = stringOpt(args, 'seed') ?? '1';
      const dir = args.positionals[0] ?? 'tessera-demo';
      const res = await runDemo({ dir, size, workers, seed: /^\d+$/.test(seed) ? Number(seed) : seed, quiet: boolOpt(args, 'quiet') }, io);
      return res.ok ? 0 : 1;
    },
  },
];
