/**
 * Warp a template onto the science pixel grid through both WCSs: Lanczos-3 interpolation,
 * flux-conserving (multiplied by the Jacobian: template pixels per science pixel, so counts
 * per science pixel), variance warped the same way times J², mask bits OR-ed over the
 * contributing neighbourhood, NO_DATA outside the template. The science → template pixel map is
 * evaluated exactly on a coarse grid (every `step` pixels) and interpolated bilinearly inside.
 *
 * Pixel convention: 0-based.
 */
import { MaskBits } from '../image/masked-image.js';
import { warpImage } from '../image/resample.js';
import type { Wcs } from '../wcs/wcs.js';
import type { DiffInput } from './subtract.js';

export interface WarpResult extends DiffInput {
  /** Fraction of science pixels with template data. */
  coverage: number;
}

export function warpTemplate(tmpl: DiffInput, tmplWcs: Wcs, sciWcs: Wcs, width: number, height: number, step = 32): WarpResult {
  const gx = Math.ceil((width - 1) / step) + 1, gy = Math.ceil((height - 1) / step) + 1;
  const px: number[] = [], py: number[] = [];
  for (let j = 0; j < gy; j++) for (let i = 0; i < gx; i++) { px.push(Math.min(i * step, width - 1)); py.push(Math.min(j * step, height - 1)); }
  const sky = sciWcs.pixToSky(px, py, 0);
  const tp = tmplWcs.skyToPix(sky.ra, sky.dec, 0);
  const mx = Float64Array.from(tp.x), my = Float64Array.from(tp.y);
  const nodeX = (i: number) => Math.min(i * step, width - 1), nodeY = (j: number) => Math.min(j * step, height - 1);
  const map = (y: number, xs: Float64Array, ys: Float64Array) => {
    const j = Math.min(gy - 2, Math.floor(y / step));
    const y0 = nodeY(j), y1 = nodeY(j + 1);
    const ty = y1 > y0 ? (y - y0) / (y1 - y0) : 0;
    for (let x = 0; x < width; x++) {
      const i = Math.min(gx - 2, Math.floor(x / step));
      const x0 = nodeX(i), x1 = nodeX(i + 1);
      const tx = x1 > x0 ? (x - x0) / (x1 - x0) : 0;
      const a = j * gx + i, b = a + 1, c = a + gx, d = c + 1;
      xs[x] = (1 - ty) * ((1 - tx) * mx[a]! + tx * mx[b]!) + ty * ((1 - tx) * mx[c]! + tx * mx[d]!);
      ys[x] = (1 - ty) * ((1 - tx) * my[a]! + tx * my[b]!) + ty * ((1 - tx) * my[c]! + tx * my[d]!);
    }
  };
  // Jacobian per grid cell (constant within a cell), from the node map
  const jac = new Float64Array((gx - 1) * (gy - 1));
  for (let j = 0; j < gy - 1; j++) for (let i = 0; i < gx - 1; i++) {
    const a = j * gx + i;
    const dx = nodeX(i + 1) - nodeX(i) || 1, dy = nodeY(j + 1) - nodeY(j) || 1;
    const dxdx = (mx[a + 1]! - mx[a]!) / dx, dydx = (my[a + 1]! - my[a]!) / dx;
    const dxdy = (mx[a + gx]! - mx[a]!) / dy, dydy = (my[a + gx]! - my[a]!) / dy;
    jac[j * (gx - 1) + i] = Math.abs(dxdx * dydy - dxdy * dydx);
  }
  const W = tmpl.width, H = tmpl.height;
  const src = new Float32Array(tmpl.image.length);
  const tm = tmpl.mask;
  for (let i = 0; i < src.length; i++) { const v = tmpl.image[i]!; src[i] = tm && tm[i]! & (MaskBits.NO_DATA | MaskBits.BAD | MaskBits.SAT) ? NaN : v; }
  const image = warpImage(src, W, H, width, height, map);
  const variance = tmpl.variance ? warpImage(tmpl.variance, W, H, width, height, map) : undefined;
  const mask = new Uint32Array(width * height);
  const xs = new Float64Array(width), ys = new Float64Array(width);
  let covered = 0;
  for (let y = 0; y < height; y++) {
    map(y, xs, ys);
    const jr = Math.min(gy - 2, Math.floor(y / step)) * (gx - 1);
    for (let x = 0; x < width; x++) {
      const k = y * width + x;
      const J = jac[jr + Math.min(gx - 2, Math.floor(x / step))]!;
      const v = image[k]!;
      if (v !== v) { mask[k] = MaskBits.NO_DATA; if (variance) variance[k] = NaN; continue; }
      covered++;
      image[k] = v * J;
      if (variance) variance[k] = variance[k]! * J * J;
      if (tm) {
        const ix = Math.round(xs[x]!), iy = Math.round(ys[x]!);
        let m = 0;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
          const xx = ix + dx, yy = iy + dy;
          if (xx >= 0 && yy >= 0 && xx < W && yy < H) m |= tm[yy * W + xx]!;
        }
        mask[k] = m;
      }
      if (x === 0 || y === 0 || x === width - 1 || y === height - 1) continue;
    }
  }
  return { width, height, image, variance, mask, psf: tmpl.psf, saturation: tmpl.saturation, gain: tmpl.gain, coverage: covered / (width * height) };
}
