import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SkyIndex, matchNearest, matchAllPairs } from '../../src/sky/match.js';
import { separationDeg } from '../../src/sky/sphere.js';
import { rng } from '../helpers.js';

/** Random points in a field (ra centre, dec centre, half-size in degrees), RA wrapped to [0,360). */
function field(r: () => number, n: number, ra0: number, dec0: number, half: number): [Float64Array, Float64Array] {
  const ra = new Float64Array(n), dec = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let d = dec0 + (2 * r() - 1) * half;
    if (d > 90) d = 180 - d;
    if (d < -90) d = -180 - d;
    dec[i] = d;
    const w = Math.abs(d) > 89 ? 180 : half / Math.max(Math.cos((d * Math.PI) / 180), 1e-3);
    let a = ra0 + (2 * r() - 1) * Math.min(180, w);
    a = ((a % 360) + 360) % 360;
    ra[i] = a;
  }
  return [ra, dec];
}

function bruteNearest(ra1: Float64Array, dec1: Float64Array, ra2: Float64Array, dec2: Float64Array, rArcsec: number): Int32Array {
  const out = new Int32Array(ra1.length).fill(-1);
  for (let i = 0; i < ra1.length; i++) {
    let best = Infinity;
    for (let j = 0; j < ra2.length; j++) {
      const s = separationDeg(ra1[i]!, dec1[i]!, ra2[j]!, dec2[j]!) * 3600;
      if (s <= rArcsec && s < best) { best = s; out[i] = j; }
    }
  }
  return out;
}

const fields: Array<[string, number, number, number]> = [
  ['equator', 150, 0, 0.2],
  ['RA wrap', 0, 10, 0.2],
  ['north pole', 0, 89.95, 0.1],
  ['south pole', 123, -89.9, 0.15],
  ['high dec', 200, 80, 0.3],
];

for (const [name, ra0, dec0, half] of fields) {
  test(`nearest match equals brute force (${name})`, () => {
    const r = rng(name.length * 7919 + 1);
    const [ra1, dec1] = field(r, 1500, ra0, dec0, half);
    const [ra2, dec2] = field(r, 2000, ra0, dec0, half);
    for (const rad of [5, 30, 120]) {
      const got = matchNearest(ra1, dec1, ra2, dec2, rad);
      const want = bruteNearest(ra1, dec1, ra2, dec2, rad);
      let matched = 0;
      for (let i = 0; i < ra1.length; i++) {
        if (got.index[i] !== want[i]) {
          // an exact tie in distance may pick either; accept only a true tie
          const a = separationDeg(ra1[i]!, dec1[i]!, ra2[got.index[i]!]!, dec2[got.index[i]!]!);
          const b = separationDeg(ra1[i]!, dec1[i]!, ra2[want[i]!]!, dec2[want[i]!]!);
          assert.ok(Math.abs(a - b) < 1e-12, `${name} r=${rad} row ${i}: got ${got.index[i]} want ${want[i]}`);
        }
        if (want[i]! >= 0) {
          matched++;
          const s = separationDeg(ra1[i]!, dec1[i]!, ra2[want[i]!]!, dec2[want[i]!]!) * 3600;
          assert.ok(Math.abs(got.sepArcsec[i]! - s) < 1e-6);
        }
      }
      if (rad === 120) assert.ok(matched > 100, `${name}: only ${matched} matches`);
    }
  });

  test(`all pairs equal brute force (${name})`, () => {
    const r = rng(name.length * 31 + 5);
    const [ra1, dec1] = field(r, 600, ra0, dec0, half);
    const [ra2, dec2] = field(r, 800, ra0, dec0, half);
    const rad = 60;
    const got = matchAllPairs(ra1, dec1, ra2, dec2, rad);
    const want: string[] = [];
    for (let i = 0; i < 600; i++) for (let j = 0; j < 800; j++) if (separationDeg(ra1[i]!, dec1[i]!, ra2[j]!, dec2[j]!) * 3600 <= rad) want.push(`${i},${j}`);
    const gotS = Array.from(got.i1, (i, k) => `${i},${got.i2[k]}`);
    assert.deepEqual(gotS.sort(), want.sort());
    assert.ok(want.length > 50);
  });
}

test('self-match excludes the row itself; within() and nearest() on one index', () => {
  const r = rng(99);
  const [ra, dec] = field(r, 3000, 359.99, -45, 0.1);
  const idx = new SkyIndex(ra, dec, 10 / 3600);
  const self = idx.matchNearest(ra, dec, 30, { excludeSelf: true });
  const plain = idx.matchNearest(ra, dec, 30);
  for (let i = 0; i < 3000; i++) {
    assert.equal(plain.index[i], i);
    assert.notEqual(self.index[i], i);
  }
  const w = idx.within(ra[5]!, dec[5]!, 45);
  const brute: number[] = [];
  for (let j = 0; j < 3000; j++) if (separationDeg(ra[5]!, dec[5]!, ra[j]!, dec[j]!) * 3600 <= 45) brute.push(j);
  assert.deepEqual(w, brute);
  assert.equal(idx.nearest(ra[7]!, dec[7]!, 1).index, 7);
  assert.throws(() => new SkyIndex([1], [95]), /row 0 has an invalid position/);
});

test('1M × 1M random rows match in a few seconds', () => {
  const r = rng(1);
  const n = 1_000_000;
  const [ra1, dec1] = field(r, n, 30, -20, 1.5);
  const [ra2, dec2] = field(r, n, 30, -20, 1.5);
  const t0 = performance.now();
  const m = matchNearest(ra1, dec1, ra2, dec2, 2);
  const dt = (performance.now() - t0) / 1000;
  let k = 0;
  for (let i = 0; i < n; i++) if (m.index[i]! >= 0) k++;
  // expected fraction with a neighbour within 2″: 1 − exp(−density·π·r²)
  const density = n / (3 * 3 * 3600 * 3600); // per arcsec²: the field is 3°×3° on the sky
  const expect = 1 - Math.exp(-density * Math.PI * 4);
  assert.ok(Math.abs(k / n - expect) < 0.05, `matched fraction ${k / n} vs ${expect}`);
  assert.ok(dt < 20, `took ${dt} s`);
});

test('unbounded nearest (radius Infinity) equals brute-force nearest at any distance', () => {
  const r = rng(4242);
  const [ra1, dec1] = field(r, 400, 0, 89.5, 0.5);
  const [ra2, dec2] = field(r, 300, 0, 89.5, 0.5);
  const got = matchNearest(ra1, dec1, ra2, dec2, Infinity);
  const want = bruteNearest(ra1, dec1, ra2, dec2, 1e9);
  assert.deepEqual(Array.from(got.index), Array.from(want));
  // a lone far point still finds its neighbour
  const far = matchNearest([180], [-30], ra2, dec2, Infinity);
  assert.ok(far.index[0]! >= 0 && far.sepArcsec[0]! > 100 * 3600);
});
