/**
 * A PSFEx-like PSF model: a pixel basis (a grid of `size × size` samples with step `sampling`
 * image pixels, centred on the star) whose every sample is a polynomial in the image position.
 *
 *   P(u, v; x, y) = Σ_j Σ_k c[k][j] · T_k(X, Y) · L3((u − a_j)/s) · L3((v − b_j)/s)
 *
 * where (u, v) is the offset in image pixels of a pixel centre from the star centre, (a_j, b_j)
 * the offset of basis sample j, s = `sampling`, L3 the Lanczos-3 kernel, and T_k the monomials
 * XᵃYᵇ (a + b ≤ degree, PSFEx order: 1, X, X², …, Y, XY, …) of X = (x − polZero[0]) / polScale[0],
 * Y = (y − polZero[1]) / polScale[1]. The model describes the pixel-integrated PSF: evaluated
 * at pixel centres it gives the fraction of the flux falling in each pixel.
 *
 * Positions (x, y) in this module are 0-based pixel coordinates (first pixel centre = 0, 0).
 */
import { TesseraError } from '../util/errors.js';

/** Lanczos-3 kernel. */
export function lanczos3(x: number): number {
  if (x === 0) return 1;
  const ax = x < 0 ? -x : x;
  if (ax >= 3) return 0;
  const px = Math.PI * x;
  return (3 * Math.sin(px) * Math.sin(px / 3)) / (px * px);
}

/**
 * Lanczos-3 taps of `count` output samples i at basis positions u = (i − c0)·step/s + c: the first
 * basis index j0[i] = ⌊u⌋ − 2 and 6 weights L3(u − j0 − t) (0 for basis indices outside [0, n)).
 * With step = s (a stamp at the basis' own sampling) every sample has the same fractional offset,
 * so the 6 kernel values are computed once rather than per sample.
 */
function lanczosTaps(count: number, c0: number, step: number, s: number, c: number, n: number, j0s: Int32Array, ws: Float64Array): void {
  if (step === s && count > 0) {
    const u0 = (0 - c0) + c;
    const f0 = Math.floor(u0);
    const fr = u0 - f0;
    const k0 = lanczos3(fr + 2), k1 = lanczos3(fr + 1), k2 = lanczos3(fr), k3 = lanczos3(fr - 1), k4 = lanczos3(fr - 2), k5 = lanczos3(fr - 3);
    for (let i = 0; i < count; i++) {
      const j0 = f0 + i - 2;
      j0s[i] = j0;
      const o = i * 6;
      if (j0 >= 0 && j0 + 5 < n) {
        ws[o] = k0; ws[o + 1] = k1; ws[o + 2] = k2; ws[o + 3] = k3; ws[o + 4] = k4; ws[o + 5] = k5;
      } else {
        ws[o] = j0 >= 0 && j0 < n ? k0 : 0;
        ws[o + 1] = j0 + 1 >= 0 && j0 + 1 < n ? k1 : 0;
        ws[o + 2] = j0 + 2 >= 0 && j0 + 2 < n ? k2 : 0;
        ws[o + 3] = j0 + 3 >= 0 && j0 + 3 < n ? k3 : 0;
        ws[o + 4] = j0 + 4 >= 0 && j0 + 4 < n ? k4 : 0;
        ws[o + 5] = j0 + 5 >= 0 && j0 + 5 < n ? k5 : 0;
      }
    }
    return;
  }
  for (let i = 0; i < count; i++) {
    const u = (i - c0) * step / s + c; // position in basis units
    const j0 = Math.floor(u) - 2;
    j0s[i] = j0;
    for (let t = 0; t < 6; t++) {
      const j = j0 + t;
      ws[i * 6 + t] = j >= 0 && j < n ? lanczos3(u - j) : 0;
    }
  }
}

/**
 * The coefficient planes (nTerms planes of n × n) convolved with a D × D kernel K, on the
 * (n + D − 1)² grid: out(v, u) = Σ K(b, a) · coeffs(v − b, u − a) (coeffs zero outside).
 */
