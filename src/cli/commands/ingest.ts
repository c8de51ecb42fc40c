import type { CommandSpec } from '../args.js';
import { boolOpt, positional } from '../args.js';
import { UsageError } from '../../util/errors.js';
import { Repository } from '../../pipeline/repo.js';
import { ingestFiles } from '../../pipeline/ingest.js';

export const commands: CommandSpec[] = [
  {
    name: 'ingest',
    summary: 'register exposures and their CCDs (headers only) in a repository',
    usage: 'REPO FILES... [--json]',
    options: [{ name: 'json', type: 'boolean', description: 'one JSON object per file' }],
    details: `Reads headers only: exposure number (EXPNUM, else the file name), band (first word of
FILTER), MJD (MJD-OBS or DATE-OBS), EXPTIME, and per image HDU the CCD number (CCDNUM, else the
HDU index), size and sky footprint from its WCS. Ingesting a file again is a no-op; a different
file with an exposure number already registered is rejected as a duplicate; unreadable files are
rejected with the reason. The others are registered. Exit status 1 when any file was rejected.`,
    async run(args, io) {
      const repo = Repository.open(positional(args, 0, 'REPO', 'ingest'));
      const files = args.positionals.slice(1);
      if (!files.length) throw new UsageError('ingest: give at least one FITS file');
      const json = boolOpt(args, 'json');
      const store = await repo.openStore();
      let rejected = 0;
      let ingested = 0;
      let skipped = 0;
      try {
        await ingestFiles(store, files, (o) => {
          if (json) {
            io.stdout.write(JSON.stringify(o) + '\n');
          }
          if (o.status === 'ingested') {
            ingested++;
            const e = o.exposure;
            if (!json) io.stdout.write(`ingested ${e.expnum}: band ${e.band ?? '?'}, MJD ${e.mjd?.toFixed(5) ?? '?'}, ${e.exptime ?? '?'} s, ${e.ccds.length} CCD(s) (${o.file})\n`);
            for (const w of e.warnings) io.stderr.write(`tessera ingest: warning: ${w}\n`);
          } else if (o.status === 'skipped') {
            skipped++;
            if (!json) io.stdout.write(`skipped ${o.expnum}: ${o.reason} (${o.file})\n`);
          } else {
            rejected++;
            io.stderr.write(`tessera ingest: rejected: ${o.reason}\n`);
          }
        });
      } finally {
        await store.close();
      }
      if (!json) io.stdout.write(`${ingested} ingested, ${skipped} already present, ${rejected} rejected\n`);
      return rejected ? 1 : 0;
    },
  },
];
