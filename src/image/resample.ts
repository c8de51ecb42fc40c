/**
 * Resampling: Lanczos-3 interpolation of points and warping of whole images through a
 * pixel → pixel mapping (difference imaging), bilinear interpolation, and natural cubic
 * splines on a grid of nodes (smooth maps such as the background).
 *
 * Pixel convention: 0-based, the centre of pixel (i, j) at (x, y) = (i, j).
 */

const LANCZOS_A = 3;
const LUT_RES = 2048; // samples per unit
const lanczosLut = (() => {
  const n = LANCZOS_A * LUT_RES + 2;
  const t = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = i / LUT_RES;
    if (x === 0) t[i] = 1;
    else if (x >= LANCZOS_A) t[i] = 0;
    else {
      const px = Math.PI * x;
      t[i] = (LANCZOS_A * Math.sin(px) * Math.sin(px / LANCZOS_A)) / (px * px);
    }
  }
  return t;
})();

/** The Lanczos-3 kernel L(x) = sinc(x)·sinc(x/3) for |x| < 3 (tabulated, linear interpolation). */
export function lanczos3(x: number): number {
  const a = Math.abs(x) * LUT_RES;
  if (a >= LANCZOS_A * LUT_RES) return 0;
  const i = Math.floor(a);
  const f = a - i;
  return lanczosLut[i]! * (1 - f) + lanczosLut[i + 1]! * f;
}

const wx = new Float64Array(6), wy = new Float64Array(6);

/**
 * Lanczos-3 interpolation of an image at (x, y). Pixels outside the image or NaN are left out
 * and the weights renormalised; NaN if (x, y) lies outside [−0.5, width−0.5] × [−0.5, height−0.5]
 * or no valid pixel contributes.
 */
export function interpolateLanczos3(src: Float32Array, width: number, height: number, x: number, y: number): number {
  if (!(x >= -0.5 && x <= width - 0.5 && y >= -0.5 && y <= height - 0.5)) return NaN;
  const ix = Math.floor(x), iy = Math.floor(y);
  const fx = x - ix, fy = y - iy;
  for (let k = 0; k < 6; k++) { wx[k] = lanczos3(fx - (k - 2)); wy[k] = lanczos3(fy - (k - 2)); }
  let s = 0, ws = 0;
  for (let j = 0; j < 6; j++) {
    const yy = iy + j - 2;
    if (yy < 0 || yy >= height) continue;
    const row = yy * width;
    const wyj = wy[j]!;
    for (let i = 0; i < 6; i++) {
      const xx = ix + i - 2;
      if (xx < 0 || xx >= width) continue;
      const v = src[row + xx]!;
      if (v !== v) continue;
      const w = wyj * wx[i]!;
      s += w * v;
      ws += w;
    }
  }
  return ws !== 0 ? s / ws : NaN;
}

/** Bilinear interpolation at (x, y), clamped to the image edges. */
export function interpolateBilinear(src: Float32Array, width: number, height: number, x: number, y: number): number {
  const cx = Math.min(Math.max(x, 0), width - 1), cy = Math.min(Math.max(y, 0), height - 1);
  const ix = Math.min(Math.floor(cx), width - 2 < 0 ? 0 : width - 2), iy = Math.min(Math.floor(cy), height - 2 < 0 ? 0 : height - 2);
  const fx = width > 1 ? cx - ix : 0, fy = height > 1 ? cy - iy : 0;
  const x1 = width > 1 ? ix + 1 : ix, y1 = height > 1 ? iy + 1 : iy;
  const a = src[iy * width + ix]!, b = src[iy * width + x1]!, c = src[y1 * width + ix]!, d = src[y1 * width + x1]!;
  return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
}

/**
 * Fills, for output row `y`, the input coordinates (xs[i], ys[i]) of output pixels i = 0..outWidth−1.
 * A mapping given per row lets callers evaluate WCS transforms in vectorised batches.
 */
export type RowMapping = (y: number, xs: Float64Array, ys: Float64Array) => void;

export interface WarpOptions {
  kernel?: 'lanczos3' | 'bilinear';
  /** Value for output pixels that map outside the input (default NaN). */
  fill?: number;
}

/**
 * Warp an image: out(x, y) = src(map(x, y)) for every output pixel, with Lanczos-3 (default,
 * flux-conserving for well-sampled images up to the Jacobian) or bilinear interpolation.
 */