function convolveBasis(coeffs: Float64Array, nTerms: number, n: number, K: Float64Array, D: number): Float64Array {
  const m = n + D - 1, mm = m * m, nn = n * n;
  const co = new Float64Array(nTerms * mm);
  for (let t = 0; t < nTerms; t++) {
    const src = t * nn, dst = t * mm;
    for (let v = 0; v < n; v++) {
      for (let u = 0; u < n; u++) {
        const c = coeffs[src + v * n + u]!;
        if (c === 0) continue;
        for (let b = 0; b < D; b++) {
          const o = dst + (v + b) * m + u;
          for (let a = 0; a < D; a++) co[o + a]! += c * K[b * D + a]!;
        }
      }
    }
  }
  return co;
}

/** renderGrid's pass along x: tmp[by·w + i] = Σ_t wx[i·6 + t] · basis[by·n + jx[i] + t] for rows byLo..byHi. */
function renderPassX(basis: Float64Array, n: number, w: number, jx: Int32Array, wx: Float64Array, tmp: Float64Array, byLo: number, byHi: number): void {
  for (let by = byLo; by <= byHi; by++) {
    const bo = by * n, to = by * w;
    for (let i = 0; i < w; i++) {
      const j0 = jx[i]!, wo = i * 6;
      if (j0 >= 0 && j0 + 5 < n) {
        const q = bo + j0;
        tmp[to + i] = 0 + wx[wo]! * basis[q]! + wx[wo + 1]! * basis[q + 1]! + wx[wo + 2]! * basis[q + 2]!
          + wx[wo + 3]! * basis[q + 3]! + wx[wo + 4]! * basis[q + 4]! + wx[wo + 5]! * basis[q + 5]!;
        continue;
      }
      let acc = 0;
      for (let t = 0; t < 6; t++) {
        const j = j0 + t;
        if (j >= 0 && j < n) acc += wx[wo + t]! * basis[bo + j]!;
      }
      tmp[to + i] = acc;
    }
  }
}

/** renderGrid's pass along y: out[yy·w + i] = Σ_t wy[yy·6 + t] · tmp[(jy[yy] + t)·w + i]. */
function renderPassY(out: Float64Array, n: number, w: number, h: number, jy: Int32Array, wy: Float64Array, tmp: Float64Array): void {
  for (let yy = 0; yy < h; yy++) {
    const j0 = jy[yy]!, wo = yy * 6;
    const ro = yy * w;
    if (j0 >= 0 && j0 + 5 < n) {
      const w0 = wy[wo]!, w1 = wy[wo + 1]!, w2 = wy[wo + 2]!, w3 = wy[wo + 3]!, w4 = wy[wo + 4]!, w5 = wy[wo + 5]!;
      const t0 = j0 * w;
      for (let i = 0; i < w; i++) {
        const q = t0 + i;
        out[ro + i] = 0 + w0 * tmp[q]! + w1 * tmp[q + w]! + w2 * tmp[q + 2 * w]! + w3 * tmp[q + 3 * w]! + w4 * tmp[q + 4 * w]! + w5 * tmp[q + 5 * w]!;
      }
      continue;
    }
    for (let i = 0; i < w; i++) out[ro + i] = 0;
    for (let t = 0; t < 6; t++) {
      const by = j0 + t;
      if (by < 0 || by >= n) continue;
      const wv = wy[wo + t]!;
      if (wv === 0) continue;
      const to = by * w;
      // Values per image pixel: a basis sample is a per-pixel value at pixel scale.
      for (let i = 0; i < w; i++) out[ro + i]! += wv * tmp[to + i]!;
    }
  }
}

/** Number of polynomial terms of a 2-D polynomial of total degree d. */
export function nPolyTerms(degree: number): number {
  return ((degree + 1) * (degree + 2)) / 2;
}

/** Monomials T_k(X, Y) in PSFEx order into out (length nPolyTerms(degree)). */
export function polyTerms(X: number, Y: number, degree: number, out: Float64Array): Float64Array {
  let k = 0;
  let yp = 1;
  for (let b = 0; b <= degree; b++) {
    let xp = yp;
    for (let a = 0; a + b <= degree; a++) {
      out[k++] = xp;
      xp *= X;
    }
    yp *= Y;
  }
  return out;
}

