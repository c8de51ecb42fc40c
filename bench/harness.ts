import { execFileSync, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';

/** One benchmark section of BENCHMARKS.md, produced by a `bench/*.bench.ts` module. */
export interface BenchSection {
  /** Markdown heading text, e.g. "FITS: tile compression". */
  title: string;
  /** Markdown body: a table of times and ratios, and what was measured on what data. */
  body: string;
}

export interface BenchModule {
  /** Short name used on the command line: `npm run bench -- fits`. */
  name: string;
  run(): Promise<BenchSection[]>;
}

/** Best (minimum) wall time in seconds of `repeat` runs of fn, after one warm-up. */
export async function timeBest(fn: () => unknown | Promise<unknown>, repeat = 3): Promise<number> {
  await fn();
  let best = Infinity;
  for (let i = 0; i < repeat; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return best;
}

/** Best wall time in seconds of an external command (a peer tool), run `repeat` times. */
export function timeCommandBest(cmd: string, args: string[], repeat = 3, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): number {
  let best = Infinity;
  for (let i = 0; i < repeat + 1; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] });
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr?.toString().slice(-500)}`);
    if (i > 0) best = Math.min(best, dt);
  }
  return best;
}

/** True when an executable is on PATH. */
export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** True when Debian's python3 can import every module named. */
export function havePython(...modules: string[]): boolean {
  return spawnSync('/usr/bin/python3', ['-c', modules.map((m) => `import ${m}`).join(';')], { stdio: 'ignore' }).status === 0;
}

export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  let commit = 'uncommitted';
  try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
  return `${cpus().length} × ${cpu}, Node ${process.version}, commit ${commit}, ${new Date().toISOString().slice(0, 10)}`;
}

export const fmt = {
  s: (x: number) => (x < 0.01 ? `${(x * 1000).toFixed(2)} ms` : `${x.toFixed(3)} s`),
  ratio: (ours: number, peer: number) => `${(ours / peer).toFixed(2)}×`,
};
