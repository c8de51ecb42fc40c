import type { CommandSpec } from '../args.js';
import { intOpt, listOpt, numberOpt, positional, stringOpt, boolOpt } from '../args.js';
import { UsageError } from '../../util/errors.js';
import { Repository } from '../../pipeline/repo.js';
import { getKind, pipelineExecutor } from '../../pipeline/kinds.js';
import { Worker, stopOnSignals, type Executor } from '../../engine/worker.js';
import { COMMAND_KIND } from '../../engine/command.js';
import { parseDuration } from '../../engine/duration.js';

export const commands: CommandSpec[] = [
  {
    name: 'worker',
    summary: 'run tasks from a repository queue until it is empty (a pilot worker)',
    usage: 'REPO [--queue Q] [--kinds K1,K2] [--max-tasks N] [--walltime HH:MM:SS]',
    options: [
      { name: 'queue', type: 'string', valueName: 'Q', description: 'only this queue (default: every unpaused queue)' },
      { name: 'kinds', type: 'string', multiple: true, valueName: 'K1,K2', description: 'only tasks of these kinds' },
      { name: 'max-tasks', type: 'string', valueName: 'N', description: 'stop after N tasks' },
      { name: 'walltime', type: 'string', valueName: 'T', description: 'stop claiming when T (HH:MM:SS or seconds) is spent; skip tasks expected to outlast it' },
      { name: 'slots', type: 'string', valueName: 'N', description: 'tasks run at once by this worker', default: '1' },
      { name: 'lease', type: 'string', valueName: 'S', description: 'lease length in seconds (heartbeat every S/4)', default: '60' },
      { name: 'batch', type: 'string', valueName: 'N', description: 'most tasks claimed per transaction (adapts to task length)', default: '200' },
      { name: 'grace', type: 'string', valueName: 'S', description: 'on SIGTERM/SIGUSR1, seconds running tasks may finish before they are released', default: '30' },
      { name: 'wait', type: 'boolean', description: 'keep polling when the queue is empty (do not exit)' },
      { name: 'journal', type: 'string', valueName: 'FILE', description: 'append "id lease key" for each task this worker completed' },
      { name: 'quiet', type: 'boolean', description: 'no start/stop lines on stderr' },
    ],
    details: `Claims tasks atomically (several per transaction when they are short), keeps their
leases alive with heartbeats, records each outcome fenced on the lease. A worker killed with -9
loses its leases; its tasks return to PENDING when the lease expires (any worker recovers them).
On SIGTERM, SIGUSR1 (Slurm's pre-walltime signal) or SIGINT it stops claiming, lets running
tasks finish for --grace seconds, then kills and releases them, and exits 0.
Exit status: 0 when it stopped normally.`,
    async run(args, io) {
      const repo = Repository.open(positional(args, 0, 'REPO', 'worker'));
      // The astronomy stages register their task kinds on import. They are loaded when the first
      // task of a kind not registered yet arrives, not at the top, so that `tessera worker --help`
      // and workers of command-only queues stay light (~0.5 s and ~40 MB less per worker).
      const base = pipelineExecutor(repo);
      let stages: Promise<unknown> | undefined;
      const executor: Executor = async (task, ctx) => {
        if (task.kind !== COMMAND_KIND && !getKind(task.kind)) await (stages ??= import('../../pipeline/transient/stages.js'));
        return base(task, ctx);
      };
      const pos = (name: string) => {
        const v = numberOpt(args, name);
        if (v !== undefined && !(v > 0)) throw new UsageError(`--${name}: expected a positive number`);
        return v;
      };
      const walltime = stringOpt(args, 'walltime');
      const store = await repo.openStore();
      const quiet = boolOpt(args, 'quiet');
      const log = (s: string) => io.stderr.write(`[tessera worker] ${s}\n`);
      const w = new Worker({
        store,
        executor,
        logsDir: repo.logsDir,
        queue: stringOpt(args, 'queue'),
        kinds: listOpt(args, 'kinds'),
        maxTasks: intOpt(args, 'max-tasks'),
        walltimeSeconds: walltime !== undefined ? parseDuration(walltime) : undefined,
        slots: intOpt(args, 'slots'),
        leaseSeconds: pos('lease'),
        maxBatch: intOpt(args, 'batch'),
        graceSeconds: numberOpt(args, 'grace'),
        exitWhenIdle: !boolOpt(args, 'wait'),
        journalPath: stringOpt(args, 'journal'),
        log,
      });
      const off = stopOnSignals(w, log);
      if (!quiet) log(`worker ${w.id} started on ${repo.root}${stringOpt(args, 'queue') ? ` queue ${stringOpt(args, 'queue')}` : ''}`);
      try {
        const s = await w.run();
        if (!quiet) log(`worker ${w.id} stopped (${s.reason}) after ${s.seconds.toFixed(1)} s: ${s.succeeded} succeeded, ${s.failed} failed, ${s.retried} to retry, ${s.released} released, ${s.fenced} fenced`);
      } finally {
        off();
        await store.close();
      }
      return 0;
    },
  },
];
