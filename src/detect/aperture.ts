/**
 * Aperture photometry: circles with the EXACT area of overlap between the circle and each
 * pixel square, and ellipses (Kron/AUTO apertures) with 5 × 5 sub-pixel sampling of the
 * pixels the boundary crosses.
 *
 * Pixel convention: 0-based, pixel (i, j) is the unit square centred on (i, j).
 * Unusable pixels (bad map = 1) inside an aperture are replaced by the pixel symmetric about
 * the centre when that one is usable (SExtractor's MASK_TYPE CORRECT), else left out; either
 * way the result is flagged APERTURE_INCOMPLETE, as are apertures crossing the image edge.
 */

/** ½(x·√(r² − x²) + r²·asin(x/r)): the primitive of √(r² − x²), for |x| ≤ r. */
function prim(x: number, r: number): number {
  const t = x / r;
  const c = t >= 1 ? 0 : t <= -1 ? 0 : Math.sqrt(r * r - x * x);
  return 0.5 * (x * c + r * r * Math.asin(t > 1 ? 1 : t < -1 ? -1 : t));
}

/** Area of the disk of radius r at the origin intersected with {x ≤ X, y ≤ Y}. */
function quadrantArea(X: number, Y: number, r: number): number {
  if (X <= -r || Y <= -r) return 0;
  const Xc = X > r ? r : X;
  const g0 = (-Math.PI * r * r) / 4; // prim(−r)
  if (Y >= r) return 2 * (prim(Xc, r) - g0);
  const c = Math.sqrt(r * r - Y * Y);
  const lo = -c, hi = Math.min(c, Xc);
  if (Y >= 0) {
    let a = 2 * (prim(Xc, r) - g0);
    if (hi > lo) a -= prim(hi, r) - prim(lo, r) - Y * (hi - lo);
    return a;
  }
  if (hi <= lo) return 0;
  return prim(hi, r) - prim(lo, r) + Y * (hi - lo);
}

/**
 * Exact area of the intersection of the disk of radius r centred at the origin with the
 * rectangle [x0, x1] × [y0, y1] (as SEP's circoverlap, by a closed form).
 */
export function circleRectOverlap(x0: number, y0: number, x1: number, y1: number, r: number): number {
  if (r <= 0) return 0;
  return quadrantArea(x1, y1, r) - quadrantArea(x0, y1, r) - quadrantArea(x1, y0, r) + quadrantArea(x0, y0, r);
}

export const APERTURE_INCOMPLETE = 16;

/** Per-pixel inputs of aperture sums. */
export interface PixelPlanes {
  width: number;
  height: number;
  /** Background-subtracted image. */
  data: Float32Array;
  /**
   * Per-pixel variance (used for errors). When absent, every pixel has `constVariance` (e.g. the
   * local sky RMS² of the object being measured).
   */
  variance?: Float32Array;
  constVariance?: number;
  /** When > 0, the Poisson variance of the source, max(value, 0) / gain, is added per pixel. */
  gain?: number;
  /** 1 = unusable pixel (optional). */
  bad?: Uint8Array;
  /** Segmentation map (object NUMBER per pixel, 0 = sky), optional: used to mask neighbours. */
  segmentation?: Int32Array;
}

export interface ApertureSum {
  flux: number;
  variance: number;
  /** Area actually summed (after excluding unusable pixels that could not be corrected). */
  area: number;
  flags: number;
}

let edgeIx = new Float64Array(8), edgeVal = new Float64Array(8);

/*
 * Caches of sumCircles' exact-overlap terms. quadrantArea(X, Y, r) needs prim(min(X, r)) — a
 * function of the pixel column's edge alone — and c = √(r² − Y²), prim(c), prim(−c) — functions of
 * the row's edge alone; so each is evaluated once per column or row edge and radius, not once
 * per boundary pixel (the same values, hence bit-identical sums, with ~4× fewer asin calls).
 */
let colGen = new Int32Array(0), colPrim = new Float64Array(0);
let rowDone = new Uint8Array(0), rowData = new Float64Array(0);
let cacheGen = 0;

