import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cli, tempDir, PYTHON } from '../../helpers.js';
import { buildRefcat, Refcat, RefcatCoverageError, propagatePosition, magErrorFromFluxOverError } from '../../../src/calib/refcat/index.js';
import { writeFits, FitsReader } from '../../../src/fits/index.js';
import { separationDeg, gnomonicUnproject, gnomonicProject } from '../../../src/sky/sphere.js';
import { healpix } from '../../../src/sky/healpix.js';

/** Deterministic synthetic Gaia-like stars in a field (RA centre, Dec centre, half-size). */
function stars(n: number, ra0: number, dec0: number, half: number, seed: number, idBase = 4_000_000_000_000_000_000n) {
  let s = seed >>> 0;
  const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const ra = new Float64Array(n), dec = new Float64Array(n), pmra = new Float64Array(n), pmdec = new Float64Array(n), g = new Float64Array(n), foe = new Float64Array(n);
  const id = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const [a, d] = gnomonicUnproject(ra0, dec0, (2 * r() - 1) * half, (2 * r() - 1) * half);
    ra[i] = a; dec[i] = d;
    pmra[i] = (r() - 0.5) * 40; pmdec[i] = (r() - 0.5) * 40;
    g[i] = 12 + 8 * r(); foe[i] = 1000 / (1 + (g[i]! - 12) ** 2);
    id[i] = idBase + BigInt(i) * 7919n;
  }
  return { ra, dec, pmra, pmdec, g, foe, id };
}

function writeCsv(path: string, c: ReturnType<typeof stars>, from: number, to: number): void {
  const lines = ['source_id,ra,dec,pmra,pmdec,ref_epoch,phot_g_mean_mag,phot_g_mean_flux_over_error'];
  for (let i = from; i < to; i++) lines.push(`${c.id[i]},${c.ra[i]!.toPrecision(17)},${c.dec[i]!.toPrecision(17)},${c.pmra[i]},${c.pmdec[i]},2016.0,${c.g[i]},${c.foe[i]}`);
  writeFileSync(path, lines.join('\n') + '\n');
}

test('build from CSV + FITS + Parquet, cone query equals brute force (across RA 0/360)', async () => {
  const dir = tempDir();
  const c = stars(30000, 0.5, 10, 2.5, 1);
  writeCsv(join(dir, 'a.csv'), c, 0, 10000);
  writeFits(join(dir, 'b.fits'), [{ kind: 'bintable', nrows: 10000, columns: [
    { name: 'SOURCE_ID', data: c.id.slice(10000, 20000) }, { name: 'RA', data: c.ra.slice(10000, 20000) }, { name: 'DEC', data: c.dec.slice(10000, 20000) },
    { name: 'pmra', data: c.pmra.slice(10000, 20000) }, { name: 'pmdec', data: c.pmdec.slice(10000, 20000) },
    { name: 'phot_g_mean_mag', data: Float32Array.from(c.g.slice(10000, 20000)) },
  ] }]);
  const { parquetWriteFile } = await import('hyparquet-writer');
  parquetWriteFile({ filename: join(dir, 'c.parquet'), columnData: [
    { name: 'source_id', data: c.id.slice(20000), type: 'INT64' },
    { name: 'ra', data: Array.from(c.ra.slice(20000)), type: 'DOUBLE' },
    { name: 'dec', data: Array.from(c.dec.slice(20000)), type: 'DOUBLE' },
    { name: 'phot_g_mean_mag', data: Array.from(c.g.slice(20000)), type: 'DOUBLE' },
  ] });
  const out = join(dir, 'refcat');
  const m = await buildRefcat([join(dir, 'a.csv'), join(dir, 'b.fits'), join(dir, 'c.parquet')], out, { nside: 32, chunkRows: 3000 });
  assert.equal(m.nrows, 30000);
  assert.ok(Object.keys(m.pixels).length >= 4);
  assert.ok(existsSync(join(out, 'manifest.json')));
  // each partition holds exactly the rows whose NESTED pixel it is
  const h = healpix(32);
  const rc = Refcat.open(out);
  for (const p of Object.keys(m.pixels).map(Number).slice(0, 3)) {
    const t = rc.readPixel(p);
    for (let i = 0; i < t.nrows; i++) assert.equal(h.ang2pixRaDec(t.columns['ra']![i]!, t.columns['dec']![i]!, true), p);
  }
  for (const [ra, dec, rad] of [[0.2, 10.3, 0.7], [359.6, 9.1, 1.2], [1.0, 11.0, 0.05]] as const) {
    const got = rc.queryCone(ra, dec, rad);
    const want = new Set<bigint>();
    for (let i = 0; i < 30000; i++) if (separationDeg(ra, dec, c.ra[i]!, c.dec[i]!) <= rad) want.add(c.id[i]!);
    assert.equal(got.nrows, want.size, `cone ${ra},${dec},${rad}`);
    for (const id of got.source_id) assert.ok(want.has(id));
    // values survive the round trip: ra/dec exact (float64), G to float32
    const i0 = Number((got.source_id[0]! - 4_000_000_000_000_000_000n) / 7919n);
    assert.equal(got.columns['ra']![0], c.ra[i0]);
    assert.ok(Math.abs(got.columns['phot_g_mean_mag']![0]! - c.g[i0]!) < 1e-5);
  }
  // Parquet rows had no proper motions: NaN, and ref_epoch defaulted to 2016.0
  const all = rc.queryCone(c.ra[25000]!, c.dec[25000]!, 0.01);
  const k = all.source_id.indexOf(c.id[25000]!);
  assert.ok(k >= 0 && Number.isNaN(all.columns['pmra']![k]!) && all.columns['ref_epoch']![k] === 2016);
});

