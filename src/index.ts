/**
 * Tessera's library entry: one namespace per room, each room's index.ts being its door.
 *   import { fits, wcs, detect } from 'tessera';
 */
export * as util from './util/index.js';
export * as fits from './fits/index.js';
export * as wcs from './wcs/index.js';
export * as sky from './sky/index.js';
export * as image from './image/index.js';
export * as detect from './detect/index.js';
export * as psf from './psf/index.js';
export * as calib from './calib/index.js';
export * as sim from './sim/index.js';
export * as templates from './templates/index.js';
export * as diffim from './diffim/index.js';
export * as assoc from './assoc/index.js';
export * as products from './products/index.js';
export * as engine from './engine/index.js';
export * as pipeline from './pipeline/index.js';
