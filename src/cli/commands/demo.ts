import { boolOpt, intOpt, stringOpt, type CommandSpec } from '../args.js';
import { UsageError } from '../../util/errors.js';
import { runDemo } from '../../assoc/demo.js';

export const commands: CommandSpec[] = [
  {
    name: 'demo',
    summary: 'the whole transient path on a simulated survey: simulate, calibrate, diff, associate, forced photometry, report',
    usage: '[DIR] [--ccds N] [--size WxH] [--epochs T,S] [--transients N] [--jobs N]',
    options: [
      { name: 'ccds', type: 'string', valueName: 'N', description: 'CCDs of the small camera (default 2)' },
      { name: 'size', type: 'string', valueName: 'WxH', description: 'CCD size in pixels (default 1024x1024)' },
      { name: 'epochs', type: 'string', valueName: 'T,S', description: 'template and search epochs (default 1,3)' },
      { name: 'transients', type: 'string', valueName: 'N', description: 'simulated transients (default 12)' },
      { name: 'seed', type: 'string', valueName: 'S', description: 'random seed (default 1)' },
      { name: 'jobs', short: 'j', type: 'string', valueName: 'N', description: 'tasks run at once (default 2)' },
      { name: 'quiet', short: 'q', type: 'boolean', description: 'no progress display' },
    ],
    details: `Writes DIR/sim (the simulation with its truth) and DIR/repo (the repository: calibrated CCDs,
difference images, diaSources, diaObjects, forced photometry, tables/*.parquet, report.html), then
prints the transients recovered against the truth and what each candidate is. DIR defaults to
./tessera-demo. Rerunning reuses what is done.`,
    async run(args, io) {
      const dir = args.positionals[0] ?? 'tessera-demo';
      if (args.positionals.length > 1) throw new UsageError('demo: at most one directory');
      const size = stringOpt(args, 'size');
      let width: number | undefined, height: number | undefined;
      if (size) {
        const m = /^(\d+)x(\d+)$/.exec(size);
        if (!m) throw new UsageError(`--size: expected WxH, got '${size}'`);
        width = Number(m[1]); height = Number(m[2]);
      }
      const ep = stringOpt(args, 'epochs');
      let templateEpochs: number | undefined, searchEpochs: number | undefined;
      if (ep) {
        const m = /^(\d+),(\d+)$/.exec(ep);
        if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new UsageError(`--epochs: expected T,S (at least 1 each), got '${ep}'`);
        templateEpochs = Number(m[1]); searchEpochs = Number(m[2]);
      }
      const jobs = intOpt(args, 'jobs');
      if (jobs !== undefined && jobs < 1) throw new UsageError('--jobs must be at least 1');
      const r = await runDemo({
        dir, ccds: intOpt(args, 'ccds'), width, height, templateEpochs, searchEpochs, transients: intOpt(args, 'transients'),
        seed: intOpt(args, 'seed'), jobs, quiet: boolOpt(args, 'quiet'), out: io.stdout as NodeJS.WritableStream & { isTTY?: boolean },
      });
      return r.failedTasks ? 1 : 0;
    },
  },
];
