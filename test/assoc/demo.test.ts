import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { runDemo } from '../../src/assoc/demo.js';
import { cli, tempDir } from '../helpers.js';

test('tessera demo at reduced size: simulate → calibrate → diff → associate → forced → report, against truth; rerun reuses everything', { timeout: 600_000 }, async () => {
  const dir = tempDir();
  const r = await cli(['demo', dir, '--ccds', '1', '--epochs', '1,2', '--transients', '8', '--jobs', '2', '-q']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /recovered as diaObjects/);
  const m = /(\d+) brighter than the 5σ depth at some epoch; (\d+) of them recovered/.exec(r.stdout)!;
  const detectable = Number(m[1]), recovered = Number(m[2]);
  assert.ok(detectable >= 3, r.stdout);
  assert.ok(recovered >= 0.6 * detectable, `recovered ${recovered}/${detectable}`);
  const c = /candidates: (\d+) — (\d+) transient, (\d+) star \(variable or residual\), (\d+) asteroid, (\d+) no counterpart/.exec(r.stdout)!;
  assert.ok(Number(c[2]) >= 1, 'at least one candidate is a true transient');
  assert.ok(Number(c[5]) <= 2, `false candidates ${c[5]}`);
  const repo = join(dir, 'repo');
  assert.ok(existsSync(join(repo, 'report.html')));
  const q = await cli(['query', repo, 'SELECT count(*) AS n FROM forcedSource WHERE flags = 0', '--json']);
  assert.ok((JSON.parse(q.stdout) as { n: number }[])[0]!.n > 0);
  // rerun: every task is already done; the candidate list is unchanged
  const before = readFileSync(join(repo, 'tables', 'candidates.csv'), 'utf8');
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => (text += d));
  const again = await runDemo({ dir, quiet: true, out });
  assert.equal(again.failedTasks, 0);
  assert.match(text, /reusing the simulation/);
  assert.equal(readFileSync(join(repo, 'tables', 'candidates.csv'), 'utf8'), before);
  assert.ok(again.wallSeconds < 30, `rerun took ${again.wallSeconds} s`);
});
