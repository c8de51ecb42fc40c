/** Detection and measurement: background, filtering, labelling, deblending, cleaning, photometry. */
export * from './psf-like.js';
export * from './background.js';
export * from './segment.js';
export * from './deblend.js';
export * from './aperture.js';
export * from './catalog.js';
export * from './detect.js';
