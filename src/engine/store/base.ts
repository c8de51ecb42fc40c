import { TesseraError } from '../../util/errors.js';
import { afterFailure, describeFailure } from '../retry.js';
import {
  DEFAULT_RETRY,
  TASK_STATES,
  type AddResult,
  type ClaimedTask,
  type ClaimOptions,
  type CountRow,
  type FinishRequest,
  type FinishResult,
  type NewTask,
  type QueueInfo,
  type RetryPolicy,
  type Task,
  type TaskFilter,
  type TaskState,
  type TaskStore,
} from '../types.js';

/** One statement inside a transaction: rows returned (RETURNING / SELECT) and rows changed. */
export type Q = (sql: string, params?: readonly unknown[]) => Promise<{ rows: Record<string, unknown>[]; changes: number }>;

/** A row of tasks to insert (already resolved: state and unmet computed). */
export interface InsertRow {
  key: string;
  kind: string;
  params: string | null;
  priority: number;
  state: TaskState;
  unmet: number;
  maxAttempts: number;
  expectedSeconds: number | null;
}

export const now = (): number => Date.now() / 1000;

/** Serialise async operations on one connection (timers must not interleave with a transaction). */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const json = (v: unknown): unknown => {
  if (v === null || v === undefined) return null;
  try {
    return JSON.parse(String(v));
  } catch {
    return String(v);
  }
};

export function rowToTask(r: Record<string, unknown>): Task {
  return {
    id: num(r.id),
    queue: String(r.queue),
    key: String(r.key),
    kind: String(r.kind),
    params: json(r.params),
    priority: num(r.priority),
    state: String(r.state) as TaskState,
    unmet: num(r.unmet),
    attempts: num(r.attempts),
    maxAttempts: num(r.max_attempts),
    notBefore: num(r.not_before),
    expectedSeconds: numOrNull(r.expected_seconds),
    leaseId: num(r.lease_id),
    leaseExpires: numOrNull(r.lease_expires),
    worker: strOrNull(r.worker),
    host: strOrNull(r.host),
    created: num(r.created),
    started: numOrNull(r.started),
    finished: numOrNull(r.finished),
    seconds: numOrNull(r.seconds),
    exitCode: numOrNull(r.exit_code),
    signal: strOrNull(r.signal),
    error: strOrNull(r.error),
    peakRssMb: numOrNull(r.peak_rss_mb),
    result: json(r.result),
  };
}

function rowToClaimed(r: Record<string, unknown>): ClaimedTask {
  return {
    id: num(r.id),
    queue: String(r.queue),
    key: String(r.key),
    kind: String(r.kind),
    params: json(r.params),
    priority: num(r.priority),
    attempts: num(r.attempts),
    maxAttempts: num(r.max_attempts),
    leaseId: num(r.lease_id),
    expectedSeconds: numOrNull(r.expected_seconds),
  };
}

const chunks = <T>(a: readonly T[], n: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < a.length; i += n) out.push(a.slice(i, i + n));
  return out;
};
const marks = (n: number) => new Array(n).fill('?').join(',');

export function checkState(s: string): TaskState {
  const u = s.toUpperCase();
  if (!(TASK_STATES as readonly string[]).includes(u)) {
    throw new TesseraError(`unknown task state '${s}' (expected one of ${TASK_STATES.join(', ')})`);
  }
  return u as TaskState;
}

/**
 * The task store logic, written once for both SQL dialects. Backends provide transactions,
 * statement execution and bulk inserts.
 */
export abstract class SqlTaskStore implements TaskStore {
  abstract readonly backend: 'sqlite' | 'postgres';
  readonly retry: RetryPolicy;
  protected readonly mutex = new Mutex();
  private lastRecover = 0;

  constructor(retry?: Partial<RetryPolicy>) {
    this.retry = { ...DEFAULT_RETRY, ...retry };
  }