test('footprint (polygon) query equals brute force', async () => {
  const dir = tempDir();
  const c = stars(20000, 150, -60, 1.0, 2);
  writeCsv(join(dir, 'in.csv'), c, 0, 20000);
  await buildRefcat([join(dir, 'in.csv')], join(dir, 'rc'), { nside: 64 });
  const rc = Refcat.open(join(dir, 'rc'));
  // a rotated DECam-CCD-like quadrilateral, given by its tangent-plane corners
  const quad = [[-0.15, -0.08], [0.15, -0.1], [0.16, 0.07], [-0.14, 0.09]] as const;
  const corners = quad.map(([x, y]) => gnomonicUnproject(150.3, -60.2, x, y));
  const t = rc.queryPolygon(corners.map((p) => p[0]), corners.map((p) => p[1]));
  // independent brute force: great circles are straight lines in the gnomonic plane
  let n = 0;
  for (let i = 0; i < 20000; i++) {
    const p = gnomonicProject(150.3, -60.2, c.ra[i]!, c.dec[i]!)!;
    let inside = true;
    for (let k = 0; k < 4; k++) {
      const [ax, ay] = quad[k]!, [bx, by] = quad[(k + 1) % 4]!;
      if ((bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) < 0) inside = false;
    }
    if (inside) n++;
  }
  assert.equal(t.nrows, n);
  assert.ok(n > 100);
});

test('a query over uncovered sky fails naming the pixels; covered-but-empty sky returns no rows', async () => {
  const dir = tempDir();
  const c = stars(2000, 30, 0, 0.3, 3);
  writeCsv(join(dir, 'in.csv'), c, 0, 2000);
  await buildRefcat([join(dir, 'in.csv')], join(dir, 'rc'), { nside: 32, coverCones: [[60, 0, 1]] });
  const rc = Refcat.open(join(dir, 'rc'));
  assert.throws(() => rc.queryCone(120, 40, 0.01), (e: unknown) => {
    assert.ok(e instanceof RefcatCoverageError);
    assert.deepEqual(e.missingPixels, [healpix(32).ang2pixRaDec(120, 40, true)]);
    assert.match(e.message, /does not cover the cone RA=120 Dec=40 radius=0.01°: HEALPix nside=32 NESTED pixel \d+ has no partition/);
    return true;
  });
  // declared covered (cover cone) but no stars there → empty, not an error
  assert.equal(rc.queryCone(60, 0, 0.2).nrows, 0);
  // half in, half out of the data → error too
  assert.throws(() => rc.queryCone(30, 0, 5), RefcatCoverageError);
  // all-sky coverage: never an error
  await buildRefcat([join(dir, 'in.csv')], join(dir, 'rc2'), { nside: 32, coverage: 'all' });
  assert.equal(Refcat.open(join(dir, 'rc2')).queryCone(200, -70, 1).nrows, 0);
  await assert.rejects(buildRefcat([join(dir, 'in.csv')], join(dir, 'rc2')), /already holds a reference catalog/);
});

