/**
 * Fitting a PsfModel to stars (PSFEx-like). Positions are 0-based pixel coordinates.
 *
 * The basis is solved in the manner of an effective-PSF fit (Anderson & King 2000): each star
 * pixel, divided by the star flux, is a sample of the PSF at offset (u, v) from the star centre;
 * the residual (data − current model) of every sample is assigned to the nearest basis sample,
 * and per basis sample a weighted least-squares polynomial in the star position (x, y) is solved
 * across stars (one small normal matrix per basis sample, ridge-regularised). Iterating this
 * converges to a model whose Lanczos interpolation fits the data, and with an oversampled basis
 * (sampling < 1) the sub-pixel phases of many stars give super-resolution. Between iterations
 * the per-star fluxes and centres are refit with the current model, the model is renormalised,
 * and stars with outlying χ² are rejected (κ-σ on χ²/dof, like PSFEx).
 */
import { TesseraError } from '../util/errors.js';
import { PsfModel, nPolyTerms, polyTerms } from './model.js';

export interface PsfImage {
  data: Float32Array;
  width: number;
  height: number;
  /** Per-pixel variance (same shape). When absent, a constant variance `noiseVariance` is used. */
  variance?: Float32Array;
  /** Non-zero = bad pixel, excluded from fits. */
  mask?: Uint8Array | Uint16Array | Uint32Array;
  /** Constant background variance if no variance plane (default: estimated from the image). */
  noiseVariance?: number;
  /** Electrons per count for the source Poisson term when no variance plane (0 = ignore). */
  gain?: number;
}

export interface PsfStarInput {
  /** 0-based centre. */
  x: number;
  y: number;
  /** Initial flux estimate (counts). */
  flux: number;
}

export interface PsfFitOptions {
  /** Polynomial degree of the spatial variation (default 2). */
  degree?: number;
  /** Basis sample step in pixels. Default: 1, or 0.5 when fwhmPix < 2.5 (PSFEx PSF_SAMPLING auto). */
  sampling?: number;
  /** Initial FWHM guess in pixels (sets stamp size and sampling). */
  fwhmPix: number;
  /** Stamp half-width in image pixels (default max(5, ceil(2.5 × FWHM)), at most 12 — a 25 × 25 stamp like PSFEx's default PSF_SIZE). */
  radiusPix?: number;
  /** Iterations of the basis solve (default 8). */
  iterations?: number;
  /** κ for χ² outlier rejection (default 4). */
  kappa?: number;
  /** Relative model accuracy added in quadrature to the noise (PSFEx PSF_ACCURACY, default 0.01). */
  accuracy?: number;
  /** Minimum number of stars to fit at all (default 3). */
  minStars?: number;
}

export interface PsfFitResult {
  model: PsfModel;
  /** Indices (into the input stars) used in the final model. */
  used: number[];
  /** Indices rejected as outliers. */
  rejected: number[];
  /** Degree actually used (may be lower than asked when stars are few). */
  degree: number;
  /** Notes for QA (degree fallbacks etc.). */
  notes: string[];
  /** Median reduced χ² of the used stars. */
  chi2: number;
  /** Refit flux and centre of each input star (NaN for rejected). */
  flux: Float64Array;
  x: Float64Array;
  y: Float64Array;
}

/** Minimum number of stars for each polynomial degree. */
export function minStarsForDegree(degree: number): number {
  return degree === 0 ? 1 : 4 * nPolyTerms(degree);
}

interface StarData {
  idx: number;
  x: number;
  y: number;
  flux: number;
  x0: number; // stamp origin (image pixel, 0-based)
  y0: number;
  d: Float64Array; // raw data (counts), NaN where masked / out of image
  v: Float64Array; // variance (counts²)
  terms: Float64Array;
  chi2: number;
  ok: boolean;
}

