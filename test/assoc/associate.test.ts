import assert from 'node:assert/strict';
import { test } from 'node:test';
import { associate, Associator } from '../../src/assoc/associate.js';
import { brickRegion, patchRegion, patchRegionFor } from '../../src/assoc/region.js';
import { allocDiaSources, selectDiaSources } from '../../src/assoc/types.js';
import { brickForPosition } from '../../src/sky/bricks.js';
import { separationDeg } from '../../src/sky/sphere.js';
import { dc2SkyMap } from '../../src/sky/skymap.js';
import { rng, simulateStream } from './synth.js';

const TRACT = 4849;

// objects straddle the boundary x = 24000 between patches (5,5) and (6,5) and y = 24000 between rows 5 and 6
const sim = simulateStream({ seed: 7, tract: TRACT, x0: 23000, x1: 25000, y0: 23000, y1: 25000, nObjects: 1500, epochs: 10, sigmaArcsec: 0.05, pDet: 0.8, spurious: 150 });
const patches = [[5, 5], [6, 5], [5, 6], [6, 6]].map(([x, y]) => patchRegion(TRACT, x!, y!));
const results = patches.map((p) => associate(sim.sources, p));

test('each diaSource is owned by exactly one patch; no duplicate diaObjects across patch boundaries', () => {
  const owner = new Int32Array(sim.sources.n);
  for (const r of results) for (const row of r.inputRow) owner[row]!++;
  assert.ok(owner.every((c) => c === 1), 'every source in exactly one patch inner region');
  // each true object maps to exactly one diaObject over all patches
  const objsOfTruth = new Map<number, Set<number>>();
  for (const r of results) {
    for (let j = 0; j < r.sources.n; j++) {
      const t = sim.truthId[r.inputRow[j]!]!;
      if (t < 0) continue;
      (objsOfTruth.get(t) ?? objsOfTruth.set(t, new Set()).get(t)!).add(r.diaObjectId[j]!);
    }
  }
  let split = 0;
  for (const s of objsOfTruth.values()) if (s.size > 1) split++;
  assert.equal(split, 0, `${split} true objects split into several diaObjects`);
  // objects near the boundaries exist on both sides
  const counts = results.map((r) => r.objects.n);
  assert.ok(counts.every((c) => c > 100), `objects per patch ${counts}`);
  const ids = new Set<number>();
  for (const r of results) for (const id of r.objects.diaObjectId) { assert.ok(!ids.has(id)); ids.add(id); }
});

test('association purity and completeness against truth', () => {
  let pure = 0, withTrue = 0, complete = 0, nTrue = 0;
  const byTruth = new Map<number, Set<number>>();
  for (const r of results) {
    for (let k = 0; k < r.objects.n; k++) {
      const members = r.memberSource.subarray(r.memberStart[k]!, r.memberStart[k + 1]!);
      const truths = new Set<number>();
      for (const j of members) truths.add(sim.truthId[r.inputRow[j]!]!);
      if (truths.size === 1 && !truths.has(-1)) pure++;
      if ([...truths].some((t) => t >= 0)) withTrue++;
      for (const t of truths) if (t >= 0) (byTruth.get(t) ?? byTruth.set(t, new Set()).get(t)!).add(r.objects.diaObjectId[k]!);
    }
  }
  for (const [, s] of byTruth) { nTrue++; if (s.size === 1) complete++; }
  const purity = pure / withTrue, completeness = complete / nTrue;
  assert.ok(nTrue >= 1490, `true objects detected ${nTrue}`);
  assert.ok(purity > 0.98, `purity ${purity}`);
  assert.ok(completeness > 0.999, `completeness ${completeness}`);
  // the mean position beats a single detection: scatter of mean position vs truth ≈ σ/√n
  let s2 = 0, m = 0;
  for (const r of results) for (let k = 0; k < r.objects.n; k++) {
    const j = r.memberSource[r.memberStart[k]!]!;
    const t = sim.truthId[r.inputRow[j]!]!;
    if (t < 0 || r.objects.nDiaSources[k]! < 6) continue;
    const d = separationDeg(r.objects.ra[k]!, r.objects.dec[k]!, sim.ra[t]!, sim.dec[t]!) * 3600;
    s2 += d * d; m++;
  }
  const rms = Math.sqrt(s2 / m);
  assert.ok(rms < 0.05 * Math.sqrt(2) / Math.sqrt(6) * 1.3, `mean position rms ${rms}″`);
});

