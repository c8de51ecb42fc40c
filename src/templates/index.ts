/**
 * Templates for difference imaging: DES-GW-style selection of template CCDs, warping onto a
 * target grid (Lanczos-3, flux-conserving, variance and mask propagated), and LSST-style coadds
 * per patch or brick with a coadd PSF.
 */
export * from './select.js';
export * from './warp.js';
export * from './coadd.js';
export * from './io.js';