  /** Run fn in one write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: READ COMMITTED). */
  protected abstract tx<T>(fn: (q: Q) => Promise<T>): Promise<T>;
  /** Run one statement outside an explicit transaction. */
  protected abstract run(sql: string, params?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[]; changes: number }>;
  protected abstract insertTaskRows(q: Q, queue: string, rows: readonly InsertRow[], created: number): Promise<number[]>;
  /** Fenced SUCCEEDED updates of a batch; returns the ids that were still held. */
  protected abstract completeMany(q: Q, reqs: readonly FinishRequest[], t: number): Promise<Set<number>>;
  /** SQL producing a set of ids from one parameter (`idListParam`). */
  protected abstract readonly idList: string;
  protected abstract idListParam(ids: number[]): unknown;
  protected abstract insertDepRows(q: Q, taskIds: readonly number[], depIds: readonly number[]): Promise<void>;
  protected abstract addCounts(q: Q, rows: readonly CountRow[]): Promise<void>;
  /** `FOR UPDATE SKIP LOCKED` on PostgreSQL, nothing on SQLite (the transaction holds the write lock). */
  protected abstract readonly lockClause: string;
  /** `FOR SHARE` on PostgreSQL (so a dependency cannot complete unseen while we add dependents). */
  protected abstract readonly shareClause: string;
  abstract close(): Promise<void>;

  async addTasks(queue: string, tasks: readonly NewTask[]): Promise<AddResult> {
    if (!queue || /\s/.test(queue)) throw new TesseraError(`invalid queue name '${queue}' (non-empty, no spaces)`);
    if (tasks.length === 0) {
      await this.mutex.run(() => this.tx(async (q) => this.ensureQueue(q, queue)));
      return { added: 0, waiting: 0 };
    }
    const n = tasks.length;
    // Keys unique within the call.
    const index = new Map<string, number>();
    let total = 0;
    for (let i = 0; i < n; i++) {
      const t = tasks[i]!;
      if (typeof t.key !== 'string' || t.key.length === 0) throw new TesseraError(`task ${i + 1}: missing key`);
      if (!t.kind) throw new TesseraError(`task '${t.key}': missing kind`);
      if (index.has(t.key)) throw new TesseraError(`task key '${t.key}' appears twice (queue '${queue}')`);
      index.set(t.key, i);
      total += t.after?.length ?? 0;
    }
    // Dependencies as a compressed edge list, each key looked up once: task i's edges are
    // dep[off[i]] .. dep[off[i+1]-1]; dep >= 0 is a task of this call, dep < 0 is external key
    // number -dep-1 (an existing task of the queue).
    const off = new Int32Array(n + 1);
    const dep = new Int32Array(total);
    const extKeys: string[] = [];
    const extIndex = new Map<string, number>();
    let e = 0;
    for (let i = 0; i < n; i++) {
      const after = tasks[i]!.after;
      const start = e;
      const seen = after && after.length > 16 ? new Set<number>() : undefined;
      if (after) {
        for (const a of after) {
          let j = index.get(a);
          if (j === undefined) {
            let k = extIndex.get(a);
            if (k === undefined) {
              k = extKeys.length;
              extKeys.push(a);
              extIndex.set(a, k);
            }
            j = -k - 1;
          }
          // The same dependency twice counts once (a set for large fan-ins).
          let dup = false;
          if (seen) {
            if (seen.has(j)) dup = true;
            else seen.add(j);
          } else for (let x = start; x < e; x++) if (dep[x] === j) { dup = true; break; }
          if (!dup) dep[e++] = j;
        }
      }
      off[i + 1] = e;
    }
    this.checkAcyclic(tasks, n, off, dep, e);
    const created = now();
    try {
      return await this.addResolved(queue, tasks, off, dep, extKeys, created);
    } catch (err) {
      if (err instanceof TesseraError || !/UNIQUE|duplicate key/i.test(String((err as Error).message))) throw err;
      // The transaction rolled back; name the keys that already exist.
      const dup = await this.existingKeys(queue, tasks.map((t) => t.key));
      throw new TesseraError(`queue '${queue}' already has task${dup.size > 1 ? 's' : ''} ${[...dup].slice(0, 5).map((k) => `'${k}'`).join(', ')}${dup.size > 5 ? ` (and ${dup.size - 5} more)` : ''}`);
    }
  }

