import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Rng, simulatePair } from '../../src/diffim/synth.js';
import { subtractImages, scoreFilter } from '../../src/diffim/subtract.js';
import { detectDiaSources } from '../../src/diffim/dia.js';
import { writeFits } from '../../src/fits/writer.js';
import { FitsReader } from '../../src/fits/reader.js';
import { cli, tempDir } from '../helpers.js';

/** A pair with the template BLURRIER than the science image (FWHM 3.6 vs 3.0 px), transients added. */
function blurryTemplatePair() {
  const rng = new Rng(41);
  const transients: { x: number; y: number; flux: number }[] = [];
  for (let i = 0; i < 40; i++) transients.push({ x: 50 + rng.next() * 924, y: 50 + rng.next() * 924, flux: 3000 + rng.next() * 5000 });
  const p = simulatePair({ width: 1024, height: 1024, seed: 43, nStars: 500, fluxRange: [1000, 1e6], fwhmSci: 3.0, fwhmTmpl: 3.6, fluxRatio: 1.2, tmplNoise: 0.5, transients });
  return { p, transients };
}

test('score filter: a delta without template noise, unit sum, flattens nothing at k = 0', () => {
  const size = 21, h = 10;
  const g = (s: number) => { const k = new Float64Array(size * size); let t = 0; for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) { const v = Math.exp(-((i - h) ** 2 + (j - h) ** 2) / (2 * s * s)); k[j * size + i] = v; t += v; } return k.map((v) => v / t); };
  const F0 = scoreFilter(g(1.2).map((v) => 1.3 * v), size, g(1.3), size, 100, 0);
  for (let i = 0; i < F0.length; i++) assert.ok(Math.abs(F0[i]! - (i === h * size + h ? 1 : 0)) < 1e-9, `F0[${i}] = ${F0[i]}`);
  const F = scoreFilter(g(1.2).map((v) => 1.3 * v), size, g(1.3), size, 100, 40);
  let s = 0;
  for (const v of F) s += v;
  assert.ok(Math.abs(s - 1) < 1e-12);
  // a template blurrier than the science PSF carries relatively more noise at high k: F smooths
  assert.ok(F[h * size + h]! < 0.9 && F[h * size + h + 1]! > 0.01, `F centre ${F[h * size + h]}`);
});

test('pre-convolution (template blurrier): kernel sum, score noise, PSF, transients with unbiased flux, static stars, few false detections', () => {
  const { p, transients } = blurryTemplatePair();
  const W = 1024;
  const r = subtractImages(p.science, p.template, { convolve: 'preconvolve' });
  assert.equal(r.preconvolved, true);
  assert.ok(r.score, 'score maps');
  assert.ok(Math.abs(r.ksum / 1.2 - 1) < 0.005, `kernel sum ${r.ksum} vs 1.2`);
  // the score image's pixel noise is its VARIANCE plane: rms of L/σ away from every source within 5% of 1
  const far = new Uint8Array(W * W).fill(1);
  for (const s of [...p.stars, ...transients]) {
    const R = 16;
    for (let y = Math.max(0, Math.round(s.y) - R); y <= Math.min(W - 1, Math.round(s.y) + R); y++)
      for (let x = Math.max(0, Math.round(s.x) - R); x <= Math.min(W - 1, Math.round(s.x) + R); x++) far[y * W + x] = 0;
  }
  let s1 = 0, s2 = 0, n = 0;
  for (let i = 0; i < far.length; i++) { const z = r.score!.snr[i]!; if (far[i] && z === z) { s1 += z; s2 += z * z; n++; } }
  assert.ok(n > 20000, `${n} far pixels`);
  const noise = Math.sqrt(s2 / n - (s1 / n) ** 2);
  assert.ok(Math.abs(noise - 1) < 0.05, `score noise ${noise}`);
  assert.ok(Math.abs(r.residRms - 1) < 0.05, `RESIDRMS ${r.residRms}`);
  // effective PSF: unit sum, about √2 × the science FWHM or wider (F smooths a little)
  let ps = 0;
  for (const v of r.diffPsf.data) ps += v;
  assert.ok(Math.abs(ps - 1) < 1e-6, `PSF sum ${ps}`);
  assert.ok(r.diffPsf.fwhmPix > 1.3 * 3.0 && r.diffPsf.fwhmPix < 2.5 * 3.0, `score PSF FWHM ${r.diffPsf.fwhmPix}`);
  // detection without a second matched filter (the S/N map), all transients found
  const dia = detectDiaSources(r.diff, r.psf, { thresh: 5, fwhmPix: r.diffPsf.fwhmPix, maps: r.score! });
  const L = r.diff.image;
  const size = 2 * Math.ceil(2 * r.diffPsf.fwhmPix) + 1, hs = (size - 1) >> 1;
  const P = new Float32Array(size * size);
  const ratios: number[] = [], mapRatios: number[] = [], pulls: number[] = [];
  for (const t of transients) {
    const m = dia.find((s) => Math.hypot(s.x - t.x, s.y - t.y) < 2);
    assert.ok(m && m.snr > 0, `transient at ${t.x.toFixed(1)},${t.y.toFixed(1)} not found`);
    // forced PSF fit of the score image at the true position (least squares: unbiased whatever the noise correlation)
    r.psf.stampAt(t.x, t.y, size, P);
    let spd = 0, spp = 0;
    const x0 = Math.round(t.x) - hs, y0 = Math.round(t.y) - hs;
    for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) {
      const k = (y0 + j) * W + x0 + i, d = L[k]!;
      if (d !== d) continue;
      spd += P[j * size + i]! * d; spp += P[j * size + i]! ** 2;
    }
    const f = spd / spp;
    ratios.push(f / t.flux);
    // the diaSource's flux (flux map at the S/N peak: sub-pixel parabolic peak) and its error
    mapRatios.push(m.flux / t.flux);
    pulls.push((m.flux - t.flux) / m.fluxErr);
  }
  const avg = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  assert.ok(Math.abs(avg(ratios) - 1) < 0.02, `mean forced-fit flux ratio ${avg(ratios)}`);
  assert.ok(Math.abs(avg(mapRatios) - 1) < 0.02, `mean diaSource flux ratio ${avg(mapRatios)}`);
  const mp = avg(pulls), sp = Math.sqrt(avg(pulls.map((x) => (x - mp) ** 2)));
  assert.ok(Math.abs(mp) < 0.5 && sp > 0.6 && sp < 1.5, `flux pulls ${mp.toFixed(2)} ± ${sp.toFixed(2)}`);
  // static stars: the score S/N at their positions is noise (bright stars included)
  const z: number[] = [];
  for (let i = 0; i < p.stars.length; i++) {
    const s = p.stars[i]!;
    if (s.x < 40 || s.y < 40 || s.x > W - 41 || s.y > W - 41) continue;
    if (transients.some((t) => Math.hypot(t.x - s.x, t.y - s.y) < 25)) continue;
    const v = r.score!.snr[Math.round(s.y) * W + Math.round(s.x)]!;
    if (v === v) z.push(v);
  }
  const zr = Math.sqrt(z.reduce((a, b) => a + b * b, 0) / z.length);
  assert.ok(z.length > 200 && zr < 1.5, `static-star score rms ${zr.toFixed(2)} over ${z.length} stars`);
  const fakes = dia.filter((s) => !transients.some((t) => Math.hypot(t.x - s.x, t.y - s.y) < 3));
  assert.ok(fakes.length <= 5, `${fakes.length} false detections`);
  // the same pair by convolving the science image finds the same transients (pre-convolution is
  // not worse), with a kernel sum no closer to the truth
  const rs = subtractImages(p.science, p.template, { convolve: 'science' });
  assert.equal(rs.preconvolved, false);
  const diaS = detectDiaSources(rs.diff, rs.psf, { thresh: 5, fwhmPix: rs.diffPsf.fwhmPix });
  const foundS = transients.filter((t) => diaS.some((s) => Math.hypot(s.x - t.x, s.y - t.y) < 2)).length;
  assert.equal(foundS, transients.length);
});

