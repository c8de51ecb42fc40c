import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AtomicFile, writeAtomicStream, writeFileAtomic } from '../../src/util/atomic.js';
import { parseCommandArgs, type CommandSpec } from '../../src/cli/args.js';
import { tempDir } from '../helpers.js';

test('writeFileAtomic writes whole files and leaves no temporaries', () => {
  const dir = tempDir();
  const p = join(dir, 'sub', 'a.bin');
  writeFileAtomic(p, [new Uint8Array([1, 2]), new Uint8Array([3])]);
  assert.deepEqual([...readFileSync(p)], [1, 2, 3]);
  writeFileAtomic(p, 'replaced');
  assert.equal(readFileSync(p, 'utf8'), 'replaced');
  assert.deepEqual(readdirSync(join(dir, 'sub')), ['a.bin']);
});

test('argument parser keeps negative numbers as positionals', () => {
  const spec: CommandSpec = {
    name: 't', summary: '', usage: '', run: () => 0,
    options: [{ name: 'q', short: 'q', type: 'string', description: '' }, { name: 'all', type: 'boolean', description: '' }],
  };
  const a = parseCommandArgs(['10.5', '-30.2', '-q', '4', '--all', '-1e-3'], spec);
  assert.deepEqual(a.positionals, ['10.5', '-30.2', '-1e-3']);
  assert.equal(a.options.q, '4');
  assert.equal(a.options.all, true);
});

test('a producer that fails mid-write leaves the old file intact and no temporary behind', () => {
  const dir = tempDir();
  const p = join(dir, 'out.fits');
  writeFileAtomic(p, 'old contents');
  assert.throws(() => writeAtomicStream(p, (out) => {
    out.write(new Uint8Array(1000));
    throw new Error('disk full (simulated)');
  }), /disk full/);
  assert.equal(readFileSync(p, 'utf8'), 'old contents');
  assert.deepEqual(readdirSync(dir), ['out.fits']);
});

test('AtomicFile: writeAt patches earlier bytes; abort removes the temporary', () => {
  const dir = tempDir();
  const f = new AtomicFile(join(dir, 'a.bin'));
  f.write(new Uint8Array([0, 0, 0]));
  f.write(new Uint8Array([4, 5]));
  f.writeAt(new Uint8Array([1, 2, 3]), 0);
  assert.equal(f.offset, 5);
  f.finish();
  assert.deepEqual([...readFileSync(join(dir, 'a.bin'))], [1, 2, 3, 4, 5]);
  const g = new AtomicFile(join(dir, 'b.bin'));
  g.write(new Uint8Array([9]));
  g.abort();
  assert.deepEqual(readdirSync(dir), ['a.bin']);
});
