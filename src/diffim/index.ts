/** Difference imaging: Alard–Lupton PSF matching, subtraction, decorrelation, warping, DIA detection. */
export * from './al/basis.js';
export * from './al/fit.js';
export * from './al/convolve.js';
export * from './subtract.js';
export * from './synth.js';
export * from './dia.js';
export * from './warp.js';
export * from './rb.js';
export * from './zogy.js';
