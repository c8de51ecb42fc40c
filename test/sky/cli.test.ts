import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli } from '../helpers.js';
import { brickTable } from '../../src/sky/bricks.js';

test('tessera sky brick RA DEC', async () => {
  const r = await cli(['sky', 'brick', '135.2', '19.3']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /brickname\s+1351p192/);
  assert.match(r.stdout, /dec1\s+19\.125000/);
  const neg = await cli(['sky', 'brick', '10', '-30.2']);
  assert.equal(neg.code, 0, neg.stderr);
  assert.match(neg.stdout, /brickname\s+\d{4}m302/);
  const j = await cli(['sky', 'brick', '135.2', '19.3', '--json']);
  assert.deepEqual(JSON.parse(j.stdout).wcs.crpix, [1800.5, 1800.5]);
  const bad = await cli(['sky', 'brick', '10', '95']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /DEC must be within/);
});

test('tessera sky bricks --region (with RA wrap)', async () => {
  const r = await cli(['sky', 'bricks', '--region', '359.8', '0.2', '-0.1', '0.1']);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split('\n');
  assert.equal(rows[0], 'brickname,brickid,brickrow,brickcol,ra,dec,ra1,ra2,dec1,dec2');
  assert.deepEqual(rows.slice(1).map((l) => l.split(',')[0]).sort(), ['0001p000', '3598p000']);
  const c = await cli(['sky', 'bricks', '--region', '10', '20', '-5', '5', '--count']);
  // brute force over the whole table: boxes that overlap [10,20]×[-5,5] with positive area
  const t = brickTable();
  let n = 0;
  for (let i = 0; i < t.ra.length; i++) if (t.ra2[i]! > 10 && t.ra1[i]! < 20 && t.dec2[i]! > -5 && t.dec1[i]! < 5) n++;
  assert.equal(Number(c.stdout), n);
});

test('tessera sky tract and sky healpix', async () => {
  const r = await cli(['sky', 'tract', '55.745834', '-32.269167']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /tract\s+4431/);
  assert.match(r.stdout, /patchindex\s+17/);
  const h = await cli(['sky', 'healpix', '45', '30', '--nside', '32', '--nest']);
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /^\d+\n$/);
});
