/**
 * Conformance suite of the task store, run against every backend: SQLite always, PostgreSQL when
 * TESSERA_TEST_PG names a server (.ci/run starts one and sets it).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from './backends.js';
import { TesseraError } from '../../src/util/errors.js';
import type { NewTask, TaskStore } from '../../src/engine/types.js';
import { openStore } from '../../src/engine/store/index.js';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const W = { worker: 'w1', host: 'h', leaseSeconds: 60 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stateOf(s: TaskStore, queue: string, key: string) {
  return (await s.getTask({ queue, key }))!.state;
}

/** counts() must equal a direct GROUP BY over the tasks table. */
async function assertCountsConsistent(s: TaskStore) {
  const direct = await s.sql<{ queue: string; kind: string; state: string; n: unknown }>(
    'SELECT queue, kind, state, COUNT(*) AS n FROM tasks GROUP BY queue, kind, state ORDER BY queue, kind, state',
  );
  const counts = await s.counts();
  assert.deepEqual(
    counts.map((c) => `${c.queue}/${c.kind}/${c.state}=${c.n}`),
    direct.map((c) => `${c.queue}/${c.kind}/${c.state}=${Number(c.n)}`),
  );
}

for (const b of backends()) {
  describe(`task store: ${b.name}`, { skip: b.skip }, () => {
    after(() => b.cleanup());
    const fresh = async (retry = { backoffSeconds: 0 }) => b.open(b.freshUrl(), retry);

    it('claims by priority then id, in batches, never twice', async () => {
      const s = await fresh();
      const tasks: NewTask[] = [];
      for (let i = 0; i < 20; i++) tasks.push({ key: `t${i}`, kind: i % 2 ? 'odd' : 'even', params: { i }, priority: i === 7 ? 5 : 0 });
      assert.deepEqual(await s.addTasks('q', tasks), { added: 20, waiting: 0 });
      const a = await s.claim({ ...W, limit: 3 });
      assert.deepEqual(a.map((t) => t.key), ['t7', 't0', 't1']);
      assert.deepEqual(a[0]!.params, { i: 7 });
      assert.equal(a[0]!.attempts, 1);
      const b2 = await s.claim({ ...W, worker: 'w2', limit: 100 });
      assert.equal(b2.length, 17);
      const all = new Set([...a, ...b2].map((t) => t.id));
      assert.equal(all.size, 20);
      assert.deepEqual(await s.claim({ ...W }), []);
      const t = await s.getTask({ queue: 'q', key: 't7' });
      assert.equal(t!.state, 'RUNNING');
      assert.equal(t!.worker, 'w1');
      assert.ok(t!.leaseExpires! > Date.now() / 1000 + 50);
      await assertCountsConsistent(s);
      await s.close();
    });

    it('dependencies: WAITING until all deps SUCCEED (fan-in), deps on existing tasks', async () => {
      const s = await fresh();
      await s.addTasks('q', [
        { key: 'a', kind: 'k' },
        { key: 'b', kind: 'k' },
        { key: 'join', kind: 'j', after: ['a', 'b', 'a'] },
      ]);
      assert.equal(await stateOf(s, 'q', 'join'), 'WAITING');
      assert.equal((await s.getTask({ queue: 'q', key: 'join' }))!.unmet, 2);
      const [ta, tb] = await s.claim({ ...W, limit: 10 });
      assert.deepEqual(await s.finish([{ id: ta!.id, leaseId: ta!.leaseId, outcome: { ok: true } }]), ['SUCCEEDED']);
      assert.equal(await stateOf(s, 'q', 'join'), 'WAITING');
      await s.finish([{ id: tb!.id, leaseId: tb!.leaseId, outcome: { ok: true, seconds: 0.5, result: { out: 'x' } } }]);
      assert.equal(await stateOf(s, 'q', 'join'), 'PENDING');
      assert.deepEqual((await s.getTask({ queue: 'q', key: 'b' }))!.result, { out: 'x' });
      // A later batch may depend on existing tasks: a SUCCEEDED dep counts as met.
      await s.addTasks('q', [{ key: 'late', kind: 'k', after: ['a'] }, { key: 'late2', kind: 'k', after: ['join'] }]);
      assert.equal(await stateOf(s, 'q', 'late'), 'PENDING');
      assert.equal(await stateOf(s, 'q', 'late2'), 'WAITING');
      const deps = await s.dependencies([(await s.getTask({ queue: 'q', key: 'join' }))!.id]);
      assert.deepEqual(deps.map((d) => d.depId).sort(), [ta!.id, tb!.id].sort());
      assert.deepEqual((await s.kindEdges('q')).map((e) => `${e.kind}<-${e.dependsOn}`).sort(), ['j<-k', 'k<-j', 'k<-k'].sort());
      await assertCountsConsistent(s);
      await s.close();
    });

    it('large fan-in with repeated dependencies counts each dependency once', async () => {
      const s = await fresh();
      const parts = Array.from({ length: 40 }, (_, i) => ({ key: `d${i}`, kind: 'diff' }));
      await s.addTasks('q', parts);
      const after = [...parts.map((p) => p.key), ...parts.slice(0, 10).map((p) => p.key)];
      await s.addTasks('q', [{ key: 'assoc', kind: 'assoc', after }, { key: 'assoc2', kind: 'assoc', after: ['assoc', 'd0', 'assoc'] }]);
      assert.equal((await s.getTask({ queue: 'q', key: 'assoc' }))!.unmet, 40);
      assert.equal((await s.getTask({ queue: 'q', key: 'assoc2' }))!.unmet, 2);
      const got = await s.claim({ ...W, limit: 100 });
      assert.equal(got.length, 40);
      await s.finish(got.slice(0, 39).map((t) => ({ id: t.id, leaseId: t.leaseId, outcome: { ok: true } })));
      assert.equal(await stateOf(s, 'q', 'assoc'), 'WAITING');
      await s.finish(got.slice(39).map((t) => ({ id: t.id, leaseId: t.leaseId, outcome: { ok: true } })));
      assert.equal(await stateOf(s, 'q', 'assoc'), 'PENDING');
      assert.equal((await s.getTask({ queue: 'q', key: 'assoc2' }))!.unmet, 1);
      await assertCountsConsistent(s);
      await s.close();
    });

    it('rejects unknown dependencies, cycles and duplicate keys with clear errors', async () => {
      const s = await fresh();
      await assert.rejects(s.addTasks('q', [{ key: 'x', kind: 'k', after: ['nope'] }]), (e: Error) => e instanceof TesseraError && /dependency 'nope'/.test(e.message));
      await assert.rejects(
        s.addTasks('q', [{ key: 'x', kind: 'k', after: ['y'] }, { key: 'y', kind: 'k', after: ['x'] }]),
        (e: Error) => e instanceof TesseraError && /cycle/.test(e.message),
      );
      await assert.rejects(s.addTasks('q', [{ key: 'x', kind: 'k' }, { key: 'x', kind: 'k' }]), /appears twice/);
      await s.addTasks('q', [{ key: 'x', kind: 'k' }]);
      await assert.rejects(s.addTasks('q', [{ key: 'x', kind: 'k' }]), (e: Error) => e instanceof TesseraError && /already has task 'x'/.test(e.message));
      assert.deepEqual([...(await s.existingKeys('q', ['x', 'z']))], ['x']);
      // Nothing of the failed batches was kept.
      assert.equal((await s.tasks({ queue: 'q' })).length, 1);
      await assertCountsConsistent(s);
      await s.close();
    });

    it('leases: recover() requeues only expired leases; late workers are fenced out', async () => {
      const s = await fresh();
      await s.addTasks('q', [{ key: 'a', kind: 'k', maxAttempts: 5 }, { key: 'b', kind: 'k', maxAttempts: 5 }]);
      const [old] = await s.claim({ ...W, limit: 1, leaseSeconds: 0.3 });
      const [live] = await s.claim({ ...W, worker: 'w2', limit: 1, leaseSeconds: 60 });
      assert.equal(await s.recover(), 0);
      await sleep(400);
      assert.equal(await s.recover(), 1, 'only the expired lease is recovered');
      assert.equal(await stateOf(s, 'q', live!.key), 'RUNNING');
      const t = await s.getTask({ id: old!.id });
      assert.equal(t!.state, 'PENDING');
      assert.match(t!.error!, /lease expired: worker w1 on h lost/);
      const [again] = await s.claim({ ...W, worker: 'w3', limit: 1 });
      assert.equal(again!.id, old!.id);
      assert.equal(again!.attempts, 2);
      assert.ok(again!.leaseId > old!.leaseId);
      // The first worker wakes up: its heartbeat, completion, failure and release are all refused.
      assert.deepEqual(await s.heartbeat([{ id: old!.id, leaseId: old!.leaseId }], 60), [old!.id]);
      assert.deepEqual(await s.finish([{ id: old!.id, leaseId: old!.leaseId, outcome: { ok: true } }]), ['FENCED']);
      assert.deepEqual(await s.finish([{ id: old!.id, leaseId: old!.leaseId, outcome: { ok: false, exitCode: 1 } }]), ['FENCED']);
      assert.equal(await s.release([{ id: old!.id, leaseId: old!.leaseId }]), 0);
      assert.deepEqual(await s.heartbeat([{ id: again!.id, leaseId: again!.leaseId }], 60), []);
      assert.deepEqual(await s.finish([{ id: again!.id, leaseId: again!.leaseId, outcome: { ok: true } }]), ['SUCCEEDED']);
      assert.equal((await s.getTask({ id: old!.id }))!.worker, 'w3');
      await assertCountsConsistent(s);
      await s.close();
    });

    it('a lost worker on its last attempt fails the task', async () => {
      const s = await fresh();
      await s.addTasks('q', [{ key: 'a', kind: 'k', maxAttempts: 1 }]);
      await s.claim({ ...W, leaseSeconds: 0.1 });
      await sleep(200);
      assert.equal(await s.recover(), 1);
      const t = await s.getTask({ queue: 'q', key: 'a' });
      assert.equal(t!.state, 'FAILED');
      await s.close();
    });

    it('retry policy: bad data (exit 3) fails at once; signals and other codes retry with backoff', async () => {
      const s = await b.open(b.freshUrl(), { backoffSeconds: 0.3, maxBackoffSeconds: 10 });
      await s.addTasks('q', [
        { key: 'bad', kind: 'k', maxAttempts: 3 },
        { key: 'oom', kind: 'k', maxAttempts: 2 },
      ]);
      const got = await s.claim({ ...W, limit: 2 });
      const bad = got.find((t) => t.key === 'bad')!;
      const oom = got.find((t) => t.key === 'oom')!;
      assert.deepEqual(
        await s.finish([
          { id: bad.id, leaseId: bad.leaseId, outcome: { ok: false, exitCode: 3, error: 'NAXIS2 missing' } },
          { id: oom.id, leaseId: oom.leaseId, outcome: { ok: false, exitCode: 137, signal: 'SIGKILL' } },
        ]),
        ['FAILED', 'RETRY'],
      );
      const tb = await s.getTask({ id: bad.id });
      assert.equal(tb!.exitCode, 3);
      assert.match(tb!.error!, /exit code 3 \(bad data, not retried\): NAXIS2 missing/);
      const to = await s.getTask({ id: oom.id });
      assert.equal(to!.state, 'PENDING');
      assert.equal(to!.signal, 'SIGKILL');
      assert.ok(to!.notBefore > Date.now() / 1000, 'backoff sets a not-before time');
      assert.deepEqual(await s.claim({ ...W }), [], 'not claimable during the backoff');
      await sleep(400);
      const [second] = await s.claim({ ...W });
      assert.equal(second!.id, oom.id);
      assert.deepEqual(await s.finish([{ id: oom.id, leaseId: second!.leaseId, outcome: { ok: false, exitCode: 1 } }]), ['FAILED']);
      // retry: FAILED → PENDING with attempts reset; exit-code filter.
      assert.equal(await s.retryTasks({ queue: 'q', exitCode: 3 }), 1);
      assert.equal(await stateOf(s, 'q', 'bad'), 'PENDING');
      assert.equal((await s.getTask({ id: bad.id }))!.attempts, 0);
      assert.equal(await s.retryTasks({ queue: 'q' }), 1);
      assert.equal((await s.claim({ ...W, limit: 5 })).length, 2);
      await assertCountsConsistent(s);
      await s.close();
    });

    it('release gives tasks back without counting the attempt', async () => {
      const s = await fresh();
      await s.addTasks('q', [{ key: 'a', kind: 'k' }]);
      const [t] = await s.claim({ ...W });
      assert.equal(await s.release([{ id: t!.id, leaseId: t!.leaseId }]), 1);
      const back = await s.getTask({ id: t!.id });
      assert.equal(back!.state, 'PENDING');
      assert.equal(back!.attempts, 0);
      await s.close();
    });

    it('pause/resume, kind filter, walltime filter, queue filter', async () => {
      const s = await fresh();
      await s.addTasks('q1', [{ key: 'long', kind: 'big', expectedSeconds: 3600 }, { key: 'short', kind: 'big', expectedSeconds: 10 }, { key: 'other', kind: 'small' }]);
      await s.addTasks('q2', [{ key: 'x', kind: 'small' }]);
      await s.setPaused('q1', true);
      assert.deepEqual((await s.claim({ ...W, limit: 10 })).map((t) => t.key), ['x']);
      assert.deepEqual(await s.claim({ ...W, queue: 'q1' }), []);
      await s.setPaused('q1', false);
      assert.deepEqual((await s.queues()).map((q) => `${q.name}:${q.paused}`), ['q1:false', 'q2:false']);
      assert.deepEqual((await s.claim({ ...W, queue: 'q1', kinds: ['big'], remainingSeconds: 60, limit: 10 })).map((t) => t.key), ['short']);
      assert.deepEqual((await s.claim({ ...W, queue: 'q1', kinds: ['small'], limit: 10 })).map((t) => t.key), ['other']);
      assert.deepEqual((await s.claim({ ...W, queue: 'q1', limit: 10 })).map((t) => t.key), ['long']);
      await assert.rejects(s.setPaused('nope', true), /no queue 'nope'/);
      await s.close();
    });

    it('cancel, retry of CANCELLED, delete a queue', async () => {
      const s = await fresh();
      await s.addTasks('q', [{ key: 'a', kind: 'k' }, { key: 'b', kind: 'k', after: ['a'] }, { key: 'c', kind: 'k' }]);
      const [run] = await s.claim({ ...W });
      assert.equal(await s.cancel({ queue: 'q' }), 2);
      assert.equal(await stateOf(s, 'q', 'a'), 'RUNNING');
      assert.equal(await s.cancel({ queue: 'q', running: true }), 1);
      assert.deepEqual(await s.finish([{ id: run!.id, leaseId: run!.leaseId, outcome: { ok: true } }]), ['FENCED'], 'a cancelled task stays cancelled');
      assert.equal(await s.retryTasks({ queue: 'q', states: ['CANCELLED'] }), 3);
      assert.equal(await stateOf(s, 'q', 'b'), 'WAITING', 'b still waits for a');
      await assertCountsConsistent(s);
      assert.equal(await s.deleteQueue('q'), 3);
      assert.deepEqual(await s.counts(), []);
      assert.deepEqual(await s.queues(), []);
      await assert.rejects(s.deleteQueue('q'), /no queue 'q'/);
      await s.close();
    });

    it('concurrent claimers in separate processes never claim the same task', async () => {
      const url = b.freshUrl();
      const s0 = await b.open(url);
      const N = 1000;
      await s0.addTasks('q', Array.from({ length: N }, (_, i) => ({ key: `t${i}`, kind: 'k' })));
      const script = fileURLToPath(new URL('./claimer.js', import.meta.url));
      const outs = await Promise.all(
        [1, 2, 3, 4].map(
          (w) =>
            new Promise<number[]>((res, rej) => {
              execFile(process.execPath, [script, url, `w${w}`, String(w * 3)], (err, stdout, stderr) => (err ? rej(new Error(stderr || String(err))) : res(JSON.parse(stdout) as number[])));
            }),
        ),
      );
      const seen = outs.flat();
      assert.equal(seen.length, N);
      assert.equal(new Set(seen).size, N);
      assert.deepEqual((await s0.counts('q')).map((c) => `${c.state}=${c.n}`), [`SUCCEEDED=${N}`]);
      await s0.close();
    });

    it('chains of dependencies release in order; counts stay consistent', async () => {
      const s = await fresh();
      const tasks: NewTask[] = [];
      for (let i = 0; i < 50; i++) tasks.push({ key: `c${i}`, kind: i % 3 ? 'x' : 'y', after: i ? [`c${i - 1}`] : [] });
      assert.deepEqual(await s.addTasks('q', tasks), { added: 50, waiting: 49 });
      const order: string[] = [];
      for (;;) {
        const got = await s.claim({ ...W, limit: 10 });
        if (!got.length) break;
        assert.equal(got.length, 1, 'a chain runs one at a time');
        order.push(got[0]!.key);
        await s.finish([{ id: got[0]!.id, leaseId: got[0]!.leaseId, outcome: { ok: true } }]);
      }
      assert.deepEqual(order, tasks.map((t) => t.key));
      await assertCountsConsistent(s);
      await s.close();
    });

    it('refuses a database written by a newer schema', async () => {
      const url = b.freshUrl();
      const s = await b.open(url);
      await s.sql(`UPDATE tessera_schema SET version = 99 WHERE component = 'engine'`);
      await s.close();
      await assert.rejects(b.open(url), (e: Error) => e instanceof TesseraError && /schema version 99, newer than this Tessera supports \(1\); upgrade Tessera/.test(e.message));
    });
  });
}

