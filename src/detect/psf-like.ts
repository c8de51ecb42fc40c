/**
 * The minimal PSF interface detection and measurement need. Any PSF model (the PSFEx-like
 * model of src/psf, an analytic profile, a measured stamp) can be used by implementing it.
 *
 * CENTRING CONVENTION (read this before implementing):
 * - Coordinates (x, y) are 0-based image pixel coordinates: the centre of pixel (i, j) is at
 *   (x, y) = (i, j). (Catalog columns such as XWIN_IMAGE are FITS 1-based: subtract 1.)
 * - `stampAt(x, y, size)` returns a size × size row-major stamp, size odd, aligned with the
 *   image pixel grid: stamp pixel (u, v) covers image pixel
 *       (i, j) = (round(x) − h + u, round(y) − h + v),   h = (size − 1) / 2,
 *   where round() is Math.round. The PSF's centre (the point the model places at the source
 *   position) is at the sub-pixel position (x, y): inside the stamp at (h + x − round(x),
 *   h + y − round(y)).
 * - Values are the fraction of the total flux falling in each pixel (pixel-integrated, as an
 *   image of a point source of flux 1 would record). The full PSF sums to 1; a stamp that
 *   truncates the wings sums to slightly less. Fitting amplitude·stamp to data therefore
 *   returns the total flux of the source.
 */
export interface PsfLike {
  stampAt(x: number, y: number, size: number, out?: Float32Array): Float32Array;
  /** FWHM in pixels at (x, y) (0-based); used to size stamps and the SPREAD_MODEL galaxy model. */
  fwhmPixAt?(x: number, y: number): number;
  /**
   * Optional: the PSF convolved with a small kernel (odd (2r+1)², image-pixel scale; `key`
   * identifies it for caching), rendered like stampAt; undefined when not available (the caller
   * then convolves the stamp). Lets SPREAD_MODEL's galaxy model cost one stamp.
   */
  convolvedStampAt?(x: number, y: number, size: number, kernel: { key: number; r: number; k: Float64Array }, out?: Float32Array): Float32Array | undefined;
}

/** Index of the stamp's first pixel on the image grid (see the centring convention). */
export function stampOrigin(x: number, y: number, size: number): { x0: number; y0: number } {
  const h = (size - 1) >> 1;
  return { x0: Math.round(x) - h, y0: Math.round(y) - h };
}

/** Sub-pixel sampling used by the analytic PSFs (per axis). */
const SUB = 7;

/**
 * Fill a stamp by integrating a radial profile over each pixel with SUB × SUB sub-samples
 * (and normalise by the analytic total flux, `total`).
 */
function fillStamp(profile: (r2: number) => number, total: number, x: number, y: number, size: number, out: Float32Array): Float32Array {
  if (size % 2 !== 1) throw new RangeError(`PSF stamp size ${size} must be odd`);
  const h = (size - 1) >> 1;
  const dx0 = x - Math.round(x), dy0 = y - Math.round(y);
  const inv = 1 / (SUB * SUB * total);
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      let s = 0;
      for (let b = 0; b < SUB; b++) {
        const yy = v - h - dy0 + (b + 0.5) / SUB - 0.5;
        for (let a = 0; a < SUB; a++) {
          const xx = u - h - dx0 + (a + 0.5) / SUB - 0.5;
          s += profile(xx * xx + yy * yy);
        }
      }
      out[v * size + u] = s * inv;
    }
  }
  return out;
}

/** A circular Gaussian PSF of a given FWHM (pixels), constant over the image. */
export class GaussianPsf implements PsfLike {
  readonly sigma: number;
  constructor(readonly fwhmPix: number) {
    this.sigma = fwhmPix / (2 * Math.sqrt(2 * Math.log(2)));
  }
  stampAt(x: number, y: number, size: number, out: Float32Array = new Float32Array(size * size)): Float32Array {
    const s2 = 2 * this.sigma * this.sigma;
    return fillStamp((r2) => Math.exp(-r2 / s2), Math.PI * s2, x, y, size, out);
  }
  fwhmPixAt(): number {
    return this.fwhmPix;
  }
}

/** A circular Moffat PSF (1 + r²/α²)^−β of a given FWHM (pixels) and β, constant over the image. */
export class MoffatPsf implements PsfLike {
  readonly alpha: number;
  constructor(readonly fwhmPix: number, readonly beta = 3) {
    if (!(beta > 1)) throw new RangeError('MoffatPsf: beta must be > 1');
    this.alpha = fwhmPix / (2 * Math.sqrt(2 ** (1 / beta) - 1));
  }
  stampAt(x: number, y: number, size: number, out: Float32Array = new Float32Array(size * size)): Float32Array {
    const a2 = this.alpha * this.alpha, b = this.beta;
    return fillStamp((r2) => (1 + r2 / a2) ** -b, (Math.PI * a2) / (b - 1), x, y, size, out);
  }
  fwhmPixAt(): number {
    return this.fwhmPix;
  }
}
