import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir } from '../../helpers.js';
import { simulateSurvey } from '../../../src/sim/index.js';
import { demoSurveyConfig } from '../../../src/pipeline/transient/config.js';
import { Repository } from '../../../src/pipeline/repo.js';
import { readCcds } from '../../../src/pipeline/transient/registry.js';

test('tessera plan: ingests exposures (headers), plans the campaign, re-plans idempotently, reports duplicates and unreadable files', { timeout: 300_000 }, async () => {
  const dir = tempDir();
  const cfg = demoSurveyConfig('tiny', 3);
  cfg.camera = { ...cfg.camera, ccds: cfg.camera.ccds.map((c) => ({ ...c, width: 256, height: 256 })) };
  const sim = await simulateSurvey(cfg, { outDir: join(dir, 'sim'), jobs: 0 });
  const files = sim.manifest.exposures.map((e) => join(dir, 'sim', e.image));
  const repo = join(dir, 'repo');
  assert.equal((await cli(['init', repo])).code, 0);
  const missing = await cli(['plan', repo, ...files]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--refcat DIR is required/);
  const tmpl = sim.manifest.exposures.filter((e) => e.role === 'template').map((e) => e.expnum);
  const a = await cli(['plan', repo, '--refcat', join(dir, 'refcat'), '--templates', tmpl.join(','), ...files]);
  assert.equal(a.code, 0, a.stderr);
  const nccd = sim.manifest.exposures.length * cfg.camera.ccds.length;
  assert.match(a.stdout, new RegExp(`ingested ${sim.manifest.exposures.length} exposure\\(s\\)`));
  const store = await Repository.open(repo).openStore();
  const ccds = (await readCcds(store)).ccds;
  await store.close();
  assert.equal(ccds.length, nccd);
  assert.ok(ccds.every((c) => c.weight?.includes('_oow_') && c.mask?.includes('_ood_')), 'CP companions found');
  // search CCDs with a template: those whose (axis-aligned) footprint box overlaps a template CCD's
  const box = (c: (typeof ccds)[number]) => [Math.min(...c.footprint.map((p) => p[0])), Math.max(...c.footprint.map((p) => p[0])), Math.min(...c.footprint.map((p) => p[1])), Math.max(...c.footprint.map((p) => p[1]))];
  const overlaps = (a: number[], b: number[]) => a[0]! < b[1]! && b[0]! < a[1]! && a[2]! < b[3]! && b[2]! < a[3]!;
  const tccds = ccds.filter((c) => tmpl.includes(c.expnum));
  const nSearch = ccds.filter((c) => !tmpl.includes(c.expnum) && tccds.some((t) => overlaps(box(c), box(t)))).length;
  assert.ok(nSearch >= 1);
  assert.match(a.stdout, new RegExp(`${nccd} calibrate, ${nSearch} diff, \\d+ associate, ${nSearch} forced, 1 products`));
  // again: nothing new
  const b = await cli(['plan', repo, '--refcat', join(dir, 'refcat'), '--templates', tmpl.join(','), ...files]);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /ingested 0 exposure\(s\) \(\d+ already known\)/);
  assert.match(b.stdout, / 0 task\(s\) added/);
  // the same exposure under another name is a duplicate; a non-FITS file is reported; the rest goes on
  const copy = join(dir, 'copy_ooi_r_v1.fits.fz');
  copyFileSync(files[0]!, copy);
  const junk = join(dir, 'junk.fits');
  copyFileSync(join(dir, 'sim', 'manifest.json'), junk);
  const c = await cli(['plan', repo, '--refcat', join(dir, 'refcat'), '--templates', tmpl.join(','), copy, junk]);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stderr, /duplicate exposure \d+, already ingested from/);
  assert.match(c.stderr, /junk\.fits/);
  const d = await cli(['plan', repo, '--refcat', 'r', '--templates', '1', '--template-before', '60000']);
  assert.equal(d.code, 2);
});
