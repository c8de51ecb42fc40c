/** worker_threads entry of `tessera calibrate`: runs CCD tasks posted by ./exposure.ts. */
import { parentPort } from 'node:worker_threads';
import { runCcdTask, type CcdTask } from './task.js';

if (parentPort) {
  const port = parentPort;
  port.on('message', (msg: { id: number; task: CcdTask }) => {
    const r = runCcdTask(msg.task);
    port.postMessage({ id: msg.id, result: r });
  });
}