function estimateNoiseVariance(img: PsfImage): number {
  // Robust variance from the MAD of pixel differences on a sparse sample.
  const { data, width, height } = img;
  const n = Math.min(200000, Math.floor(width * height / 2));
  const step = Math.max(1, Math.floor((width * height - 1) / n));
  const diffs: number[] = [];
  for (let i = 0; i + 1 < width * height; i += step) {
    if ((i + 1) % width === 0) continue;
    const a = data[i]!, b = data[i + 1]!;
    if (Number.isFinite(a) && Number.isFinite(b)) diffs.push(Math.abs(a - b));
  }
  if (diffs.length === 0) return 1;
  diffs.sort((p, q) => p - q);
  const mad = diffs[Math.floor(diffs.length / 2)]!;
  const sigma = (mad * 1.4826) / Math.SQRT2;
  return Math.max(sigma * sigma, 1e-20);
}

/** Solve a small symmetric positive system in place (Cholesky); returns false if singular. */
export function solveSym(a: Float64Array, b: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    let s = a[j * n + j]!;
    for (let k = 0; k < j; k++) s -= a[j * n + k]! * a[j * n + k]!;
    if (!(s > 0)) return false;
    const l = Math.sqrt(s);
    a[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let t = a[i * n + j]!;
      for (let k = 0; k < j; k++) t -= a[i * n + k]! * a[j * n + k]!;
      a[i * n + j] = t / l;
    }
  }
  for (let i = 0; i < n; i++) {
    let t = b[i]!;
    for (let k = 0; k < i; k++) t -= a[i * n + k]! * b[k]!;
    b[i] = t / a[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let t = b[i]!;
    for (let k = i + 1; k < n; k++) t -= a[k * n + i]! * b[k]!;
    b[i] = t / a[i * n + i]!;
  }
  return true;
}

/** Data and variance stamps (D × D, NaN data where unusable) of every star. */
function cutStamps(img: PsfImage, stars: readonly PsfStarInput[], radius: number, D: number, degree: number, nT: number,
  polZero: [number, number], polScale: [number, number], bgVar: number, gain: number): StarData[] {
  const sd: StarData[] = [];
  for (let i = 0; i < stars.length; i++) {
    const s = stars[i]!;
    const x0 = Math.round(s.x) - radius, y0 = Math.round(s.y) - radius;
    const d = new Float64Array(D * D), v = new Float64Array(D * D);
    cutStamp(img, x0, y0, D, bgVar, gain, d, v);
    const terms = polyTerms((s.x - polZero[0]) / polScale[0], (s.y - polZero[1]) / polScale[1], degree, new Float64Array(nT));
    sd.push({ idx: i, x: s.x, y: s.y, flux: s.flux > 0 ? s.flux : 1, x0, y0, d, v, terms, chi2: 0, ok: true });
  }
  // The fit rewrites these fields; V8 first takes an object literal's fields as constant, and each
  // first rewrite in the fit would discard the code optimised so far (accumulateStar compiled up
  // to 6×). Writing them once here (then restoring the values) makes them variable from the start.
  const s0 = sd[0];
  if (s0) {
    const { x, y, flux } = s0;
    s0.x = x + 0.5; s0.y = y + 0.5; s0.flux = flux + 0.5; s0.chi2 = 0.5; s0.ok = false;
    s0.x = x; s0.y = y; s0.flux = flux; s0.chi2 = 0; s0.ok = true;
  }
  return sd;
}

function cutStamp(img: PsfImage, x0: number, y0: number, D: number, bgVar: number, gain: number, d: Float64Array, v: Float64Array): void {
  const { width, height } = img;
  for (let j = 0; j < D; j++) {
    const yy = y0 + j;
    for (let k = 0; k < D; k++) {
      const xx = x0 + k;
      const o = j * D + k;
      if (xx < 0 || yy < 0 || xx >= width || yy >= height) { d[o] = NaN; continue; }
      const p = yy * width + xx;
      const val = img.data[p]!;
      let va = img.variance ? img.variance[p]! : bgVar + (gain > 0 ? Math.max(0, val) / gain : 0);
      if (img.mask && img.mask[p] !== 0) va = NaN;
      if (!Number.isFinite(val) || !(va > 0)) { d[o] = NaN; continue; }
      d[o] = val; v[o] = va;
    }
  }
}

/**
 * Flux and centre refit of one star: linear least squares for [f, f·dx, f·dy] with the model
 * M + dx·∂M/∂x + dy·∂M/∂y (finite differences with step h). Returns true when the star moved.
 */
