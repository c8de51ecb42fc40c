import { resolve } from 'node:path';
import type { RetryPolicy, TaskStore } from '../types.js';
import { PgTaskStore } from './postgres.js';
import { SqliteTaskStore } from './sqlite.js';

export interface OpenOptions {
  /** Create the SQLite file when it does not exist (PostgreSQL schemas are always created). */
  create?: boolean;
  retry?: Partial<RetryPolicy>;
  connectTimeoutMs?: number;
}

/**
 * Open a task store by URL: `postgres://user:pass@host:port/db[?schema=S]` (or `postgresql://`),
 * `sqlite:PATH`, or a plain file path (SQLite).
 */
export async function openStore(url: string, opts: OpenOptions = {}): Promise<TaskStore> {
  if (/^postgres(ql)?:\/\//i.test(url)) return PgTaskStore.open(url, opts);
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  return SqliteTaskStore.open(resolve(path), opts);
}
