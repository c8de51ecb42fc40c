import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { taskLogPath } from './command.js';
import type { ClaimedTask, FinishRequest, Outcome, TaskStore } from './types.js';

/** What an executor gets besides the task. */
export interface TaskContext {
  /** Aborted when the lease is lost (recovered, cancelled) or the worker's grace period is over. */
  signal: AbortSignal;
  /** The task's log file (appended to across attempts). */
  logPath: string;
  workerId: string;
}

/** Runs one attempt of a task. Must not throw for task failures: return `{ ok: false, ... }`. */
export type Executor = (task: ClaimedTask, ctx: TaskContext) => Promise<Outcome>;

export interface WorkerOptions {
  store: TaskStore;
  executor: Executor;
  logsDir: string;
  queue?: string;
  kinds?: readonly string[];
  /** Stop after starting this many tasks. */
  maxTasks?: number;
  /** Seconds this worker may run; it stops claiming tasks expected to outlast it. */
  walltimeSeconds?: number;
  /** Lease length (default 60 s); heartbeats renew it every lease/4. */
  leaseSeconds?: number;
  /** Tasks run at once by this worker (default 1). */
  slots?: number;
  /** Most tasks claimed per transaction (default 200); the batch adapts to task duration. */
  maxBatch?: number;
  /** On SIGTERM/SIGUSR1, how long running tasks may go on before they are killed and released (default 30 s). */
  graceSeconds?: number;
  /** Exit when there is nothing left to do (default true); otherwise poll forever. */
  exitWhenIdle?: boolean;
  /** Longest sleep between polls when idle (default 1 s). */
  maxPollSeconds?: number;
  /** Append one line per task this worker completed (`id leaseId key`), after the fenced update. */
  journalPath?: string;
  workerId?: string;
  /** Progress/diagnostic lines. */
  log?: (line: string) => void;
}

export interface WorkerSummary {
  workerId: string;
  started: number;
  succeeded: number;
  failed: number;
  retried: number;
  fenced: number;
  released: number;
  reason: 'idle' | 'max-tasks' | 'walltime' | 'signal' | 'stopped';
  seconds: number;
}

interface Running {
  task: ClaimedTask;
  abort: AbortController;
  /** The lease was lost or the task is being released: drop its outcome. */
  dropped: boolean;
  released: boolean;
  done: Promise<void>;
}

const sleep = (s: number) => new Promise<void>((r) => setTimeout(r, s * 1000));
/** A sleep that does not keep the process alive on its own (timeouts raced against work). */
const sleepUnref = (s: number) => new Promise<void>((r) => setTimeout(r, s * 1000).unref());

/**
 * A pilot worker: claims tasks (in batches when they are short), runs them through the executor,
 * keeps their leases alive with heartbeats, records outcomes fenced on the lease, and exits when
 * the queue is drained, its task budget or walltime is spent, or it is asked to stop.
 */
export class Worker {
  readonly id: string;
  private readonly o: Required<Omit<WorkerOptions, 'queue' | 'kinds' | 'maxTasks' | 'walltimeSeconds' | 'journalPath' | 'workerId' | 'log'>> & WorkerOptions;
  private readonly deadline: number | undefined;
  private readonly buffer: ClaimedTask[] = [];
  private readonly running = new Map<number, Running>();
  private finishes: { req: FinishRequest; key: string }[] = [];
  private firstFinishAt = 0;
  private stopReason: WorkerSummary['reason'] | undefined;
  private wake: (() => void) | undefined;
  private avgSeconds = 1;
  private completions = 0;
  private readonly s: WorkerSummary;
  private readonly t0 = Date.now() / 1000;

  constructor(opts: WorkerOptions) {
    this.o = {
      leaseSeconds: 60,
      slots: 1,
      maxBatch: 200,
      graceSeconds: 30,
      exitWhenIdle: true,
      maxPollSeconds: 1,
      ...(Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as WorkerOptions),
    };
    this.id = opts.workerId ?? `${hostname()}:${process.pid}${process.env.SLURM_JOB_ID ? `:slurm${process.env.SLURM_JOB_ID}` : ''}`;
    this.deadline = opts.walltimeSeconds !== undefined ? this.t0 + opts.walltimeSeconds : undefined;
    this.s = { workerId: this.id, started: 0, succeeded: 0, failed: 0, retried: 0, fenced: 0, released: 0, reason: 'idle', seconds: 0 };
  }

  /** Ask the worker to stop claiming; running tasks get the grace period, then are released. */
  stop(reason: WorkerSummary['reason'] = 'stopped'): void {
    if (!this.stopReason) {
      this.stopReason = reason;
      if (reason === 'signal' || reason === 'stopped' || this.running.size) this.o.log?.(`worker ${this.id}: stopping (${reason}); ${this.running.size} task(s) running, grace ${this.o.graceSeconds} s`);
    }
    this.wake?.();
  }