test('pre-convolution without the score filter (decorrelate: false): S ⋆ P_s − K ⊗ T with its own pixel variance', () => {
  const p = simulatePair({ width: 512, height: 512, seed: 53, fluxRange: [2000, 1e6], fwhmSci: 3.0, fwhmTmpl: 3.5 });
  const r = subtractImages(p.science, p.template, { convolve: 'preconvolve', decorrelate: false });
  assert.equal(r.preconvolved, true);
  assert.equal(r.decorrelated, false);
  assert.equal(r.phi.size, 1);
  assert.ok(Math.abs(r.ksum / 1.2 - 1) < 0.005, `kernel sum ${r.ksum}`);
  assert.ok(Math.abs(r.residRms - 1) < 0.05, `RESIDRMS ${r.residRms}`);
});

test('tessera diff --convolve preconvolve: score image with PRECONV/SCOREIMG keywords, diaSources from its S/N map', async () => {
  const dir = tempDir();
  const p = simulatePair({ width: 512, height: 512, seed: 47, fluxRange: [2000, 1e6], fwhmSci: 3.0, fwhmTmpl: 3.5, transients: [{ x: 200.3, y: 300.6, flux: 6000 }] });
  const put = (name: string, im: typeof p.science) => writeFits(join(dir, name), [
    { kind: 'image', data: null, shape: [] },
    { kind: 'image', extname: 'IMAGE', data: im.image, shape: [512, 512] },
    { kind: 'image', extname: 'VARIANCE', data: im.variance, shape: [512, 512] },
  ]);
  put('sci.fits', p.science); put('tmpl.fits', p.template);
  const res = await cli(['diff', join(dir, 'sci.fits'), join(dir, 'tmpl.fits'), '-o', join(dir, 'd.fits.fz'), '--sources', join(dir, 'd.cat'), '--convolve', 'preconvolve']);
  assert.equal(res.code, 0, res.stderr);
  const h = FitsReader.open(join(dir, 'd.fits.fz')).imageHeader('IMAGE');
  assert.equal(h.get('CONVOLVE'), 'PRECONV');
  assert.equal(h.get('SCOREIMG'), true);
  assert.ok(Math.abs(h.number('KSUM') / 1.2 - 1) < 0.01, `KSUM ${h.number('KSUM')}`);
  const t = FitsReader.open(join(dir, 'd.cat')).readTable('DIASRC');
  const X = t.column('X_IMAGE').data as Float64Array, Y = t.column('Y_IMAGE').data as Float64Array, S = t.column('SNR').data as Float64Array;
  let k = -1;
  for (let i = 0; i < X.length; i++) if (Math.hypot(X[i]! - 201.3, Y[i]! - 301.6) < 2) k = i;
  assert.ok(k >= 0 && S[k]! > 10, 'transient found on the score image');
  const bad = await cli(['diff', join(dir, 'sci.fits'), join(dir, 'tmpl.fits'), '-o', join(dir, 'e.fits.fz'), '--convolve', 'sideways']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--convolve must be auto, template, science or preconvolve/);
});
