import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  quickselect, medianInPlace, median, mad, clippedStats, sextractorMode, percentile,
  fftComplex, fftReal, ifftReal, fft2d, nextPow2,
  correlateDirect, correlateSeparable, correlateFFT, correlate, convolve, gaussianKernel, separate, kernel, matchedFilter,
  interpolateLanczos3, interpolateBilinear, warpImage, splineGridToImage, lanczos3,
  maskedImage, badPixelMap, MaskBits, maskBitNames, maskOf, weightToVariance,
} from '../../src/image/index.js';
import { rng, gaussianRng } from '../detect/sim.js';

test('quickselect and median agree with a full sort (odd, even, duplicates)', () => {
  const u = rng(11);
  for (const n of [1, 2, 3, 10, 101, 1000, 1001]) {
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = Math.floor(u() * 50); // many duplicates
    const sorted = Float64Array.from(a).sort();
    for (const k of [0, n >> 1, n - 1]) assert.equal(quickselect(Float64Array.from(a), k), sorted[k]);
    const m = n & 1 ? sorted[n >> 1]! : 0.5 * (sorted[n / 2 - 1]! + sorted[n / 2]!);
    assert.equal(medianInPlace(Float64Array.from(a)), m);
    assert.equal(median(a), m);
  }
  assert.ok(Number.isNaN(median([])));
  assert.equal(median([NaN, 3, 1, Infinity, 2]), 2);
  assert.equal(percentile([1, 2, 3, 4, 5], 50), 3);
  assert.equal(percentile([1, 2, 3, 4, 5], 25), 2);
});

test('MAD and clipped statistics resist outliers; SExtractor mode formula', () => {
  const g = gaussianRng(rng(5));
  const n = 20000;
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = 100 + 10 * g();
  for (let i = 0; i < 2000; i++) v[i] = 100 + 500 * Math.abs(g()) + 50; // 10% bright outliers
  const m = mad(v);
  assert.ok(Math.abs(m.median - 100) < 3, `median ${m.median}`);
  const c = clippedStats(v, 3);
  assert.ok(Math.abs(c.median - 100) < 1.5, `clipped median ${c.median}`);
  assert.ok(Math.abs(c.sigma - 10) < 1.5, `clipped sigma ${c.sigma}`);
  // the mode estimate is closer to the true peak (100) than the clipped mean
  assert.ok(Math.abs(c.mode - 100) <= Math.abs(c.mean - 100) + 1e-9);
  assert.equal(sextractorMode(10, 9, 10), 2.5 * 9 - 1.5 * 10);
  assert.equal(sextractorMode(20, 9, 10), 9); // too skewed: the median
});

test('complex FFT matches a direct DFT; inverse restores the input', () => {
  const u = rng(3);
  const n = 64;
  const re = new Float64Array(n), im = new Float64Array(n);
  for (let i = 0; i < n; i++) { re[i] = u() - 0.5; im[i] = u() - 0.5; }
  const r2 = Float64Array.from(re), i2 = Float64Array.from(im);
  fftComplex(r2, i2);
  for (const k of [0, 1, 7, 31, 32, 63]) {
    let sr = 0, si = 0;
    for (let t = 0; t < n; t++) {
      const a = (-2 * Math.PI * t * k) / n;
      sr += re[t]! * Math.cos(a) - im[t]! * Math.sin(a);
      si += re[t]! * Math.sin(a) + im[t]! * Math.cos(a);
    }
    assert.ok(Math.abs(sr - r2[k]!) < 1e-12 && Math.abs(si - i2[k]!) < 1e-12, `bin ${k}`);
  }
  fftComplex(r2, i2, true);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(r2[i]! - re[i]!) < 1e-14 && Math.abs(i2[i]! - im[i]!) < 1e-14);
  assert.throws(() => fftComplex(new Float64Array(12), new Float64Array(12)), /power of two/);
  assert.equal(nextPow2(100), 128);
});

test('real FFT equals the complex FFT of real data and round-trips', () => {
  const u = rng(9);
  const n = 256;
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = u();
  const { re, im } = fftReal(x);
  const cr = Float64Array.from(x), ci = new Float64Array(n);
  fftComplex(cr, ci);
  for (let k = 0; k <= n / 2; k++) assert.ok(Math.abs(re[k]! - cr[k]!) < 1e-11 && Math.abs(im[k]! - ci[k]!) < 1e-11, `k=${k}`);
  const back = ifftReal(re, im, n);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(back[i]! - x[i]!) < 1e-13);
});

test('2-D FFT of a point is flat; inverse restores', () => {
  const nx = 16, ny = 8;
  const re = new Float64Array(nx * ny), im = new Float64Array(nx * ny);
  re[0] = 1;
  fft2d(re, im, nx, ny);
  for (let i = 0; i < nx * ny; i++) assert.ok(Math.abs(re[i]! - 1) < 1e-15 && Math.abs(im[i]!) < 1e-15);
  fft2d(re, im, nx, ny, true);
  assert.ok(Math.abs(re[0]! - 1) < 1e-15 && Math.abs(re[5]!) < 1e-15);
});

