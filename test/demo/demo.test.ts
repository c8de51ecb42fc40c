import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { column, readTableFits } from '../../src/products/tables.js';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { tempDir, cli } from '../helpers.js';
import { runDemo } from '../../src/pipeline/transient/demo.js';
import { Repository } from '../../src/pipeline/repo.js';
import { planCampaign, DEFAULT_QUEUE } from '../../src/pipeline/transient/plan.js';

test('tessera demo --size tiny: every task succeeds; transients recovered, few false candidates, forced pulls ≈ N(0,1), no duplicates across patches', { timeout: 600_000 }, async () => {
  const dir = join(tempDir(), 'demo');
  const out = new PassThrough(), err = new PassThrough();
  let text = '';
  out.on('data', (d) => (text += d));
  err.resume();
  const r = await runDemo({ dir, size: 'tiny', workers: 2, seed: 1, quiet: true }, { stdout: out, stderr: err });
  assert.ok(r.ok, text);
  // the real engine ran every planned task to SUCCEEDED
  const repo = Repository.open(r.repo);
  const store = await repo.openStore();
  try {
    const rows = await store.counts(DEFAULT_QUEUE);
    const total = rows.reduce((a, x) => a + x.n, 0);
    const ok = rows.filter((x) => x.state === 'SUCCEEDED').reduce((a, x) => a + x.n, 0);
    assert.equal(ok, total, JSON.stringify(rows));
    assert.equal(total, r.plan.total);
    assert.deepEqual(new Set(rows.map((x) => x.kind)), new Set(['calibrate', 'diff', 'associate', 'forced', 'products']));
    assert.ok(r.plan.regions >= 2, 'the field straddles a patch boundary');
    // re-planning the finished campaign adds nothing
    const again = await planCampaign(repo, store, { refcat: join(dir, 'refcat'), templates: [r.config.firstExpnum] });
    assert.equal(again.added, 0);
  } finally {
    await store.close();
  }
  assert.ok(existsSync(r.report));
  assert.match(readFileSync(r.report, 'utf8'), /<html/);
  const ev = r.evaluation!;
  // at least 80% of the transients brighter than the 5σ depth are recovered as diaObjects (1″)
  assert.ok(ev.bright >= 5, `only ${ev.bright} bright transients`);
  assert.ok(ev.brightRecovered >= 0.8 * ev.bright, `recovered ${ev.brightRecovered}/${ev.bright}: missed ${JSON.stringify(ev.missedBright)}`);
  // at most 2 false candidates (no transient, variable star or asteroid within 1″)
  assert.ok(ev.falseCandidates <= 2, `${ev.falseCandidates} false candidates of ${ev.candidates}`);
  assert.ok(ev.candidates >= 0.5 * ev.bright, `${ev.candidates} candidates`);
  // forced photometry of transients on the difference images vs truth (on each CCD's calibrated
  // flux scale, measured on its stars): flux scale within 3%, pulls with median within ±1 and
  // robust width 1 within [0.6, 1.4] (about 16 measurements: ±0.2 is 1σ of a MAD width from 16)
  assert.ok(ev.pulls.length >= 8, `${ev.pulls.length} forced measurements of transients`);
  assert.ok(Math.abs(ev.fluxRatioMedian - 1) < 0.03, `median flux/truth ${ev.fluxRatioMedian}`);
  assert.ok(Math.abs(ev.pullMedian) < 1, `pull median ${ev.pullMedian}`);
  assert.ok(ev.pullWidth > 0.6 && ev.pullWidth < 1.4, `pull width ${ev.pullWidth}`);
  // the calibration's flux scale, measured on the stars of each search CCD, reported apart: within 5%
  assert.ok(ev.zpOffsets.length >= 1 && ev.zpOffsets.every((z) => z.nStars >= 10 && Math.abs(z.fluxScale - 1) < 0.05), JSON.stringify(ev.zpOffsets));
  // no diaObject twice across the patch boundary, no diaSource in two patches
  assert.equal(ev.duplicateObjects, 0);
  assert.equal(ev.duplicateSources, 0);
  assert.match(text, /recovered as diaObjects/);
  // diaSources carry DIST_REF (pixels to the nearest reference star, from the campaign's refcat):
  // most detections are away from reference stars. (Bright-star residuals would sit on one, but with
  // the sources' Poisson noise in the VARIANCE planes they rarely pass the threshold here; that
  // DIST_REF finds a star under a detection is tested in test/diffim.)
  const dist: number[] = [];
  const walk = (d: string): void => { for (const e of readdirSync(d, { withFileTypes: true })) { const p = join(d, e.name); if (e.isDirectory()) walk(p); else if (/^diaSrc-.*\.fits$/.test(e.name)) dist.push(...(column(readTableFits(p), 'DIST_REF') as Float64Array)); } };
  walk(join(r.repo, 'diaSrc'));
  assert.ok(dist.length > 0 && dist.every((v) => v >= 0), 'DIST_REF measured for every diaSource');
  assert.ok(dist.filter((v) => v > 5).length > dist.length / 2, 'most diaSources are away from reference stars');
  // running it again resumes: nothing to simulate, plan or compute; the same findings
  let text2 = '';
  const out2 = new PassThrough();
  out2.on('data', (d) => (text2 += d));
  const t0 = performance.now();
  const r2 = await runDemo({ dir, size: 'tiny', workers: 2, seed: 1, quiet: true }, { stdout: out2, stderr: err });
  assert.ok(r2.ok, text2);
  assert.match(text2, /reusing the simulation/);
  assert.equal(r2.plan.added, 0);
  assert.equal(r2.evaluation!.brightRecovered, ev.brightRecovered);
  assert.equal(r2.evaluation!.candidates, ev.candidates);
  assert.ok((performance.now() - t0) / 1000 < 30, `resume took ${(performance.now() - t0) / 1000} s`);
  await assert.rejects(runDemo({ dir, size: 'tiny', workers: 1, seed: 2, quiet: true }, { stdout: out2, stderr: err }), /give the same options to resume/);
  // the products are queryable
  const q = await cli(['query', r.repo, 'SELECT count(*) AS n FROM diaObject', '--json']);
  assert.equal(q.code, 0, q.stderr);
  assert.equal((JSON.parse(q.stdout) as { n: number }[])[0]!.n, ev.diaObjects);
});

test('tessera demo: bad arguments', async () => {
  const dir = tempDir();
  const a = await cli(['demo', dir, '--size', 'huge']);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /--size: expected small or tiny/);
  const b = await cli(['demo', join(dir, '..'), '--size', 'tiny']);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /exists and is not empty/);
});