describe('task store: opening', () => {
  it('an unreachable PostgreSQL URL fails quickly with a clear message', async () => {
    const t0 = Date.now();
    await assert.rejects(openStore('postgres://nobody:pw@127.0.0.1:1/nodb', { connectTimeoutMs: 2000 }), (e: Error) => {
      return e instanceof TesseraError && /cannot connect to PostgreSQL at postgres:\/\/nobody@127\.0\.0\.1:1\/nodb: ECONNREFUSED/.test(e.message) && !e.message.includes('pw');
    });
    assert.ok(Date.now() - t0 < 3000);
  });

  it('a PostgreSQL server that does not answer times out with a clear message', async () => {
    // A listening socket that never speaks: the connect timeout must fire.
    const net = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const server = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as import('node:net').AddressInfo).port;
    const t0 = Date.now();
    await assert.rejects(openStore(`postgres://u@127.0.0.1:${port}/db`, { connectTimeoutMs: 500 }), /cannot connect to PostgreSQL at .*: no answer within 0.5 s/);
    assert.ok(Date.now() - t0 < 2500);
    for (const s of sockets) s.destroy();
    server.close();
  });

  it('a file that is not a task database is refused', async () => {
    const { tempDir } = await import('../helpers.js');
    const { writeFileSync } = await import('node:fs');
    const f = `${tempDir()}/junk.sqlite3`;
    writeFileSync(f, 'this is not sqlite, just some text that is long enough to look like a header........');
    await assert.rejects(openStore(f), (e: Error) => e instanceof TesseraError && /junk\.sqlite3/.test(e.message));
  });
});
