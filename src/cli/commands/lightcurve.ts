import { writeFileAtomic } from '../../util/atomic.js';
import { UsageError } from '../../util/errors.js';
import { boolOpt, positional, stringOpt, type CommandSpec } from '../args.js';
import { loadLightCurve } from '../../products/report.js';
import { lightCurveCsv, lightCurvePng } from '../../products/lightcurve.js';

export const commands: CommandSpec[] = [
  {
    name: 'lightcurve',
    summary: 'forced-photometry light curve of one diaObject (table, CSV or PNG plot)',
    usage: 'REPO OBJECT_ID [--png out.png] [--csv]',
    options: [
      { name: 'png', type: 'string', valueName: 'PNG', description: 'write a PNG plot (flux in nanomaggies against MJD)' },
      { name: 'csv', type: 'boolean', description: 'print CSV instead of an aligned table' },
    ],
    details: 'Points are forced PSF fluxes on the difference images covering the object; "det" marks epochs with a diaSource.',
    async run(args, io) {
      const repo = positional(args, 0, 'REPO', 'lightcurve');
      const idText = positional(args, 1, 'OBJECT_ID', 'lightcurve');
      if (!/^\d+$/.test(idText) || !Number.isSafeInteger(Number(idText))) throw new UsageError(`lightcurve: OBJECT_ID must be a diaObjectId (an integer), got '${idText}'`);
      const lc = await loadLightCurve(repo, Number(idText));
      const png = stringOpt(args, 'png');
      if (png) writeFileAtomic(png, lightCurvePng(lc));
      if (boolOpt(args, 'csv')) io.stdout.write(lightCurveCsv(lc));
      else {
        io.stdout.write(`diaObject ${lc.diaObjectId}  RA ${lc.ra.toFixed(6)}  Dec ${lc.dec.toFixed(6)}  ${lc.points.length} forced measurements\n`);
        io.stdout.write('         MJD  band       flux(nmgy)          err  flags  expnum  ccd  det\n');
        for (const p of lc.points) {
          io.stdout.write(`${p.mjd.toFixed(5).padStart(12)}  ${p.band.padEnd(4)}  ${p.flux.toPrecision(6).padStart(15)}  ${p.fluxErr.toPrecision(4).padStart(11)}  ${String(p.flags).padStart(5)}  ${String(p.expnum).padStart(6)}  ${String(p.ccd).padStart(3)}  ${p.detected ? 'yes' : ''}\n`);
        }
      }
      if (png) io.stderr.write(`wrote ${png}\n`);
      return 0;
    },
  },
];
