/**
 * Warp a template onto the science pixel grid through both WCSs, for subtraction: the templates
 * room's warp (Lanczos-3, flux-conserving, variance as Σw²·var, masks OR-ed, NO_DATA outside,
 * pixel map verified to < 0.01 px), carrying the template's PSF, saturation and gain along.
 * The campaign's diff stage and `tessera diff` both warp this way.
 *
 * Pixel convention: 0-based.
 */
import { warpMaskedImage } from '../templates/warp.js';
import type { Wcs } from '../wcs/wcs.js';
import type { DiffInput } from './subtract.js';

export interface WarpResult extends DiffInput {
  /** Fraction of science pixels with template data. */
  coverage: number;
}

export function warpTemplate(tmpl: DiffInput, tmplWcs: Wcs, sciWcs: Wcs, width: number, height: number, step = 32): WarpResult {
  const w = warpMaskedImage(tmpl, tmplWcs, sciWcs, width, height, { step });
  return {
    width, height, image: w.image, variance: w.variance, mask: w.mask,
    psf: tmpl.psf, saturation: tmpl.saturation, gain: tmpl.gain, coverage: w.coverage,
  };
}