function refitFluxCentre(s: StarData, M: Float64Array, Mx: Float64Array, My: Float64Array, h: number, DD: number): boolean {
  let a00 = 0, a01 = 0, a02 = 0, a11 = 0, a12 = 0, a22 = 0, b0 = 0, b1 = 0, b2 = 0;
  const d = s.d, vv = s.v;
  for (let o = 0; o < DD; o++) {
    const dv = d[o]!;
    if (Number.isNaN(dv)) continue;
    const w = 1 / vv[o]!;
    const m = M[o]!, gx = (Mx[o]! - m) / h, gy = (My[o]! - m) / h;
    a00 += w * m * m; a01 += w * m * gx; a02 += w * m * gy;
    a11 += w * gx * gx; a12 += w * gx * gy; a22 += w * gy * gy;
    b0 += w * m * dv; b1 += w * gx * dv; b2 += w * gy * dv;
  }
  const S = new Float64Array([a00, a01, a02, a01, a11, a12, a02, a12, a22]);
  const B = new Float64Array([b0, b1, b2]);
  if (solveSym(S, B, 3) && B[0]! > 0) {
    const ddx = B[1]! / B[0]!, ddy = B[2]! / B[0]!;
    s.flux = B[0]!;
    if (Math.abs(ddx) < 1 && Math.abs(ddy) < 1) { s.x += ddx; s.y += ddy; }
    return true;
  }
  return false;
}

/** Flux refit of one star with the current model stamp M (weighted linear least squares). */
function refitFlux(s: StarData, M: Float64Array, DD: number): void {
  let num = 0, den = 0;
  const d = s.d, vv = s.v;
  for (let o = 0; o < DD; o++) {
    const dv = d[o]!;
    if (Number.isNaN(dv)) continue;
    const w = 1 / vv[o]!;
    num += w * M[o]! * dv; den += w * M[o]! * M[o]!;
  }
  if (den > 0 && num > 0) s.flux = num / den;
}

/**
 * Residuals of one star assigned to the nearest basis sample: accumulates the per-sample normal
 * matrices (when rebuildN) and right-hand sides; returns the star's χ²/dof.
 */
function accumulateStar(s: StarData, M: Float64Array, D: number, sampling: number, c: number, nb: number, nT: number, acc: number,
  rebuildN: boolean, N: Float64Array, R: Float64Array): number {
  const f = s.flux;
  const d = s.d, vv = s.v, terms = s.terms;
  let chi = 0, dof = 0;
  for (let j = 0; j < D; j++) {
    const v = s.y0 + j - s.y;
    // + 0: no −0 (Math.round(−0.3)), which optimised code would deoptimise on
    const by = Math.round(v / sampling + c) + 0;
    if (by < 0 || by >= nb) continue;
    for (let k = 0; k < D; k++) {
      const o = j * D + k;
      const dv = d[o]!;
      if (Number.isNaN(dv)) continue;
      const u = s.x0 + k - s.x;
      const bx = Math.round(u / sampling + c) + 0;
      if (bx < 0 || bx >= nb) continue;
      const dn = dv / f;
      const r = dn - M[o]!;
      const vn = vv[o]! / (f * f) + (acc * Math.max(0, M[o]!)) ** 2;
      const w = 1 / vn;
      chi += r * r * w; dof++;
      const bj = by * nb + bx;
      const no = bj * nT * nT, ro = bj * nT;
      if (rebuildN) {
        for (let p = 0; p < nT; p++) {
          const tp = w * terms[p]!;
          R[ro + p]! += tp * r;
          for (let q = 0; q <= p; q++) N[no + p * nT + q]! += tp * terms[q]!;
        }
      } else {
        const wr = w * r;
        for (let p = 0; p < nT; p++) R[ro + p]! += wr * terms[p]!;
      }
    }
  }
  return dof > 0 ? chi / dof : 0;
}

