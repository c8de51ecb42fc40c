import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir } from '../helpers.js';
import { Repository } from '../../src/pipeline/repo.js';
import { datasetPath, DATASETS } from '../../src/pipeline/layout.js';
import { parseQueueFile, tesseraArgv } from '../../src/pipeline/campaign.js';
import { spawnSync } from 'node:child_process';

const newRepo = async () => {
  const root = join(tempDir('tessera-cli-'), 'repo');
  const r = await cli(['init', root]);
  assert.equal(r.code, 0, r.stderr);
  return root;
};

describe('repository and layout', () => {
  it('init creates a repository once; open refuses non-repositories and newer formats', async () => {
    const root = await newRepo();
    assert.ok(existsSync(join(root, 'tessera-repo.json')));
    assert.ok(existsSync(join(root, 'registry.sqlite3')));
    const again = await cli(['init', root]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already a Tessera repository/);
    const none = await cli(['queue', 'status', tempDir()]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /not a Tessera repository \(no tessera-repo\.json; create one with tessera init\)/);
    const cfg = JSON.parse(readFileSync(join(root, 'tessera-repo.json'), 'utf8'));
    writeFileSync(join(root, 'tessera-repo.json'), JSON.stringify({ ...cfg, version: 7 }));
    assert.throws(() => Repository.open(root), /repository format 7 is newer than this Tessera supports/);
  });

  it('init --db with an unreachable PostgreSQL fails quickly and clearly', async () => {
    const root = join(tempDir(), 'r');
    process.env.TESSERA_DB_CONNECT_TIMEOUT_MS = '1500';
    const t0 = Date.now();
    const r = await cli(['init', root, '--db', 'postgres://u:secret@127.0.0.1:1/db']);
    delete process.env.TESSERA_DB_CONNECT_TIMEOUT_MS;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tessera init: cannot connect to PostgreSQL at postgres:\/\/u@127\.0\.0\.1:1\/db: ECONNREFUSED/);
    assert.ok(!r.stderr.includes('secret'));
    assert.ok(Date.now() - t0 < 3000);
    assert.ok(!existsSync(root), 'a failed init leaves nothing behind (init can be rerun with a corrected URL)');
    const full = tempDir();
    writeFileSync(join(full, 'keep.txt'), 'x');
    process.env.TESSERA_DB_CONNECT_TIMEOUT_MS = '1500';
    const r2 = await cli(['init', full, '--db', 'postgres://u@127.0.0.1:1/db']);
    delete process.env.TESSERA_DB_CONNECT_TIMEOUT_MS;
    assert.equal(r2.code, 1);
    assert.ok(existsSync(join(full, 'keep.txt')) && !existsSync(join(full, 'tessera-repo.json')) && !existsSync(join(full, 'logs')), 'only what init made is removed');
    const bad = await cli(['init', join(tempDir(), 'r2'), '--db', 'mysql://x']);
    assert.match(bad.stderr, /expected a postgres:\/\/user@host\/db URL/);
  });

  it('datasetPath fills the templates', () => {
    assert.equal(datasetPath('/r', 'calexp', { band: 'r', expnum: 668439, ccd: 5 }), '/r/calexp/r/668439/calexp-668439-05.fits.fz');
    assert.equal(datasetPath('/r', 'coadd', { brick: '1126p222', band: 'g' }), '/r/coadd/112/1126p222/coadd-1126p222-g.fits.fz');
    assert.equal(datasetPath('/r', 'logs', { queue: 'q', key: 'calibrate/expnum=1/ccd=2' }), '/r/logs/q/calibrate/expnum=1/ccd=2.log');
    assert.throws(() => datasetPath('/r', 'diff', { band: 'r', expnum: 1 }), /data ID lacks 'ccd' \(needs band, expnum, ccd\)/);
    assert.throws(() => datasetPath('/r', 'src', { band: '../x', expnum: 1, ccd: 1 }), /cannot be part of a path/);
    for (const d of ['raw', 'calexp', 'src', 'diff', 'diaSrc', 'diaObject', 'forced', 'coadd', 'catalogs', 'logs']) assert.ok(d in DATASETS);
  });
});