  private addResolved(queue: string, tasks: readonly NewTask[], off: Int32Array, dep: Int32Array, extKeys: string[], created: number): Promise<AddResult> {
    const n = tasks.length;
    return this.mutex.run(() =>
      this.tx(async (q) => {
        await this.ensureQueue(q, queue);
        const extId = new Int32Array(extKeys.length);
        const extDone = new Uint8Array(extKeys.length);
        const found = new Map<string, { id: number; state: string }>();
        for (const part of chunks(extKeys, 500)) {
          const r = await q(`SELECT id, key, state FROM tasks WHERE queue = ? AND key IN (${marks(part.length)}) ${this.shareClause}`, [queue, ...part]);
          for (const row of r.rows) found.set(String(row.key), { id: num(row.id), state: String(row.state) });
        }
        for (let k = 0; k < extKeys.length; k++) {
          const f = found.get(extKeys[k]!);
          if (!f) {
            let who = 0;
            for (let x = 0; x < off[n]!; x++) {
              if (dep[x] === -k - 1) {
                while (off[who + 1]! <= x) who++;
                break;
              }
            }
            throw new TesseraError(`task '${tasks[who]!.key}': dependency '${extKeys[k]}' is not a task of queue '${queue}'`);
          }
          extId[k] = f.id;
          extDone[k] = f.state === 'SUCCEEDED' ? 1 : 0;
        }
        const rows: InsertRow[] = new Array(n);
        const counts = new Map<string, [number, number]>();
        let waiting = 0;
        for (let i = 0; i < n; i++) {
          const t = tasks[i]!;
          let unmet = 0;
          for (let x = off[i]!; x < off[i + 1]!; x++) {
            const d = dep[x]!;
            if (d >= 0 || !extDone[-d - 1]) unmet++;
          }
          const maxAttempts = t.maxAttempts ?? this.retry.maxAttempts;
          if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new TesseraError(`task '${t.key}': maxAttempts must be a positive integer`);
          rows[i] = {
            key: t.key,
            kind: t.kind,
            params: t.params === undefined ? null : JSON.stringify(t.params),
            priority: t.priority ?? 0,
            state: unmet > 0 ? 'WAITING' : 'PENDING',
            unmet,
            maxAttempts,
            expectedSeconds: t.expectedSeconds ?? null,
          };
          let c = counts.get(t.kind);
          if (!c) counts.set(t.kind, (c = [0, 0]));
          if (unmet > 0) {
            c[1]++;
            waiting++;
          } else c[0]++;
        }
        const ids = await this.insertTaskRows(q, queue, rows, created);
        const m = off[n]!;
        if (m > 0) {
          const taskIds = new Array<number>(m);
          const depIds = new Array<number>(m);
          for (let i = 0; i < n; i++) {
            for (let x = off[i]!; x < off[i + 1]!; x++) {
              const d = dep[x]!;
              taskIds[x] = ids[i]!;
              depIds[x] = d >= 0 ? ids[d]! : extId[-d - 1]!;
            }
          }
          await this.insertDepRows(q, taskIds, depIds);
        }
        const countRows: CountRow[] = [];
        for (const [kind, [p, w]] of counts) {
          if (p) countRows.push({ queue, kind, state: 'PENDING', n: p });
          if (w) countRows.push({ queue, kind, state: 'WAITING', n: w });
        }
        await this.addCounts(q, countRows);
        return { added: n, waiting };
      }),
    );
  }

