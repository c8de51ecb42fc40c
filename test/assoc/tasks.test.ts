import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { planTransientTasks, regionsOverlapping } from '../../src/pipeline/transient/assoc-tasks.js';
import { pipelineExecutor } from '../../src/pipeline/kinds.js';
import { Repository } from '../../src/pipeline/repo.js';
import type { ClaimedTask } from '../../src/engine/types.js';
import { dc2SkyMap } from '../../src/sky/skymap.js';
import { Wcs } from '../../src/wcs/wcs.js';
import { cli, tempDir } from '../helpers.js';
import { H, W, ZP, writeCampaign } from '../products/campaign.js';

test('associate / forced / products task kinds run through the engine executor, in dependency order, and are skipped when done', async () => {
  const root = join(tempDir(), 'repo');
  const repo = Repository.init(root);
  const c = writeCampaign(root, 6);
  const tasks = planTransientTasks(c.epochs.map((e) => ({ ...e, zeroPoint: ZP, wcs: c.wcs, width: W, height: H, diffKey: `diff/${e.expnum}/${e.ccd}` })));
  assert.deepEqual(tasks.map((t) => t.kind), ['associate', ...c.epochs.map(() => 'forced'), 'products']);
  assert.deepEqual(tasks[0]!.after, c.epochs.map((e) => `diff/${e.expnum}/${e.ccd}`));
  assert.deepEqual(tasks.at(-1)!.after, c.epochs.map((e) => `forced/diff/${e.expnum}/${e.ccd}`));
  const exec = pipelineExecutor(repo);
  const run = async (pass: number) => {
    const results = [];
    for (const [i, t] of tasks.entries()) {
      const claimed: ClaimedTask = { id: i + 1, queue: 'demo', key: t.key, kind: t.kind, params: t.params, priority: 0, attempts: pass, maxAttempts: 3, leaseId: 1, expectedSeconds: null };
      const o = await exec(claimed, { signal: new AbortController().signal, logPath: join(root, 'logs', `${i}.log`), workerId: 'w' });
      assert.ok(o.ok, `${t.key}: ${o.error}`);
      results.push(o);
    }
    return results;
  };
  const first = await run(1);
  assert.ok(first.every((o) => !(o.result as { skipped?: boolean } | undefined)?.skipped));
  assert.ok(existsSync(join(root, 'report.html')));
  const cands = JSON.parse(readFileSync(join(root, 'tables', 'candidates.json'), 'utf8')) as unknown[];
  assert.ok(cands.length >= 5, `${cands.length} candidates`);
  const q = await cli(['query', root, 'SELECT count(DISTINCT expnum) AS e, count(*) AS n FROM forcedSource', '--json']);
  const row = JSON.parse(q.stdout)[0] as { e: number; n: number };
  assert.equal(row.e, 6);
  const second = await run(2);
  assert.ok(second.every((o) => (o.result as { skipped?: boolean }).skipped === true), 'rerun skips finished tasks');
});

test('regionsOverlapping finds every patch a CCD touches', () => {
  const t = dc2SkyMap().tract(4849);
  // a DECam-sized CCD centred on the corner of four patches
  const [ra, dec] = t.pixelToSky(20000 - 0.5, 20000 - 0.5);
  const wcs = Wcs.tan({ crval: [ra, dec], crpix: [1024.5, 2048.5], cd: [-0.263 / 3600, 0, 0, 0.263 / 3600], naxis: [2048, 4096] });
  const rs = regionsOverlapping(wcs, 2048, 4096).map((r) => r.name);
  assert.deepEqual(new Set(rs), new Set(['4849:4,4', '4849:5,4', '4849:4,5', '4849:5,5']));
  assert.equal(rs.length, 4);
});
