/** Worker thread body for convolveSpatialParallel: computes rows [y0, y1) into the shared output. */
import { parentPort, workerData } from 'node:worker_threads';
import { convolveSpatial, type SpatialConvolveInput } from './convolve.js';

const data = workerData as SpatialConvolveInput & { out: Float32Array };
convolveSpatial(data, data.out);
parentPort?.postMessage('done');
