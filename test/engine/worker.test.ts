import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { tempDir } from '../helpers.js';
import { Repository } from '../../src/pipeline/repo.js';
import { pipelineExecutor, registerKind, configHash } from '../../src/pipeline/kinds.js';
import { tesseraArgv } from '../../src/pipeline/campaign.js';
import { Worker } from '../../src/engine/worker.js';
import { runCommand } from '../../src/engine/command.js';
import { TesseraError } from '../../src/util/errors.js';
import { TESSERA_VERSION } from '../../src/util/version.js';
import type { TaskStore } from '../../src/engine/types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup(retry = { backoffSeconds: 0 }) {
  const repo = Repository.init(join(tempDir('tessera-worker-'), 'repo'));
  const store = await repo.openStore({ retry });
  return { repo, store };
}

function worker(repo: Repository, store: TaskStore, extra: Partial<ConstructorParameters<typeof Worker>[0]> = {}) {
  return new Worker({ store, executor: pipelineExecutor(repo), logsDir: repo.logsDir, leaseSeconds: 5, ...extra });
}

async function waitState(store: TaskStore, queue: string, key: string, state: string, ms = 10000) {
  const t0 = Date.now();
  for (;;) {
    const t = await store.getTask({ queue, key });
    if (t?.state === state) return t;
    if (Date.now() - t0 > ms) assert.fail(`${key}: still ${t?.state}, expected ${state}`);
    await sleep(50);
  }
}

