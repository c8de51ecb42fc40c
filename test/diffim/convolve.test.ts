import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convolveSpatial, type KernelTerm } from '../../src/diffim/al/convolve.js';
import { fftOf } from '../../src/diffim/al/fft.js';
import { Rng } from '../../src/diffim/synth.js';

test('column FFTs equal row FFTs of the transposed array and invert exactly', () => {
  for (const n of [128, 256]) {
    const F = fftOf(n);
    const rng = new Rng(n);
    const re = new Float64Array(n * n), im = new Float64Array(n * n);
    for (let i = 0; i < n * n; i++) { re[i] = rng.normal(); im[i] = rng.normal(); }
    const a = Float64Array.from(re), b = Float64Array.from(im);
    F.runColsDif(a, b, false);
    const c = new Float64Array(n * n), d = new Float64Array(n * n);
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) { c[x * n + y] = re[y * n + x]!; d[x * n + y] = im[y * n + x]!; }
    for (let y = 0; y < n; y++) F.runDif(c, d, y * n, false);
    let e = 0;
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) e = Math.max(e, Math.abs(a[y * n + x]! - c[x * n + y]!), Math.abs(b[y * n + x]! - d[x * n + y]!));
    assert.ok(e < 1e-9, `cols vs rows ${e}`);
    F.runColsBitrev(a, b, true);
    e = 0;
    for (let i = 0; i < n * n; i++) e = Math.max(e, Math.abs(a[i]! / n - re[i]!), Math.abs(b[i]! / n - im[i]!));
    assert.ok(e < 1e-12, `round trip ${e}`);
  }
});

test('spatially varying FFT convolution equals the direct sum Σ P_m(x, y)·(src ⊗ K_m) + extra ⊗ K_e', () => {
  // odd sizes (a lone last tile), order-2 terms, kernels of different sizes, an extra image
  const W = 333, H = 270;
  const rng = new Rng(3);
  const src = new Float32Array(W * H);
  for (let i = 0; i < src.length; i++) src[i] = rng.normal() * 10 + (rng.next() < 0.01 ? 1e4 : 0);
  const ex = new Float32Array(W * H);
  for (let i = 0; i < ex.length; i++) ex[i] = rng.normal() * 30;
  const terms: KernelTerm[] = [];
  for (let t = 0; t <= 2; t++) for (let j = 0; j <= t; j++) {
    const size = t === 1 ? 11 : 15;
    const k = new Float64Array(size * size);
    for (let i = 0; i < k.length; i++) k[i] = rng.normal() * (t === 0 ? 1 : 0.3);
    terms.push({ kernel: k, size, ax: t - j, ay: j });
  }
  const es = 9, ek = new Float64Array(es * es);
  for (let i = 0; i < ek.length; i++) ek[i] = rng.normal();
  const cx = 150, cy = 120, sx = 160, sy = 130;
  const out = convolveSpatial({ src, width: W, height: H, terms, cx, cy, sx, sy, extra: { src: ex, kernel: ek, size: es } });
  // rows split as the worker threads do
  const part = new Float32Array(W * H);
  convolveSpatial({ src, width: W, height: H, terms, cx, cy, sx, sy, extra: { src: ex, kernel: ek, size: es }, y0: 0, y1: 101 }, part);
  convolveSpatial({ src, width: W, height: H, terms, cx, cy, sx, sy, extra: { src: ex, kernel: ek, size: es }, y0: 101, y1: H }, part);
  // without the extra image (the general product path rather than the fused order-2 one)
  const noExtra = convolveSpatial({ src, width: W, height: H, terms, cx, cy, sx, sy });
  let maxErr = 0, maxVal = 0, maxPart = 0, maxErrNoExtra = 0;
  for (let y = 0; y < H; y += 7) for (let x = 0; x < W; x += 3) {
    const X = (x - cx) / sx, Y = (y - cy) / sy;
    let s = 0;
    for (const t of terms) {
      const p = X ** t.ax * Y ** t.ay, h = (t.size - 1) >> 1;
      for (let v = -h; v <= h; v++) for (let u = -h; u <= h; u++) {
        const xx = x - u, yy = y - v;
        if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
        s += p * t.kernel[(v + h) * t.size + u + h]! * src[yy * W + xx]!;
      }
    }
    maxErrNoExtra = Math.max(maxErrNoExtra, Math.abs(s - noExtra[y * W + x]!));
    const eh = (es - 1) >> 1;
    for (let v = -eh; v <= eh; v++) for (let u = -eh; u <= eh; u++) {
      const xx = x - u, yy = y - v;
      if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
      s += ek[(v + eh) * es + u + eh]! * ex[yy * W + xx]!;
    }
    maxErr = Math.max(maxErr, Math.abs(s - out[y * W + x]!));
    maxVal = Math.max(maxVal, Math.abs(s));
    maxPart = Math.max(maxPart, Math.abs(part[y * W + x]! - out[y * W + x]!));
  }
  // single-precision output: relative 1e-7 of the largest value
  assert.ok(maxErr < 2e-7 * maxVal, `max error ${maxErr} of ${maxVal}`);
  assert.ok(maxPart < 2e-7 * maxVal, `row-split result differs by ${maxPart}`);
  assert.ok(maxErrNoExtra < 2e-7 * maxVal, `max error without the extra image ${maxErrNoExtra}`);
});

