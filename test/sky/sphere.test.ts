import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  separationDeg, positionAngleDeg, offsetByDeg, gnomonicProject, gnomonicUnproject, SphericalPolygon, radecToVec, vecToRadec,
  raRange, wrapRa, boxContainsRa,
} from '../../src/sky/sphere.js';
import { PYTHON } from '../helpers.js';
import { rng } from '../helpers.js';

test('separation is accurate at tiny and antipodal angles', () => {
  assert.ok(Math.abs(separationDeg(10, 20, 10, 20 + 1e-9) - 1e-9) < 1e-14); // 20+1e-9 is itself rounded by ~4e-15
  assert.ok(Math.abs(separationDeg(0, 0, 180, 0) - 180) < 1e-12);
  assert.ok(Math.abs(separationDeg(0, 89, 180, 89) - 2) < 1e-12);
  assert.ok(Math.abs(separationDeg(359.9999, 0, 0.0001, 0) * 3600 - 0.72) < 1e-9);
  assert.ok(Math.abs(separationDeg(12, -90, 250, -90)) < 1e-12);
});

test('position angle and offsets invert each other (incl. near the poles and RA 0)', () => {
  const r = rng(21);
  for (let i = 0; i < 2000; i++) {
    const ra = 360 * r(), dec = -89.9 + 179.8 * r(), pa = 360 * r(), sep = 10 ** (-6 + 7 * r());
    const [r2, d2] = offsetByDeg(ra, dec, pa, Math.min(sep, 30));
    assert.ok(Math.abs(separationDeg(ra, dec, r2, d2) - Math.min(sep, 30)) < 1e-9 * Math.max(1, sep));
    if (sep > 1e-4 && sep < 30) {
      const back = positionAngleDeg(ra, dec, r2, d2);
      const dpa = Math.abs(((back - pa + 540) % 360) - 180);
      assert.ok(dpa < 1e-6, `pa ${pa} got ${back}`);
    }
  }
  assert.equal(positionAngleDeg(10, 0, 10, 1), 0);
  assert.ok(Math.abs(positionAngleDeg(10, 0, 11, 0) - 90) < 1e-12);
});

test('gnomonic projection round trip; behind-horizon points give null', () => {
  const r = rng(22);
  for (let i = 0; i < 2000; i++) {
    const ra0 = 360 * r(), dec0 = -89 + 178 * r();
    const [ra, dec] = offsetByDeg(ra0, dec0, 360 * r(), 10 * r());
    const p = gnomonicProject(ra0, dec0, ra, dec)!;
    const [ra2, dec2] = gnomonicUnproject(ra0, dec0, p[0], p[1]);
    assert.ok(separationDeg(ra, dec, ra2, dec2) * 3600 < 1e-9);
  }
  assert.equal(gnomonicProject(0, 0, 180, 0), null);
  const [xi, eta] = gnomonicProject(0, 0, 1, 0)!;
  assert.ok(Math.abs(xi - (Math.tan(Math.PI / 180) * 180) / Math.PI) < 1e-12 && Math.abs(eta) < 1e-15);
});

test('polygon: point-in-polygon vs tangent-plane truth, overlap, area, bounding boxes', () => {
  const r = rng(23);
  for (const [ra0, dec0] of [[0, 0], [359.95, 30], [120, 89.5], [200, -88]] as const) {
    const quad = [[-0.3, -0.2], [0.35, -0.25], [0.3, 0.2], [-0.25, 0.3]];
    const c = quad.map(([x, y]) => gnomonicUnproject(ra0, dec0, x!, y!));
    const poly = SphericalPolygon.fromPairs(c);
    for (let i = 0; i < 3000; i++) {
      const x = (r() - 0.5) * 0.9, y = (r() - 0.5) * 0.9;
      let inside = true;
      for (let k = 0; k < 4; k++) {
        const [ax, ay] = quad[k]!, [bx, by] = quad[(k + 1) % 4]!;
        if ((bx! - ax!) * (y - ay!) - (by! - ay!) * (x - ax!) < 0) inside = false;
      }
      const [ra, dec] = gnomonicUnproject(ra0, dec0, x, y);
      assert.equal(poly.contains(ra, dec), inside, `(${ra0},${dec0}) point ${x},${y}`);
    }
    // bounding box contains every vertex and sampled interior point, and wraps when needed
    const box = poly.boundingBox();
    for (const [ra, dec] of c) assert.ok(boxContainsRa(box, ra) && dec >= box.dec1 - 1e-12 && dec <= box.dec2 + 1e-12);
    if (ra0 === 359.95) assert.ok(box.wraps);
  }
  // a polygon around the pole: full RA range, dec up to 90
  const cap = new SphericalPolygon([0, 90, 180, 270], [89, 89, 89, 89]);
  assert.ok(cap.contains(45, 89.9));
  const cb = cap.boundingBox();
  assert.deepEqual([cb.ra1, cb.ra2, cb.dec2], [0, 360, 90]);
  assert.ok(Math.abs(cb.dec1 - 89) < 1e-12);
  // area of a 1°×1° box on the equator ≈ 1 deg² ; exact spherical area of the square with great-circle edges
  const sq = new SphericalPolygon([0, 1, 1, 0], [-0.5, -0.5, 0.5, 0.5]);
  assert.ok(Math.abs(sq.areaDeg2() - 1) < 1e-3);
  // overlap of two shifted squares: half the area
  const sq2 = new SphericalPolygon([0.5, 1.5, 1.5, 0.5], [-0.5, -0.5, 0.5, 0.5]);
  assert.ok(sq.overlaps(sq2));
  assert.ok(Math.abs(sq.overlapAreaDeg2(sq2, 200) - 0.5) < 0.01);
  const far = new SphericalPolygon([10, 11, 11, 10], [-0.5, -0.5, 0.5, 0.5]);
  assert.ok(!sq.overlaps(far));
  assert.equal(sq.overlapAreaDeg2(far), 0);
  // a thin cross: edges cross with no vertex inside the other polygon
  const h = new SphericalPolygon([-1, 1, 1, -1], [-0.1, -0.1, 0.1, 0.1]);
  const v = new SphericalPolygon([-0.1, 0.1, 0.1, -0.1], [-1, -1, 1, 1]);
  assert.ok(h.overlaps(v));
});

