import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Files below `dir` (recursively) whose names match `re`, sorted; none when `dir` does not exist. */
export function listFilesRecursive(dir: string, re: RegExp, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) listFilesRecursive(p, re, out);
    else if (re.test(e.name)) out.push(p);
  }
  return out.sort();
}
