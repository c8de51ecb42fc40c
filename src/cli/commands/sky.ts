import type { CommandSpec, ParsedArgs } from '../args.js';
import { boolOpt, intOpt, positionalNumber } from '../args.js';
import { UsageError } from '../../util/errors.js';
import { brickForPosition, bricksInRegion, wcsForBrick, type Brick } from '../../sky/bricks.js';
import { dc2SkyMap } from '../../sky/skymap.js';
import { Healpix } from '../../sky/healpix.js';

function raDec(args: ParsedArgs, cmd: string): [number, number] {
  const ra = positionalNumber(args, 0, 'RA (degrees)', cmd);
  const dec = positionalNumber(args, 1, 'DEC (degrees)', cmd);
  if (dec < -90 || dec > 90) throw new UsageError(`DEC must be within [-90, 90], got ${dec}`);
  return [ra, dec];
}

const f6 = (x: number) => x.toFixed(6);

function brickLines(b: Brick): string {
  return [
    `brickname  ${b.brickname}`,
    `brickid    ${b.brickid}`,
    `brickq     ${b.brickq}`,
    `brickrow   ${b.brickrow}`,
    `brickcol   ${b.brickcol}`,
    `ra         ${f6(b.ra)}`,
    `dec        ${f6(b.dec)}`,
    `ra1        ${f6(b.ra1)}`,
    `ra2        ${f6(b.ra2)}`,
    `dec1       ${f6(b.dec1)}`,
    `dec2       ${f6(b.dec2)}`,
  ].join('\n') + '\n';
}

export const commands: CommandSpec[] = [
  {
    name: 'sky brick',
    summary: 'the Legacy Surveys brick containing a position',
    usage: 'RA DEC',
    options: [
      { name: 'json', type: 'boolean', description: 'print JSON (with the brick\'s 3600×3600 0.262″/px TAN grid)' },
    ],
    details: 'Prints BRICKNAME, BRICKID, BRICKQ, BRICKROW, BRICKCOL, the centre RA/DEC and the bounds RA1, RA2, DEC1, DEC2 (degrees), as in survey-bricks.fits.',
    run(args, io) {
      const [ra, dec] = raDec(args, 'sky brick');
      const b = brickForPosition(ra, dec);
      if (boolOpt(args, 'json')) io.stdout.write(JSON.stringify({ ...b, wcs: wcsForBrick(b) }) + '\n');
      else io.stdout.write(brickLines(b));
    },
  },
  {
    name: 'sky bricks',
    summary: 'list the bricks touching an RA/Dec box',
    usage: '--region RA1 RA2 DEC1 DEC2',
    options: [
      { name: 'region', type: 'boolean', description: 'the four positionals are RA1 RA2 DEC1 DEC2 (degrees; RA1 > RA2 wraps through 0)' },
      { name: 'count', type: 'boolean', description: 'print only the number of bricks' },
    ],
    details: 'Prints a CSV table (brickname,brickid,brickrow,brickcol,ra,dec,ra1,ra2,dec1,dec2) ordered by BRICKID.',
    run(args, io) {
      if (!boolOpt(args, 'region')) throw new UsageError('give --region RA1 RA2 DEC1 DEC2');
      if (args.positionals.length !== 4) throw new UsageError(`--region needs 4 numbers (RA1 RA2 DEC1 DEC2), got ${args.positionals.length}`);
      const [ra1, ra2, dec1, dec2] = [0, 1, 2, 3].map((i) => positionalNumber(args, i, ['RA1', 'RA2', 'DEC1', 'DEC2'][i]!, 'sky bricks')) as [number, number, number, number];
      if (dec1 > dec2) throw new UsageError(`DEC1 (${dec1}) must not exceed DEC2 (${dec2})`);
      const list = bricksInRegion(ra1, ra2, dec1, dec2);
      if (boolOpt(args, 'count')) { io.stdout.write(`${list.length}\n`); return; }
      const lines = ['brickname,brickid,brickrow,brickcol,ra,dec,ra1,ra2,dec1,dec2'];
      for (const b of list) lines.push([b.brickname, b.brickid, b.brickrow, b.brickcol, f6(b.ra), f6(b.dec), f6(b.ra1), f6(b.ra2), f6(b.dec1), f6(b.dec2)].join(','));
      io.stdout.write(lines.join('\n') + '\n');
    },
  },
  {
    name: 'sky tract',
    summary: 'the LSST DC2 rings-skymap tract and patch containing a position',
    usage: 'RA DEC',
    options: [{ name: 'json', type: 'boolean', description: 'print JSON (with the tract and patch WCS)' }],
    details: 'DC2 configuration: 120 rings, TAN, 1/60° tract overlap, 0.2″ pixels, 4000×4000 patches with a 100 px border. Pixel positions are in the tract frame, FITS convention (first pixel centre 1,1).',
    run(args, io) {
      const [ra, dec] = raDec(args, 'sky tract');
      const t = dc2SkyMap().findTract(ra, dec);
      const p = t.findPatch(ra, dec);
      const px = t.skyToPixel(ra, dec)!;
      if (boolOpt(args, 'json')) {
        io.stdout.write(JSON.stringify({ tract: t.id, patch: [p.x, p.y], patchIndex: p.sequentialIndex, tractRa: t.ra, tractDec: t.dec, x: px[0] + 1, y: px[1] + 1, tractWcs: t.wcsParams(), patchWcs: p.wcsParams(), inner: p.inner, outer: p.outer }) + '\n');
        return;
      }
      io.stdout.write([
        `tract      ${t.id}`,
        `patch      ${p.x},${p.y}`,
        `patchindex ${p.sequentialIndex}`,
        `tract_ra   ${f6(t.ra)}`,
        `tract_dec  ${f6(t.dec)}`,
        `x          ${(px[0] + 1).toFixed(2)}`,
        `y          ${(px[1] + 1).toFixed(2)}`,
        `npatch     ${t.numPatches[0]}x${t.numPatches[1]}`,
      ].join('\n') + '\n');
    },
  },
  {
    name: 'sky healpix',
    summary: 'the HEALPix pixel containing a position',
    usage: 'RA DEC --nside N [--nest]',
    options: [
      { name: 'nside', type: 'string', description: 'HEALPix nside', default: '32', valueName: 'N' },
      { name: 'nest', type: 'boolean', description: 'NESTED numbering (default RING)' },
    ],
    run(args, io) {
      const [ra, dec] = raDec(args, 'sky healpix');
      const nside = intOpt(args, 'nside')!;
      if (!(nside >= 1 && nside <= 2 ** 29)) throw new UsageError(`--nside must be 1..2^29, got ${nside}`);
      const nest = boolOpt(args, 'nest');
      if (nest && (nside & (nside - 1)) !== 0) throw new UsageError(`--nest needs nside a power of 2, got ${nside}`);
      const h = new Healpix(nside);
      const theta = Math.PI / 2 - dec * (Math.PI / 180), phi = ra * (Math.PI / 180);
      const pix = h.ang2pixBig(theta, ((phi % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI), nest);
      io.stdout.write(`${pix}\n`);
    },
  },
];
