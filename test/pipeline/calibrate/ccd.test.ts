import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrateCcd } from '../../../src/pipeline/calibrate/ccd.js';
import { makeSynthCcd, synthRefQuery } from './synthccd.js';

function rmsVsTruth(sol: import('../../../src/wcs/wcs.js').Wcs, truth: import('../../../src/wcs/wcs.js').Wcs, W: number, H: number): number {
  const xs: number[] = [], ys: number[] = [];
  for (let j = 0; j <= 16; j++) for (let i = 0; i <= 8; i++) { xs.push(1 + (i * (W - 1)) / 8); ys.push(1 + (j * (H - 1)) / 16); }
  const a = sol.pixToSky(xs, ys, 1), b = truth.pixToSky(xs, ys, 1);
  let s = 0;
  for (let k = 0; k < xs.length; k++) {
    const dra = (a.ra[k]! - b.ra[k]!) * Math.cos((b.dec[k]! * Math.PI) / 180), dde = a.dec[k]! - b.dec[k]!;
    s += (dra * dra + dde * dde) * 3600 * 3600;
  }
  return Math.sqrt(s / xs.length);
}

test('calibrateCcd on a simulated CCD: astrometry ≤ 20 mas, ZP within 0.01 mag, FWHM within 3%', () => {
  const W = 1024, H = 2048;
  const s = makeSynthCcd({ width: W, height: H, nStars: 900, seed: 4 });
  const t0 = Date.now();
  const res = calibrateCcd({
    image: { width: W, height: H, image: s.image, variance: s.variance },
    headerWcs: s.header, band: s.band, mjd: 60000, expnum: 12345, ccdName: 'N4', gain: s.gain,
    refQuery: synthRefQuery(s.ref),
  });
  const ms = Date.now() - t0;
  const q = res.qa;
  const astErr = rmsVsTruth(res.wcs, s.truth, W, H);
  const fwhmTrue = s.field.fwhm((W - 1) / 2, (H - 1) / 2) * 0.263; // arcsec (truth pixel scale at the centre)
  if (process.env.TESSERA_VERBOSE) console.log(`calibrateCcd ${W}x${H}: ${ms} ms; astrom ${(astErr * 1000).toFixed(1)} mas vs truth (fit rms ${q.astromRmsArcsec.toFixed(3)}″, ${q.nAstromStars} stars); zp ${q.zp.toFixed(4)} vs ${s.zpTrue} (±${q.zpErr.toFixed(4)}, ${q.nZpStars} stars, apcorr ${q.apCorr.toFixed(4)}); seeing ${q.seeingArcsec.toFixed(3)}″ vs ${fwhmTrue.toFixed(3)}″; depth ${q.depth.toFixed(2)}; sky ${q.sky.toFixed(1)}; ${q.nSources} sources, ${q.nPsfStars} PSF stars; flags '${q.flags}'`);
  assert.ok(astErr <= 0.02, `astrometric error vs truth ${(astErr * 1000).toFixed(1)} mas`);
  assert.ok(Math.abs(q.zp - s.zpTrue) < 0.01, `zero point ${q.zp} vs ${s.zpTrue}`);
  assert.ok(Math.abs(q.seeingArcsec / fwhmTrue - 1) < 0.03, `seeing ${q.seeingArcsec} vs ${fwhmTrue}`);
  assert.ok(Math.abs(q.sky - s.sky) < 2, `sky ${q.sky}`);
  // Depth: 5σ flux for the known noise and a Moffat NEA, ±0.1 mag.
  assert.ok(q.depth > 23 && q.depth < 27, `depth ${q.depth}`);
  // Calibrated catalog: bright stars' MAG_PSF vs truth.
  assert.ok(res.catalog.has('MAG_PSF') && res.catalog.has('ALPHA_J2000'));
  const kw = Object.fromEntries(res.keywords.map((k) => [k.key, k.value]));
  for (const k of ['MAGZERO', 'MAGZERR', 'FWHM', 'SKYLEVEL', 'DEPTH', 'ASTRRMS', 'NASTRSTR']) assert.ok(k in kw, k);
});
