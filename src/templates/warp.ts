/**
 * Warping an image (+ variance + mask) from its own pixel grid onto another one, given the WCS
 * of both: Lanczos-3 interpolation, flux-conserving, variance and mask propagated.
 *
 * Units. Images here are COUNTS PER PIXEL (not surface brightness). Interpolation gives the
 * value per source pixel at the target pixel's position; multiplying it by the area ratio
 * |det J| (J = ∂(source pixel)/∂(target pixel), i.e. source pixels per target pixel) makes it
 * counts per target pixel, so total fluxes are conserved. Variance is multiplied by |det J|².
 *
 * Variance. The warped value is v' = J·Σ w_k v_k with normalised Lanczos weights w_k; for
 * independent input pixels var(v') = J²·Σ w_k² var_k, which is what the variance plane holds.
 * Warped noise is CORRELATED between neighbouring output pixels (each input pixel feeds several
 * outputs): the per-pixel variance is right, but the variance of a sum of pixels is larger than
 * the sum of their variances by about 1 / mean(Σ w_k²) (reported as `varianceFactor` and in the
 * WRPVARF header keyword).
 *
 * Mask. Output mask = OR of the masks of the source pixels that contribute: by default the 2×2
 * bilinear neighbourhood (as LSST's warper uses a bilinear mask kernel, so a bad pixel grows by
 * about one pixel, not by the Lanczos radius), optionally the full 6×6 Lanczos footprint.
 * Source pixels that are NaN or carry one of `excludeMask` bits (default NO_DATA, BAD, SAT, CR)
 * are left out of the interpolation and the weights renormalised (their bits still propagate).
 * Target pixels that map outside the source image, or whose valid weight is below half, get
 * NaN image and variance and the NO_DATA bit.
 *
 * Pixel mapping. The full WCS chain (target pixel → sky → source pixel, with distortions) is
 * evaluated exactly on a coarse grid of nodes every `step` target pixels (plus the last row and
 * column), and a bicubic natural spline through the nodes gives every pixel's source position
 * and the Jacobian. The interpolation error is measured against the exact chain at every cell
 * centre; if it exceeds `tolerancePix` (default 0.01 px) the step is halved (down to 4 px).
 *
 * Pixel convention: 0-based (centre of the first pixel at 0, 0).
 */
import { MaskBits, type MaskedImage } from '../image/masked-image.js';
import { lanczos3, SplineGrid } from '../image/resample.js';
import type { Wcs } from '../wcs/wcs.js';
import { TesseraError } from '../util/errors.js';

/** The target → source pixel mapping of a warp, row by row. */
export interface PixelMap {
  /** Target grid size. */
  width: number;
  height: number;
  /** Node spacing used (target pixels). */
  step: number;
  /** Largest |interpolated − exact| source position measured at the cell centres (pixels). */
  maxErrorPix: number;
  /** Fill source coordinates and |det J| (source pixels per target pixel) of target row y. */
  row(y: number, xs: Float64Array, ys: Float64Array, jac?: Float64Array): void;
  /** Source position of one target pixel, exact (through the WCSs). */
  exact(x: number, y: number): [number, number];
}

export interface PixelMapOptions {
  /** Initial node spacing in target pixels (default 32). */
  step?: number;
  /** Maximum accepted interpolation error of the source position (default 0.01 px). */
  tolerancePix?: number;
}

function nodesFor(n: number, step: number): Float64Array {
  const k = Math.max(2, Math.ceil((n - 1) / step) + 1);
  const out = new Float64Array(k);
  for (let i = 0; i < k; i++) out[i] = Math.min(i * step, n - 1);
  if (n === 1) out[1] = 1; // degenerate 1-pixel axis: two distinct nodes
  return out;
}

/**
 * The mapping from target pixels (dstWcs, width × height) to source pixels (srcWcs), through
 * the sky. Throws TesseraError when the mapping is undefined at some node (the grids are on
 * opposite sides of a projection's horizon).
 */
