/**
 * Aperture photometry: circles with the EXACT area of overlap between the circle and each
 * pixel square, and ellipses (Kron/AUTO apertures) with 5 × 5 sub-pixel sampling of the
 * pixels the boundary crosses.
 *
 * Pixel convention: 0-based, pixel (i, j) is the unit square centred on (i, j).
 * Unusable pixels (bad map = 1) inside an aperture are replaced by the pixel symmetric about
 * the centre when that one is usable (SExtractor's MASK_TYPE CORRECT), else left out; either
 * way the result is flagged APERTURE_INCOMPLETE, as are apertures crossing the image edge.
 *
 * The sources' Poisson term max(v, 0)/gain is written (v + |v|)·½·(1/gain): the same value for
 * every finite v, without a branch that noise-dominated pixels (half of them negative) mispredict.
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

/**
 * PixelPlanes with every field present, always in the same order: the aperture and window
 * functions then see one object shape from every caller (detection, calibration, PSF
 * measurements), so V8 compiles them once instead of deoptimising on a second shape.
 */
export function pixelPlanes(p: PixelPlanes): PixelPlanes {
  return {
    width: p.width, height: p.height, data: p.data, variance: p.variance, constVariance: p.constVariance ?? 0,
    gain: p.gain ?? 0, bad: p.bad, segmentation: p.segmentation,
  };
}

export interface ApertureSum {
  flux: number;
  variance: number;
  /** Area actually summed (after excluding unusable pixels that could not be corrected). */
  area: number;
  flags: number;
}

/*
 * Caches of sumCircles' exact-overlap terms. quadrantArea(X, Y, r) needs prim(min(X, r)) — a
 * function of the pixel column's edge alone — and c = √(r² − Y²), prim(c), prim(−c) — functions of
 * the row's edge alone; so each is evaluated once per column or row edge and radius, not once
 * per boundary pixel (the same values, hence bit-identical sums, with ~4× fewer asin calls).
 */
let colGen = new Int32Array(0), colPrim = new Float64Array(0);
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
  if (colGen.length < 64) { colGen = new Int32Array(256); colPrim = new Float64Array(256); }
  for (let k = 0; k < nr; k++) {
    sumOneCircle(p, xc, yc, radii[k]!, circleOut);
    fluxOut[offset + k] = circleOut[0]!; varOut[offset + k] = circleOut[1]!;
    if (flagsOut) flagsOut[offset + k] = circleOut[2]!;
  }
}

const circleOut = new Float64Array(3);

/**
 * One circle of radius r (0-based centre): out = [flux, variance, flags]. Pixels wholly inside
 * are summed in tight runs per row; the pixels the circle's edge crosses get their exact area
 * (E(right edge) − E(left edge), E(X) = Q(X, dy + ½) − Q(X, dy − ½), Q = quadrantArea from the
 * cached per-column and per-row parts). Sums in raster order, as pixel-by-pixel accumulation.
 */
