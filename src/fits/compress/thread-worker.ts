/**
 * A codec worker thread of CodecPool: claims runs of a job from the shared counter, does them on
 * its own reader of the input file, and sends each result back with its buffers transferred.
 */
import { parentPort } from 'node:worker_threads';
import { FitsReader } from '../reader.js';
import { TesseraError } from '../../util/errors.js';
import { compressRun, decodeRun, decodeSource, planHdu, type DecodeSource } from './file.js';
import { packTiles, transferList, type PackedResult, type PoolReply, type PoolTask } from './pool.js';
import type { CompressionPlan } from './write.js';

const port = parentPort!;
const readers = new Map<string, FitsReader>();
/** The last HDU's compression plan or compressed table, kept for the job's further runs. */
let cached: { path: string; hdu: number; id: number; plan?: CompressionPlan; source?: DecodeSource } | undefined;

function reader(path: string): FitsReader {
  let r = readers.get(path);
  if (!r) {
    r = FitsReader.open(path);
    readers.set(path, r);
  }
  return r;
}

function runOne(id: number, task: PoolTask, k: number): PackedResult {
  const r = reader(task.path);
  if (task.kind === 'compress') {
    if (cached?.id !== id) cached = { path: task.path, hdu: task.hdu, id, plan: planHdu(r, task.hdu, task.opts) };
    return packTiles(compressRun(r, cached.plan!, task.hdu, task.runs[k]!));
  }
  if (cached?.id !== id) cached = { path: task.path, hdu: task.job.hdu, id, source: decodeSource(r, task.job.hdu) };
  const d = decodeRun(cached.source!, task.job, task.job.runs[k]!);
  return { kind: 'bytes', bytes: d.bytes, sum: d.sum };
}

port.on('message', (m: { close?: boolean; id: number; n: number; counter: SharedArrayBuffer; task: PoolTask }) => {
  if (m.close) {
    for (const r of readers.values()) r.close();
    readers.clear();
    port.close();
    return;
  }
  const counter = new Int32Array(m.counter);
  for (let k = Atomics.add(counter, 0, 1); k < m.n; k = Atomics.add(counter, 0, 1)) {
    let reply: PoolReply;
    let transfer: ArrayBuffer[] = [];
    try {
      const packed = runOne(m.id, m.task, k);
      reply = { id: m.id, k, packed };
      transfer = transferList(packed);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      reply = { id: m.id, k, error: { message: err.message, tessera: err instanceof TesseraError } };
      port.postMessage(reply);
      return;
    }
    port.postMessage(reply, transfer);
  }
  cached = undefined;
});
