import { cpus } from 'node:os';
import type { CommandSpec } from '../args.js';
import { boolOpt, intOpt, numberList, numberOpt, stringOpt } from '../args.js';
import { UsageError } from '../../util/errors.js';
import { Repository } from '../../pipeline/repo.js';
import { ingestFiles } from '../../pipeline/ingest.js';
import { DEFAULT_QUEUE, planCampaign } from '../../pipeline/transient/plan.js';
import { runCampaign } from '../../pipeline/transient/run.js';

export const commands: CommandSpec[] = [
  {
    name: 'plan',
    summary: 'ingest exposures and plan a transient campaign (calibrate → diff → associate → forced → products)',
    usage: 'REPO --refcat DIR [EXPOSURE.fits.fz ...] [--templates E1,E2 | --template-before MJD] [--run --workers N]',
    options: [
      { name: 'refcat', type: 'string', valueName: 'DIR', description: 'reference catalog (tessera refcat build) for the calibrate tasks (required)' },
      { name: 'templates', type: 'string', valueName: 'E1,E2', description: 'exposure numbers whose CCDs are templates' },
      { name: 'template-before', type: 'string', valueName: 'MJD', description: 'CCDs taken before this MJD are templates' },
      { name: 'min-separation', type: 'string', valueName: 'DAYS', description: 'minimum time between a search CCD and its templates', default: '0.5' },
      { name: 'margin', type: 'string', valueName: 'PIX', description: 'CCDs are grown by this many pixels when finding the patches they touch', default: '100' },
      { name: 'queue', type: 'string', valueName: 'Q', description: 'queue of the campaign', default: DEFAULT_QUEUE },
      { name: 'run', type: 'boolean', description: 'then run the campaign on the local engine' },
      { name: 'workers', short: 'j', type: 'string', valueName: 'N', description: 'with --run: worker processes (default: number of cores)' },
      { name: 'quiet', short: 'q', type: 'boolean', description: 'with --run: no progress display' },
    ],
    details: `Exposure files given are ingested first (as tessera ingest: headers only, idempotent,
duplicates rejected); CP weight/mask companions (_oow_/_ood_) are found beside each image by name.
Then the campaign is planned from every registered CCD:
  calibrate/expnum=E/ccd=C   per CCD
  diff/expnum=E/ccd=C        per search CCD, after its calibrate task and those of every template
                             candidate (same band, overlapping, >= --min-separation days apart);
                             the template is chosen by quality when the task runs
  associate/TRACT:X,Y        per rings-skymap patch, after every diff of a CCD touching it
  forced/diff/E/C            per search CCD, after the associate tasks of its patches
  products                   after every forced task: tables/*.parquet, candidates, report.html
Without --templates or --template-before, every earlier CCD is a template candidate and every CCD
that has one is searched. Re-planning adds only tasks whose keys are missing.
--run starts workers that know these task kinds (as tessera run, with the transient stages).`,
    async run(args, io) {
      const root = args.positionals[0];
      if (!root) throw new UsageError('plan: missing REPO (see --help)');
      const refcat = stringOpt(args, 'refcat');
      if (!refcat) throw new UsageError('plan: --refcat DIR is required');
      const repo = Repository.open(root);
      const templates = numberList(args, 'templates');
      const before = numberOpt(args, 'template-before');
      if (templates && before !== undefined) throw new UsageError('plan: give --templates or --template-before, not both');
      const queue = stringOpt(args, 'queue') ?? DEFAULT_QUEUE;
      const store = await repo.openStore();
      try {
        const files = args.positionals.slice(1);
        if (files.length) {
          let added = 0, known = 0;
          await ingestFiles(store, files, (o) => {
            if (o.status === 'ingested') added++;
            else if (o.status === 'skipped') known++;
            else io.stderr.write(`tessera plan: ${o.reason}\n`);
          });
          io.stdout.write(`ingested ${added} exposure(s) (${known} already known)\n`);
        }
        const p = await planCampaign(repo, store, {
          refcat, templates, templateBefore: before,
          minSeparationDays: numberOpt(args, 'min-separation') ?? 0.5, marginPix: intOpt(args, 'margin') ?? 100,
        }, queue);
        for (const u of p.unusable) io.stderr.write(`tessera plan: not planned: ${u}\n`);
        io.stdout.write(`${p.ccds} CCDs, ${p.searches} search CCDs, ${p.regions} patch(es): ${p.added} task(s) added, ${p.skipped} already planned (${Object.entries(p.byKind).map(([k, n]) => `${n} ${k}`).join(', ')})\n`);
        if (!boolOpt(args, 'run')) return 0;
        const workers = intOpt(args, 'workers') ?? cpus().length;
        if (workers < 1) throw new UsageError('--workers: expected at least 1');
        const r = await runCampaign(repo, store, { workers, queue, quiet: boolOpt(args, 'quiet'), stderr: io.stderr });
        if (r.failed) io.stderr.write(`tessera plan --run: ${r.failed} task(s) FAILED (tessera queue tasks ${repo.root} ${queue} --state FAILED)\n`);
        return r.failed || r.badWorkers ? 1 : 0;
      } finally {
        await store.close();
      }
    },
  },
];