  async run(): Promise<WorkerSummary> {
    const hb = setInterval(() => void this.heartbeat(), (this.o.leaseSeconds / 4) * 1000);
    let idlePoll = 0.02;
    try {
      while (!this.stopReason) {
        if (this.buffer.length === 0 && this.running.size < this.o.slots) {
          await this.flush();
          if (this.stopReason) break;
          const remaining = this.deadline !== undefined ? this.deadline - Date.now() / 1000 : undefined;
          if (remaining !== undefined && remaining <= 0) { this.stop('walltime'); break; }
          const budget = this.o.maxTasks !== undefined ? this.o.maxTasks - this.s.started - this.buffer.length : Infinity;
          if (budget <= 0) {
            if (this.running.size === 0) { this.stop('max-tasks'); break; }
            await this.waitAny();
            continue;
          }
          const free = this.o.slots - this.running.size;
          const want = Math.max(free, Math.min(this.o.maxBatch, Math.floor(1 / Math.max(this.avgSeconds, 1e-4))));
          const got = await this.o.store.claim({
            worker: this.id,
            host: hostname(),
            queue: this.o.queue,
            kinds: this.o.kinds,
            limit: Math.min(want, budget),
            leaseSeconds: this.o.leaseSeconds,
            remainingSeconds: remaining,
          });
          if (got.length === 0) {
            if (this.running.size > 0) { await this.waitAny(); continue; }
            if (this.o.exitWhenIdle && (await this.nothingLeft())) { this.stop('idle'); break; }
            await this.sleepInterruptible(idlePoll);
            idlePoll = Math.min(this.o.maxPollSeconds, idlePoll * 2);
            continue;
          }
          idlePoll = 0.02;
          this.buffer.push(...got);
        }
        while (this.buffer.length && this.running.size < this.o.slots && !this.stopReason) this.start(this.buffer.shift()!);
        if (this.running.size >= this.o.slots) await this.waitFor(() => this.running.size < this.o.slots);
        // Outcomes are recorded in batches (one transaction), but never held back long: a
        // completion may release dependents other workers wait for.
        if (this.finishes.length >= 256 || (this.finishes.length && Date.now() - this.firstFinishAt > 250)) await this.flush();
      }
      await this.shutdown();
    } finally {
      clearInterval(hb);
    }
    this.s.reason = this.stopReason ?? 'stopped';
    this.s.seconds = Date.now() / 1000 - this.t0;
    return this.s;
  }

  /** No PENDING or RUNNING tasks in scope, and no running task that could release WAITING ones. */
  private async nothingLeft(): Promise<boolean> {
    const rows = await this.o.store.counts(this.o.queue);
    const mine = (k: string) => !this.o.kinds?.length || this.o.kinds.includes(k);
    let active = 0;
    let waiting = 0;
    let runningAny = 0;
    const paused = new Set((await this.o.store.queues()).filter((q) => q.paused).map((q) => q.name));
    for (const r of rows) {
      if (paused.has(r.queue)) continue;
      if (r.state === 'RUNNING') runningAny += r.n;
      if (!mine(r.kind)) continue;
      if (r.state === 'PENDING' || r.state === 'RUNNING') active += r.n;
      if (r.state === 'WAITING') waiting += r.n;
    }
    if (active === 0) return waiting === 0 || runningAny === 0;
    // PENDING tasks remain: are any of them ever claimable by this worker (not too long for its
    // remaining walltime)? Tasks in a retry backoff are; tasks expected to outlast it are not.
    const running = rows.some((r) => r.state === 'RUNNING' && mine(r.kind) && !paused.has(r.queue));
    if (running) return false;
    const remaining = this.deadline !== undefined ? this.deadline - Date.now() / 1000 : undefined;
    const claimable = await this.o.store.countPending({ queue: this.o.queue, kinds: this.o.kinds, remainingSeconds: remaining });
    return claimable === 0;
  }

  private start(task: ClaimedTask): void {
    this.s.started++;
    const abort = new AbortController();
    const logPath = taskLogPath(this.o.logsDir, task);
    const r: Running = { task, abort, dropped: false, released: false, done: Promise.resolve() };
    r.done = (async () => {
      let outcome: Outcome;
      try {
        outcome = await this.o.executor(task, { signal: abort.signal, logPath, workerId: this.id });
      } catch (e) {
        outcome = { ok: false, exitCode: 1, error: `internal error: ${(e as Error).stack ?? String(e)}` };
      }
      this.running.delete(task.id);
      if (outcome.seconds !== undefined) this.avgSeconds = 0.8 * this.avgSeconds + 0.2 * outcome.seconds;
      if (!r.dropped) {
        if (!this.finishes.length) this.firstFinishAt = Date.now();
        this.finishes.push({ req: { id: task.id, leaseId: task.leaseId, outcome }, key: task.key });
      }
      this.completions++;
      this.wake?.();
    })();
    this.running.set(task.id, r);
  }