/** quadrantArea(X, Y, r) from cached parts: pX = prim(min(X, r)); row: c, prim(c), prim(−c) of Y. */
function quadrantAreaCached(X: number, pX: number, Y: number, c: number, pc: number, plo: number, r: number): number {
  if (X <= -r || Y <= -r) return 0;
  const Xc = X > r ? r : X;
  const g0 = (-Math.PI * r * r) / 4;
  if (Y >= r) return 2 * (pX - g0);
  const lo = -c, hi = Math.min(c, Xc);
  const ph = hi === c ? pc : pX;
  if (Y >= 0) {
    let a = 2 * (pX - g0);
    if (hi > lo) a -= ph - plo - Y * (hi - lo);
    return a;
  }
  if (hi <= lo) return 0;
  return ph - plo + Y * (hi - lo);
}

/** prim(min(X, r), r), or 0 where quadrantArea does not use it (X ≤ −r). */
function primX(X: number, r: number): number {
  return X <= -r ? 0 : prim(X > r ? r : X, r);
}

/**
 * Sum within circles of the given radii (ascending or not) centred at (xc, yc); results are
 * written into fluxOut/varOut/flagsOut at index offset + k. Exact pixel overlap.
 */
export function sumCircles(
  p: PixelPlanes, xc: number, yc: number, radii: ArrayLike<number>,
  fluxOut: Float64Array, varOut: Float64Array, flagsOut: Int32Array | Uint8Array | Int16Array | null, offset = 0,
): void {
  const nr = radii.length;
  let rmax = 0;
  for (let k = 0; k < nr; k++) { fluxOut[offset + k] = 0; varOut[offset + k] = 0; if (flagsOut) flagsOut[offset + k] = 0; rmax = Math.max(rmax, radii[k]!); }
  const { width, height, data, variance, bad } = p;
  const cv = p.constVariance ?? 0, ig = p.gain && p.gain > 0 ? 1 / p.gain : 0;
  const ix0 = Math.floor(xc - rmax - 0.5), ix1 = Math.ceil(xc + rmax + 0.5);
  const iy0 = Math.floor(yc - rmax - 0.5), iy1 = Math.ceil(yc + rmax + 0.5);
  // Exact overlap of a boundary pixel = E(right edge) − E(left edge), with
  // E(X) = Q(X, dy + ½) − Q(X, dy − ½) (Q: quadrantArea): a pixel's left edge is its left
  // neighbour's right edge, so E is evaluated once per edge and radius, not twice.
  if (edgeIx.length < nr) { edgeIx = new Float64Array(2 * nr); edgeVal = new Float64Array(2 * nr); }
  // column caches: [(ix − ix0)·nr + q]·2 + (0: left edge dx − ½, 1: right edge dx + ½)
  const ncol = (ix1 - ix0 + 1) * nr * 2;
  if (colGen.length < ncol) { colGen = new Int32Array(2 * ncol); colPrim = new Float64Array(2 * ncol); }
  // row caches, per radius: c, prim(c), prim(−c) of ylo then of yhi
  if (rowDone.length < nr) { rowDone = new Uint8Array(2 * nr); rowData = new Float64Array(12 * nr); }
  if (++cacheGen > 0x3fffffff) { cacheGen = 1; colGen.fill(0); }
  const gen = cacheGen;
  for (let iy = iy0; iy <= iy1; iy++) {
    const dy = iy - yc;
    const ady = Math.abs(dy);
    const nearY = ady > 0.5 ? ady - 0.5 : 0, farY = ady + 0.5;
    const ylo = dy - 0.5, yhi = dy + 0.5;
    edgeIx.fill(NaN, 0, nr);
    rowDone.fill(0, 0, nr);
    for (let ix = ix0; ix <= ix1; ix++) {
      const dx = ix - xc;
      const adx = Math.abs(dx);
      const nearX = adx > 0.5 ? adx - 0.5 : 0, farX = adx + 0.5;
      const near2 = nearX * nearX + nearY * nearY;
      if (near2 >= rmax * rmax) continue;
      const far2 = farX * farX + farY * farY;
      // pixel value (with correction)
      let v = 0, s = 0, ok = true, incomplete = false;
      if (ix < 0 || iy < 0 || ix >= width || iy >= height) { ok = false; incomplete = true; }
      else {
        const k = iy * width + ix;
        if (bad && bad[k]) {
          incomplete = true;
          const mx = Math.round(2 * xc - ix), my = Math.round(2 * yc - iy);
          if (mx >= 0 && my >= 0 && mx < width && my < height && !(bad[my * width + mx])) {
            const m = my * width + mx;
            v = data[m]!; s = (variance ? variance[m]! : cv) + (v > 0 ? v * ig : 0);
          } else ok = false;
        } else { v = data[k]!; s = (variance ? variance[k]! : cv) + (v > 0 ? v * ig : 0); }
      }
      for (let q = 0; q < nr; q++) {
        const r = radii[q]!;
        if (near2 >= r * r) continue;
        let w: number;
        if (far2 <= r * r) w = 1;
        else if (r <= 0) w = 0;
        else {
          // this row's edge terms for radius q (once per row)
          const ro = q * 6;
          if (!rowDone[q]) {
            rowDone[q] = 1;
            const cl = ylo > -r && ylo < r ? Math.sqrt(r * r - ylo * ylo) : 0;
            const ch = yhi > -r && yhi < r ? Math.sqrt(r * r - yhi * yhi) : 0;
            rowData[ro] = cl; rowData[ro + 1] = ylo > -r && ylo < r ? prim(cl, r) : 0; rowData[ro + 2] = ylo > -r && ylo < r ? prim(-cl, r) : 0;
            rowData[ro + 3] = ch; rowData[ro + 4] = yhi > -r && yhi < r ? prim(ch, r) : 0; rowData[ro + 5] = yhi > -r && yhi < r ? prim(-ch, r) : 0;
          }
          const cl = rowData[ro]!, pcl = rowData[ro + 1]!, plol = rowData[ro + 2]!;
          const ch = rowData[ro + 3]!, pch = rowData[ro + 4]!, ploh = rowData[ro + 5]!;
          let left: number;
          if (edgeIx[q] === ix - 1) left = edgeVal[q]!;
          else {
            const ci = ((ix - ix0) * nr + q) * 2, Xl = dx - 0.5;
            if (colGen[ci] !== gen) { colGen[ci] = gen; colPrim[ci] = primX(Xl, r); }
            const pXl = colPrim[ci]!;
            left = quadrantAreaCached(Xl, pXl, yhi, ch, pch, ploh, r) - quadrantAreaCached(Xl, pXl, ylo, cl, pcl, plol, r);
          }
          const ci = ((ix - ix0) * nr + q) * 2 + 1, Xr = dx + 0.5;
          if (colGen[ci] !== gen) { colGen[ci] = gen; colPrim[ci] = primX(Xr, r); }
          const pXr = colPrim[ci]!;
          const right = quadrantAreaCached(Xr, pXr, yhi, ch, pch, ploh, r) - quadrantAreaCached(Xr, pXr, ylo, cl, pcl, plol, r);
          edgeIx[q] = ix; edgeVal[q] = right;
          w = right - left;
        }
        if (w <= 0) continue;
        if (incomplete && flagsOut) flagsOut[offset + q] |= APERTURE_INCOMPLETE;
        if (!ok) continue;
        fluxOut[offset + q] += w * v;
        varOut[offset + q] += w * s;
      }
    }
  }
}

