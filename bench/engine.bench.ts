/**
 * Campaign engine: claim+complete throughput of no-op tasks with 1, 2 and 8 `tessera worker`
 * processes (SQLite and PostgreSQL), planning time for 10⁶ tasks with dependencies, and
 * `queue status` latency at 10⁶ tasks. qdo (the peer) is not installable here; the notes' figures
 * for the plain SQLite claim pattern are quoted for comparison.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { BenchModule } from './harness.js';
import { Repository } from '../src/pipeline/repo.js';
import { tesseraArgv } from '../src/pipeline/campaign.js';
import type { NewTask, TaskStore } from '../src/engine/types.js';

const PG = process.env.TESSERA_TEST_PG ?? process.env.TESSERA_BENCH_PG;

function pgUrl(schema: string): string {
  const u = new URL(PG!);
  u.searchParams.set('schema', schema);
  return u.toString();
}

async function dropSchema(schema: string) {
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
}

async function newRepo(dir: string, name: string, backend: 'sqlite' | 'postgres'): Promise<{ repo: Repository; schema?: string }> {
  const schema = backend === 'postgres' ? `bench_${name}_${process.pid}` : undefined;
  if (schema) await dropSchema(schema);
  const repo = Repository.init(join(dir, name), schema ? { db: pgUrl(schema) } : {});
  return { repo, schema };
}

/** N worker processes drain `n` no-op tasks; rate from first claim to last completion (DB times). */
async function throughput(dir: string, backend: 'sqlite' | 'postgres', workers: number, n: number): Promise<{ rate: number; wall: number }> {
  const { repo, schema } = await newRepo(dir, `${backend}_tp${workers}`, backend);
  const store = await repo.openStore();
  await store.addTasks('noop', Array.from({ length: n }, (_, i) => ({ key: `t${i}`, kind: 'noop' })));
  const [node, bin] = tesseraArgv() as [string, string];
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: workers }, () => new Promise((res, rej) => {
      const c = spawn(node, [bin, 'worker', repo.root, '--queue', 'noop', '--quiet'], { stdio: ['ignore', 'ignore', 'inherit'] });
      c.on('exit', (code) => (code === 0 ? res(null) : rej(new Error(`worker exited ${code}`))));
    })),
  );
  const wall = (Date.now() - t0) / 1000;
  const [span] = await store.sql<{ a: number; b: number; n: number }>(`SELECT MIN(started) AS a, MAX(finished) AS b, COUNT(*) AS n FROM tasks WHERE state = 'SUCCEEDED'`);
  await store.close();
  if (Number(span!.n) !== n) throw new Error(`only ${span!.n} of ${n} tasks succeeded`);
  if (schema) await dropSchema(schema);
  return { rate: n / (Number(span!.b) - Number(span!.a)), wall };
}

/** 10⁶ tasks: 1,000 roots, every other task after the one 1,000 before it (999,000 edges). */
function million(): NewTask[] {
  const N = 1_000_000;
  const out: NewTask[] = new Array(N);
  for (let i = 0; i < N; i++) out[i] = { key: `calibrate/expnum=${100000 + Math.floor(i / 62)}/ccd=${i % 62}`, kind: i % 5 === 0 ? 'diff' : 'calibrate', params: { i }, after: i >= 1000 ? [out[i - 1000]!.key] : undefined };
  return out;
}

