/**
 * Tile-compressed files made by astropy 5.2 (cfitsio inside) and fpack (stored gzipped; the
 * reader opens .gz files directly): our pixels must equal the expected ones bit for bit (astropy's reading, cross-checked against funpack by make_fixtures.py;
 * null pixels are NaN as cfitsio gives them — astropy 5.2 ignores ZBLANK, see the manifest).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { FitsReader } from '../../../src/fits/reader.js';
import { decompressImage, isCompressedImage } from '../../../src/fits/compress/index.js';
import type { PixelArray } from '../../../src/fits/compress/types.js';

export const FIXTURES = join(import.meta.dirname, '..', '..', '..', '..', 'test', 'fixtures', 'fits', 'compressed');

export interface Fixture {
  name: string;
  file: string;
  hdu: number;
  dtype: string;
  shape: number[];
  bin: string;
  nulls_astropy_misreads: number;
  funpack_reads: boolean;
  note: string;
}

export const manifest: Fixture[] = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8'));

const CTOR: Record<string, new (b: ArrayBuffer) => PixelArray> = {
  uint8: Uint8Array, int8: Int8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array,
  uint32: Uint32Array, int64: BigInt64Array, float32: Float32Array, float64: Float64Array,
};

export function expected(f: Fixture): PixelArray {
  const raw = readFileSync(join(FIXTURES, f.bin));
  const b = f.bin.endsWith('.gz') ? gunzipSync(raw) : raw;
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
  const C = CTOR[f.dtype];
  if (!C) throw new Error(`no array type for ${f.dtype}`);
  return new C(ab);
}

/** Bit-for-bit equality (NaN payloads aside: any NaN equals any NaN). */
export function assertSamePixels(got: PixelArray, want: PixelArray, label: string): void {
  assert.equal(got.constructor.name, want.constructor.name, `${label}: array type`);
  assert.equal(got.length, want.length, `${label}: length`);
  let bad = 0;
  let first = -1;
  for (let i = 0; i < want.length; i++) {
    const a = got[i]!;
    const b = want[i]!;
    const same = a === b ? (typeof a === 'number' && a === 0 ? Object.is(a, b) : true) : typeof a === 'number' && Number.isNaN(a) && Number.isNaN(b as number);
    if (!same) {
      if (first < 0) first = i;
      bad++;
    }
  }
  assert.equal(bad, 0, `${label}: ${bad} pixels differ, first at ${first}: got ${got[first]} want ${want[first]}`);
}

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
