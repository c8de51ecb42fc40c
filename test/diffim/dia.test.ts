import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, addGaussian, simulatePair } from '../../src/diffim/synth.js';
import { DiffPsf, subtractImages } from '../../src/diffim/subtract.js';
import { detectDiaSources, boxCascadeFor, psfStamper, StampPsf, type DiaSource } from '../../src/diffim/dia.js';
import { GaussianPsf, MoffatPsf, erf, type PsfLike } from '../../src/detect/psf-like.js';
import type { MaskedImage } from '../../src/image/masked-image.js';

/** The sparse matched filter must give the FFT path's detections: same list, same measurements. */
function assertSameDetections(a: DiaSource[], b: DiaSource[], what: string): void {
  assert.equal(a.length, b.length, `${what}: ${a.length} sparse vs ${b.length} FFT detections`);
  for (let k = 0; k < a.length; k++) {
    const s = a[k]!, t = b[k]!;
    assert.ok(Math.abs(s.x - t.x) < 1e-4 && Math.abs(s.y - t.y) < 1e-4, `${what} #${k}: (${s.x}, ${s.y}) vs (${t.x}, ${t.y})`);
    assert.ok(Math.abs(s.flux - t.flux) <= 1e-5 * Math.abs(t.flux) + 1e-6 * t.fluxErr, `${what} #${k}: flux ${s.flux} vs ${t.flux}`);
    assert.equal(s.flags, t.flags, `${what} #${k}: flags`);
    for (let f = 0; f < s.features.length; f++) {
      const u = s.features[f]!, v = t.features[f]!;
      assert.ok(Math.abs(u - v) <= 1e-4 * Math.abs(v) + 1e-6, `${what} #${k}: feature ${f} ${u} vs ${v}`);
    }
  }
}

test('sparse matched filter = FFT matched filter on a subtracted pair with bright transients, dipoles, cosmic rays, a bad column and a NaN region', () => {
  const rng = new Rng(3);
  const transients: { x: number; y: number; flux: number }[] = [];
  for (let i = 0; i < 40; i++) transients.push({ x: 20 + rng.next() * 984, y: 20 + rng.next() * 984, flux: 10 ** (2 + rng.next() * 4.5) });
  // faint companions next to very bright transients (the wings of the approximation differ most there)
  for (let i = 0; i < 6; i++) {
    const x = 150 + 140 * i, y = 300 + 60 * i;
    transients.push({ x, y, flux: 3e6 });
    for (const r of [5, 7, 9, 12, 15]) transients.push({ x: x + r * Math.cos(r), y: y + r * Math.sin(r), flux: 150 + 40 * r });
  }
  const movers = Array.from({ length: 10 }, (_, i) => ({ index: i, dx: 0.5 + 0.1 * i, dy: -0.3 }));
  const p = simulatePair({ width: 1024, height: 1024, seed: 5, nStars: 600, fluxRange: [800, 2e6], transients, movers, cosmicRays: 40, badColumn: 611, nanRect: [700, 100, 760, 180] });
  const r = subtractImages(p.science, p.template);
  for (const thresh of [3.5, 5, 8]) {
    const o = { thresh, fwhmPix: r.diffPsf.fwhmPix, templateSources: r.templateSources, matchedTemplate: r.matchedTemplate };
    const sparse = detectDiaSources(r.diff, r.psf, { ...o, matchedFilter: 'sparse' });
    const fft = detectDiaSources(r.diff, r.psf, { ...o, matchedFilter: 'fft' });
    assert.ok(sparse.length > 40, `${sparse.length} detections at ${thresh}σ`);
    assertSameDetections(sparse, fft, `pair at ${thresh}σ`);
  }
  // template blurrier than the science image: the science image is convolved and the decorrelated PSF
  // has a negative ring; transients of S/N ~300 put ring detections at 7–9 px that a box approximation
  // alone misses (the guard around bright sources evaluates their surroundings exactly)
  const rng2 = new Rng(1);
  const tr2: { x: number; y: number; flux: number }[] = [];
  for (let i = 0; i < 80; i++) tr2.push({ x: 20 + rng2.next() * 984, y: 20 + rng2.next() * 984, flux: 10 ** (2 + rng2.next() * 3) });
  const q = simulatePair({ width: 1024, height: 1024, seed: 1, nStars: 600, fluxRange: [800, 2e6], fwhmSci: 3, fwhmTmpl: 4.5, transients: tr2, cosmicRays: 30 });
  const r2 = subtractImages(q.science, q.template);
  assert.equal(r2.convolved, 'science');
  const o2 = { thresh: 5, fwhmPix: r2.diffPsf.fwhmPix };
  assertSameDetections(detectDiaSources(r2.diff, r2.psf, o2), detectDiaSources(r2.diff, r2.psf, { ...o2, matchedFilter: 'fft' }), 'science convolved');
});

