import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, writeSync, closeSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { TesseraError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { TESSERA_VERSION } from '../util/version.js';
import { COMMAND_KIND, runCommand, type CommandParams } from '../engine/command.js';
import type { Executor } from '../engine/worker.js';
import type { ClaimedTask, Outcome } from '../engine/types.js';
import { EXIT_BAD_DATA } from '../engine/types.js';
import type { Repository } from './repo.js';

/** What a stage's run() gets. */
export interface KindContext {
  repo: Repository;
  task: ClaimedTask;
  /** Aborted when the lease is lost or the worker is stopping: stop early. */
  signal: AbortSignal;
  /** Append a line to the task's log. */
  log(line: string): void;
  /** Write an output file atomically (temporary name, fsync, rename). */
  writeOutput(path: string, data: Uint8Array | string | readonly Uint8Array[]): void;
}

/**
 * A task kind run in-process by workers. Stages register themselves with `registerKind`.
 * Throw a TesseraError for bad data (the task FAILS, no retry: exit code 3); any other error is
 * retried under the store's policy.
 */
export interface TaskKind<P = any> {
  kind: string;
  run(params: P, ctx: KindContext): Promise<void>;
  /** Files the task writes (absolute, or relative to the repository root). All present = done. */
  outputs(params: P, repo: Repository): string[];
  /** Files it reads, for provenance. */
  inputs?(params: P, repo: Repository): string[];
  /** Bump when the algorithm changes (provenance). */
  version?: string;
}

const registry = new Map<string, TaskKind>();

export function registerKind(k: TaskKind): void {
  if (k.kind === COMMAND_KIND) throw new Error(`task kind '${COMMAND_KIND}' is reserved for shell commands`);
  registry.set(k.kind, k);
}

export function getKind(kind: string): TaskKind | undefined {
  return registry.get(kind);
}

export function registeredKinds(): string[] {
  return [...registry.keys()].sort();
}

/** Hash of the parameters in a canonical (key-sorted) JSON form. */
export function configHash(params: unknown): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canon) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, canon(x)])) : v;
  return createHash('sha256').update(JSON.stringify(canon(params ?? null))).digest('hex').slice(0, 16);
}

const abs = (repo: Repository, p: string) => (isAbsolute(p) ? p : join(repo.root, p));

/**
 * The executor workers use: `cmd` tasks run as shell commands; other kinds are looked up in the
 * registry, skipped when all their outputs exist, and their provenance is recorded.
 */
export function pipelineExecutor(repo: Repository): Executor {
  return async (task, ctx) => {
    const header = `[tessera] ${new Date().toISOString()} task ${task.id} ${task.key} attempt ${task.attempts} lease ${task.leaseId} worker ${ctx.workerId}\n`;
    if (task.kind === COMMAND_KIND) {
      const p = task.params as CommandParams;
      if (!p || typeof p.cmd !== 'string') return { ok: false, exitCode: EXIT_BAD_DATA, error: `task ${task.key}: params.cmd missing` };
      const o = await runCommand(p, { logPath: ctx.logPath, signal: ctx.signal, header, env: { ...process.env, TESSERA_TASK_ID: String(task.id), TESSERA_TASK_KEY: task.key, TESSERA_REPO: repo.root } });
      // Provenance of a command: the software that ran it and a hash of the command line.
      if (o.ok) o.result = { ...(o.result as object | undefined), software: TESSERA_VERSION, configHash: configHash(p) };
      return o;
    }
    const k = registry.get(task.kind);
    if (!k) return { ok: false, exitCode: 1, error: `no task kind '${task.kind}' registered in this worker (known: ${[COMMAND_KIND, ...registeredKinds()].join(', ')})` };
    return runKind(k, repo, task, ctx.signal, ctx.logPath, header);
  };
}

async function runKind(k: TaskKind, repo: Repository, task: ClaimedTask, signal: AbortSignal, logPath: string, header: string): Promise<Outcome> {
  const t0 = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - t0) / 1e9;
  let outputs: string[];
  try {
    outputs = k.outputs(task.params, repo).map((p) => abs(repo, p));
  } catch (e) {
    return { ok: false, exitCode: e instanceof TesseraError ? EXIT_BAD_DATA : 1, error: (e as Error).message, seconds: seconds() };
  }
  const provenance = () => ({
    software: TESSERA_VERSION,
    kind: k.kind,
    kindVersion: k.version ?? null,
    configHash: configHash(task.params),
    inputs: k.inputs?.(task.params, repo) ?? [],
    outputs,
  });
  if (outputs.length && outputs.every((p) => existsSync(p))) {
    return { ok: true, exitCode: 0, seconds: seconds(), result: { skipped: true, outputs } };
  }
  // The log is opened on first use: tasks that say nothing leave no file.
  let fd: number | undefined;
  const logLine = (line: string) => {
    if (fd === undefined) {
      mkdirSync(dirname(logPath), { recursive: true });
      fd = openSync(logPath, 'a');
      writeSync(fd, header);
    }
    writeSync(fd, line.endsWith('\n') ? line : `${line}\n`);
  };
  const ctx: KindContext = {
    repo,
    task,
    signal,
    log: logLine,
    writeOutput: (path, data) => writeFileAtomic(abs(repo, path), data),
  };
  try {
    await k.run(task.params, ctx);
    const missing = outputs.filter((p) => !existsSync(p));
    if (missing.length) throw new Error(`declared output${missing.length > 1 ? 's' : ''} not written: ${missing.join(', ')}`);
    if (fd !== undefined) logLine(`[tessera] succeeded after ${seconds().toFixed(3)} s`);
    return { ok: true, exitCode: 0, seconds: seconds(), peakRssMb: process.resourceUsage().maxRSS / 1024, result: provenance() };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const bad = e instanceof TesseraError;
    const msg = err.code && err.syscall ? `${err.code}: ${err.message}` : err.message ?? String(e);
    logLine(`[tessera] failed: ${bad ? msg : err.stack ?? msg}`);
    return { ok: false, exitCode: bad ? EXIT_BAD_DATA : 1, error: msg, seconds: seconds(), peakRssMb: process.resourceUsage().maxRSS / 1024 };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/* A kind every repository has: `noop` does nothing (a join point in a DAG; engine benchmarks). */
registerKind({ kind: 'noop', outputs: () => [], run: async () => undefined });
