import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandSpec } from '../args.js';
import { positional, stringOpt } from '../args.js';
import { Repository, REPO_CONFIG } from '../../pipeline/repo.js';
import { DATASETS } from '../../pipeline/layout.js';

export const commands: CommandSpec[] = [
  {
    name: 'init',
    summary: 'create a repository (registry database, dataset layout, logs)',
    usage: 'REPO [--db postgres://user@host/db]',
    options: [{ name: 'db', type: 'string', valueName: 'URL', description: 'use this PostgreSQL database (add ?schema=S for a schema of its own) instead of a SQLite file' }],
    details: `A repository is a directory with tessera-repo.json, the registry database
(registry.sqlite3 by default, or the PostgreSQL database named by --db), per-task logs under
logs/, and datasets at fixed paths:
${Object.entries(DATASETS).map(([k, v]) => `  ${k.padEnd(10)} ${v}`).join('\n')}`,
    async run(args, io) {
      const root = positional(args, 0, 'REPO', 'init');
      const dir = resolve(root);
      const existed = existsSync(dir);
      const hadLogs = existsSync(join(dir, 'logs'));
      const repo = Repository.init(root, { db: stringOpt(args, 'db') });
      // Create the schema now so that a bad database URL fails here, not at the first load; on
      // failure undo what init made, so that init can be run again with a corrected URL.
      const store = await repo.openStore().catch((e) => {
        rmSync(join(dir, REPO_CONFIG), { force: true });
        const rmEmpty = (d: string) => {
          try {
            if (readdirSync(d).length === 0) rmdirSync(d);
          } catch { /* gone or not empty */ }
        };
        if (!hadLogs) rmEmpty(join(dir, 'logs'));
        if (!existed) rmEmpty(dir);
        throw e;
      });
      await store.close();
      io.stdout.write(`created repository ${repo.root} (database: ${repo.config.db.startsWith('sqlite:') ? repo.config.db : store.backend})\n`);
    },
  },
];