export interface PsfModelInit {
  /** Basis samples per side (odd). */
  size: number;
  /** Basis sample step in image pixels (PSF_SAMP); < 1 means oversampled. */
  sampling: number;
  degree: number;
  polZero: [number, number];
  polScale: [number, number];
  /** coeffs[k * size*size + j]: polynomial term k of basis sample j. */
  coeffs: Float64Array;
  /** FWHM in pixels measured when fitting (average over the field), for headers. */
  fwhmPix?: number;
  /**
   * Fraction of the total flux of a point source that falls inside the basis grid (1/aperture
   * correction); stamps are scaled by it so that amplitude fits return total fluxes. Default 1.
   */
  fluxFraction?: number;
}

/** Moments-based shape of a PSF stamp. */
export interface PsfShape {
  /** FWHM of the model as it is: the pixel-integrated PSF. */
  fwhmPix: number;
  /**
   * FWHM before pixel integration (the seeing): √(FWHM² − 8·ln2/12), removing the pixel box's
   * variance of 1/12 px² per axis (exact for a Gaussian, within ~0.5% for Moffat cores ≥ 3 px).
   */
  fwhmOpticalPix: number;
  /** 1 − b/a from Gaussian-weighted second moments. */
  ellipticity: number;
  /** Position angle of the major axis, degrees counter-clockwise from +x. */
  thetaDeg: number;
}

export class PsfModel {
  readonly size: number;
  readonly sampling: number;
  readonly degree: number;
  readonly polZero: [number, number];
  readonly polScale: [number, number];
  readonly coeffs: Float64Array;
  readonly nTerms: number;
  /** Field-average FWHM in pixels (from fitting, or measured at the field centre). */
  readonly fwhmPix: number;
  /** Fraction of the total flux inside the basis grid (see PsfModelInit.fluxFraction). */
  fluxFraction: number;
  private fwhmGrid: { nx: number; ny: number; w: number; h: number; v: Float64Array } | undefined;
  private readonly terms: Float64Array;
  private readonly local: Float64Array;

  constructor(init: PsfModelInit) {
    if (init.size % 2 !== 1) throw new TesseraError(`PSF basis size must be odd, got ${init.size}`);
    this.size = init.size;
    this.sampling = init.sampling;
    this.degree = init.degree;
    this.polZero = init.polZero;
    this.polScale = init.polScale;
    this.nTerms = nPolyTerms(init.degree);
    if (init.coeffs.length !== this.nTerms * init.size * init.size) {
      throw new TesseraError(`PSF coefficients: expected ${this.nTerms * init.size * init.size} values, got ${init.coeffs.length}`);
    }
    this.coeffs = init.coeffs;
    this.terms = new Float64Array(this.nTerms);
    this.local = new Float64Array(init.size * init.size);
    this.fluxFraction = init.fluxFraction ?? 1;
    this.fwhmPix = init.fwhmPix ?? this.shapeAt(this.polZero[0], this.polZero[1]).fwhmPix;
  }

  /**
   * FWHM in pixels at (x, y) (0-based), bilinearly interpolated in a 5 × 9 map computed once
   * (cheap enough to call per source). A degree-0 model returns the constant FWHM.
   */
  fwhmPixAt(x: number, y: number): number {
    if (this.degree === 0) return this.fwhmPix;
    if (!this.fwhmGrid) {
      const w = 2 * (this.polZero[0] + 0.5), h = 2 * (this.polZero[1] + 0.5);
      const m = this.shapeMap(w, h, 5, 9);
      this.fwhmGrid = { nx: 5, ny: 9, w, h, v: m.fwhmPix };
    }
    const g = this.fwhmGrid;
    const fx = Math.min(g.nx - 1, Math.max(0, ((x + 0.5) / g.w) * g.nx - 0.5));
    const fy = Math.min(g.ny - 1, Math.max(0, ((y + 0.5) / g.h) * g.ny - 0.5));
    const i0 = Math.min(g.nx - 2, Math.floor(fx)), j0 = Math.min(g.ny - 2, Math.floor(fy));
    const tx = fx - i0, ty = fy - j0;
    const v = g.v, nx = g.nx;
    return (1 - ty) * ((1 - tx) * v[j0 * nx + i0]! + tx * v[j0 * nx + i0 + 1]!) + ty * ((1 - tx) * v[(j0 + 1) * nx + i0]! + tx * v[(j0 + 1) * nx + i0 + 1]!);
  }