  /** Kahn's algorithm over the edges inside this call (existing tasks cannot depend on new ones). */
  private checkAcyclic(tasks: readonly NewTask[], n: number, off: Int32Array, dep: Int32Array, m: number): void {
    const indeg = new Int32Array(n);
    const outCount = new Int32Array(n + 1);
    let internal = 0;
    for (let i = 0; i < n; i++) {
      for (let x = off[i]!; x < off[i + 1]!; x++) {
        const d = dep[x]!;
        if (d >= 0) {
          indeg[i]!++;
          outCount[d]!++;
          internal++;
        }
      }
    }
    if (internal === 0 || m === 0) return;
    // Dependents in compressed form.
    const dOff = new Int32Array(n + 1);
    for (let j = 0; j < n; j++) dOff[j + 1] = dOff[j]! + outCount[j]!;
    const fill = dOff.slice(0, n);
    const dependents = new Int32Array(internal);
    for (let i = 0; i < n; i++) for (let x = off[i]!; x < off[i + 1]!; x++) { const d = dep[x]!; if (d >= 0) dependents[fill[d]!++] = i; }
    const stack = new Int32Array(n);
    let sp = 0;
    for (let i = 0; i < n; i++) if (indeg[i] === 0) stack[sp++] = i;
    let done = 0;
    while (sp > 0) {
      const j = stack[--sp]!;
      done++;
      for (let x = dOff[j]!; x < dOff[j + 1]!; x++) {
        const i = dependents[x]!;
        if (--indeg[i]! === 0) stack[sp++] = i;
      }
    }
    if (done < n) {
      const stuck = [];
      for (let i = 0; i < n && stuck.length < 3; i++) if (indeg[i]! > 0) stuck.push(`'${tasks[i]!.key}'`);
      throw new TesseraError(`dependency cycle among tasks (e.g. ${stuck.join(', ')})`);
    }
  }

  private async ensureQueue(q: Q, queue: string): Promise<void> {
    await q('INSERT INTO queues (name, paused, created) VALUES (?, 0, ?) ON CONFLICT (name) DO NOTHING', [queue, now()]);
  }

  private async existingKeysIn(q: Q, queue: string, keys: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (const part of chunks(keys, 500)) {
      const r = await q(`SELECT key FROM tasks WHERE queue = ? AND key IN (${marks(part.length)})`, [queue, ...part]);
      for (const row of r.rows) found.add(String(row.key));
    }
    return found;
  }

  existingKeys(queue: string, keys: readonly string[]): Promise<Set<string>> {
    return this.mutex.run(() => this.existingKeysIn((s, p) => this.run(s, p), queue, keys));
  }

  async claim(o: ClaimOptions): Promise<ClaimedTask[]> {
    const limit = Math.max(1, Math.floor(o.limit ?? 1));
    const t = now();
    if (t - this.lastRecover > Math.max(1, o.leaseSeconds / 2)) {
      this.lastRecover = t;
      await this.recover();
    }
    return this.mutex.run(() =>
      this.tx(async (q) => {
        const qs = await q(`SELECT name FROM queues WHERE paused = 0 ${o.queue !== undefined ? 'AND name = ?' : ''} ORDER BY name`, o.queue !== undefined ? [o.queue] : []);
        const out: ClaimedTask[] = [];
        const t0 = now();
        for (const row of qs.rows) {
          const want = limit - out.length;
          if (want <= 0) break;
          const params: unknown[] = [t0 + o.leaseSeconds, o.worker, o.host, t0, String(row.name), t0];
          let filter = '';
          if (o.remainingSeconds !== undefined) {
            filter += ' AND (expected_seconds IS NULL OR expected_seconds <= ?)';
            params.push(o.remainingSeconds);
          }
          if (o.kinds && o.kinds.length) {
            filter += ` AND kind IN (${marks(o.kinds.length)})`;
            params.push(...o.kinds);
          }
          params.push(want);
          const r = await q(
            `UPDATE tasks SET state = 'RUNNING', attempts = attempts + 1, lease_id = lease_id + 1,
               lease_expires = ?, worker = ?, host = ?, started = ?, finished = NULL, seconds = NULL,
               exit_code = NULL, signal = NULL
             WHERE id IN (SELECT id FROM tasks WHERE queue = ? AND state = 'PENDING' AND not_before <= ?${filter}
                          ORDER BY priority DESC, id LIMIT ? ${this.lockClause})
             RETURNING id, queue, key, kind, params, priority, attempts, max_attempts, lease_id, expected_seconds`,
            params,
          );
          const got = r.rows.map(rowToClaimed).sort((a, b) => b.priority - a.priority || a.id - b.id);
          out.push(...got);
        }
        return out;
      }),
    );
  }

