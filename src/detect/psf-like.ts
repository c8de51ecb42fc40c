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
  /**
   * Optional, for separable models: fill gx, gy (length size) so that stampAt(x, y, size)(u, v) =
   * gx[u]·gy[v] (up to Float32 rounding) and return true; false when not separable at (x, y).
   * Lets callers that convolve stamps (e.g. a difference image's PSF) work in 1-D.
   */
  separableStampAt?(x: number, y: number, size: number, gx: Float64Array, gy: Float64Array): boolean;
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

/**
 * erf(x) to ~1e-15 (Maclaurin series for |x| < 2.5, continued fraction of erfc beyond), for
 * pixel-integrated Gaussians: differences of erf at pixel edges are the exact pixel integrals.
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf(x) = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
    const x2 = x * x;
    let term = x, sum = x;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return sum * 1.1283791670955126;
  }
  if (ax > 6) return x > 0 ? 1 : -1;
  // erfc(x) = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …)))) (Lentz, evaluated backwards)
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / (1.7724538509055159 * f);
  return x > 0 ? 1 - erfc : erfc - 1;
}

/**
 * Pixel integrals of a unit 1-D Gaussian (σ) centred at c (pixel coordinates of the n pixels are
 * 0..n−1, pixel k covering [k − ½, k + ½]) into out.
 */
export function gaussianPixels1d(c: number, sigma: number, n: number, out: Float64Array): Float64Array {
  const k = 1 / (Math.SQRT2 * sigma);
  let prev = erf((-0.5 - c) * k);
  for (let i = 0; i < n; i++) {
    const cur = erf((i + 0.5 - c) * k);
    out[i] = 0.5 * (cur - prev);
    prev = cur;
  }
  return out;
}

/**
 * A circular Gaussian PSF of a given FWHM (pixels), constant over the image. Stamps are exact
 * pixel integrals, separable: stamp(u, v) = g(u − h − dx)·g(v − h − dy) with g from erf differences.
 */
export class GaussianPsf implements PsfLike {
  readonly sigma: number;
  private gx = new Float64Array(0);
  private gy = new Float64Array(0);
  constructor(readonly fwhmPix: number) {
    this.sigma = fwhmPix / (2 * Math.sqrt(2 * Math.log(2)));
  }
  separableStampAt(x: number, y: number, size: number, gx: Float64Array, gy: Float64Array): boolean {
    if (size % 2 !== 1) throw new RangeError(`PSF stamp size ${size} must be odd`);
    const h = (size - 1) >> 1;
    gaussianPixels1d(h + x - Math.round(x), this.sigma, size, gx);
    gaussianPixels1d(h + y - Math.round(y), this.sigma, size, gy);
    return true;
  }
  stampAt(x: number, y: number, size: number, out: Float32Array = new Float32Array(size * size)): Float32Array {
    if (this.gx.length !== size) { this.gx = new Float64Array(size); this.gy = new Float64Array(size); }
    const gx = this.gx, gy = this.gy;
    this.separableStampAt(x, y, size, gx, gy);
    for (let v = 0; v < size; v++) {
      const f = gy[v]!, o = v * size;
      for (let u = 0; u < size; u++) out[o + u] = f * gx[u]!;
    }
    return out;
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