/** A white-noise difference image with NaN borders and a NaN patch, sources rendered from `psf`. */
function syntheticDiff(psf: PsfLike, seed: number): MaskedImage {
  const W = 600, H = 500, sigma = 10;
  const rng = new Rng(seed);
  const image = new Float32Array(W * H), variance = new Float32Array(W * H).fill(sigma * sigma);
  for (let i = 0; i < image.length; i++) image[i] = sigma * rng.normal();
  const size = 41, h = 20;
  const put = (x: number, y: number, flux: number): void => {
    const st = psf.stampAt(x, y, size);
    for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) {
      const xx = Math.round(x) - h + i, yy = Math.round(y) - h + j;
      if (xx >= 0 && yy >= 0 && xx < W && yy < H) image[yy * W + xx]! += flux * st[j * size + i]!;
    }
  };
  for (let k = 0; k < 8; k++) {
    const x = 60 + 65 * k + rng.next(), y = 80 + 45 * k + rng.next();
    put(x, y, (k % 2 ? -1 : 1) * 10 ** (5 + 0.4 * k)); // bright, both signs
    for (const r of [4, 6, 8, 11, 14, 18]) put(x + r * Math.cos(2 * r + k), y + r * Math.sin(2 * r + k), (rng.next() < 0.3 ? -1 : 1) * (250 + 60 * rng.next()));
  }
  for (let k = 0; k < 150; k++) put(rng.next() * (W - 1), rng.next() * (H - 1), (rng.next() < 0.5 ? -1 : 1) * 10 ** (2.3 + 1.5 * rng.next()));
  // sources at the edges and next to undefined pixels
  for (const [x, y] of [[1, 250], [W - 2, 100], [300, 0], [300, H - 1], [4, 4], [405, 300], [395, 330]] as const) put(x, y, 2000);
  for (let y = 290; y < 320; y++) for (let x = 400; x < 440; x++) { image[y * W + x] = NaN; variance[y * W + x] = NaN; }
  for (let x = 0; x < W; x++) { image[(H - 3) * W + x] = NaN; } // a NaN row near the bottom
  return { width: W, height: H, image, variance };
}

