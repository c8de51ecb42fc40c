/** Tessera's library entry: each room's door. Rooms add themselves here as they land. */
export * as util from './util/index.js';
export * as fits from './fits/index.js';
export * as wcs from './wcs/index.js';
