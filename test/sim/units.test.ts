import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decamCamera, smallCamera, CcdGeometry, Rng, psfStamp, addGalaxy, FWHM_PER_ALPHA, planSurvey, smallPreset,
  generateCatalog, starBandMag, transientRelFlux, bleed, MASK_BITS, renderCcd,
} from '../../src/sim/index.js';
import { gaiaToBand } from '../../src/calib/colorterms.js';

test('DECam camera: 62 CCDs N1..N31/S1..S31, CCDNUM 1..62 with the DECam mapping', () => {
  const cam = decamCamera();
  assert.equal(cam.ccds.length, 62);
  assert.deepEqual(cam.ccds.map((c) => c.ccdnum), Array.from({ length: 62 }, (_, i) => i + 1));
  const names = new Set(cam.ccds.map((c) => c.name));
  for (let k = 1; k <= 31; k++) { assert.ok(names.has(`N${k}`)); assert.ok(names.has(`S${k}`)); }
  const byName = Object.fromEntries(cam.ccds.map((c) => [c.name, c]));
  assert.equal(byName.S29!.ccdnum, 1);
  assert.equal(byName.N4!.ccdnum, 35);
  assert.equal(byName.N31!.ccdnum, 62);
  for (const c of cam.ccds) {
    assert.equal(c.width, 2048); assert.equal(c.height, 4096);
    assert.ok(c.gain > 3.5 && c.gain < 4.5);
  }
  // ~520 Mpix
  assert.equal(cam.ccds.reduce((a, c) => a + c.width * c.height, 0), 62 * 2048 * 4096);
});

test('small camera: configurable CCDs, sizes and names', () => {
  const cam = smallCamera({ nccd: 4, width: 512, height: 256 });
  assert.equal(cam.ccds.length, 4);
  assert.deepEqual(cam.ccds.map((c) => c.name), ['C1', 'C2', 'C3', 'C4']);
  assert.ok(cam.ccds.every((c) => c.width === 512 && c.height === 256));
});

test('Rng: same key → same stream; normal deviates have mean 0, sd 1', () => {
  const a = new Rng(7, 'x', 3), b = new Rng(7, 'x', 3), c = new Rng(7, 'x', 4);
  const va = Array.from({ length: 5 }, () => a.uniform());
  assert.deepEqual(va, Array.from({ length: 5 }, () => b.uniform()));
  assert.notDeepEqual(va, Array.from({ length: 5 }, () => c.uniform()));
  const z = new Float64Array(200000);
  new Rng(1, 'n').fillNormal(z);
  let m = 0, v = 0;
  for (const x of z) m += x;
  m /= z.length;
  for (const x of z) v += (x - m) ** 2;
  v /= z.length;
  assert.ok(Math.abs(m) < 0.01, `mean ${m}`);
  assert.ok(Math.abs(v - 1) < 0.01, `variance ${v}`);
  const r = new Rng(2, 'p');
  let s = 0;
  for (let i = 0; i < 20000; i++) s += r.poisson(3.5);
  assert.ok(Math.abs(s / 20000 - 3.5) < 0.05);
});

test('geometry: DECam-like scale and distortion; the TPV Wcs inverts exactly', () => {
  const cam = decamCamera();
  const n4 = cam.ccds.find((c) => c.name === 'N4')!;
  const s31 = cam.ccds.find((c) => c.name === 'S31')!;
  const p = { raDeg: 150, decDeg: 2, rotDeg: 0 };
  const g = new CcdGeometry(cam, n4, p);
  assert.ok(Math.abs(g.wcs.pixelScaleArcsec(1024, 2048) - 0.263) < 0.001);
  // sky → pixel → sky round trip over the CCD
  const xs = [0, 1023.5, 2047, 100], ys = [0, 2047.5, 4095, 3900];
  const sky = g.wcs.pixToSky(xs, ys, 0);
  const back = g.skyToPix(sky.ra, sky.dec);
  for (let i = 0; i < xs.length; i++) {
    assert.ok(Math.abs(back.x[i]! - xs[i]!) < 1e-6 && Math.abs(back.y[i]! - ys[i]!) < 1e-6);
  }
  // distortion at the field edge: the TPV position differs from the undistorted TAN one by 5–30″
  const ge = new CcdGeometry(cam, s31, p);
  const tp = ge.tpvParams();
  const [ra1, dec1] = ge.pixToSky(2047, 4095);
  const lin = new CcdGeometry({ ...cam, distortionK3: 0, distortionQ1: 0, distortionQ2: 0 }, s31, p);
  const [ra0, dec0] = lin.pixToSky(2047, 4095);
  const sep = Math.hypot((ra1 - ra0) * Math.cos(dec0 * Math.PI / 180), dec1 - dec0) * 3600;
  assert.ok(sep > 5 && sep < 30, `edge distortion ${sep}″`);
  assert.equal(tp.pv1[7], cam.distortionK3);
  // N at +x (focal plane), standard parity (det CD < 0)
  assert.ok(tp.cd[0][0] * tp.cd[1][1] - tp.cd[0][1] * tp.cd[1][0] < 0);
  const [, decN] = g.pixToSky(2047, 2048), [, decS] = g.pixToSky(0, 2048);
  assert.ok(decN > decS);
});