test('sparse matched filter = FFT on Gaussian, Moffat and elongated PSFs with very bright sources, faint companions, edges and NaN', () => {
  const phi = new Float64Array(9 * 9);
  for (let j = 0; j < 9; j++) for (let i = 0; i < 9; i++) phi[j * 9 + i] = (i === 4 && j === 4 ? 1.08 : 0) - 0.001 * Math.exp(-((i - 4) ** 2 + (j - 4) ** 2) / 4);
  // elongated PSFs as constant stamps (along x, skewed), and a double image (a tracking jump: poorly
  // matched by boxes, ρ ≈ 0.8, so the FFT fallback is used)
  const es = 31;
  const elongated = (skew: number, sx: number, sy: number): Float32Array => {
    const e = new Float32Array(es * es);
    let sum = 0;
    for (let j = 0; j < es; j++) for (let i = 0; i < es; i++) {
      const u = i - 15, v = j - 15;
      const val = sx > 0 ? Math.exp(-((u + skew * v) ** 2 / (2 * sx ** 2) + v * v / (2 * sy ** 2))) : Math.exp(-((u + 3) ** 2 + v * v) / (2 * 1.3 ** 2)) + 0.8 * Math.exp(-((u - 4) ** 2 + (v + 1) ** 2) / (2 * 1.3 ** 2));
      e[j * es + i] = val; sum += val;
    }
    for (let i = 0; i < e.length; i++) e[i]! /= sum;
    return e;
  };
  const psfs: [string, PsfLike, number][] = [
    ['Gaussian 2.5 px', new GaussianPsf(2.5), 2.5],
    ['Gaussian 4.7 px ⊗ φ', new DiffPsf(new GaussianPsf(4.7), phi, 9, 4.7), 4.7],
    ['Moffat 3.5 px ⊗ φ', new DiffPsf(new MoffatPsf(3.5, 2.5), phi, 9, 3.5), 3.5],
    ['elongated along x', new StampPsf(elongated(0, 2.6, 1.5), es, 4.5), 4.5],
    ['elongated and skewed', new StampPsf(elongated(0.8, 2.6, 1.2), es, 4.5), 4.5],
    ['double', new StampPsf(elongated(0, 0, 0), es, 4.5), 4.5],
  ];
  for (const [name, psf, fwhm] of psfs) {
    const d = syntheticDiff(psf, name.length);
    for (const thresh of [4, 5]) {
      const sparse = detectDiaSources(d, psf, { thresh, fwhmPix: fwhm, matchedFilter: 'sparse' });
      const fft = detectDiaSources(d, psf, { thresh, fwhmPix: fwhm, matchedFilter: 'fft' });
      assert.ok(sparse.length > 100, `${name}: ${sparse.length} detections`);
      assertSameDetections(sparse, fft, `${name} at ${thresh}σ`);
    }
  }
});

test('the two-box approximation of a round Gaussian PSF correlates at ρ > 0.98; an elongated PSF gets different boxes along x and y', () => {
  for (const fwhm of [2.5, 3, 4.7, 8]) {
    const size = 2 * Math.ceil(2 * fwhm) + 1;
    const b = boxCascadeFor(new GaussianPsf(fwhm).stampAt(0, 0, size), size);
    assert.deepEqual(b.wx, b.wy, 'round PSF: the same boxes along x and y');
    assert.ok(b.rho > 0.98, `FWHM ${fwhm}: ρ = ${b.rho} with widths ${b.wx}`);
  }
  const size = 25, P = new Float32Array(size * size);
  for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) P[j * size + i] = Math.exp(-((i - 12) ** 2 / (2 * 3 ** 2) + (j - 12) ** 2 / (2 * 1.4 ** 2)));
  const b = boxCascadeFor(P, size);
  assert.ok(b.wx[0] + b.wx[1] > b.wy[0] + b.wy[1] && b.rho > 0.98, `elongated: x ${b.wx}, y ${b.wy}, ρ ${b.rho}`);
});

