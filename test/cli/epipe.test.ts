import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../../bin/tessera.js', import.meta.url));

test('output piped into a reader that stops early (like head) ends quietly', async () => {
  // 662,174 lines of bricks; the reader takes the first chunk and closes the pipe.
  const child = spawn(process.execPath, [bin, 'sky', 'bricks', '--region', '0', '360', '-90', '90'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  await new Promise<void>((res) => child.stdout.once('data', () => res()));
  child.stdout.destroy();
  const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  assert.equal(stderr, '', `stderr: ${stderr}`);
  assert.equal(code, 0);
});
