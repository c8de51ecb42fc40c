import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { TesseraError } from '../../util/errors.js';
import type { CountRow, FinishRequest, RetryPolicy } from '../types.js';
import { SqlTaskStore, type InsertRow, type Q } from './base.js';
import { ENGINE_SCHEMA_VERSION, SQLITE_SCHEMA } from './schema.js';

type Stmt = Database.Statement<unknown[], Record<string, unknown>>;

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * SQLite backend: WAL journal, synchronous=NORMAL, a busy timeout, and every write in a
 * `BEGIN IMMEDIATE` transaction so claims by concurrent processes are serialised by SQLite's
 * write lock. The file must be on a local filesystem (WAL needs shared memory).
 */
export class SqliteTaskStore extends SqlTaskStore {
  readonly backend = 'sqlite' as const;
  protected readonly lockClause = '';
  protected readonly shareClause = '';
  private readonly db: Database.Database;
  private readonly stmts = new Map<string, Stmt>();
  private busyMs = 60000;

  /** Run fn, retrying while the database is locked by another process (up to busyMs). */
  private retryBusy<T>(fn: () => T): T {
    const deadline = Date.now() + this.busyMs;
    for (let n = 0; ; n++) {
      try {
        return fn();
      } catch (e) {
        if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw e;
        sleepSync(n < 20 ? 0.5 + Math.random() : 1 + Math.random() * 4);
      }
    }
  }

  private constructor(db: Database.Database, retry?: Partial<RetryPolicy>) {
    super(retry);
    this.db = db;
  }

