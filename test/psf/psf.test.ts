import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitPsf, psfPhotometry, PsfModel, stampShape } from '../../src/psf/index.js';
import { addMoffat, DEFAULT_FIELD, makeStarField, rng } from './synth.js';

function median(a: ArrayLike<number>): number {
  const s = Array.from(a).filter(Number.isFinite).sort((p, q) => p - q);
  return s[Math.floor(s.length / 2)]!;
}

/** Truth pixel-integrated Moffat at (x, y) on a finely sampled grid → FWHM measured like the model's. */
function truthShape(field: ReturnType<typeof DEFAULT_FIELD>, x: number, y: number) {
  // Render the pixel-integrated PSF at 4× oversampling by placing the star at 16 sub-pixel phases.
  const over = 4, R = 12, m = 2 * R * over + 1;
  const fine = new Float64Array(m * m);
  for (let py = 0; py < over; py++) for (let px = 0; px < over; px++) {
    const w = 2 * R + 1;
    const img = new Float32Array(w * w);
    const sx = R - px / over, sy = R - py / over; // star centre so pixels sample offsets k + px/over
    addMoffat(img, w, w, sx, sy, 1, { ...field, fwhm: () => field.fwhm(x, y), e: () => field.e(x, y) }, R + 2);
    for (let j = 0; j < w; j++) for (let i = 0; i < w; i++) {
      const fi = (i - R) * over + px + (m - 1) / 2, fj = (j - R) * over + py + (m - 1) / 2;
      if (fi >= 0 && fi < m && fj >= 0 && fj < m) fine[fj * m + fi] = img[j * w + i]!;
    }
  }
  return stampShape(fine, m, 1 / over);
}

test('PSF: spatially varying Moffat recovered (FWHM within 3%, stamps, unbiased PSF fluxes)', () => {
  const w = 1024, h = 2048;
  const field = DEFAULT_FIELD(w, h, 4.0);
  const sf = makeStarField({ w, h, n: 300, seed: 7, field });
  const r = rng(99);
  const stars = Array.from(sf.x, (x, i) => ({ x: x + 0.05 * r.gauss(), y: sf.y[i]! + 0.05 * r.gauss(), flux: sf.flux[i]! * (1 + 0.05 * r.gauss()) }));
  const res = fitPsf({ data: sf.img, width: w, height: h, noiseVariance: sf.sigma ** 2, gain: 4 }, stars, { fwhmPix: 4.5 });
  assert.equal(res.degree, 2);
  assert.ok(res.used.length > 150, `used ${res.used.length}`); // blended and very bright (χ² > 2× median) stars are rejected
  const model = res.model;
  // FWHM over the CCD within 3% of the truth Moffat FWHM (and of the pixelised truth within 2%)
  let worst = 0, worstPix = 0;
  for (const [fx, fy] of [[0.1, 0.1], [0.9, 0.1], [0.5, 0.5], [0.1, 0.9], [0.9, 0.9], [0.3, 0.7]] as const) {
    const x = fx * w, y = fy * h;
    const s = model.shapeAt(x, y);
    const tf = field.fwhm(x, y);
    const tp = truthShape(field, x, y);
    worst = Math.max(worst, Math.abs(s.fwhmOpticalPix / tf - 1));
    worstPix = Math.max(worstPix, Math.abs(s.fwhmPix / tp.fwhmPix - 1));
    assert.ok(Math.abs(s.ellipticity - tp.ellipticity) < 0.02, `ellipticity ${s.ellipticity} vs ${tp.ellipticity}`);
  }
  assert.ok(worst < 0.015, `optical FWHM worst relative error ${worst}`);
  assert.ok(worstPix < 0.02, `pixelised FWHM worst relative error ${worstPix}`);
  // Stamp residual vs noise-free truth: max |Δ| < 2% of the peak at several positions.
  for (const [x, y] of [[100.3, 150.7], [900.6, 1900.2], [512.0, 1024.5]] as const) {
    const D = 25, R = 12;
    const t = new Float32Array(D * D);
    const inBox = addMoffat(t, D, D, R + (x - Math.round(x)), R + (y - Math.round(y)), 1, { ...field, fwhm: () => field.fwhm(x, y), e: () => field.e(x, y) }, R, R);
    const m = model.stampAt(x, y, D);
    let peak = 0, maxd = 0;
    for (let i = 0; i < D * D; i++) { peak = Math.max(peak, t[i]! / inBox); maxd = Math.max(maxd, Math.abs(m[i]! - t[i]! / inBox)); }
    assert.ok(maxd / peak < 0.02, `stamp residual ${maxd / peak} at ${x},${y}`);
  }
  // PSF photometry: unbiased relative to the flux inside the PSF stamp (< 1%).
  const ph = psfPhotometry({ data: sf.img, width: w, height: h }, model, sf.x, sf.y, { noiseVariance: sf.sigma ** 2 });
  const ratio = Array.from(ph.flux, (f, i) => f / sf.fluxInBox[i]!);
  const med = median(ratio);
  assert.ok(Math.abs(med - 1) < 0.01, `median PSF flux ratio ${med}`);
  // Errors are sensible: the scatter of bright stars is small
  const bright = ratio.filter((_, i) => sf.flux[i]! > 1e5);
  const mad = median(bright.map((v) => Math.abs(v - med))) * 1.4826;
  assert.ok(mad < 0.01, `PSF flux scatter ${mad}`);
});

