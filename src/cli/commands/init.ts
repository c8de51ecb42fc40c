import type { CommandSpec } from '../args.js';
import { positional, stringOpt } from '../args.js';
import { Repository } from '../../pipeline/repo.js';
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
      const repo = Repository.init(root, { db: stringOpt(args, 'db') });
      // Create the schema now so that a bad database URL fails here, not at the first load.
      const store = await repo.openStore().catch((e) => {
        throw e;
      });
      await store.close();
      io.stdout.write(`created repository ${repo.root} (database: ${repo.config.db.startsWith('sqlite:') ? repo.config.db : store.backend})\n`);
    },
  },
];
