import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cli, tempDir } from '../helpers.js';
import { writeFits, type HduInput } from '../../src/fits/writer.js';
import { FitsReader } from '../../src/fits/reader.js';
import { Header } from '../../src/fits/header.js';
import { GaussianPsf } from '../../src/detect/psf-like.js';
import { PsfModel } from '../../src/psf/model.js';
import { psfFromHdu, psfToHdu } from '../../src/psf/io.js';
import { Wcs } from '../../src/wcs/wcs.js';
import { brickGrid, patchGrid, readCalexp } from '../../src/templates/io.js';
import { dc2SkyMap } from '../../src/sky/skymap.js';
import { aperture, gaussRng, renderStars, rotatedWcs, starGrid } from './simfield.js';

const dir = tempDir('tessera-templates-');
const grid = brickGrid('1501p022', 300, 300, 0.262);
const [cra, cdec] = grid.wcs.pixToSkyOne(150.5, 150.5, 1);
const stars = starGrid(grid.wcs, 300, 300, 16, 30, [5e3, 4e4], 3);

function writeCalexp(path: string, k: number, opts: { noZp?: boolean } = {}): void {
  const W = 280, H = 280, scale = 0.263, fwhm = [0.95, 1.1, 1.25][k]!, zp = [25.1, 24.9, 25.3][k]!, sigma = [10, 12, 9][k]!;
  const wcs = rotatedWcs(cra + (k - 1) * 0.0007, cdec + (1 - k) * 0.0005, W, H, scale, 10 * k);
  const f = 10 ** (0.4 * (zp - 22.5));
  const img = renderStars(wcs, W, H, stars.map((s) => ({ ...s, flux: s.flux * f })), fwhm / 2.3548);
  const g = gaussRng(40 + k);
  for (let i = 0; i < img.length; i++) img[i]! += sigma * g();
  const ih = new Header([], 'IMAGE');
  wcs.toHeader(ih);
  if (!opts.noZp) ih.set('MAGZERO', zp);
  const vh = new Header([], 'VARIANCE');
  const stamp = new GaussianPsf(fwhm / scale).stampAt(0, 0, 25);
  const psf = psfToHdu(new PsfModel({ size: 25, sampling: 1, degree: 0, polZero: [W / 2, H / 2], polScale: [W, H], coeffs: Float64Array.from(stamp) }));
  const ph = new Header([], 'PSF');
  for (const c of psf.cards) if (c.key !== 'EXTNAME') ph.set(c.key, c.value, c.comment);
  const hdus: HduInput[] = [
    { kind: 'image', extname: 'IMAGE', header: ih, data: img, shape: [W, H], compress: { type: 'RICE_1', quantizeLevel: 16 } },
    { kind: 'image', extname: 'VARIANCE', header: vh, data: new Float32Array(W * H).fill(sigma * sigma), shape: [W, H], compress: { type: 'RICE_1', quantizeLevel: 16 } },
    { kind: 'image', extname: 'MASK', data: new Uint16Array(W * H), shape: [W, H], compress: { type: 'RICE_1' } },
    { kind: 'image', extname: 'PSF', header: ph, data: psf.data, shape: psf.shape },
  ];
  writeFits(path, hdus);
}

const files = [0, 1, 2].map((k) => { const p = join(dir, `calexp${k}.fits.fz`); writeCalexp(p, k); return p; });

