/**
 * Image planes shared by every stage: a science image with optional variance and mask planes.
 *
 * Pixel convention inside the code: 0-based, row-major, pixel (x, y) at index `y * width + x`,
 * the centre of the first pixel at (0, 0). Files, catalogs and the CLI add 1 (FITS convention).
 */

/** Named bits of the mask plane. One shared table so every stage agrees on their meaning. */
export const MaskBits = {
  /** Bad pixel (hot/dead column, known defect). */
  BAD: 1 << 0,
  /** Saturated. */
  SAT: 1 << 1,
  /** Cosmic ray. */
  CR: 1 << 2,
  /** Near the edge of the detector / outside the useful area. */
  EDGE: 1 << 3,
  /** Value was interpolated over. */
  INTRP: 1 << 4,
  /** Part of a detected source footprint. */
  DETECTED: 1 << 5,
  /** Suspect (e.g. non-linear regime, bleed trail wings). */
  SUSPECT: 1 << 6,
  /** No data at all (outside the CCD, vignetted, unfilled coadd pixel). */
  NO_DATA: 1 << 7,
  /** Crosstalk-affected. */
  CROSSTALK: 1 << 8,
  /** Streak (satellite trail). */
  STREAK: 1 << 9,
  /** Part of a detection on a difference image. */
  DETECTED_NEGATIVE: 1 << 10,
} as const;

export type MaskBitName = keyof typeof MaskBits;

/** Bits that make a pixel unusable for statistics and photometry by default. */
export const DEFAULT_BAD_MASK = MaskBits.BAD | MaskBits.SAT | MaskBits.CR | MaskBits.NO_DATA | MaskBits.EDGE;

/** Names of the bits set in a mask value, e.g. `['BAD', 'SAT']`. */
export function maskBitNames(value: number): MaskBitName[] {
  const out: MaskBitName[] = [];
  for (const [name, bit] of Object.entries(MaskBits) as [MaskBitName, number][]) if (value & bit) out.push(name);
  return out;
}

/** OR of the named bits: `maskOf('BAD', 'SAT')`. */
export function maskOf(...names: MaskBitName[]): number {
  let m = 0;
  for (const n of names) m |= MaskBits[n];
  return m;
}

/**
 * An image with optional variance (same units squared) and mask planes, all of width × height,
 * row-major. A missing variance plane means "unknown": stages estimate the noise themselves.
 */
export interface MaskedImage {
  width: number;
  height: number;
  image: Float32Array;
  variance?: Float32Array;
  mask?: Uint32Array;
}

/** Build a MaskedImage, checking that every plane has width × height elements. */
export function maskedImage(
  width: number,
  height: number,
  image: Float32Array,
  variance?: Float32Array,
  mask?: Uint32Array,
): MaskedImage {
  const n = width * height;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`maskedImage: bad size ${width}×${height}`);
  }
  if (image.length !== n) throw new RangeError(`maskedImage: image has ${image.length} pixels, expected ${n}`);
  if (variance && variance.length !== n) throw new RangeError(`maskedImage: variance has ${variance.length} pixels, expected ${n}`);
  if (mask && mask.length !== n) throw new RangeError(`maskedImage: mask has ${mask.length} pixels, expected ${n}`);
  return { width, height, image, variance, mask };
}

/**
 * Convert an inverse-variance weight plane (as DECam `oow`) into a variance plane:
 * weight ≤ 0 or non-finite gives +Infinity variance (the pixel carries no information).
 */
export function weightToVariance(weight: Float32Array, out: Float32Array = new Float32Array(weight.length)): Float32Array {
  for (let i = 0; i < weight.length; i++) {
    const w = weight[i]!;
    out[i] = w > 0 && w < Infinity ? 1 / w : Infinity;
  }
  return out;
}

/**
 * A Uint32 mask marking every pixel that cannot be used: NaN/±Inf in the image, non-finite or
 * non-positive variance, or any of `badBits` set in the given mask. 1 = unusable.
 */
export function badPixelMap(img: MaskedImage, badBits = DEFAULT_BAD_MASK): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(n);
  const { image, variance, mask } = img;
  for (let i = 0; i < n; i++) {
    const v = image[i]!;
    // v - v is NaN for NaN and ±Infinity: one comparison covers both.
    if (v - v !== 0) out[i] = 1;
  }
  if (variance) for (let i = 0; i < n; i++) { const s = variance[i]!; if (!(s > 0 && s < Infinity)) out[i] = 1; }
  if (mask && badBits) for (let i = 0; i < n; i++) if (mask[i]! & badBits) out[i] = 1;
  return out;
}

/** A copy of a rectangular region [x0, x0+w) × [y0, y0+h) of a plane (0-based). */
export function cutout(plane: Float32Array, width: number, x0: number, y0: number, w: number, h: number): Float32Array {
  const out: Float32Array = new Float32Array(w * h);
  for (let y = 0; y < h; y++) out.set(plane.subarray((y0 + y) * width + x0, (y0 + y) * width + x0 + w), y * w);
  return out;
}
