import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Healpix, healpix } from '../../src/sky/healpix.js';
import { PYTHON, tempDir } from '../helpers.js';
import { rng } from '../helpers.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const fx = JSON.parse(readFileSync(join(root, 'test/fixtures/sky/healpix.json'), 'utf8'));

test('ang2pix ring and nest match healpy exactly at 11 nsides (incl. poles, equator, z=2/3, phi≈0/2π)', () => {
  for (const c of fx.ang2pix) {
    const h = new Healpix(c.nside);
    for (let i = 0; i < c.theta.length; i++) {
      assert.equal(h.ang2pix(c.theta[i], c.phi[i]), c.ring[i], `ring nside=${c.nside} i=${i}`);
      if (c.nest) assert.equal(h.ang2pix(c.theta[i], c.phi[i], true), c.nest[i], `nest nside=${c.nside} i=${i}`);
      if (c.nside <= 2 ** 24) assert.equal(Number(h.ang2pixBig(c.theta[i], c.phi[i], false)), c.ring[i]);
    }
  }
});

test('pix2ang matches healpy to 1e-14 rad; nest2ring/ring2nest exact', () => {
  for (const c of fx.pix2ang) {
    const h = new Healpix(c.nside);
    c.pix.forEach((p: number, i: number) => {
      const [tr, pr] = h.pix2ang(p);
      assert.ok(Math.abs(tr - c.ring[0][i]) < 1e-14 && Math.abs(pr - c.ring[1][i]) < 1e-13, `ring ${c.nside} ${p}`);
      const [tn, pn] = h.pix2ang(p, true);
      assert.ok(Math.abs(tn - c.nest[0][i]) < 1e-14 && Math.abs(pn - c.nest[1][i]) < 1e-13, `nest ${c.nside} ${p}`);
      const [tb, pb] = h.pix2angBig(BigInt(p), true);
      assert.ok(Math.abs(tb - c.nest[0][i]) < 1e-14 && Math.abs(pb - c.nest[1][i]) < 1e-13);
    });
  }
  for (const c of fx.nest2ring) {
    const h = new Healpix(c.nside);
    c.pix.forEach((p: number, i: number) => {
      assert.equal(h.nest2ring(p), c.n2r[i]);
      assert.equal(h.ring2nest(p), c.r2n[i]);
      assert.equal(h.nest2ringBig(BigInt(p)), BigInt(c.n2r[i]));
      assert.equal(h.ring2nestBig(BigInt(p)), BigInt(c.r2n[i]));
    });
  }
});

test('neighbours and boundaries match healpy', () => {
  for (const c of fx.neighbours) {
    const h = new Healpix(c.nside);
    c.pix.forEach((p: number, i: number) => {
      assert.deepEqual(h.neighbours(p), c.ring[i], `ring ${c.nside} ${p}`);
      assert.deepEqual(h.neighbours(p, true), c.nest[i], `nest ${c.nside} ${p}`);
    });
  }
  for (const c of fx.boundaries) {
    const h = new Healpix(c.nside);
    c.pix.forEach((p: number, i: number) => {
      for (const [nest, want] of [[false, c.ring[i]], [true, c.nest[i]]] as const) {
        const got = h.boundaries(p, nest, 2);
        assert.equal(got.length, want.length);
        got.forEach((v, k) => v.forEach((x, j) => assert.ok(Math.abs(x - want[k][j]) < 1e-14, `boundary ${c.nside} ${p} ${k}`)));
      }
    });
  }
});

test('query_disc matches healpy exactly (ring/nest, inclusive with fact 1,2,3,4,8, poles, RA wrap, large radii)', () => {
  let n = 0;
  for (const c of fx.query_disc) {
    const h = new Healpix(c.nside);
    const got = h.queryDiscVec(c.vec, c.radius, { nest: c.nest, inclusive: c.inclusive, fact: c.fact });
    assert.deepEqual(got, c.pix, `nside=${c.nside} vec=${c.vec} r=${c.radius} incl=${c.inclusive} fact=${c.fact} nest=${c.nest}`);
    n++;
  }
  assert.ok(n >= 100);
});

