import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli } from '../helpers.js';

test('tessera with no arguments prints the overview and exits 2', async () => {
  const r = await cli([]);
  assert.equal(r.code, 2);
  assert.match(r.stdout, /usage: tessera COMMAND/);
});

test('tessera version prints the package version', async () => {
  const r = await cli(['version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^tessera \d+\.\d+\.\d+\n$/);
});

test('an unknown command is a usage error (exit 2)', async () => {
  const r = await cli(['frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});

test('--help on a command prints its usage and exits 0', async () => {
  const r = await cli(['version', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /usage: tessera version/);
});

test('an unknown option is a usage error naming it', async () => {
  const r = await cli(['version', '--bogus']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option --bogus/);
});
