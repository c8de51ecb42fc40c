/**
 * The progress display of `tessera run`: per kind done/total, running, failed, waiting, rate over
 * the last minute and ETA; redrawn in place on a terminal, plain blocks every N s otherwise.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressDisplay, perKind } from '../../src/engine/progress.js';
import type { CountRow, TaskState } from '../../src/engine/types.js';

const rows = (spec: Record<string, Partial<Record<TaskState, number>>>): CountRow[] =>
  Object.entries(spec).flatMap(([kind, states]) => Object.entries(states).map(([state, n]) => ({ queue: 'q', kind, state: state as TaskState, n: n! })));

class Sink {
  isTTY: boolean;
  text = '';
  constructor(tty: boolean) {
    this.isTTY = tty;
  }
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

async function withClock<T>(fn: (set: (seconds: number) => void) => T): Promise<T> {
  const real = Date.now;
  let t = 1_000_000_000;
  Date.now = () => t;
  try {
    return fn((s) => (t = 1_000_000_000 + s * 1000));
  } finally {
    Date.now = real;
  }
}

it('perKind folds count rows per kind, optionally only some kinds', () => {
  const k = perKind(rows({ b: { WAITING: 5, CANCELLED: 1 }, a: { SUCCEEDED: 3, RUNNING: 1, FAILED: 2, PENDING: 4 } }));
  assert.deepEqual(k, [
    { kind: 'a', total: 10, done: 3, running: 1, failed: 2, waiting: 0, pending: 4, cancelled: 0 },
    { kind: 'b', total: 6, done: 0, running: 0, failed: 0, waiting: 5, pending: 0, cancelled: 1 },
  ]);
  assert.deepEqual(perKind(rows({ a: { PENDING: 1 }, b: { PENDING: 2 } }), ['b']).map((x) => x.kind), ['b']);
});

it('progress: per-kind counts, rate over the window, ETA; plain blocks every 10 s off a terminal', async () => {
  const out = new Sink(false);
  const p = new ProgressDisplay(out as unknown as NodeJS.WritableStream, 10);
  await withClock((at) => {
    at(0);
    p.render(rows({ calibrate: { SUCCEEDED: 10, RUNNING: 2, PENDING: 88 }, diff: { WAITING: 50 } }));
    at(10);
    // 20 more calibrate tasks finished in 10 s (one FAILED): 2.0/s, 69 left → ETA 35 s (rounded).
    const lines = p.render(rows({ calibrate: { SUCCEEDED: 29, FAILED: 1, RUNNING: 2, PENDING: 68 }, diff: { WAITING: 50 } }));
    assert.match(lines[0]!, /30\/150 finished \(20\.0%\)/);
    assert.match(lines[1]!, /^calibrate\s+29\/100\s+running\s+2\s+failed\s+1\s+waiting\s+0\s+2\.0\/s\s+ETA 00:00:35$/);
    assert.match(lines[2]!, /^diff\s+0\/50\s+running\s+0\s+failed\s+0\s+waiting\s+50\s+0\.0\/s\s+ETA --$/);
    at(15);
    p.render(rows({ calibrate: { SUCCEEDED: 40, RUNNING: 2, PENDING: 58 }, diff: { WAITING: 50 } }));
    at(16);
    const fin = p.render(rows({ calibrate: { SUCCEEDED: 100 }, diff: { SUCCEEDED: 49, CANCELLED: 1 } }), undefined, true);
    assert.match(fin[0]!, /149\/149 finished \(100\.0%\)/);
    assert.match(fin[1]!, /done$/);
    assert.match(fin[2]!, /done$/);
  });
  // Off a terminal: the blocks at 0 s and 10 s, not the one at 15 s, and the final one; no escapes.
  assert.equal(out.text.match(/finished \(/g)!.length, 3);
  assert.ok(!out.text.includes('\x1b['));
});

it('progress on a terminal is redrawn in place', async () => {
  const out = new Sink(true);
  const p = new ProgressDisplay(out as unknown as NodeJS.WritableStream, 10);
  await withClock((at) => {
    at(0);
    p.render(rows({ a: { PENDING: 2 } }));
    at(1);
    p.render(rows({ a: { SUCCEEDED: 1, RUNNING: 1 } }));
  });
  assert.equal(out.text.match(/finished \(/g)!.length, 2);
  // The second frame moves the cursor up over the first (2 lines) and clears below.
  assert.ok(out.text.includes('\x1b[2A\x1b[J'));
});
