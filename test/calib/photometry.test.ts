import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clippedMean, zeroPoint, apertureCorrection, exposureZeroPoint, psfDepth, zeroPointError, APCORR_ERR_UNMEASURED_MAG } from '../../src/calib/photometry.js';
import { rng } from '../psf/synth.js';

test('clipped mean rejects outliers and gives σ/√N', () => {
  const r = rng(5);
  const v = Array.from({ length: 400 }, () => 1 + 0.02 * r.gauss());
  for (let i = 0; i < 20; i++) v.push(3 + r.uniform());
  const st = clippedMean(v);
  assert.ok(Math.abs(st.mean - 1) < 0.004, `mean ${st.mean}`);
  assert.ok(st.n >= 380 && st.n <= 400, `n ${st.n}`);
  assert.ok(Math.abs(st.err - 0.02 / 20) < 3e-4, `err ${st.err}`);
});

test('zero point from simulated stars within 0.01 mag, with outliers and a G-only style offset', () => {
  const r = rng(8);
  const zpTrue = 31.234;
  const n = 150;
  const flux: number[] = [], err: number[] = [], mag: number[] = [];
  for (let i = 0; i < n; i++) {
    const m = 16 + 5 * r.uniform();
    const f = 10 ** (-0.4 * (m - zpTrue));
    const e = Math.sqrt(f / 4 + 25 * 100);
    flux.push(f + e * r.gauss()); err.push(e); mag.push(m + 0.02 * r.gauss());
  }
  for (let i = 0; i < 10; i++) mag[i] = mag[i]! + 1.5; // variables / mismatches
  const z = zeroPoint(flux, err, mag);
  assert.ok(Math.abs(z.zp - zpTrue) < 0.01, `zp ${z.zp}`);
  assert.ok(z.zpErr > 0 && z.zpErr < 0.01);
  assert.ok(z.nStars >= 130 && z.nStars <= 140, `n ${z.nStars}`);
  assert.throws(() => zeroPoint(flux.slice(0, 2), err.slice(0, 2), mag.slice(0, 2), { what: 'CCD N4 zero point' }), /CCD N4 zero point: only 2 usable matched star/);
});

test('aperture correction, exposure outliers and depth', () => {
  const ac = apertureCorrection([100, 200, 300, 400, 500], [103, 206, 309, 412, 515], [1, 1, 1, 1, 1]);
  assert.ok(Math.abs(ac.factor - 1.03) < 1e-9);
  const ex = exposureZeroPoint([{ ccd: 'N1', zp: 31.0 }, { ccd: 'N2', zp: 31.02 }, { ccd: 'N3', zp: 30.8 }, { ccd: 'N4', zp: 31.01 }, { ccd: 'N5', zp: 30.99 }, { ccd: 'N6', zp: 31.0 }]);
  assert.deepEqual(ex.outliers, ['N3']);
  assert.equal(ex.exposureFlagged, false);
  // depth: sky σ = 10, NEA = 4π σ_psf² for a Gaussian; 5σ flux = 5·10·√NEA
  const nea = 4 * Math.PI * 1.7 ** 2;
  assert.ok(Math.abs(psfDepth(30, 10, nea) - (30 - 2.5 * Math.log10(50 * Math.sqrt(nea)))) < 1e-12);
});

test('CCD zero point from Gaia G/BP/RP through the colour terms, and G-only mode', async () => {
  const { ccdZeroPoint } = await import('../../src/calib/photometry.js');
  const { gaiaColorCorrection } = await import('../../src/calib/colorterms.js');
  const r = rng(12);
  const zpTrue = 30.5, n = 80;
  const G: number[] = [], BP: number[] = [], RP: number[] = [], f: number[] = [], e: number[] = [];
  for (let i = 0; i < n; i++) {
    const g = 16 + 4 * r.uniform(), c = 0.4 + 2 * r.uniform();
    G.push(g); BP.push(g + 0.4 * c); RP.push(g - 0.6 * c);
    const m = g + gaiaColorCorrection('r', c);
    const flux = 10 ** (-0.4 * (m - zpTrue)) / 1.04; // PSF flux misses 4% (aperture correction)
    f.push(flux * (1 + 0.005 * r.gauss())); e.push(flux * 0.005);
  }
  const z = ccdZeroPoint({ psfFlux: f, psfFluxErr: e, gaiaG: G, gaiaBp: BP, gaiaRp: RP, band: 'r', apCorr: 1.04 });
  assert.ok(Math.abs(z.zp - zpTrue) < 0.003, `zp ${z.zp}`);
  const zg = ccdZeroPoint({ psfFlux: f, psfFluxErr: e, gaiaG: G, gaiaBp: BP, gaiaRp: RP, band: 'r', apCorr: 1.04, mode: 'G' });
  assert.ok(Math.abs(zg.zp - zpTrue) > 0.02, 'G-only differs from the colour-term ZP by the mean colour term');
});

test('zeroPointError: σ/√N, aperture-correction error and floor in quadrature; unmeasured aperture correction', () => {
  // 1% error on a factor 1.02 → 2.5/ln10 · 0.01/1.02 mag
  const apMag = (2.5 / Math.LN10) * (0.01 / 1.02);
  const z = zeroPointError(0.004, 1.02, 0.01, 0.003);
  assert.ok(Math.abs(z.apCorrErrMag - apMag) < 1e-12);
  assert.ok(Math.abs(z.err - Math.sqrt(0.004 ** 2 + apMag ** 2 + 0.003 ** 2)) < 1e-12);
  const u = zeroPointError(0.004, 1, NaN);
  assert.equal(u.apCorrErrMag, APCORR_ERR_UNMEASURED_MAG);
  assert.ok(Math.abs(u.err - Math.hypot(0.004, APCORR_ERR_UNMEASURED_MAG)) < 1e-12);
});
