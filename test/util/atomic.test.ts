import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/util/atomic.js';
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
