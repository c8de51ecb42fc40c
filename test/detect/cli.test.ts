import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { cli, tempDir } from '../helpers.js';
import { writeFits } from '../../src/fits/writer.js';
import { FitsReader } from '../../src/fits/reader.js';
import { Header } from '../../src/fits/header.js';
import { Wcs } from '../../src/wcs/wcs.js';
import { simulate, randomStars, matchPositions } from './sim.js';
import { GaussianPsf } from '../../src/detect/psf-like.js';
import { PsfModel } from '../../src/psf/model.js';
import { psfToHdu } from '../../src/psf/io.js';

const dir = tempDir('tessera-detect-');
const W = 300, H = 200;
const STARS = randomStars(40, W, H, 3e3, 2e5, 5, 12);
const SIM = simulate({ width: W, height: H, stars: STARS, profile: 'gaussian', fwhm: 3, sky: 500, readNoise: 5, gain: 1, seed: 4 });

function wcsHeader(): Header {
  const h = new Header();
  for (const [k, v] of [['CTYPE1', 'RA---TAN'], ['CTYPE2', 'DEC--TAN'], ['CRVAL1', 150.0], ['CRVAL2', 2.0], ['CRPIX1', 150.5], ['CRPIX2', 100.5],
    ['CD1_1', -7.3e-5], ['CD1_2', 0], ['CD2_1', 0], ['CD2_2', 7.3e-5], ['GAIN', 1.0]] as const) h.set(k, v);
  return h;
}
const IMG = join(dir, 'ccd.fits');
writeFits(IMG, [
  { kind: 'image', data: null, shape: [] },
  { kind: 'image', data: SIM.image, shape: [W, H], extname: 'N4', header: wcsHeader() },
  { kind: 'bintable', extname: 'T', columns: [{ name: 'A', data: Int32Array.from([1]) }], nrows: 1 },
]);

function readCat(path: string) {
  const r = FitsReader.open(path);
  const t = r.readTable(1);
  r.close();
  const col = (n: string) => { const c = t.columns.find((x) => x.name === n); assert.ok(c, `column ${n}`); return c!; };
  return { t, col };
}

