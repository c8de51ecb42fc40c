import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitWcs, HeaderText, minStarsFor, Wcs } from '../../src/wcs/index.js';
import { TesseraError } from '../../src/util/errors.js';
import { readFixture, sepMas } from './fixtures.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}
function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-300)) * Math.cos(2 * Math.PI * r());
}

/** Stars uniformly over the image, with reference positions from the true WCS plus noise (arcsec per axis). */
function stars(truth: Wcs, n: number, noiseArcsec: number, seed: number) {
  const [W, H] = truth.naxis!;
  const r = rng(seed);
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = 0.5 + W * r();
    y[i] = 0.5 + H * r();
  }
  const s = truth.pixToSky(x, y);
  for (let i = 0; i < n; i++) {
    s.dec[i] = s.dec[i]! + (noiseArcsec * gauss(r)) / 3600;
    s.ra[i] = s.ra[i]! + (noiseArcsec * gauss(r)) / 3600 / Math.cos((s.dec[i]! * Math.PI) / 180);
  }
  return { x, y, ra: s.ra, dec: s.dec };
}

/** Largest separation between two WCSs over a 21×21 grid covering the image, mas. */
function maxDiffMas(a: Wcs, b: Wcs): number {
  const [W, H] = a.naxis!;
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i <= 20; i++) for (let j = 0; j <= 20; j++) { xs.push(0.5 + (W * i) / 20); ys.push(0.5 + (H * j) / 20); }
  const p = a.pixToSky(xs, ys);
  const q = b.pixToSky(xs, ys);
  let worst = 0;
  for (let i = 0; i < xs.length; i++) worst = Math.max(worst, sepMas(p.ra[i]!, p.dec[i]!, q.ra[i]!, q.dec[i]!));
  return worst;
}

const decam = () => Wcs.fromHeader(HeaderText.parse(readFixture('decam_tpv.head').text));
const hst = () => Wcs.fromHeader(HeaderText.parse(readFixture('hst_sip.head').text));

test('TPV order 3 recovers the DECam-like TPV distortion to < 1 mas from noise-free stars', () => {
  const truth = decam();
  const f = fitWcs(stars(truth, 800, 0, 1), { model: 'tpv', order: 3, imageSize: truth.naxis });
  const d = maxDiffMas(truth, f.wcs);
  assert.ok(d < 1, `max difference ${d} mas`);
  assert.equal(f.nClipped, 0);
  assert.equal(f.nUsed, 800);
  assert.ok(f.rmsArcsec < 1e-4);
  assert.equal(f.wcs.distortion, 'tpv');
});

test('TPV with radial terms (r, r³, r⁵) up to order 5 is recovered to < 1 mas', () => {
  const s = 0.2 / 3600;
  const pv1 = new Array(24).fill(0);
  const pv2 = new Array(24).fill(0);
  pv1[1] = 1; pv2[1] = 1;
  pv1[3] = 2e-4; pv2[3] = -1e-4; // r
  pv1[5] = 3e-3; pv2[4] = -2e-3; pv1[7] = 0.02; pv2[9] = -0.015;
  pv1[11] = 0.03; pv2[11] = 0.03; // r³
  pv1[17] = 0.4; pv2[20] = -0.3; pv1[23] = 0.5; pv2[23] = 0.5; // 5th order and r⁵
  const truth = new Wcs({ crval: [20, -35], crpix: [1024.5, 1024.5], cd: [-s * 0.99, s * 0.05, s * 0.05, s], tpv: { pv1, pv2 }, naxis: [2048, 2048] });
  const f = fitWcs(stars(truth, 1500, 0, 2), { model: 'tpv', order: 5, tpvRadial: true, imageSize: [2048, 2048] });
  const d = maxDiffMas(truth, f.wcs);
  assert.ok(d < 1, `max difference ${d} mas`);
});

test('TAN-SIP order 4 recovers the ACS-like SIP to < 1 mas; fitted AP/BP invert to < 0.05 px before refinement', () => {
  const truth = hst();
  const f = fitWcs(stars(truth, 1000, 0, 3), { model: 'tan-sip', order: 4, imageSize: truth.naxis });
  const d = maxDiffMas(truth, f.wcs);
  assert.ok(d < 1, `max difference ${d} mas`);
  assert.ok(f.wcs.sip!.hasInverse);
  assert.ok(f.sipInverseMaxErrorPix! < 0.05, `AP/BP error ${f.sipInverseMaxErrorPix}`);
  assert.equal(f.wcs.sip!.apOrder, 5);
  // CRPIX defaults to the image centre; CRVAL lands where the truth puts that pixel.
  assert.deepEqual(f.wcs.crpix, [2048.5, 1024.5]);
  const c = truth.pixToSkyOne(2048.5, 1024.5);
  assert.ok(sepMas(c[0], c[1], f.wcs.crval[0], f.wcs.crval[1]) < 0.01);
});