  /** Stamp half-width in image pixels covered by the basis. */
  get radiusPix(): number {
    return ((this.size - 1) / 2) * this.sampling;
  }

  /** The basis grid (size × size samples) at position (x, y), 0-based. Returned buffer is reused. */
  basisAt(x: number, y: number, out: Float64Array = this.local): Float64Array {
    const X = (x - this.polZero[0]) / this.polScale[0];
    const Y = (y - this.polZero[1]) / this.polScale[1];
    polyTerms(X, Y, this.degree, this.terms);
    const n = this.size * this.size;
    out.fill(0, 0, n);
    for (let k = 0; k < this.nTerms; k++) {
      const t = this.terms[k]!;
      const off = k * n;
      for (let j = 0; j < n; j++) out[j]! += t * this.coeffs[off + j]!;
    }
    return out;
  }

  /**
   * Render the PSF at image position (x, y) (0-based) onto a `size × size` pixel stamp whose
   * centre pixel (index (size−1)/2) contains (round(x), round(y)); i.e. the star sits at
   * sub-pixel offset (x − round(x), y − round(y)) from the stamp centre (the PsfLike convention
   * of src/detect/psf-like.ts). Values are fractions of the total flux: the whole basis grid sums
   * to `fluxFraction` (1 unless an aperture correction was attached); a smaller stamp sums to less.
   */
  stampAt(x: number, y: number, size: number, out?: Float32Array): Float32Array {
    if (size % 2 !== 1) throw new RangeError(`PSF stamp size ${size} must be odd`);
    const stamp = out ?? new Float32Array(size * size);
    const half = (size - 1) / 2;
    const dx = x - Math.round(x);
    const dy = y - Math.round(y);
    this.renderOffset(this.basisAt(x, y), size, size, half + dx, half + dy, 1, stamp);
    // Outside the basis grid the model is zero (Lanczos ringing beyond it is cut).
    cutAndScale(stamp, size, half, dx, dy, this.radiusPix, this.fluxFraction);
    return stamp;
  }

  /**
   * The PSF convolved with a kernel, rendered as stampAt renders the PSF (same centring and
   * normalisation): the kernel (odd (2r+1)², image-pixel scale, identified by `key`) is applied
   * once to the basis' coefficient planes (cached per key), so each stamp costs no more than a
   * PSF stamp. Only for a basis sampled at 1 px (undefined otherwise: the caller convolves the
   * PSF stamp itself). Used for SPREAD_MODEL's galaxy model.
   */
  convolvedStampAt(x: number, y: number, size: number, kernel: { key: number; r: number; k: Float64Array }, out?: Float32Array): Float32Array | undefined {
    if (this.sampling !== 1) return undefined;
    if (size % 2 !== 1) throw new RangeError(`PSF stamp size ${size} must be odd`);
    const R = kernel.r, D = 2 * R + 1, n = this.size, m = n + 2 * R, mm = m * m;
    const cv = this.convolvedCoeffs(kernel, D);
    const X = (x - this.polZero[0]) / this.polScale[0];
    const Y = (y - this.polZero[1]) / this.polScale[1];
    polyTerms(X, Y, this.degree, this.terms);
    if (this.convBasis.length < mm) this.convBasis = new Float64Array(mm);
    const basis = this.convBasis;
    basis.fill(0, 0, mm);
    for (let t = 0; t < this.nTerms; t++) {
      const w = this.terms[t]!, off = t * mm;
      for (let j = 0; j < mm; j++) basis[j]! += w * cv[off + j]!;
    }
    const stamp = out ?? new Float32Array(size * size);
    const half = (size - 1) / 2;
    const dx = x - Math.round(x), dy = y - Math.round(y);
    this.renderGrid(basis, m, size, size, half + dx, half + dy, 1, stamp);
    cutAndScale(stamp, size, half, dx, dy, this.radiusPix + R, this.fluxFraction);
    return stamp;
  }

  /**
   * The coefficient planes convolved with a kernel, cached per kernel key. A small method of its
   * own: a cache miss met late (a new key) then deoptimises only this, not convolvedStampAt.
   */
  private convolvedCoeffs(kernel: { key: number; k: Float64Array }, D: number): Float64Array {
    let cv = this.convCache.get(kernel.key);
    if (!cv) {
      if (this.convCache.size > 256) this.convCache.clear();
      cv = convolveBasis(this.coeffs, this.nTerms, this.size, kernel.k, D);
      this.convCache.set(kernel.key, cv);
    }
    return cv;
  }

