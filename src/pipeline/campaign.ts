import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TesseraError } from '../util/errors.js';
import type { NewTask, TaskStore } from '../engine/types.js';
import { COMMAND_KIND } from '../engine/command.js';

/** argv that starts the tessera CLI in a new process (node + bin/tessera.js). */
export function tesseraArgv(): string[] {
  return [process.execPath, fileURLToPath(new URL('../../../bin/tessera.js', import.meta.url))];
}

const shq = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/**
 * Parse a queue file: one task per line — a shell command, or with `script` the arguments given
 * to it (qdo's `load --script`) — or JSON lines
 * `{"key", "cmd", "after": [keys], "priority", "outputs": [files], "expectedSeconds", "maxAttempts"}`
 * (or `"kind"` + `"params"` for an in-process kind). Blank lines and `#` comments are ignored.
 */
export function parseQueueFile(text: string, opts: { script?: string; source: string; priority?: number; maxAttempts?: number }): NewTask[] {
  const out: NewTask[] = [];
  const lines = text.split('\n');
  const seen = new Map<string, number>();
  const unique = (key: string, at: string, line: number) => {
    const first = seen.get(key);
    if (first !== undefined) throw new TesseraError(`${at}: task key '${key}' already given on line ${first} (keys must be unique within a queue)`);
    seen.set(key, line);
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line || line.startsWith('#')) continue;
    const at = `${opts.source}:${i + 1}`;
    if (line.startsWith('{')) {
      let j: Record<string, unknown>;
      try {
        j = JSON.parse(line) as Record<string, unknown>;
      } catch (e) {
        throw new TesseraError(`${at}: invalid JSON: ${(e as Error).message}`);
      }
      const kind = j.kind === undefined ? COMMAND_KIND : String(j.kind);
      let params: unknown = j.params;
      if (kind === COMMAND_KIND) {
        if (typeof j.cmd !== 'string' || !j.cmd) throw new TesseraError(`${at}: "cmd" (a shell command string) is required`);
        const cmd = opts.script ? `${shq(opts.script)} ${j.cmd}` : j.cmd;
        params = { cmd, ...(j.outputs !== undefined ? { outputs: j.outputs } : {}), ...(j.cwd !== undefined ? { cwd: j.cwd } : {}) };
        if (j.outputs !== undefined && !(Array.isArray(j.outputs) && j.outputs.every((o) => typeof o === 'string'))) throw new TesseraError(`${at}: "outputs" must be a list of file names`);
      }
      const key = j.key === undefined ? (typeof j.cmd === 'string' ? j.cmd : undefined) : String(j.key);
      if (!key) throw new TesseraError(`${at}: "key" is required for kind '${kind}'`);
      unique(key, at, i + 1);
      if (j.after !== undefined && !(Array.isArray(j.after) && j.after.every((a) => typeof a === 'string'))) throw new TesseraError(`${at}: "after" must be a list of task keys`);
      const num = (name: string): number | undefined => {
        const v = j[name];
        if (v === undefined) return undefined;
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new TesseraError(`${at}: "${name}" must be a number`);
        return v;
      };
      out.push({
        key,
        kind,
        params,
        after: j.after as string[] | undefined,
        priority: num('priority') ?? opts.priority,
        expectedSeconds: num('expectedSeconds'),
        maxAttempts: num('maxAttempts') ?? opts.maxAttempts,
      });
    } else {
      unique(line, at, i + 1);
      const cmd = opts.script ? `${shq(opts.script)} ${line}` : line;
      out.push({ key: line, kind: COMMAND_KIND, params: { cmd }, priority: opts.priority, maxAttempts: opts.maxAttempts });
    }
  }
  return out;
}

/** Load tasks into a queue, skipping keys it already has (so a load can be repeated). */
export async function loadTasks(store: TaskStore, queue: string, tasks: NewTask[]): Promise<{ added: number; skipped: number; waiting: number }> {
  const existing = await store.existingKeys(queue, tasks.map((t) => t.key));
  const fresh = existing.size ? tasks.filter((t) => !existing.has(t.key)) : tasks;
  const r = await store.addTasks(queue, fresh);
  return { added: r.added, skipped: tasks.length - fresh.length, waiting: r.waiting };
}

/** The kinds a campaign must run to finish `until`: it and everything it depends on, transitively. */
export async function kindsUntil(store: TaskStore, until: string, queue?: string): Promise<string[]> {
  const edges = await store.kindEdges(queue);
  const known = new Set((await store.counts(queue)).map((r) => r.kind));
  if (!known.has(until)) throw new TesseraError(`--until: no tasks of kind '${until}'${queue ? ` in queue '${queue}'` : ''} (kinds: ${[...known].sort().join(', ') || 'none'})`);
  const want = new Set([until]);
  for (let changed = true; changed; ) {
    changed = false;
    for (const e of edges) if (want.has(e.kind) && !want.has(e.dependsOn)) { want.add(e.dependsOn); changed = true; }
  }
  return [...want].sort();
}

/** Start N `tessera worker` processes; resolves with their exit codes. */
export function spawnWorkers(n: number, workerArgs: readonly string[], opts: { stdio?: 'inherit' | 'ignore'; onStderr?: (line: string) => void } = {}): { children: ChildProcess[]; done: Promise<(number | null)[]> } {
  const [node, bin] = tesseraArgv() as [string, string];
  const children: ChildProcess[] = [];
  const exits: Promise<number | null>[] = [];
  for (let i = 0; i < n; i++) {
    const c = spawn(node, [bin, 'worker', ...workerArgs], { stdio: ['ignore', 'ignore', opts.onStderr ? 'pipe' : opts.stdio ?? 'inherit'] });
    if (opts.onStderr) {
      let buf = '';
      c.stderr!.on('data', (d: Buffer) => {
        buf += d.toString();
        let k: number;
        while ((k = buf.indexOf('\n')) >= 0) {
          opts.onStderr!(buf.slice(0, k));
          buf = buf.slice(k + 1);
        }
      });
    }
    children.push(c);
    exits.push(new Promise((res) => c.on('exit', (code) => res(code))));
  }
  return { children, done: Promise.all(exits) };
}
