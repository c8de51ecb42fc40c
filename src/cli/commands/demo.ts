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
      { name: 'workers', type: 'string', valueName: 'N', description: 'worker processes (default: number of cores)' },
      { name: 'seed', type: 'string', valueName: 'S', description: 'random seed of the simulated survey', default: '1' },
      { name: 'quiet', type: 'boolean', description: 'no progress display (the summary is still printed)' },
    ],
    details: `DIR (default ./tessera-demo) must not exist or be empty. It receives:
  DIR/sim/     the simulated exposures (image, weight, mask per exposure), truth tables, Gaia-like catalog
  DIR/refcat/  the HEALPix-partitioned reference catalog built from it
  DIR/repo/    the repository: registry, task queue, calexp, diff, diaSrc, assoc, forced, tables, logs
  DIR/repo/report.html   the candidate report
The campaign runs on the local engine (tessera run) with N worker processes and the progress
display; at the end the candidates are compared with the simulation's truth: transients recovered
(a diaObject within 1″ of a true transient brighter than the 5σ depth on some search epoch), false
candidates (diaObjects matching no simulated transient, variable star or asteroid).`,
    async run(args, io) {
      const size = parseDemoSize(stringOpt(args, 'size'));
      const workers = intOpt(args, 'workers') ?? cpus().length;
      if (workers < 1) throw new UsageError('--workers: expected at least 1');
      const seed = stringOpt(args, 'seed') ?? '1';
      const dir = typeof args.positionals[0] === 'string' ? args.positionals[0] : 'tessera-demo';
      const res = await runDemo({ dir, size, workers, seed: /^\d+$/.test(seed) ? Number(seed) : seed, quiet: boolOpt(args, 'quiet') }, io);
      return res.ok ? 0 : 1;
    },
  },
];