  async countPending(o: { queue?: string; kinds?: readonly string[]; remainingSeconds?: number }): Promise<number> {
    const params: unknown[] = [];
    let cond = `state = 'PENDING' AND queue IN (SELECT name FROM queues WHERE paused = 0)`;
    if (o.queue !== undefined) { cond += ' AND queue = ?'; params.push(o.queue); }
    if (o.remainingSeconds !== undefined) { cond += ' AND (expected_seconds IS NULL OR expected_seconds <= ?)'; params.push(o.remainingSeconds); }
    if (o.kinds && o.kinds.length) { cond += ` AND kind IN (${marks(o.kinds.length)})`; params.push(...o.kinds); }
    const r = await this.mutex.run(() => this.run(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM tasks WHERE ${cond} LIMIT 1) x`, params));
    return num(r.rows[0]!.n);
  }

  async heartbeat(leases: readonly { id: number; leaseId: number }[], leaseSeconds: number): Promise<number[]> {
    if (!leases.length) return [];
    return this.mutex.run(() =>
      this.tx(async (q) => {
        const held = new Set<number>();
        for (const part of chunks(leases, 400)) {
          const cond = part.map(() => '(id = ? AND lease_id = ?)').join(' OR ');
          const r = await q(`UPDATE tasks SET lease_expires = ? WHERE state = 'RUNNING' AND (${cond}) RETURNING id`, [now() + leaseSeconds, ...part.flatMap((l) => [l.id, l.leaseId])]);
          for (const row of r.rows) held.add(num(row.id));
        }
        return leases.filter((l) => !held.has(l.id)).map((l) => l.id);
      }),
    );
  }

  async finish(reqs: readonly FinishRequest[]): Promise<FinishResult[]> {
    if (!reqs.length) return [];
    return this.mutex.run(() =>
      this.tx(async (q) => {
        const out: FinishResult[] = new Array(reqs.length);
        // Successes in one go: fenced updates, then one release of all their dependents.
        const oks = reqs.filter((r) => r.outcome.ok);
        if (oks.length) {
          const done = await this.completeMany(q, oks, now());
          if (done.size) {
            // O(dependents): each dependent's unmet counter drops by the number of its deps done here.
            await q(
              `UPDATE tasks SET unmet = unmet - c.n,
                 state = CASE WHEN unmet = c.n AND state = 'WAITING' THEN 'PENDING' ELSE state END
               FROM (SELECT task_id, COUNT(*) AS n FROM deps WHERE dep_id IN (${this.idList}) GROUP BY task_id) AS c
               WHERE tasks.id = c.task_id`,
              [this.idListParam([...done])],
            );
          }
          reqs.forEach((r, i) => {
            if (r.outcome.ok) out[i] = done.has(r.id) ? 'SUCCEEDED' : 'FENCED';
          });
        }
        for (let i = 0; i < reqs.length; i++) {
          const { id, leaseId, outcome: o } = reqs[i]!;
          const t = now();
          if (o.ok) {
            continue;
          } else {
            const cur = await q(`SELECT attempts, max_attempts FROM tasks WHERE id = ? AND lease_id = ? AND state = 'RUNNING' ${this.lockClause.replace(' SKIP LOCKED', '')}`, [id, leaseId]);
            const row = cur.rows[0];
            if (!row) {
              out[i] = 'FENCED';
              continue;
            }
            const next = afterFailure(num(row.attempts), num(row.max_attempts), o, this.retry, t);
            await q(
              `UPDATE tasks SET state = ?, not_before = ?, finished = ?, seconds = ?, exit_code = ?, signal = ?, error = ?,
                 peak_rss_mb = ?, result = ?, lease_expires = NULL
               WHERE id = ? AND lease_id = ? AND state = 'RUNNING'`,
              [
                next.state,
                next.state === 'PENDING' ? next.notBefore : 0,
                t,
                o.seconds ?? null,
                o.exitCode ?? null,
                o.signal ?? null,
                describeFailure(o),
                o.peakRssMb ?? null,
                o.result === undefined ? null : JSON.stringify(o.result),
                id,
                leaseId,
              ],
            );
            out[i] = next.state === 'FAILED' ? 'FAILED' : 'RETRY';
          }
        }
        return out;
      }),
    );
  }

  async release(leases: readonly { id: number; leaseId: number }[]): Promise<number> {
    if (!leases.length) return 0;
    return this.mutex.run(() =>
      this.tx(async (q) => {
        let n = 0;
        for (const part of chunks(leases, 400)) {
          const cond = part.map(() => '(id = ? AND lease_id = ?)').join(' OR ');
          const r = await q(
            `UPDATE tasks SET state = 'PENDING', attempts = attempts - 1, lease_expires = NULL, not_before = 0
             WHERE state = 'RUNNING' AND (${cond}) RETURNING id`,
            part.flatMap((l) => [l.id, l.leaseId]),
          );
          n += r.rows.length;
        }
        return n;
      }),
    );
  }

  async recover(opts: { queue?: string; all?: boolean } = {}): Promise<number> {
    return this.mutex.run(() =>
      this.tx(async (q) => {
        const params: unknown[] = [now()];
        let cond = `state = 'RUNNING'`;
        if (!opts.all) {
          cond += ' AND lease_expires < ?';
          params.push(now());
        }
        if (opts.queue !== undefined) {
          cond += ' AND queue = ?';
          params.push(opts.queue);
        }
        const r = await q(
          `UPDATE tasks SET state = CASE WHEN attempts >= max_attempts THEN 'FAILED' ELSE 'PENDING' END,
             error = 'lease expired: worker ' || COALESCE(worker, '?') || ' on ' || COALESCE(host, '?') || ' lost (attempt ' || attempts || ')',
             finished = ?, lease_expires = NULL, not_before = 0
           WHERE ${cond} RETURNING id`,
          params,
        );
        return r.rows.length;
      }),
    );
  }

  async retryTasks(opts: { queue?: string; states?: readonly TaskState[]; ids?: readonly number[]; exitCode?: number }): Promise<number> {
    const states = opts.states ?? ['FAILED'];
    for (const s of states) if (s !== 'FAILED' && s !== 'CANCELLED') throw new TesseraError(`retry applies to FAILED or CANCELLED tasks, not ${s}`);
    const params: unknown[] = [...states];
    let cond = `state IN (${marks(states.length)})`;
    if (opts.queue !== undefined) { cond += ' AND queue = ?'; params.push(opts.queue); }
    if (opts.exitCode !== undefined) { cond += ' AND exit_code = ?'; params.push(opts.exitCode); }
    if (opts.ids) {
      if (!opts.ids.length) return 0;
      cond += ` AND id IN (${marks(opts.ids.length)})`;
      params.push(...opts.ids);
    }
    return this.mutex.run(() =>
      this.tx(async (q) => {
        const r = await q(`UPDATE tasks SET state = CASE WHEN unmet > 0 THEN 'WAITING' ELSE 'PENDING' END, attempts = 0, not_before = 0 WHERE ${cond} RETURNING id`, params);
        return r.rows.length;
      }),
    );
  }

  async cancel(opts: { queue?: string; ids?: readonly number[]; running?: boolean }): Promise<number> {
    const states = opts.running ? ['WAITING', 'PENDING', 'RUNNING'] : ['WAITING', 'PENDING'];
    const params: unknown[] = [now(), ...states];
    let cond = `state IN (${marks(states.length)})`;
    if (opts.queue !== undefined) { cond += ' AND queue = ?'; params.push(opts.queue); }
    if (opts.ids) {
      if (!opts.ids.length) return 0;
      cond += ` AND id IN (${marks(opts.ids.length)})`;
      params.push(...opts.ids);
    }
    return this.mutex.run(() =>
      this.tx(async (q) => (await q(`UPDATE tasks SET state = 'CANCELLED', finished = ?, lease_expires = NULL WHERE ${cond} RETURNING id`, params)).rows.length),
    );
  }

  async setPaused(queue: string, paused: boolean): Promise<void> {
    await this.mutex.run(() =>
      this.tx(async (q) => {
        const r = await q('UPDATE queues SET paused = ? WHERE name = ? RETURNING name', [paused ? 1 : 0, queue]);
        if (!r.rows.length) throw new TesseraError(`no queue '${queue}'`);
      }),
    );
  }

  async queues(): Promise<QueueInfo[]> {
    const r = await this.mutex.run(() => this.run('SELECT name, paused FROM queues ORDER BY name'));
    return r.rows.map((x) => ({ name: String(x.name), paused: num(x.paused) !== 0 }));
  }

  async deleteQueue(queue: string): Promise<number> {
    return this.mutex.run(() =>
      this.tx(async (q) => {
        const exists = await q('SELECT name FROM queues WHERE name = ?', [queue]);
        if (!exists.rows.length) throw new TesseraError(`no queue '${queue}'`);
        await q('DELETE FROM deps WHERE task_id IN (SELECT id FROM tasks WHERE queue = ?) OR dep_id IN (SELECT id FROM tasks WHERE queue = ?)', [queue, queue]);
        const r = await q('DELETE FROM tasks WHERE queue = ?', [queue]);
        await q('DELETE FROM task_counts WHERE queue = ?', [queue]);
        await q('DELETE FROM queues WHERE name = ?', [queue]);
        return r.changes;
      }),
    );
  }

  async counts(queue?: string): Promise<CountRow[]> {
    const r = await this.mutex.run(() =>
      this.countRows(queue),
    );
    return r;
  }

  /** Sum of the counts table (a handful of rows; PostgreSQL compacts its delta rows here). */
  protected async countRows(queue?: string): Promise<CountRow[]> {
    const r = await this.run(
      `SELECT queue, kind, state, SUM(n) AS n FROM task_counts ${queue !== undefined ? 'WHERE queue = ?' : ''}
       GROUP BY queue, kind, state HAVING SUM(n) <> 0 ORDER BY queue, kind, state`,
      queue !== undefined ? [queue] : [],
    );
    return r.rows.map((x) => ({ queue: String(x.queue), kind: String(x.kind), state: String(x.state) as TaskState, n: num(x.n) }));
  }

  async tasks(f: TaskFilter): Promise<Task[]> {
    const params: unknown[] = [];
    const cond: string[] = [];
    if (f.queue !== undefined) { cond.push('queue = ?'); params.push(f.queue); }
    if (f.state !== undefined) { cond.push('state = ?'); params.push(f.state); }
    if (f.kind !== undefined) { cond.push('kind = ?'); params.push(f.kind); }
    if (f.afterId !== undefined) { cond.push('id > ?'); params.push(f.afterId); }
    let sql = `SELECT * FROM tasks ${cond.length ? `WHERE ${cond.join(' AND ')}` : ''} ORDER BY id`;
    if (f.limit !== undefined) { sql += ' LIMIT ?'; params.push(f.limit); }
    const r = await this.mutex.run(() => this.run(sql, params));
    return r.rows.map(rowToTask);
  }

  async getTask(ref: { id: number } | { queue: string; key: string }): Promise<Task | undefined> {
    const r = await this.mutex.run(() =>
      'id' in ref ? this.run('SELECT * FROM tasks WHERE id = ?', [ref.id]) : this.run('SELECT * FROM tasks WHERE queue = ? AND key = ?', [ref.queue, ref.key]),
    );
    return r.rows[0] ? rowToTask(r.rows[0]) : undefined;
  }

  async dependencies(ids: readonly number[]): Promise<{ taskId: number; depId: number }[]> {
    const out: { taskId: number; depId: number }[] = [];
    await this.mutex.run(async () => {
      for (const part of chunks(ids, 500)) {
        const r = await this.run(`SELECT task_id, dep_id FROM deps WHERE task_id IN (${marks(part.length)})`, part);
        for (const x of r.rows) out.push({ taskId: num(x.task_id), depId: num(x.dep_id) });
      }
    });
    return out;
  }

  async kindEdges(queue?: string): Promise<{ kind: string; dependsOn: string }[]> {
    const r = await this.mutex.run(() =>
      this.run(
        `SELECT DISTINCT t.kind AS kind, p.kind AS depends_on FROM deps d JOIN tasks t ON t.id = d.task_id JOIN tasks p ON p.id = d.dep_id
         ${queue !== undefined ? 'WHERE t.queue = ?' : ''}`,
        queue !== undefined ? [queue] : [],
      ),
    );
    return r.rows.map((x) => ({ kind: String(x.kind), dependsOn: String(x.depends_on) }));
  }

  async sql<T = Record<string, unknown>>(query: string, params: readonly unknown[] = []): Promise<T[]> {
    const r = await this.mutex.run(() => this.run(query, params));
    return r.rows as T[];
  }
}