/** One circle (exact overlap); returns flux, variance, area and flags. */
export function sumCircle(p: PixelPlanes, xc: number, yc: number, r: number): ApertureSum {
  const f = new Float64Array(1), v = new Float64Array(1), fl = new Int32Array(1);
  sumCircles(p, xc, yc, [r], f, v, fl, 0);
  let area = 0;
  const { width, height, bad } = p;
  for (let iy = Math.floor(yc - r - 0.5); iy <= Math.ceil(yc + r + 0.5); iy++) {
    for (let ix = Math.floor(xc - r - 0.5); ix <= Math.ceil(xc + r + 0.5); ix++) {
      if (ix < 0 || iy < 0 || ix >= width || iy >= height) continue;
      if (bad && bad[iy * width + ix]) continue;
      area += circleRectOverlap(ix - xc - 0.5, iy - yc - 0.5, ix - xc + 0.5, iy - yc + 0.5, r);
    }
  }
  return { flux: f[0]!, variance: v[0]!, area, flags: fl[0]! };
}

const SUBE = 5;

/**
 * Sum within the ellipse cxx·dx² + cyy·dy² + cxy·dx·dy ≤ R² centred at (xc, yc), with 5 × 5
 * sub-sampling of boundary pixels. Pixels of other objects (segmentation ≠ 0 and ≠ id) and
 * unusable pixels are replaced by their mirror about the centre when that is usable and not
 * another object's; `neighbourFlux`/`neighbourArea` report the flux and area of the other
 * objects' pixels replaced, so callers can flag crowding. `bmin` is the ellipse's minor semi-axis (per unit R), for the
 * boundary test.
 */
