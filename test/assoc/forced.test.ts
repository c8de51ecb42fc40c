import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FORCED_FLAGS, forcedPhotometry, forcedSourcesOnImage, nanomaggiesPerCount } from '../../src/assoc/forced.js';
import { MaskBits, maskedImage } from '../../src/image/masked-image.js';
import { PsfModel } from '../../src/psf/model.js';
import { Wcs } from '../../src/wcs/wcs.js';
import { gaussianPsf, rng } from './synth.js';

const W = 600, H = 400;
const wcs = Wcs.tan({ crval: [150, 2], crpix: [300.5, 200.5], cd: [-0.263 / 3600, 0, 0, 0.263 / 3600], naxis: [W, H] });
const psf = gaussianPsf(1.6);

/** Simulated image: sources (FITS x, y, flux) rendered with the PSF model, Gaussian noise with a variance gradient. */
function simulate(seed: number, xs: number[], ys: number[], fl: number[], background = 0): ReturnType<typeof maskedImage> {
  const r = rng(seed);
  const img = new Float32Array(W * H), variance = new Float32Array(W * H);
  const D = 25, h = 12;
  for (let k = 0; k < xs.length; k++) {
    const x = xs[k]! - 1, y = ys[k]! - 1;
    const st = psf.stampAt(x, y, D);
    const x0 = Math.round(x) - h, y0 = Math.round(y) - h;
    for (let j = 0; j < D; j++) for (let i = 0; i < D; i++) {
      const xx = x0 + i, yy = y0 + j;
      if (xx >= 0 && xx < W && yy >= 0 && yy < H) img[yy * W + xx]! += fl[k]! * st[j * D + i]!;
    }
  }
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const v = 16 + 30 * (x / W);
    const p = y * W + x;
    variance[p] = v;
    img[p]! += background + Math.sqrt(v) * r.n();
  }
  return maskedImage(W, H, img, variance, new Uint32Array(W * H));
}

function grid(): { xs: number[]; ys: number[]; fl: number[] } {
  const r = rng(11);
  const xs: number[] = [], ys: number[] = [], fl: number[] = [];
  for (let gy = 0; gy < 13; gy++) for (let gx = 0; gx < 20; gx++) {
    xs.push(20 + gx * 29 + r.u()); ys.push(20 + gy * 29 + r.u());
    fl.push((gx + gy) % 2 === 0 ? 0 : 30 + 3000 * r.u() ** 2);
  }
  return { xs, ys, fl };
}

test('forced PSF photometry: pulls (flux − true)/err have mean ≈ 0 and width ≈ 1, non-detections measured', () => {
  const { xs, ys, fl } = grid();
  const sky = wcs.pixToSky(xs, ys, 1);
  for (const fitBackground of [false, true]) {
    const pulls: number[] = [], nullPulls: number[] = [];
    for (const seed of [1, 2, 3]) {
      const img = simulate(seed, xs, ys, fl, fitBackground ? 12 : 0);
      const res = forcedPhotometry(img, psf, wcs, sky.ra, sky.dec, { fitBackground });
      for (let i = 0; i < xs.length; i++) {
        assert.equal(res.flags[i], 0);
        assert.ok(Math.abs(res.x[i]! - xs[i]!) < 1e-6 && Math.abs(res.y[i]! - ys[i]!) < 1e-6);
        const p = (res.flux[i]! - fl[i]!) / res.fluxErr[i]!;
        pulls.push(p);
        if (fl[i] === 0) nullPulls.push(p);
      }
    }
    const mean = pulls.reduce((a, b) => a + b, 0) / pulls.length;
    const sd = Math.sqrt(pulls.reduce((a, b) => a + (b - mean) ** 2, 0) / (pulls.length - 1));
    assert.ok(Math.abs(mean) < 0.1, `pull mean ${mean} (fitBackground=${fitBackground})`);
    assert.ok(Math.abs(sd - 1) < 0.1, `pull width ${sd} (fitBackground=${fitBackground})`);
    // non-detections are measured fluxes consistent with zero
    assert.ok(nullPulls.length > 300 && nullPulls.every((p) => Number.isFinite(p)));
    const nm = nullPulls.reduce((a, b) => a + b, 0) / nullPulls.length;
    assert.ok(Math.abs(nm) < 0.15, `null pull mean ${nm}`);
  }
});

