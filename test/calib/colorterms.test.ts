import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gaiaToBand, gaiaColorCorrection, GAIA_TO_DECAM, GAIA_AVERAGE_COLOR } from '../../src/calib/colorterms.js';

test('colour terms: polynomial evaluated as legacypipe does (sum c_k x^k), with clipping and average colour', () => {
  for (const band of ['g', 'r', 'i', 'z']) {
    const co = GAIA_TO_DECAM[band]!.coeffs;
    for (const x of [-0.3, 0.5, 1.0, 2.2, 3.9]) {
      let ref = 0;
      for (let k = 0; k < co.length; k++) ref += co[k]! * x ** k;
      assert.ok(Math.abs(gaiaColorCorrection(band, x) - ref) < 1e-9, `${band} ${x}`);
    }
    // clipping at both ends
    assert.equal(gaiaColorCorrection(band, 10), gaiaColorCorrection(band, 4.1));
    assert.equal(gaiaColorCorrection(band, -5), gaiaColorCorrection(band, -0.6));
    assert.equal(gaiaColorCorrection(band, NaN), gaiaColorCorrection(band, GAIA_AVERAGE_COLOR));
  }
  // Known values: a solar-type star (BP-RP = 0.82) is bluer than G in g, redder in z.
  const g = gaiaColorCorrection('g', 0.82), z = gaiaColorCorrection('z', 0.82);
  assert.ok(g > 0.2 && g < 0.6, `g-G ${g}`);
  assert.ok(z < -0.2 && z > -0.6, `z-G ${z}`);
});

test('colour terms: arrays, missing colour, G-only mode and unknown band', () => {
  const m = gaiaToBand('r', [17, 18, 0, NaN], [17.5, 0, 18, 18], [16.5, 17, 17, 17]);
  assert.ok(Math.abs(m[0]! - (17 + gaiaColorCorrection('r', 1.0))) < 1e-12);
  assert.ok(Math.abs(m[1]! - (18 + gaiaColorCorrection('r', GAIA_AVERAGE_COLOR))) < 1e-12);
  assert.ok(Number.isNaN(m[2]!) && Number.isNaN(m[3]!));
  const gm = gaiaToBand('Y', [17], [17.5], [16.5], 'G');
  assert.equal(gm[0], 17);
  assert.throws(() => gaiaToBand('Y', [17], [17.5], [16.5]), /no Gaia colour transformation for band 'Y'/);
});