test('query_polygon matches healpy exactly (CCD-like quads, triangles, polar caps)', () => {
  for (const c of fx.query_polygon) {
    const h = new Healpix(c.nside);
    const got = h.queryPolygon(c.verts, { nest: c.nest, inclusive: c.inclusive, fact: c.fact });
    assert.deepEqual(got, c.pix, `nside=${c.nside} incl=${c.inclusive} fact=${c.fact} nest=${c.nest}`);
  }
});

test('inclusive queries cover every pixel that truly overlaps (checked by dense sampling)', () => {
  const h = healpix(64);
  const random = rng(3);
  const ra0 = 359.9, dec0 = 30, r = 1.2;
  const incl = new Set(h.queryDiscRaDec(ra0, dec0, r, { inclusive: true }));
  // sample points inside the disc: each one's pixel must be in the inclusive set
  for (let i = 0; i < 20000; i++) {
    const rr = r * Math.sqrt(random()) * 0.9999, pa = random() * 2 * Math.PI;
    const d = (dec0 + rr * Math.cos(pa));
    const a = ra0 + (rr * Math.sin(pa)) / Math.cos((d * Math.PI) / 180);
    // small-angle offset is inside the disc to ~1e-4 relative; the 0.9999 factor covers it
    assert.ok(incl.has(h.ang2pixRaDec(((a % 360) + 360) % 360, d)));
  }
});

test('large nside (2^29) with BigInt: ring↔nest round trip and pix2ang inside the pixel', () => {
  const h = new Healpix(2 ** 29);
  const random = rng(7);
  for (let i = 0; i < 200; i++) {
    const theta = Math.acos(2 * random() - 1), phi = 2 * Math.PI * random();
    const pn = h.ang2pixBig(theta, phi, true), pr = h.ang2pixBig(theta, phi, false);
    assert.equal(h.nest2ringBig(pn), pr);
    assert.equal(h.ring2nestBig(pr), pn);
    const [t2, p2] = h.pix2angBig(pn, true);
    // pixel size ~ 0.4 mas = 2e-9 rad; chord distance between the point and the pixel centre
    const a = [Math.sin(theta) * Math.cos(phi), Math.sin(theta) * Math.sin(phi), Math.cos(theta)];
    const b = [Math.sin(t2) * Math.cos(p2), Math.sin(t2) * Math.sin(p2), Math.cos(t2)];
    assert.ok(Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!) < 4e-9, `theta ${theta} phi ${phi}`);
    const [t3, p3] = h.pix2angBig(pr, false);
    assert.ok(Math.abs(t3 - t2) < 1e-15 && Math.abs(p3 - p2) < 1e-15);
  }
  assert.throws(() => h.ang2pix(1, 1), /BigInt/);
});