test('GaussianPsf stamps are exact pixel integrals (erf differences), separable, and DiffPsf stamps made separably equal DiffPsf.stampAt', () => {
  // erf against a fine Simpson integration of 2/√π·exp(−t²)
  for (const x of [-3.7, -2.5, -1, -0.2, 0, 0.3, 1.1, 2.49, 2.51, 4, 6.5]) {
    const n = 4000, hh = x / n;
    let s = 0;
    for (let i = 0; i <= n; i++) s += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * Math.exp(-((i * hh) ** 2));
    assert.ok(Math.abs(erf(x) - (s * hh) / 3 * 2 / Math.sqrt(Math.PI)) < 1e-12, `erf(${x})`);
  }
  const g = new GaussianPsf(3.3), size = 17, sig = 3.3 / 2.3548200450309493;
  const st = g.stampAt(10.31, 20.77, size);
  // midpoint integration with 400 × 400 sub-samples of pixel (u, v) as the reference
  for (const [u, v] of [[8, 8], [7, 9], [3, 11], [12, 2]] as const) {
    const cx = 8 + 0.31, cy = 8 - 0.23;
    let ix = 0, iy = 0;
    for (let a = 0; a < 400; a++) { const t = u - 0.5 + (a + 0.5) / 400; ix += Math.exp(-((t - cx) ** 2) / (2 * sig * sig)); }
    for (let a = 0; a < 400; a++) { const t = v - 0.5 + (a + 0.5) / 400; iy += Math.exp(-((t - cy) ** 2) / (2 * sig * sig)); }
    const want = (ix / 400) * (iy / 400) / (2 * Math.PI * sig * sig);
    assert.ok(Math.abs(st[v * size + u]! - want) < 1e-7 * 0.1 + 1e-5 * want, `pixel (${u}, ${v}): ${st[v * size + u]} vs ${want}`);
  }
  let tot = 0;
  for (const val of g.stampAt(0, 0, 41)) tot += val;
  assert.ok(Math.abs(tot - 1) < 1e-6, `sum ${tot}`);
  const gx = new Float64Array(size), gy = new Float64Array(size);
  assert.ok(g.separableStampAt(10.31, 20.77, size, gx, gy));
  for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) assert.ok(Math.abs(gx[i]! * gy[j]! - st[j * size + i]!) <= 1e-7 * st[j * size + i]! + 1e-12);
  // DiffPsf over a Gaussian: the separable stamper equals the direct cropped convolution
  const ps = 21;
  const phi = new Float64Array(ps * ps);
  for (let j = 0; j < ps; j++) for (let i = 0; i < ps; i++) phi[j * ps + i] = Math.exp(-((i - 10) ** 2 + (j - 9) ** 2) / 3) * (1 + 0.1 * Math.sin(i * j));
  const d = new DiffPsf(new GaussianPsf(4.7), phi, ps, 4.7);
  for (const sz of [15, 21, 31]) {
    const fast = psfStamper(d, sz);
    for (const [x, y] of [[100.3, 200.7], [5, 6], [7.49, 8.51]] as const) {
      const want = d.stampAt(x, y, sz), got = fast(x, y, new Float32Array(sz * sz));
      let peak = 0;
      for (const w of want) peak = Math.max(peak, Math.abs(w));
      for (let k = 0; k < want.length; k++) assert.ok(Math.abs(got[k]! - want[k]!) <= 1e-6 * peak, `size ${sz} at (${x}, ${y}) #${k}: ${got[k]} vs ${want[k]}`);
    }
  }
});

test('detections of injected point sources: positions and fluxes unbiased on a pure-noise difference image', () => {
  // PSF fluxes from the exact Gaussian stamps: mean ratio within 1% for S/N ≈ 50 sources
  const W = 400, H = 400, sigma = 5, fwhm = 3.8;
  const rng = new Rng(17);
  const image = new Float32Array(W * H), variance = new Float32Array(W * H).fill(sigma * sigma);
  for (let i = 0; i < image.length; i++) image[i] = sigma * rng.normal();
  const truth: { x: number; y: number; flux: number }[] = [];
  for (let k = 0; k < 60; k++) {
    const t = { x: 20 + (k % 8) * 48 + rng.next() * 4, y: 20 + Math.floor(k / 8) * 48 + rng.next() * 4, flux: (k % 2 ? 1 : -1) * 2500 };
    truth.push(t);
    addGaussian(image, W, H, t.x, t.y, t.flux, fwhm);
  }
  const dia = detectDiaSources({ width: W, height: H, image, variance }, new GaussianPsf(fwhm), { thresh: 5, fwhmPix: fwhm });
  let n = 0, sr = 0;
  for (const t of truth) {
    const m = dia.find((s) => Math.hypot(s.x - t.x, s.y - t.y) < 1);
    assert.ok(m, `source at (${t.x.toFixed(1)}, ${t.y.toFixed(1)}) found`);
    assert.ok(Math.abs(m.x - t.x) < 0.3 && Math.abs(m.y - t.y) < 0.3, 'position within 0.3 px');
    sr += m.flux / t.flux; n++;
  }
  assert.ok(Math.abs(sr / n - 1) < 0.01, `mean flux ratio ${sr / n}`);
  assert.ok(dia.length <= truth.length + 2, `${dia.length - truth.length} spurious detections`);
});