function randomImage(w: number, h: number, seed: number): Float32Array {
  const u = rng(seed);
  const a = new Float32Array(w * h);
  for (let i = 0; i < a.length; i++) a[i] = u() * 100 - 20;
  return a;
}

test('direct, separable and FFT correlation agree (3×3, 7×7, 25×25 kernels, edges included)', () => {
  const w = 200, h = 150;
  const img = randomImage(w, h, 1);
  for (const fwhm of [1.5, 3, 8]) {
    const k = gaussianKernel(fwhm);
    const a = correlateDirect(img, w, h, k);
    const s = separate(k);
    assert.ok(s, 'a Gaussian kernel is separable');
    const b = correlateSeparable(img, w, h, s!.kx, s!.ky);
    const c = correlateFFT(img, w, h, k);
    let maxAB = 0, maxAC = 0;
    for (let i = 0; i < a.length; i++) { maxAB = Math.max(maxAB, Math.abs(a[i]! - b[i]!)); maxAC = Math.max(maxAC, Math.abs(a[i]! - c[i]!)); }
    assert.ok(maxAB < 1e-3, `separable vs direct ${maxAB} (fwhm ${fwhm}, ${k.width}px)`);
    assert.ok(maxAC < 1e-3, `FFT vs direct ${maxAC} (fwhm ${fwhm}, ${k.width}px)`);
    const auto = correlate(img, w, h, k);
    for (let i = 0; i < a.length; i += 97) assert.ok(Math.abs(auto[i]! - a[i]!) < 1e-3);
  }
  // a non-separable, asymmetric kernel: FFT vs direct
  const k = kernel(5, 3, [1, 2, 0, -1, 3, 0, 1, 5, 2, 0, 4, -2, 1, 0, 1]);
  assert.equal(separate(k), null);
  const a = correlateDirect(img, w, h, k), c = correlateFFT(img, w, h, k);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - c[i]!) < 2e-3);
});

test('convolution of a point source reproduces the (flipped) kernel; correlation the mirrored one', () => {
  const w = 21, h = 21;
  const img = new Float32Array(w * h);
  img[10 * w + 10] = 1;
  const k = kernel(3, 3, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const cv = convolve(img, w, h, k, 'direct');
  const cr = correlate(img, w, h, k, 'direct');
  // convolution: out(10 + i − 1, 10 + j − 1) = k[j][i]
  assert.equal(cv[9 * w + 9], 1); assert.equal(cv[11 * w + 11], 9); assert.equal(cv[9 * w + 11], 3);
  // correlation: out(10 − (i − 1), 10 − (j − 1)) = k[j][i]
  assert.equal(cr[11 * w + 11], 1); assert.equal(cr[9 * w + 9], 9);
  const cf = convolve(img, w, h, k, 'fft');
  for (let i = 0; i < w * h; i++) assert.ok(Math.abs(cf[i]! - cv[i]!) < 1e-9);
});

test('Lanczos-3: kernel values, exact at integer positions, accurate on a well-sampled Gaussian', () => {
  assert.equal(lanczos3(0), 1);
  assert.ok(Math.abs(lanczos3(1)) < 1e-9 && Math.abs(lanczos3(2)) < 1e-9 && lanczos3(3) === 0);
  const w = 64, h = 64, s = 2.5;
  const g = (x: number, y: number) => Math.exp(-((x - 31.3) ** 2 + (y - 30.8) ** 2) / (2 * s * s));
  const img = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) img[y * w + x] = g(x, y);
  assert.ok(Math.abs(interpolateLanczos3(img, w, h, 20, 17) - img[17 * w + 20]!) < 1e-9 * img[31 * w + 31]!);
  let maxErr = 0;
  const u = rng(4);
  for (let t = 0; t < 200; t++) {
    const x = 25 + u() * 12, y = 25 + u() * 12;
    maxErr = Math.max(maxErr, Math.abs(interpolateLanczos3(img, w, h, x, y) - g(x, y)));
  }
  assert.ok(maxErr < 5e-3, `max Lanczos error ${maxErr} of a unit peak`);
  assert.ok(Number.isNaN(interpolateLanczos3(img, w, h, -1, 3)));
  // bilinear is exact on a plane
  const plane = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) plane[y * w + x] = 3 + 0.5 * x - 0.25 * y;
  assert.ok(Math.abs(interpolateBilinear(plane, w, h, 10.3, 20.7) - (3 + 5.15 - 5.175)) < 1e-5);
});