describe('queue commands', () => {
  it('load (plain, --script, JSON lines with dependencies), status, tasks, run, log, retry', async () => {
    const root = await newRepo();
    const f = join(tempDir(), 'tasks.txt');
    writeFileSync(f, '# comment\necho one\n\necho two\nexit 3\n');
    let r = await cli(['queue', 'load', root, 'plain', f]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /queue plain: added 3 task\(s\)/);
    r = await cli(['queue', 'load', root, 'plain', f]);
    assert.match(r.stdout, /added 0 task\(s\), skipped 3 already present/);
    const script = join(tempDir(), 'work.sh');
    writeFileSync(script, '#!/bin/sh\necho "args: $*" > "$TESSERA_REPO/out-$1.txt"\n', { mode: 0o755 });
    r = await cli(['queue', 'load', root, 'scripted', '-', '--script', script], 'a 1\nb 2\n');
    assert.equal(r.code, 0, r.stderr);
    const json = [
      { key: 'x', cmd: 'echo x', priority: 1 },
      { key: 'y', cmd: 'echo y' },
      { key: 'z', cmd: 'echo z', after: ['x', 'y'] },
    ].map((o) => JSON.stringify(o)).join('\n');
    r = await cli(['queue', 'load', root, 'dag', '-'], json);
    assert.match(r.stdout, /added 3 task\(s\) \(1 waiting for dependencies\)/);
    r = await cli(['queue', 'load', root, 'dag', '-'], '{"key": "w", "cmd": "true", "after": ["nope"]}');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /task 'w': dependency 'nope' is not a task of queue 'dag'/);
    r = await cli(['queue', 'load', root, 'dag', '-'], '{"key": "w", "cmd": 5}');
    assert.match(r.stderr, /<stdin>:1: "cmd" \(a shell command string\) is required/);

    r = await cli(['queue', 'status', root]);
    assert.match(r.stdout, /queue dag: 3 task\(s\)\n.*\n  cmd\s+1\s+2\s+0\s+0\s+0\s+0\n/);
    r = await cli(['queue', 'list', root]);
    assert.deepEqual(r.stdout.split('\n').filter(Boolean).map((l) => l.split(' ')[0]), ['dag', 'plain', 'scripted']);

    r = await cli(['run', root, '--workers', '2', '--quiet']);
    assert.equal(r.code, 1, 'a task failed');
    assert.match(r.stderr, /1 task\(s\) FAILED/);
    assert.equal(readFileSync(join(root, 'out-a.txt'), 'utf8'), 'args: a 1\n');
    r = await cli(['queue', 'tasks', root, 'plain', '--state', 'failed']);
    assert.match(r.stdout, /FAILED\s+cmd\s+exit 3 .*exit code 3 \(bad data, not retried\)/);
    r = await cli(['queue', 'tasks', root, 'plain', '--state', 'bogus']);
    assert.match(r.stderr, /unknown task state 'bogus'/);
    r = await cli(['queue', 'log', root, 'echo two']);
    assert.match(r.stdout, /SUCCEEDED/);
    assert.match(r.stdout, /^two$/m);
    r = await cli(['queue', 'log', root, 'no-such-task']);
    assert.match(r.stderr, /no task 'no-such-task'/);
    r = await cli(['queue', 'retry', root, 'plain']);
    assert.match(r.stdout, /1 task\(s\) requeued/);
    r = await cli(['queue', 'status', root, 'plain', '--json']);
    const st = JSON.parse(r.stdout) as { counts: { state: string; n: number }[] };
    assert.deepEqual(st.counts.map((c) => `${c.state}=${c.n}`).sort(), ['PENDING=1', 'SUCCEEDED=2']);
  });

  it('pause, resume, cancel, delete, recover', async () => {
    const root = await newRepo();
    const lines = [
      { key: 'cal1', kind: 'noop' },
      { key: 'cal2', kind: 'noop' },
      { key: 'diff1', kind: 'noop', after: ['cal1'] },
      { key: 'assoc', kind: 'noop', after: ['diff1', 'cal2'] },
    ].map((o) => JSON.stringify(o)).join('\n');
    let r = await cli(['queue', 'load', root, 'c', '-'], lines);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(['queue', 'pause', root, 'c']);
    assert.match(r.stdout, /queue c paused/);
    r = await cli(['queue', 'status', root, 'c']);
    assert.match(r.stdout, /queue c \(PAUSED\)/);
    r = await cli(['run', root, '--workers', '1', '--quiet']);
    assert.equal(r.code, 0);
    r = await cli(['queue', 'tasks', root, 'c', '--state', 'succeeded']);
    assert.equal(r.stdout, '', 'a paused queue is not run');
    r = await cli(['queue', 'resume', root, 'c']);
    r = await cli(['queue', 'cancel', root, 'c', '--task', '4']);
    assert.match(r.stdout, /1 task\(s\) cancelled/);
    r = await cli(['run', root, '--workers', '1', '--quiet']);
    r = await cli(['queue', 'status', root, 'c', '--json']);
    assert.deepEqual((JSON.parse(r.stdout) as { counts: { state: string; n: number }[] }).counts.map((c) => `${c.state}=${c.n}`).sort(), ['CANCELLED=1', 'SUCCEEDED=3']);
    r = await cli(['queue', 'recover', root]);
    assert.match(r.stdout, /0 task\(s\) recovered/);
    r = await cli(['queue', 'delete', root, 'c']);
    assert.match(r.stdout, /queue c deleted \(4 task\(s\)\)/);
    r = await cli(['queue', 'pause', root, 'c']);
    assert.match(r.stderr, /no queue 'c'/);
  });

  it('--until selects a kind and the kinds it depends on', async () => {
    const root = await newRepo();
    const tasks = [
      { key: 'cal1', cmd: 'true' },
      { key: 'diff1', cmd: 'true', after: ['cal1'] },
      { key: 'assoc', cmd: 'true', after: ['diff1'] },
    ];
    const repo = Repository.open(root);
    const store = await repo.openStore();
    await store.addTasks('c', tasks.map((t) => ({ key: t.key, kind: t.key.replace(/\d+$/, ''), after: t.after })));
    await store.close();
    const { kindsUntil } = await import('../../src/pipeline/campaign.js');
    const s2 = await repo.openStore();
    assert.deepEqual(await kindsUntil(s2, 'diff', 'c'), ['cal', 'diff']);
    await assert.rejects(kindsUntil(s2, 'nope', 'c'), /no tasks of kind 'nope' in queue 'c' \(kinds: assoc, cal, diff\)/);
    await s2.close();
  });

  it('tessera worker runs command tasks and loads the transient stage kinds when a task of theirs arrives', async () => {
    const root = await newRepo();
    const lines = [
      JSON.stringify({ key: 'c', cmd: 'true' }),
      JSON.stringify({ key: 'cal', kind: 'calibrate', params: { expnum: 1, ccd: 1, ccdName: 'C1', band: 'r', image: '/nonexistent/x.fits.fz', refcat: '/nonexistent/refcat', hdu: 1 } }),
    ];
    assert.equal((await cli(['queue', 'load', root, 'q', '-'], lines.join('\n'))).code, 0);
    // A separate process, so that the stages are not already loaded by this test process.
    const [node, bin] = tesseraArgv() as [string, string];
    const w = spawnSync(node, [bin, 'worker', root, '--queue', 'q', '--quiet'], { encoding: 'utf8' });
    assert.equal(w.status, 0, w.stderr);
    const store = await Repository.open(root).openStore();
    assert.equal((await store.getTask({ queue: 'q', key: 'c' }))!.state, 'SUCCEEDED');
    const cal = (await store.getTask({ queue: 'q', key: 'cal' }))!;
    await store.close();
    // The calibrate stage ran (and found its input missing): the kind was known to the worker.
    assert.equal(cal.state, 'FAILED');
    assert.doesNotMatch(cal.error!, /no task kind/);
    assert.match(cal.error!, /exit code 3 \(bad data, not retried\): calibrate 1\/C1: .*\/nonexistent\/x\.fits\.fz: cannot open/);
  });

  it('parseQueueFile names the line of bad JSON', () => {
    assert.throws(() => parseQueueFile('echo ok\n{"key": }', { source: 'f.txt' }), /f\.txt:2: invalid JSON/);
    assert.throws(() => parseQueueFile('{"key":"a","cmd":"x","after":"b"}', { source: 'f' }), /f:1: "after" must be a list of task keys/);
    assert.throws(() => parseQueueFile('echo a\n\necho b\necho a', { source: 'f.txt' }), /^TesseraError: f\.txt:4: task key 'echo a' already given on line 1/);
    assert.throws(() => parseQueueFile('{"key":"k","cmd":"x"}\n{"key":"k","cmd":"y"}', { source: 'j' }), /j:2: task key 'k' already given on line 1/);
    const t = parseQueueFile('{"key":"k","kind":"calibrate","params":{"expnum":1}}', { source: 'f' });
    assert.deepEqual(t[0], { key: 'k', kind: 'calibrate', params: { expnum: 1 }, after: undefined, priority: undefined, expectedSeconds: undefined, maxAttempts: undefined });
  });
});