test('PSF: unit flux, FWHM as asked; Sérsic galaxies conserve flux', () => {
  const fwhm = 4.2;
  const shape = { alpha: fwhm / FWHM_PER_ALPHA, e1: 0.04, e2: -0.03, fwhmPix: fwhm };
  const s = psfStamp({ ...shape, e1: 0, e2: 0 }, 301);
  let sum = 0;
  for (const v of s) sum += v;
  assert.ok(Math.abs(sum - 1) < 2e-3, `stamp sum ${sum}`);
  // FWHM of the round profile along x through the centre: half maximum crossing
  const c = 150, row = Array.from({ length: 301 }, (_, x) => s[c * 301 + x]!);
  const half = row[c]! / 2;
  let x = c;
  while (row[x + 1]! > half) x++;
  const xh = x + (row[x]! - half) / (row[x]! - row[x + 1]!);
  // pixel integration broadens the sampled profile slightly
  assert.ok(Math.abs(2 * (xh - c) - fwhm) / fwhm < 0.04, `FWHM ${2 * (xh - c)}`);
  for (const n of [1, 4] as const) {
    const img = new Float32Array(201 * 201);
    addGalaxy(img, 201, 201, shape, 100.3, 99.6, 5000, n, 6, 0.5, 0.7);
    let g = 0;
    for (const v of img) g += v;
    assert.ok(Math.abs(g / 5000 - 1) < 2e-3, `Sérsic n=${n} flux ${g}`);
  }
});

test('stars: DECam-band magnitudes follow the calibration colour terms exactly', () => {
  const plan = planSurvey(smallPreset({ seed: 11 }));
  const cat = generateCatalog(plan);
  const st = cat.stars;
  for (const b of ['g', 'r', 'i', 'z'] as const) {
    const ref = gaiaToBand(b, st.g, st.bp, st.rp);
    for (let k = 0; k < st.n; k += 37) {
      assert.ok(Math.abs(ref[k]! - st.mag[b][k]!) < 1e-9);
      assert.ok(Math.abs(starBandMag(b, st.g[k]!, st.bp[k]! - st.rp[k]!) - st.mag[b][k]!) < 1e-9);
    }
  }
  // number counts: log N slope ≈ 0.3 per mag at the faint end
  const count = (lo: number, hi: number) => Array.from(st.g).filter((g) => g >= lo && g < hi).length;
  const slope = Math.log10(count(21, 22) / count(19, 20)) / 2;
  assert.ok(Math.abs(slope - 0.3) < 0.06, `slope ${slope}`);
  // proper motions of a few mas/yr
  const pm = Array.from(st.pmra).map(Math.abs).sort((a, b) => a - b);
  assert.ok(pm[Math.floor(pm.length / 2)]! > 1 && pm[Math.floor(pm.length / 2)]! < 10);
});

test('transients rise and fall (Bazin), peak at 1', () => {
  const plan = planSurvey(smallPreset({ seed: 2 }));
  const cat = generateCatalog(plan);
  const tr = cat.transients;
  assert.equal(tr.n, 12);
  for (let k = 0; k < tr.n; k++) {
    const pk = tr.peakMjd[k]!;
    assert.ok(Math.abs(transientRelFlux(tr, k, pk) - 1) < 1e-9);
    assert.ok(transientRelFlux(tr, k, pk - 5) < 1 && transientRelFlux(tr, k, pk + 5) < 1);
    assert.ok(transientRelFlux(tr, k, pk - 60) < 1e-3);
  }
  assert.ok(Array.from(tr.kind).includes(0));
});