export function sumEllipse(
  p: PixelPlanes, xc: number, yc: number, cxx: number, cyy: number, cxy: number, R: number, bmin: number, id: number,
): ApertureSum & { neighbourFlux: number; neighbourArea: number; badArea: number } {
  const { width, height, data, variance, bad, segmentation } = p;
  const cv = p.constVariance ?? 0, ig = p.gain && p.gain > 0 ? 1 / p.gain : 0;
  // bounding box of the ellipse: |dx| ≤ R·sqrt(cyy/det'), det' = cxx·cyy − cxy²/4
  const det = cxx * cyy - (cxy * cxy) / 4;
  const hx = det > 0 ? R * Math.sqrt(cyy / det) : R / Math.max(bmin, 1e-3);
  const hy = det > 0 ? R * Math.sqrt(cxx / det) : R / Math.max(bmin, 1e-3);
  const ix0 = Math.floor(xc - hx - 0.5), ix1 = Math.ceil(xc + hx + 0.5);
  const iy0 = Math.floor(yc - hy - 0.5), iy1 = Math.ceil(yc + hy + 0.5);
  const margin = 0.7072 / Math.max(bmin, 1e-3); // max change of r over half a pixel diagonal
  let flux = 0, vs = 0, area = 0, flags = 0, neighbourFlux = 0, neighbourArea = 0, badArea = 0;
  const R2 = R * R;
  for (let iy = iy0; iy <= iy1; iy++) {
    const dy = iy - yc;
    for (let ix = ix0; ix <= ix1; ix++) {
      const dx = ix - xc;
      const r2 = cxx * dx * dx + cyy * dy * dy + cxy * dx * dy;
      const r = Math.sqrt(r2);
      if (r - margin >= R) continue;
      let w: number;
      if (r + margin <= R) w = 1;
      else {
        let c = 0;
        for (let b = 0; b < SUBE; b++) {
          const sy = dy + (b + 0.5) / SUBE - 0.5;
          for (let a = 0; a < SUBE; a++) {
            const sx = dx + (a + 0.5) / SUBE - 0.5;
            if (cxx * sx * sx + cyy * sy * sy + cxy * sx * sy <= R2) c++;
          }
        }
        if (c === 0) continue;
        w = c / (SUBE * SUBE);
      }
      if (ix < 0 || iy < 0 || ix >= width || iy >= height) { flags |= APERTURE_INCOMPLETE; badArea += w; continue; }
      const k = iy * width + ix;
      const isBad = bad !== undefined && bad[k] === 1;
      const sg = segmentation ? segmentation[k]! : 0;
      const isNeighbour = sg !== 0 && sg !== id;
      if (isBad || isNeighbour) {
        if (isBad) { flags |= APERTURE_INCOMPLETE; badArea += w; }
        if (isNeighbour) { neighbourFlux += w * data[k]!; neighbourArea += w; }
        const mx = Math.round(2 * xc - ix), my = Math.round(2 * yc - iy);
        if (mx >= 0 && my >= 0 && mx < width && my < height) {
          const m = my * width + mx;
          const ms = segmentation ? segmentation[m]! : 0;
          if (!(bad && bad[m]) && (ms === 0 || ms === id)) {
            const dm = data[m]!;
            flux += w * dm; vs += w * ((variance ? variance[m]! : cv) + (dm > 0 ? dm * ig : 0)); area += w;
          }
        }
        continue;
      }
      const dk = data[k]!;
      flux += w * dk; vs += w * ((variance ? variance[k]! : cv) + (dk > 0 ? dk * ig : 0)); area += w;
    }
  }
  return { flux, variance: vs, area, flags, neighbourFlux, neighbourArea, badArea };
}
