/**
 * cfitsio reads what we write: `fitscopy` (libcfitsio-bin) re-writes our file HDU by HDU, and
 * the copy reads back with the same values (cfitsio parsed every header, image and table,
 * heap included). Skipped with a message when fitscopy is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { writeFits } from '../../src/fits/writer.js';
import { FitsReader } from '../../src/fits/reader.js';
import { Header } from '../../src/fits/header.js';
import type { PixelArray } from '../../src/fits/pixels.js';
import { tempDir } from '../helpers.js';
import { bytesOf } from './truth.js';

const haveFitscopy = spawnSync('sh', ['-c', 'command -v fitscopy'], { stdio: 'ignore' }).status === 0;

test('cfitsio (fitscopy) reads and rewrites our images and tables; values survive', (t) => {
  if (!haveFitscopy) { t.skip('fitscopy (libcfitsio-bin) not installed'); return; }
  const dir = tempDir();
  const src = join(dir, 'ours.fits');
  const h = new Header();
  h.set('LONGSTR', 'cfitsio must read this long string '.repeat(4).trim());
  h.set('ESO INS FILT NAME', 'r-band');
  const img = Float32Array.from({ length: 30 * 20 }, (_, i) => Math.sin(i) * 100);
  const u16 = Uint16Array.from({ length: 30 * 20 }, (_, i) => (i * 97) % 65536);
  writeFits(src, [
    { kind: 'image', data: img, shape: [30, 20], extname: 'SCI', header: h },
    { kind: 'image', data: u16, shape: [30, 20], extname: 'MASK' },
    { kind: 'bintable', extname: 'CAT', nrows: 3, columns: [
      { name: 'id', data: new BigInt64Array([1n, 2n, 3n]) },
      { name: 'ra', data: new Float64Array([10.5, 20.25, 30.125]), unit: 'deg' },
      { name: 'name', data: ['a', 'bb', 'ccc'] },
      { name: 'flags', data: [true, false, true] },
      { name: 'u', data: new Uint32Array([0, 3e9, 4294967295]) },
      { name: 'spec', data: [new Float32Array([1, 2]), new Float32Array([]), new Float32Array([3])] },
    ] },
  ], { checksum: true });
  const dst = join(dir, 'copy.fits');
  const r = spawnSync('fitscopy', [src, dst], { encoding: 'utf8' });
  assert.equal(r.status, 0, `fitscopy failed: ${r.stderr}`);
  const a = FitsReader.open(src);
  const b = FitsReader.open(dst);
  assert.equal(b.hdus.length, 3);
  for (const name of ['SCI', 'MASK']) {
    const x = a.readImage(name).data;
    const y = b.readImage(name).data as PixelArray;
    assert.equal(y.constructor, x.constructor, name);
    assert.ok(bytesOf(x).equals(bytesOf(y)), name);
  }
  assert.equal(b.hdu('SCI').header.get('LONGSTR'), h.get('LONGSTR'));
  assert.equal(b.hdu('SCI').header.get('ESO INS FILT NAME'), 'r-band');
  const ta = a.readTable('CAT');
  const tb = b.readTable('CAT');
  for (const c of ta.columns) {
    const d = tb.column(c.name).data;
    if (c.vla) (c.data as Float32Array[]).forEach((v, i) => assert.deepEqual([...(d as Float32Array[])[i]!], [...v], `${c.name}[${i}]`));
    else if (Array.isArray(c.data)) assert.deepEqual(d, c.data, c.name);
    else assert.ok(bytesOf(c.data as PixelArray).equals(bytesOf(d as PixelArray)), c.name);
  }
  a.close();
  b.close();
});
