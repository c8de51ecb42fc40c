import { existsSync, readFileSync } from 'node:fs';
import type { CommandIO, CommandSpec, ParsedArgs } from '../args.js';
import { boolOpt, intOpt, positional, stringOpt } from '../args.js';
import { TesseraError, UsageError } from '../../util/errors.js';
import { Repository } from '../../pipeline/repo.js';
import { loadTasks, parseQueueFile } from '../../pipeline/campaign.js';
import { checkState } from '../../engine/store/base.js';
import { taskLogPath } from '../../engine/command.js';
import { perKind } from '../../engine/progress.js';
import { TASK_STATES, type Task, type TaskStore } from '../../engine/types.js';

async function withStore<T>(args: ParsedArgs, cmd: string, fn: (store: TaskStore, repo: Repository) => Promise<T>): Promise<T> {
  const repo = Repository.open(positional(args, 0, 'REPO', cmd));
  const store = await repo.openStore();
  try {
    return await fn(store, repo);
  } finally {
    await store.close();
  }
}

async function readInput(file: string, io: CommandIO): Promise<string> {
  if (file !== '-') {
    if (!existsSync(file)) throw new TesseraError(`${file}: no such file`);
    return readFileSync(file, 'utf8');
  }
  let s = '';
  for await (const chunk of io.stdin) s += chunk.toString();
  return s;
}

const fmtTime = (t: number | null) => (t == null ? '-' : new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 19));

function taskLine(t: Task): string {
  const extra = [
    t.attempts ? `attempts ${t.attempts}/${t.maxAttempts}` : '',
    t.exitCode != null && t.state !== 'SUCCEEDED' ? `exit ${t.exitCode}` : '',
    t.seconds != null ? `${t.seconds.toFixed(2)} s` : '',
    t.worker ? `on ${t.worker}` : '',
    t.error && t.state !== 'SUCCEEDED' ? `error: ${t.error.slice(0, 200)}` : '',
  ].filter(Boolean);
  return `${String(t.id).padStart(8)}  ${t.state.padEnd(9)}  ${t.kind.padEnd(10)}  ${t.key}${extra.length ? `  [${extra.join(', ')}]` : ''}`;
}

async function findTask(store: TaskStore, ref: string, queue?: string): Promise<Task> {
  if (/^\d+$/.test(ref)) {
    const t = await store.getTask({ id: Number(ref) });
    if (t) return t;
  }
  const queues = queue ? [queue] : (await store.queues()).map((q) => q.name);
  const found: Task[] = [];
  for (const q of queues) {
    const t = await store.getTask({ queue: q, key: ref });
    if (t) found.push(t);
  }
  if (found.length === 1) return found[0]!;
  if (found.length > 1) throw new TesseraError(`task '${ref}' exists in several queues (${found.map((t) => t.queue).join(', ')}); give --queue`);
  throw new TesseraError(`no task '${ref}'${queue ? ` in queue '${queue}'` : ''} (give a task id or key)`);
}

const queueOpt = { name: 'queue', type: 'string' as const, valueName: 'Q', description: 'the queue' };

