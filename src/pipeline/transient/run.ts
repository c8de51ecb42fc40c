/**
 * Run a transient campaign on the local engine: N worker processes that know the campaign's
 * task kinds (`tessera worker` loads ./stages.ts), with the engine's progress display (src/engine/progress.ts).
 * This is `tessera run` with a worker entry that registers the transient stages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { tesseraArgv } from '../campaign.js';
import type { TaskStore } from '../../engine/types.js';
import { ProgressDisplay, perKind } from '../../engine/progress.js';
import type { Repository } from '../repo.js';

export interface RunOptions {
  workers: number;
  queue?: string;
  quiet?: boolean;
  /** Lease length (s): the stages run synchronously for tens of seconds, so it must be long. */
  leaseSeconds?: number;
  stderr: NodeJS.WritableStream;
}


export async function runCampaign(repo: Repository, store: TaskStore, o: RunOptions): Promise<{ failed: number; badWorkers: number; seconds: number }> {
  const t0 = performance.now();
  const [node, tessera] = tesseraArgv();
  const args = [tessera!, 'worker', repo.root, '--quiet', '--lease', String(o.leaseSeconds ?? 600)];
  if (o.queue) args.push('--queue', o.queue);
  const children: ChildProcess[] = [];
  const exits: Promise<number | null>[] = [];
  for (let i = 0; i < o.workers; i++) {
    const c = spawn(node!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    c.stderr!.on('data', (d: Buffer) => o.stderr.write(d));
    children.push(c);
    exits.push(new Promise((res) => c.on('exit', (code) => res(code))));
  }
  const done = Promise.all(exits);
  const forward = (sig: NodeJS.Signals) => { for (const c of children) c.kill(sig); };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const progress = new ProgressDisplay(o.stderr as NodeJS.WritableStream & { isTTY?: boolean });
  let finished = false;
  void done.then(() => (finished = true));
  try {
    while (!finished) {
      await Promise.race([done, new Promise((r) => setTimeout(r, 1000))]);
      if (!o.quiet && !finished) progress.render(await store.counts(o.queue));
    }
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
  const codes = await done;
  const rows = await store.counts(o.queue);
  if (!o.quiet) progress.render(rows, undefined, true);
  const failed = perKind(rows).reduce((a, k) => a + k.failed, 0);
  return { failed, badWorkers: codes.filter((c) => c !== 0).length, seconds: (performance.now() - t0) / 1000 };
}

export interface KindTiming {
  kind: string;
  tasks: number;
  succeeded: number;
  /** Sum of the tasks' run times (s) and the wall-clock span from the first start to the last finish. */
  taskSeconds: number;
  spanSeconds: number;
  maxSeconds: number;
}

/** Per-kind task timings read back from the store. */
export async function kindTimings(store: TaskStore, queue?: string): Promise<KindTiming[]> {
  const m = new Map<string, KindTiming & { first: number; last: number }>();
  let afterId = 0;
  for (;;) {
    const page = await store.tasks({ queue, afterId, limit: 1000 });
    if (!page.length) break;
    for (const t of page) {
      let k = m.get(t.kind);
      if (!k) m.set(t.kind, (k = { kind: t.kind, tasks: 0, succeeded: 0, taskSeconds: 0, spanSeconds: 0, maxSeconds: 0, first: Infinity, last: -Infinity }));
      k.tasks++;
      if (t.state === 'SUCCEEDED') k.succeeded++;
      const s = t.seconds ?? 0;
      k.taskSeconds += s;
      k.maxSeconds = Math.max(k.maxSeconds, s);
      if (t.started !== null) k.first = Math.min(k.first, t.started);
      if (t.finished !== null) k.last = Math.max(k.last, t.finished);
    }
    afterId = page[page.length - 1]!.id;
  }
  const order = ['calibrate', 'diff', 'associate', 'forced', 'report'];
  return [...m.values()]
    .map(({ first, last, ...k }) => ({ ...k, spanSeconds: Number.isFinite(first) && Number.isFinite(last) ? last - first : 0 }))
    .sort((a, b) => (order.indexOf(a.kind) + 1 || 99) - (order.indexOf(b.kind) + 1 || 99) || a.kind.localeCompare(b.kind));
}
