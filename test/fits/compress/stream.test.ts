/**
 * decompressFile streams big 2-D images band by band: its output must be byte for byte what
 * decompressFits gives (whole-image decoding), for several bands, tile heights that do not divide
 * the band, a partial last tile, integer and float images, with and without checksums.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { FitsReader } from '../../../src/fits/reader.js';
import { writeFits } from '../../../src/fits/writer.js';
import { compressFile, decompressFile, decompressFits } from '../../../src/fits/compress/file.js';
import { tempDir } from '../../helpers.js';

function concat(chunks: Uint8Array[]): Buffer {
  return Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
}

test('decompressFile (banded) writes the same bytes as decompressFits, and restores the pixels', () => {
  const dir = tempDir();
  // 1024 × 2101 float32 = 8.6 MB: more than two 4 MB bands
  const nx = 1024;
  const ny = 2101;
  let s = 99;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const f32 = new Float32Array(nx * ny);
  for (let i = 0; i < f32.length; i++) f32[i] = 1000 + 30 * (rnd() - 0.5) + (i % 977 === 0 ? NaN : 0);
  const u16 = new Uint16Array(nx * ny);
  for (let i = 0; i < u16.length; i++) u16[i] = Math.floor(rnd() * 65536);
  const src = join(dir, 'in.fits');
  writeFits(src, [
    { kind: 'image', data: f32, shape: [nx, ny], extname: 'SCI' },
    { kind: 'image', data: u16, shape: [nx, ny], extname: 'RAW' },
  ], { checksum: true });
  const cases: { name: string; opts: Parameters<typeof compressFile>[2] }[] = [
    { name: 'row tiles', opts: { ditherSeed: 3 } },
    { name: '100×7 tiles (partial last tile on both axes)', opts: { ditherSeed: 3, tile: [100, 7] } },
    { name: 'lossless gzip, 1024×5 tiles', opts: { type: 'GZIP_2', lossless: true, tile: [1024, 5] } },
  ];
  for (const { name, opts } of cases) {
    const fz = join(dir, 'c.fits.fz');
    compressFile(src, fz, opts);
    for (const checksum of ['auto', true, false] as const) {
      const out = join(dir, 'd.fits');
      decompressFile(fz, out, { checksum });
      const r = FitsReader.open(fz);
      const whole = concat(decompressFits(r, { checksum }).chunks);
      r.close();
      const streamed = readFileSync(out);
      assert.equal(streamed.length, whole.length, `${name}, checksum ${checksum}: length`);
      assert.ok(streamed.equals(whole), `${name}, checksum ${checksum}: bytes differ`);
    }
    const back = FitsReader.open(join(dir, 'd.fits'));
    assert.equal(back.checksums(1).checksum, 'absent');
    const raw = back.readImage('RAW').data as Uint16Array;
    assert.ok(raw.every((v, i) => v === u16[i]), `${name}: integer pixels`);
    if (opts?.lossless) {
      const sci = back.readImage('SCI').data as Float32Array;
      assert.ok(sci.every((v, i) => Object.is(v, f32[i])), `${name}: lossless float pixels`);
    }
    back.close();
    decompressFile(fz, join(dir, 'e.fits'), { checksum: true });
    const ck = FitsReader.open(join(dir, 'e.fits'));
    for (const i of [0, 1]) assert.equal(ck.checksums(i).checksum, 'ok', `${name}: CHECKSUM of HDU ${i}`);
    ck.close();
  }
});
