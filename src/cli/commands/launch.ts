import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import type { CommandSpec } from '../args.js';
import { boolOpt, intOpt, listOpt, positional, stringOpt } from '../args.js';
import { UsageError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { Repository } from '../../pipeline/repo.js';
import { tesseraArgv } from '../../pipeline/campaign.js';
import { parseDuration } from '../../engine/duration.js';
import { sbatchSubmit, slurmScript } from '../../engine/slurm.js';

export const commands: CommandSpec[] = [
  {
    name: 'launch',
    summary: 'start pilot workers on a batch system (Slurm) or in the background',
    usage: 'REPO --batch slurm|local --workers N --walltime HH:MM:SS [--cores-per-worker C] [--partition P] [--batch-options "..."] [--array] [--dry-run]',
    options: [
      { name: 'batch', type: 'string', valueName: 'TYPE', description: 'slurm (sbatch pilot jobs) or local (detached worker processes)', default: 'slurm' },
      { name: 'workers', type: 'string', valueName: 'N', description: 'worker processes in all' },
      { name: 'cores-per-worker', type: 'string', valueName: 'C', description: 'cores given to each worker (Slurm --cpus-per-task)', default: '1' },
      { name: 'walltime', type: 'string', valueName: 'T', description: 'job walltime; workers stop claiming before it ends' },
      { name: 'partition', type: 'string', valueName: 'P', description: 'Slurm partition' },
      { name: 'batch-options', type: 'string', valueName: 'OPTS', description: 'extra sbatch options, e.g. "-C haswell --qos=regular"' },
      { name: 'array', type: 'boolean', description: 'one job-array element per worker instead of one job of N tasks' },
      { name: 'queue', type: 'string', valueName: 'Q', description: 'workers serve only this queue' },
      { name: 'kinds', type: 'string', multiple: true, valueName: 'K1,K2', description: 'workers run only these kinds' },
      { name: 'lease', type: 'string', valueName: 'S', description: 'lease length of the workers in seconds', default: '60' },
      { name: 'job-name', type: 'string', valueName: 'NAME', description: 'Slurm job name', default: 'tessera' },
      { name: 'signal-margin', type: 'string', valueName: 'S', description: 'seconds before the walltime when workers are told to stop', default: '120' },
      { name: 'dry-run', type: 'boolean', description: 'print the sbatch script, submit nothing' },
    ],
    details: `Pilot jobs, never one job per task: each worker pulls tasks from the repository's queue
until it is empty or the walltime is near (Slurm sends SIGUSR1 --signal-margin seconds before
the end; workers then finish or release their tasks). Outcomes are recorded in the repository
database, not in Slurm (which forgets finished jobs). Scripts are kept in REPO/logs/slurm/.`,
    async run(args, io) {
      const repo = Repository.open(positional(args, 0, 'REPO', 'launch'));
      const batch = stringOpt(args, 'batch')!;
      const workers = intOpt(args, 'workers');
      if (workers === undefined) throw new UsageError('--workers N is required');
      if (workers < 1) throw new UsageError('--workers: expected at least 1');
      const wall = stringOpt(args, 'walltime');
      if (wall !== undefined && !(parseDuration(wall) > 0)) throw new UsageError(`--walltime: expected a positive duration, got '${wall}'`);
      const [node, bin] = tesseraArgv() as [string, string];
      const workerArgv = [node, bin, 'worker', repo.root, '--lease', stringOpt(args, 'lease')!];
      const queue = stringOpt(args, 'queue');
      if (queue) workerArgv.push('--queue', queue);
      const kinds = listOpt(args, 'kinds');
      if (kinds?.length) workerArgv.push('--kinds', kinds.join(','));
      const logDir = join(repo.logsDir, batch);
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
      if (batch === 'slurm') {
        if (!wall) throw new UsageError('--walltime HH:MM:SS is required for Slurm');
        const script = slurmScript({
          workers,
          coresPerWorker: intOpt(args, 'cores-per-worker')!,
          walltimeSeconds: parseDuration(wall),
          partition: stringOpt(args, 'partition'),
          batchOptions: stringOpt(args, 'batch-options'),
          array: boolOpt(args, 'array'),
          jobName: stringOpt(args, 'job-name')!,
          logDir,
          workerArgv,
          signalMarginSeconds: intOpt(args, 'signal-margin'),
        });
        if (boolOpt(args, 'dry-run')) {
          io.stdout.write(script);
          return 0;
        }
        mkdirSync(logDir, { recursive: true });
        const path = join(logDir, `launch-${stamp}.sbatch`);
        writeFileAtomic(path, script);
        const job = sbatchSubmit(path);
        io.stdout.write(`submitted Slurm job ${job}: ${workers} worker(s)${boolOpt(args, 'array') ? ' as a job array' : ''} (script ${path})\n`);
        return 0;
      }
      if (batch === 'local') {
        const wa = workerArgv.slice(2);
        if (wall) wa.push('--walltime', String(parseDuration(wall)));
        if (boolOpt(args, 'dry-run')) {
          for (let i = 0; i < workers; i++) io.stdout.write(`${[node, bin, ...wa].join(' ')} >> ${join(logDir, `worker-${stamp}-${i}.log`)} 2>&1 &\n`);
          return 0;
        }
        mkdirSync(logDir, { recursive: true });
        const pids: number[] = [];
        for (let i = 0; i < workers; i++) {
          const fd = openSync(join(logDir, `worker-${stamp}-${i}.log`), 'a');
          const c = spawn(node, [bin, ...wa], { detached: true, stdio: ['ignore', fd, fd] });
          c.unref();
          pids.push(c.pid!);
        }
        io.stdout.write(`started ${workers} background worker(s): pid ${pids.join(' ')} (logs in ${logDir})\n`);
        return 0;
      }
      throw new UsageError(`--batch: expected slurm or local, got '${batch}'`);
    },
  },
];
