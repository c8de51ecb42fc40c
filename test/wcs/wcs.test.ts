import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeaderText, Wcs } from '../../src/wcs/index.js';
import { headerFiles, readFixture, sepMas } from './fixtures.js';

for (const name of headerFiles()) {
  test(`${name}: pixel→sky agrees with astropy to < 1 mas and sky→pixel round-trips to < 1e-6 px`, () => {
    const { text, expected: e } = readFixture(name);
    const w = Wcs.fromHeader(HeaderText.parse(text, name), name);
    const sky = w.pixToSky(e.x, e.y, 1);
    let worst = 0;
    let nValid = 0;
    for (let i = 0; i < e.x.length; i++) {
      const era = e.ra[i];
      const edec = e.dec[i];
      if (era === null || edec === null) {
        assert.ok(Number.isNaN(sky.dec[i]), `${name}: (${e.x[i]}, ${e.y[i]}) is outside the projection for astropy but we gave ${sky.ra[i]}, ${sky.dec[i]}`);
        continue;
      }
      nValid++;
      const d = sepMas(sky.ra[i]!, sky.dec[i]!, era, edec);
      worst = Math.max(worst, d);
    }
    assert.ok(nValid > 50, `${name}: too few valid points (${nValid})`);
    assert.ok(worst < 1, `${name}: worst difference from astropy ${worst.toFixed(4)} mas`);
    // Round trip over the same grid (corners included).
    const ra = Float64Array.from(e.ra.map((v) => v ?? NaN));
    const dec = Float64Array.from(e.dec.map((v) => v ?? NaN));
    const pix = w.skyToPix(ra, dec, 1);
    let worstPix = 0;
    for (let i = 0; i < e.x.length; i++) {
      if (e.ra[i] === null) continue;
      worstPix = Math.max(worstPix, Math.abs(pix.x[i]! - e.x[i]!), Math.abs(pix.y[i]! - e.y[i]!));
    }
    assert.ok(worstPix < 1e-6, `${name}: worst sky→pixel round-trip error ${worstPix} px`);
  });
}