export function wcsPixelMap(srcWcs: Wcs, dstWcs: Wcs, width: number, height: number, opts: PixelMapOptions = {}): PixelMap {
  const tol = opts.tolerancePix ?? 0.01;
  const exactMany = (px: Float64Array, py: Float64Array) => {
    const sky = dstWcs.pixToSky(px, py, 0);
    return srcWcs.skyToPix(sky.ra, sky.dec, 0);
  };
  let step = Math.max(4, Math.floor(opts.step ?? 32));
  for (;;) {
    const xn = nodesFor(width, step), yn = nodesFor(height, step);
    const nx = xn.length, ny = yn.length, n = nx * ny;
    // five evaluations per node: centre and ±h along x and y, for the Jacobian
    const h = 0.5;
    const px = new Float64Array(5 * n), py = new Float64Array(5 * n);
    for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
      const k = j * nx + i, x = xn[i]!, y = yn[j]!;
      px[k] = x; py[k] = y;
      px[n + k] = x + h; py[n + k] = y;
      px[2 * n + k] = x - h; py[2 * n + k] = y;
      px[3 * n + k] = x; py[3 * n + k] = y + h;
      px[4 * n + k] = x; py[4 * n + k] = y - h;
    }
    const s = exactMany(px, py);
    const mx = new Float64Array(n), my = new Float64Array(n), mj = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const a = (s.x[n + k]! - s.x[2 * n + k]!) / (2 * h), b = (s.x[3 * n + k]! - s.x[4 * n + k]!) / (2 * h);
      const c = (s.y[n + k]! - s.y[2 * n + k]!) / (2 * h), d = (s.y[3 * n + k]! - s.y[4 * n + k]!) / (2 * h);
      mx[k] = s.x[k]!; my[k] = s.y[k]!; mj[k] = Math.abs(a * d - b * c);
      if (!Number.isFinite(mx[k]!) || !Number.isFinite(my[k]!) || !Number.isFinite(mj[k]!)) {
        throw new TesseraError(`warp: the WCS mapping is undefined at target pixel (${px[k]! + 1}, ${py[k]! + 1}) (FITS convention): the images are too far apart on the sky`);
      }
    }
    const gx = new SplineGrid(mx, nx, ny, xn, yn, width);
    const gy = new SplineGrid(my, nx, ny, xn, yn, width);
    const gj = new SplineGrid(mj, nx, ny, xn, yn, width);
    // verify at cell centres (and edge-cell midpoints)
    const cx: number[] = [], cy: number[] = [];
    for (let j = 0; j < ny - 1; j++) for (let i = 0; i < nx - 1; i++) { cx.push((xn[i]! + xn[i + 1]!) / 2); cy.push((yn[j]! + yn[j + 1]!) / 2); }
    const e = exactMany(Float64Array.from(cx), Float64Array.from(cy));
    let maxErr = 0;
    for (let k = 0; k < cx.length; k++) {
      const ex = gx.at(cx[k]!, cy[k]!) - e.x[k]!, ey = gy.at(cx[k]!, cy[k]!) - e.y[k]!;
      const err = Math.hypot(ex, ey);
      if (!(err <= maxErr)) maxErr = Number.isFinite(err) ? err : Infinity;
    }
    if (maxErr > tol && step > 4) { step = Math.max(4, step >> 1); continue; }
    if (maxErr > tol) throw new TesseraError(`warp: the pixel mapping cannot be interpolated to ${tol} px (error ${maxErr.toPrecision(3)} px at a 4-px node step); the WCS is not smooth`);
    return {
      width, height, step, maxErrorPix: maxErr,
      row(y: number, xs: Float64Array, ys: Float64Array, jac?: Float64Array) {
        gx.row(y, xs); gy.row(y, ys);
        if (jac) gj.row(y, jac);
      },
      exact(x: number, y: number): [number, number] {
        const r = exactMany(Float64Array.of(x), Float64Array.of(y));
        return [r.x[0]!, r.y[0]!];
      },
    };
  }
}

/** Source mask bits left out of the interpolation by default. */
export const DEFAULT_EXCLUDE = MaskBits.NO_DATA | MaskBits.BAD | MaskBits.SAT | MaskBits.CR;

export interface WarpOptions extends PixelMapOptions {
  /** Source mask bits treated as missing data (default NO_DATA | BAD | SAT | CR). */
  excludeMask?: number;
  /** Which source pixels' masks are OR-ed into an output pixel (default 'bilinear'). */
  maskKernel?: 'bilinear' | 'lanczos3';
  /** Multiply by the pixel-area ratio (default true; counts per pixel). */
  conserveFlux?: boolean;
}

export interface WarpedImage {
  width: number;
  height: number;
  image: Float32Array;
  /** Present when the source had a variance plane. */
  variance?: Float32Array;
  mask: Uint32Array;
  /** Fraction of target pixels with data. */
  coverage: number;
  /** Mean Σw² over pixels with data: the per-pixel variance reduction by interpolation (see the module notes). */
  varianceFactor: number;
  /** The mapping used (its node step and verified maximum error). */
  map: { step: number; maxErrorPix: number };
}

/**
 * Warp a masked image from its grid (srcWcs) onto a width × height target grid (dstWcs).
 * For a sub-box of a big target grid, pass `dstWcs.shifted(x0, y0)`.
 */
export function warpMaskedImage(src: MaskedImage, srcWcs: Wcs, dstWcs: Wcs, width: number, height: number, opts: WarpOptions = {}): WarpedImage {
  const map = wcsPixelMap(srcWcs, dstWcs, width, height, opts);
  return warpWithMap(src, map, opts);
}