test('PSF: undersampled stars use an oversampled basis (PSF_SAMP 0.5) and recover the FWHM', () => {
  const w = 800, h = 800;
  const field = { fwhm: () => 2.0, e: (): [number, number] => [0.0, 0.0], beta: 3.0 };
  const sf = makeStarField({ w, h, n: 250, seed: 3, field });
  const stars = Array.from(sf.x, (x, i) => ({ x, y: sf.y[i]!, flux: sf.flux[i]! }));
  const res = fitPsf({ data: sf.img, width: w, height: h, noiseVariance: sf.sigma ** 2, gain: 4 }, stars, { fwhmPix: 2.2, degree: 0 });
  assert.equal(res.model.sampling, 0.5);
  const s = res.model.shapeAt(400, 400);
  const tp = truthShape(field as never, 400, 400);
  assert.ok(Math.abs(s.fwhmPix / tp.fwhmPix - 1) < 0.03, `FWHM ${s.fwhmPix} vs pixelised truth ${tp.fwhmPix}`);
  const ph = psfPhotometry({ data: sf.img, width: w, height: h }, res.model, sf.x, sf.y, { noiseVariance: sf.sigma ** 2, radiusPix: 6 });
  void ph;
});

test('PSF: few stars lower the degree (noted), too few is a clear error', () => {
  const w = 600, h = 600;
  const sf = makeStarField({ w, h, n: 10, seed: 11 });
  const stars = Array.from(sf.x, (x, i) => ({ x, y: sf.y[i]!, flux: sf.flux[i]! }));
  const res = fitPsf({ data: sf.img, width: w, height: h, noiseVariance: 100, gain: 4 }, stars, { fwhmPix: 4 });
  assert.ok(res.degree < 2);
  assert.match(res.notes.join(';'), /degree lowered from 2/);
  assert.throws(() => fitPsf({ data: sf.img, width: w, height: h }, stars.slice(0, 2), { fwhmPix: 4 }), /only 2 usable star/);
  // The model object is consistent
  assert.ok(res.model instanceof PsfModel);
  assert.ok(Math.abs(res.model.fwhmPix - 4) / 4 < 0.05);
});

test('PSF: HDU round trip (PSFEx-like keywords) reproduces stamps', async () => {
  const { psfToHdu, psfFromHdu } = await import('../../src/psf/index.js');
  const w = 600, h = 900;
  const sf = makeStarField({ w, h, n: 80, seed: 21 });
  const stars = Array.from(sf.x, (x, i) => ({ x, y: sf.y[i]!, flux: sf.flux[i]! }));
  const res = fitPsf({ data: sf.img, width: w, height: h, noiseVariance: 100, gain: 4 }, stars, { fwhmPix: 4 });
  res.model.fluxFraction = 0.97;
  const hdu = psfToHdu(res.model);
  const rec: Record<string, unknown> = {};
  for (const c of hdu.cards) rec[c.key] = c.value;
  assert.equal(rec['POLDEG'], res.degree);
  assert.equal(rec['POLZERO1'], (w - 1) / 2 + 1);
  const back = psfFromHdu(rec, hdu.data, hdu.shape);
  const a = res.model.stampAt(123.4, 456.7, 21), b = back.stampAt(123.4, 456.7, 21);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  assert.ok(d < 1e-6, `max stamp difference ${d}`);
  assert.throws(() => psfFromHdu({ ...rec, POLDEG: 3 }, hdu.data, hdu.shape), /NAXIS3 = \d+ does not match POLDEG = 3/);
  assert.throws(() => psfFromHdu({ ...rec, PSF_SAMP: undefined }, hdu.data, hdu.shape), /keyword PSF_SAMP is missing/);
});

