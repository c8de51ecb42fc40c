import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dc2SkyMap, RingsSkyMap, DC2_SKYMAP } from '../../src/sky/skymap.js';
import { separationDeg } from '../../src/sky/sphere.js';
import { rng } from '../helpers.js';

test('DC2 rings sky map: 18,938 tracts, ring size π/121, 7×7 patches of 4000 px', () => {
  const s = dc2SkyMap();
  assert.equal(s.numTracts, 18938);
  assert.ok(Math.abs(s.ringSize - Math.PI / 121) < 1e-15);
  const t = s.tract(3828);
  assert.deepEqual(t.numPatches, [7, 7]);
  assert.equal(t.width, 28000);
  assert.equal(t.height, 28000);
  const w = t.wcsParams();
  assert.deepEqual(w.crpix, [14000, 14000]);
  assert.equal(w.cd[0][0], -0.2 / 3600);
  // the tract is ~1.556° across (28000 × 0.2″)
  const c = t.corners();
  assert.ok(Math.abs(separationDeg(c[0]![0], c[0]![1], c[1]![0], c[1]![1]) - 28000 * 0.2 / 3600) < 0.01);
});

test('known DC2 positions: the DP0.2 tutorial position is tract 4431 patch 17; tracts 3828/3829 neighbours', () => {
  const s = dc2SkyMap();
  // lsst/cst tests: nearest_patch_from_ra_dec(55.745834, -32.269167) → tract 4431, patch 17
  const t = s.findTract(55.745834, -32.269167);
  assert.equal(t.id, 4431);
  assert.equal(t.findPatch(55.745834, -32.269167).sequentialIndex, 17);
  // DC2 test-med-1 tracts 3828 and 3829 are adjacent in one ring (~56-58°, −36.4°)
  const a = s.tract(3828), b = s.tract(3829);
  assert.equal(a.ring, b.ring);
  assert.ok(Math.abs(a.dec - -36.446280991735534) < 1e-9);
  assert.ok(a.ra > 55 && a.ra < 58 && b.ra > a.ra);
  // dia_pipe's DDF patch: tract 4849 patch 5,5 lies in the DC2 deep-drilling field (53.125, −28.1, ~1° radius)
  const p = s.tract(4849).patch(5, 5);
  const [pr, pd] = s.tract(4849).pixelToSky(p.inner.minX + 2000, p.inner.minY + 2000);
  assert.ok(separationDeg(pr, pd, 53.125, -28.1) < 1.0);
});

test('findTract returns a tract containing the point; findPatch inner boxes tile the tract', () => {
  const s = dc2SkyMap();
  const r = rng(17);
  for (let i = 0; i < 3000; i++) {
    const ra = 360 * r(), dec = (Math.asin(2 * r() - 1) * 180) / Math.PI;
    const t = s.findTract(ra, dec);
    assert.ok(t.contains(ra, dec), `(${ra}, ${dec}) not in tract ${t.id}`);
    const p = t.findPatch(ra, dec);
    const px = t.skyToPixel(ra, dec)!;
    assert.ok(px[0] >= p.inner.minX - 0.5 && px[0] < p.inner.minX + 4000 - 0.5 + 1e-9);
    assert.ok(s.findAllTracts(ra, dec).some((x) => x.id === t.id));
  }
  // the poles and RA wrap
  assert.equal(s.findTract(10, -89.9).id, 0);
  assert.equal(s.findTract(10, 89.9).id, 18937);
  const w1 = s.findTract(359.999, 0.5), w2 = s.findTract(0.001, 0.5);
  assert.equal(w1.id, w2.id);
});

test('patch boxes: border 100 clipped to the tract; WCS of a patch is the shifted tract WCS', () => {
  const t = dc2SkyMap().tract(4431);
  const p00 = t.patch(0, 0);
  assert.deepEqual(p00.outer, { minX: 0, minY: 0, width: 4100, height: 4100 });
  const p33 = t.patch(3, 3);
  assert.deepEqual(p33.outer, { minX: 11900, minY: 11900, width: 4200, height: 4200 });
  assert.equal(t.patch(24).name, '3,3');
  const tw = t.wcsParams(), pw = p33.wcsParams();
  assert.equal(tw.crpix[0] - pw.crpix[0], 11900);
  // pixel ↔ sky round trip through the src/wcs Wcs
  const wcs = t.wcs();
  const [ra, dec] = wcs.pixToSkyOne(1234.5, 20000.25);
  const [x, y] = wcs.skyToPixOne(ra, dec);
  assert.ok(Math.abs(x - 1234.5) < 1e-6 && Math.abs(y - 20000.25) < 1e-6);
  const mine = t.pixelToSky(1234.5 - 1, 20000.25 - 1);
  assert.ok(separationDeg(mine[0], mine[1], ra, dec) * 3600 < 1e-6);
  assert.throws(() => t.patch(7, 0), /not in range/);
});

test('a custom rings configuration', () => {
  const s = new RingsSkyMap({ ...DC2_SKYMAP, numRings: 20, patchInnerDimensions: [2000, 2000] });
  assert.equal(s.tract(0).dec, -90);
  assert.equal(s.ringNums.length, 20);
  const t = s.findTract(100, 10);
  assert.ok(t.contains(100, 10));
});