/** Warp through a given pixel map (see warpMaskedImage). */
export function warpWithMap(src: MaskedImage, map: PixelMap, opts: WarpOptions = {}): WarpedImage {
  const W = src.width, H = src.height;
  const { width, height } = map;
  const simg = src.image, svar = src.variance, smask = src.mask;
  const exclude = opts.excludeMask ?? DEFAULT_EXCLUDE;
  const fullMask = opts.maskKernel === 'lanczos3';
  const conserve = opts.conserveFlux ?? true;
  // source pixels to leave out: NaN, or excluded mask bits. Pre-NaN a copy of the image when a
  // mask excludes anything, so the hot loop needs only the NaN test.
  let img = simg;
  if (smask && exclude) {
    let any = false;
    for (let i = 0; i < smask.length; i++) if (smask[i]! & exclude) { any = true; break; }
    if (any) {
      img = new Float32Array(simg);
      for (let i = 0; i < smask.length; i++) if (smask[i]! & exclude) img[i] = NaN;
    }
  }
  const image = new Float32Array(width * height);
  const variance = svar ? new Float32Array(width * height) : undefined;
  const mask = new Uint32Array(width * height);
  const xs = new Float64Array(width), ys = new Float64Array(width), jac = new Float64Array(width);
  const wx = new Float64Array(6), wy = new Float64Array(6);
  const T = weightTable();
  let covered = 0, sumW2 = 0;
  for (let y = 0; y < height; y++) {
    map.row(y, xs, ys, jac);
    const orow = y * width;
    for (let x = 0; x < width; x++) {
      const o = orow + x;
      const sx = xs[x]!, sy = ys[x]!;
      if (!(sx >= -0.5 && sx <= W - 0.5 && sy >= -0.5 && sy <= H - 0.5)) {
        image[o] = NaN; if (variance) variance[o] = NaN; mask[o] = MaskBits.NO_DATA; continue;
      }
      const ix = Math.floor(sx), iy = Math.floor(sy);
      const fx = sx - ix, fy = sy - iy;
      const J = conserve ? jac[x]! : 1;
      if (ix >= 2 && iy >= 2 && ix + 3 < W && iy + 3 < H) {
        // interior fast path: tabulated normalised weights (offsets quantised to 1/TABLE_RES px)
        const tx = ((fx * TABLE_RES + 0.5) | 0) * 8, ty = ((fy * TABLE_RES + 0.5) | 0) * 8;
        let base = (iy - 2) * W + ix - 2;
        let s = 0;
        for (let j = 0; j < 6; j++, base += W) {
          const r = T[tx]! * img[base]! + T[tx + 1]! * img[base + 1]! + T[tx + 2]! * img[base + 2]!
            + T[tx + 3]! * img[base + 3]! + T[tx + 4]! * img[base + 4]! + T[tx + 5]! * img[base + 5]!;
          s += T[ty + j]! * r;
        }
        if (s === s) {
          image[o] = s * J;
          if (svar) {
            base = (iy - 2) * W + ix - 2;
            let sv = 0;
            for (let j = 0; j < 6; j++, base += W) {
              const wxa = T[tx]!, wxb = T[tx + 1]!, wxc = T[tx + 2]!, wxd = T[tx + 3]!, wxe = T[tx + 4]!, wxf = T[tx + 5]!;
              const r = wxa * wxa * svar[base]! + wxb * wxb * svar[base + 1]! + wxc * wxc * svar[base + 2]!
                + wxd * wxd * svar[base + 3]! + wxe * wxe * svar[base + 4]! + wxf * wxf * svar[base + 5]!;
              const wj = T[ty + j]!;
              sv += wj * wj * r;
            }
            variance![o] = sv * J * J;
          }
          sumW2 += T[tx + 6]! * T[ty + 6]!;
          covered++;
          if (smask) {
            const q = iy * W + ix;
            let m = smask[q]!;
            if (fx > 0) m |= smask[q + 1]!;
            if (fy > 0) { m |= smask[q + W]!; if (fx > 0) m |= smask[q + W + 1]!; }
            mask[o] = fullMask ? orMask(smask, W, H, ix, iy, fx, fy, true) : m;
          }
          continue;
        }
      }
      // general path (image edges, missing pixels): exact weights, zero outside the image,
      // each axis normalised to sum 1; NaN taps left out and the weights renormalised in 2-D
      let swx = 0, swy = 0;
      for (let k = 0; k < 6; k++) {
        const cx = ix - 2 + k, cy = iy - 2 + k;
        const a = cx >= 0 && cx < W ? lanczos3(fx - (k - 2)) : 0;
        const b = cy >= 0 && cy < H ? lanczos3(fy - (k - 2)) : 0;
        wx[k] = a; wy[k] = b; swx += a; swy += b;
      }
      const nx = 1 / swx, ny = 1 / swy;
      for (let k = 0; k < 6; k++) { wx[k]! *= nx; wy[k]! *= ny; }
      const k0 = ix - 2 < 0 ? 2 - ix : 0, k1 = ix + 3 >= W ? W - ix + 2 : 6;
      const j0 = iy - 2 < 0 ? 2 - iy : 0, j1 = iy + 3 >= H ? H - iy + 2 : 6;
      let s = 0, norm = 0;
      for (let j = j0; j < j1; j++) {
        const base = (iy - 2 + j) * W + ix - 2;
        for (let k = k0; k < k1; k++) {
          const v = img[base + k]!;
          if (v !== v) continue;
          const w = wy[j]! * wx[k]!;
          s += w * v; norm += w;
        }
      }
      if (!(norm >= 0.5)) { image[o] = NaN; if (variance) variance[o] = NaN; mask[o] = MaskBits.NO_DATA | orMask(smask, W, H, ix, iy, fx, fy, fullMask); continue; }
      image[o] = (s / norm) * J;
      const inv = 1 / norm;
      let sv = 0, w2 = 0;
      for (let j = j0; j < j1; j++) {
        const base = (iy - 2 + j) * W + ix - 2;
        const wj = wy[j]! * inv;
        for (let k = k0; k < k1; k++) {
          if (img[base + k]! !== img[base + k]!) continue;
          const w = wj * wx[k]!;
          w2 += w * w;
          if (svar) sv += w * w * svar[base + k]!;
        }
      }
      if (variance) variance[o] = sv * J * J;
      sumW2 += w2;
      covered++;
      if (smask) mask[o] = orMask(smask, W, H, ix, iy, fx, fy, fullMask);
    }
  }
  return { width, height, image, variance, mask, coverage: covered / (width * height), varianceFactor: covered ? sumW2 / covered : 1, map: { step: map.step, maxErrorPix: map.maxErrorPix } };
}