test('TAN fit of a TAN truth is exact; with 30 mas noise the rms and the error match the noise level', () => {
  const s = 0.263 / 3600;
  const truth = Wcs.tan({ crval: [359.99, 89.2], crpix: [1000, 2000], cd: [[-s, 1e-7], [2e-7, s]], naxis: [2048, 4096] });
  const exact = fitWcs(stars(truth, 50, 0, 4), { model: 'tan', imageSize: [2048, 4096], crpix: [1000, 2000] });
  assert.ok(maxDiffMas(truth, exact.wcs) < 1e-3);
  const noisy = fitWcs(stars(truth, 2000, 0.03, 5), { model: 'tan', imageSize: [2048, 4096] });
  // 2-D rms of per-axis σ = 30 mas is 42.4 mas (minus the few 3σ-clipped stars).
  assert.ok(Math.abs(noisy.rmsArcsec - 0.0424) < 0.003, `rms ${noisy.rmsArcsec}`);
  assert.ok(noisy.nClipped < 40, `clipped ${noisy.nClipped}`);
  assert.ok(maxDiffMas(truth, noisy.wcs) < 6, `error vs truth ${maxDiffMas(truth, noisy.wcs)} mas`);
});

test('TPV fit with 20 mas noise: rms at the noise level, error vs truth a few mas; outliers are clipped', () => {
  const truth = decam();
  const p = stars(truth, 1500, 0.02, 6);
  // 5% gross mismatches, 2–10 arcsec off.
  const r = rng(99);
  const bad: number[] = [];
  for (let i = 0; i < 1500; i += 20) {
    p.dec[i] = p.dec[i]! + (2 + 8 * r()) / 3600;
    bad.push(i);
  }
  const f = fitWcs(p, { model: 'tpv', order: 3, imageSize: truth.naxis });
  for (const i of bad) assert.equal(f.residuals.used[i], 0, `outlier ${i} kept`);
  assert.ok(Math.abs(f.rmsArcsec - 0.0283) < 0.003, `rms ${f.rmsArcsec}`);
  assert.ok(maxDiffMas(truth, f.wcs) < 10, `error vs truth ${maxDiffMas(truth, f.wcs)} mas`);
  assert.ok(f.nClipped >= bad.length && f.nClipped < bad.length + 40);
  // Residuals are reference − fit on the sky.
  assert.ok(Math.abs(f.residuals.dDecArcsec[bad[0]!]!) > 1.5);
});

test('weights: a zero weight excludes a star; a wildly wrong star with weight 0 does not bias the fit', () => {
  const truth = hst();
  const p = stars(truth, 300, 0, 7);
  p.ra[0] = p.ra[0]! + 0.01;
  const weight = new Float64Array(300).fill(1);
  weight[0] = 0;
  const f = fitWcs({ ...p, weight }, { model: 'tan-sip', order: 4, clipSigma: 0 });
  assert.equal(f.nUsed, 299);
  assert.equal(f.nClipped, 0);
  assert.ok(maxDiffMas(truth, f.wcs) < 1, `biased: ${maxDiffMas(truth, f.wcs)} mas`);
  // Its residual is still reported: 0.01° of RA at its declination.
  assert.ok(Math.abs(f.residuals.dRaArcsec[0]! - 36 * Math.cos((p.dec[0]! * Math.PI) / 180)) < 0.01);
  assert.equal(f.residuals.used[0], 0);
});

test('origin 0 pixel positions give the same WCS as FITS positions', () => {
  const truth = hst();
  const p = stars(truth, 200, 0, 8);
  const a = fitWcs(p, { model: 'tan-sip', order: 4, crpix: [2048, 1024], imageSize: [4096, 2048] });
  const b = fitWcs({ ...p, x: p.x.map((v) => v - 1), y: p.y.map((v) => v - 1) }, { model: 'tan-sip', order: 4, crpix: [2048, 1024], origin: 0, imageSize: [4096, 2048] });
  assert.ok(maxDiffMas(truth, b.wcs) < 1 && maxDiffMas(a.wcs, b.wcs) < 1e-6);
});

test('too few stars, collinear stars and bad options fail with a clear TesseraError', () => {
  const truth = decam();
  assert.equal(minStarsFor('tpv', 3), 12);
  assert.equal(minStarsFor('tan'), 5);
  assert.equal(minStarsFor('tan-sip', 3), 12);
  const few = stars(truth, 11, 0, 9);
  assert.throws(() => fitWcs(few, { model: 'tpv', order: 3 }), (e: unknown) => e instanceof TesseraError && /11 usable stars is too few for a TPV order 3 fit \(needs at least 12\)/.test(e.message));
  assert.throws(() => fitWcs(stars(truth, 3, 0, 9), { model: 'tan' }), /3 usable stars is too few for a TAN fit/);
  const line = { x: [1, 2, 3, 4, 5, 6, 7, 8], y: [1, 2, 3, 4, 5, 6, 7, 8], ra: [10, 10.001, 10.002, 10.003, 10.004, 10.005, 10.006, 10.007], dec: [0, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007] };
  assert.throws(() => fitWcs(line, { model: 'tan' }), (e: unknown) => e instanceof TesseraError && /degenerate/.test(e.message));
  assert.throws(() => fitWcs(few, { model: 'tpv', order: 9 }), /order 9 is not valid/);
  assert.throws(() => fitWcs({ ...few, ra: [1] }, { model: 'tan' }), /same length/);
});