test('running statistics equal a two-pass computation (1e-12 relative)', () => {
  const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
  for (const r of results) {
    const src = r.sources;
    for (let k = 0; k < r.objects.n; k++) {
      const members = r.memberSource.subarray(r.memberStart[k]!, r.memberStart[k + 1]!);
      assert.equal(members.length, r.objects.nDiaSources[k]);
      for (const band of r.objects.bands) {
        const f = [...members].filter((j) => src.band[j] === band).map((j) => src.psfFlux[j]!);
        const e = [...members].filter((j) => src.band[j] === band).map((j) => src.psfFluxErr[j]!);
        const st = r.objects.bandStats.get(band)!;
        assert.equal(st.count[k], f.length);
        if (f.length === 0) { assert.ok(Number.isNaN(st.mean[k]!)); continue; }
        const mean = f.reduce((a, b) => a + b, 0) / f.length;
        assert.ok(rel(st.mean[k]!, mean) < 1e-12, `mean ${st.mean[k]} vs ${mean}`);
        if (f.length > 1) {
          const v = f.reduce((a, b) => a + (b - mean) ** 2, 0) / (f.length - 1);
          assert.ok(rel(st.variance[k]!, v) < 1e-12, `variance ${st.variance[k]} vs ${v}`);
        } else assert.ok(Number.isNaN(st.variance[k]!));
        assert.equal(st.min[k], Math.min(...f));
        assert.equal(st.max[k], Math.max(...f));
        const sw = e.reduce((a, b) => a + 1 / (b * b), 0);
        const wm = f.reduce((a, b, i) => a + b / (e[i]! * e[i]!), 0) / sw;
        assert.ok(rel(st.wmean[k]!, wm) < 1e-12);
        assert.ok(rel(st.wmeanErr[k]!, 1 / Math.sqrt(sw)) < 1e-12);
      }
      // mean position: equal weights here (same errors): compare with the spherical mean of members
      let sx = 0, sy = 0, sz = 0;
      for (const j of members) {
        const ra = (src.ra[j]! * Math.PI) / 180, de = (src.dec[j]! * Math.PI) / 180;
        sx += Math.cos(de) * Math.cos(ra); sy += Math.cos(de) * Math.sin(ra); sz += Math.sin(de);
      }
      const mra = ((Math.atan2(sy, sx) * 180) / Math.PI + 360) % 360, mde = (Math.atan2(sz, Math.hypot(sx, sy)) * 180) / Math.PI;
      assert.ok(separationDeg(mra, mde, r.objects.ra[k]!, r.objects.dec[k]!) * 3600 < 1e-4);
    }
  }
});

test('the second detection is averaged, not substituted (dia_pipe updateCat bug)', () => {
  const region = patchRegion(TRACT, 5, 5);
  const [ra0, dec0] = region.center;
  const t = allocDiaSources(3, false);
  const cosd = Math.cos((dec0 * Math.PI) / 180);
  const off = [0.2, -0.2, 0.0];
  for (let i = 0; i < 3; i++) {
    t.diaSourceId[i] = i + 1; t.ra[i] = ra0 + off[i]! / 3600 / cosd; t.dec[i] = dec0; t.mjd[i] = 60000 + i;
    t.expnum[i] = i + 1; t.ccd[i] = 1; t.band[i] = 'r'; t.psfFlux[i] = [10, 20, 60][i]!; t.psfFluxErr[i] = 1;
  }
  const a = new Associator(region);
  a.add(selectDiaSources(t, [0, 1]));
  let o = a.objects();
  assert.equal(o.n, 1);
  assert.ok(separationDeg(o.ra[0]!, o.dec[0]!, ra0, dec0) * 3600 < 1e-6, 'mean of +0.2″ and −0.2″ is the centre');
  assert.equal(o.bandStats.get('r')!.mean[0], 15);
  a.add(selectDiaSources(t, [2]));
  o = a.objects();
  assert.equal(o.nDiaSources[0], 3);
  assert.equal(o.bandStats.get('r')!.mean[0], 30);
  assert.equal(o.bandStats.get('r')!.variance[0], ((10 - 30) ** 2 + (20 - 30) ** 2 + (60 - 30) ** 2) / 2);
});

test('rerun with the inputs in another order gives identical diaObjects (stable ids)', () => {
  const r = rng(3);
  const perm = Array.from({ length: sim.sources.n }, (_, i) => i);
  for (let i = perm.length - 1; i > 0; i--) { const j = Math.floor(r.u() * (i + 1)); [perm[i], perm[j]] = [perm[j]!, perm[i]!]; }
  const shuffled = selectDiaSources(sim.sources, perm);
  const again = associate(shuffled, patches[0]!);
  const first = results[0]!;
  assert.deepEqual(again.objects.diaObjectId, first.objects.diaObjectId);
  assert.deepEqual(again.objects.ra, first.objects.ra);
  assert.deepEqual(again.objects.dec, first.objects.dec);
  assert.deepEqual(again.diaObjectId, first.diaObjectId);
  assert.deepEqual(again.sources.diaSourceId, first.sources.diaSourceId);
  for (const b of first.objects.bands) assert.deepEqual(again.objects.bandStats.get(b), first.objects.bandStats.get(b));
  assert.equal(Math.floor(first.objects.diaObjectId[0]! / 1e9), patches[0]!.id);
});

test('radius option and brick regions', () => {
  const region = brickRegion(brickForPosition(34.5, 2.5).brickname);
  const [ra0, dec0] = region.center;
  const t = allocDiaSources(2, false);
  for (let i = 0; i < 2; i++) { t.diaSourceId[i] = i + 1; t.ra[i] = ra0; t.dec[i] = dec0 + (i * 0.8) / 3600; t.mjd[i] = 60000 + i; t.expnum[i] = i + 1; t.band[i] = 'g'; }
  assert.equal(associate(t, region).objects.n, 2);
  assert.equal(associate(t, region, { radiusArcsec: 1 }).objects.n, 1);
  assert.throws(() => associate(t, region, { radiusArcsec: -1 }), /radius/);
  // a position outside the brick box is not owned
  t.dec[1] = dec0 + 0.2;
  assert.equal(associate(t, region, { radiusArcsec: 1 }).sources.n, 1);
  const pr = patchRegionFor(dc2SkyMap().tract(TRACT).ra, dc2SkyMap().tract(TRACT).dec);
  assert.ok(pr.contains(dc2SkyMap().tract(TRACT).ra, dc2SkyMap().tract(TRACT).dec));
});