test('PSF photometry: fitSky removes a constant local sky error', () => {
  const w = 600, h = 600;
  const sf = makeStarField({ w, h, n: 60, seed: 31, fluxMin: 2e4, fluxMax: 1e5 });
  const stars = Array.from(sf.x, (x, i) => ({ x, y: sf.y[i]!, flux: sf.flux[i]! }));
  const res = fitPsf({ data: sf.img, width: w, height: h, noiseVariance: 100, gain: 4 }, stars, { fwhmPix: 4, degree: 0 });
  const biased = sf.img.map((v) => v + 3); // the sky subtracted 3 counts too little
  const plain = psfPhotometry({ data: biased, width: w, height: h }, res.model, sf.x, sf.y, { noiseVariance: 100 });
  const sky = psfPhotometry({ data: biased, width: w, height: h }, res.model, sf.x, sf.y, { noiseVariance: 100, fitSky: true });
  const ref = psfPhotometry({ data: sf.img, width: w, height: h }, res.model, sf.x, sf.y, { noiseVariance: 100 });
  const d = (a: Float64Array) => median(Array.from(a, (f, i) => f - ref.flux[i]!));
  assert.ok(d(plain.flux) > 100, `plain fit absorbs the sky error: ${d(plain.flux)}`);
  assert.ok(Math.abs(d(sky.flux)) < 30, `with fitSky: ${d(sky.flux)}`);
  assert.ok(median(sky.fluxErr) > median(plain.fluxErr), 'fitting the sky costs some precision');
});

test('PsfModel.convolvedStampAt equals the PSF stamp convolved with the kernel (SPREAD_MODEL galaxy model)', () => {
  // degree-1 model: a Gaussian core whose width and centre vary with x, y
  const size = 25, c = 12, nn = size * size;
  const coeffs = new Float64Array(3 * nn);
  for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) {
    const r2 = (i - c) ** 2 + (j - c) ** 2;
    coeffs[j * size + i] = Math.exp(-r2 / (2 * 1.5 * 1.5)) / (2 * Math.PI * 1.5 * 1.5);
    coeffs[nn + j * size + i] = 0.02 * (i - c) * Math.exp(-r2 / 8) / 10;
    coeffs[2 * nn + j * size + i] = 0.01 * (r2 - 4) * Math.exp(-r2 / 8) / 10;
  }
  const model = new PsfModel({ size, sampling: 1, degree: 1, polZero: [500, 1000], polScale: [1000, 2000], coeffs, fwhmPix: 3.5 });
  // an asymmetric 5 × 5 kernel (tests the orientation too)
  const R = 2, D = 5;
  const k = new Float64Array(D * D);
  for (let b = 0; b < D; b++) for (let a = 0; a < D; a++) k[b * D + a] = Math.exp(-((a - R) ** 2 + (b - R) ** 2) / 2) * (1 + 0.3 * (a - R) - 0.1 * (b - R));
  const S = 41; // large enough that neither stamp truncates the model
  for (const [x, y] of [[100.3, 1800.7], [900.6, 200.2], [500, 1000]] as const) {
    const P = model.stampAt(x, y, S);
    const G = model.convolvedStampAt(x, y, S, { key: 1, r: R, k })!;
    assert.ok(G, 'available for a 1 px basis');
    let worst = 0, peak = 0;
    for (let v = R; v < S - R; v++) for (let u = R; u < S - R; u++) {
      let acc = 0;
      for (let b = 0; b < D; b++) for (let a = 0; a < D; a++) acc += k[b * D + a]! * P[(v - (b - R)) * S + (u - (a - R))]!;
      worst = Math.max(worst, Math.abs(acc - G[v * S + u]!)); peak = Math.max(peak, Math.abs(acc));
    }
    assert.ok(worst < 1e-6 * peak, `(${x}, ${y}): worst difference ${worst} vs peak ${peak}`);
  }
  const over = new PsfModel({ size, sampling: 0.5, degree: 1, polZero: [500, 1000], polScale: [1000, 2000], coeffs, fwhmPix: 1.8 });
  assert.equal(over.convolvedStampAt(10, 10, 15, { key: 1, r: R, k }), undefined, 'oversampled basis: caller convolves');
});
