/** Association of diaSources into diaObjects, and forced photometry at fixed positions. */
export * from './associate.js';
export * from './forced.js';
export * from './region.js';
export * from './types.js';
