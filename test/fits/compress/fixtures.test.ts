/**
 * Tile-compressed files made by astropy 5.2 (cfitsio inside) and fpack (stored gzipped; the
 * reader opens .gz files directly): our pixels must equal the expected ones bit for bit (astropy's reading, cross-checked against funpack by make_fixtures.py;
 * null pixels are NaN as cfitsio gives them — astropy 5.2 ignores ZBLANK, see the manifest).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FitsReader } from '../../../src/fits/reader.js';
import { decompressImage, isCompressedImage } from '../../../src/fits/compress/index.js';
import { FIXTURES, manifest, expected, assertSamePixels } from './fixture-data.js';
import type { PixelArray } from '../../../src/fits/compress/types.js';

for (const f of manifest) {
  test(`fixture ${f.name}: ${f.note}`, () => {
    const r = FitsReader.open(join(FIXTURES, f.file));
    try {
      const hdu = r.hdu(f.hdu);
      assert.ok(isCompressedImage(hdu.header), 'ZIMAGE = T');
      const img = decompressImage(hdu.header, r.readRawData(f.hdu), `${f.file}[${f.hdu}]`);
      assert.deepEqual(img.shape, f.shape);
      assertSamePixels(img.data, expected(f), f.name);
      // through the reader, too
      const viaReader = r.readImage(f.hdu);
      assertSamePixels(viaReader.data, img.data, `${f.name} via FitsReader`);
    } finally {
      r.close();
    }
  });
}

test('row ranges decode only the needed tiles and equal the slice of the whole image', () => {
  for (const name of ['rice_f32_d1', 'rice_i32_tiles', 'rice_cube_f32', 'gzip2_f32']) {
    const f = manifest.find((m) => m.name === name)!;
    const r = FitsReader.open(join(FIXTURES, f.file));
    const h = r.hdu(f.hdu);
    const raw = r.readRawData(f.hdu);
    const whole = expected(f);
    const [nx, ny] = f.shape as [number, number];
    const planes = f.shape.slice(2).reduce((a, b) => a * b, 1);
    for (const [y0, y1] of [[0, 1], [3, 17], [ny - 5, ny]] as [number, number][]) {
      const part = decompressImage(h.header, raw, f.file, [y0, y1]);
      assert.deepEqual(part.shape, [nx, y1 - y0, ...f.shape.slice(2)]);
      const want = new (whole.constructor as new (n: number) => PixelArray)(nx * (y1 - y0) * planes);
      for (let p = 0; p < planes; p++) {
        for (let y = y0; y < y1; y++) {
          for (let x = 0; x < nx; x++) (want as Float32Array)[(p * (y1 - y0) + (y - y0)) * nx + x] = (whole as Float32Array)[(p * ny + y) * nx + x]!;
        }
      }
      assertSamePixels(part.data, want, `${name} rows ${y0}..${y1}`);
    }
    r.close();
  }
});
