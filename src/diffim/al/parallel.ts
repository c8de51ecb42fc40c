/**
 * convolveSpatial split over worker threads by row bands: the input image(s) and the output
 * live in SharedArrayBuffers, each worker computes its own rows (disjoint writes).
 */
import { Worker } from 'node:worker_threads';
import { convolveSpatial, type SpatialConvolveInput } from './convolve.js';

function shared(a: Float32Array): Float32Array {
  const s = new Float32Array(new SharedArrayBuffer(a.length * 4));
  s.set(a);
  return s;
}

export async function convolveSpatialParallel(inp: SpatialConvolveInput, workers = 2): Promise<Float32Array> {
  const { width, height } = inp;
  if (workers <= 1 || height < 256) return convolveSpatial(inp);
  const src = shared(inp.src);
  const extra = inp.extra ? { ...inp.extra, src: shared(inp.extra.src) } : undefined;
  let bad: Uint8Array | undefined;
  if (inp.bad) { bad = new Uint8Array(new SharedArrayBuffer(inp.bad.length)); bad.set(inp.bad); }
  const out = new Float32Array(new SharedArrayBuffer(width * height * 4));
  const band = Math.ceil(height / workers);
  const url = new URL('./convolve-worker.js', import.meta.url);
  const jobs: Promise<void>[] = [];
  for (let w = 0; w < workers; w++) {
    const y0 = w * band, y1 = Math.min(height, y0 + band);
    if (y0 >= y1) break;
    const data = { ...inp, src, bad, extra, y0, y1, out };
    jobs.push(new Promise<void>((resolve, reject) => {
      const wk = new Worker(url, { workerData: data });
      wk.once('message', () => { resolve(); void wk.terminate(); });
      wk.once('error', reject);
      wk.once('exit', (code) => { if (code !== 0) reject(new Error(`convolution worker exited with code ${code}`)); });
    }));
  }
  await Promise.all(jobs);
  return out;
}
