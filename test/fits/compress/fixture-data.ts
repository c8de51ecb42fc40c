/** The committed compressed-FITS fixtures and their expected pixels (not a test file). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
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