test('bad inputs give one clear error naming file and row', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'nora.csv'), 'source_id,dec\n1,2\n');
  await assert.rejects(buildRefcat([join(dir, 'nora.csv')], join(dir, 'o1')), /nora\.csv: no 'ra' column/);
  writeFileSync(join(dir, 'bad.csv'), 'ra,dec\n1,2\n3,95\n');
  await assert.rejects(buildRefcat([join(dir, 'bad.csv')], join(dir, 'o2')), /bad\.csv: row 2: invalid position ra=3, dec=95/);
  writeFileSync(join(dir, 'txt.csv'), 'ra,dec\n1,abc\n');
  await assert.rejects(buildRefcat([join(dir, 'txt.csv')], join(dir, 'o3')), /line 2: dec 'abc' is not a number/);
  assert.throws(() => Refcat.open(dir), /not a reference catalog directory/);
  // a failed build leaves no output directory behind, so the same command can simply be re-run
  for (const o of ['o1', 'o2', 'o3']) assert.equal(existsSync(join(dir, o)), false, `${o} left behind`);
  // a directory that existed before a failed build is kept (only the spill files are removed)
  mkdirSync(join(dir, 'keep'));
  writeFileSync(join(dir, 'keep', 'notes.txt'), 'mine');
  await assert.rejects(buildRefcat([join(dir, 'txt.csv')], join(dir, 'keep')), /not a number/);
  assert.deepEqual(readdirSync(join(dir, 'keep')), ['notes.txt']);
});

test('proper-motion propagation: exact shifts, poles, RA wrap, and round trip', () => {
  // 1000 mas/yr north for 10 yr = 10″
  const [r1, d1] = propagatePosition(10, 20, 0, 1000, 2016, 2026);
  assert.ok(Math.abs(r1 - 10) < 1e-12 && Math.abs((d1 - 20) * 3600 - 10) < 1e-9);
  // μα* = 1000 mas/yr at dec 60: RA changes by 10″/cos(60°) = 20″
  const [r2, d2] = propagatePosition(10, 60, 1000, 0, 2016, 2026);
  assert.ok(Math.abs((r2 - 10) * 3600 - 20) < 1e-6 && Math.abs(separationDeg(10, 60, r2, d2) * 3600 - 10) < 1e-9);
  // across RA 0 and through the pole: the angular distance moved is |μ|·Δt
  const [r3] = propagatePosition(359.99999, 0, 1000, 0, 2016, 2026);
  assert.ok(r3 < 1 && r3 >= 0);
  const [r4, d4] = propagatePosition(0, 89.999, 0, 5000, 2000, 2001); // 5″ toward the pole from 3.6″ away: crosses it
  assert.ok(Math.abs(separationDeg(0, 89.999, r4, d4) * 3600 - 5) < 1e-8);
  assert.ok(Math.abs(r4 - 180) < 1e-6 && Math.abs((90 - d4) * 3600 - 1.4) < 1e-6);
  // past the pole the star moves south along RA 180: undoing that motion returns to the start
  const [r5, d5] = propagatePosition(r4, d4, 0, -5000, 2001, 2000);
  assert.ok(separationDeg(r5, d5, 0, 89.999) * 3600 < 1e-6);
  assert.deepEqual(propagatePosition(1, 2, NaN, NaN, 2016, 2030), [1, 2]);
  const e = magErrorFromFluxOverError([100, 0]);
  assert.ok(Math.abs(e[0]! - 0.010857362) < 1e-8 && Number.isNaN(e[1]!));
});

