import pg from 'pg';
import { TesseraError } from '../../util/errors.js';
import type { AddResult, CountRow, FinishRequest, NewTask, RetryPolicy } from '../types.js';
import { SqlTaskStore, type InsertRow, type Q } from './base.js';
import { ENGINE_SCHEMA_VERSION, PG_SCHEMA } from './schema.js';

/** `?` placeholders (outside quoted literals) → `$1, $2, ...`. */
const converted = new Map<string, string>();
export function toPgPlaceholders(sql: string): string {
  let out = converted.get(sql);
  if (out !== undefined) return out;
  let n = 0;
  let inQuote = false;
  out = '';
  for (const ch of sql) {
    if (ch === "'") inQuote = !inQuote;
    out += ch === '?' && !inQuote ? `$${++n}` : ch;
  }
  if (converted.size > 1000) converted.clear();
  converted.set(sql, out);
  return out;
}

/** Parse `postgres://user:pass@host:port/db?schema=S`; `schema` is ours (search_path), the rest is pg's. */
export function parsePgUrl(url: string): { config: pg.ClientConfig; schema?: string; display: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TesseraError(`invalid database URL '${url}'`);
  }
  const schema = u.searchParams.get('schema') ?? undefined;
  if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(schema)) throw new TesseraError(`invalid schema name '${schema}' in database URL`);
  u.searchParams.delete('schema');
  const display = `${u.protocol}//${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.host}${u.pathname}${schema ? `?schema=${schema}` : ''}`;
  return { config: { connectionString: u.toString() }, schema, display };
}

/**
 * PostgreSQL backend: claims with `FOR UPDATE SKIP LOCKED`, bulk inserts through `unnest`
 * arrays, counts as delta rows appended by statement-level triggers. One connection per store.
 */
export class PgTaskStore extends SqlTaskStore {
  readonly backend = 'postgres' as const;
  protected readonly lockClause = 'FOR UPDATE SKIP LOCKED';
  protected readonly shareClause = 'FOR SHARE';
  private readonly client: pg.Client;
  private broken: Error | undefined;

  private constructor(client: pg.Client, retry?: Partial<RetryPolicy>) {
    super(retry);
    this.client = client;
    client.on('error', (e) => {
      this.broken = e;
    });
  }

  static async open(url: string, opts: { retry?: Partial<RetryPolicy>; connectTimeoutMs?: number } = {}): Promise<PgTaskStore> {
    const { config, schema, display } = parsePgUrl(url);
    const timeout = opts.connectTimeoutMs ?? Number(process.env.TESSERA_DB_CONNECT_TIMEOUT_MS ?? 5000);
    const client = new pg.Client({ ...config, connectionTimeoutMillis: timeout, application_name: 'tessera' });
    try {
      await client.connect();
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code ? `${err.code}${err.message && !err.message.includes(err.code) ? `: ${err.message}` : ''}` : err.message;
      await client.end().catch(() => undefined);
      throw new TesseraError(`cannot connect to PostgreSQL at ${display}: ${/timeout/i.test(why) ? `no answer within ${timeout / 1000} s` : why}`);
    }
    const store = new PgTaskStore(client, opts.retry);
    try {
      if (schema) {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        await client.query(`SET search_path TO ${schema}`);
      }
      await store.migrate(display);
    } catch (e) {
      await client.end().catch(() => undefined);
      if (e instanceof TesseraError) throw e;
      throw new TesseraError(`${display}: cannot prepare the task database: ${(e as Error).message}`);
    }
    return store;
  }

  private async migrate(display: string): Promise<void> {
    const c = this.client;
    await c.query('BEGIN');
    try {
      await c.query('SELECT pg_advisory_xact_lock(7263541)');
      const has = await c.query(`SELECT to_regclass('tessera_schema') AS t`);
      if (has.rows[0].t) {
        const v = await c.query(`SELECT version FROM tessera_schema WHERE component = 'engine'`);
        const version = v.rows[0] ? Number(v.rows[0].version) : 0;
        if (version > ENGINE_SCHEMA_VERSION) {
          throw new TesseraError(`${display}: task database has schema version ${version}, newer than this Tessera supports (${ENGINE_SCHEMA_VERSION}); upgrade Tessera to open it`);
        }
        if (version === ENGINE_SCHEMA_VERSION) {
          await c.query('COMMIT');
          return;
        }
      }
      await c.query(PG_SCHEMA);
      await c.query(
        `INSERT INTO tessera_schema (component, version) VALUES ('engine', $1) ON CONFLICT (component) DO UPDATE SET version = excluded.version`,
        [ENGINE_SCHEMA_VERSION],
      );
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  private check(): void {
    if (this.broken) throw new TesseraError(`lost the PostgreSQL connection: ${this.broken.message}`);
  }

  private async exec(sql: string, params: readonly unknown[] = []) {
    this.check();
    const r = await this.client.query(toPgPlaceholders(sql), params as unknown[]);
    return { rows: r.rows as Record<string, unknown>[], changes: r.rowCount ?? 0 };
  }

  protected async run(sql: string, params: readonly unknown[] = []) {
    return this.exec(sql, params);
  }

  protected async tx<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      this.check();
      await this.client.query('BEGIN');
      try {
        const out = await fn((sql, params) => this.exec(sql, params ?? []));
        await this.client.query('COMMIT');
        return out;
      } catch (e) {
        await this.client.query('ROLLBACK').catch(() => undefined);
        const code = (e as { code?: string }).code;
        // Deadlock or serialisation failure: the whole transaction is safe to run again.
        if ((code === '40P01' || code === '40001') && attempt < 8) {
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
          continue;
        }
        throw e;
      }
    }
  }

