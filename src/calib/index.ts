/** Calibration against a reference catalog: astrometric matching and fitting, zero points, colour terms, the refcat store. */
export * from './astrometry.js';
export * from './match.js';
export * from './photometry.js';
export * from './colorterms.js';
export * from './refcat/index.js';