export function warpImage(
  src: Float32Array, width: number, height: number,
  outWidth: number, outHeight: number, map: RowMapping, opts: WarpOptions = {},
  out: Float32Array = new Float32Array(outWidth * outHeight),
): Float32Array {
  const fill = opts.fill ?? NaN;
  const xs = new Float64Array(outWidth), ys = new Float64Array(outWidth);
  const lanczos = (opts.kernel ?? 'lanczos3') === 'lanczos3';
  for (let y = 0; y < outHeight; y++) {
    map(y, xs, ys);
    const o = y * outWidth;
    for (let x = 0; x < outWidth; x++) {
      const sx = xs[x]!, sy = ys[x]!;
      if (!(sx >= -0.5 && sx <= width - 0.5 && sy >= -0.5 && sy <= height - 0.5)) { out[o + x] = fill; continue; }
      const v = lanczos ? interpolateLanczos3(src, width, height, sx, sy) : interpolateBilinear(src, width, height, sx, sy);
      out[o + x] = v === v ? v : fill;
    }
  }
  return out;
}

/**
 * Second derivatives of the natural cubic spline through (xs[i], ys[i]) (xs increasing), read
 * with stride from ys (so grid columns need no copy). Returns y'' at the nodes.
 */
export function splineSecondDerivatives(xs: ArrayLike<number>, ys: ArrayLike<number>, n: number, offset = 0, stride = 1, out: Float64Array = new Float64Array(n)): Float64Array {
  if (n < 3) { out.fill(0, 0, n); return out; }
  const u = new Float64Array(n);
  out[0] = 0; u[0] = 0;
  for (let i = 1; i < n - 1; i++) {
    const sig = (xs[i]! - xs[i - 1]!) / (xs[i + 1]! - xs[i - 1]!);
    const p = sig * out[i - 1]! + 2;
    out[i] = (sig - 1) / p;
    const yi = ys[offset + i * stride]!, yp = ys[offset + (i - 1) * stride]!, yn = ys[offset + (i + 1) * stride]!;
    const d = (yn - yi) / (xs[i + 1]! - xs[i]!) - (yi - yp) / (xs[i]! - xs[i - 1]!);
    u[i] = ((6 * d) / (xs[i + 1]! - xs[i - 1]!) - sig * u[i - 1]!) / p;
  }
  out[n - 1] = 0;
  for (let k = n - 2; k >= 0; k--) out[k] = out[k]! * out[k + 1]! + u[k]!;
  return out;
}

/**
 * Evaluate a natural cubic spline (nodes xs, values ys, second derivatives d2) at x. Outside the
 * node range the end cubic segment is continued (SExtractor's background does the same).
 */
export function splineEval(xs: ArrayLike<number>, ys: ArrayLike<number>, d2: ArrayLike<number>, n: number, x: number): number {
  if (n === 1) return ys[0]!;
  let k = 0;
  if (x >= xs[n - 1]!) k = n - 2;
  else if (x > xs[0]!) {
    let lo = 0, hi = n - 1;
    while (hi - lo > 1) { const m = (lo + hi) >> 1; if (xs[m]! > x) hi = m; else lo = m; }
    k = lo;
  }
  const h = xs[k + 1]! - xs[k]!;
  const b = (x - xs[k]!) / h, a = 1 - b;
  return a * ys[k]! + b * ys[k + 1]! + ((a * a * a - a) * d2[k]! + (b * b * b - b) * d2[k + 1]!) * (h * h) / 6;
}

/**
 * Segment k and weights of a natural cubic spline evaluation at x (nodes xs, n of them):
 * value = a·y[k] + b·y[k+1] + c·y''[k] + d·y''[k+1]. Outside the nodes the end segments continue.
 */
export function splineWeights(xs: ArrayLike<number>, n: number, x: number): { k: number; a: number; b: number; c: number; d: number } {
  if (n === 1) return { k: 0, a: 1, b: 0, c: 0, d: 0 };
  let k = 0;
  if (x >= xs[n - 1]!) k = n - 2;
  else if (x > xs[0]!) {
    let lo = 0, hi = n - 1;
    while (hi - lo > 1) { const m = (lo + hi) >> 1; if (xs[m]! > x) hi = m; else lo = m; }
    k = lo;
  }
  const h = xs[k + 1]! - xs[k]!;
  const b = (x - xs[k]!) / h, a = 1 - b;
  return { k, a, b, c: ((a * a * a - a) * h * h) / 6, d: ((b * b * b - b) * h * h) / 6 };
}

/**
 * Row-by-row evaluator of a bicubic natural spline through a grid of node values (nx × ny,
 * row-major, node (i, j) at pixel position (xNodes[i], yNodes[j])), for images of width outW.
 * `row(y, out, offset)` fills outW values of image row y: first a spline along y for every node
 * column (O(nx)), then along x. With one node along an axis the map is constant along it; with
 * two, linear. Outside the nodes the end segments continue.
 */