  protected async insertTaskRows(_q: Q, queue: string, rows: readonly InsertRow[], created: number): Promise<number[]> {
    const ids = new Array<number>(rows.length);
    const pos = new Map<string, number>();
    const CHUNK = 20000;
    for (let s = 0; s < rows.length; s += CHUNK) {
      const part = rows.slice(s, s + CHUNK);
      part.forEach((r, i) => pos.set(r.key, s + i));
      const r = await this.client.query(
        `INSERT INTO tasks (queue, key, kind, params, priority, state, unmet, max_attempts, expected_seconds, created)
         SELECT $1, k, kd, p, pr, st, u, ma, es, $2
         FROM unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::int[], $9::int[], $10::float8[]) AS x(k, kd, p, pr, st, u, ma, es)
         RETURNING id, key`,
        [
          queue,
          created,
          part.map((r) => r.key),
          part.map((r) => r.kind),
          part.map((r) => r.params),
          part.map((r) => r.priority),
          part.map((r) => r.state),
          part.map((r) => r.unmet),
          part.map((r) => r.maxAttempts),
          part.map((r) => r.expectedSeconds),
        ],
      );
      for (const row of r.rows as { id: number; key: string }[]) ids[pos.get(row.key)!] = Number(row.id);
      pos.clear();
    }
    return ids;
  }

  override async addTasks(queue: string, tasks: readonly NewTask[]): Promise<AddResult> {
    const r = await super.addTasks(queue, tasks);
    // Fresh statistics after a big load, so the planner uses the indexes at once (claims and
    // dependency releases would otherwise scan until autovacuum analyses the tables).
    if (tasks.length >= 1000) await this.mutex.run(() => this.exec('ANALYZE tasks; ANALYZE deps'));
    return r;
  }

  protected readonly idList = 'SELECT unnest(?::int[])';
  protected idListParam(ids: number[]): unknown {
    return ids;
  }

  protected async completeMany(_q: Q, reqs: readonly FinishRequest[], t: number): Promise<Set<number>> {
    this.check();
    const r = await this.client.query(
      `UPDATE tasks SET state = 'SUCCEEDED', finished = $1, seconds = u.s, exit_code = u.e, signal = NULL, error = NULL,
         peak_rss_mb = u.p, result = u.r, lease_expires = NULL
       FROM unnest($2::int[], $3::int[], $4::float8[], $5::int[], $6::float8[], $7::text[]) AS u(id, lease, s, e, p, r)
       WHERE tasks.id = u.id AND tasks.lease_id = u.lease AND tasks.state = 'RUNNING'
       RETURNING tasks.id`,
      [
        t,
        reqs.map((x) => x.id),
        reqs.map((x) => x.leaseId),
        reqs.map((x) => x.outcome.seconds ?? null),
        reqs.map((x) => x.outcome.exitCode ?? 0),
        reqs.map((x) => x.outcome.peakRssMb ?? null),
        reqs.map((x) => (x.outcome.result === undefined ? null : JSON.stringify(x.outcome.result))),
      ],
    );
    return new Set((r.rows as { id: number }[]).map((x) => Number(x.id)));
  }

  protected async insertDepRows(_q: Q, taskIds: readonly number[], depIds: readonly number[]): Promise<void> {
    const CHUNK = 50000;
    for (let s = 0; s < taskIds.length; s += CHUNK) {
      await this.client.query(
        'INSERT INTO deps (dep_id, task_id) SELECT * FROM unnest($1::int[], $2::int[]) ON CONFLICT DO NOTHING',
        [depIds.slice(s, s + CHUNK), taskIds.slice(s, s + CHUNK)],
      );
    }
  }

  protected async addCounts(_q: Q, rows: readonly CountRow[]): Promise<void> {
    for (const r of rows) await this.client.query('INSERT INTO task_counts (queue, kind, state, n) VALUES ($1, $2, $3, $4)', [r.queue, r.kind, r.state, r.n]);
  }

  protected override async countRows(queue?: string): Promise<CountRow[]> {
    const n = await this.exec('SELECT count(*) AS n FROM task_counts');
    if (Number(n.rows[0]!.n) > 2000) {
      // Fold the delta rows into one row per (queue, kind, state); concurrent appends are untouched.
      await this.exec(
        `WITH d AS (DELETE FROM task_counts RETURNING queue, kind, state, n)
         INSERT INTO task_counts (queue, kind, state, n) SELECT queue, kind, state, sum(n)::int FROM d GROUP BY queue, kind, state HAVING sum(n) <> 0`,
      );
    }
    return super.countRows(queue);
  }

  async close(): Promise<void> {
    await this.mutex.run(async () => {
      await this.client.end().catch(() => undefined);
    });
  }
}