test('tessera coadd --brick: IMAGE/VARIANCE/MASK/NEXP/PSF with WCS and MAGZERO; fluxes vs truth', async () => {
  const out = join(dir, 'coadd.fits.fz');
  const r = await cli(['coadd', '--brick', '1501p022', '--size', '300', ...files, '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /brick 1501p022: 300×300 px, 3 of 3 inputs overlap/);
  assert.match(r.stdout, /coadd PSF: FWHM/);
  const fr = FitsReader.open(out);
  try {
    const names = fr.hdus.map((h) => h.extname?.trim()).filter(Boolean);
    assert.deepEqual(names, ['IMAGE', 'VARIANCE', 'MASK', 'NEXP', 'PSF']);
    const im = fr.readImage('IMAGE');
    assert.equal(im.header.get('MAGZERO'), 22.5);
    assert.equal(im.header.get('BUNIT'), 'nanomaggy');
    assert.ok(typeof im.header.get('WRPVARF') === 'number');
    const w = Wcs.fromHeader(im.header, 'coadd');
    const [ra, dec] = w.pixToSkyOne(10, 20);
    const [ra2, dec2] = grid.wcs.pixToSkyOne(10, 20);
    assert.ok(Math.abs(ra - ra2) < 1e-9 && Math.abs(dec - dec2) < 1e-9);
    const img = im.data as Float32Array;
    for (const s of stars) {
      const p = grid.wcs.skyToPix([s.ra], [s.dec], 0);
      const a = aperture(img, 300, 300, p.x[0]!, p.y[0]!, 14);
      assert.ok(!a.bad);
      assert.ok(Math.abs(a.flux / s.flux - 1) < 0.01, `flux ${a.flux} vs ${s.flux}`);
    }
    const nexp = fr.readImage('NEXP').data;
    assert.equal(Number(nexp[150 * 300 + 150]), 3);
    // uncovered pixels: NEXP 0, NaN image (survives tile compression), NO_DATA mask bit
    const mk = fr.readImage('MASK').data;
    let holes = 0;
    for (let i = 0; i < nexp.length; i++) if (Number(nexp[i]) === 0) { holes++; assert.ok(Number.isNaN(img[i]!)); assert.ok(Number(mk[i]) & 128); }
    assert.ok(holes > 0);
    const ph = fr.readImage('PSF');
    const psf = psfFromHdu(ph.header, ph.data as ArrayLike<number>, ph.shape, 'coadd PSF');
    const f = psf.fwhmPixAt(150, 150);
    assert.ok(f > 0.95 / 0.262 && f < 1.25 / 0.262, `coadd PSF FWHM ${f}`);
    // the coadd reads back as an input (e.g. a template for tessera diff): WCS, MAGZERO, planes, PSF
    const back = readCalexp(out);
    assert.equal(back.magzero, 22.5);
    assert.ok(back.image.variance && back.image.mask && back.psf);
  } finally {
    fr.close();
  }
});

test('tessera coadd: clear errors for bad input and usage', async () => {
  const noZp = join(dir, 'nozp.fits.fz');
  writeCalexp(noZp, 0, { noZp: true });
  const r = await cli(['coadd', '--brick', '1501p022', '--size', '300', noZp, '-o', join(dir, 'x.fits.fz')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /nozp\.fits\.fz\[1 'IMAGE'\]: keyword MAGZERO is missing/);
  const far = await cli(['coadd', '--brick', '0001p000', '--size', '300', files[0]!, '-o', join(dir, 'y.fits.fz')]);
  assert.equal(far.code, 1);
  assert.match(far.stderr, /none of the 1 inputs overlaps/);
  const both = await cli(['coadd', '--brick', '1501p022', '--patch', '4849,5,5', files[0]!, '-o', join(dir, 'z.fits.fz')]);
  assert.equal(both.code, 2);
  const noOut = await cli(['coadd', '--brick', '1501p022', files[0]!]);
  assert.equal(noOut.code, 2);
  const badPatch = await cli(['coadd', '--patch', '4849,x', files[0]!, '-o', join(dir, 'w.fits.fz')]);
  assert.equal(badPatch.code, 1);
  assert.match(badPatch.stderr, /expected TRACT,X,Y or TRACT,SEQ/);
});

test('tessera coadd --onto: templates stacked on a search image\'s own pixel grid', async () => {
  // the search CCD: a grid of its own (rotated, 0.27″/px), pixels irrelevant
  const sw = rotatedWcs(cra + 0.0004, cdec - 0.0003, 240, 250, 0.27, -35);
  const sh = new Header([], 'IMAGE');
  sw.toHeader(sh);
  const search = join(dir, 'search.fits');
  writeFits(search, [{ kind: 'image', extname: 'IMAGE', header: sh, data: new Float32Array(240 * 250), shape: [240, 250] }]);
  const out = join(dir, 'onto.fits.fz');
  const r = await cli(['coadd', '--onto', search, '--magzero', '30', ...files, '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /grid of .*search\.fits\[0 'IMAGE'\]: 240×250 px/);
  const fr = FitsReader.open(out);
  try {
    const im = fr.readImage('IMAGE');
    assert.deepEqual(im.shape, [240, 250]);
    assert.equal(im.header.get('MAGZERO'), 30);
    const img = im.data as Float32Array;
    const k = 10 ** (0.4 * (30 - 22.5));
    let n = 0;
    for (const s of stars) {
      const p = sw.skyToPix([s.ra], [s.dec], 0);
      const a = aperture(img, 240, 250, p.x[0]!, p.y[0]!, 13);
      if (a.bad) continue;
      n++;
      assert.ok(Math.abs(a.flux / (s.flux * k) - 1) < 0.01, `flux ${a.flux} vs ${s.flux * k}`);
    }
    assert.ok(n >= 6, `${n} stars inside the search grid`);
  } finally {
    fr.close();
  }
});

test('patch grid: the DC2 patch outer box and WCS', () => {
  const g = patchGrid('4849,5,5');
  const p = dc2SkyMap().tract(4849).patch(5, 5);
  assert.equal(g.width, p.outer.width);
  assert.equal(g.height, p.outer.height);
  const a = g.wcs.pixToSkyOne(100, 200), b = p.wcs().pixToSkyOne(100, 200);
  assert.ok(Math.abs(a[0] - b[0]) < 1e-12 && Math.abs(a[1] - b[1]) < 1e-12);
  assert.equal(patchGrid(`4849,${7 * 5 + 5}`).name, g.name);
});
