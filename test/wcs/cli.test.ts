import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir } from '../helpers.js';
import { Header } from '../../src/fits/header.js';
import { HeaderText, Wcs } from '../../src/wcs/index.js';
import { FIXTURES, readFixture, sepMas } from './fixtures.js';

const head = join(FIXTURES, 'decam_tpv.head');
const fz = join(FIXTURES, 'decam_mef.fits.fz');

function parseOut(s: string): number[][] {
  return s.trim().split('\n').map((l) => l.split(' ').map(Number));
}

test('wcs pix2sky on a header file matches astropy to < 1 mas; comments and blank lines skipped', async () => {
  const e = readFixture('decam_tpv.head').expected;
  const input = '# x y\n\n' + e.x.map((x, i) => `${x} ${e.y[i]}   # point ${i}`).join('\n') + '\n';
  const r = await cli(['wcs', 'pix2sky', head], input);
  assert.equal(r.code, 0, r.stderr);
  const out = parseOut(r.stdout);
  assert.equal(out.length, e.x.length);
  assert.match(r.stdout.split('\n')[0]!, /^\d+\.\d{12} -\d+\.\d{12}$/);
  for (let i = 0; i < out.length; i++) assert.ok(sepMas(out[i]![0]!, out[i]![1]!, e.ra[i]!, e.dec[i]!) < 1);
});

test('wcs pix2sky reads a tile-compressed MEF by EXTNAME and by index; sky2pix inverts it', async () => {
  const input = '1 1\n1023.5 2047.5\n2046 4094\n';
  const a = await cli(['wcs', 'pix2sky', `${fz}[N25]`], input);
  const b = await cli(['wcs', 'pix2sky', `${fz}[2]`], input);
  const c = await cli(['wcs', 'pix2sky', head], input);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
  assert.equal(a.stdout, c.stdout);
  const s1 = await cli(['wcs', 'pix2sky', `${fz}[S1]`], input);
  assert.notEqual(s1.stdout, a.stdout); // S1 has a different CRPIX1
  const back = await cli(['wcs', 'sky2pix', `${fz}[N25]`], a.stdout);
  assert.equal(back.code, 0, back.stderr);
  const p = parseOut(back.stdout);
  assert.deepEqual(p.map((r) => r.map((v) => Math.round(v * 1e6) / 1e6)), [[1, 1], [1023.5, 2047.5], [2046, 4094]]);
  // Without [HDU]: the first HDU with a WCS (S1, index 1).
  const first = await cli(['wcs', 'pix2sky', fz], input);
  assert.equal(first.stdout, s1.stdout);
});

test('wcs pix2sky on a plain FITS MEF written with our Header; --origin 0', async () => {
  const dir = tempDir();
  const w = Wcs.fromHeader(HeaderText.parse(readFixture('hst_sip.head').text));
  const prim = new Header();
  prim.set('SIMPLE', true); prim.set('BITPIX', 8); prim.set('NAXIS', 0); prim.set('EXTEND', true);
  const ext = new Header();
  ext.set('XTENSION', 'IMAGE'); ext.set('BITPIX', 8); ext.set('NAXIS', 2); ext.set('NAXIS1', 4); ext.set('NAXIS2', 4);
  ext.set('PCOUNT', 0); ext.set('GCOUNT', 1); ext.set('EXTNAME', 'WFC1');
  w.toHeader(ext);
  const data = new Uint8Array(2880);
  const file = join(dir, 'acs.fits');
  writeFileSync(file, Buffer.concat([prim.toBytes(), ext.toBytes(), data]));
  const r = await cli(['wcs', 'pix2sky', `${file}[WFC1]`], '100 200\n4000 2000\n');
  assert.equal(r.code, 0, r.stderr);
  const out = parseOut(r.stdout);
  const want = w.pixToSky([100, 4000], [200, 2000]);
  for (let i = 0; i < 2; i++) assert.ok(sepMas(out[i]![0]!, out[i]![1]!, want.ra[i]!, want.dec[i]!) < 0.001);
  const z = await cli(['wcs', 'pix2sky', `${file}[1]`, '--origin', '0'], '99 199\n');
  assert.equal(z.stdout.split('\n')[0], r.stdout.split('\n')[0]);
  const s = await cli(['wcs', 'sky2pix', `${file}[1]`, '--origin', '0'], r.stdout.split('\n')[0] + '\n');
  const p = parseOut(s.stdout)[0]!;
  assert.ok(Math.abs(p[0]! - 99) < 1e-6 && Math.abs(p[1]! - 199) < 1e-6);
});

test('wcs pix2sky reads a SCAMP .head with non-ASCII COMMENT cards (as SCAMP 2.10 writes)', async () => {
  const dir = tempDir();
  const file = join(dir, 'scamp.head');
  writeFileSync(file, 'COMMENT   Copyright (C) 2010-2020 IAP/CNRS/SorbonneUniversité\n' + readFixture('scamp_tanpv.head').text);
  const e = readFixture('scamp_tanpv.head').expected;
  const r = await cli(['wcs', 'pix2sky', file], `${e.x[0]} ${e.y[0]}\n`);
  assert.equal(r.code, 0, r.stderr);
  const [ra, dec] = parseOut(r.stdout)[0]!;
  assert.ok(sepMas(ra!, dec!, e.ra[0]!, e.dec[0]!) < 1);
});

test('wcs commands: a malformed line names its line number; usage and file errors are clear', async () => {
  const bad = await cli(['wcs', 'pix2sky', head], '1 1\n\n2 x\n');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /stdin line 3: expected two numbers \(x y\), got '2 x'/);
  const three = await cli(['wcs', 'sky2pix', head], '10 20 30\n');
  assert.equal(three.code, 1);
  assert.match(three.stderr, /line 1: expected two numbers \(ra dec\)/);
  const missing = await cli(['wcs', 'pix2sky'], '');
  assert.equal(missing.code, 2);
  const origin = await cli(['wcs', 'pix2sky', head, '--origin', '2'], '1 1\n');
  assert.equal(origin.code, 2);
  const nofile = await cli(['wcs', 'pix2sky', '/nonexistent/x.fits'], '1 1\n');
  assert.equal(nofile.code, 1);
  assert.match(nofile.stderr, /nonexistent/);
  const nohdu = await cli(['wcs', 'pix2sky', `${fz}[N99]`], '1 1\n');
  assert.equal(nohdu.code, 1);
  assert.match(nohdu.stderr, /no HDU with EXTNAME 'N99'/);
  const dir = tempDir();
  const nowcs = join(dir, 'nowcs.head');
  writeFileSync(nowcs, 'NAXIS1  = 10\n');
  const r = await cli(['wcs', 'pix2sky', nowcs], '1 1\n');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /nowcs\.head: no celestial WCS/);
  const outside = await cli(['wcs', 'sky2pix', head], '216.45 4.6\n');
  assert.equal(outside.stdout, 'nan nan\n');
});
