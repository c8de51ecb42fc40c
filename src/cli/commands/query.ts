import { boolOpt, positional, type CommandSpec } from '../args.js';
import { UsageError } from '../../util/errors.js';
import { formatCsv, formatJson, formatText, queryCampaign } from '../../products/query.js';

export const commands: CommandSpec[] = [
  {
    name: 'query',
    summary: 'run SQL (DuckDB) over a campaign\'s diaSource, diaObject and forcedSource tables',
    usage: 'REPO "SQL"',
    options: [
      { name: 'csv', type: 'boolean', description: 'print CSV' },
      { name: 'json', type: 'boolean', description: 'print a JSON array of row objects' },
    ],
    details: `Views: diaSource, diaObject, forcedSource (and ccd, exposure QA tables when present),
read from REPO/tables/<name>.parquet. Example:
  tessera query repo "SELECT diaObjectId, nDiaSources, maxSnr FROM diaObject ORDER BY maxSnr DESC LIMIT 10"`,
    async run(args, io) {
      const repo = positional(args, 0, 'REPO', 'query');
      const sql = positional(args, 1, 'SQL', 'query');
      if (args.positionals.length > 2) throw new UsageError('query: give the SQL as one quoted argument');
      const csv = boolOpt(args, 'csv'), json = boolOpt(args, 'json');
      if (csv && json) throw new UsageError('query: --csv and --json are exclusive');
      const r = await queryCampaign(repo, sql);
      io.stdout.write(csv ? formatCsv(r) : json ? formatJson(r) : formatText(r));
      return 0;
    },
  },
];
