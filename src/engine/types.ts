/**
 * The task model of the campaign engine. Nothing here knows about astronomy: a task is a kind
 * (what to run), a unit key (which unit, e.g. `calibrate/expnum=668439/ccd=33`), JSON
 * parameters, a priority and dependencies on other tasks.
 */

export const TASK_STATES = ['WAITING', 'PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** Exit code meaning "the input data are bad": the task fails at once, no retry. */
export const EXIT_BAD_DATA = 3;

/** A task to add to a queue. */
export interface NewTask {
  /** Unique within the queue. */
  key: string;
  /** What runs it: `cmd` (a shell command) or a registered in-process kind. */
  kind: string;
  params?: unknown;
  /** Higher runs first (default 0). */
  priority?: number;
  /** Keys (same queue) of tasks that must SUCCEED before this one may run. */
  after?: readonly string[];
  /** Attempts before the task is FAILED for good (default: the store's, 3). */
  maxAttempts?: number;
  /** Expected run time in seconds; a worker whose remaining walltime is shorter skips it. */
  expectedSeconds?: number;
}

/** A task as stored. Times are Unix epoch seconds. */
export interface Task {
  id: number;
  queue: string;
  key: string;
  kind: string;
  params: unknown;
  priority: number;
  state: TaskState;
  /** Dependencies not yet SUCCEEDED. */
  unmet: number;
  attempts: number;
  maxAttempts: number;
  notBefore: number;
  expectedSeconds: number | null;
  leaseId: number;
  leaseExpires: number | null;
  worker: string | null;
  host: string | null;
  created: number;
  started: number | null;
  finished: number | null;
  seconds: number | null;
  exitCode: number | null;
  signal: string | null;
  error: string | null;
  peakRssMb: number | null;
  /** JSON written at completion: provenance, skipped flag, outputs. */
  result: unknown;
}

/** A task handed to a worker: enough to run it and to fence updates on its lease. */
export interface ClaimedTask {
  id: number;
  queue: string;
  key: string;
  kind: string;
  params: unknown;
  priority: number;
  attempts: number;
  maxAttempts: number;
  leaseId: number;
  expectedSeconds: number | null;
}

export interface ClaimOptions {
  worker: string;
  host: string;
  /** Only this queue (default: every unpaused queue, in name order). */
  queue?: string;
  /** Only these kinds. */
  kinds?: readonly string[];
  /** Most tasks to claim in this transaction (default 1). */
  limit?: number;
  /** Lease length in seconds; a heartbeat must renew it before it expires. */
  leaseSeconds: number;
  /** Remaining walltime of the worker in seconds: tasks expected to take longer are skipped. */
  remainingSeconds?: number;
}

/** How one attempt ended. */
export interface Outcome {
  ok: boolean;
  exitCode?: number | null;
  signal?: string | null;
  error?: string | null;
  peakRssMb?: number | null;
  seconds?: number;
  /** JSON kept with the task (provenance, outputs, skipped). */
  result?: unknown;
}

export interface FinishRequest {
  id: number;
  leaseId: number;
  outcome: Outcome;
}

/** What a fenced terminal update did. */
export type FinishResult = 'SUCCEEDED' | 'FAILED' | 'RETRY' | 'FENCED';

export interface CountRow {
  queue: string;
  kind: string;
  state: TaskState;
  n: number;
}

export interface QueueInfo {
  name: string;
  paused: boolean;
}

export interface TaskFilter {
  queue?: string;
  state?: TaskState;
  kind?: string;
  limit?: number;
  /** Only tasks with id greater than this (paging). */
  afterId?: number;
}

export interface RetryPolicy {
  /** Default max attempts for new tasks. */
  maxAttempts: number;
  /** First backoff delay in seconds; doubles per attempt. */
  backoffSeconds: number;
  /** Cap of the backoff delay. */
  maxBackoffSeconds: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, backoffSeconds: 10, maxBackoffSeconds: 600 };

export interface AddResult {
  added: number;
  waiting: number;
}

/**
 * The durable task store. Two backends implement it (SQLite, PostgreSQL) and pass the same
 * conformance suite (test/engine/store.test.ts).
 */
export interface TaskStore {
  readonly backend: 'sqlite' | 'postgres';
  readonly retry: RetryPolicy;
  /** Add tasks (all new keys; dependencies may name tasks of this call or existing ones). */
  addTasks(queue: string, tasks: readonly NewTask[]): Promise<AddResult>;
  /** Keys already present in a queue (for idempotent loading). */
  existingKeys(queue: string, keys: readonly string[]): Promise<Set<string>>;
  /** Atomically claim up to `limit` PENDING tasks (priority DESC, id ASC). */
  claim(opts: ClaimOptions): Promise<ClaimedTask[]>;
  /** PENDING tasks in unpaused queues a worker could ever claim (backoff ignored). */
  countPending(opts: { queue?: string; kinds?: readonly string[]; remainingSeconds?: number }): Promise<number>;
  /** Renew the leases of running tasks; returns the ids whose lease is no longer held. */
  heartbeat(leases: readonly { id: number; leaseId: number }[], leaseSeconds: number): Promise<number[]>;
  /** Record the ends of attempts, each fenced on its lease; one transaction. */
  finish(reqs: readonly FinishRequest[]): Promise<FinishResult[]>;
  /** Give tasks back (worker shutting down): RUNNING → PENDING, the attempt not counted. Fenced. */
  release(leases: readonly { id: number; leaseId: number }[]): Promise<number>;
  /** Expired leases: RUNNING → PENDING (or FAILED when out of attempts). Safe while workers run. */
  recover(opts?: { queue?: string; all?: boolean }): Promise<number>;
  /** FAILED (and CANCELLED when asked) → PENDING/WAITING, attempts reset. */
  retryTasks(opts: { queue?: string; states?: readonly TaskState[]; ids?: readonly number[]; exitCode?: number }): Promise<number>;
  /** WAITING/PENDING (and RUNNING when asked) → CANCELLED. */
  cancel(opts: { queue?: string; ids?: readonly number[]; running?: boolean }): Promise<number>;
  setPaused(queue: string, paused: boolean): Promise<void>;
  queues(): Promise<QueueInfo[]>;
  deleteQueue(queue: string): Promise<number>;
  counts(queue?: string): Promise<CountRow[]>;
  tasks(filter: TaskFilter): Promise<Task[]>;
  getTask(ref: { id: number } | { queue: string; key: string }): Promise<Task | undefined>;
  /** Dependency ids of tasks (for checks and display). */
  dependencies(ids: readonly number[]): Promise<{ taskId: number; depId: number }[]>;
  /** Kind-level dependency edges of a queue: `kind` waits for `dependsOn`. */
  kindEdges(queue?: string): Promise<{ kind: string; dependsOn: string }[]>;
  /** Raw SQL for higher layers (`?` placeholders on both backends). */
  sql<T = Record<string, unknown>>(query: string, params?: readonly unknown[]): Promise<T[]>;
  close(): Promise<void>;
}