  /** Wait until `ready()` holds (checked now and after every task completion), or a stop. */
  private waitFor(ready: () => boolean): Promise<void> {
    return new Promise<void>((res) => {
      const check = () => {
        if (this.stopReason || ready()) {
          this.wake = undefined;
          res();
        }
      };
      this.wake = check;
      check();
    });
  }

  /** Wait for the next task completion. */
  private waitAny(): Promise<void> {
    const c = this.completions;
    return this.waitFor(() => this.completions > c);
  }

  private sleepInterruptible(seconds: number): Promise<void> {
    return Promise.race([sleep(seconds), this.waitFor(() => false)]);
  }

  private async flush(): Promise<void> {
    if (!this.finishes.length) return;
    const batch = this.finishes;
    this.finishes = [];
    const results = await this.o.store.finish(batch.map((b) => b.req));
    const lines: string[] = [];
    results.forEach((res, i) => {
      const b = batch[i]!;
      if (res === 'SUCCEEDED') {
        this.s.succeeded++;
        lines.push(`${b.req.id} ${b.req.leaseId} ${b.key}\n`);
      } else if (res === 'FAILED') this.s.failed++;
      else if (res === 'RETRY') this.s.retried++;
      else this.s.fenced++;
      if (res === 'FAILED' || res === 'RETRY') this.o.log?.(`task ${b.req.id} ${b.key}: ${res === 'FAILED' ? 'FAILED' : 'will retry'}: ${b.req.outcome.error ?? `exit code ${b.req.outcome.exitCode}`}`);
    });
    if (this.o.journalPath && lines.length) {
      mkdirSync(dirname(this.o.journalPath), { recursive: true });
      appendFileSync(this.o.journalPath, lines.join(''));
    }
  }

  private heartbeating = false;
  private async heartbeat(): Promise<void> {
    if (this.heartbeating) return;
    this.heartbeating = true;
    try {
      const leases = [...this.buffer, ...[...this.running.values()].filter((r) => !r.released).map((r) => r.task)].map((t) => ({ id: t.id, leaseId: t.leaseId }));
      const lost = new Set(await this.o.store.heartbeat(leases, this.o.leaseSeconds));
      if (!lost.size) return;
      for (let i = this.buffer.length - 1; i >= 0; i--) if (lost.has(this.buffer[i]!.id)) this.buffer.splice(i, 1);
      for (const r of this.running.values()) {
        if (lost.has(r.task.id)) {
          this.o.log?.(`task ${r.task.id} ${r.task.key}: lease lost (recovered or cancelled elsewhere); stopping it`);
          r.dropped = true;
          r.abort.abort();
        }
      }
    } catch (e) {
      this.o.log?.(`worker ${this.id}: heartbeat failed: ${(e as Error).message}`);
    } finally {
      this.heartbeating = false;
    }
  }

  private async shutdown(): Promise<void> {
    // Claimed but not started: give back at once.
    if (this.buffer.length) {
      this.s.released += await this.o.store.release(this.buffer.splice(0).map((t) => ({ id: t.id, leaseId: t.leaseId })));
    }
    if (this.running.size) {
      const all = Promise.all([...this.running.values()].map((r) => r.done));
      const timedOut = await Promise.race([all.then(() => false), sleepUnref(this.o.graceSeconds).then(() => true)]);
      if (timedOut) {
        const rs = [...this.running.values()];
        for (const r of rs) {
          r.dropped = true;
          r.released = true;
          r.abort.abort();
        }
        this.s.released += await this.o.store.release(rs.map((r) => ({ id: r.task.id, leaseId: r.task.leaseId })));
        this.o.log?.(`worker ${this.id}: released ${rs.length} task(s) still running after the grace period`);
        await Promise.race([Promise.all(rs.map((r) => r.done)), sleepUnref(10)]);
      }
    }
    await this.flush();
  }
}

/** Stop the worker on SIGTERM / SIGUSR1 / SIGINT (batch systems send these before the walltime). */
export function stopOnSignals(w: Worker, log?: (s: string) => void): () => void {
  const handler = (sig: NodeJS.Signals) => {
    log?.(`worker ${w.id}: received ${sig}`);
    w.stop('signal');
  };
  const sigs: NodeJS.Signals[] = ['SIGTERM', 'SIGUSR1', 'SIGINT'];
  for (const s of sigs) process.on(s, handler);
  return () => {
    for (const s of sigs) process.off(s, handler);
  };
}
