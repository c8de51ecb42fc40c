/**
 * Our compressed files read by the peers: astropy 5.2 (cfitsio inside) must read the same pixels
 * as we do, and funpack must accept them and restore the same pixels. Skipped with a message when
 * python3-astropy or funpack is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { writeFits } from '../../../src/fits/writer.js';
import { FitsReader } from '../../../src/fits/reader.js';
import { compressFile } from '../../../src/fits/compress/file.js';
import { decompressImage } from '../../../src/fits/compress/index.js';
import type { CompressOptions, PixelArray } from '../../../src/fits/compress/types.js';
import { PYTHON, tempDir } from '../../helpers.js';
import { skyImage } from './sky.js';

const haveAstropy = spawnSync(PYTHON, ['-c', 'import astropy.io.fits, numpy'], { stdio: 'ignore' }).status === 0;
const haveFunpack = spawnSync('sh', ['-c', 'command -v funpack'], { stdio: 'ignore' }).status === 0;

interface Case {
  name: string;
  data: PixelArray;
  shape: number[];
  opts: CompressOptions;
  /** astropy 5.2 cannot read NOCOMPRESS */
  astropy?: boolean;
}

function cases(): Case[] {
  const f = skyImage(200, 60, 31);
  f[100] = NaN; f[2000] = NaN; f[3000] = 0; f[3001] = 0;
  const n = 200 * 60;
  const i16 = new Int16Array(n).map((_, i) => Math.round((f[i]! || 0) - 1000) * 3);
  const u16 = new Uint16Array(n).map((_, i) => Math.max(0, Math.min(65535, Math.round((f[i]! || 0) * 20))));
  const i32 = new Int32Array(n).map((_, i) => Math.round((f[i]! || 0) * 1e5));
  const u8 = new Uint8Array(n).map((_, i) => (i * 7) & 255);
  const cube = skyImage(40, 90, 32);
  return [
    { name: 'f32_rice_d1', data: f, shape: [200, 60], opts: { ditherSeed: 1 } },
    { name: 'f32_rice_one_tile', data: f, shape: [200, 60], opts: { tile: [200, 60], ditherSeed: 9000 } },
    { name: 'f32_rice_d2', data: f, shape: [200, 60], opts: { dither: 'SUBTRACTIVE_DITHER_2', ditherSeed: 9999 } },
    { name: 'f32_rice_nodither', data: f, shape: [200, 60], opts: { dither: 'NO_DITHER' } },
    // no NaNs here: funpack (cfitsio 4.2.0) mis-restores 2-D tiles that contain nulls, even in
    // files fpack wrote itself (tiles off by ~1000 ADU), while astropy reads them right
    { name: 'f32_rice_q16_tiles', data: skyImage(200, 60, 33), shape: [200, 60], opts: { quantizeLevel: 16, tile: [64, 16], ditherSeed: 500 } },
    { name: 'f32_rice_absq', data: f, shape: [200, 60], opts: { quantizeLevel: -0.5, ditherSeed: 44 } },
    { name: 'f32_gzip1', data: f, shape: [200, 60], opts: { type: 'GZIP_1', ditherSeed: 2 } },
    { name: 'f32_gzip2', data: f, shape: [200, 60], opts: { type: 'GZIP_2', ditherSeed: 3 } },
    { name: 'f32_gzip2_lossless', data: f, shape: [200, 60], opts: { type: 'GZIP_2', lossless: true } },
    { name: 'f64_rice', data: Float64Array.from(f), shape: [200, 60], opts: { ditherSeed: 8 } },
    { name: 'i16_rice', data: i16, shape: [200, 60], opts: {} },
    { name: 'u16_rice', data: u16, shape: [200, 60], opts: {} },
    { name: 'i32_rice_tiles', data: i32, shape: [200, 60], opts: { tile: [50, 7] } },
    { name: 'u8_rice', data: u8, shape: [200, 60], opts: {} },
    { name: 'i16_gzip2', data: i16, shape: [200, 60], opts: { type: 'GZIP_2' } },
    { name: 'i32_gzip1', data: i32, shape: [200, 60], opts: { type: 'GZIP_1' } },
    { name: 'i16_hcompress', data: i16, shape: [200, 60], opts: { type: 'HCOMPRESS_1' } },
    { name: 'i32_hcompress', data: i32, shape: [200, 60], opts: { type: 'HCOMPRESS_1', tile: [200, 60] } },
    { name: 'i16_hcompress_lossy', data: i16, shape: [200, 60], opts: { type: 'HCOMPRESS_1', hcompressScale: 2.5, hcompressSmooth: true } },
    { name: 'f32_hcompress', data: skyImage(200, 60, 34), shape: [200, 60], opts: { type: 'HCOMPRESS_1', ditherSeed: 12, tile: [100, 20] } },
    { name: 'i16_nocompress', data: i16, shape: [200, 60], opts: { type: 'NOCOMPRESS' }, astropy: false },
    { name: 'cube_rice', data: cube, shape: [40, 30, 3], opts: { tile: [20, 10, 2], ditherSeed: 77 } },
  ];
}

