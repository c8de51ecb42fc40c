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

test('a command group with --help lists its subcommands and exits 0; without a subcommand exits 2', async () => {
  const h = await cli(['fits', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /fits info/);
  assert.match(h.stdout, /fits compress/);
  const bare = await cli(['fits']);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /missing subcommand/);
  const bad = await cli(['fits', 'frob']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown subcommand 'frob'/);
});

test('usage errors name the command once', async () => {
  const r = await cli(['sky', 'brick']);
  assert.equal(r.code, 2);
  assert.doesNotMatch(r.stderr, /sky brick: sky brick/);
  assert.match(r.stderr, /^tessera sky brick: /);
});