async function planning(dir: string, backend: 'sqlite' | 'postgres') {
  const { repo, schema } = await newRepo(dir, `${backend}_million`, backend);
  const store: TaskStore = await repo.openStore();
  const tasks = million();
  let t0 = process.hrtime.bigint();
  await store.addTasks('big', tasks);
  const load = Number(process.hrtime.bigint() - t0) / 1e9;
  // counts() (what `queue status` reads) and one claim at 10⁶ tasks.
  let counts = Infinity;
  for (let i = 0; i < 5; i++) {
    t0 = process.hrtime.bigint();
    await store.counts();
    counts = Math.min(counts, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  t0 = process.hrtime.bigint();
  const got = await store.claim({ worker: 'b', host: 'h', leaseSeconds: 60, limit: 100, queue: 'big' });
  const claim = Number(process.hrtime.bigint() - t0) / 1e9;
  t0 = process.hrtime.bigint();
  await store.finish(got.map((t) => ({ id: t.id, leaseId: t.leaseId, outcome: { ok: true } })));
  const finish = Number(process.hrtime.bigint() - t0) / 1e9;
  await store.close();
  // The whole command, as a user runs it (process start, open, query, print).
  const [node, bin] = tesseraArgv() as [string, string];
  let cmd = Infinity;
  for (let i = 0; i < 3; i++) {
    t0 = process.hrtime.bigint();
    const r = spawnSync(node, [bin, 'queue', 'status', repo.root], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    cmd = Math.min(cmd, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const version = spawnSync(node, [bin, 'version'], { encoding: 'utf8' });
  let bare = Infinity;
  for (let i = 0; i < 3; i++) {
    t0 = process.hrtime.bigint();
    spawnSync(node, [bin, 'version']);
    bare = Math.min(bare, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  void version;
  if (schema) await dropSchema(schema);
  return { load, counts, claim, finish, cmd, bare };
}

const bench: BenchModule = {
  name: 'engine',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-engine-'));
    try {
      const backends: ('sqlite' | 'postgres')[] = PG ? ['sqlite', 'postgres'] : ['sqlite'];
      const rows: string[] = [];
      for (const b of backends) {
        for (const w of [1, 2, 8]) {
          const n = b === 'sqlite' ? 40000 : 20000;
          const r = await throughput(dir, b, w, n);
          rows.push(`| ${b} | ${w} | ${n.toLocaleString('en')} | ${Math.round(r.rate).toLocaleString('en')} | ${r.wall.toFixed(1)} s |`);
        }
      }
      const plan: string[] = [];
      for (const b of backends) {
        const p = await planning(dir, b);
        plan.push(
          `| ${b} | ${p.load.toFixed(1)} s | ${(p.counts * 1000).toFixed(1)} ms | ${(p.cmd * 1000).toFixed(0)} ms (bare \`tessera version\`: ${(p.bare * 1000).toFixed(0)} ms) | ${(p.claim * 1000).toFixed(1)} ms / ${(p.finish * 1000).toFixed(1)} ms |`,
        );
      }
      return [
        {
          title: 'Engine: claim+complete throughput of no-op tasks',
          body: `\`tessera worker\` processes (in-process \`noop\` kind, adaptive batch claims up to 200,
completions flushed in batches, every update fenced on the lease) drain a queue; the rate is
tasks / (last completion − first claim) from the task records; wall includes process start-up.
Target: ≥ 5,000 tasks/s on SQLite on 2 cores. qdo is not installable here; the notes measured
the bare SQLite claim pattern (better-sqlite3, no worker, lease, counts or dependencies) at
4,342–6,351/s one task per transaction and 47,000–85,000/s with 50–200-task batches.${PG ? '' : '\n\nPostgreSQL rows are missing: TESSERA_TEST_PG was not set.'}

| backend | workers | tasks | tasks/s | wall |
|---|---:|---:|---:|---:|
${rows.join('\n')}`,
        },
        {
          title: 'Engine: planning and status at 10⁶ tasks',
          body: `\`addTasks\` of 1,000,000 tasks (two kinds, JSON params, 999,000 dependency edges: each
task after the one 1,000 before it) in one transaction; \`counts()\` (what \`queue status\` reads:
a counts table kept by triggers, not a scan); the whole \`tessera queue status\` command as a
process; one 100-task claim and its completion at 10⁶ tasks.

| backend | load 10⁶ tasks | counts() | \`queue status\` command | claim 100 / finish 100 |
|---|---:|---:|---:|---:|
${plan.join('\n')}`,
        },
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default bench;
