/**
 * Mutated tile-compressed files: every failure must be a TesseraError (one clear message), never
 * another exception or a hang. Mutations hit the header cards (numbers), the table and the heap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { FitsReader } from '../../../src/fits/reader.js';
import { TesseraError } from '../../../src/util/errors.js';
import { FIXTURES, manifest } from './fixture-data.js';
import { lcg } from './sky.js';

test('fuzzed compressed files fail only with TesseraError, within bounded time', () => {
  const rnd = lcg(2026);
  const files = [...new Set(manifest.map((m) => m.file))];
  const t0 = Date.now();
  let failures = 0;
  let decoded = 0;
  for (const file of files) {
    const orig = gunzipSync(readFileSync(join(FIXTURES, file)));
    for (let k = 0; k < 40; k++) {
      const b = Uint8Array.from(orig);
      const nm = 1 + Math.floor(rnd() * 6);
      for (let j = 0; j < nm; j++) {
        const where = rnd();
        const pos = where < 0.3
          ? 2880 + Math.floor(rnd() * Math.min(2880, b.length - 2880)) // the compressed HDU's header (numbers get mangled)
          : Math.floor(rnd() * b.length);
        b[pos] = where < 0.3 ? 0x30 + Math.floor(rnd() * 10) : Math.floor(rnd() * 256);
      }
      try {
        const r = FitsReader.fromBytes(b, `${file}#${k}`);
        for (const h of r.hdus) if (h.type === 'compressed-image') r.readImage(h.index);
        decoded++;
      } catch (e) {
        assert.ok(e instanceof TesseraError, `${file} mutation ${k}: ${(e as Error).name}: ${(e as Error).message}\n${(e as Error).stack}`);
        failures++;
      }
    }
  }
  assert.ok(failures > 0 && decoded > 0, `${failures} failures, ${decoded} decoded`);
  assert.ok(Date.now() - t0 < 60000, 'fuzzing took too long');
});