export const commands: CommandSpec[] = [
  {
    name: 'queue load',
    summary: 'add tasks to a queue from a file (one command per line, or JSON lines)',
    usage: 'REPO QUEUE FILE [--script S] [--priority P] [--max-attempts N]',
    options: [
      { name: 'script', type: 'string', valueName: 'S', description: 'each line is the arguments of script S (qdo --script)' },
      { name: 'priority', type: 'string', valueName: 'P', description: 'priority of tasks that do not give one (higher runs first)' },
      { name: 'max-attempts', type: 'string', valueName: 'N', description: 'attempts before a task fails for good (default 3)' },
    ],
    details: `FILE ('-' for stdin) holds one task per line: a shell command (its key is the line),
or with --script the arguments passed to the script, or a JSON object:
  {"key": "k", "cmd": "...", "after": ["k0", ...], "priority": 5, "outputs": ["file"],
   "expectedSeconds": 60, "maxAttempts": 3}
("after" names keys of this queue that must succeed first; a task whose "outputs" all exist is
skipped; "kind" + "params" instead of "cmd" name an in-process task kind). Loading again skips
the keys already in the queue. A command exiting 3 means bad data: failed, never retried.`,
    async run(args, io) {
      const queue = positional(args, 1, 'QUEUE', 'queue load');
      const file = positional(args, 2, 'FILE', 'queue load');
      const priority = intOpt(args, 'priority');
      const maxAttempts = intOpt(args, 'max-attempts');
      const text = await readInput(file, io);
      const tasks = parseQueueFile(text, { script: stringOpt(args, 'script'), source: file === '-' ? '<stdin>' : file, priority, maxAttempts });
      return withStore(args, 'queue load', async (store) => {
        const t0 = Date.now();
        const r = await loadTasks(store, queue, tasks);
        io.stdout.write(
          `queue ${queue}: added ${r.added} task(s)${r.waiting ? ` (${r.waiting} waiting for dependencies)` : ''}${r.skipped ? `, skipped ${r.skipped} already present` : ''} in ${((Date.now() - t0) / 1000).toFixed(2)} s\n`,
        );
      });
    },
  },
  {
    name: 'queue status',
    summary: 'task counts per queue, kind and state',
    usage: 'REPO [QUEUE] [--json]',
    options: [{ name: 'json', type: 'boolean', description: 'machine-readable output' }],
    async run(args, io) {
      const queue = args.positionals[1];
      return withStore(args, 'queue status', async (store) => {
        const rows = await store.counts(queue);
        const queues = await store.queues();
        if (queue !== undefined && !queues.some((q) => q.name === queue)) throw new TesseraError(`no queue '${queue}'`);
        if (boolOpt(args, 'json')) {
          io.stdout.write(JSON.stringify({ queues, counts: rows }) + '\n');
          return;
        }
        for (const q of queues) {
          if (queue !== undefined && q.name !== queue) continue;
          const mine = rows.filter((r) => r.queue === q.name);
          const total = mine.reduce((a, r) => a + r.n, 0);
          io.stdout.write(`queue ${q.name}${q.paused ? ' (PAUSED)' : ''}: ${total} task(s)\n`);
          io.stdout.write(`  ${'kind'.padEnd(14)}${TASK_STATES.map((s) => s.padStart(11)).join('')}\n`);
          for (const k of perKind(mine)) {
            const v = [k.waiting, k.pending, k.running, k.done, k.failed, k.cancelled];
            io.stdout.write(`  ${k.kind.padEnd(14)}${v.map((n) => String(n).padStart(11)).join('')}\n`);
          }
        }
        if (!queues.length) io.stdout.write('no queues\n');
      });
    },
  },
  {
    name: 'queue list',
    summary: 'list the queues of a repository',
    usage: 'REPO',
    async run(args, io) {
      return withStore(args, 'queue list', async (store) => {
        const rows = await store.counts();
        for (const q of await store.queues()) {
          const by = new Map<string, number>();
          for (const r of rows) if (r.queue === q.name) by.set(r.state, (by.get(r.state) ?? 0) + r.n);
          io.stdout.write(`${q.name}${q.paused ? ' (paused)' : ''}  ${TASK_STATES.map((s) => `${s.toLowerCase()} ${by.get(s) ?? 0}`).join('  ')}\n`);
        }
      });
    },
  },
  {
    name: 'queue tasks',
    summary: 'list tasks (optionally of one state or kind)',
    usage: 'REPO QUEUE [--state S] [--kind K] [--limit N] [--json]',
    options: [
      { name: 'state', type: 'string', valueName: 'S', description: `one of ${TASK_STATES.join(', ')} (any case)` },
      { name: 'kind', type: 'string', valueName: 'K', description: 'only this kind' },
      { name: 'limit', type: 'string', valueName: 'N', description: 'at most N tasks', default: '1000' },
      { name: 'json', type: 'boolean', description: 'one JSON object per line' },
    ],
    async run(args, io) {
      const queue = positional(args, 1, 'QUEUE', 'queue tasks');
      const st = stringOpt(args, 'state');
      return withStore(args, 'queue tasks', async (store) => {
        const tasks = await store.tasks({ queue, state: st ? checkState(st) : undefined, kind: stringOpt(args, 'kind'), limit: intOpt(args, 'limit') });
        for (const t of tasks) io.stdout.write(boolOpt(args, 'json') ? JSON.stringify(t) + '\n' : taskLine(t) + '\n');
      });
    },
  },
  {
    name: 'queue log',
    summary: "print a task's log (all attempts) and its record",
    usage: 'REPO TASK [--queue Q]',
    options: [queueOpt],
    async run(args, io) {
      const ref = positional(args, 1, 'TASK (id or key)', 'queue log');
      return withStore(args, 'queue log', async (store, repo) => {
        const t = await findTask(store, ref, stringOpt(args, 'queue'));
        io.stdout.write(`${taskLine(t)}\n  created ${fmtTime(t.created)}  started ${fmtTime(t.started)}  finished ${fmtTime(t.finished)}${t.host ? `  host ${t.host}` : ''}${t.peakRssMb != null ? `  peak RSS ${t.peakRssMb.toFixed(1)} MB` : ''}\n`);
        const path = taskLogPath(repo.logsDir, t);
        if (existsSync(path)) io.stdout.write(`--- ${path}\n${readFileSync(path, 'utf8')}`);
        else io.stdout.write(`(no log file: ${path})\n`);
      });
    },
  },
  {
    name: 'queue retry',
    summary: 'put FAILED (and with --cancelled CANCELLED) tasks back to PENDING',
    usage: 'REPO QUEUE [--cancelled] [--exit-code N] [--task ID]',
    options: [
      { name: 'cancelled', type: 'boolean', description: 'also CANCELLED tasks' },
      { name: 'exit-code', type: 'string', valueName: 'N', description: 'only tasks that failed with this exit code' },
      { name: 'task', type: 'string', multiple: true, valueName: 'ID', description: 'only these task ids' },
    ],
    async run(args, io) {
      const queue = positional(args, 1, 'QUEUE', 'queue retry');
      const ids = (args.options.task as string[] | undefined)?.map((s) => {
        if (!/^\d+$/.test(s)) throw new UsageError(`--task: expected a task id, got '${s}'`);
        return Number(s);
      });
      return withStore(args, 'queue retry', async (store) => {
        const n = await store.retryTasks({ queue, states: boolOpt(args, 'cancelled') ? ['FAILED', 'CANCELLED'] : ['FAILED'], exitCode: intOpt(args, 'exit-code'), ids });
        io.stdout.write(`queue ${queue}: ${n} task(s) requeued\n`);
      });
    },
  },
  {
    name: 'queue recover',
    summary: 'requeue RUNNING tasks whose lease expired (safe while workers run)',
    usage: 'REPO [QUEUE] [--force]',
    options: [{ name: 'force', type: 'boolean', description: "requeue EVERY running task, leases or not (qdo's recover: only when no worker is alive)" }],
    details: 'Workers also do this on their own; the command is for queues with no worker left.',
    async run(args, io) {
      const queue = args.positionals[1];
      return withStore(args, 'queue recover', async (store) => {
        const n = await store.recover({ queue, all: boolOpt(args, 'force') });
        io.stdout.write(`${n} task(s) recovered\n`);
      });
    },
  },
  ...(['pause', 'resume'] as const).map(
    (verb): CommandSpec => ({
      name: `queue ${verb}`,
      summary: verb === 'pause' ? 'stop workers from claiming tasks of a queue' : 'let workers claim tasks of a queue again',
      usage: 'REPO QUEUE',
      async run(args, io) {
        const queue = positional(args, 1, 'QUEUE', `queue ${verb}`);
        return withStore(args, `queue ${verb}`, async (store) => {
          await store.setPaused(queue, verb === 'pause');
          io.stdout.write(`queue ${queue} ${verb === 'pause' ? 'paused' : 'resumed'}\n`);
        });
      },
    }),
  ),
  {
    name: 'queue cancel',
    summary: 'cancel WAITING and PENDING tasks (and with --running, running ones)',
    usage: 'REPO QUEUE [--running] [--task ID]',
    options: [
      { name: 'running', type: 'boolean', description: 'also RUNNING tasks (their workers stop them at the next heartbeat)' },
      { name: 'task', type: 'string', multiple: true, valueName: 'ID', description: 'only these task ids' },
    ],
    async run(args, io) {
      const queue = positional(args, 1, 'QUEUE', 'queue cancel');
      const ids = (args.options.task as string[] | undefined)?.map(Number);
      return withStore(args, 'queue cancel', async (store) => {
        const n = await store.cancel({ queue, ids, running: boolOpt(args, 'running') });
        io.stdout.write(`queue ${queue}: ${n} task(s) cancelled\n`);
      });
    },
  },
  {
    name: 'queue delete',
    summary: 'delete a queue and all its tasks',
    usage: 'REPO QUEUE',
    async run(args, io) {
      const queue = positional(args, 1, 'QUEUE', 'queue delete');
      return withStore(args, 'queue delete', async (store) => {
        const n = await store.deleteQueue(queue);
        io.stdout.write(`queue ${queue} deleted (${n} task(s))\n`);
      });
    },
  },
];
