/**
 * Worker threads that share the tiles of an image with the main thread. A job is n runs of tiles;
 * every thread claims the next run from one shared counter (Atomics), so a worker that is still
 * starting simply claims fewer, and the main thread never waits for a worker it does not need.
 * Workers open the input file themselves (by path) and send back their results with the buffers
 * transferred, not copied.
 */
import { Worker } from 'node:worker_threads';
import { TesseraError } from '../../util/errors.js';
import type { TileRun } from './write.js';

/** What a worker is asked to do: see thread-worker.ts. */
export type PoolTask =
  | { kind: 'compress'; path: string; hdu: number; opts: object; runs: { t0: number; t1: number; y0: number; y1: number }[] }
  | { kind: 'decompress'; path: string; job: { hdu: number; bitpix: number; withSums: boolean; runs: { y0: number; y1: number }[] } };

/** A message from a worker: the result (or the error) of run k of job id. */
export interface PoolReply {
  id: number;
  k: number;
  packed?: PackedResult;
  error?: { message: string; tessera: boolean };
}

/** A run's result as sent between threads: typed arrays whose buffers are transferred. */
export type PackedResult =
  | { kind: 'tiles'; t0: number; comp: Uint8Array; compLen: Int32Array; gz: Uint8Array; gzLen: Int32Array; zscale: Float64Array; zzero: Float64Array; anyNull: boolean; anyGzipFallback: boolean }
  | { kind: 'bytes'; bytes: Uint8Array; sum: number };

/** A TileRun as one buffer of streams and their lengths (−1: no fallback stream). */
export function packTiles(run: TileRun): PackedResult {
  const concat = (parts: readonly (Uint8Array | null)[]): { all: Uint8Array; len: Int32Array } => {
    const len = new Int32Array(parts.length);
    let total = 0;
    parts.forEach((p, i) => { len[i] = p ? p.length : -1; total += p ? p.length : 0; });
    const all = new Uint8Array(total);
    let at = 0;
    for (const p of parts) if (p) { all.set(p, at); at += p.length; }
    return { all, len };
  };
  const c = concat(run.comp);
  const g = concat(run.gz);
  return { kind: 'tiles', t0: run.t0, comp: c.all, compLen: c.len, gz: g.all, gzLen: g.len, zscale: run.zscale, zzero: run.zzero, anyNull: run.anyNull, anyGzipFallback: run.anyGzipFallback };
}

export function transferList(p: PackedResult): ArrayBuffer[] {
  const views = p.kind === 'tiles' ? [p.comp, p.compLen, p.gz, p.gzLen, p.zscale, p.zzero] : [p.bytes];
  const seen = new Set<ArrayBuffer>();
  for (const v of views) if (v.buffer instanceof ArrayBuffer) seen.add(v.buffer);
  return [...seen];
}

function unpack(p: PackedResult): unknown {
  if (p.kind === 'bytes') return { bytes: p.bytes, sum: p.sum };
  const split = (all: Uint8Array, len: Int32Array): (Uint8Array | null)[] => {
    const parts: (Uint8Array | null)[] = [];
    let at = 0;
    for (const n of len) {
      if (n < 0) { parts.push(null); continue; }
      parts.push(all.subarray(at, at + n));
      at += n;
    }
    return parts;
  };
  const run: TileRun = {
    t0: p.t0,
    comp: split(p.comp, p.compLen) as Uint8Array[],
    gz: split(p.gz, p.gzLen),
    zscale: p.zscale,
    zzero: p.zzero,
    anyNull: p.anyNull,
    anyGzipFallback: p.anyGzipFallback,
  };
  return run;
}

interface Job {
  results: unknown[];
  done: number;
  n: number;
  onResult?: (k: number, r: unknown) => void;
  finished?: () => void;
  failed?: (e: Error) => void;
  error?: Error;
}

export class CodecPool {
  private readonly workers: Worker[] = [];
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;
  private broken: Error | undefined;
  private readonly exited = new Set<Worker>();

  /** Starts `n` workers now, so that they load while the caller reads its input. */
  constructor(n: number) {
    const url = new URL('./thread-worker.js', import.meta.url);
    for (let i = 0; i < n; i++) {
      const w = new Worker(url);
      w.on('message', (m: PoolReply) => this.reply(m));
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        this.exited.add(w);
        if (code !== 0) this.fail(new Error(`codec worker thread exited with code ${code}`));
      });
      this.workers.push(w);
    }
  }

  private reply(m: PoolReply): void {
    const job = this.jobs.get(m.id);
    if (!job || job.error) return;
    if (m.error) {
      this.abort(job, m.error.tessera ? new TesseraError(m.error.message) : new Error(m.error.message));
      return;
    }
    this.complete(job, m.k, unpack(m.packed!));
  }

  private complete(job: Job, k: number, r: unknown): void {
    job.results[k] = r;
    job.done++;
    job.onResult?.(k, r);
    if (job.done === job.n) job.finished?.();
  }

  private abort(job: Job, e: Error): void {
    job.error = e;
    job.failed?.(e);
  }

  private fail(e: Error): void {
    this.broken ??= e;
    for (const job of this.jobs.values()) if (!job.error && job.done < job.n) this.abort(job, new Error(`codec worker thread failed: ${e.message}`));
  }

  /**
   * Run n runs of `task`: this thread calls `local(k)` for the runs it claims, the workers do the
   * others. `onResult` sees every result as it arrives (in any order). Resolves to all results in
   * run order.
   */
  async run<R>(task: PoolTask, n: number, local: (k: number) => R, onResult?: (k: number, r: R) => void): Promise<R[]> {
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const id = this.nextId++;
    const job: Job = { results: new Array<unknown>(n), done: 0, n, onResult: onResult as Job['onResult'] };
    this.jobs.set(id, job);
    try {
      if (!this.broken) for (const w of this.workers) w.postMessage({ id, n, counter: counter.buffer, task });
      for (let k = Atomics.add(counter, 0, 1); k < n; k = Atomics.add(counter, 0, 1)) {
        this.complete(job, k, local(k));
        if (job.error) throw job.error;
        // let the workers' results in (and written, in order) while this thread works
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (job.error) throw job.error;
      }
      if (job.done < n) {
        await new Promise<void>((resolve, reject) => {
          job.finished = resolve;
          job.failed = reject;
          if (job.error) reject(job.error);
        });
      }
      return job.results as R[];
    } finally {
      this.jobs.delete(id);
    }
  }

  /** Ask the workers to close their files and end; resolves when they have. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => new Promise<void>((resolve) => {
      if (this.exited.has(w)) return resolve();
      w.once('exit', () => resolve());
      w.postMessage({ close: true });
    })));
  }
}
