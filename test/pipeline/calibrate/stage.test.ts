import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir } from '../../helpers.js';
import { Header } from '../../../src/fits/header.js';
import { writeFits, type HduInput } from '../../../src/fits/writer.js';
import { FitsReader } from '../../../src/fits/reader.js';
import { Wcs } from '../../../src/wcs/wcs.js';
import { buildRefcat } from '../../../src/calib/refcat/index.js';
import { psfFromHdu } from '../../../src/psf/io.js';
import { makeSynthCcd, offsetWcs } from './synthccd.js';

/**
 * An exposure of five CCDs: N1 normal, N2 all NaN, N3 three stars only, N4 header WCS 5° off,
 * N5 pointing at sky the reference catalog does not cover. Only N1 may succeed.
 */
async function buildExposure(dir: string) {
  const W = 1024, H = 2048;
  const s = makeSynthCcd({ width: W, height: H, nStars: 900, seed: 9, zp: 30.7 });
  const hdrFor = (wcs: Wcs, name: string, num: number) => {
    const h = new Header([], name);
    h.set('CCDNUM', num); h.set('EXPNUM', 4242); h.set('BAND', 'r'); h.set('MJD-OBS', 60100.25);
    h.set('GAIN', s.gain); h.set('SATURATE', 1e9);
    wcs.toHeader(h);
    return h;
  };
  const nan = new Float32Array(W * H).fill(NaN);
  // Three stars on flat noise.
  const few = makeSynthCcd({ width: W, height: H, nStars: 0, seed: 10 });
  for (const [x, y] of [[200, 300], [700, 1200], [400, 1800]] as const) {
    for (let dy = -6; dy <= 6; dy++) for (let dx = -6; dx <= 6; dx++) few.image[(y + dy) * W + x + dx]! += 5000 * Math.exp(-(dx * dx + dy * dy) / 6);
  }
  const far = offsetWcs(s.truth, [5 * 3600, 0], 0, 1);
  const elsewhere = Wcs.tan({ crval: [30, -40], crpix: [W / 2, H / 2], cd: s.header.cd, naxis: [W, H] });
  const img = (name: string, num: number, data: Float32Array, wcs: Wcs): HduInput => ({ kind: 'image', extname: name, header: hdrFor(wcs, name, num), data, shape: [W, H], compress: { type: 'RICE_1', quantizeLevel: 16 } });
  const wgt = (name: string, num: number, v: Float32Array, wcs: Wcs): HduInput => ({ kind: 'image', extname: name, header: hdrFor(wcs, name, num), data: v.map((x) => 1 / x), shape: [W, H], compress: { type: 'RICE_1', quantizeLevel: 16 } });
  const expo = join(dir, 'expo.fits.fz'), weight = join(dir, 'expo_wgt.fits.fz');
  writeFits(expo, [img('N1', 1, s.image, s.header), img('N2', 2, nan, s.header), img('N3', 3, few.image, few.header), img('N4', 4, s.image, far), img('N5', 5, s.image, elsewhere)]);
  writeFits(weight, [wgt('N1', 1, s.variance, s.header), wgt('N2', 2, s.variance, s.header), wgt('N3', 3, few.variance, few.header), wgt('N4', 4, s.variance, far), wgt('N5', 5, s.variance, elsewhere)]);
  // Reference catalog: the synthetic Gaia stars; the 5°-off field is covered (empty), N5's is not.
  const rows = ['source_id,ra,dec,ref_epoch,pmra,pmdec,phot_g_mean_mag,phot_bp_mean_mag,phot_rp_mean_mag'];
  for (let i = 0; i < s.ref.ra.length; i++) {
    const f = (v: number) => (Number.isFinite(v) ? String(v) : '');
    rows.push(`${i + 1},${s.ref.ra[i]},${s.ref.dec[i]},2016.0,0,0,${f(s.ref.g[i]!)},${f(s.ref.bp[i]!)},${f(s.ref.rp[i]!)}`);
  }
  writeFileSync(join(dir, 'gaia.csv'), rows.join('\n') + '\n');
  const [fr, fd] = far.pixToSkyOne(W / 2, H / 2);
  await buildRefcat([join(dir, 'gaia.csv')], join(dir, 'refcat'), { coverCones: [[fr, fd, 1.0]] });
  return { s, expo, weight, refcat: join(dir, 'refcat') };
}

