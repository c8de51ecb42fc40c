/** Campaign products: tables (FITS, Parquet), SQL queries, candidates, light curves, the HTML report. */
export * from './tables.js';
export * from './parquet.js';
export * from './query.js';
export * from './candidates.js';
export * from './lightcurve.js';
export * from './report.js';
export * from './stamps.js';
export * from './png.js';
export * from './qa.js';
export * from './layout.js';
