/**
 * The pure codecs: Rice encode/decode round trips for every pixel width and several block sizes,
 * byte shuffling, the dither random sequence, quantization bounds, and corrupt-stream handling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { riceDecode, riceEncode } from '../../../src/fits/compress/rice.js';
import { shuffleBytes, unshuffleBytes, gzipDecode, gzipEncode } from '../../../src/fits/compress/gzip.js';
import { ditherRandoms, dequantize, quantize, tileStats, NULL_VALUE, ZERO_VALUE } from '../../../src/fits/compress/quantize.js';
import { plioDecode } from '../../../src/fits/compress/plio.js';
import { hcompressDecode } from '../../../src/fits/compress/hcompress.js';
import { CodecError } from '../../../src/fits/compress/types.js';

/** Deterministic generator for test data. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function gauss(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
}

test('Rice round trip: 1, 2, 4 byte pixels, block sizes 16/32/64, smooth, noisy and extreme data', () => {
  const rnd = lcg(7);
  for (const bytepix of [1, 2, 4]) {
    const lo = bytepix === 1 ? 0 : -(2 ** (8 * bytepix - 1));
    const hi = bytepix === 1 ? 255 : 2 ** (8 * bytepix - 1) - 1;
    for (const block of [16, 32, 64]) {
      for (const kind of ['zeros', 'smooth', 'noise', 'full', 'edges'] as const) {
        for (const n of [1, 31, 32, 33, 1000]) {
          const a = new Int32Array(n);
          for (let i = 0; i < n; i++) {
            let v: number;
            if (kind === 'zeros') v = 0;
            else if (kind === 'smooth') v = Math.round(100 + 20 * Math.sin(i / 10));
            else if (kind === 'noise') v = Math.round(1000 + 30 * gauss(rnd));
            else if (kind === 'full') v = Math.floor(lo + rnd() * (hi - lo + 1));
            else v = i % 2 ? lo : hi;
            a[i] = Math.min(hi, Math.max(lo, v));
          }
          const enc = riceEncode(a, n, bytepix, block);
          const dec = new Int32Array(n);
          riceDecode(enc, n, bytepix, block, dec);
          assert.deepEqual(dec, a, `bytepix ${bytepix} block ${block} ${kind} n=${n}`);
        }
      }
    }
  }
});

test('Rice compresses noise to about its entropy (σ = 30: ~7.0 bits/pixel, at most 8)', () => {
  const rnd = lcg(11);
  const n = 100000;
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.round(5000 + 30 * gauss(rnd));
  const enc = riceEncode(a, n, 4, 32);
  const bits = (8 * enc.length) / n;
  // entropy of the pixel-difference distribution (σ·√2 ≈ 42): log2(42·√(2πe)) ≈ 7.44 bits
  assert.ok(bits > 6.5 && bits < 8.2, `bits/pixel ${bits}`);
});

test('Rice decoder: truncated and mutated streams give a CodecError or decode, never hang', () => {
  const rnd = lcg(3);
  const n = 500;
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.round(300 * gauss(rnd));
  const enc = riceEncode(a, n, 4, 32);
  const out = new Int32Array(n);
  assert.throws(() => riceDecode(enc.subarray(0, enc.length >> 1), n, 4, 32, out), CodecError);
  assert.throws(() => riceDecode(new Uint8Array(3), n, 4, 32, out), CodecError);
  const t0 = Date.now();
  let errors = 0;
  for (let k = 0; k < 2000; k++) {
    const m = enc.slice();
    const nm = 1 + Math.floor(rnd() * 4);
    for (let j = 0; j < nm; j++) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
    const cut = rnd() < 0.3 ? Math.floor(rnd() * m.length) : m.length;
    try {
      riceDecode(m.subarray(0, cut), n, 4, 32, out);
    } catch (e) {
      assert.ok(e instanceof CodecError, `unexpected ${(e as Error).name}: ${(e as Error).message}`);
      errors++;
    }
  }
  assert.ok(errors > 0);
  assert.ok(Date.now() - t0 < 5000, 'fuzzing took too long');
});

test('GZIP_2 byte shuffle inverts, and gzipDecode bounds the output', () => {
  const src = new Uint8Array(4 * 37).map((_, i) => (i * 37) & 255);
  for (const w of [1, 2, 4, 8]) {
    const s = src.subarray(0, Math.floor(src.length / w) * w);
    assert.deepEqual(unshuffleBytes(shuffleBytes(s, w), w), s);
  }
  const z = gzipEncode(src, 4, true);
  assert.deepEqual(unshuffleBytes(gzipDecode(z, src.length), 4), src);
  assert.throws(() => gzipDecode(z, 10), CodecError);
  assert.throws(() => gzipDecode(z.subarray(0, z.length - 9), 1000), CodecError);
  assert.throws(() => gzipDecode(new Uint8Array([1, 2, 3, 4]), 1000), CodecError);
});

test('dither random sequence: Park–Miller with seed 1, stored as float32', () => {
  const r = ditherRandoms();
  assert.equal(r.length, 10000);
  assert.equal(r[0], Math.fround(16807 / 2147483647));
  for (const v of r) assert.ok(v > 0 && v < 1);
});

test('quantization: error within step/2 for all dither methods, NaN and exact zeros kept', () => {
  const rnd = lcg(5);
  const nx = 200, ny = 3;
  const f = new Float32Array(nx * ny);
  for (let i = 0; i < f.length; i++) f[i] = 1000 + 10 * gauss(rnd);
  f[17] = NaN;
  f[40] = 0;
  for (const dither of [0, 1, 2] as const) {
    const ints = new Int32Array(f.length);
    const q = quantize(f, nx, ny, 4, dither, 77, ints);
    assert.ok(q, 'quantized');
    assert.ok(q.scale > 10 / 4 * 0.8 && q.scale < 10 / 4 * 1.2, `step ${q.scale} ≈ σ/4`);
    assert.equal(ints[17], NULL_VALUE);
    if (dither === 2) assert.equal(ints[40], ZERO_VALUE);
    const back = new Float32Array(f.length);
    dequantize(ints, f.length, q.scale, q.zero, dither, 77, NULL_VALUE, back);
    for (let i = 0; i < f.length; i++) {
      if (i === 17) { assert.ok(Number.isNaN(back[i])); continue; }
      if (i === 40 && dither === 2) { assert.equal(back[i], 0); continue; }
      assert.ok(Math.abs(back[i]! - f[i]!) <= q.scale / 2 + 1e-3, `pixel ${i}: ${back[i]} vs ${f[i]} (step ${q.scale})`);
    }
  }
  // constant tiles cannot be quantized; absolute steps (q < 0) are used as given
  assert.equal(quantize(new Float32Array(100).fill(3), 100, 1, 4, 1, 1, new Int32Array(100)), undefined);
  const q = quantize(f, nx, ny, -0.5, 1, 1, new Int32Array(f.length));
  assert.equal(q?.scale, 0.5);
});

test('noise estimate follows σ for Gaussian noise (MAD of 2nd/3rd/5th-order differences)', () => {
  const rnd = lcg(9);
  const nx = 500, ny = 50;
  const f = new Float64Array(nx * ny);
  for (let i = 0; i < f.length; i++) f[i] = 100 + 7 * gauss(rnd);
  const st = tileStats(f, nx, ny);
  for (const n of [st.noise2, st.noise3, st.noise5]) assert.ok(Math.abs(n - 7) < 0.35, `noise ${n} vs 7`);
});

test('PLIO line lists: runs, value changes, long values; bad lists give CodecError', () => {
  // new-format header (7 words): [0, 7, -100, len_lo, len_hi, 0, 0], then instructions
  const words = [0, 7, -100, 0, 0, 0, 0,
    0x0000 | 3, // ZN 3 zeros
    0x4000 | 2, // HN 2 pixels of value 1
    0x1000 | 5, 1, // SH value = 1·4096 + 5
    0x4000 | 3, // HN 3 pixels of 4101
    0x3000 | 4095, // DH value -= 4095 → 6
    0x7000 | 6, // DS value -= 6 → 0, one pixel
    0x6000 | 7, // IS value += 7, one pixel
    0x5000 | 3, // PN 2 zeros then one pixel of 7
  ];
  words[3] = words.length;
  const b = new Uint8Array(words.length * 2);
  words.forEach((w, i) => { b[2 * i] = (w >> 8) & 255; b[2 * i + 1] = w & 255; });
  const out = new Int32Array(15).fill(-1);
  plioDecode(b, 15, out);
  assert.deepEqual([...out], [0, 0, 0, 1, 1, 4101, 4101, 4101, 0, 7, 0, 0, 7, 0, 0]);
  assert.throws(() => plioDecode(b.subarray(0, 4), 15, out), CodecError);
  const bad = b.slice();
  bad[3 * 2 + 1] = 200; // length beyond the data
  assert.throws(() => plioDecode(bad, 15, out), CodecError);
});

test('HCOMPRESS decoder rejects bad magic, wrong sizes and truncation', () => {
  const out = new Int32Array(16);
  assert.throws(() => hcompressDecode(new Uint8Array(40), false, 4, 4, out), CodecError);
  const hdr = new Uint8Array(40);
  hdr[0] = 0xdd; hdr[1] = 0x99;
  new DataView(hdr.buffer).setInt32(2, 4); new DataView(hdr.buffer).setInt32(6, 5);
  assert.throws(() => hcompressDecode(hdr, false, 4, 4, out), /5×4|4×5/);
  new DataView(hdr.buffer).setInt32(6, 4);
  hdr[22] = 60; hdr[25] = 0xff; hdr[26] = 0xff;
  assert.throws(() => hcompressDecode(hdr.subarray(0, 27), false, 4, 4, out), CodecError);
});