/** Resolution of the tabulated Lanczos-3 weights: fractional offsets are rounded to 1/TABLE_RES px (≤ 0.00025 px). */
const TABLE_RES = 2048;
let WEIGHTS: Float64Array | undefined;
/**
 * For each fractional offset f = i / TABLE_RES (i = 0..TABLE_RES): the six Lanczos-3 weights of
 * taps −2..+3 normalised to sum 1 (slots 0–5), and the sum of their squares (slot 6).
 */
function weightTable(): Float64Array {
  if (WEIGHTS) return WEIGHTS;
  const t = new Float64Array((TABLE_RES + 1) * 8);
  for (let i = 0; i <= TABLE_RES; i++) {
    const f = i / TABLE_RES;
    let s = 0;
    for (let k = 0; k < 6; k++) { const w = lanczos3(f - (k - 2)); t[i * 8 + k] = w; s += w; }
    let s2 = 0;
    for (let k = 0; k < 6; k++) { t[i * 8 + k]! /= s; s2 += t[i * 8 + k]! ** 2; }
    t[i * 8 + 6] = s2;
  }
  return (WEIGHTS = t);
}

/** OR of the source mask over the bilinear 2×2 (or Lanczos 6×6) neighbourhood of (ix+fx, iy+fy). */
function orMask(m: Uint32Array | undefined, W: number, H: number, ix: number, iy: number, fx: number, fy: number, full: boolean): number {
  if (!m) return 0;
  let x0: number, x1: number, y0: number, y1: number;
  if (full) { x0 = ix - 2; x1 = ix + 3; y0 = iy - 2; y1 = iy + 3; }
  else { x0 = ix; x1 = fx > 0 ? ix + 1 : ix; y0 = iy; y1 = fy > 0 ? iy + 1 : iy; }
  if (x0 < 0) x0 = 0; if (y0 < 0) y0 = 0; if (x1 > W - 1) x1 = W - 1; if (y1 > H - 1) y1 = H - 1;
  let r = 0;
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) r |= m[y * W + x]!;
  return r;
}

/** Header cards describing a warp (for the warped image's header). */
export function warpHeaderCards(w: Pick<WarpedImage, 'varianceFactor' | 'map'>): { key: string; value: string | number | boolean; comment: string }[] {
  return [
    { key: 'WRPKERN', value: 'LANCZOS3', comment: 'warp interpolation kernel' },
    { key: 'WRPSTEP', value: w.map.step, comment: 'WCS evaluated every N px, bicubic spline between' },
    { key: 'WRPMAPER', value: Number(w.map.maxErrorPix.toPrecision(3)), comment: '[px] max error of the interpolated pixel map' },
    { key: 'WRPVARF', value: Number(w.varianceFactor.toFixed(4)), comment: 'mean sum w^2: noise is correlated between pixels' },
    { key: 'WRPFLUX', value: 'COUNTS', comment: 'counts per pixel, scaled by pixel-area ratio' },
  ];
}
