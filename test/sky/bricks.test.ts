import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NBRICKS, brickTable, brickForPosition, brickById, brickByName, bricksInRegion, bricksTouchingPolygon, bricksInRow,
  wcsForBrick, brickWcs, inBrickBox, brickAreaDeg2, brickAt,
} from '../../src/sky/bricks.js';
import { SphericalPolygon, gnomonicUnproject } from '../../src/sky/sphere.js';
import { rng } from '../helpers.js';

// Reference definition: desiutil.brick.Bricks (the generator of legacysurvey's BRICKID) and
// legacypipe survey.wcs_for_brick. The figures below follow from it and from legacysurvey.org's
// data model ("Brick ID [1, 662174]").

test('the brick table has 662,174 bricks in 721 rows, ids 1..N, unique names', () => {
  const t = brickTable();
  assert.equal(NBRICKS, 662174);
  assert.equal(t.brickid.length, 662174);
  assert.equal(t.brickid[0], 1);
  assert.equal(t.brickid[662173], 662174);
  assert.equal(t.brickrow[662173], 720);
  assert.equal(new Set(t.brickname).size, 662174);
  // the whole sphere, once
  let area = 0;
  for (let i = 0; i < 662174; i++) area += brickAreaDeg2(brickAt(t.brickrow[i]!, t.brickcol[i]!));
  assert.ok(Math.abs(area - 41252.96125) < 1e-3, `area ${area}`);
  // pole caps
  assert.equal(t.brickname[0], '1800m900');
  assert.equal(t.brickname[662173], '1800p900');
  assert.equal(t.dec1[0], -90);
  assert.equal(t.dec2[662173], 90);
});

test('row widths: even, ≤ 0.25° at the row edge nearest the equator, 1440 on the equator', () => {
  assert.equal(bricksInRow(360), 1440);
  assert.equal(bricksInRow(0), 1);
  assert.equal(bricksInRow(1), 10);
  for (let row = 1; row < 720; row++) {
    const n = bricksInRow(row);
    assert.equal(n % 2, 0);
    const declo = Math.abs(-90 + row * 0.25) - 0.125;
    assert.ok((360 / n) * Math.cos((declo * Math.PI) / 180) <= 0.25 + 1e-12);
    assert.ok((360 / (n - 2)) * Math.cos((declo * Math.PI) / 180) > 0.25); // and as few as possible
  }
});

test('brick 1351p192 (the obiwan test brick) and other named bricks', () => {
  const b = brickByName('1351p192');
  assert.equal(b.dec, 19.25);
  assert.equal(b.dec1, 19.125);
  assert.equal(b.dec2, 19.375);
  assert.equal(bricksInRow(b.brickrow), 1362);
  assert.ok(Math.abs(b.ra - 135.1982378854626) < 1e-10, `ra ${b.ra}`);
  assert.ok(Math.abs(b.ra1 - (511 * 360) / 1362) < 1e-12 && Math.abs(b.ra2 - (512 * 360) / 1362) < 1e-12);
  assert.equal(b.brickrow, 437);
  assert.equal(b.brickcol, 511);
  assert.deepEqual(brickForPosition(135.2, 19.3), b);
  const e = brickForPosition(0.01, -0.2);
  assert.equal(e.brickname, '0001m002');
  assert.equal(e.ra, 0.125);
  assert.equal(brickForPosition(359.99, 0.1).brickname, '3598p000');
  assert.equal(brickForPosition(360, 0.1).brickname, '0001p000'); // RA wraps
  assert.throws(() => brickByName('9999p999'), /no brick is named/);
  assert.throws(() => brickByName('abc'), /not a brick name/);
});

test('lookup by position round-trips through id and name, and the box contains the point', () => {
  const r = rng(5);
  for (let i = 0; i < 20000; i++) {
    const ra = 360 * r(), dec = (Math.asin(2 * r() - 1) * 180) / Math.PI;
    const b = brickForPosition(ra, dec);
    assert.ok(inBrickBox(b, ra, dec), `${ra} ${dec} not in ${b.brickname}`);
    if (i % 4 === 0) {
      assert.deepEqual(brickById(b.brickid), b);
      assert.deepEqual(brickByName(b.brickname), b);
    }
  }
});