/** Solve the small normal system of every basis sample and add the update to the coefficients. */
function solveBasis(N: Float64Array, R: Float64Array, A: Float64Array, bvec: Float64Array, coeffs: Float64Array, nn: number, nT: number): void {
  for (let bj = 0; bj < nn; bj++) {
    const no = bj * nT * nT, ro = bj * nT;
    const n00 = N[no]!;
    if (!(n00 > 0)) continue;
    for (let p = 0; p < nT; p++) {
      for (let q = 0; q <= p; q++) { A[p * nT + q] = N[no + p * nT + q]!; A[q * nT + p] = N[no + p * nT + q]!; }
      bvec[p] = R[ro + p]!;
    }
    // Ridge regularisation: a small fraction of the constant-term weight.
    for (let p = 0; p < nT; p++) A[p * nT + p]! += 1e-6 * n00 + (p > 0 ? 1e-3 * n00 : 0);
    if (!solveSym(A, bvec, nT)) continue;
    for (let p = 0; p < nT; p++) coeffs[p * nn + bj]! += bvec[p]!;
  }
}

/** Renormalise: Σ_j c0_j s² = 1, Σ_j ck_j = 0 for k > 0 (flux-conserving spatial variation). */
function renormalise(coeffs: Float64Array, nn: number, nT: number, sampling: number): void {
  let s0 = 0;
  for (let j = 0; j < nn; j++) s0 += coeffs[j]!;
  if (s0 > 0) {
    const scale = 1 / (s0 * sampling * sampling);
    for (let j = 0; j < nn; j++) coeffs[j]! *= scale;
    s0 = 1 / (sampling * sampling);
    for (let k = 1; k < nT; k++) {
      let sk = 0;
      for (let j = 0; j < nn; j++) sk += coeffs[k * nn + j]!;
      const r = sk / s0;
      for (let j = 0; j < nn; j++) coeffs[k * nn + j]! -= r * coeffs[j]!;
    }
  }
}

