/**
 * Fault injection: a campaign of 2,000 tasks with fan-in dependencies, run by 3 worker processes
 * that are killed with SIGKILL at random moments and restarted. Leases are 1 s, so the tasks of
 * a killed worker return to PENDING on their own. At the end every task is SUCCEEDED exactly
 * once, every output file is complete, and no task started before its dependencies finished.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';
import { Repository } from '../../src/pipeline/repo.js';
import { tesseraArgv } from '../../src/pipeline/campaign.js';
import type { NewTask } from '../../src/engine/types.js';

const PG = process.env.TESSERA_TEST_PG;

async function campaign(dbUrl: string | undefined, label: string) {
  const root = join(tempDir('tessera-fault-'), 'repo');
  const repo = Repository.init(root, dbUrl ? { db: dbUrl } : {});
  const out = join(root, 'out');
  mkdirSync(out, { recursive: true });
  // Layers: 1200 a (no deps) → 600 b (each after 3 a) → 200 c (each after 4 b): 2,000 tasks.
  const tasks: NewTask[] = [];
  const rnd = (() => {
    let s = 12345;
    return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  })();
  const cmdFor = (key: string, after: string[]) => {
    const checks = after.map((d) => `test -s ${out}/${d}.txt || { echo "dependency ${d} missing" >&2; exit 9; }`).join('; ');
    // Atomic write: temporary name in the same directory, then rename.
    return `${checks}${checks ? '; ' : ''}printf '%s\\n' ${key} > ${out}/.tmp-${key}.$$ && mv ${out}/.tmp-${key}.$$ ${out}/${key}.txt && echo ${key} >> ${root}/executions.log`;
  };
  const add = (key: string, after: string[]) => tasks.push({ key, kind: 'cmd', params: { cmd: cmdFor(key, after), outputs: [`${out}/${key}.txt`] }, after, maxAttempts: 100 });
  for (let i = 0; i < 1200; i++) add(`a${i}`, []);
  for (let i = 0; i < 600; i++) add(`b${i}`, [0, 1, 2].map(() => `a${Math.floor(rnd() * 1200)}`).filter((k, j, arr) => arr.indexOf(k) === j));
  for (let i = 0; i < 200; i++) add(`c${i}`, [0, 1, 2, 3].map(() => `b${Math.floor(rnd() * 600)}`).filter((k, j, arr) => arr.indexOf(k) === j));
  const store = await repo.openStore();
  await store.addTasks('fault', tasks);

  const [node, bin] = tesseraArgv() as [string, string];
  const journals = join(root, 'journals');
  let started = 0;
  const live = new Set<ChildProcess>();
  const startWorker = () => {
    const c = spawn(node, [bin, 'worker', root, '--queue', 'fault', '--lease', '1', '--quiet', '--journal', join(journals, `w${started++}.txt`)], { stdio: 'ignore' });
    live.add(c);
    c.on('exit', () => live.delete(c));
  };
  for (let i = 0; i < 3; i++) startWorker();
  let kills = 0;
  const t0 = Date.now();
  let done = false;
  while (!done) {
    assert.ok(Date.now() - t0 < 150_000, `${label}: campaign did not finish in time`);
    await new Promise((r) => setTimeout(r, 300 + rnd() * 700));
    const c = await store.counts('fault');
    const succeeded = c.filter((r) => r.state === 'SUCCEEDED').reduce((a, r) => a + r.n, 0);
    const failed = c.filter((r) => r.state === 'FAILED').reduce((a, r) => a + r.n, 0);
    assert.equal(failed, 0, `${label}: no task may fail`);
    done = succeeded === tasks.length;
    if (!done && kills < 12 && live.size) {
      const victims = [...live];
      const v = victims[Math.floor(rnd() * victims.length)]!;
      v.kill('SIGKILL');
      kills++;
      startWorker();
    }
    if (!done && live.size === 0) startWorker();
  }
  await Promise.all([...live].map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.on('exit', r)))));

  // 1. Every task SUCCEEDED; output files complete (exactly one line: the key).
  const all = await store.tasks({ queue: 'fault' });
  assert.equal(all.length, tasks.length);
  for (const t of all) {
    assert.equal(t.state, 'SUCCEEDED', `${t.key} ${t.state}`);
    const f = join(out, `${t.key}.txt`);
    assert.ok(existsSync(f), `${label}: output of ${t.key} missing`);
    assert.equal(readFileSync(f, 'utf8'), `${t.key}\n`, `${label}: output of ${t.key} truncated or duplicated`);
  }
  // 2. No task completed twice: the journals (written after each fenced completion) never repeat an id.
  //    Each journaled completion is the attempt the database kept (same lease).
  const seen = new Map<number, number>();
  const leaseOf = new Map(all.map((t) => [t.id, t.leaseId]));
  for (const f of existsSync(journals) ? readdirSync(journals) : []) {
    for (const line of readFileSync(join(journals, f), 'utf8').split('\n').filter(Boolean)) {
      const [id, lease] = line.split(' ').map(Number) as [number, number];
      seen.set(id, (seen.get(id) ?? 0) + 1);
      assert.equal(lease, leaseOf.get(id), `${label}: task ${id} journaled with lease ${lease}, database has ${leaseOf.get(id)}`);
    }
  }
  const dup = [...seen].filter(([, n]) => n > 1);
  assert.deepEqual(dup, [], `${label}: tasks completed more than once`);
  // A kill between a commit and the journal append loses those lines, never more.
  assert.ok(seen.size >= tasks.length / 2, `${label}: journals cover the campaign (${seen.size})`);
  // 3. Dependencies respected: a task's (last) start is after each dependency's finish.
  const byId = new Map(all.map((t) => [t.id, t]));
  const deps = await store.dependencies(all.map((t) => t.id));
  assert.equal(deps.length, tasks.reduce((a, t) => a + (t.after?.length ?? 0), 0));
  for (const d of deps) {
    const t = byId.get(d.taskId)!;
    const p = byId.get(d.depId)!;
    assert.ok(t.started! >= p.finished!, `${label}: ${t.key} started ${t.started} before ${p.key} finished ${p.finished}`);
  }
  const executions = readFileSync(join(root, 'executions.log'), 'utf8').split('\n').filter(Boolean).length;
  const retried = all.filter((t) => t.attempts > 1).length;
  await store.close();
  return { kills, executions, retried, seconds: (Date.now() - t0) / 1000, workers: started };
}

it('fault injection (SQLite): SIGKILLed workers, every task SUCCEEDED exactly once, outputs whole, deps respected', { timeout: 200_000 }, async (t) => {
  const r = await campaign(undefined, 'sqlite');
  t.diagnostic(`sqlite: ${r.kills} workers killed, ${r.workers} started, ${r.retried} tasks retried, ${r.executions} command executions for 2000 tasks, ${r.seconds.toFixed(1)} s`);
  assert.ok(r.kills >= 3, 'workers were killed during the campaign');
});

it('fault injection (PostgreSQL): same campaign on the PostgreSQL backend', { timeout: 200_000, skip: PG ? undefined : 'PostgreSQL not configured (set TESSERA_TEST_PG; .ci/run does)' }, async (t) => {
  const u = new URL(PG!);
  u.searchParams.set('schema', `fault_${process.pid}`);
  const r = await campaign(u.toString(), 'postgres');
  t.diagnostic(`postgres: ${r.kills} workers killed, ${r.workers} started, ${r.retried} tasks retried, ${r.executions} command executions for 2000 tasks, ${r.seconds.toFixed(1)} s`);
  const pg = (await import('pg')).default;
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS fault_${process.pid} CASCADE`);
  await c.end();
  assert.ok(r.kills >= 3);
});