test('warpImage: integer shift is exact, sub-pixel shift of a Gaussian accurate, outside = fill', () => {
  const w = 48, h = 40, s = 2;
  const g = (x: number, y: number) => 100 * Math.exp(-((x - 24) ** 2 + (y - 20) ** 2) / (2 * s * s));
  const img = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) img[y * w + x] = g(x, y);
  const shifted = warpImage(img, w, h, w, h, (y, xs, ys) => { for (let x = 0; x < w; x++) { xs[x] = x + 2; ys[x] = y - 1; } });
  assert.ok(Math.abs(shifted[20 * w + 10]! - img[19 * w + 12]!) < 1e-9);
  assert.ok(Number.isNaN(shifted[5 * w + 47]));
  const sub = warpImage(img, w, h, w, h, (y, xs, ys) => { for (let x = 0; x < w; x++) { xs[x] = x + 0.37; ys[x] = y - 0.61; } }, { fill: 0 });
  let maxErr = 0;
  for (let y = 10; y < 30; y++) for (let x = 14; x < 34; x++) maxErr = Math.max(maxErr, Math.abs(sub[y * w + x]! - g(x + 0.37, y - 0.61)));
  assert.ok(maxErr < 0.6, `sub-pixel warp error ${maxErr} of a 100 peak`);
});

test('bicubic spline grid: exact on planes, accurate on a smooth surface', () => {
  const nx = 6, ny = 5, W = 300, H = 250;
  const xn = Float64Array.from({ length: nx }, (_, i) => 25 + 50 * i);
  const yn = Float64Array.from({ length: ny }, (_, j) => 25 + 50 * j);
  const planeV = new Float64Array(nx * ny), smooth = new Float64Array(nx * ny);
  const f = (x: number, y: number) => 100 + 10 * Math.sin(x / 90) * Math.cos(y / 110);
  for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) { planeV[j * nx + i] = 7 + 0.1 * xn[i]! - 0.03 * yn[j]!; smooth[j * nx + i] = f(xn[i]!, yn[j]!); }
  const p = splineGridToImage(planeV, nx, ny, xn, yn, W, H);
  for (const [x, y] of [[0, 0], [137, 88], [299, 249], [25, 25]]) assert.ok(Math.abs(p[y! * W + x!]! - (7 + 0.1 * x! - 0.03 * y!)) < 1e-3);
  const s = splineGridToImage(smooth, nx, ny, xn, yn, W, H);
  let maxErr = 0;
  // natural end conditions (f'' = 0) are approximate near the outer nodes: check the interior
  for (let y = 75; y <= 175; y += 5) for (let x = 75; x <= 225; x += 5) maxErr = Math.max(maxErr, Math.abs(s[y * W + x]! - f(x, y)));
  assert.ok(maxErr < 0.05, `spline error ${maxErr} on a ±10 surface`);
});

test('masked images: plane sizes checked, bad-pixel map, weights → variance, mask bit names', () => {
  assert.throws(() => maskedImage(3, 3, new Float32Array(8)), /9/);
  const img = maskedImage(3, 1, Float32Array.from([1, NaN, 3]), Float32Array.from([1, 1, 0]), Uint32Array.from([0, 0, 0]));
  assert.deepEqual(Array.from(badPixelMap(img)), [0, 1, 1]);
  const img2 = maskedImage(2, 1, Float32Array.from([1, 2]), undefined, Uint32Array.from([MaskBits.SAT, MaskBits.DETECTED]));
  assert.deepEqual(Array.from(badPixelMap(img2)), [1, 0]);
  assert.deepEqual(maskBitNames(MaskBits.BAD | MaskBits.CR), ['BAD', 'CR']);
  assert.equal(maskOf('BAD', 'SAT'), 3);
  assert.deepEqual(Array.from(weightToVariance(Float32Array.from([4, 0, -1]))), [0.25, Infinity, Infinity]);
});

test('matched filter: flux of a point source at its position, unit S/N scatter on noise', () => {
  const w = 128, h = 128, s = 1.5;
  const size = 13, c = 6;
  const kd = new Float64Array(size * size);
  let sum = 0;
  for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) { const v = Math.exp(-((i - c) ** 2 + (j - c) ** 2) / (2 * s * s)); kd[j * size + i] = v; sum += v; }
  for (let i = 0; i < kd.length; i++) kd[i]! /= sum;
  const k = kernel(size, size, kd);
  const g = gaussianRng(rng(12));
  const img = new Float32Array(w * h);
  for (let i = 0; i < img.length; i++) img[i] = 10 * g();
  // a source of flux 5000 exactly on pixel (64, 64): the same profile as the kernel
  for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) img[(58 + j) * w + 58 + i]! += 5000 * kd[j * size + i]!;
  const { flux, snr } = matchedFilter(img, 100, w, h, k);
  assert.ok(Math.abs(flux[64 * w + 64]! / 5000 - 1) < 0.05, `flux ${flux[64 * w + 64]}`);
  // S/N of pure noise: unit variance (away from the source and edges)
  let s2 = 0, m = 0;
  for (let y = 10; y < 40; y++) for (let x = 10; x < 118; x++) { s2 += snr[y * w + x]! ** 2; m++; }
  assert.ok(Math.abs(Math.sqrt(s2 / m) - 1) < 0.15, `noise S/N rms ${Math.sqrt(s2 / m)}`);
});
