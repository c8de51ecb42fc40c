/**
 * The threaded file functions split each image's tiles between the main thread and worker
 * threads: their output must be byte for byte what the single-threaded functions write, for any
 * number of threads, and a bad tile decoded by a worker must fail as clearly as in the main thread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { FitsReader } from '../../../src/fits/reader.js';
import { writeFits } from '../../../src/fits/writer.js';
import { compressFile, compressFileThreaded, compressRun, decodeRun, decodeSource, decompressFile, decompressFileThreaded, planHdu } from '../../../src/fits/compress/file.js';
import { CodecPool } from '../../../src/fits/compress/pool.js';
import { tileRowRuns, type TileRun } from '../../../src/fits/compress/write.js';
import { TesseraError } from '../../../src/util/errors.js';
import { rng, tempDir } from '../../helpers.js';

/** A file with a float CCD (some NaN), a raw uint16 one, a small primary image and a table. */
function makeInput(dir: string): string {
  const r = rng(5);
  const nx = 700;
  const ny = 1204;
  const f32 = new Float32Array(nx * ny);
  for (let i = 0; i < f32.length; i++) f32[i] = 800 + 25 * (r() - 0.5) + (i % 1311 === 0 ? NaN : 0);
  const u16 = new Uint16Array(nx * ny);
  for (let i = 0; i < u16.length; i++) u16[i] = 3000 + Math.floor(r() * 400);
  const small = new Float32Array(40 * 30).map(() => r());
  const src = join(dir, 'in.fits');
  writeFits(src, [
    { kind: 'image', data: small, shape: [40, 30] },
    { kind: 'image', data: f32, shape: [nx, ny], extname: 'SCI' },
    { kind: 'bintable', columns: [{ name: 'ID', data: new Int32Array([1, 2, 3]) }], nrows: 3, extname: 'CAT' },
    { kind: 'image', data: u16, shape: [nx, ny], extname: 'RAW' },
  ], { checksum: true });
  return src;
}

test('compressFileThreaded and decompressFileThreaded write the same bytes as the single-threaded functions', async () => {
  const dir = tempDir();
  const src = makeInput(dir);
  const cases = [
    { ditherSeed: 11 },
    { ditherSeed: 11, tile: [100, 7] },
    { type: 'GZIP_2' as const, ditherSeed: 4 },
    { type: 'HCOMPRESS_1' as const, ditherSeed: 9 },
  ];
  for (const opts of cases) {
    const name = JSON.stringify(opts);
    const ref = join(dir, 'ref.fz');
    compressFile(src, ref, opts);
    const refBytes = readFileSync(ref);
    for (const threads of [1, 2, 3]) {
      const out = join(dir, `t${threads}.fz`);
      await compressFileThreaded(src, out, { ...opts, threads });
      assert.ok(readFileSync(out).equals(refBytes), `${name}: compress with ${threads} threads`);
    }
    for (const checksum of ['auto', true, false] as const) {
      const plain = join(dir, 'plain.fits');
      decompressFile(ref, plain, { checksum });
      const plainBytes = readFileSync(plain);
      for (const threads of [2, 3]) {
        const out = join(dir, `d${threads}.fits`);
        await decompressFileThreaded(ref, out, { checksum, threads });
        assert.ok(readFileSync(out).equals(plainBytes), `${name}: decompress with ${threads} threads, checksum ${checksum}`);
      }
    }
  }
  const back = FitsReader.open(join(dir, 'd3.fits'));
  assert.equal(back.hdus.length, 4);
  back.close();
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.tmp')), [], 'no temporary files left');
});

