/**
 * `tessera launch --batch slurm` on a real (single-node) Slurm: runs when TESSERA_TEST_SLURM is
 * set (.ci/run starts slurmctld/slurmd/munged from Debian's slurm-wlm and sets it).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir } from '../helpers.js';
import { Repository } from '../../src/pipeline/repo.js';

const SKIP = process.env.TESSERA_TEST_SLURM ? undefined : 'Slurm not available: set TESSERA_TEST_SLURM=1 with a running slurmctld/slurmd (.ci/run starts one when it can)';

async function campaign(array: boolean) {
  const root = join(tempDir('tessera-slurm-'), 'repo');
  assert.equal((await cli(['init', root])).code, 0);
  const lines: string[] = [];
  for (let i = 0; i < 30; i++) {
    const after = i >= 20 ? [`t${i - 20}`, `t${i - 10}`] : [];
    lines.push(JSON.stringify({ key: `t${i}`, cmd: `echo $SLURM_JOB_ID > ${root}/out-${i}.txt`, outputs: [`${root}/out-${i}.txt`], after }));
  }
  let r = await cli(['queue', 'load', root, 'q', '-'], lines.join('\n'));
  assert.equal(r.code, 0, r.stderr);
  r = await cli(['launch', root, '--batch', 'slurm', '--workers', '2', '--walltime', '00:05:00', '--queue', 'q', '--job-name', 'tessera-test', ...(array ? ['--array'] : [])]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /submitted Slurm job \d+: 2 worker\(s\)/);
  const repo = Repository.open(root);
  const store = await repo.openStore();
  const t0 = Date.now();
  for (;;) {
    const c = await store.counts('q');
    const ok = c.find((x) => x.state === 'SUCCEEDED')?.n ?? 0;
    if (ok === 30) break;
    assert.ok(!c.some((x) => x.state === 'FAILED'), 'no failures');
    assert.ok(Date.now() - t0 < 180_000, `campaign not finished after 180 s: ${JSON.stringify(c)}`);
    await new Promise((res) => setTimeout(res, 500));
  }
  const tasks = await store.tasks({ queue: 'q' });
  await store.close();
  for (let i = 0; i < 30; i++) assert.match(readFileSync(join(root, `out-${i}.txt`), 'utf8'), /^\d+\n$/, 'ran inside a Slurm job');
  assert.ok(tasks.every((t) => /:slurm\d+/.test(t.worker!)), 'workers ran as Slurm jobs');
  // The pilot jobs end by themselves once the queue is drained.
  const logDir = join(root, 'logs', 'slurm');
  for (let i = 0; i < 120; i++) {
    const outs = readdirSync(logDir).filter((f) => f.endsWith('.out'));
    if (outs.length && outs.every((f) => /tessera pilot: done with status 0/.test(readFileSync(join(logDir, f), 'utf8')))) return outs.length;
    await new Promise((res) => setTimeout(res, 500));
  }
  assert.fail(`pilot jobs did not finish: ${existsSync(logDir) ? readdirSync(logDir).join(', ') : 'no logs'}`);
}

it('launch --batch slurm: one job of 2 srun workers runs a campaign with dependencies to completion', { skip: SKIP, timeout: 300_000 }, async () => {
  assert.equal(await campaign(false), 1);
});

it('launch --batch slurm --array: 2 array elements run a campaign to completion', { skip: SKIP, timeout: 300_000 }, async () => {
  assert.equal(await campaign(true), 2);
});