describe('worker', () => {
  it('runs command tasks: exit code, stderr tail, log file, a crashing command fails alone', async () => {
    const { repo, store } = await setup();
    await store.addTasks('q', [
      { key: 'ok', kind: 'cmd', params: { cmd: 'echo out; echo err >&2' } },
      { key: 'segv', kind: 'cmd', params: { cmd: 'echo before crash >&2; kill -SEGV $$' }, maxAttempts: 1 },
      { key: 'bad', kind: 'cmd', params: { cmd: 'echo "NAXIS missing" >&2; exit 3' } },
      { key: 'after-ok', kind: 'cmd', params: { cmd: 'true' }, after: ['ok'] },
    ]);
    const s = await worker(repo, store).run();
    assert.equal(s.reason, 'idle');
    assert.equal(s.succeeded, 2);
    assert.equal(s.failed, 2);
    const segv = (await store.getTask({ queue: 'q', key: 'segv' }))!;
    assert.equal(segv.state, 'FAILED');
    assert.equal(segv.signal, 'SIGSEGV');
    assert.equal(segv.exitCode, 139);
    assert.match(segv.error!, /killed by SIGSEGV: before crash/);
    const bad = (await store.getTask({ queue: 'q', key: 'bad' }))!;
    assert.equal(bad.attempts, 1, 'bad data is not retried');
    assert.match(bad.error!, /exit code 3 \(bad data, not retried\): NAXIS missing/);
    const ok = (await store.getTask({ queue: 'q', key: 'ok' }))!;
    assert.ok(ok.peakRssMb === null || ok.peakRssMb > 0);
    assert.deepEqual(ok.result, { software: TESSERA_VERSION, configHash: configHash({ cmd: 'echo out; echo err >&2' }) });
    const log = readFileSync(join(repo.logsDir, 'q', 'ok.log'), 'utf8');
    assert.match(log, /task \d+ ok attempt 1/);
    assert.match(log, /^out$/m);
    assert.match(log, /^err$/m);
    assert.match(log, /exit code 0/);
    await store.close();
  });

  it('batch claims short tasks; max-tasks and walltime limits; expected time beyond walltime is skipped', async () => {
    const { repo, store } = await setup();
    await store.addTasks('q', Array.from({ length: 300 }, (_, i) => ({ key: `n${i}`, kind: 'noop' })));
    await store.addTasks('long', [{ key: 'huge', kind: 'noop', expectedSeconds: 7200 }, { key: 'small', kind: 'noop', expectedSeconds: 1 }]);
    const s1 = await worker(repo, store, { queue: 'q', maxTasks: 50 }).run();
    assert.equal(s1.reason, 'max-tasks');
    assert.equal(s1.succeeded, 50);
    const s2 = await worker(repo, store, { queue: 'q' }).run();
    assert.equal(s2.succeeded, 250);
    const s3 = await worker(repo, store, { queue: 'long', walltimeSeconds: 600 }).run();
    assert.equal(s3.succeeded, 1);
    assert.equal((await store.getTask({ queue: 'long', key: 'huge' }))!.state, 'PENDING', 'a task expected to outlast the walltime is left for another worker');
    const zero = await worker(repo, store, { queue: 'long', walltimeSeconds: 0 }).run();
    assert.equal(zero.reason, 'walltime');
    await store.close();
  });

  it('a worker whose lease is taken away (task cancelled) kills the command and moves on', async () => {
    const { repo, store } = await setup();
    const marker = join(repo.root, 'still-running');
    await store.addTasks('q', [{ key: 'slow', kind: 'cmd', params: { cmd: `sleep 20; touch ${marker}` } }, { key: 'next', kind: 'cmd', params: { cmd: 'true' }, priority: -1 }]);
    const w = worker(repo, store, { leaseSeconds: 0.4 });
    const run = w.run();
    await waitState(store, 'q', 'slow', 'RUNNING');
    const t0 = Date.now();
    await store.cancel({ queue: 'q', ids: [(await store.getTask({ queue: 'q', key: 'slow' }))!.id], running: true });
    const s = await run;
    assert.ok(Date.now() - t0 < 5000, 'the command was stopped, not waited for');
    assert.equal(s.succeeded, 1);
    assert.equal((await store.getTask({ queue: 'q', key: 'slow' }))!.state, 'CANCELLED');
    await sleep(200);
    assert.ok(!existsSync(marker));
    await store.close();
  });

  it('in-process kinds: outputs written atomically, provenance recorded, skipped when outputs exist', async () => {
    const { repo, store } = await setup();
    let runs = 0;
    registerKind({
      kind: 'test-square',
      version: '2',
      outputs: (p: { n: number }) => [`out/sq-${p.n}.txt`],
      inputs: (p: { n: number }) => [`in/${p.n}`],
      run: async (p: { n: number }, ctx) => {
        runs++;
        if (p.n < 0) throw new TesseraError(`n=${p.n}: negative input`);
        ctx.log(`squaring ${p.n}`);
        ctx.writeOutput(`out/sq-${p.n}.txt`, `${p.n * p.n}\n`);
      },
    });
    await store.addTasks('q', [{ key: 'a', kind: 'test-square', params: { n: 3 } }, { key: 'neg', kind: 'test-square', params: { n: -1 } }, { key: 'nokind', kind: 'not-registered' }]);
    await worker(repo, store).run();
    const a = (await store.getTask({ queue: 'q', key: 'a' }))!;
    assert.equal(a.state, 'SUCCEEDED');
    assert.equal(readFileSync(join(repo.root, 'out/sq-3.txt'), 'utf8'), '9\n');
    const prov = a.result as { software: string; configHash: string; inputs: string[]; kindVersion: string; outputs: string[] };
    assert.equal(prov.configHash, configHash({ n: 3 }));
    assert.equal(prov.kindVersion, '2');
    assert.deepEqual(prov.inputs, ['in/3']);
    assert.deepEqual(prov.outputs, [join(repo.root, 'out/sq-3.txt')]);
    assert.match(readFileSync(join(repo.logsDir, 'q', 'a.log'), 'utf8'), /squaring 3/);
    const neg = (await store.getTask({ queue: 'q', key: 'neg' }))!;
    assert.equal(neg.state, 'FAILED');
    assert.equal(neg.exitCode, 3);
    assert.match(neg.error!, /negative input/);
    const nk = (await store.getTask({ queue: 'q', key: 'nokind' }))!;
    assert.match(nk.error!, /no task kind 'not-registered' registered/);
    // A second task with the same outputs is skipped, not rerun.
    const before = runs;
    await store.addTasks('q', [{ key: 'a-again', kind: 'test-square', params: { n: 3 } }]);
    await worker(repo, store).run();
    assert.equal(runs, before);
    assert.deepEqual(((await store.getTask({ queue: 'q', key: 'a-again' }))!.result as { skipped: boolean }).skipped, true);
    await store.close();
  });

  it('a full disk during an output write: old output intact, task fails clearly, retry later works', async () => {
    const { repo, store } = await setup();
    const dir = join(repo.root, 'small');
    mkdirSync(dir);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]).status === 0;
    let injectFull = !mounted;
    try {
      const out = join(dir, 'image.dat');
      writeFileSync(out, 'old complete output\n');
      registerKind({
        kind: 'test-big-write',
        outputs: () => [], // always runs (it rewrites an existing output)
        run: async (_p, ctx) => {
          const chunk = new Uint8Array(32 * 1024).fill(65);
          // Without a tmpfs (no mount permission) the disk-full error is injected in the
          // atomic writer's chunk loop instead: the same code path sees the same errno.
          const chunks: Iterable<Uint8Array> = injectFull
            ? (function* () {
                yield chunk;
                throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC', syscall: 'write' });
              })()
            : [chunk, chunk, chunk, chunk];
          ctx.writeOutput(out, chunks as unknown as Uint8Array[]);
        },
      });
      await store.addTasks('q', [{ key: 'big', kind: 'test-big-write', maxAttempts: 1 }]);
      await worker(repo, store).run();
      const t = (await store.getTask({ queue: 'q', key: 'big' }))!;
      assert.equal(t.state, 'FAILED');
      assert.match(t.error!, /ENOSPC/);
      assert.equal(readFileSync(out, 'utf8'), 'old complete output\n', 'the old output is intact');
      assert.deepEqual(readdirSync(dir), ['image.dat'], 'no temporary file left behind');
      // Space is freed; a retry succeeds.
      if (mounted) assert.equal(spawnSync('mount', ['-o', 'remount,size=1m', dir]).status, 0);
      injectFull = false;
      assert.equal(await store.retryTasks({ queue: 'q' }), 1);
      await worker(repo, store).run();
      assert.equal((await store.getTask({ queue: 'q', key: 'big' }))!.state, 'SUCCEEDED');
      assert.equal(readFileSync(out).length, 4 * 32 * 1024);
    } finally {
      if (mounted) spawnSync('umount', [dir]);
      await store.close();
    }
  });

  it('SIGTERM: stops claiming, a task that finishes within the grace period completes, others are released', async () => {
    const { repo, store } = await setup();
    await store.addTasks('q', [
      { key: 'quick', kind: 'cmd', params: { cmd: 'sleep 1' }, priority: 2 },
      { key: 'slow', kind: 'cmd', params: { cmd: 'sleep 30' }, priority: 1 },
      { key: 'later', kind: 'cmd', params: { cmd: 'true' } },
    ]);
    const [node, bin] = tesseraArgv() as [string, string];
    const start = (grace: string) => spawn(node, [bin, 'worker', repo.root, '--queue', 'q', '--slots', '2', '--batch', '2', '--grace', grace], { stdio: ['ignore', 'ignore', 'pipe'] });
    const c = start('3');
    let err = '';
    c.stderr!.on('data', (d) => (err += d));
    await waitState(store, 'q', 'slow', 'RUNNING');
    await sleep(200);
    const t0 = Date.now();
    c.kill('SIGTERM');
    const code = await new Promise((r) => c.on('exit', r));
    assert.equal(code, 0, err);
    assert.ok(Date.now() - t0 < 8000);
    assert.match(err, /received SIGTERM/);
    assert.equal((await store.getTask({ queue: 'q', key: 'quick' }))!.state, 'SUCCEEDED');
    const slow = (await store.getTask({ queue: 'q', key: 'slow' }))!;
    assert.equal(slow.state, 'PENDING', 'released for another worker');
    assert.equal(slow.attempts, 0, 'a released attempt does not count');
    assert.equal((await store.getTask({ queue: 'q', key: 'later' }))!.state, 'PENDING', 'no new claims after the signal');
    await store.close();
  });

  it('SIGKILL: the running command (and its children) dies with its worker, it does not go on orphaned', async () => {
    const { repo, store } = await setup();
    const pids = join(repo.root, 'pids');
    const marker = join(repo.root, 'orphan-finished');
    // A shell with a background child and a foreground child: the whole process group must go.
    await store.addTasks('q', [{ key: 'slow', kind: 'cmd', params: { cmd: `sleep 30 & echo $$ $! > ${pids}; sleep 30; touch ${marker}` } }]);
    const [node, bin] = tesseraArgv() as [string, string];
    const c = spawn(node, [bin, 'worker', repo.root, '--queue', 'q', '--quiet'], { stdio: 'ignore' });
    await waitState(store, 'q', 'slow', 'RUNNING');
    for (let i = 0; i < 100 && !existsSync(pids); i++) await sleep(50);
    const ids = readFileSync(pids, 'utf8').trim().split(/\s+/).map(Number);
    assert.equal(ids.length, 2);
    // Alive (not a zombie) = /proc/<pid>/stat exists with a state other than Z.
    const alive = (pid: number) => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    assert.ok(ids.every(alive), 'the command runs');
    c.kill('SIGKILL');
    await new Promise((r) => c.on('exit', r));
    const t0 = Date.now();
    while (ids.some(alive) && Date.now() - t0 < 5000) await sleep(50);
    assert.deepEqual(ids.filter(alive), [], 'command processes still alive 5 s after their worker was SIGKILLed');
    assert.ok(!existsSync(marker));
    await store.close();
  });

  it('runCommand skips a task whose outputs all exist', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'o'), 'x');
    const r = await runCommand({ cmd: 'exit 1', outputs: ['o'], cwd: dir }, { logPath: join(dir, 'log') });
    assert.equal(r.ok, true);
    assert.deepEqual(r.result, { skipped: true, outputs: ['o'] });
  });
});