test('BRICKID, BRICKQ and areas match desiutil.brick tests (checked there against the IDL dtiling bricks)', () => {
  // desiutil/py/desiutil/test/test_brick.py: ra = dec = linspace(0, 3, 10) − 1.5
  const ids = [323162, 324603, 327484, 328926, 330367, 331808, 333250, 334691, 337572, 339014];
  const qs = [0, 3, 2, 0, 3, 2, 0, 3, 2, 0];
  const areas = [0.062478535, 0.062485076, 0.062494595, 0.062497571, 0.062499356, 0.062499356, 0.062497571, 0.062494595, 0.062485076, 0.062478535];
  for (let i = 0; i < 10; i++) {
    const x = (3 * i) / 9 - 1.5;
    const b = brickForPosition(x, x);
    assert.equal(b.brickid, ids[i], `point ${i}`);
    assert.equal(b.brickq, qs[i], `brickq ${i}`);
    assert.ok(Math.abs(brickAreaDeg2(b) - areas[i]!) < 1e-8, `area ${i}: ${brickAreaDeg2(b)}`);
  }
  assert.equal(brickForPosition(0, 0).brickid, 330368);
  assert.equal(brickForPosition(90, 90).brickid, 662174);
  assert.equal(brickForPosition(90, -90).brickid, 1);
  assert.equal(brickForPosition(0, -90).brickq, 1);
  assert.equal(brickForPosition(0, 90).brickq, 0);
  assert.equal(brickForPosition(361, 0).brickid, brickForPosition(1, 0).brickid);
  assert.equal(brickForPosition(-0.5, 0).brickname, brickForPosition(359.5, 0).brickname);
  assert.ok(Math.abs(brickAreaDeg2(brickForPosition(0, 90)) - 0.049087364) < 1e-8);
});

test('per-brick WCS is the 3600×3600, 0.262″/px TAN grid centred on the brick', () => {
  const w = wcsForBrick(brickByName('1351p192'));
  assert.deepEqual(w.crpix, [1800.5, 1800.5]);
  assert.equal(w.cd[0][0], -0.262 / 3600);
  assert.equal(w.cd[1][1], 0.262 / 3600);
  assert.equal(w.width, 3600);
  // the Wcs maps the brick centre to the central pixel and spans 0.262° (so neighbours overlap)
  const wcs = brickWcs(brickByName('1351p192'));
  const [x, y] = wcs.skyToPixOne(135.1982378854626, 19.25);
  assert.ok(Math.abs(x - 1800.5) < 1e-6 && Math.abs(y - 1800.5) < 1e-6);
  const [ra1] = wcs.pixToSkyOne(0.5, 1800.5), [ra2] = wcs.pixToSkyOne(3600.5, 1800.5);
  assert.ok(Math.abs((ra1 - ra2) * Math.cos((19.25 * Math.PI) / 180) - 0.262) < 1e-5);
});

test('bricks in a region, with RA wrap, and bricks touching a CCD footprint', () => {
  const a = bricksInRegion(10, 11, 0, 1);
  // rows at dec 0, 0.25, 0.5, 0.75, 1.0 (edges −0.125..1.125), 4 or 5 bricks per row
  assert.ok(a.every((b) => b.dec2 > 0 && b.dec1 < 1 && b.ra2 > 10 && b.ra1 < 11));
  assert.equal(new Set(a.map((b) => b.brickrow)).size, 5);
  const w = bricksInRegion(359.5, 0.5, -0.1, 0.1);
  assert.ok(w.some((b) => b.ra > 359) && w.some((b) => b.ra < 1) && !w.some((b) => b.ra > 1 && b.ra < 359));
  assert.equal(w.length, 4); // one row (dec 0, edges ±0.125) × 2 bricks each side of RA 0
  // a DECam-CCD-sized footprint rotated by 30° at RA 0 crossing the wrap
  const r = rng(9);
  const corners = [[-0.075, -0.15], [0.075, -0.15], [0.075, 0.15], [-0.075, 0.15]].map(([x, y]) => {
    const c = Math.cos(0.5), s = Math.sin(0.5);
    return gnomonicUnproject(0.02, 5, c * x! - s * y!, s * x! + c * y!);
  });
  const poly = SphericalPolygon.fromPairs(corners);
  const touching = bricksTouchingPolygon(poly);
  // truth by sampling points inside the polygon
  const seen = new Set<number>();
  for (let i = 0; i < 40000; i++) {
    const [ra, dec] = gnomonicUnproject(0.02, 5, (r() - 0.5) * 0.5, (r() - 0.5) * 0.5);
    if (poly.contains(ra, dec)) seen.add(brickForPosition(ra, dec).brickid);
  }
  const got = new Set(touching.map((b) => b.brickid));
  for (const id of seen) assert.ok(got.has(id), `missing brick ${id}`);
  assert.ok(got.size <= seen.size + 2, `too many bricks: ${got.size} vs ${seen.size}`);
  // near the pole: the cap brick is found
  const cap = bricksInRegion(0, 360, 89.9, 90);
  assert.ok(cap.some((b) => b.brickname === '1800p900'));
});
