import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Wcs } from '../../src/wcs/wcs.js';
import { solveAstrometry, mjdToJulianYear } from '../../src/calib/astrometry.js';
import { rng } from '../psf/synth.js';

const W = 2048, H = 4096, SCALE = 0.263 / 3600;

function truthWcs(): Wcs {
  const pv1 = new Array(40).fill(0), pv2 = new Array(40).fill(0);
  pv1[1] = 1; pv2[1] = 1;
  pv1[7] = 0.02; pv2[7] = 0.02; // cubic distortion: ~0.2″ at the corners
  pv1[4] = 0.004; pv2[6] = -0.003;
  const th = 0.3 * Math.PI / 180;
  return Wcs.tpv({
    crval: [150.1, 2.2], crpix: [1024.5, 2048.5],
    cd: [-SCALE * Math.cos(th), SCALE * Math.sin(th), SCALE * Math.sin(th), SCALE * Math.cos(th)],
    pv1, pv2, naxis: [W, H],
  });
}

function headerWcs(truth: Wcs, offArcsec: [number, number], rotDeg: number, scale: number): Wcs {
  const th = rotDeg * Math.PI / 180;
  const [a, b, c, d] = truth.cd;
  const co = Math.cos(th), si = Math.sin(th);
  return Wcs.tan({
    crval: [truth.crval[0] + offArcsec[0] / 3600 / Math.cos(truth.crval[1] * Math.PI / 180), truth.crval[1] + offArcsec[1] / 3600],
    crpix: [1024.5, 2048.5],
    cd: [scale * (co * a - si * c), scale * (co * b - si * d), scale * (si * a + co * c), scale * (si * b + co * d)],
    naxis: [W, H],
  });
}

function scene(seed: number, nStars = 600) {
  const truth = truthWcs();
  const r = rng(seed);
  const px: number[] = [], py: number[] = [], mag: number[] = [];
  for (let i = 0; i < nStars; i++) {
    px.push(-400 + r.uniform() * (W + 800)); py.push(-400 + r.uniform() * (H + 800)); mag.push(15 + 6 * r.uniform() ** 0.5);
  }
  const sky = truth.pixToSky(px, py, 1);
  const det = { x: [] as number[], y: [] as number[], flux: [] as number[] };
  for (let i = 0; i < nStars; i++) {
    if (px[i]! < 1 || py[i]! < 1 || px[i]! > W || py[i]! > H || r.uniform() > 0.85) continue;
    const m = mag[i]!;
    const sigPix = 0.01 + 0.05 * 10 ** (0.4 * (m - 20)); // centroid error grows for faint stars
    det.x.push(px[i]! + sigPix * r.gauss()); det.y.push(py[i]! + sigPix * r.gauss());
    det.flux.push(10 ** (-0.4 * (m - 30)) * (1 + 0.05 * r.gauss()));
  }
  for (let i = 0; i < 40; i++) { det.x.push(1 + r.uniform() * (W - 1)); det.y.push(1 + r.uniform() * (H - 1)); det.flux.push(10 ** (-0.4 * (19 + 2 * r.uniform() - 30))); }
  return { truth, det, ref: { ra: sky.ra, dec: sky.dec, mag } };
}

function rmsVsTruth(sol: Wcs, truth: Wcs): number {
  const xs: number[] = [], ys: number[] = [];
  for (let j = 0; j <= 16; j++) for (let i = 0; i <= 8; i++) { xs.push(1 + (i * (W - 1)) / 8); ys.push(1 + (j * (H - 1)) / 16); }
  const a = sol.pixToSky(xs, ys, 1), b = truth.pixToSky(xs, ys, 1);
  let s = 0;
  for (let k = 0; k < xs.length; k++) {
    const dra = (a.ra[k]! - b.ra[k]!) * Math.cos(b.dec[k]! * Math.PI / 180), dde = a.dec[k]! - b.dec[k]!;
    s += (dra * dra + dde * dde) * 3600 * 3600;
  }
  return Math.sqrt(s / xs.length);
}

test('astrometry: header WCS off by 40″, 1° and 2% → TPV-3 solution within 20 mas of the truth', () => {
  const { truth, det, ref } = scene(1);
  const hdr = headerWcs(truth, [30, -25], 1.0, 1.02);
  const t0 = Date.now();
  const res = solveAstrometry(det, ref, hdr, { width: W, height: H }, { what: 'CCD N4' });
  const ms = Date.now() - t0;
  const err = rmsVsTruth(res.wcs, truth);
  if (process.env.TESSERA_VERBOSE) console.log(`astrometry: ${(err * 1000).toFixed(1)} mas vs truth, fit rms ${res.rmsArcsec.toFixed(3)}″, ${res.nStars} stars, ${ms} ms`);
  assert.ok(err < 0.02, `rms vs truth ${(err * 1000).toFixed(1)} mas`);
  assert.ok(res.nStars > 200, `n stars ${res.nStars}`);
  assert.ok(res.rmsArcsec < 0.05, `fit rms ${res.rmsArcsec}`);
  assert.equal(res.order, 3);
  assert.ok(Math.abs(res.rotationDeg + 1.0) < 0.05 || Math.abs(res.rotationDeg - 1.0) < 0.05, `rotation ${res.rotationDeg}`);
  assert.ok(res.offsetArcsec > 20 && res.offsetArcsec < 60, `offset ${res.offsetArcsec}`);
  // TAN-SIP works too
  const sip = solveAstrometry(det, ref, hdr, { width: W, height: H }, { model: 'tan-sip', order: 3 });
  assert.ok(rmsVsTruth(sip.wcs, truth) < 0.02);
});

test('astrometry: clear failures (5° off, 3 stars, no reference stars)', () => {
  const { truth, det, ref } = scene(2);
  const far = headerWcs(truth, [5 * 3600, 0], 0, 1);
  assert.throws(() => solveAstrometry(det, ref, far, { width: W, height: H }, { what: 'exposure 7 CCD S4' }),
    /exposure 7 CCD S4: astrometry: (only 0 reference star|no consistent pattern)/);
  const few = { x: det.x.slice(0, 3), y: det.y.slice(0, 3), flux: det.flux.slice(0, 3) };
  assert.throws(() => solveAstrometry(few, ref, truth, { width: W, height: H }, { what: 'CCD N1' }), /CCD N1: astrometry: only 3 usable detection/);
  assert.throws(() => solveAstrometry(det, { ra: [], dec: [], mag: [] }, truth, { width: W, height: H }), /only 0 reference star/);
  // Unrelated reference stars (same density, other positions): no consistent pattern.
  const other = scene(3);
  assert.throws(() => solveAstrometry(det, other.ref, truth, { width: W, height: H }), /no consistent pattern|matched/);
  assert.ok(Math.abs(mjdToJulianYear(51544.5) - 2000) < 1e-12);
  assert.ok(Math.abs(mjdToJulianYear(60000) - 2023.15) < 0.01);
});