test('live comparison with healpy on 20000 random points (nside 2^k up to 2^29)', (t) => {
  const ok = spawnSync(PYTHON, ['-c', 'import healpy'], { stdio: 'ignore' }).status === 0;
  if (!ok) { t.skip('python3-healpy not installed'); return; }
  const dir = tempDir();
  const n = 20000;
  const random = rng(11);
  const th = new Float64Array(n), ph = new Float64Array(n);
  for (let i = 0; i < n; i++) { th[i] = Math.acos(2 * random() - 1); ph[i] = 2 * Math.PI * random(); }
  writeFileSync(join(dir, 'th.bin'), th);
  writeFileSync(join(dir, 'ph.bin'), ph);
  const nsides = [1, 8, 4096, 2 ** 22, 2 ** 26, 2 ** 29];
  const py = `
import numpy as np, healpy as hp, sys
d=sys.argv[1]
th=np.fromfile(d+'/th.bin'); ph=np.fromfile(d+'/ph.bin')
for ns in [${nsides.join(',')}]:
    for nest in (False, True):
        print(' '.join(map(str, hp.ang2pix(ns, th, ph, nest=nest).tolist())))
`;
  const r = spawnSync(PYTHON, ['-c', py, dir], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  let k = 0;
  for (const ns of nsides) {
    const h = new Healpix(ns);
    for (const nest of [false, true]) {
      const want = lines[k++]!.split(' ');
      for (let i = 0; i < n; i++) assert.equal(h.ang2pixBig(th[i]!, ph[i]!, nest).toString(), want[i], `nside ${ns} nest ${nest} i ${i}`);
    }
  }
});

test('live comparison with healpy: 300 random discs and 120 random polygons (inclusive or not, ring/nest)', (t) => {
  const ok = spawnSync(PYTHON, ['-c', 'import healpy'], { stdio: 'ignore' }).status === 0;
  if (!ok) { t.skip('python3-healpy not installed'); return; }
  const random = rng(123);
  const discs: Array<{ nside: number; vec: number[]; radius: number; inclusive: boolean; fact: number; nest: boolean }> = [];
  for (let i = 0; i < 300; i++) {
    const nside = 2 ** Math.floor(random() * 11);
    const z = 2 * random() - 1, p = 2 * Math.PI * random(), s = Math.sqrt(1 - z * z);
    const pix = Math.sqrt((4 * Math.PI) / (12 * nside * nside));
    discs.push({ nside, vec: [s * Math.cos(p), s * Math.sin(p), z], radius: Math.min(3, pix * (0.2 + 6 * random())), inclusive: random() < 0.6, fact: [1, 2, 4, 8][Math.floor(random() * 4)]!, nest: random() < 0.5 });
  }
  const polys: Array<{ nside: number; verts: number[][]; inclusive: boolean; fact: number; nest: boolean }> = [];
  for (let i = 0; i < 120; i++) {
    const nside = 2 ** Math.floor(random() * 10);
    const z = 2 * random() - 1, p = 2 * Math.PI * random();
    const size = Math.sqrt((4 * Math.PI) / (12 * nside * nside)) * (0.5 + 4 * random());
    // a convex quadrilateral around (z, p): four points at increasing position angles
    const th0 = Math.acos(z);
    const verts: number[][] = [];
    const a0 = 2 * Math.PI * random();
    for (let k = 0; k < 4; k++) {
      const a = a0 + (k * Math.PI) / 2 + (random() - 0.5) * 0.6;
      const r = size * (0.6 + 0.4 * random());
      // offset on the sphere from (th0, p) by r along angle a
      const ct = Math.cos(th0), st = Math.sin(th0);
      const c = [st * Math.cos(p), st * Math.sin(p), ct];
      const e = [-Math.sin(p), Math.cos(p), 0];
      const n = [-ct * Math.cos(p), -ct * Math.sin(p), st];
      verts.push([0, 1, 2].map((j) => Math.cos(r) * c[j]! + Math.sin(r) * (Math.cos(a) * n[j]! + Math.sin(a) * e[j]!)));
    }
    polys.push({ nside, verts, inclusive: random() < 0.6, fact: [1, 2, 4, 8][Math.floor(random() * 4)]!, nest: random() < 0.5 });
  }
  const py = `
import sys, json, numpy as np, healpy as hp
d = json.loads(sys.stdin.read())
out = {'discs': [], 'polys': []}
for c in d['discs']:
    out['discs'].append(hp.query_disc(c['nside'], c['vec'], c['radius'], inclusive=c['inclusive'], fact=c['fact'], nest=c['nest']).tolist())
for c in d['polys']:
    try:
        out['polys'].append(hp.query_polygon(c['nside'], np.array(c['verts']), inclusive=c['inclusive'], fact=c['fact'], nest=c['nest']).tolist())
    except Exception as e:
        out['polys'].append(None)
print(json.dumps(out))
`;
  const r = spawnSync(PYTHON, ['-c', py], { input: JSON.stringify({ discs, polys }), encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  const want = JSON.parse(r.stdout) as { discs: number[][]; polys: Array<number[] | null> };
  discs.forEach((c, i) => {
    const got = new Healpix(c.nside).queryDiscVec(c.vec, c.radius, { nest: c.nest, inclusive: c.inclusive, fact: c.fact });
    assert.deepEqual(got, want.discs[i], `disc ${i}: ${JSON.stringify(c)}`);
  });
  let compared = 0;
  polys.forEach((c, i) => {
    if (want.polys[i] === null) {
      assert.throws(() => new Healpix(c.nside).queryPolygon(c.verts, { nest: c.nest, inclusive: c.inclusive, fact: c.fact }));
      return;
    }
    compared++;
    const got = new Healpix(c.nside).queryPolygon(c.verts, { nest: c.nest, inclusive: c.inclusive, fact: c.fact });
    assert.deepEqual(got, want.polys[i], `polygon ${i}: ${JSON.stringify(c)}`);
  });
  assert.ok(compared > 100);
});
