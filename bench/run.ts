/**
 * `npm run bench [-- NAME...]`: runs every bench/*.bench.ts module (or the ones named) and
 * rewrites their sections of BENCHMARKS.md, keeping the sections of modules not run this time.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../src/util/atomic.js';
import { machineLine, type BenchModule } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const out = join(root, 'BENCHMARKS.md');
const wanted = process.argv.slice(2);

const START = (n: string) => `<!-- bench:${n} -->`;
const END = (n: string) => `<!-- /bench:${n} -->`;

function existingSections(): Map<string, string> {
  const map = new Map<string, string>();
  if (!existsSync(out)) return map;
  const text = readFileSync(out, 'utf8');
  const re = /<!-- bench:([\w-]+) -->\n([\s\S]*?)<!-- \/bench:\1 -->/g;
  for (let m = re.exec(text); m; m = re.exec(text)) map.set(m[1]!, m[2]!);
  return map;
}

const files = readdirSync(here).filter((f) => f.endsWith('.bench.js')).sort();
const sections = existingSections();
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { default: BenchModule };
  const bench = mod.default;
  if (wanted.length && !wanted.includes(bench.name)) continue;
  process.stderr.write(`bench: ${bench.name} ...\n`);
  const t0 = Date.now();
  const result = await bench.run();
  const body = result.map((s) => `## ${s.title}\n\n${s.body.trim()}\n`).join('\n');
  sections.set(bench.name, `${body}\n_Measured on ${machineLine()}; ${((Date.now() - t0) / 1000).toFixed(0)} s for this section._\n`);
  process.stderr.write(`bench: ${bench.name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

const header = `# Benchmarks

Produced by \`npm run bench\` (or \`npm run bench -- NAME\` for one section). Every figure is
measured side by side with the peer tool in the same run on the same machine; ratios are
Tessera's time divided by the peer's (below 1 is faster). Peer tools come from Debian's
packages; a section says so when one was missing.
`;
const parts = [...sections.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([n, b]) => `${START(n)}\n${b}${END(n)}`);
writeFileAtomic(out, `${header}\n${parts.join('\n\n')}\n`);
process.stderr.write(`bench: wrote ${out}\n`);
