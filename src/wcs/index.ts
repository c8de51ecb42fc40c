/** World coordinates: projections, SIP and TPV distortions, header I/O, and WCS fitting. */
export { Wcs, standardCoords, type WcsParams, type Origin, type Matrix2, type SkyArrays, type PixelArrays, type CelestialAxes } from './wcs.js';
export { HeaderText, formatCard, formatFitsNumber, type HeaderLike, type HeaderSink, type WcsCard } from './header.js';
export { PROJECTIONS, Projection, type ProjectionCode } from './projection.js';
export { Sip, Tpv, TPV_TERMS, type SipCoefficients } from './distortion.js';
export { celestialPole, type CelestialPole } from './celestial.js';
export { fitWcs, fitSipInverse, minStarsFor, type FitPairs, type FitOptions, type FitResult, type FitModel } from './fit.js';