test('epoch propagation agrees with astropy apply_space_motion to 0.05 mas', (t) => {
  const ok = spawnSync(PYTHON, ['-c', 'import astropy'], { stdio: 'ignore' }).status === 0;
  if (!ok) { t.skip('python3-astropy not installed'); return; }
  const pts = [[10, 20, 30, -40], [200, -89.9, 500, 800], [359.9999, 5, 1200, 10], [45, 89.99, -3000, 2000], [120, 0, 0, 0]];
  const py = `
import sys, json
import astropy.units as u
from astropy.coordinates import SkyCoord, Distance
from astropy.time import Time
out = []
for ra, dec, pmra, pmdec in json.loads(sys.argv[1]):
    c = SkyCoord(ra=ra*u.deg, dec=dec*u.deg, pm_ra_cosdec=pmra*u.mas/u.yr, pm_dec=pmdec*u.mas/u.yr,
                 distance=Distance(parallax=10*u.mas), radial_velocity=0*u.km/u.s, obstime=Time(2016.0, format='jyear'))
    d = c.apply_space_motion(new_obstime=Time(2034.5, format='jyear'))
    out.append([d.ra.deg, d.dec.deg])
print(json.dumps(out))
`;
  const r = spawnSync(PYTHON, ['-c', py, JSON.stringify(pts)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const want = JSON.parse(r.stdout) as number[][];
  pts.forEach(([ra, dec, pmra, pmdec], i) => {
    const [a, d] = propagatePosition(ra!, dec!, pmra!, pmdec!, 2016.0, 2034.5);
    assert.ok(separationDeg(a, d, want[i]![0]!, want[i]![1]!) * 3.6e6 < 0.05, `star ${i}: ${a},${d} vs ${want[i]}`);
  });
});

test('tessera refcat build / query (CSV to stdout, FITS file, epoch, errors)', async () => {
  const dir = tempDir();
  const c = stars(3000, 100, -30, 0.5, 5);
  writeCsv(join(dir, 'in.csv'), c, 0, 3000);
  const b = await cli(['refcat', 'build', join(dir, 'in.csv'), '-o', join(dir, 'rc'), '--nside', '64']);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /3000 rows in \d+ pixels \(nside 64/);
  const q = await cli(['refcat', 'query', join(dir, 'rc'), '--cone', '100', '-30', '0.2']);
  assert.equal(q.code, 0, q.stderr);
  const lines = q.stdout.trim().split('\n');
  assert.match(lines[0]!, /^source_id,ra,dec,ra_error,dec_error,pmra,pmdec/);
  let n = 0;
  for (let i = 0; i < 3000; i++) if (separationDeg(100, -30, c.ra[i]!, c.dec[i]!) <= 0.2) n++;
  assert.equal(lines.length - 1, n);
  const f = await cli(['refcat', 'query', join(dir, 'rc'), '--cone', '100', '-30', '0.2', '--epoch', '2024.5', '-o', join(dir, 'q.fits')]);
  assert.equal(f.code, 0, f.stderr);
  const tab = FitsReader.open(join(dir, 'q.fits')).readTable('REFCAT');
  assert.ok(Math.abs(tab.nrows - n) <= 2); // stars near the edge may move across it
  const miss = await cli(['refcat', 'query', join(dir, 'rc'), '--cone', '10', '10', '0.1']);
  assert.equal(miss.code, 1);
  assert.match(miss.stderr, /does not cover the cone RA=10 Dec=10/);
  const usage = await cli(['refcat', 'query', join(dir, 'rc'), '--cone', '10', '10']);
  assert.equal(usage.code, 2);
  assert.ok(readFileSync(join(dir, 'rc', 'manifest.json'), 'utf8').includes('"nside": 64'));
  const info = await cli(['refcat', 'info', join(dir, 'rc')]);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /rows\s+3000/);
  const poly = await cli(['refcat', 'query', join(dir, 'rc'), '--polygon', '99.9,-30.1,100.1,-30.1,100.1,-29.9,99.9,-29.9', '--count']);
  assert.equal(poly.code, 0, poly.stderr);
  assert.ok(Number(poly.stdout) > 0);
});

test('queryWcs: stars on an image footprint (with margin) from a TAN WCS', async () => {
  const { Wcs } = await import('../../../src/wcs/index.js');
  const dir = tempDir();
  const c = stars(20000, 210, 45, 0.6, 8);
  writeCsv(join(dir, 'in.csv'), c, 0, 20000);
  await buildRefcat([join(dir, 'in.csv')], join(dir, 'rc'), { nside: 32 });
  const rc = Refcat.open(join(dir, 'rc'));
  const s = 0.263 / 3600, ang = 0.3;
  const wcs = Wcs.tan({ crval: [210.1, 45.05], crpix: [1024.5, 2048.5], cd: [[-s * Math.cos(ang), s * Math.sin(ang)], [s * Math.sin(ang), s * Math.cos(ang)]] });
  const t = rc.queryWcs(wcs, 2048, 4096);
  const tm = rc.queryWcs(wcs, 2048, 4096, { marginArcsec: 60 });
  // truth: stars whose pixel position falls on the image (and within 60″ ≈ 228 px for the margin case)
  let n = 0, nm = 0;
  for (let i = 0; i < 20000; i++) {
    const [x, y] = wcs.skyToPixOne(c.ra[i]!, c.dec[i]!);
    if (x >= 0.5 && x <= 2048.5 && y >= 0.5 && y <= 4096.5) n++;
    const mpx = 60 / 0.263;
    if (x >= 0.5 - mpx && x <= 2048.5 + mpx && y >= 0.5 - mpx && y <= 4096.5 + mpx) nm++;
  }
  assert.ok(Math.abs(t.nrows - n) <= 1, `${t.nrows} vs ${n}`);
  assert.ok(Math.abs(tm.nrows - nm) <= 1, `${tm.nrows} vs ${nm}`);
});

test('coverage check catches a small cone that pokes just over a pixel edge', async () => {
  const dir = tempDir();
  const h = healpix(32);
  // stars only inside one pixel; the query cone is centred in it, 0.02° from an edge
  const pix = h.ang2pixRaDec(45, 20, true);
  const [cra, cdec] = h.pix2angRaDec(pix, true);
  const lines = ['ra,dec'];
  for (let i = 0; i < 50; i++) lines.push(`${cra + (i % 7) * 0.01},${cdec + Math.floor(i / 7) * 0.01}`);
  writeFileSync(join(dir, 'in.csv'), lines.join('\n') + '\n');
  await buildRefcat([join(dir, 'in.csv')], join(dir, 'rc'), { nside: 32 });
  const rc = Refcat.open(join(dir, 'rc'));
  // walk from the centre towards a corner until just inside the pixel, 0.02° from the boundary
  const corner = h.boundaries(pix, true, 1)[0]!;
  const { vecToRadec } = await import('../../../src/sky/sphere.js');
  const [kra, kdec] = vecToRadec(corner);
  let lo = 0, hi = 1;
  const at = (f: number) => gnomonicUnproject(cra, cdec, ...(gnomonicProject(cra, cdec, kra, kdec)!.map((v) => v * f) as [number, number]));
  for (let k = 0; k < 60; k++) { const m = (lo + hi) / 2; const [a, d] = at(m); if (h.ang2pixRaDec(a, d, true) === pix) lo = m; else hi = m; }
  const [qa, qd] = at(lo * 0.995);
  assert.equal(h.ang2pixRaDec(qa, qd, true), pix);
  assert.throws(() => rc.queryCone(qa, qd, 0.05), RefcatCoverageError);
  assert.doesNotThrow(() => rc.queryCone(cra, cdec, 0.05));
});
