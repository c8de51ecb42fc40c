import { writeFileAtomic } from '../../util/atomic.js';
import { intOpt, numberOpt, positional, stringOpt, type CommandSpec } from '../args.js';
import { reportForRepo } from '../../products/report.js';
import { productLayout } from '../../products/layout.js';

export const commands: CommandSpec[] = [
  {
    name: 'report',
    summary: 'ranked transient candidates of a campaign as a self-contained HTML report (+ CSV/JSON)',
    usage: 'REPO [-o report.html]',
    options: [
      { name: 'output', short: 'o', type: 'string', valueName: 'HTML', description: 'report file (default REPO/report.html)' },
      { name: 'csv', type: 'string', valueName: 'CSV', description: 'candidate list as CSV (default REPO/tables/candidates.csv)' },
      { name: 'json', type: 'string', valueName: 'JSON', description: 'candidate list as JSON (default REPO/tables/candidates.json)' },
      { name: 'min-detections', type: 'string', valueName: 'N', description: 'minimum number of detections (default 2)' },
      { name: 'min-rb', type: 'string', valueName: 'SCORE', description: 'minimum mean real/bogus score (default 0.5; objects without a score are kept)' },
      { name: 'min-snr', type: 'string', valueName: 'SNR', description: 'minimum combined detection S/N (default 6)' },
      { name: 'max-shown', type: 'string', valueName: 'N', description: 'candidates shown with stamps and light curves (default 50)' },
      { name: 'title', type: 'string', description: 'report title' },
    ],
    details: 'Reads REPO/tables/{diaObject,diaSource,forcedSource}.parquet and the stamps files beside the diaSrc tables.',
    async run(args, io) {
      const repo = positional(args, 0, 'REPO', 'report');
      const L = productLayout(repo);
      const r = await reportForRepo(repo, {
        minDetections: intOpt(args, 'min-detections'), minRbScore: numberOpt(args, 'min-rb'), minSnr: numberOpt(args, 'min-snr'),
        maxCandidates: intOpt(args, 'max-shown'), title: stringOpt(args, 'title'),
      });
      const out = stringOpt(args, 'output') ?? `${repo}/report.html`;
      writeFileAtomic(out, r.html);
      const csv = stringOpt(args, 'csv') ?? L.candidates('csv'), json = stringOpt(args, 'json') ?? L.candidates('json');
      writeFileAtomic(csv, r.csv);
      writeFileAtomic(json, r.json);
      io.stdout.write(`${r.candidates.length} candidates -> ${out}, ${csv}, ${json}\n`);
      return 0;
    },
  },
];
