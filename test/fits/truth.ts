/** Helpers for the FITS tests: fixture paths and astropy's truth (test/fixtures/fits/truth.json). */
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers.js';
import type { PixelArray } from '../../src/fits/pixels.js';

const here = dirname(fileURLToPath(import.meta.url));
/** test/fixtures/fits in the source tree (tests run from dist/test/fits). */
export const FIXTURES = join(here, '..', '..', '..', 'test', 'fixtures', 'fits');

export function fixture(name: string): string {
  return join(FIXTURES, name);
}

export interface Encoded { dtype: string; shape: number[]; b64: string }

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const truth: any = JSON.parse(readFileSync(fixture('truth.json'), 'utf8'));

const CTORS: Record<string, new (b: ArrayBuffer) => PixelArray> = {
  uint8: Uint8Array, int8: Int8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array,
  uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array, float32: Float32Array, float64: Float64Array,
};

/** The typed array astropy read (little-endian bytes in the JSON). */
export function decode(e: Encoded): PixelArray {
  const b = Buffer.from(e.b64, 'base64');
  const ab = new ArrayBuffer(b.length);
  new Uint8Array(ab).set(b);
  const C = CTORS[e.dtype];
  if (!C) throw new Error(`no typed array for dtype ${e.dtype}`);
  return new C(ab);
}

/** The bytes of a typed array (for bit-for-bit comparison, NaN payloads and -0 included). */
export function bytesOf(a: PixelArray): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

let imagesPath: string | undefined;
/** images.fits (committed only as images.fits.gz), gunzipped to a temporary file once. */
export function imagesFits(): string {
  if (!imagesPath) {
    imagesPath = join(tempDir('tessera-fits-'), 'images.fits');
    writeFileSync(imagesPath, gunzipSync(readFileSync(fixture('images.fits.gz'))));
  }
  return imagesPath;
}

/** A fixture of the compress helper (stored gzipped under compressed/), as the plain file's bytes. */
export function compressedBytes(name: string): Buffer {
  return gunzipSync(readFileSync(fixture(`compressed/${name}.gz`)));
}

const compressedPaths = new Map<string, string>();
/** The same, written once to a temporary file (for code that opens paths). */
export function compressedFile(name: string): string {
  let p = compressedPaths.get(name);
  if (!p) {
    p = join(tempDir('tessera-fits-'), name);
    writeFileSync(p, compressedBytes(name));
    compressedPaths.set(name, p);
  }
  return p;
}