  static open(path: string, opts: { create?: boolean; retry?: Partial<RetryPolicy>; busyTimeoutMs?: number } = {}): SqliteTaskStore {
    if (!opts.create && !existsSync(path)) throw new TesseraError(`${path}: no task database here`);
    if (opts.create) mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(path);
    } catch (e) {
      throw new TesseraError(`${path}: cannot open SQLite database: ${(e as Error).message}`);
    }
    try {
      // A short busy timeout; waits for the write lock are our own loop (beginImmediate), which
      // retries every ~1 ms instead of SQLite's default back-off of up to 100 ms per sleep.
      db.pragma('busy_timeout = 2');
      for (let i = 0; ; i++) {
        try {
          db.pragma('journal_mode = WAL');
          break;
        } catch (e) {
          if ((e as { code?: string }).code !== 'SQLITE_BUSY' || i > 2000) throw e;
          sleepSync(5);
        }
      }
      db.pragma('synchronous = NORMAL');
      db.pragma('cache_size = -65536');
      const store = new SqliteTaskStore(db, opts.retry);
      store.busyMs = opts.busyTimeoutMs ?? 60000;
      store.migrate();
      return store;
    } catch (e) {
      db.close();
      if (e instanceof TesseraError) throw e;
      throw new TesseraError(`${path}: not a Tessera task database: ${(e as Error).message}`);
    }
  }

  private migrate(): void {
    const has = this.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'tessera_schema'`).get();
    if (has) {
      const row = this.db.prepare(`SELECT version FROM tessera_schema WHERE component = 'engine'`).get() as { version: number } | undefined;
      if (row && row.version > ENGINE_SCHEMA_VERSION) {
        throw new TesseraError(
          `${this.db.name}: task database has schema version ${row.version}, newer than this Tessera supports (${ENGINE_SCHEMA_VERSION}); upgrade Tessera to open it`,
        );
      }
      if (row && row.version === ENGINE_SCHEMA_VERSION) return;
    }
    this.retryBusy(() => this.db.exec('BEGIN IMMEDIATE'));
    try {
      this.db.exec(SQLITE_SCHEMA);
      this.db.prepare(`INSERT INTO tessera_schema (component, version) VALUES ('engine', ?) ON CONFLICT (component) DO UPDATE SET version = excluded.version`).run(ENGINE_SCHEMA_VERSION);
      this.db.exec('COMMIT');
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
  }

  private stmt(sql: string): Stmt {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql) as Stmt;
      if (this.stmts.size > 500) this.stmts.clear();
      this.stmts.set(sql, s);
    }
    return s;
  }

  private exec(sql: string, params: readonly unknown[] = []): { rows: Record<string, unknown>[]; changes: number } {
    const s = this.stmt(sql);
    if (s.reader) {
      const rows = s.all(...params);
      return { rows, changes: rows.length };
    }
    const info = s.run(...params);
    return { rows: [], changes: info.changes };
  }

  protected async run(sql: string, params: readonly unknown[] = []) {
    return this.retryBusy(() => this.exec(sql, params));
  }

  protected async tx<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    this.retryBusy(() => this.db.exec('BEGIN IMMEDIATE'));
    try {
      const out = await fn(async (sql, params) => this.exec(sql, params));
      this.db.exec('COMMIT');
      return out;
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw e;
    }
  }

  protected async insertTaskRows(_q: Q, queue: string, rows: readonly InsertRow[], created: number): Promise<number[]> {
    // Multi-row INSERTs (fewer calls into SQLite); the write lock is held, so the rowids of one
    // statement are consecutive and end at lastInsertRowid.
    const cols = '(queue, key, kind, params, priority, state, unmet, max_attempts, expected_seconds, created)';
    const B = 100;
    const multi = this.stmt(`INSERT INTO tasks ${cols} VALUES ${new Array(B).fill('(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`);
    const one = this.stmt(`INSERT INTO tasks ${cols} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const ids = new Array<number>(rows.length);
    const p = new Array<unknown>(B * 10);
    let i = 0;
    for (; i + B <= rows.length; i += B) {
      for (let j = 0; j < B; j++) {
        const r = rows[i + j]!;
        const o = j * 10;
        p[o] = queue; p[o + 1] = r.key; p[o + 2] = r.kind; p[o + 3] = r.params; p[o + 4] = r.priority;
        p[o + 5] = r.state; p[o + 6] = r.unmet; p[o + 7] = r.maxAttempts; p[o + 8] = r.expectedSeconds; p[o + 9] = created;
      }
      const last = Number(multi.run(...p).lastInsertRowid);
      for (let j = 0; j < B; j++) ids[i + j] = last - B + 1 + j;
    }
    for (; i < rows.length; i++) {
      const r = rows[i]!;
      ids[i] = Number(one.run(queue, r.key, r.kind, r.params, r.priority, r.state, r.unmet, r.maxAttempts, r.expectedSeconds, created).lastInsertRowid);
    }
    return ids;
  }

  protected readonly idList = 'SELECT value FROM json_each(?)';
  protected idListParam(ids: number[]): unknown {
    return JSON.stringify(ids);
  }

  protected async completeMany(_q: Q, reqs: readonly FinishRequest[], t: number): Promise<Set<number>> {
    const up = this.stmt(
      `UPDATE tasks SET state = 'SUCCEEDED', finished = ?, seconds = ?, exit_code = ?, signal = NULL, error = NULL,
         peak_rss_mb = ?, result = ?, lease_expires = NULL
       WHERE id = ? AND lease_id = ? AND state = 'RUNNING'`,
    );
    const done = new Set<number>();
    for (const { id, leaseId, outcome: o } of reqs) {
      const info = up.run(t, o.seconds ?? null, o.exitCode ?? 0, o.peakRssMb ?? null, o.result === undefined ? null : JSON.stringify(o.result), id, leaseId);
      if (info.changes === 1) done.add(id);
    }
    return done;
  }

  protected async insertDepRows(_q: Q, taskIds: readonly number[], depIds: readonly number[]): Promise<void> {
    const B = 250;
    const multi = this.stmt(`INSERT OR IGNORE INTO deps (dep_id, task_id) VALUES ${new Array(B).fill('(?, ?)').join(', ')}`);
    const one = this.stmt('INSERT OR IGNORE INTO deps (dep_id, task_id) VALUES (?, ?)');
    const p = new Array<number>(B * 2);
    let i = 0;
    for (; i + B <= taskIds.length; i += B) {
      for (let j = 0; j < B; j++) {
        p[2 * j] = depIds[i + j]!;
        p[2 * j + 1] = taskIds[i + j]!;
      }
      multi.run(...p);
    }
    for (; i < taskIds.length; i++) one.run(depIds[i], taskIds[i]);
  }

  protected async addCounts(_q: Q, rows: readonly CountRow[]): Promise<void> {
    const up = this.stmt(
      `INSERT INTO task_counts (queue, kind, state, n) VALUES (?, ?, ?, ?)
       ON CONFLICT (queue, kind, state) DO UPDATE SET n = n + excluded.n`,
    );
    for (const r of rows) up.run(r.queue, r.kind, r.state, r.n);
  }

  async close(): Promise<void> {
    await this.mutex.run(async () => {
      if (this.db.open) this.db.close();
    });
  }
}
