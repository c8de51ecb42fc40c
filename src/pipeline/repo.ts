import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TesseraError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { TESSERA_VERSION } from '../util/version.js';
import { openStore, parsePgUrl } from '../engine/store/index.js';
import type { RetryPolicy, TaskStore } from '../engine/types.js';
import { datasetPath, DATASETS, type DataId, type Dataset } from './layout.js';

export const REPO_CONFIG = 'tessera-repo.json';
export const REPO_FORMAT_VERSION = 1;

export interface RepoConfig {
  format: 'tessera-repository';
  version: number;
  /** `sqlite:registry.sqlite3` (relative to the root) or a PostgreSQL URL. */
  db: string;
  created: string;
  software: string;
  layout: Record<string, string>;
}

/**
 * A repository: a directory holding the registry database (or naming a PostgreSQL one), the
 * datasets laid out by `layout.ts`, and per-task logs.
 */
export class Repository {
  private constructor(readonly root: string, readonly config: RepoConfig) {}

  static init(root: string, opts: { db?: string } = {}): Repository {
    const dir = resolve(root);
    const cfgPath = join(dir, REPO_CONFIG);
    if (existsSync(cfgPath)) throw new TesseraError(`${dir}: already a Tessera repository (${REPO_CONFIG} exists)`);
    if (existsSync(dir) && !statSync(dir).isDirectory()) throw new TesseraError(`${dir}: exists and is not a directory`);
    let db = 'sqlite:registry.sqlite3';
    if (opts.db !== undefined) {
      if (!/^postgres(ql)?:\/\//i.test(opts.db)) throw new TesseraError(`--db: expected a postgres://user@host/db URL, got '${opts.db}'`);
      parsePgUrl(opts.db);
      db = opts.db;
    }
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const config: RepoConfig = {
      format: 'tessera-repository',
      version: REPO_FORMAT_VERSION,
      db,
      created: new Date().toISOString(),
      software: TESSERA_VERSION,
      layout: { ...DATASETS },
    };
    writeFileAtomic(cfgPath, JSON.stringify(config, null, 2) + '\n');
    return new Repository(dir, config);
  }

  static open(root: string): Repository {
    const dir = resolve(root);
    const cfgPath = join(dir, REPO_CONFIG);
    if (!existsSync(cfgPath)) throw new TesseraError(`${dir}: not a Tessera repository (no ${REPO_CONFIG}; create one with tessera init)`);
    let config: RepoConfig;
    try {
      config = JSON.parse(readFileSync(cfgPath, 'utf8')) as RepoConfig;
    } catch (e) {
      throw new TesseraError(`${cfgPath}: unreadable repository configuration: ${(e as Error).message}`);
    }
    if (config.format !== 'tessera-repository' || typeof config.db !== 'string') throw new TesseraError(`${cfgPath}: not a Tessera repository configuration`);
    if (config.version > REPO_FORMAT_VERSION) {
      throw new TesseraError(`${cfgPath}: repository format ${config.version} is newer than this Tessera supports (${REPO_FORMAT_VERSION}); upgrade Tessera`);
    }
    return new Repository(dir, config);
  }

  /** The database URL with SQLite paths made absolute. */
  get dbUrl(): string {
    const db = this.config.db;
    if (db.startsWith('sqlite:')) return `sqlite:${resolve(this.root, db.slice('sqlite:'.length))}`;
    return db;
  }

  get logsDir(): string {
    return join(this.root, 'logs');
  }

  openStore(opts: { retry?: Partial<RetryPolicy>; connectTimeoutMs?: number } = {}): Promise<TaskStore> {
    return openStore(this.dbUrl, { ...opts, create: true });
  }

  path(dataset: Dataset, dataId: DataId): string {
    return datasetPath(this.root, dataset, dataId);
  }
}