export class SplineGrid {
  private readonly d2y: Float64Array;
  private readonly rowVals: Float64Array;
  private readonly rowD2: Float64Array;
  private readonly seg: Int32Array;
  private readonly wx: Float64Array; // a, b, c, d per x
  constructor(
    private readonly values: Float64Array | Float32Array, private readonly nx: number, private readonly ny: number,
    private readonly xNodes: ArrayLike<number>, private readonly yNodes: ArrayLike<number>, readonly outW: number,
  ) {
    this.d2y = new Float64Array(nx * ny);
    const col = new Float64Array(ny), colVals = new Float64Array(ny);
    for (let i = 0; i < nx; i++) {
      for (let j = 0; j < ny; j++) colVals[j] = values[j * nx + i]!;
      splineSecondDerivatives(yNodes, colVals, ny, 0, 1, col);
      for (let j = 0; j < ny; j++) this.d2y[j * nx + i] = col[j]!;
    }
    this.rowVals = new Float64Array(nx);
    this.rowD2 = new Float64Array(nx);
    this.seg = new Int32Array(outW);
    this.wx = new Float64Array(outW * 4);
    for (let x = 0; x < outW; x++) {
      const w = splineWeights(xNodes, nx, x);
      this.seg[x] = w.k;
      this.wx[4 * x] = w.a; this.wx[4 * x + 1] = w.b; this.wx[4 * x + 2] = w.c; this.wx[4 * x + 3] = w.d;
    }
  }

  /** The node values of the spline along y at row y (then their x second derivatives). */
  private prepareRow(y: number): void {
    const { nx, ny, values, d2y, rowVals } = this;
    const sy = splineWeights(this.yNodes, ny, y);
    const r0 = sy.k * nx, r1 = ny > 1 ? r0 + nx : r0;
    for (let i = 0; i < nx; i++) rowVals[i] = sy.a * values[r0 + i]! + sy.b * values[r1 + i]! + sy.c * d2y[r0 + i]! + sy.d * d2y[r1 + i]!;
    if (nx > 1) splineSecondDerivatives(this.xNodes, rowVals, nx, 0, 1, this.rowD2);
  }

  /** Fill out[offset .. offset + outW) with image row y. */
  row(y: number, out: Float32Array | Float64Array, offset = 0): void {
    this.prepareRow(y);
    const { rowVals, rowD2, outW } = this;
    if (this.nx === 1) { out.fill(rowVals[0]!, offset, offset + outW); return; }
    const seg = this.seg, xs = this.xNodes;
    // walk segment by segment: inside one the spline is a cubic in x, evaluated by forward
    // differences (three additions per pixel)
    let x = 0;
    while (x < outW) {
      const k = seg[x]!;
      let e = x;
      while (e < outW && seg[e] === k) e++;
      const x0 = xs[k]!, h = xs[k + 1]! - x0;
      const y0 = rowVals[k]!, y1 = rowVals[k + 1]!, c0 = rowD2[k]!, c1 = rowD2[k + 1]!;
      // p(t) with t = (x − x0)/h: a·y0 + b·y1 + (a³ − a)·h²c0/6 + (b³ − b)·h²c1/6, a = 1 − t, b = t
      // → p(t) = P0 + P1·t + P2·t² + P3·t³
      const g0 = (h * h * c0) / 6, g1 = (h * h * c1) / 6;
      const P0 = y0;
      const P1 = y1 - y0 - 2 * g0 - g1;
      const P2 = 3 * g0;
      const P3 = g1 - g0;
      // forward differences with step dt = 1/h starting at t0 = (x − x0)/h
      const dt = 1 / h, t0 = (x - x0) * dt;
      let v = P0 + t0 * (P1 + t0 * (P2 + t0 * P3));
      const q3 = 6 * P3 * dt * dt * dt;
      let d1 = P1 * dt + P2 * (2 * t0 * dt + dt * dt) + P3 * (3 * t0 * t0 * dt + 3 * t0 * dt * dt + dt * dt * dt);
      let d2 = 2 * P2 * dt * dt + P3 * (6 * t0 * dt * dt + 6 * dt * dt * dt);
      for (let q = offset + x, end = offset + e; q < end; q++) {
        out[q] = v;
        v += d1; d1 += d2; d2 += q3;
      }
      x = e;
    }
  }

  /** The spline at one point (x, y) in pixels. */
  at(x: number, y: number): number {
    this.prepareRow(y);
    if (this.nx === 1) return this.rowVals[0]!;
    const w = splineWeights(this.xNodes, this.nx, x);
    return w.a * this.rowVals[w.k]! + w.b * this.rowVals[w.k + 1]! + w.c * this.rowD2[w.k]! + w.d * this.rowD2[w.k + 1]!;
  }
}

/**
 * Bicubic natural-spline interpolation of a grid of node values onto every pixel of an
 * outW × outH image (see SplineGrid).
 */
export function splineGridToImage(
  values: Float64Array | Float32Array, nx: number, ny: number,
  xNodes: ArrayLike<number>, yNodes: ArrayLike<number>,
  outW: number, outH: number, out: Float32Array = new Float32Array(outW * outH),
): Float32Array {
  const g = new SplineGrid(values, nx, ny, xNodes, yNodes, outW);
  for (let y = 0; y < outH; y++) g.row(y, out, y * outW);
  return out;
}