/** Write each case as an uncompressed file, compress it with our command-level function. */
function build(dir: string): { c: Case; fz: string }[] {
  return cases().map((c) => {
    const src = join(dir, `${c.name}.fits`);
    writeFits(src, [{ kind: 'image', data: null, shape: [] }, { kind: 'image', data: c.data, shape: c.shape, extname: 'SCI' }]);
    const fz = join(dir, `${c.name}.fits.fz`);
    compressFile(src, fz, c.opts);
    return { c, fz };
  });
}

function ours(fz: string): PixelArray {
  const r = FitsReader.open(fz);
  try {
    return decompressImage(r.hdu(1).header, r.readRawData(1), fz).data;
  } finally {
    r.close();
  }
}

function same(a: PixelArray, b: PixelArray, label: string, ignoreNaNs = false): void {
  assert.equal(a.length, b.length, `${label}: length`);
  let bad = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && Number.isNaN(x) && (ignoreNaNs || Number.isNaN(y as number))) continue;
    if (first < 0) first = i;
    bad++;
  }
  assert.equal(bad, 0, `${label}: ${bad} pixels differ, first ${first}: ${a[first]} vs ${b[first]}`);
}

test('astropy reads our compressed files exactly as we do', (t) => {
  if (!haveAstropy) return t.skip('python3-astropy not installed');
  const dir = tempDir();
  const built = build(dir).filter((b) => b.c.astropy !== false);
  const script = `
import sys, numpy as np
from astropy.io import fits
for path in sys.argv[1:]:
    with fits.open(path) as h:
        d = np.ascontiguousarray(h[1].data)
        d.astype(d.dtype.newbyteorder('<')).tofile(path + '.astropy.bin')
        print(path, d.dtype.name)
`;
  const r = spawnSync(PYTHON, ['-c', script, ...built.map((b) => b.fz)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const dtypes = new Map(r.stdout.trim().split('\n').map((l) => l.split(' ') as [string, string]));
  const CT: Record<string, new (b: ArrayBuffer) => PixelArray> = {
    float32: Float32Array, float64: Float64Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint8: Uint8Array,
  };
  for (const { c, fz } of built) {
    const buf = readFileSync(`${fz}.astropy.bin`);
    const theirs = new CT[dtypes.get(fz)!]!(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer);
    const mine = ours(fz);
    assert.equal(mine.constructor.name, theirs.constructor.name, c.name);
    // astropy 5.2 ignores ZBLANK: where we (and funpack) give NaN it gives a number
    same(mine, theirs, `${c.name} vs astropy`, true);
    if (mine instanceof Float32Array || mine instanceof Float64Array) {
      const src = c.data as Float32Array;
      for (let i = 0; i < src.length; i++) assert.equal(Number.isNaN(mine[i]!), Number.isNaN(src[i]!), `${c.name}: NaN at ${i}`);
    }
  }
});

test('funpack accepts our compressed files and restores the same pixels', (t) => {
  if (!haveFunpack) return t.skip('funpack (libcfitsio-bin) not installed');
  const dir = tempDir();
  for (const { c, fz } of build(dir)) {
    const out = join(dir, `${c.name}.funpacked.fits`);
    const r = spawnSync('funpack', ['-O', out, fz], { encoding: 'utf8' });
    assert.equal(r.status, 0, `funpack ${c.name}: ${r.stderr}`);
    const rd = FitsReader.open(out);
    const theirs = rd.readImage(1).data;
    rd.close();
    same(ours(fz), theirs, `${c.name} vs funpack`);
  }
});