test('tessera detect writes a SExtractor-like FITS catalog with sky positions', async () => {
  const out = join(dir, 'cat.fits');
  const r = await cli(['detect', `${IMG}[N4]`, '-o', out, '--aper', '3,6,12', '--check-background', join(dir, 'back.fits')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /sources/);
  const { t, col } = readCat(out);
  for (const n of ['NUMBER', 'X_IMAGE', 'Y_IMAGE', 'XWIN_IMAGE', 'YWIN_IMAGE', 'ERRX2WIN_IMAGE', 'ALPHA_J2000', 'DELTA_J2000', 'FLUX_APER', 'FLUXERR_APER',
    'FLUX_AUTO', 'FLUXERR_AUTO', 'KRON_RADIUS', 'FLUX_RADIUS', 'A_IMAGE', 'B_IMAGE', 'THETA_IMAGE', 'ISOAREA_IMAGE', 'FLUX_MAX', 'FWHM_IMAGE', 'BACKGROUND', 'FLAGS', 'IMAFLAGS_ISO']) col(n);
  assert.equal(col('FLUX_APER').repeat, 3);
  assert.equal(t.header.get('APERD2'), 6);
  const x = col('XWIN_IMAGE').data as Float64Array, y = col('YWIN_IMAGE').data as Float64Array;
  const m = matchPositions(STARS.map((s) => s.x + 1), STARS.map((s) => s.y + 1), x, y, 1);
  let found = 0;
  for (const j of m) if (j >= 0) found++;
  // this random field holds two unresolvable pairs (≤ 1 FWHM apart) and two faint stars beside bright ones
  assert.ok(found >= 35, `${found}/40 stars found (FITS 1-based positions)`);
  // sky positions follow the header WCS (1-based pixel convention)
  const wcs = Wcs.fromHeader(wcsHeader());
  const j = m[0]!;
  const [ra, dec] = wcs.pixToSkyOne(x[j]!, y[j]!, 1);
  assert.ok(Math.abs((col('ALPHA_J2000').data as Float64Array)[j]! - ra) < 1e-9 && Math.abs((col('DELTA_J2000').data as Float64Array)[j]! - dec) < 1e-9);
  assert.ok(existsSync(join(dir, 'back.fits')));
  const b = FitsReader.open(join(dir, 'back.fits'));
  const bi = b.readImage('BACKGROUND');
  b.close();
  assert.deepEqual(bi.shape, [W, H]);
  assert.ok(Math.abs((bi.data as Float32Array)[100 * W + 150]! - 500) < 2);
});

test('tessera detect: weight and mask maps; the first image HDU is used when none is named', async () => {
  const wt = join(dir, 'w.fits'), mk = join(dir, 'm.fits');
  const weight = new Float32Array(W * H);
  for (let i = 0; i < W * H; i++) weight[i] = 1 / SIM.variance[i]!;
  for (let x = 0; x < W; x++) weight[50 * W + x] = 0; // a dead row
  const mask = new Int16Array(W * H);
  mask[120 * W + 40] = 4;
  writeFits(wt, [{ kind: 'image', data: weight, shape: [W, H] }]);
  writeFits(mk, [{ kind: 'image', data: mask, shape: [W, H] }]);
  const out = join(dir, 'cat2.fits');
  const r = await cli(['detect', IMG, '-o', out, '--weight', wt, '--mask', mk, '--thresh', '3']);
  assert.equal(r.code, 0, r.stderr);
  const { t } = readCat(out);
  assert.ok(t.nrows >= 35 && t.nrows <= 45, `${t.nrows} sources`);
});

test('tessera detect: no sources gives an empty table; all-NaN, wrong HDU and missing -o are clear errors', async () => {
  const flat = join(dir, 'flat.fits');
  const sim = simulate({ width: 64, height: 64, stars: [], sky: 100, readNoise: 3, gain: 1e9, seed: 2 });
  writeFits(flat, [{ kind: 'image', data: sim.image, shape: [64, 64] }]);
  const out = join(dir, 'empty.fits');
  const r = await cli(['detect', flat, '-o', out, '--thresh', '6']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readCat(out).t.nrows, 0);

  const nan = join(dir, 'nan.fits');
  writeFits(nan, [{ kind: 'image', data: new Float32Array(64 * 64).fill(NaN), shape: [64, 64] }]);
  const e1 = await cli(['detect', nan, '-o', join(dir, 'x.fits')]);
  assert.equal(e1.code, 1);
  assert.match(e1.stderr, /nan\.fits\[0\].*NaN/);
  assert.ok(!existsSync(join(dir, 'x.fits')));

  const e2 = await cli(['detect', `${IMG}[7]`, '-o', join(dir, 'x.fits')]);
  assert.equal(e2.code, 1);
  assert.match(e2.stderr, /no HDU 7/);
  const e3 = await cli(['detect', `${IMG}[T]`, '-o', join(dir, 'x.fits')]);
  assert.equal(e3.code, 1);
  assert.match(e3.stderr, /binary table, not an image/);
  const e4 = await cli(['detect', IMG]);
  assert.equal(e4.code, 2);
  const e5 = await cli(['detect', join(dir, 'missing.fits'), '-o', join(dir, 'x.fits')]);
  assert.equal(e5.code, 1);
  assert.match(e5.stderr, /missing\.fits: no such file/);
  const wrongSize = join(dir, 'small.fits');
  writeFits(wrongSize, [{ kind: 'image', data: new Float32Array(100), shape: [10, 10] }]);
  const e6 = await cli(['detect', IMG, '-o', join(dir, 'x.fits'), '--weight', wrongSize]);
  assert.equal(e6.code, 1);
  assert.match(e6.stderr, /weight map is 10×10/);
});

test('tessera detect --psf reads a tessera PSF HDU: FLUX_PSF unbiased, SPREAD_MODEL ≈ 0 for stars', async () => {
  // a constant Gaussian PSF model (FWHM 3 px, as the simulated stars) in the src/psf format
  const size = 25;
  const basis = new GaussianPsf(3).stampAt(0, 0, size);
  const model = new PsfModel({ size, sampling: 1, degree: 0, polZero: [W / 2, H / 2], polScale: [W, H], coeffs: Float64Array.from(basis), fwhmPix: 3 });
  const hdu = psfToHdu(model);
  const h = new Header();
  for (const c of hdu.cards) if (c.key !== 'EXTNAME') h.set(c.key, c.value as string | number | boolean, c.comment);
  const psfPath = join(dir, 'psf.fits');
  writeFits(psfPath, [{ kind: 'image', data: null, shape: [] }, { kind: 'image', data: hdu.data, shape: hdu.shape, extname: 'PSF', header: h }]);
  const out = join(dir, 'cat-psf.fits');
  const r = await cli(['detect', `${IMG}[N4]`, '-o', out, '--psf', psfPath]);
  assert.equal(r.code, 0, r.stderr);
  const { col } = readCat(out);
  const fp = col('FLUX_PSF').data as Float64Array, sm = col('SPREAD_MODEL').data as Float64Array;
  col('FLUXERR_PSF'); col('SPREADERR_MODEL');
  const x = col('XWIN_IMAGE').data as Float64Array, y = col('YWIN_IMAGE').data as Float64Array, fl = col('FLAGS').data as Int32Array;
  const m = matchPositions(STARS.map((s) => s.x + 1), STARS.map((s) => s.y + 1), x, y, 1);
  const ratios: number[] = [], spreads: number[] = [];
  STARS.forEach((s, i) => { const j = m[i]!; if (j >= 0 && !(fl[j]! & 3) && s.flux > 2e4) { ratios.push(fp[j]! / s.flux); spreads.push(sm[j]!); } });
  ratios.sort((a, b) => a - b); spreads.sort((a, b) => a - b);
  assert.ok(ratios.length >= 10);
  assert.ok(Math.abs(ratios[ratios.length >> 1]! - 1) < 0.01, `FLUX_PSF / truth median ${ratios[ratios.length >> 1]}`);
  assert.ok(Math.abs(spreads[spreads.length >> 1]!) < 0.002, `SPREAD_MODEL median ${spreads[spreads.length >> 1]}`);
});

test('tessera detect: with VARSRC = T and a weight map the gain adds no second source-noise term', async () => {
  const weight = new Float32Array(W * H);
  for (let i = 0; i < W * H; i++) weight[i] = 1 / SIM.variance[i]!;
  const wt = join(dir, 'w-varsrc.fits');
  writeFits(wt, [{ kind: 'image', data: weight, shape: [W, H] }]);
  const gainOf = async (varsrc: boolean) => {
    const h = wcsHeader();
    h.set('GAIN', 4);
    if (varsrc) h.set('VARSRC', true);
    const img = join(dir, `varsrc-${varsrc}.fits`);
    writeFits(img, [{ kind: 'image', data: SIM.image, shape: [W, H], header: h }]);
    const out = join(dir, `varsrc-${varsrc}-cat.fits`);
    const r = await cli(['detect', img, '-o', out, '--weight', wt, '--thresh', '3']);
    assert.equal(r.code, 0, r.stderr);
    const { t } = readCat(out);
    return t.header.get('GAIN');
  };
  assert.equal(await gainOf(false), 4);
  assert.equal(await gainOf(true), 0);
});