test('tessera calibrate: one good CCD, four clear per-CCD failures, outputs and qa.csv', async () => {
  const dir = tempDir();
  const { s, expo, weight, refcat } = await buildExposure(dir);
  const out = join(dir, 'out');
  const r = await cli(['calibrate', expo, '--weight', weight, '--refcat', refcat, '-o', out, '--jobs', '2']);
  assert.equal(r.code, 1, r.stderr);
  const qa = readFileSync(join(out, 'qa.csv'), 'utf8').trim().split('\n');
  assert.equal(qa[0], 'expnum,ccd,band,mjd,zp,zp_err,seeing,sky,depth,astrom_rms,n_stars,flags');
  const rows = Object.fromEntries(qa.slice(1).map((l) => { const f = l.split(','); return [f[1], { f, line: l }]; }));
  assert.deepEqual(Object.keys(rows).sort(), ['N1', 'N2', 'N3', 'N4', 'N5']);
  const n1 = rows['N1']!.f;
  assert.equal(n1[11], '', `N1 flags: ${rows['N1']!.line}`);
  assert.ok(Math.abs(Number(n1[4]) - s.zpTrue) < 0.01, `N1 zero point ${n1[4]} vs ${s.zpTrue}`);
  assert.match(rows['N2']!.line, /FAILED: exposure 4242 CCD N2: no usable pixel/);
  assert.match(rows['N3']!.line, /FAILED: exposure 4242 CCD N3: .*(only \d+ (PSF star|source|usable)|astrometry)/);
  assert.match(rows['N4']!.line, /FAILED: exposure 4242 CCD N4: astrometry: (only 0 reference star|no consistent pattern)/);
  assert.match(rows['N5']!.line, /FAILED: .*does not cover/);
  assert.match(r.stderr, /1\/5 CCDs calibrated/);
  // Products of N1.
  const calexp = join(out, '4242', 'N1', 'calexp.fits.fz');
  assert.ok(existsSync(calexp) && existsSync(join(out, '4242', 'N1', 'src.fits')));
  assert.ok(!existsSync(join(out, '4242', 'N2')), 'a failed CCD leaves no products');
  const rd = FitsReader.open(calexp);
  try {
    const ih = rd.imageHeader('IMAGE');
    for (const k of ['MAGZERO', 'MAGZERR', 'FWHM', 'SKYLEVEL', 'DEPTH', 'ASTRRMS', 'NASTRSTR']) assert.ok(typeof ih.get(k) === 'number', k);
    // The calibrated WCS in the header agrees with the truth to < 20 mas over the CCD.
    const wcs = Wcs.fromHeader(ih);
    let worst = 0;
    for (const [x, y] of [[1, 1], [1024, 2048], [512, 1024], [1, 2048], [1024, 1]] as const) {
      const [a, d] = wcs.pixToSkyOne(x, y), [ta, td] = s.truth.pixToSkyOne(x, y);
      worst = Math.max(worst, Math.hypot((a - ta) * Math.cos((td * Math.PI) / 180), d - td) * 3600);
    }
    assert.ok(worst < 0.03, `calexp WCS vs truth, worst corner ${worst}″`);
    const im = rd.readImage('IMAGE');
    const vals: number[] = [];
    for (let i = 0; i < im.data.length; i += 97) { const v = Number(im.data[i]); if (Number.isFinite(v)) vals.push(v); }
    vals.sort((a, b) => a - b);
    assert.ok(Math.abs(vals[vals.length >> 1]!) < 2, `image is sky-subtracted (median ${vals[vals.length >> 1]})`);
    const p = rd.readImage('PSF');
    const psf = psfFromHdu(rd.imageHeader('PSF'), p.data as Float32Array, p.shape);
    assert.ok(Math.abs(psf.shapeAt(511, 1023).fwhmOpticalPix / s.field.fwhm(511, 1023) - 1) < 0.03);
    for (const name of ['VARIANCE', 'MASK']) assert.ok(rd.hdu(name));
  } finally {
    rd.close();
  }
  const cat = FitsReader.open(join(out, '4242', 'N1', 'src.fits'));
  try {
    const t = cat.readTable('SOURCES');
    for (const c of ['X_IMAGE', 'ALPHA_J2000', 'DELTA_J2000', 'FLUX_PSF', 'MAG_PSF', 'MAG_AUTO', 'FLAGS']) assert.ok(t.column(c), c);
  } finally {
    cat.close();
  }
  // Only some CCDs, in this thread; qa.csv keeps the other rows and replaces N1's.
  const r2 = await cli(['calibrate', expo, '--weight', weight, '--refcat', refcat, '-o', out, '--ccd', 'N1', '--jobs', '1']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(readFileSync(join(out, 'qa.csv'), 'utf8').trim().split('\n').length, 6);
  const bad = await cli(['calibrate', expo, '--refcat', refcat, '-o', out, '--ccd', 'Z9']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no CCD 'Z9'/);
  const noref = await cli(['calibrate', expo, '--refcat', join(dir, 'nope'), '-o', out]);
  assert.equal(noref.code, 1);
  assert.match(noref.stderr, /not a reference catalog directory/);
});
