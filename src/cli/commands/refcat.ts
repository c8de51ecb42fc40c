import type { CommandSpec } from '../args.js';
import { boolOpt, listOpt, numberOpt, intOpt, positional, positionalNumber, stringOpt } from '../args.js';
import { UsageError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { buildRefcat, Refcat, refcatCsv, writeRefcatFits } from '../../calib/refcat/index.js';

export const commands: CommandSpec[] = [
  {
    name: 'refcat build',
    summary: 'build a HEALPix-partitioned reference catalog from Gaia-like tables',
    usage: 'INPUT... -o DIR [--nside 32] [--coverage data|all]',
    options: [
      { name: 'output', short: 'o', type: 'string', description: 'output directory (must not already hold a catalog)', valueName: 'DIR' },
      { name: 'nside', type: 'string', description: 'HEALPix nside of the partition (NESTED)', default: '32', valueName: 'N' },
      { name: 'coverage', type: 'string', description: "'data': pixels with rows are covered; 'all': the input is all-sky", default: 'data', valueName: 'MODE' },
      { name: 'cover-cone', type: 'string', multiple: true, description: 'also mark RA,DEC,RADIUS_DEG as covered (repeatable)', valueName: 'RA,DEC,R' },
      { name: 'ref-epoch', type: 'string', description: 'ref_epoch for rows without one', default: '2016.0', valueName: 'YEAR' },
    ],
    details: `Inputs are FITS binary tables, CSV (header line) or Parquet files with Gaia column names:
source_id, ra, dec, ra_error, dec_error, pmra, pmdec, pmra_error, pmdec_error, parallax,
parallax_error, ref_epoch, phot_{g,bp,rp}_mean_mag, phot_{g,bp,rp}_mean_flux_over_error.
Only ra and dec are required; absent columns are stored as NaN. Writes DIR/manifest.json and
one FITS table per pixel, DIR/nest<N>/pix-<P>.fits.`,
    async run(args, io) {
      const out = stringOpt(args, 'output');
      if (!out) throw new UsageError('give the output directory with -o DIR');
      if (args.positionals.length === 0) throw new UsageError('give at least one INPUT file');
      const coverage = stringOpt(args, 'coverage') ?? 'data';
      if (coverage !== 'data' && coverage !== 'all') throw new UsageError(`--coverage must be 'data' or 'all', got '${coverage}'`);
      const cones = (args.options['cover-cone'] as string[] | undefined ?? []).map((s) => {
        const v = s.split(',').map(Number);
        if (v.length !== 3 || !v.every(Number.isFinite)) throw new UsageError(`--cover-cone expects RA,DEC,RADIUS_DEG, got '${s}'`);
        return v as [number, number, number];
      });
      const m = await buildRefcat(args.positionals, out, {
        nside: intOpt(args, 'nside'),
        coverage,
        coverCones: cones,
        defaultRefEpoch: numberOpt(args, 'ref-epoch'),
      });
      io.stderr.write(`refcat: ${m.nrows} rows in ${Object.keys(m.pixels).length} pixels (nside ${m.nside}, nested) → ${out}\n`);
    },
  },
  {
    name: 'refcat query',
    summary: 'rows of a reference catalog in a cone (CSV to stdout, or FITS/CSV file)',
    usage: 'DIR --cone RA DEC RADIUS_DEG [--epoch 2024.5] [-o out.fits|out.csv]',
    options: [
      { name: 'cone', type: 'boolean', description: 'the positionals after DIR are RA DEC RADIUS_DEG' },
      { name: 'polygon', type: 'string', description: 'instead of a cone: RA1,DEC1,RA2,DEC2,... (a CCD footprint)', valueName: 'LIST' },
      { name: 'epoch', type: 'string', description: 'propagate positions to this Julian epoch', valueName: 'YEAR' },
      { name: 'output', short: 'o', type: 'string', description: 'write to a .fits or .csv file instead of stdout', valueName: 'FILE' },
      { name: 'count', type: 'boolean', description: 'print only the number of rows' },
    ],
    details: 'A query that reaches sky with no partition fails (exit 1) naming the missing HEALPix pixels; covered sky without stars gives an empty table.',
    run(args, io) {
      const dir = positional(args, 0, 'DIR', 'refcat query');
      const rc = Refcat.open(dir);
      const epoch = numberOpt(args, 'epoch');
      const poly = listOpt(args, 'polygon');
      let t;
      if (poly) {
        const v = poly.map(Number);
        if (v.length < 6 || v.length % 2 !== 0 || !v.every(Number.isFinite)) throw new UsageError('--polygon expects RA1,DEC1,RA2,DEC2,... (at least 3 vertices)');
        t = rc.queryPolygon(v.filter((_, i) => i % 2 === 0), v.filter((_, i) => i % 2 === 1), { epoch });
      } else {
        if (!boolOpt(args, 'cone')) throw new UsageError('give --cone RA DEC RADIUS_DEG (or --polygon)');
        const ra = positionalNumber(args, 1, 'RA', 'refcat query');
        const dec = positionalNumber(args, 2, 'DEC', 'refcat query');
        const r = positionalNumber(args, 3, 'RADIUS_DEG', 'refcat query');
        if (dec < -90 || dec > 90) throw new UsageError(`DEC must be within [-90, 90], got ${dec}`);
        if (!(r > 0 && r <= 180)) throw new UsageError(`RADIUS_DEG must be in (0, 180], got ${r}`);
        t = rc.queryCone(ra, dec, r, { epoch });
      }
      if (boolOpt(args, 'count')) { io.stdout.write(`${t.nrows}\n`); return; }
      const out = stringOpt(args, 'output');
      if (!out) { io.stdout.write(refcatCsv(t)); return; }
      if (/\.fits?$/i.test(out)) writeRefcatFits(out, t);
      else if (/\.csv$/i.test(out)) writeFileAtomic(out, refcatCsv(t));
      else throw new UsageError(`-o: expected a .fits or .csv file name, got '${out}'`);
      io.stderr.write(`refcat: ${t.nrows} rows → ${out}\n`);
    },
  },
  {
    name: 'refcat info',
    summary: 'summarise a reference catalog directory',
    usage: 'DIR',
    options: [{ name: 'json', type: 'boolean', description: 'print the manifest as JSON' }],
    run(args, io) {
      const rc = Refcat.open(positional(args, 0, 'DIR', 'refcat info'));
      const m = rc.manifest;
      if (boolOpt(args, 'json')) { io.stdout.write(JSON.stringify(m, null, 1) + '\n'); return; }
      const npix = Object.keys(m.pixels).length;
      io.stdout.write([
        `nside      ${m.nside} (NESTED)`,
        `rows       ${m.nrows}`,
        `pixels     ${npix} with rows`,
        `covered    ${m.covered === 'all' ? 'all sky' : `${m.covered.length} pixels`}`,
        `ref_epoch  ${m.defaultRefEpoch} (default for rows without one)`,
        `columns    ${m.columns.map((c) => c.name).join(', ')}`,
        `inputs     ${m.inputs.join(', ')}`,
        `created    ${m.created}`,
      ].join('\n') + '\n');
    },
  },
];