describe('launch', () => {
  it('--dry-run prints a pilot sbatch script (one job of N tasks, or an array)', async () => {
    const root = await newRepo();
    let r = await cli(['launch', root, '--batch', 'slurm', '--workers', '8', '--cores-per-worker', '4', '--walltime', '02:00:00', '--partition', 'regular', '--batch-options', '-C haswell', '--queue', 'q', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    const s = r.stdout;
    assert.match(s, /^#!\/bin\/bash\n/);
    assert.match(s, /#SBATCH --time=02:00:00/);
    assert.match(s, /#SBATCH --ntasks=8\n#SBATCH --cpus-per-task=4/);
    assert.match(s, /#SBATCH --partition=regular/);
    assert.match(s, /#SBATCH -C haswell/);
    assert.match(s, /#SBATCH --signal=B:USR1@120/);
    assert.match(s, /srun --ntasks=8 --cpus-per-task=4 .* worker .*repo --lease 60 --queue q --walltime 7080 &/);
    assert.doesNotMatch(s, /--array/);
    r = await cli(['launch', root, '--workers', '3', '--walltime', '00:10:00', '--array', '--dry-run']);
    assert.match(r.stdout, /#SBATCH --array=0-2\n#SBATCH --ntasks=1/);
    assert.match(r.stdout, /#SBATCH --signal=B:USR1@120/);
    r = await cli(['launch', root, '--workers', '3', '--dry-run']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--walltime HH:MM:SS is required/);
    r = await cli(['launch', root, '--workers', '2', '--walltime', '1:2:3:4', '--dry-run']);
    assert.match(r.stderr, /expected HH:MM:SS/);
    r = await cli(['launch', root, '--workers', '2', '--walltime', '00:00:00', '--dry-run']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--walltime: expected a positive duration, got '00:00:00'/);
    r = await cli(['launch', root, '--batch', 'pbs', '--workers', '2', '--walltime', '10']);
    assert.match(r.stderr, /expected slurm or local/);
  });

  it('--batch local starts detached workers that drain the queue', async () => {
    const root = await newRepo();
    const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ key: `t${i}`, cmd: `echo ${i} > ${root}/o${i}` })).join('\n');
    assert.equal((await cli(['queue', 'load', root, 'q', '-'], lines)).code, 0);
    const r = await cli(['launch', root, '--batch', 'local', '--workers', '2', '--walltime', '120']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /started 2 background worker\(s\): pid \d+ \d+/);
    const pids = /pid (\d+) (\d+)/.exec(r.stdout)!.slice(1).map(Number);
    const t0 = Date.now();
    for (;;) {
      const st = await cli(['queue', 'status', root, 'q', '--json']);
      const c = (JSON.parse(st.stdout) as { counts: { state: string; n: number }[] }).counts;
      if (c.length === 1 && c[0]!.state === 'SUCCEEDED' && c[0]!.n === 10) break;
      assert.ok(Date.now() - t0 < 30000, `not done: ${st.stdout}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    // The workers exit by themselves once the queue is empty.
    for (const pid of pids) {
      for (let i = 0; i < 100; i++) {
        try { process.kill(pid, 0); } catch { break; }
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.throws(() => process.kill(pid, 0));
    }
  });
});
