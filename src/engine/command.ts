import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { constants } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Outcome } from './types.js';

/** Parameters of a generic command task (kind `cmd`). */
export interface CommandParams {
  /** Run with `sh -c`. */
  cmd: string;
  /** Files the command writes: when all exist the task is skipped (idempotent reruns). */
  outputs?: string[];
  /** Working directory (default: the worker's). */
  cwd?: string;
}

export const COMMAND_KIND = 'cmd';

/** A task's log file: `<logsDir>/<queue>/<key>.log` when the key is path-safe, else by id. */
export function taskLogPath(logsDir: string, t: { id: number; queue: string; key: string }): string {
  const safe = /^[\w.=,+@-]+(\/[\w.=,+@-]+)*$/.test(t.key) && t.key.length <= 200 && !t.key.split('/').some((p) => p === '.' || p === '..');
  return join(logsDir, t.queue.replace(/[^\w.=,+@-]/g, '_'), safe ? `${t.key}.log` : `task-${t.id}.log`);
}

/** Peak resident set size (MB) of a process tree, sampled from /proc (Linux). */
class RssSampler {
  peakKb = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly pid: number, periodMs = 200) {
    this.sample();
    this.timer = setInterval(() => this.sample(), periodMs);
    this.timer.unref();
  }
  private tree(pid: number, out: number[], depth = 0): void {
    out.push(pid);
    if (depth > 8) return;
    try {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
      if (kids) for (const k of kids.split(/\s+/)) this.tree(Number(k), out, depth + 1);
    } catch { /* gone, or not Linux */ }
  }
  sample(): void {
    const pids: number[] = [];
    this.tree(this.pid, pids);
    let total = 0;
    for (const p of pids) {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
        if (m) total += Number(m[1]);
      } catch { /* exited */ }
    }
    if (total > this.peakKb) this.peakKb = total;
  }
  stop(): number | null {
    if (this.timer) clearInterval(this.timer);
    return this.peakKb > 0 ? this.peakKb / 1024 : null;
  }
}

/**
 * Kills the commands of this (worker) process when it dies, however it dies (SIGKILL included),
 * so that a command never goes on orphaned next to its retry. Every command is started with
 * `TESSERA_WATCHDOG=<token>` in its environment (inherited by all its descendants); one small
 * `sh` per process, in a session of its own, holds the read end of a pipe from us and waits for
 * end of file — which the kernel delivers when our copy of the pipe closes, i.e. when we exit or
 * are killed. It then kills every process whose initial environment holds the token (scanning
 * /proc/<pid>/environ, a few passes to catch processes forked meanwhile). Nothing is sent over
 * the pipe, so there is no registration to lose. It ignores the signals a terminal or batch
 * system sends to our group so that a graceful stop keeps its grace period. Linux (/proc).
 */
const WATCHDOG_SCRIPT = [
  "trap '' INT TERM HUP QUIT USR1 USR2",
  'while read -r _; do :; done',
  'for pass in 1 2 3 4 5; do',
  '  found=',
  '  for f in $(grep -lszxF "TESSERA_WATCHDOG=$1" /proc/[0-9]*/environ); do p=${f#/proc/}; kill -9 "${p%/environ}" 2>/dev/null; found=1; done',
  '  [ -n "$found" ] || break',
  'done',
].join('\n');

class CommandWatchdog {
  /** Marks the environment of this process's commands. */
  readonly token = `${process.pid}-${randomBytes(8).toString('hex')}`;
  private child: ChildProcess | undefined;
  /** Start the watchdog if it is not running; its pid, or undefined when it cannot start. */
  ensure(): number | undefined {
    const c0 = this.child;
    if (c0 && c0.exitCode === null && c0.signalCode === null) return c0.pid;
    try {
      const c = spawn('sh', ['-c', WATCHDOG_SCRIPT, 'tessera-watchdog', this.token], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
      c.on('error', () => { if (this.child === c) this.child = undefined; });
      c.stdin!.on('error', () => undefined);
      c.unref();
      (c.stdin as unknown as { unref?: () => void }).unref?.();
      this.child = c;
      return c.pid;
    } catch {
      return undefined;
    }
  }
}

/** The process's command watchdog (see CommandWatchdog). */
export const commandWatchdog = new CommandWatchdog();

const signalNumber = (name: string): number => (constants.signals as Record<string, number>)[name] ?? 0;

/**
 * Run a shell command as one attempt of a task: stdout and stderr are appended to the task's log,
 * the last lines of stderr are kept for the error message, the process tree's peak RSS is
 * sampled. The command runs in a process group of its own; the process's watchdog kills it
 * (and its descendants) if this process dies first. Aborting the signal kills the group (TERM, then KILL after 5 s).
 */
export function runCommand(p: CommandParams, opts: { logPath: string; signal?: AbortSignal; env?: NodeJS.ProcessEnv; header?: string }): Promise<Outcome> {
  const t0 = process.hrtime.bigint();
  if (p.outputs?.length && p.outputs.every((f) => existsSync(p.cwd ? join(p.cwd, f) : f))) {
    return Promise.resolve({ ok: true, exitCode: 0, seconds: 0, result: { skipped: true, outputs: p.outputs } });
  }
  mkdirSync(dirname(opts.logPath), { recursive: true });
  const fd = openSync(opts.logPath, 'a');
  if (opts.header) writeSync(fd, opts.header);
  return new Promise<Outcome>((resolve) => {
    let tail = '';
    commandWatchdog.ensure();
    const env = { ...(opts.env ?? process.env), TESSERA_WATCHDOG: commandWatchdog.token };
    const child = spawn('sh', ['-c', p.cmd], { cwd: p.cwd, env, stdio: ['ignore', fd, 'pipe'], detached: true });
    const rss = child.pid ? new RssSampler(child.pid) : undefined;
    child.stderr!.on('data', (d: Buffer) => {
      writeSync(fd, d);
      tail = (tail + d.toString()).slice(-4000);
    });
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* already gone */ }
      killTimer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      killTimer.unref();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let finished = false;
    const done = (code: number | null, sig: NodeJS.Signals | null, err?: Error) => {
      if (finished) return;
      finished = true;
      opts.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      const peak = rss?.stop() ?? null;
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const exitCode = err ? 127 : sig ? 128 + signalNumber(sig) : code ?? 1;
      writeSync(fd, `[tessera] exit code ${exitCode}${sig ? ` (${sig})` : ''} after ${seconds.toFixed(3)} s\n`);
      closeSync(fd);
      const lines = tail.trimEnd().split('\n').slice(-5).join(' | ');
      if (exitCode === 0) resolve({ ok: true, exitCode: 0, seconds, peakRssMb: peak, result: p.outputs ? { outputs: p.outputs } : undefined });
      else resolve({ ok: false, exitCode, signal: sig, seconds, peakRssMb: peak, error: err ? `cannot run sh: ${err.message}` : lines || null });
    };
    child.on('error', (e) => done(null, null, e));
    child.on('close', (code, sig) => done(code, sig));
  });
}