test('sparse mask growth equals the dense box dilation (bits from the mask plane and from NaN/saturated flags)', async () => {
  const { MaskGrower, dilateMask } = await import('../../src/diffim/subtract.js');
  const { MaskBits } = await import('../../src/image/masked-image.js');
  const W = 97, H = 83, rng = new Rng(5);
  const m = new Uint32Array(W * H), flags = new Uint8Array(W * H);
  for (let i = 0; i < 40; i++) m[Math.floor(rng.next() * W * H)] = 1 << Math.floor(rng.next() * 4);
  for (let i = 0; i < 30; i++) flags[Math.floor(rng.next() * W * H)] = rng.next() < 0.5 ? 4 : 8;
  flags[0] = 4; flags[W * H - 1] = 8; // corners
  for (const r of [0, 1, 7, 20]) {
    const ref = new Uint32Array(W * H);
    for (let i = 0; i < ref.length; i++) ref[i] = m[i]! | (flags[i] === 4 ? MaskBits.NO_DATA : flags[i] === 8 ? MaskBits.SAT : 0);
    const want = dilateMask(ref, W, H, r);
    const g = new MaskGrower(W, H);
    const got = new Uint32Array(W * H);
    g.grow(got, m, flags, 4, 8, r);
    assert.deepEqual(got, want, `r = ${r}`);
    // the grower's scratch is left clean: a second use gives the same answer
    const again = new Uint32Array(W * H);
    g.grow(again, m, flags, 4, 8, r);
    assert.deepEqual(again, want, `reuse, r = ${r}`);
  }
});

test('flagged and NaN pixels read as 0 (bad plane) equal a convolution of the cleaned image', () => {
  const W = 301, H = 257, rng = new Rng(9);
  const src = new Float32Array(W * H), ex = new Float32Array(W * H), bad = new Uint8Array(W * H);
  for (let i = 0; i < src.length; i++) { src[i] = 100 + rng.normal() * 10; ex[i] = rng.normal(); }
  for (let i = 0; i < 400; i++) bad[Math.floor(rng.next() * W * H)] = 1 + Math.floor(rng.next() * 8);
  for (let y = 0; y < H; y++) bad[y * W + 77] = 4; // a bad column
  for (let i = 0; i < 50; i++) src[Math.floor(rng.next() * W * H)] = NaN; // NaN without a flag
  for (let i = 0; i < 50; i++) ex[Math.floor(rng.next() * W * H)] = NaN;
  const clean = (a: Float32Array) => Float32Array.from(a, (v, i) => (bad[i] || v !== v ? 0 : v));
  const size = 13, terms: KernelTerm[] = [];
  for (let t = 0; t <= 1; t++) for (let j = 0; j <= t; j++) {
    const k = new Float64Array(size * size);
    for (let i = 0; i < k.length; i++) k[i] = rng.normal();
    terms.push({ kernel: k, size, ax: t - j, ay: j });
  }
  const ek = new Float64Array(size * size);
  for (let i = 0; i < ek.length; i++) ek[i] = rng.normal();
  const base = { width: W, height: H, terms, cx: 150, cy: 128, sx: 150, sy: 128 };
  const a = convolveSpatial({ ...base, src, bad, extra: { src: ex, kernel: ek, size } });
  const b = convolveSpatial({ ...base, src: clean(src), extra: { src: clean(ex), kernel: ek, size } });
  let e = 0, m = 0;
  for (let i = 0; i < a.length; i++) { e = Math.max(e, Math.abs(a[i]! - b[i]!)); m = Math.max(m, Math.abs(b[i]!)); }
  assert.ok(e === 0 || e < 1e-7 * m, `max difference ${e} of ${m}`);
});
