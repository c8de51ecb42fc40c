import { it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir } from '../helpers.js';
import { Header } from '../../src/fits/header.js';
import { writeFits, type HduInput } from '../../src/fits/writer.js';
import { Wcs } from '../../src/wcs/wcs.js';
import { Repository } from '../../src/pipeline/repo.js';
import { readExposure } from '../../src/pipeline/ingest.js';

const W = 64;
const H = 128;
const SCALE = 0.263 / 3600;

/** A small DECam-like exposure: primary header with exposure keywords, CCD HDUs with TAN WCS. */
function makeExposure(path: string, expnum: number, ccdDecs: number[], opts: { compress?: boolean } = {}) {
  const primary = new Header();
  primary.set('EXPNUM', expnum);
  primary.set('FILTER', 'r DECam SDSS c0002 6430.0 1500.0');
  primary.set('MJD-OBS', 57000.25);
  primary.set('EXPTIME', 90);
  primary.set('OBJECT', 'field-1');
  primary.set('INSTRUME', 'DECam');
  const hdus: HduInput[] = [{ kind: 'image', header: primary, data: null, shape: [] }];
  ccdDecs.forEach((dec, i) => {
    const h = new Header();
    h.set('CCDNUM', i + 1);
    h.set('CTYPE1', 'RA---TAN');
    h.set('CTYPE2', 'DEC--TAN');
    h.set('CRVAL1', 150);
    h.set('CRVAL2', dec);
    h.set('CRPIX1', (W + 1) / 2);
    h.set('CRPIX2', (H + 1) / 2);
    h.set('CD1_1', -SCALE);
    h.set('CD1_2', 0);
    h.set('CD2_1', 0);
    h.set('CD2_2', SCALE);
    const data = new Float32Array(W * H).fill(100);
    hdus.push({ kind: 'image', header: h, data, shape: [W, H], extname: `S${i + 1}`, compress: opts.compress ? { type: 'RICE_1' } : undefined });
  });
  writeFits(path, hdus);
}

it('ingest registers exposures and CCD footprints from headers; idempotent; rejects duplicates and unreadable files', async () => {
  const dir = tempDir('tessera-ingest-');
  const root = join(dir, 'repo');
  assert.equal((await cli(['init', root])).code, 0);
  const a = join(dir, 'c4d_a.fits');
  const b = join(dir, 'c4d_b.fits.fz');
  makeExposure(a, 668439, [2.0, 2.1]);
  makeExposure(b, 668440, [2.0, 2.1, 2.2], { compress: true });
  const dup = join(dir, 'copy-of-a.fits');
  copyFileSync(a, dup);
  const junk = join(dir, 'junk.fits');
  writeFileSync(junk, 'not a FITS file at all');

  const r = await cli(['ingest', root, a, b, dup, junk, join(dir, 'missing.fits')]);
  assert.equal(r.code, 1, 'some files were rejected');
  assert.match(r.stdout, /ingested 668439: band r, MJD 57000\.25000, 90 s, 2 CCD\(s\)/);
  assert.match(r.stdout, /ingested 668440: band r, .* 3 CCD\(s\)/);
  assert.match(r.stderr, /rejected: .*copy-of-a\.fits: duplicate exposure 668439, already ingested from .*c4d_a\.fits/);
  assert.match(r.stderr, /rejected: .*junk\.fits: not a FITS file/);
  assert.match(r.stderr, /rejected: .*missing\.fits: .*no such file/);
  assert.match(r.stdout, /2 ingested, 0 already present, 3 rejected/);

  const again = await cli(['ingest', root, a, b]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /0 ingested, 2 already present, 0 rejected/);

  const repo = Repository.open(root);
  const store = await repo.openStore();
  const exps = await store.sql<{ expnum: string; band: string; mjd: number; exptime: number; nccd: number; dec: number; instrument: string }>('SELECT * FROM exposures ORDER BY expnum');
  assert.deepEqual(exps.map((e) => [e.expnum, e.band, e.mjd, e.exptime, Number(e.nccd), e.instrument]), [
    ['668439', 'r', 57000.25, 90, 2, 'DECam'],
    ['668440', 'r', 57000.25, 90, 3, 'DECam'],
  ]);
  assert.ok(Math.abs(exps[1]!.dec - 2.1) < 1e-3, 'pointing = mean of the CCD centres');
  const ccds = await store.sql<{ expnum: string; ccd: number; extname: string; width: number; height: number; ra: number; dec: number; corners: string; dec_min: number; dec_max: number }>(
    `SELECT * FROM ccds WHERE expnum = '668440' ORDER BY ccd`,
  );
  assert.equal(ccds.length, 3);
  const c2 = ccds[1]!;
  assert.equal(c2.extname, 'S2');
  assert.deepEqual([Number(c2.width), Number(c2.height)], [W, H]);
  // Footprint corners equal the WCS's own outer-edge corners (to 1e-9 deg).
  const truth = Wcs.tan({ crval: [150, 2.1], crpix: [(W + 1) / 2, (H + 1) / 2], cd: [-SCALE, 0, 0, SCALE] }).footprint(W, H);
  const corners = JSON.parse(c2.corners) as [number, number][];
  for (let i = 0; i < 4; i++) {
    assert.ok(Math.abs(corners[i]![0] - truth.corners[i]![0]) < 1e-9);
    assert.ok(Math.abs(corners[i]![1] - truth.corners[i]![1]) < 1e-9);
  }
  assert.ok(Math.abs(c2.dec_max - c2.dec_min - (H * SCALE)) < 1e-6, 'Dec extent = height × scale');
  assert.ok(Math.abs(c2.ra - 150) < 1e-9 && Math.abs(c2.dec - 2.1) < 1e-9);
  await store.close();
});

it('readExposure: a CCD without a WCS is registered without a footprint, with a warning', () => {
  const dir = tempDir();
  const f = join(dir, 'nowcs.fits');
  const h = new Header();
  h.set('EXPNUM', 5);
  writeFits(f, [{ kind: 'image', header: h, data: new Float32Array(16), shape: [4, 4] }]);
  const e = readExposure(f);
  assert.equal(e.expnum, '5');
  assert.equal(e.ccds.length, 1);
  assert.equal(e.ccds[0]!.corners, null);
  assert.match(e.warnings.join('\n'), /no celestial WCS \(CTYPE1\/CTYPE2 missing\); footprint not registered/);
});