test('RA ranges and vector helpers', () => {
  assert.deepEqual(raRange([359, 1, 0.5]), [359, 1, true]);
  assert.deepEqual(raRange([10, 20, 15]), [10, 20, false]);
  assert.equal(wrapRa(-1e-17), 0);
  assert.equal(wrapRa(-10), 350);
  const [ra, dec] = vecToRadec(radecToVec(123.4, -56.7));
  assert.ok(Math.abs(ra - 123.4) < 1e-12 && Math.abs(dec + 56.7) < 1e-12);
});

test('separation and position angle agree with astropy', (t) => {
  if (spawnSync(PYTHON, ['-c', 'import astropy'], { stdio: 'ignore' }).status !== 0) { t.skip('python3-astropy not installed'); return; }
  const r = rng(24);
  const pts: number[][] = [];
  for (let i = 0; i < 200; i++) pts.push([360 * r(), -90 + 180 * r(), 360 * r(), -90 + 180 * r()]);
  pts.push([10, 20, 10, 20.0000001], [0, 0, 180, 0], [359.99999, 45, 0.00001, 45]);
  const py = `
import sys, json
import astropy.units as u
from astropy.coordinates import SkyCoord
p = json.loads(sys.stdin.read())
a = SkyCoord([x[0] for x in p]*u.deg, [x[1] for x in p]*u.deg); b = SkyCoord([x[2] for x in p]*u.deg, [x[3] for x in p]*u.deg)
print(json.dumps([a.separation(b).deg.tolist(), a.position_angle(b).deg.tolist()]))
`;
  const res = spawnSync(PYTHON, ['-c', py], { input: JSON.stringify(pts), encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  const [sep, pa] = JSON.parse(res.stdout) as number[][];
  pts.forEach((p, i) => {
    assert.ok(Math.abs(separationDeg(p[0]!, p[1]!, p[2]!, p[3]!) - sep![i]!) < 1e-12, `sep ${i}`);
    if (sep![i]! > 1e-6 && sep![i]! < 179.999) {
      const d = Math.abs(((positionAngleDeg(p[0]!, p[1]!, p[2]!, p[3]!) - pa![i]! + 540) % 360) - 180);
      assert.ok(d < 1e-8, `pa ${i}`);
    }
  });
});

test('bounding box includes great-circle edges bulging poleward', () => {
  const p = new SphericalPolygon([0, 60, 60, 0], [80, 80, 70, 70]);
  const box = p.boundingBox();
  // sample the top edge (0,80)→(60,80) along its great circle
  const a = radecToVec(0, 80), b = radecToVec(60, 80);
  let maxDec = -90;
  for (let k = 0; k <= 1000; k++) {
    const t = k / 1000;
    const v = [a[0] * (1 - t) + b[0] * t, a[1] * (1 - t) + b[1] * t, a[2] * (1 - t) + b[2] * t];
    maxDec = Math.max(maxDec, vecToRadec(v)[1]);
  }
  assert.ok(maxDec > 80.5);
  assert.ok(Math.abs(box.dec2 - maxDec) < 1e-6, `${box.dec2} vs ${maxDec}`);
  assert.equal(box.dec1, 70); // the bottom edge bulges north too, so 70 at the corners is the minimum
});
