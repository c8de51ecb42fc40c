import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore } from '../../src/engine/store/index.js';
import type { RetryPolicy, TaskStore } from '../../src/engine/types.js';
import { tempDir } from '../helpers.js';

/** A store backend under test: a factory for fresh, isolated stores (and URLs to reopen them). */
export interface Backend {
  name: 'sqlite' | 'postgres';
  /** Why this backend is skipped here, if it is. */
  skip?: string;
  /** A new, empty database URL (SQLite: a file; PostgreSQL: a fresh schema). */
  freshUrl(): string;
  open(url: string, retry?: Partial<RetryPolicy>): Promise<TaskStore>;
  /** Drop what freshUrl created (PostgreSQL schemas). */
  cleanup(): Promise<void>;
}

const PG = process.env.TESSERA_TEST_PG;

function withSchema(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('schema', schema);
  return u.toString();
}

export function backends(): Backend[] {
  const dir = tempDir('tessera-store-');
  let n = 0;
  const sqlite: Backend = {
    name: 'sqlite',
    freshUrl: () => join(dir, `db${++n}.sqlite3`),
    open: (url, retry) => openStore(url, { create: true, retry }),
    cleanup: async () => undefined,
  };
  const schemas: string[] = [];
  const postgres: Backend = {
    name: 'postgres',
    skip: PG ? undefined : 'PostgreSQL not configured: set TESSERA_TEST_PG=postgres://user:pass@host/db (.ci/run does) to run the PostgreSQL backend tests',
    freshUrl: () => {
      const s = `t_${process.pid}_${randomBytes(4).toString('hex')}`;
      schemas.push(s);
      return withSchema(PG!, s);
    },
    open: (url, retry) => openStore(url, { retry }),
    cleanup: async () => {
      if (!PG || !schemas.length) return;
      const c = new pg.Client({ connectionString: PG });
      await c.connect();
      for (const s of schemas.splice(0)) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      await c.end();
    },
  };
  return [sqlite, postgres];
}