/** Busy-wait: keeps the main thread on its run so that the worker certainly claims some. */
function spin(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

test('CodecPool: runs done by a worker thread equal the same runs done here', async () => {
  const dir = tempDir();
  const src = makeInput(dir);
  const fz = join(dir, 'c.fz');
  compressFile(src, fz, { ditherSeed: 2 });
  const r = FitsReader.open(src);
  const pool = new CodecPool(1);
  try {
    // compression of HDU 1 in 12 runs; this thread is slow, so the worker takes some
    const opts = { ditherSeed: 2 };
    const plan = planHdu(r, 1, opts);
    const runs = tileRowRuns(plan, 12);
    const here = new Set<number>();
    const res = await pool.run<TileRun>({ kind: 'compress', path: src, hdu: 1, opts, runs }, runs.length, (k) => {
      here.add(k);
      spin(40);
      return compressRun(r, plan, 1, runs[k]!);
    });
    assert.ok(here.size < runs.length, `the worker did ${runs.length - here.size} of ${runs.length} runs`);
    for (let k = 0; k < runs.length; k++) {
      const mine = compressRun(r, plan, 1, runs[k]!);
      const got = res[k]!;
      assert.equal(got.t0, mine.t0);
      assert.deepEqual(Array.from(got.zscale), Array.from(mine.zscale), `run ${k}: ZSCALE`);
      assert.equal(got.comp.length, mine.comp.length);
      got.comp.forEach((c, i) => assert.ok(Buffer.from(c).equals(Buffer.from(mine.comp[i]!)), `run ${k} tile ${i}`));
    }
    // decompression of the same image (HDU 2 of the compressed file) in runs of 100 rows
    const rz = FitsReader.open(fz);
    const sci = rz.hdu('SCI').index;
    const source = decodeSource(rz, sci);
    const job = { hdu: sci, bitpix: -32, withSums: true, runs: Array.from({ length: 13 }, (_, k) => ({ y0: 100 * k, y1: Math.min(1204, 100 * k + 100) })) };
    const order: number[] = [];
    const dres = await pool.run<{ bytes: Uint8Array; sum: number }>({ kind: 'decompress', path: fz, job }, job.runs.length, (k) => {
      spin(30);
      return decodeRun(source, job, job.runs[k]!);
    }, (k) => order.push(k));
    assert.equal(order.length, job.runs.length, 'onResult saw every run');
    for (let k = 0; k < job.runs.length; k++) {
      const mine = decodeRun(source, job, job.runs[k]!);
      assert.equal(dres[k]!.sum, mine.sum, `run ${k}: sum`);
      assert.ok(Buffer.from(dres[k]!.bytes).equals(Buffer.from(mine.bytes)), `run ${k}: bytes`);
    }
    rz.close();
  } finally {
    r.close();
    await pool.close();
  }
});

test('a corrupt tile fails with the file, HDU and tile, in this thread or a worker thread, and leaves no output', async () => {
  const dir = tempDir();
  const src = makeInput(dir);
  const fz = join(dir, 'c.fz');
  compressFile(src, fz, { ditherSeed: 2 });
  const bytes = readFileSync(fz);
  // wreck the heap near the end of HDU 'RAW' (the last HDU): its last tiles are all zero bytes
  const r = FitsReader.open(fz);
  const info = r.hdu('RAW');
  r.close();
  const end = info.dataOffset + info.dataBytes;
  bytes.fill(0, end - 20000, end);
  const bad = join(dir, 'bad.fz');
  writeFileSync(bad, bytes);
  const out = join(dir, 'out.fits');
  for (const threads of [1, 2]) {
    await assert.rejects(decompressFileThreaded(bad, out, { threads }), (e: unknown) => {
      assert.ok(e instanceof TesseraError, `threads ${threads}: ${String(e)}`);
      assert.match(e.message, /bad\.fz/);
      assert.match(e.message, /RAW/);
      assert.match(e.message, /tile \d+/);
      return true;
    });
  }
  assert.deepEqual(readdirSync(dir).filter((f) => f === 'out.fits' || f.startsWith('.tmp')), []);
  // the corrupt last run certainly goes to the worker: this thread stays on run 0
  const rb = FitsReader.open(bad);
  const raw = rb.hdu('RAW').index;
  const source = decodeSource(rb, raw);
  const job = { hdu: raw, bitpix: 16, withSums: false, runs: [{ y0: 0, y1: 4 }, { y0: 4, y1: 600 }, { y0: 600, y1: 1204 }] };
  const pool = new CodecPool(1);
  try {
    await assert.rejects(pool.run({ kind: 'decompress', path: bad, job }, 3, (k) => {
      spin(k === 0 ? 1500 : 0);
      return decodeRun(source, job, job.runs[k]!);
    }), (e: unknown) => e instanceof TesseraError && /bad\.fz.*RAW.*tile \d+/s.test(e.message));
  } finally {
    rb.close();
    await pool.close();
  }
  await assert.rejects(compressFileThreaded(src, join(dir, 'x.fz'), { threads: 0 }), /threads/);
});