  private convCache = new Map<number, Float64Array>();
  private convBasis = new Float64Array(0);

  /**
   * Render a basis grid onto a w × h grid with step `step` (image pixels), the PSF centre at
   * grid coordinates (cx, cy) (in grid units of `step`). Not normalised.
   */
  renderOffset(basis: Float64Array, w: number, h: number, cx: number, cy: number, step: number, out: Float32Array | Float64Array): void {
    this.renderGrid(basis, this.size, w, h, cx, cy, step, out);
  }

  /** renderOffset for a grid of n × n samples (n odd) with the basis' sampling. */
  private renderGrid(basis: Float64Array, n: number, w: number, h: number, cx: number, cy: number, step: number, out: Float32Array | Float64Array): void {
    const c = (n - 1) / 2;
    const s = this.sampling;
    // For each output column/row: the first basis index and 6 Lanczos taps (zero outside).
    const sc = this.scratch(w, h, n);
    const jx = sc.jx, jy = sc.jy, wx = sc.wx, wy = sc.wy;
    lanczosTaps(w, cx, step, s, c, n, jx, wx);
    lanczosTaps(h, cy, step, s, c, n, jy, wy);
    // Separable: first along x for the basis rows the output rows reach → tmp[basisRow][outCol],
    // then along y.
    const tmp = sc.tmp;
    const byLo = Math.max(0, jy[0]!), byHi = Math.min(n - 1, jy[h - 1]! + 5);
    renderPassX(basis, n, w, jx, wx, tmp, byLo, byHi);
    // the y pass always writes doubles (one array type: compiled once); float32 stamps get a copy
    if (out instanceof Float64Array) renderPassY(out, n, w, h, jy, wy, tmp);
    else {
      renderPassY(sc.res, n, w, h, jy, wy, tmp);
      out.set(sc.res.subarray(0, w * h));
    }
  }

  private sc: { w: number; h: number; n: number; jx: Int32Array; jy: Int32Array; wx: Float64Array; wy: Float64Array; tmp: Float64Array; res: Float64Array } | undefined;

  /** Scratch buffers of renderOffset, reused between calls of the same size. */
  private scratch(w: number, h: number, n: number) {
    const c = this.sc;
    if (c && c.w >= w && c.h >= h && c.n >= n) return c;
    const W = Math.max(w, c?.w ?? 0), H = Math.max(h, c?.h ?? 0), N = Math.max(n, c?.n ?? 0);
    this.sc = { w: W, h: H, n: N, jx: new Int32Array(W), jy: new Int32Array(H), wx: new Float64Array(W * 6), wy: new Float64Array(H * 6), tmp: new Float64Array(N * W), res: new Float64Array(W * H) };
    return this.sc;
  }

  /** FWHM (pixels) and ellipticity of the model at (x, y), from a 4×-oversampled rendering. */
  shapeAt(x: number, y: number): PsfShape {
    const over = 4;
    const r = this.radiusPix;
    const m = Math.floor(2 * r * over) | 1;
    const half = (m - 1) / 2;
    const img = new Float64Array(m * m);
    this.renderOffset(this.basisAt(x, y), m, m, half, half, 1 / over, img);
    return stampShape(img, m, 1 / over);
  }

  /** FWHM and ellipticity maps on an nx × ny grid of positions spanning width × height. */
  shapeMap(width: number, height: number, nx = 5, ny = 9): { x: Float64Array; y: Float64Array; fwhmPix: Float64Array; ellipticity: Float64Array } {
    const n = nx * ny;
    const xs = new Float64Array(n), ys = new Float64Array(n), fw = new Float64Array(n), el = new Float64Array(n);
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const k = j * nx + i;
        xs[k] = ((i + 0.5) / nx) * width - 0.5;
        ys[k] = ((j + 0.5) / ny) * height - 0.5;
        const s = this.shapeAt(xs[k]!, ys[k]!);
        fw[k] = s.fwhmPix;
        el[k] = s.ellipticity;
      }
    }
    return { x: xs, y: ys, fwhmPix: fw, ellipticity: el };
  }
}

