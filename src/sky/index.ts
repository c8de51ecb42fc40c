/** Sky geometry: spherical geometry, HEALPix, Legacy Surveys bricks, LSST rings sky map, cross-matching. */
export * from './sphere.js';
export { Healpix, healpix, ang2pixRaDecArray, ORDER_MAX, NSIDE_MAX, NSIDE_MAX_NUMBER, type Scheme } from './healpix.js';
export * from './bricks.js';
export * from './skymap.js';
export * from './match.js';
