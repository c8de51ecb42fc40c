import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findPattern, applySimilarity, similarityScale, similarityRotationDeg, matchPoints, type Similarity } from '../../src/calib/match.js';
import { rng } from '../psf/synth.js';

function scene(seed: number, truth: Similarity, opts: { nRef?: number; keep?: number; spurious?: number; noise?: number } = {}) {
  const r = rng(seed);
  const nRef = opts.nRef ?? 300;
  const W = 2048, H = 4096;
  // Reference stars (in the reference pixel frame), brightest first; wider than the CCD.
  const ref = Array.from({ length: nRef }, () => ({ x: -200 + r.uniform() * (W + 400), y: -200 + r.uniform() * (H + 400), m: 14 + 7 * r.uniform() }));
  ref.sort((a, b) => a.m - b.m);
  // Detections: the inverse transform of the reference positions, inside the CCD.
  const det: { x: number; y: number; m: number }[] = [];
  const s = similarityScale(truth), th = Math.atan2(truth.b, truth.a);
  for (const p of ref) {
    if (r.uniform() > (opts.keep ?? 0.7)) continue;
    const u = p.x - truth.tx, v = p.y - truth.ty;
    const x = (Math.cos(-th) * u - Math.sin(-th) * v) / s, y = (Math.sin(-th) * u + Math.cos(-th) * v) / s;
    if (x < 0 || y < 0 || x >= W || y >= H) continue;
    det.push({ x: x + (opts.noise ?? 0.2) * r.gauss(), y: y + (opts.noise ?? 0.2) * r.gauss(), m: p.m + 0.3 * r.gauss() });
  }
  for (let i = 0; i < (opts.spurious ?? 30); i++) det.push({ x: r.uniform() * W, y: r.uniform() * H, m: 15 + 6 * r.uniform() });
  det.sort((a, b) => a.m - b.m);
  return { det: { x: det.map((d) => d.x), y: det.map((d) => d.y) }, ref: { x: ref.map((d) => d.x), y: ref.map((d) => d.y) } };
}

test('pattern matching recovers shift of ~100 px, 1° rotation and 3% scale', () => {
  const th = (1.0 * Math.PI) / 180, s = 1.03;
  const truth: Similarity = { a: s * Math.cos(th), b: s * Math.sin(th), tx: 95, ty: -70 };
  const { det, ref } = scene(1, truth);
  const res = findPattern(det, ref);
  assert.ok(res, 'no pattern found');
  assert.ok(Math.abs(similarityScale(res.transform) - s) < 1e-3, `scale ${similarityScale(res.transform)}`);
  assert.ok(Math.abs(similarityRotationDeg(res.transform) - 1.0) < 0.02, `rotation ${similarityRotationDeg(res.transform)}`);
  for (const [x, y] of [[0, 0], [2047, 4095], [1024, 2048]]) {
    const [u, v] = applySimilarity(res.transform, x!, y!);
    const [ut, vt] = applySimilarity(truth, x!, y!);
    assert.ok(Math.hypot(u - ut, v - vt) < 1, `corner error ${Math.hypot(u - ut, v - vt)} px`);
  }
  const m = matchPoints(det, ref, res.transform, 2);
  assert.ok(m.det.length > 100, `matched ${m.det.length}`);
});

test('pattern matching rejects unrelated fields and tiny lists', () => {
  const a = scene(2, { a: 1, b: 0, tx: 0, ty: 0 });
  const b = scene(3, { a: 1, b: 0, tx: 0, ty: 0 });
  assert.equal(findPattern(a.det, b.ref), null);
  assert.equal(findPattern({ x: [1, 2], y: [3, 4] }, a.ref), null);
});