test('bleed: excess charge runs along the column and is flagged', () => {
  const w = 5, h = 40, full = 1000;
  const img = new Float32Array(w * h).fill(100);
  img[20 * w + 2] = 5000;
  const mask = new Int16Array(w * h);
  bleed(img, mask, w, h, full);
  let total = 0;
  for (let y = 0; y < h; y++) total += img[y * w + 2]!;
  assert.ok(Math.abs(total - (5000 + 39 * 100)) < 1e-3, 'charge conserved');
  assert.ok(mask[22 * w + 2]! & MASK_BITS.BLEED && mask[18 * w + 2]! & MASK_BITS.BLEED);
  assert.equal(img[20 * w + 1], 100);
});

test('transients and asteroids are rendered with their truth flux (same noise stream, with vs without)', () => {
  const cfg = smallPreset({ seed: 8 });
  cfg.artefacts = { cosmicRaysPerMpix100s: 0, satelliteProb: 0, badColumnsPerCcd: 0, hotPixelsPerMpix: 0 };
  const plan = planSurvey(cfg);
  const cat = generateCatalog(plan);
  const none = {
    ...cat,
    transients: { ...cat.transients, n: 0 },
    asteroids: { ...cat.asteroids, n: 0 },
  };
  let checked = 0;
  for (const exp of plan.exposures.filter((e) => e.role === 'search')) {
    for (const ccd of cfg.camera.ccds) {
      const a = renderCcd(cfg, exp, ccd, cat);
      const b = renderCcd(cfg, exp, ccd, none);
      let expected = 0;
      for (let k = 0; k < a.truth.n; k++) {
        const t = a.truth.type[k]!;
        if (t !== 3 && t !== 4) continue;
        const x = a.truth.x[k]!, y = a.truth.y[k]!;
        if (x < 40 || y < 40 || x > ccd.width - 40 || y > ccd.height - 40) continue;
        expected += a.truth.flux[k]!;
      }
      if (expected === 0) continue;
      // every transient/asteroid away from the edges: its light is the whole difference
      let edge = false;
      for (let k = 0; k < a.truth.n; k++) {
        const t = a.truth.type[k]!;
        if ((t === 3 || t === 4) && a.truth.flux[k]! > 0) {
          const x = a.truth.x[k]!, y = a.truth.y[k]!;
          if (x < 40 || y < 40 || x > ccd.width - 40 || y > ccd.height - 40) edge = true;
        }
      }
      if (edge) continue;
      // sum the difference within 30 px of each of them (sources off the CCD may spill light in elsewhere)
      const inAp = new Uint8Array(a.image.length);
      for (let k = 0; k < a.truth.n; k++) {
        const t = a.truth.type[k]!;
        if (t !== 3 && t !== 4) continue;
        const cx = a.truth.x[k]! - 1, cy = a.truth.y[k]! - 1;
        for (let y = Math.floor(cy - 30); y <= Math.ceil(cy + 30); y++) for (let x = Math.floor(cx - 30); x <= Math.ceil(cx + 30); x++) {
          if (x >= 0 && y >= 0 && x < ccd.width && y < ccd.height && Math.hypot(x - cx, y - cy) < 30) inAp[y * ccd.width + x] = 1;
        }
      }
      let diff = 0;
      for (let p = 0; p < a.image.length; p++) if (inAp[p] && !a.mask[p] && !b.mask[p]) diff += a.image[p]! - b.image[p]!;
      assert.ok(Math.abs(diff / expected - 1) < 0.02, `exp ${exp.expnum} ${ccd.name}: ${diff} vs ${expected}`);
      checked++;
    }
  }
  assert.ok(checked >= 3, `${checked} CCD-epochs checked`);
});

test('DECam layout: CCDs do not overlap; neighbours are separated by gaps of ~200 pixels; field ≈ 2.2° across', () => {
  const cam = decamCamera();
  const hw = 1024 * 0.015, hh = 2048 * 0.015;
  let minGapX = Infinity;
  for (const a of cam.ccds) for (const b of cam.ccds) {
    if (a === b) continue;
    const dx = Math.abs(a.xCenterMm - b.xCenterMm), dy = Math.abs(a.yCenterMm - b.yCenterMm);
    assert.ok(dx >= 2 * hw || dy >= 2 * hh, `${a.name} overlaps ${b.name}`);
    if (dy < hh) minGapX = Math.min(minGapX, (dx - 2 * hw) / 0.015);
  }
  assert.ok(minGapX > 50 && minGapX < 300, `gap ${minGapX} px`);
  const ys = cam.ccds.map((c) => c.yCenterMm);
  const widthDeg = (Math.max(...ys) - Math.min(...ys) + 2 * hh) / 0.015 * 0.263 / 3600;
  assert.ok(widthDeg > 2.0 && widthDeg < 2.4, `${widthDeg}°`);
});
