import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { simulateRbSamples, parseRbModel, REAL_KINDS } from '../../src/diffim/rb.js';
import { FEATURE_NAMES } from '../../src/diffim/dia.js';
import { cli, tempDir } from '../helpers.js';

const DIST_REF = FEATURE_NAMES.indexOf('dist_ref');

test('real/bogus training samples carry reference-catalog distances: artefacts and some reals sit on reference stars, most reals do not', () => {
  const all = [41, 42, 45].flatMap((seed) => simulateRbSamples(seed, 768)); // seeds ≢ 3 (mod 4): with a reference catalog
  const d = (kind: string) => all.filter((s) => s.kind === kind).map((s) => s.features[DIST_REF]!);
  const frac = (v: number[], r: number) => v.filter((x) => x < r).length / Math.max(1, v.length);
  const atStar = [...d('psfresidual'), ...d('dipole')];
  assert.ok(atStar.length >= 10, `${atStar.length} bright-star artefacts`);
  assert.ok(frac(atStar, 6) > 0.3, `bright-star artefacts within 6 px of a reference star: ${frac(atStar, 6)}`); // ~0.7 over many pairs
  const randomReal = [...d('transient'), ...d('hosted')];
  assert.ok(randomReal.length > 50 && frac(randomReal, 6) < 0.1, `transients and supernovae within 6 px of a reference star: ${frac(randomReal, 6)}`); // ~0.01
  const variables = [...d('variable'), ...d('fading')];
  assert.ok(variables.length >= 10 && frac(variables, 2) > 0.1 && frac(variables, 2) < 0.8, `variable stars on reference stars: ${frac(variables, 2)} (some, not all; ~0.35)`);
  assert.ok(all.some((s) => s.kind === 'hosted'), 'supernovae on galaxies are simulated');
  for (const s of all) assert.equal(s.real, REAL_KINDS.has(s.kind));
  // a pair without a reference catalog (seed ≡ 3 mod 4): dist_ref at its cap, as without --refcat
  const noRef = simulateRbSamples(43, 512);
  assert.ok(noRef.length > 10 && noRef.every((s) => s.features[DIST_REF] === 200));
});

test('tessera diff train-rb is reproducible byte for byte and reports the held-out removal at 99% retention; the shipped model splits on dist_ref', async () => {
  const dir = tempDir();
  const a = join(dir, 'a.json'), b = join(dir, 'b.json');
  const r1 = await cli(['diff', 'train-rb', '-o', a, '--pairs', '2', '--seed', '3']);
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(r1.stdout, /at 99% retention of real transients \(score ≥ [\d.]+\), [\d.]+% of artefacts removed/);
  const r2 = await cli(['diff', 'train-rb', '-o', b, '--pairs', '2', '--seed', '3']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(readFileSync(a, 'utf8'), readFileSync(b, 'utf8'));
  const m = parseRbModel(readFileSync(a, 'utf8'), a);
  assert.equal(m.meta.pairsTrain, 2);
  const shipped = parseRbModel(readFileSync(new URL('../../../data/rb-model.json', import.meta.url), 'utf8'), 'data/rb-model.json');
  const uses = shipped.trees.flat().filter((n) => n.f === DIST_REF).length;
  assert.ok(uses > 0, 'the shipped model uses dist_ref');
  assert.ok(Number(shipped.meta.bogusRemoved99) > 0.97, `shipped held-out removal ${shipped.meta.bogusRemoved99}`);
});
