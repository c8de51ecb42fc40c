import { cpus } from 'node:os';
import type { CommandSpec } from '../args.js';
import { boolOpt, intOpt, listOpt, positional, stringOpt } from '../args.js';
import { UsageError } from '../../util/errors.js';
import { Repository } from '../../pipeline/repo.js';
import { kindsUntil, spawnWorkers } from '../../pipeline/campaign.js';
import { ProgressDisplay, perKind } from '../../engine/progress.js';

export const commands: CommandSpec[] = [
  {
    name: 'run',
    summary: 'run a campaign locally with N worker processes, showing progress',
    usage: 'REPO [--queue Q] [--workers N] [--until KIND]',
    options: [
      { name: 'queue', type: 'string', valueName: 'Q', description: 'only this queue (default: every unpaused queue)' },
      { name: 'workers', type: 'string', valueName: 'N', description: 'worker processes (default: number of cores)' },
      { name: 'until', type: 'string', valueName: 'KIND', description: 'run the tasks of KIND and of the kinds it depends on, not beyond' },
      { name: 'kinds', type: 'string', multiple: true, valueName: 'K1,K2', description: 'only these kinds' },
      { name: 'lease', type: 'string', valueName: 'S', description: 'lease length of the workers in seconds', default: '60' },
      { name: 'quiet', type: 'boolean', description: 'no progress display' },
    ],
    details: `Progress goes to stderr: per kind, tasks done / total, running, failed, waiting,
rate over the last minute and ETA (redrawn in place on a terminal, a block every 10 s otherwise).
Exit status 1 when any task in scope ended FAILED.`,
    async run(args, io) {
      const repo = Repository.open(positional(args, 0, 'REPO', 'run'));
      const n = intOpt(args, 'workers') ?? cpus().length;
      if (n < 1) throw new UsageError('--workers: expected at least 1');
      const queue = stringOpt(args, 'queue');
      const store = await repo.openStore();
      try {
        let kinds = listOpt(args, 'kinds');
        const until = stringOpt(args, 'until');
        if (until) kinds = await kindsUntil(store, until, queue);
        const wargs = [repo.root, '--quiet', '--lease', stringOpt(args, 'lease')!];
        if (queue) wargs.push('--queue', queue);
        if (kinds?.length) wargs.push('--kinds', kinds.join(','));
        const quiet = boolOpt(args, 'quiet');
        const progress = new ProgressDisplay(io.stderr as NodeJS.WritableStream & { isTTY?: boolean });
        const { children, done } = spawnWorkers(n, wargs, { onStderr: (l) => io.stderr.write(`${l}\n`) });
        const forward = (sig: NodeJS.Signals) => {
          for (const c of children) c.kill(sig);
        };
        process.on('SIGINT', forward);
        process.on('SIGTERM', forward);
        let finished = false;
        void done.then(() => (finished = true));
        try {
          while (!finished) {
            await Promise.race([done, new Promise((r) => setTimeout(r, 1000))]);
            if (!quiet && !finished) progress.render(await store.counts(queue), kinds);
          }
        } finally {
          process.off('SIGINT', forward);
          process.off('SIGTERM', forward);
        }
        const codes = await done;
        const rows = await store.counts(queue);
        if (!quiet) progress.render(rows, kinds, true);
        const failed = perKind(rows, kinds).reduce((a, k) => a + k.failed, 0);
        const bad = codes.filter((c) => c !== 0).length;
        if (bad) io.stderr.write(`tessera run: ${bad} worker(s) exited abnormally\n`);
        if (failed) io.stderr.write(`tessera run: ${failed} task(s) FAILED (tessera queue tasks ${repo.root} QUEUE --state failed)\n`);
        return failed || bad ? 1 : 0;
      } finally {
        await store.close();
      }
    },
  },
];