test('forced photometry flags: off-image, edge, saturated, masked, no data', () => {
  const img = simulate(5, [100], [100], [1000]);
  img.mask![99 * W + 99] = MaskBits.SAT;
  img.mask![(299) * W + 299] = MaskBits.CR;
  for (let y = 140; y < 170; y++) for (let x = 440; x < 470; x++) img.image[y * W + x] = NaN;
  const xs = [100, 300, 2, -5, 455, 600.4, 600.6];
  const ys = [100, 300, 200, 50, 155, 10, 10];
  const sky = wcs.pixToSky(xs, ys, 1);
  const res = forcedPhotometry(img, psf, wcs, sky.ra, sky.dec);
  assert.equal(res.flags[0], FORCED_FLAGS.SATURATED);
  assert.ok(Math.abs(res.flux[0]! - 1000) < 5 * res.fluxErr[0]!, 'saturated pixel left out, flux still fits');
  assert.equal(res.flags[1], FORCED_FLAGS.MASKED);
  assert.equal(res.flags[2], FORCED_FLAGS.EDGE);
  assert.ok(Number.isFinite(res.flux[2]!));
  assert.equal(res.flags[3], FORCED_FLAGS.OFF_IMAGE | FORCED_FLAGS.NO_DATA);
  assert.ok(Number.isNaN(res.flux[3]!));
  assert.equal(res.flags[4]! & FORCED_FLAGS.NO_DATA, FORCED_FLAGS.NO_DATA);
  assert.equal(res.flags[5], FORCED_FLAGS.EDGE, 'x = 600.4 is on the last pixel');
  assert.equal(res.flags[6]! & FORCED_FLAGS.OFF_IMAGE, FORCED_FLAGS.OFF_IMAGE);
});

test('forcedSourcesOnImage keeps objects on the image and converts to nanomaggies', () => {
  const { xs, ys, fl } = grid();
  const img = simulate(9, xs, ys, fl);
  const allX = [...xs, -40, 700], allY = [...ys, 30, 30];
  const sky = wcs.pixToSky(allX, allY, 1);
  const ids = Float64Array.from(allX, (_, i) => 1e9 + i + 1);
  const t = forcedSourcesOnImage(img, psf, wcs, { n: allX.length, diaObjectId: ids, ra: sky.ra, dec: sky.dec },
    { imageType: 'diff', mjd: 60001.5, band: 'r', expnum: 1234, ccd: 7, zeroPoint: 30 });
  assert.equal(t.n, xs.length);
  assert.equal(t.diaObjectId[0], 1e9 + 1);
  const s = nanomaggiesPerCount(30);
  assert.ok(Math.abs(s - 10 ** (-7.5 / 2.5)) < 1e-15);
  for (let i = 0; i < t.n; i++) {
    assert.ok(Math.abs(t.psfFlux[i]! - t.psfFluxCounts[i]! * s) <= 1e-12 * Math.abs(t.psfFlux[i]!) + 1e-300);
    assert.equal(t.band[i], 'r'); assert.equal(t.expnum[i], 1234); assert.equal(t.ccd[i], 7); assert.equal(t.mjd[i], 60001.5);
  }
  assert.throws(() => forcedSourcesOnImage(img, psf, wcs, { n: 0, diaObjectId: [], ra: [], dec: [] },
    { imageType: 'diff', mjd: 1, band: 'r', expnum: 1, ccd: 1, zeroPoint: NaN }), /zero point/);
  assert.throws(() => forcedPhotometry(maskedImage(W, H, img.image), psf, wcs, [150], [2]), /variance/);
});

test('a plain PSF stamp (PSF_D-like) gives the same forced fluxes as the model it was drawn from', async () => {
  const { stampPsf } = await import('../../src/pipeline/transient/assoc-stage.js');
  const { xs, ys, fl } = grid();
  const img = simulate(4, xs, ys, fl);
  const st = stampPsf(psf.stampAt(300, 200, 25), [25, 25]);
  const a = forcedPhotometry(img, psf, wcs, ...Object.values(wcs.pixToSky(xs, ys, 1)) as [Float64Array, Float64Array]);
  const b = forcedPhotometry(img, st, wcs, ...Object.values(wcs.pixToSky(xs, ys, 1)) as [Float64Array, Float64Array]);
  for (let i = 0; i < xs.length; i++) assert.ok(Math.abs(a.flux[i]! - b.flux[i]!) < 0.05 * a.fluxErr[i]!, `${a.flux[i]} vs ${b.flux[i]}`);
  assert.throws(() => stampPsf(new Float32Array(24), [4, 6]), /odd/);
});

