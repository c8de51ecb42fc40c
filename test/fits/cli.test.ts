import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir } from '../helpers.js';
import { compressedFile, fixture, imagesFits } from './truth.js';

test('fits info lists HDUs with type, EXTNAME, BITPIX, dimensions and compression', async () => {
  const r = await cli(['fits', 'info', imagesFits()]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /17 HDUs/);
  assert.match(r.stdout, /^16\s+CUBE\s+image\s+-32\s+6×3×4\s+-$/m);
  const t = await cli(['fits', 'info', fixture('table.fits')]);
  assert.match(t.stdout, /^1\s+CATALOG\s+bintable\s+8\s+6 rows × 23 columns/m);
  const z = await cli(['fits', 'info', '--json', compressedFile('fpack_mef.fits.fz')]);
  const rows = JSON.parse(z.stdout) as { extname: string; type: string; bitpix: number; compression: string }[];
  const n4 = rows.find((x) => x.extname === 'N4')!;
  assert.equal(n4.type, 'compressed-image');
  assert.equal(n4.bitpix, -32);
  assert.match(n4.compression, /^RICE_1/);
});

test('fits header FILE[HDU] prints the 80-column cards; image header for compressed HDUs', async () => {
  const r = await cli(['fits', 'header', `${imagesFits()}[I16]`]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^XTENSION= 'IMAGE   '/);
  assert.equal(lines.at(-1), 'END');
  for (const l of lines) assert.ok(l.length <= 80);
  const z = await cli(['fits', 'header', `${compressedFile('fpack_mef.fits.fz')}[N4]`]);
  assert.match(z.stdout, /^XTENSION= 'IMAGE   '/);
  assert.match(z.stdout, /^BITPIX  =\s+-32/m);
  assert.doesNotMatch(z.stdout, /ZCMPTYPE/);
  const raw = await cli(['fits', 'header', '--raw', `${compressedFile('fpack_mef.fits.fz')}[1]`]);
  assert.match(raw.stdout, /^ZCMPTYPE= 'RICE_1  '/m);
  const all = await cli(['fits', 'header', fixture('checksum.fits')]);
  assert.match(all.stdout, /^# HDU 0\n SIMPLE|^# HDU 0\nSIMPLE/m);
  assert.match(all.stdout, /^# HDU 1 T$/m);
  const bad = await cli(['fits', 'header', `${fixture('checksum.fits')}[9]`]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /checksum\.fits: no HDU 9 \(the file has 2: 0\.\.1\)/);
});

test('fits verify: ok on good files, exit 1 listing problems otherwise', async () => {
  const good = await cli(['fits', 'verify', fixture('checksum.fits')]);
  assert.equal(good.code, 0, good.stdout);
  assert.match(good.stdout, /HDU 0 \(image\): ok \(CHECKSUM ok, DATASUM ok\)/);
  const dir = tempDir();
  const b = Buffer.from(readFileSync(fixture('checksum.fits')));
  b[2880 + 5] ^= 0x10;
  const p = join(dir, 'bad.fits');
  writeFileSync(p, b);
  const r = await cli(['fits', 'verify', p]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /HDU 0 \(image\): PROBLEMS/);
  assert.match(r.stdout, /problem: CHECKSUM does not verify/);
  assert.match(r.stdout, /problem: DATASUM \d+ does not match the data \(computed \d+\)/);
  assert.match(r.stdout, /2 problems$/m);
  const t = join(dir, 'trunc.fits');
  writeFileSync(t, b.subarray(0, 2880 + 100));
  const tr = await cli(['fits', 'verify', t]);
  assert.equal(tr.code, 1);
  assert.match(tr.stdout, /problem: .*trunc\.fits\[HDU 0\]: data unit needs 192 bytes/);
  const pad = join(dir, 'pad.fits');
  writeFileSync(pad, readFileSync(imagesFits()).subarray(0, 30000));
  const pr = await cli(['fits', 'verify', pad]);
  assert.equal(pr.code, 1);
  assert.match(pr.stdout, /the last HDU's padding is missing/);
});