/** Fit a spatially varying PSF model to the given stars. Throws TesseraError if too few stars. */
export function fitPsf(img: PsfImage, stars: readonly PsfStarInput[], opts: PsfFitOptions): PsfFitResult {
  const notes: string[] = [];
  const minStars = opts.minStars ?? 3;
  const fwhm = opts.fwhmPix;
  if (!(fwhm > 0)) throw new TesseraError(`PSF fit: initial FWHM must be positive, got ${fwhm}`);
  const sampling = opts.sampling ?? (fwhm < 2.5 ? 0.5 : 1);
  const radius = opts.radiusPix ?? Math.min(12, Math.max(5, Math.ceil(2.5 * fwhm)));
  const nb = 2 * Math.round(radius / sampling) + 1;
  const c = (nb - 1) / 2;
  const D = 2 * radius + 1; // data stamp side
  const iterations = opts.iterations ?? 8;
  const kappa = opts.kappa ?? 4;
  const acc = opts.accuracy ?? 0.01;
  const { width, height } = img;

  if (stars.length < minStars) {
    throw new TesseraError(`PSF fit: only ${stars.length} usable star(s), need at least ${minStars}`);
  }
  let degree = opts.degree ?? 2;
  while (degree > 0 && stars.length < minStarsForDegree(degree)) degree--;
  if (degree !== (opts.degree ?? 2)) {
    notes.push(`PSF degree lowered from ${opts.degree ?? 2} to ${degree}: only ${stars.length} stars`);
  }
  const nT = nPolyTerms(degree);
  const polZero: [number, number] = [(width - 1) / 2, (height - 1) / 2];
  const polScale: [number, number] = [Math.max(1, width), Math.max(1, height)];

  const bgVar = img.variance ? 0 : (img.noiseVariance ?? estimateNoiseVariance(img));
  const gain = img.gain ?? 0;

  // Cut stamps.
  const sd = cutStamps(img, stars, radius, D, degree, nT, polZero, polScale, bgVar, gain);

  const coeffs = new Float64Array(nT * nb * nb);
  // Start from a circular Gaussian of the guessed FWHM (normalised per pixel).
  {
    const sig = fwhm / 2.3548;
    for (let j = 0; j < nb; j++) for (let i = 0; i < nb; i++) {
      const u = (i - c) * sampling, v = (j - c) * sampling;
      coeffs[j * nb + i] = Math.exp(-(u * u + v * v) / (2 * sig * sig)) / (2 * Math.PI * sig * sig);
    }
  }
  let model = new PsfModel({ size: nb, sampling, degree, polZero, polScale, coeffs, fwhmPix: fwhm });
  const M = new Float64Array(D * D);
  const Mx = new Float64Array(D * D);
  const My = new Float64Array(D * D);
  const nn = nb * nb;
  const N = new Float64Array(nn * nT * nT);
  const R = new Float64Array(nn * nT);
  const A = new Float64Array(nT * nT);
  const bvec = new Float64Array(nT);

  const render = (s: StarData, dx: number, dy: number, out: Float64Array): void => {
    const basis = model.basisAt(s.x + dx, s.y + dy);
    model.renderOffset(basis, D, D, s.x + dx - s.x0, s.y + dy - s.y0, 1, out);
  };

  // The first iteration only takes accumulateStar's rebuildN branch, so V8 optimised it without
  // feedback for the other and deoptimised it at the second iteration: one star through the other
  // branch first, into scratch sums (discarded).
  if (sd.length > 0) accumulateStar(sd[0]!, M, D, sampling, c, nb, nT, acc, false, N, new Float64Array(R.length));

  const totalIter = iterations;
  // The per-sample normal matrices depend on the weights only, which settle after the first
  // iterations: they are rebuilt while fluxes/centres move or after a rejection, else reused.
  let rebuildN = true;
  for (let it = 0; it < totalIter; it++) {
    if (it === 0 || it === 2 || it === 4) rebuildN = true;
    if (rebuildN) N.fill(0);
    R.fill(0);
    const chis: number[] = [];
    for (const s of sd) {
      if (!s.ok) continue;
      // Refit flux (and after the first iterations, the centre) with the current model.
      render(s, 0, 0, M);
      if (it === 2 || it === 4) {
        const h = 0.05;
        render(s, h, 0, Mx); render(s, 0, h, My);
        if (refitFluxCentre(s, M, Mx, My, h, D * D)) render(s, 0, 0, M);
      } else if (it >= 1) {
        refitFlux(s, M, D * D);
      }
      s.chi2 = accumulateStar(s, M, D, sampling, c, nb, nT, acc, rebuildN, N, R);
      chis.push(s.chi2);
    }
    // Solve per basis sample and update.
    solveBasis(N, R, A, bvec, model.coeffs, nn, nT);
    renormalise(model.coeffs, nn, nT, sampling);
    // Outlier rejection on χ²/dof after the model has settled.
    if (it >= 3 && it < totalIter - 1 && chis.length > 0) {
      const sorted = chis.slice().sort((p, q) => p - q);
      const med = sorted[Math.floor(sorted.length / 2)]!;
      const mad = sorted.map((x) => Math.abs(x - med)).sort((p, q) => p - q)[Math.floor(sorted.length / 2)]! * 1.4826;
      const lim = Math.max(med + kappa * mad, 2 * med);
      let nOk = 0;
      for (const s of sd) if (s.ok) nOk++;
      rebuildN = false;
      for (const s of sd) {
        if (s.ok && s.chi2 > lim && nOk > minStars) { s.ok = false; nOk--; rebuildN = true; }
      }
    } else {
      rebuildN = false;
    }
  }
  const used: number[] = [], rejected: number[] = [];
  const fl = new Float64Array(stars.length).fill(NaN), xs = new Float64Array(stars.length).fill(NaN), ys = new Float64Array(stars.length).fill(NaN);
  const chiUsed: number[] = [];
  for (const s of sd) {
    if (s.ok) { used.push(s.idx); chiUsed.push(s.chi2); fl[s.idx] = s.flux; xs[s.idx] = s.x; ys[s.idx] = s.y; } else rejected.push(s.idx);
  }
  if (used.length < minStars) throw new TesseraError(`PSF fit: only ${used.length} star(s) left after outlier rejection, need at least ${minStars}`);
  chiUsed.sort((p, q) => p - q);
  model = new PsfModel({ size: nb, sampling, degree, polZero, polScale, coeffs: model.coeffs });
  return { model, used, rejected, degree, notes, chi2: chiUsed[Math.floor(chiUsed.length / 2)]!, flux: fl, x: xs, y: ys };
}
