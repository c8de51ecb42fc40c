/**
 * Render worker: holds the survey plan and sky catalog, renders and encodes the CCDs it is
 * sent. Started by simulate.ts with worker_threads.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runCcdTask, type TaskContext } from './task.js';

const ctx = workerData as TaskContext;
parentPort!.on('message', (msg: { expIndex: number; ccdIndex: number }) => {
  try {
    parentPort!.postMessage({ ok: true, result: runCcdTask(ctx, msg.expIndex, msg.ccdIndex) });
  } catch (e) {
    parentPort!.postMessage({ ok: false, expIndex: msg.expIndex, ccdIndex: msg.ccdIndex, error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) });
  }
});
