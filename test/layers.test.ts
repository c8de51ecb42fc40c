import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * "Lower layers never import higher ones" (shared/design.md), checked on the sources: every
 * import between rooms of src/ must go to a room of strictly lower rank. `pipeline/layout` (the
 * repository's path templates, which imports only util) counts as its own low room because the
 * product tables are written at its paths.
 */
const RANK: Record<string, number> = {
  util: 0,
  engine: 1, fits: 1, 'pipeline/layout': 1,
  wcs: 2, image: 2,
  sky: 3, detect: 3,
  psf: 4,
  calib: 5,
  sim: 6, templates: 6,
  diffim: 7,
  assoc: 8,
  products: 9,
  pipeline: 10,
  cli: 11, web: 11,
  index: 12,
};

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const src = join(root, 'src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function roomOf(pathInSrc: string): string {
  const noExt = pathInSrc.replace(/\.(ts|js)$/, '');
  if (noExt === 'pipeline/layout') return 'pipeline/layout';
  if (noExt === 'index') return 'index';
  return noExt.split('/')[0]!;
}

test('rooms import only rooms of lower rank', () => {
  const violations: string[] = [];
  const files = tsFiles(src);
  assert.ok(files.length > 50, `found ${files.length} source files`);
  for (const file of files) {
    const from = roomOf(relative(src, file));
    assert.ok(from in RANK, `room '${from}' (${relative(root, file)}) has no rank: add it to RANK in test/layers.test.ts`);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const target = relative(src, resolve(dirname(file), m[1]!));
      if (target.startsWith('..')) continue;
      const to = roomOf(target);
      if (to === from) continue;
      assert.ok(to in RANK, `room '${to}' imported by ${relative(root, file)} has no rank`);
      if (RANK[to]! >= RANK[from]!) violations.push(`${relative(root, file)} (${from}) imports ${target} (${to})`);
    }
  }
  assert.deepEqual(violations, []);
});
