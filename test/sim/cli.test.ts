import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir } from '../helpers.js';
import { FitsReader } from '../../src/fits/index.js';

test('tessera simulate: small camera, 3 CCDs of 256×192, two bands, --exposures', async () => {
  const dir = tempDir('tessera-simcli-');
  const r = await cli(['simulate', '--camera', 'small', '--ccds', '3', '--size', '256x192', '--bands', 'gr', '--exposures', '3', '--seed', '4', '-o', dir, '-j', '0', '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote 3 exposures × 3 CCDs/);
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  assert.equal(m.exposures.length, 3);
  assert.deepEqual(m.exposures.map((e: { band: string }) => e.band), ['g', 'r', 'g']);
  const f = FitsReader.open(join(dir, m.exposures[0].image));
  const im = f.readImage('C3');
  assert.deepEqual(im.shape, [256, 192]);
  assert.equal(im.header.string('FILTER'), 'g DECam SDSS c0001 4720.0 1520.0');
  f.close();
  for (const p of [m.refcat, m.truth.sources, m.truth.ccds, m.truth.epochs]) assert.ok(existsSync(join(dir, p)));
});

test('tessera simulate: DECam CCD subset and bad options', async () => {
  const dir = tempDir('tessera-simcli-');
  const bad = await cli(['simulate', '--camera', 'hst', '-o', dir]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--camera/);
  assert.equal((await cli(['simulate', '--camera', 'decam', '--ccds', '63', '-o', dir])).code, 2);
  assert.equal((await cli(['simulate', '--bands', 'gx', '-o', dir])).code, 2);
  const dup = await cli(['simulate', '--bands', 'grg', '-o', dir]);
  assert.equal(dup.code, 2);
  assert.match(dup.stderr, /--bands: band 'g' given twice/);
  assert.equal((await cli(['simulate', '--epochs', '2'])).code, 2);
  const r = await cli(['simulate', '--camera', 'decam', '--ccds', '35', '--epochs', '0,1', '--bands', 'r', '--stars', '300', '--galaxies', '2000', '-o', dir, '-j', '0', '-q']);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  assert.deepEqual(m.exposures[0].ccds, ['N4']);
  const f = FitsReader.open(join(dir, m.exposures[0].image));
  const h = f.imageHeader('N4');
  assert.equal(h.integer('CCDNUM'), 35);
  assert.equal(h.integer('NAXIS'), 2);
  assert.equal(f.imageHeader(0).string('INSTRUME'), 'DECam');
  f.close();
});

test('tessera simulate --tiles: every epoch visits every tile; tiles are spaced as asked', async () => {
  const dir = tempDir('tessera-simcli-');
  const r = await cli(['simulate', '--ccds', '1', '--size', '256x256', '--tiles', '2x1', '--tile-step', '0.05', '--epochs', '1,1', '--transients', '3', '--transient-mags', '23,24', '--asteroids', '0', '-o', dir, '-j', '0', '-q']);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  assert.deepEqual(m.exposures.map((e: { tile: number }) => e.tile), [0, 1, 0, 1]);
  const f = FitsReader.open(join(dir, m.truth.ccds));
  const t = f.readTable('EXPOSURES');
  const ra = Array.from(t.column('ra_true').data as Float64Array), dec = Array.from(t.column('dec_true').data as Float64Array);
  f.close();
  const sep = Math.hypot((ra[1]! - ra[0]!) * Math.cos(dec[0]! * Math.PI / 180), dec[1]! - dec[0]!);
  const src = FitsReader.open(join(dir, m.truth.sources));
  const pk = Array.from(src.readTable('TRANSIENTS').column('peak_mag_r').data as Float64Array);
  assert.equal(src.readTable('ASTEROIDS').nrows, 0);
  src.close();
  assert.ok(pk.length === 3 && pk.every((v) => v >= 23 && v <= 24));
  assert.ok(Math.abs(sep - 0.05) < 0.01, `tile separation ${sep}°`);
  assert.equal((await cli(['simulate', '--tiles', '2', '-o', dir])).code, 2);
});

test('tessera simulate into a directory holding a simulation: refused, or --overwrite removes the old files', async () => {
  const dir = tempDir('tessera-simcli-');
  const small = ['--ccds', '1', '--size', '96x96', '--epochs', '1,0', '--transients', '1', '--asteroids', '0', '-o', dir, '-j', '0', '-q'];
  const first = await cli(['simulate', ...small, '--bands', 'gr', '--seed', '1']);
  assert.equal(first.code, 0, first.stderr);
  const files = (m: { exposures: { image: string; weight: string; mask: string }[] }) => m.exposures.flatMap((e) => [e.image, e.weight, e.mask]);
  const old = files(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
  assert.equal(old.length, 6);
  const refused = await cli(['simulate', ...small, '--bands', 'z', '--seed', '2']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /already holds a simulation \(manifest\.json\); choose a new directory, or pass --overwrite/);
  for (const f of old) assert.ok(existsSync(join(dir, f)), `${f} kept after the refusal`);
  writeFileSync(join(dir, 'exposures', 'notes.txt'), 'mine');
  const again = await cli(['simulate', ...small, '--bands', 'z', '--seed', '2', '--overwrite']);
  assert.equal(again.code, 0, again.stderr);
  const now = files(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
  assert.deepEqual(readdirSync(join(dir, 'exposures')).sort(), [...now.map((f) => f.replace('exposures/', '')), 'notes.txt'].sort());
});