function sumOneCircle(p: PixelPlanes, xc: number, yc: number, r: number, out: Float64Array): void {
  out[0] = 0; out[1] = 0; out[2] = 0;
  if (!(r > 0)) return;
  const { width, height, data, variance, bad } = p;
  const cv = p.constVariance ?? 0, ig = p.gain && p.gain > 0 ? 1 / p.gain : 0;
  const rr = r * r;
  const ix0 = Math.floor(xc - r - 0.5), ix1 = Math.ceil(xc + r + 0.5);
  const iy0 = Math.floor(yc - r - 0.5), iy1 = Math.ceil(yc + r + 0.5);
  const ncol = (ix1 - ix0 + 1) * 2;
  if (colGen.length < ncol) { colGen = new Int32Array(2 * ncol); colPrim = new Float64Array(2 * ncol); }
  if (++cacheGen > 0x3fffffff) { cacheGen = 1; colGen.fill(0); }
  const gen = cacheGen;
  let flux = 0, vsum = 0, flags = 0;
  for (let iy = iy0; iy <= iy1; iy++) {
    const dy = iy - yc;
    const ady = Math.abs(dy);
    const nearY = ady > 0.5 ? ady - 0.5 : 0, farY = ady + 0.5;
    if (nearY * nearY >= rr) continue;
    const ylo = dy - 0.5, yhi = dy + 0.5;
    // this row's edge terms (on first use)
    let rowReady = false;
    let cl = 0, pcl = 0, plol = 0, ch = 0, pch = 0, ploh = 0;
    let edgeIx = NaN, edgeVal = 0;
    const rowIn = iy >= 0 && iy < height;
    for (let ix = ix0; ix <= ix1; ix++) {
      const dx = ix - xc;
      const adx = Math.abs(dx);
      const nearX = adx > 0.5 ? adx - 0.5 : 0, farX = adx + 0.5;
      const near2 = nearX * nearX + nearY * nearY;
      if (near2 >= rr) continue;
      const far2 = farX * farX + farY * farY;
      if (far2 <= rr && rowIn && ix >= 0 && ix < width) {
        // a run of whole pixels: up to the last one wholly inside (and inside the image)
        let jx = ix;
        for (;;) {
          const nx = jx + 1;
          if (nx >= width) break;
          const ax = Math.abs(nx - xc);
          const fx = ax + 0.5;
          if (!(fx * fx + farY * farY <= rr)) break;
          const nxn = ax > 0.5 ? ax - 0.5 : 0;
          if (nxn * nxn + nearY * nearY >= rr) break;
          jx = nx;
        }
        const k0 = iy * width;
        for (let x = ix; x <= jx; x++) {
          const k = k0 + x;
          let v: number, sv: number;
          if (bad && bad[k]) {
            flags |= APERTURE_INCOMPLETE;
            const mx = Math.round(2 * xc - x), my = Math.round(2 * yc - iy);
            if (!(mx >= 0 && my >= 0 && mx < width && my < height && !(bad[my * width + mx]))) continue;
            const m = my * width + mx;
            v = data[m]!; sv = (variance ? variance[m]! : cv) + (v + Math.abs(v)) * 0.5 * ig;
          } else { v = data[k]!; sv = (variance ? variance[k]! : cv) + (v + Math.abs(v)) * 0.5 * ig; }
          flux += v; vsum += sv;
        }
        ix = jx;
        continue;
      }
      // pixel value (with correction)
      let v = 0, sv = 0, ok = true, incomplete = false;
      if (ix < 0 || !rowIn || ix >= width) { ok = false; incomplete = true; }
      else {
        const k = iy * width + ix;
        if (bad && bad[k]) {
          incomplete = true;
          const mx = Math.round(2 * xc - ix), my = Math.round(2 * yc - iy);
          if (mx >= 0 && my >= 0 && mx < width && my < height && !(bad[my * width + mx])) {
            const m = my * width + mx;
            v = data[m]!; sv = (variance ? variance[m]! : cv) + (v + Math.abs(v)) * 0.5 * ig;
          } else ok = false;
        } else { v = data[k]!; sv = (variance ? variance[k]! : cv) + (v + Math.abs(v)) * 0.5 * ig; }
      }
      let w: number;
      if (far2 <= rr) w = 1;
      else {
        if (!rowReady) {
          rowReady = true;
          if (ylo > -r && ylo < r) { cl = Math.sqrt(rr - ylo * ylo); pcl = prim(cl, r); plol = prim(-cl, r); }
          if (yhi > -r && yhi < r) { ch = Math.sqrt(rr - yhi * yhi); pch = prim(ch, r); ploh = prim(-ch, r); }
        }
        let left: number;
        if (edgeIx === ix - 1) left = edgeVal;
        else {
          const ci = (ix - ix0) * 2, Xl = dx - 0.5;
          if (colGen[ci] !== gen) { colGen[ci] = gen; colPrim[ci] = primX(Xl, r); }
          const pXl = colPrim[ci]!;
          left = quadrantAreaCached(Xl, pXl, yhi, ch, pch, ploh, r) - quadrantAreaCached(Xl, pXl, ylo, cl, pcl, plol, r);
        }
        const ci = (ix - ix0) * 2 + 1, Xr = dx + 0.5;
        if (colGen[ci] !== gen) { colGen[ci] = gen; colPrim[ci] = primX(Xr, r); }
        const pXr = colPrim[ci]!;
        const right = quadrantAreaCached(Xr, pXr, yhi, ch, pch, ploh, r) - quadrantAreaCached(Xr, pXr, ylo, cl, pcl, plol, r);
        edgeIx = ix; edgeVal = right;
        w = right - left;
      }
      if (w <= 0) continue;
      if (incomplete) flags |= APERTURE_INCOMPLETE;
      if (!ok) continue;
      flux += w * v;
      vsum += w * sv;
    }
  }
  out[0] = flux; out[1] = vsum; out[2] = flags;
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
            flux += w * dm; vs += w * ((variance ? variance[m]! : cv) + (dm + Math.abs(dm)) * 0.5 * ig); area += w;
          }
        }
        continue;
      }
      const dk = data[k]!;
      flux += w * dk; vs += w * ((variance ? variance[k]! : cv) + (dk + Math.abs(dk)) * 0.5 * ig); area += w;
    }
  }
  return { flux, variance: vs, area, flags, neighbourFlux, neighbourArea, badArea };
}