test('source Poisson noise: with the gain, pulls of bright sources have unit width although the variance plane is sky-only', () => {
  const { xs, ys } = grid();
  const r = rng(17);
  const gain = 1.5;
  const fl = xs.map(() => 2e4 + 8e4 * r.u());
  const img = new Float32Array(W * H), variance = new Float32Array(W * H).fill(25), model = new Float32Array(W * H);
  const D = 25, h = 12;
  for (let k = 0; k < xs.length; k++) {
    const st = psf.stampAt(xs[k]! - 1, ys[k]! - 1, D);
    const x0 = Math.round(xs[k]! - 1) - h, y0 = Math.round(ys[k]! - 1) - h;
    for (let j = 0; j < D; j++) for (let i = 0; i < D; i++) model[(y0 + j) * W + x0 + i]! += fl[k]! * st[j * D + i]!;
  }
  for (let p = 0; p < W * H; p++) img[p] = model[p]! + Math.sqrt(25 + model[p]! / gain) * r.n();
  const im = maskedImage(W, H, img, variance, new Uint32Array(W * H));
  const sky = wcs.pixToSky(xs, ys, 1);
  const width = (res: ReturnType<typeof forcedPhotometry>): number => {
    const p = fl.map((f, i) => (res.flux[i]! - f) / res.fluxErr[i]!);
    const m = p.reduce((a, b) => a + b, 0) / p.length;
    return Math.sqrt(p.reduce((a, b) => a + (b - m) ** 2, 0) / (p.length - 1));
  };
  const without = width(forcedPhotometry(im, psf, wcs, sky.ra, sky.dec));
  const withGain = width(forcedPhotometry(im, psf, wcs, sky.ra, sky.dec, { gain }));
  assert.ok(without > 2, `sky-only errors are too small for bright sources (pull width ${without})`);
  assert.ok(Math.abs(withGain - 1) < 0.12, `pull width with the source noise term ${withGain}`);
});

test('forced PSF photometry with the sources\' Poisson noise in the variance plane (from the noisy pixels, as calexps carry it): unbiased, pull width ≈ 1', () => {
  // bright sources (S/N 40–150) whose Poisson noise dominates the core; VARIANCE = sky + max(0, pixel)/gain
  const gain = 4, skyVar = 20;
  const r0 = rng(5);
  const xs: number[] = [], ys: number[] = [], fl: number[] = [];
  for (let gy = 0; gy < 12; gy++) for (let gx = 0; gx < 19; gx++) { xs.push(25 + gx * 30 + r0.u()); ys.push(25 + gy * 30 + r0.u()); fl.push(4000 + 60000 * r0.u() ** 2); }
  const sky = wcs.pixToSky(xs, ys, 1);
  for (const fitBackground of [false, true]) {
    const ratios: number[] = [], pulls: number[] = [];
    for (const seed of [21, 22]) {
      const r = rng(seed);
      const model = new Float32Array(W * H);
      const D = 25, h = 12;
      for (let k = 0; k < xs.length; k++) {
        const x = xs[k]! - 1, y = ys[k]! - 1, st = psf.stampAt(x, y, D), x0 = Math.round(x) - h, y0 = Math.round(y) - h;
        for (let j = 0; j < D; j++) for (let i = 0; i < D; i++) model[(y0 + j) * W + x0 + i]! += fl[k]! * st[j * D + i]!;
      }
      const img = new Float32Array(W * H), variance = new Float32Array(W * H);
      for (let p = 0; p < W * H; p++) {
        img[p] = model[p]! + Math.sqrt(skyVar + model[p]! / gain) * r.n();
        variance[p] = skyVar + Math.max(0, img[p]!) / gain;
      }
      const res = forcedPhotometry(maskedImage(W, H, img, variance, new Uint32Array(W * H)), psf, wcs, sky.ra, sky.dec, { fitBackground });
      for (let i = 0; i < xs.length; i++) { ratios.push(res.flux[i]! / fl[i]!); pulls.push((res.flux[i]! - fl[i]!) / res.fluxErr[i]!); }
    }
    const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
    const pm = pulls.reduce((a, b) => a + b, 0) / pulls.length;
    const sd = Math.sqrt(pulls.reduce((a, b) => a + (b - pm) ** 2, 0) / (pulls.length - 1));
    // 456 sources × 2 images: the mean ratio's own error is ~0.1%
    assert.ok(Math.abs(mean - 1) < 0.003, `fitBackground ${fitBackground}: mean flux/true ${mean}`);
    assert.ok(Math.abs(pm) < 0.15, `fitBackground ${fitBackground}: mean pull ${pm}`);
    assert.ok(Math.abs(sd - 1) < 0.1, `fitBackground ${fitBackground}: pull sd ${sd}`);
  }
});
