/**
 * Random access: opening a 62-CCD file reads its headers only, and reading one HDU reads only
 * that HDU's data (counted through fs.readSync).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { FitsReader } from '../../src/fits/reader.js';
import { writeFits, type HduInput } from '../../src/fits/writer.js';
import { Header } from '../../src/fits/header.js';
import { tempDir } from '../helpers.js';

test('one HDU of a 62-HDU file is read without touching the others', () => {
  const path = join(tempDir(), 'decam-like.fits');
  const nx = 256;
  const ny = 128;
  const hdus: HduInput[] = [];
  for (let c = 1; c <= 62; c++) {
    const h = new Header();
    h.set('CCDNUM', c);
    const data = new Float32Array(nx * ny);
    data.fill(c);
    data[0] = -c;
    hdus.push({ kind: 'image', header: h, data, shape: [nx, ny], extname: c <= 31 ? `S${c}` : `N${c - 31}` });
  }
  writeFits(path, hdus);
  const size = fs.statSync(path).size;
  assert.ok(size > 62 * nx * ny * 4);

  let bytesRead = 0;
  const orig = fs.readSync;
  // Count every byte read through fs.readSync (the reader's only way into the file).
  (fs as { readSync: typeof fs.readSync }).readSync = ((...args: Parameters<typeof fs.readSync>) => {
    const n = (orig as (...a: unknown[]) => number)(...args);
    bytesRead += n;
    return n;
  }) as typeof fs.readSync;
  syncBuiltinESMExports();
  try {
    const f = FitsReader.open(path);
    const atOpen = bytesRead;
    assert.equal(f.hdus.length, 62);
    assert.ok(atOpen <= 62 * 2880 + 2, `open read ${atOpen} bytes (headers only)`);
    const img = f.readImage('N4');
    assert.equal(bytesRead - atOpen, nx * ny * 4, 'only N4\'s data unit was read');
    assert.equal(img.header.get('CCDNUM'), 35);
    assert.equal((img.data as Float32Array)[0], -35);
    assert.equal((img.data as Float32Array)[1], 35);
    const before = bytesRead;
    const band = f.readImage(40, { rows: [10, 20] });
    assert.equal(bytesRead - before, 10 * nx * 4, 'a row band reads only those rows');
    assert.deepEqual(band.shape, [nx, 10]);
    f.close();
  } finally {
    (fs as { readSync: typeof fs.readSync }).readSync = orig;
    syncBuiltinESMExports();
  }
});