/**
 * FWHM and ellipticity of a centred stamp (m × m samples, `step` pixels per sample).
 * FWHM from the area above half the peak (2·sqrt(A/π)); ellipticity from second moments
 * weighted by a circular Gaussian of σ = FWHM/2.355 (iterated once).
 */
/**
 * Zero a size × size stamp beyond `r` pixels (a square) of its centre (half + dx, half + dy) and
 * scale the rest by the flux fraction `f` the model holds.
 */
function cutAndScale(stamp: Float32Array, size: number, half: number, dx: number, dy: number, r: number, f: number): void {
  for (let v = 0; v < size; v++) {
    const oy = Math.abs(v - half - dy) > r + 0.5;
    for (let u = 0; u < size; u++) {
      const o = v * size + u;
      stamp[o] = oy || Math.abs(u - half - dx) > r + 0.5 ? 0 : stamp[o]! * f;
    }
  }
}

export function stampShape(img: Float64Array | Float32Array, m: number, step: number): PsfShape {
  // The loops are in their own small functions: in one long function the optimised (on-stack)
  // code met the moment arithmetic after them without feedback and deoptimised on every stamp.
  const peak = peakOf(img);
  const area = countAtLeast(img, 0.5 * peak) * step * step;
  const fwhmPix = 2 * Math.sqrt(area / Math.PI);
  const sig = fwhmPix / 2.3548;
  const inv2s2 = 1 / (2 * sig * sig);
  weightedMoments(img, m, step, 0, 0, inv2s2);
  const cx = momX / momW, cy = momY / momW;
  weightedMoments(img, m, step, cx, cy, inv2s2);
  const xx = momXX / momW, yy = momYY / momW, xy = momXY / momW;
  const tr = xx + yy;
  const det = Math.sqrt(Math.max(0, ((xx - yy) / 2) ** 2 + xy * xy));
  const l1 = tr / 2 + det, l2 = Math.max(1e-12, tr / 2 - det);
  // Weighted moments of an elliptical Gaussian are biased towards round; correct with the
  // Gaussian-weight deconvolution: 1/σ_true² = 1/σ_meas² − 1/σ_w².
  const ws2 = sig * sig;
  const a2 = 1 / Math.max(1e-12, 1 / l1 - 1 / ws2);
  const b2 = 1 / Math.max(1e-12, 1 / l2 - 1 / ws2);
  const ellipticity = 1 - Math.sqrt(Math.min(a2, b2) / Math.max(a2, b2));
  const thetaDeg = (0.5 * Math.atan2(2 * xy, xx - yy) * 180) / Math.PI;
  const fwhmOpticalPix = Math.sqrt(Math.max(0, fwhmPix * fwhmPix - (8 * Math.LN2) / 12));
  return { fwhmPix, fwhmOpticalPix, ellipticity, thetaDeg };
}

function peakOf(img: Float64Array | Float32Array): number {
  let peak = -Infinity;
  for (let i = 0; i < img.length; i++) if (img[i]! > peak) peak = img[i]!;
  return peak;
}

function countAtLeast(img: Float64Array | Float32Array, t: number): number {
  let count = 0;
  for (let i = 0; i < img.length; i++) if (img[i]! >= t) count++;
  return count;
}

/** Gaussian-weighted moments about (cx, cy) of an m × m stamp sampled every `step` pixels. */
let momW = 0, momX = 0, momY = 0, momXX = 0, momYY = 0, momXY = 0;
function weightedMoments(img: Float64Array | Float32Array, m: number, step: number, cx: number, cy: number, inv2s2: number): void {
  const half = (m - 1) / 2;
  let sw = 0, sx = 0, sy = 0, xx = 0, yy = 0, xy = 0;
  for (let j = 0; j < m; j++) {
    const dy = (j - half) * step - cy;
    for (let i = 0; i < m; i++) {
      const dx = (i - half) * step - cx;
      const w = img[j * m + i]! * Math.exp(-(dx * dx + dy * dy) * inv2s2);
      sw += w; sx += w * dx; sy += w * dy; xx += w * dx * dx; yy += w * dy * dy; xy += w * dx * dy;
    }
  }
  momW = sw; momX = sx; momY = sy; momXX = xx; momYY = yy; momXY = xy;
}
