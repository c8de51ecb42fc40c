/**
 * Fitting a WCS to matched stars (pixel positions ↔ reference RA/Dec), for astrometric
 * calibration: TAN, TAN-SIP or TPV of a chosen polynomial order, with iterative clipping.
 *
 * Method: stars are projected gnomonically about a trial tangent point; the pixel→plane map is
 * a linear least-squares problem (Householder QR on a scaled polynomial basis). The constant
 * term says where CRPIX lands on the plane, so the tangent point (CRVAL) is moved there and the
 * fit repeated until it stays put (< 1e-11°). For TPV the polynomial acts on CD·(p − CRPIX),
 * so CD is updated from the fitted linear terms each round as well.
 */
import { TesseraError } from '../util/errors.js';
import { TPV_TERMS, tpvTermDegree, Sip } from './distortion.js';
import { leastSquares } from './linalg.js';
import { Wcs, type Origin } from './wcs.js';

const D2R = Math.PI / 180;
const R2D = 180 / Math.PI;

export interface FitPairs {
  /** Pixel positions, FITS convention unless opts.origin = 0. */
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Reference positions, degrees. */
  ra: ArrayLike<number>;
  dec: ArrayLike<number>;
  /** Relative weights (e.g. 1/σ²); 0 excludes a star. Default 1. */
  weight?: ArrayLike<number>;
}

export type FitModel = 'tan' | 'tan-sip' | 'tpv';

export interface FitOptions {
  model: FitModel;
  /** Polynomial order: TAN is always 1; SIP 2..9 (default 3); TPV 1..7 (default 3). */
  order?: number;
  /** Reference pixel (FITS). Default: centre of imageSize, else the mean star position. */
  crpix?: readonly [number, number];
  /** Pixel convention of pairs.x/y: 1 FITS (default) or 0. */
  origin?: Origin;
  /** Clip stars whose residual exceeds clipSigma·σ (σ per axis, from the median residual). Default 3; 0 = no clipping. */
  clipSigma?: number;
  /** Maximum number of fit/clip rounds. Default 10. */
  maxIter?: number;
  /** Image size [NAXIS1, NAXIS2]: sets the default CRPIX, the grid for the SIP inverse, and the WCS's naxis. */
  imageSize?: readonly [number, number];
  /** Order of the SIP inverse AP/BP. Default order + 1. */
  sipInverseOrder?: number;
  /** TPV only: also fit the radial terms r, r³, r⁵, r⁷ up to the order (default false). */
  tpvRadial?: boolean;
}

export interface FitResult {
  wcs: Wcs;
  /** RMS on-sky residual of the stars used, sqrt(mean(ΔRA·cosδ² + ΔDec²)), arcsec. */
  rmsArcsec: number;
  nUsed: number;
  nClipped: number;
  /** Per star, in input order: reference − fitted position, arcsec; used = 1 when kept. */
  residuals: { dRaArcsec: Float64Array; dDecArcsec: Float64Array; used: Uint8Array };
  /** For SIP: the largest error of the AP/BP inverse on its grid, pixels (Newton refines past it). */
  sipInverseMaxErrorPix?: number;
  iterations: number;
}

interface Term { p: number; q: number; r: number }

function termsFor(model: FitModel, order: number, radial = false): Term[] {
  const t: Term[] = [];
  if (model === 'tpv') {
    for (let j = 0; j < 40; j++) {
      const [a, b, c] = TPV_TERMS[j]!;
      if ((c === 0 || radial) && tpvTermDegree(j) <= order) t.push({ p: a, q: b, r: c });
    }
  } else {
    for (let d = 0; d <= order; d++) for (let p = d; p >= 0; p--) t.push({ p, q: d - p, r: 0 });
  }
  return t;
}

/** Minimum number of stars for a model: the unknowns per axis plus two. */
export function minStarsFor(model: FitModel, order?: number, tpvRadial = false): number {
  const o = model === 'tan' ? 1 : order ?? 3;
  return termsFor(model, o, tpvRadial).length + 2;
}

/** Residuals below this (arcsec) are never clipped: it keeps noise-free fits from clipping rounding noise. */
const CLIP_FLOOR_ARCSEC = 1e-4;

export function fitWcs(pairs: FitPairs, opts: FitOptions): FitResult {
  const model = opts.model;
  if (model !== 'tan' && model !== 'tan-sip' && model !== 'tpv') throw new TesseraError(`fitWcs: unknown model '${String(model)}' (tan, tan-sip, tpv)`);
  const order = model === 'tan' ? 1 : opts.order ?? 3;
  if (!Number.isInteger(order) || order < 1 || (model === 'tpv' && order > 7) || (model === 'tan-sip' && (order < 2 || order > 9))) {
    throw new TesseraError(`fitWcs: order ${order} is not valid for ${model} (TPV 1..7, SIP 2..9)`);
  }
  const n = pairs.x.length;
  if (pairs.y.length !== n || pairs.ra.length !== n || pairs.dec.length !== n || (pairs.weight && pairs.weight.length !== n)) {
    throw new TesseraError('fitWcs: x, y, ra, dec (and weight) must have the same length');
  }
  const off = opts.origin === 0 ? 1 : 0;
  const clipSigma = opts.clipSigma ?? 3;
  const maxIter = Math.max(1, opts.maxIter ?? 10);
  const terms = termsFor(model, order, opts.tpvRadial === true);
  const m = terms.length;
  const need = m + 2;

  const px = new Float64Array(n);
  const py = new Float64Array(n);
  const w = new Float64Array(n);
  const valid = new Uint8Array(n); // usable in the fit
  const finite = new Uint8Array(n); // has a residual (weight-0 stars too)
  let nValid = 0;
  for (let i = 0; i < n; i++) {
    px[i] = pairs.x[i]! + off;
    py[i] = pairs.y[i]! + off;
    const wi = pairs.weight ? pairs.weight[i]! : 1;
    w[i] = wi;
    if (Number.isFinite(px[i]) && Number.isFinite(py[i]) && Number.isFinite(pairs.ra[i]) && Number.isFinite(pairs.dec[i])) {
      finite[i] = 1;
      if (wi > 0 && Number.isFinite(wi)) {
        valid[i] = 1;
        nValid++;
      }
    }
  }
  const label = `${model === 'tan' ? 'TAN' : model === 'tpv' ? 'TPV' : 'TAN-SIP'}${model === 'tan' ? '' : ` order ${order}`}`;
  if (nValid < need) throw new TesseraError(`fitWcs: ${nValid} usable star${nValid === 1 ? '' : 's'} is too few for a ${label} fit (needs at least ${need})`);

  let crpix: [number, number];
  if (opts.crpix) crpix = [opts.crpix[0], opts.crpix[1]];
  else if (opts.imageSize) crpix = [(opts.imageSize[0] + 1) / 2, (opts.imageSize[1] + 1) / 2];
  else {
    let sx = 0;
    let sy = 0;
    for (let i = 0; i < n; i++) if (valid[i]) { sx += px[i]!; sy += py[i]!; }
    crpix = [sx / nValid, sy / nValid];
  }

  let used = valid.slice();
  let result: { wcs: Wcs; iterations: number; sipInvErr?: number } | undefined;
  let dRa = new Float64Array(n);
  let dDec = new Float64Array(n);
  let rounds = 0;
  for (; rounds < maxIter; rounds++) {
    const nUsed = countUsed(used);
    if (nUsed < need) throw new TesseraError(`fitWcs: only ${nUsed} stars remain after clipping, too few for a ${label} fit (needs at least ${need})`);
    result = fitOnce(px, py, pairs.ra, pairs.dec, w, used, crpix, model, order, terms, result?.wcs, opts);
    // Residuals of all valid stars on the sky.
    const sky = result.wcs.pixToSky(px, py, 1);
    dRa = new Float64Array(n);
    dDec = new Float64Array(n);
    const r2 = new Float64Array(n);
    skyResiduals(pairs.ra, pairs.dec, sky.ra, sky.dec, finite, dRa, dDec, r2);
    if (!(clipSigma > 0)) break;
    const med = usedMedian(r2, used);
    // For a 2-D Gaussian with per-axis σ, r² has median 2 ln2 σ².
    const sigma2 = med / (2 * Math.LN2);
    const limit2 = Math.max(clipSigma * clipSigma * sigma2, CLIP_FLOOR_ARCSEC ** 2);
    const next = new Uint8Array(n);
    if (!clipStars(valid, r2, limit2, used, next)) break;
    used = next;
  }
  let nUsed = 0;
  let sum = 0;
  let sw = 0;
  for (let i = 0; i < n; i++) {
    if (!used[i]) continue;
    nUsed++;
    sum += w[i]! * (dRa[i]! ** 2 + dDec[i]! ** 2);
    sw += w[i]!;
  }
  return {
    wcs: result!.wcs,
    rmsArcsec: Math.sqrt(sum / sw),
    nUsed,
    nClipped: nValid - nUsed,
    residuals: { dRaArcsec: dRa, dDecArcsec: dDec, used },
    sipInverseMaxErrorPix: result!.sipInvErr,
    iterations: result!.iterations,
  };
}

/** Mean direction of the used stars, degrees. */
function meanDirection(ra: ArrayLike<number>, dec: ArrayLike<number>, used: Uint8Array): [number, number] {
  let x = 0;
  let y = 0;
  let z = 0;
  for (let i = 0; i < used.length; i++) {
    if (!used[i]) continue;
    const a = ra[i]! * D2R;
    const d = dec[i]! * D2R;
    x += Math.cos(d) * Math.cos(a);
    y += Math.cos(d) * Math.sin(a);
    z += Math.sin(d);
  }
  let a = Math.atan2(y, x) * R2D;
  if (a < 0) a += 360;
  return [a, Math.atan2(z, Math.sqrt(x * x + y * y)) * R2D];
}

/** The exponents of a term list as typed arrays (cached per list). */
const exponentCache = new WeakMap<Term[], { p: Int32Array; q: Int32Array; r: Int32Array }>();
function termExponents(terms: Term[]): { p: Int32Array; q: Int32Array; r: Int32Array } {
  let e = exponentCache.get(terms);
  if (!e) {
    e = { p: Int32Array.from(terms, (t) => t.p), q: Int32Array.from(terms, (t) => t.q), r: Int32Array.from(terms, (t) => t.r) };
    exponentCache.set(terms, e);
  }
  return e;
}

/** Powers b^0 .. b^maxE into out, each as `b ** e` (the same values as evaluating it per term). */
function powers(b: number, maxE: number, out: Float64Array): void {
  for (let e = 0; e <= maxE; e++) out[e] = b ** e;
}

function maxOf(a: Int32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (a[i]! > m) m = a[i]!;
  return m;
}

/**
 * Design matrix rows r = 0..k−1, A[r·mm + j] = xs^p_j · ys^q_j · sw_r with (xs, ys) = (ax, ay)/scale.
 * The powers come from a table per star (a small loop function, optimised early; the values are
 * those of `xs ** p` per term).
 */
function design(ax: Float64Array, ay: Float64Array, sw: Float64Array, k: number, scale: number, tp: Int32Array, tq: Int32Array, mm: number,
  A: Float64Array, powX: Float64Array, powY: Float64Array): void {
  const mp = maxOf(tp), mq = maxOf(tq);
  for (let r = 0; r < k; r++) {
    powers(ax[r]! / scale, mp, powX);
    powers(ay[r]! / scale, mq, powY);
    const s = sw[r]!, o = r * mm;
    for (let j = 0; j < mm; j++) A[o + j] = powX[tp[j]!]! * powY[tq[j]!]! * s;
  }
}

/** TPV's two design matrices: axis 1 on T_j(ξ, η), axis 2 on T_j(η, ξ) (with the radial terms rs^r). */
function designTpv(ax: Float64Array, ay: Float64Array, sw: Float64Array, k: number, scale: number, tp: Int32Array, tq: Int32Array, tr: Int32Array,
  mm: number, A: Float64Array, A2: Float64Array, powX: Float64Array, powY: Float64Array, powR: Float64Array): void {
  const me = Math.max(maxOf(tp), maxOf(tq)), mr = maxOf(tr);
  for (let r = 0; r < k; r++) {
    const xs = ax[r]! / scale;
    const ys = ay[r]! / scale;
    powers(xs, me, powX);
    powers(ys, me, powY);
    powers(Math.sqrt(xs * xs + ys * ys), mr, powR);
    const s = sw[r]!, o = r * mm;
    for (let j = 0; j < mm; j++) {
      const e = tr[j]!;
      const rr = e ? powR[e]! : 1;
      A[o + j] = powX[tp[j]!]! * powY[tq[j]!]! * rr * s;
      A2[o + j] = powY[tp[j]!]! * powX[tq[j]!]! * rr * s;
    }
  }
}

// The per-star loops of fitWcs and fitOnce live in small functions: the two big functions run a
// few dozen times per CCD and then stay unoptimised (cheap), instead of being compiled by
// TurboFan with everything they call inlined (~0.13 s of compile time on one core).

/** X = x·sw, Y = y·sw. */
function weighted(x: ArrayLike<number>, y: ArrayLike<number>, sw: Float64Array, k: number, X: Float64Array, Y: Float64Array): void {
  for (let r = 0; r < k; r++) {
    X[r] = x[r]! * sw[r]!;
    Y[r] = y[r]! * sw[r]!;
  }
}

/** (ax, ay) = CD·(u, v). */
function applyCd(c0: number, c1: number, c2: number, c3: number, u: Float64Array, v: Float64Array, k: number, ax: Float64Array, ay: Float64Array): void {
  for (let r = 0; r < k; r++) {
    ax[r] = c0 * u[r]! + c1 * v[r]!;
    ay[r] = c2 * u[r]! + c3 * v[r]!;
  }
}

/** max |a|, |b| over the first k elements (0 when none). */
function maxAbs2(a: Float64Array, b: Float64Array, k: number): number {
  let s = 0;
  for (let r = 0; r < k; r++) s = Math.max(s, Math.abs(a[r]!), Math.abs(b[r]!));
  return s;
}

/** Indices of the used stars and their ra, dec, pixel offsets from crpix and √weight. */
function usedStars(used: Uint8Array, ra: ArrayLike<number>, dec: ArrayLike<number>, px: Float64Array, py: Float64Array, w: Float64Array,
  c0: number, c1: number): { k: number; sra: Float64Array; sdec: Float64Array; u: Float64Array; v: Float64Array; sw: Float64Array } {
  let k = 0;
  for (let i = 0; i < used.length; i++) if (used[i]) k++;
  const sra = new Float64Array(k), sdec = new Float64Array(k), u = new Float64Array(k), v = new Float64Array(k), sw = new Float64Array(k);
  let r = 0;
  for (let i = 0; i < used.length; i++) {
    if (!used[i]) continue;
    sra[r] = ra[i]!; sdec[r] = dec[i]!; u[r] = px[i]! - c0; v[r] = py[i]! - c1; sw[r] = Math.sqrt(w[i]!);
    r++;
  }
  return { k, sra, sdec, u, v, sw };
}

/**
 * On-sky residuals reference − fit (arcsec, ΔRA·cosδ and ΔDec) of every star with finite inputs
 * (NaN otherwise); r2 = their squared norm.
 */
function skyResiduals(ra: ArrayLike<number>, dec: ArrayLike<number>, fra: ArrayLike<number>, fdec: ArrayLike<number>, finite: Uint8Array,
  dRa: Float64Array, dDec: Float64Array, r2: Float64Array): void {
  for (let i = 0; i < finite.length; i++) {
    if (!finite[i]) { dRa[i] = NaN; dDec[i] = NaN; r2[i] = NaN; continue; }
    let da = ra[i]! - fra[i]!;
    if (da > 180) da -= 360;
    if (da < -180) da += 360;
    dRa[i] = da * Math.cos(dec[i]! * D2R) * 3600;
    dDec[i] = (dec[i]! - fdec[i]!) * 3600;
    r2[i] = dRa[i]! ** 2 + dDec[i]! ** 2;
  }
}

/** Median of r2 over the used stars. */
function usedMedian(r2: Float64Array, used: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < used.length; i++) if (used[i]) m++;
  const v = new Float64Array(m);
  let j = 0;
  for (let i = 0; i < used.length; i++) if (used[i]) v[j++] = r2[i]!;
  v.sort();
  return m % 2 ? v[(m - 1) / 2]! : (v[m / 2 - 1]! + v[m / 2]!) / 2;
}

/** next = valid stars within the clip limit; returns whether that differs from used. */
function clipStars(valid: Uint8Array, r2: Float64Array, limit2: number, used: Uint8Array, next: Uint8Array): boolean {
  let changed = false;
  for (let i = 0; i < valid.length; i++) {
    next[i] = valid[i] && r2[i]! <= limit2 ? 1 : 0;
    if (next[i] !== used[i]) changed = true;
  }
  return changed;
}

function countUsed(used: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < used.length; i++) n += used[i]!;
  return n;
}

function fitOnce(
  px: Float64Array, py: Float64Array, ra: ArrayLike<number>, dec: ArrayLike<number>, w: Float64Array, used: Uint8Array,
  crpix: [number, number], model: FitModel, order: number, terms: Term[], previous: Wcs | undefined, opts: FitOptions,
): { wcs: Wcs; iterations: number; sipInvErr?: number } {
  const { k, sra, sdec, u, v, sw } = usedStars(used, ra, dec, px, py, w, crpix[0], crpix[1]);
  const m = terms.length;
  const all = new Uint8Array(k).fill(1);

  let tangent: [number, number] = previous ? [previous.crval[0], previous.crval[1]] : meanDirection(sra, sdec, all);
  // CD in use for TPV's polynomial argument; start from the previous fit or a TAN fit.
  let cd: [number, number, number, number] = previous ? [...previous.cd] : [0, 0, 0, 0];
  let haveCd = previous !== undefined;
  const A = new Float64Array(k * m);
  // powers xs^p, ys^q, rs^r of one star (exponents ≤ 9: SIP order 9, TPV radial r⁷)
  const powX = new Float64Array(10), powY = new Float64Array(10), powR = new Float64Array(10);
  let iterations = 0;
  let coefX: Float64Array = new Float64Array(m);
  let coefY: Float64Array = new Float64Array(m);
  let scale = 1;
  let tpvCd: [number, number, number, number] = cd;
  for (let it = 0; it < 30; it++) {
    iterations = it + 1;
    const plane = Wcs.tan({ crval: tangent, crpix: [0, 0], cd: [1, 0, 0, 1] }).skyToPix(sra, sdec, 1);
    const X = new Float64Array(k);
    const Y = new Float64Array(k);
    weighted(plane.x, plane.y, sw, k, X, Y);
    const tpvMode = model === 'tpv' && haveCd;
    // Arguments of the polynomial: pixel offsets (TAN, SIP, and the TPV bootstrap) or CD·(u, v) (TPV).
    const ax = new Float64Array(k);
    const ay = new Float64Array(k);
    if (tpvMode) applyCd(cd[0], cd[1], cd[2], cd[3], u, v, k, ax, ay);
    else { ax.set(u); ay.set(v); }
    const lin = model === 'tpv' && !haveCd; // bootstrap: a linear fit gives the first CD
    const useTerms = lin ? terms.filter((t) => t.p + t.q + t.r <= 1 && t.r === 0) : terms;
    const mm = useTerms.length;
    scale = maxAbs2(ax, ay, k);
    if (scale === 0) scale = 1;
    const te = termExponents(useTerms);
    if (model === 'tpv' && tpvMode) {
      // Axis 1 on T_j(ξ, η), axis 2 on T_j(η, ξ): two design matrices.
      const A2 = new Float64Array(k * mm);
      designTpv(ax, ay, sw, k, scale, te.p, te.q, te.r, mm, A, A2, powX, powY, powR);
      coefX = leastSquares(A.subarray(0, k * mm), k, mm, [X], 'fitWcs')[0]!;
      coefY = leastSquares(A2, k, mm, [Y], 'fitWcs')[0]!;
    } else {
      design(ax, ay, sw, k, scale, te.p, te.q, mm, A, powX, powY);
      [coefX, coefY] = leastSquares(A.subarray(0, k * mm), k, mm, [X, Y], 'fitWcs') as [Float64Array, Float64Array];
    }
    // Unscale.
    for (let j = 0; j < mm; j++) {
      const f = scale ** (useTerms[j]!.p + useTerms[j]!.q + useTerms[j]!.r);
      coefX[j] = coefX[j]! / f;
      coefY[j] = coefY[j]! / f;
    }
    const at = (c: Float64Array, p: number, q: number) => {
      const j = useTerms.findIndex((t) => t.p === p && t.q === q && t.r === 0);
      return j < 0 ? 0 : c[j]!;
    };
    const c0 = at(coefX, 0, 0);
    const d0 = at(coefY, 0, 0);
    // Linear part.
    let linDone = true;
    if (model === 'tpv' && tpvMode) {
      // ξ' ≈ L·ξ: fold L into CD for the next round (PV2_1 multiplies η, PV2_2 multiplies ξ).
      const l11 = at(coefX, 1, 0);
      const l12 = at(coefX, 0, 1);
      const l21 = at(coefY, 0, 1);
      const l22 = at(coefY, 1, 0);
      tpvCd = cd;
      linDone = Math.abs(l11 - 1) + Math.abs(l12) + Math.abs(l21) + Math.abs(l22 - 1) < 1e-13;
      cd = [l11 * cd[0] + l12 * cd[2], l11 * cd[1] + l12 * cd[3], l21 * cd[0] + l22 * cd[2], l21 * cd[1] + l22 * cd[3]];
    } else {
      cd = [at(coefX, 1, 0), at(coefX, 0, 1), at(coefY, 1, 0), at(coefY, 0, 1)];
      tpvCd = cd;
    }
    const wasBootstrap = lin;
    haveCd = true;
    // Move the tangent point to where CRPIX lands.
    const moved = Math.sqrt(c0 * c0 + d0 * d0);
    if (moved > 0) tangent = Wcs.tan({ crval: tangent, crpix: [0, 0], cd: [1, 0, 0, 1] }).pixToSkyOne(c0, d0, 1);
    if (!wasBootstrap && moved < 1e-11 && linDone) break;
  }

  // Build the WCS from the last fit (its tangent point is converged to < 1e-11°).
  const naxis = opts.imageSize;
  if (model === 'tan') return { wcs: new Wcs({ crval: tangent, crpix, cd, naxis }), iterations };
  if (model === 'tpv') {
    const pv1 = new Float64Array(40);
    const pv2 = new Float64Array(40);
    for (let j = 0; j < 40; j++) {
      const [a, b, c] = TPV_TERMS[j]!;
      const t = terms.findIndex((x) => x.p === a && x.q === b && x.r === c);
      if (t < 0) continue;
      pv1[j] = coefX[t]!;
      pv2[j] = coefY[t]!;
    }
    pv1[0] = 0;
    pv2[0] = 0;
    return { wcs: new Wcs({ crval: tangent, crpix, cd: tpvCd, tpv: { pv1, pv2 }, naxis }), iterations };
  }
  // SIP: (ξ, η) = CD·(u + f, v + g) ⇒ (f, g)_pq = CD⁻¹·(α, β)_pq for p + q ≥ 2.
  const det = cd[0] * cd[3] - cd[1] * cd[2];
  const inv = [cd[3] / det, -cd[1] / det, -cd[2] / det, cd[0] / det];
  const a: number[][] = [];
  const b: number[][] = [];
  for (let p = 0; p <= order; p++) {
    a.push(new Array(order + 1 - p).fill(0));
    b.push(new Array(order + 1 - p).fill(0));
  }
  terms.forEach((t, j) => {
    if (t.p + t.q < 2) return;
    a[t.p]![t.q] = inv[0]! * coefX[j]! + inv[1]! * coefY[j]!;
    b[t.p]![t.q] = inv[2]! * coefX[j]! + inv[3]! * coefY[j]!;
  });
  const fwd = new Sip({ a, b });
  // Inverse AP/BP on a grid over the image (or the stars' bounding box).
  let x0: number, x1: number, y0: number, y1: number;
  if (naxis) { x0 = 0.5; x1 = naxis[0] + 0.5; y0 = 0.5; y1 = naxis[1] + 0.5; }
  else {
    x0 = Infinity; x1 = -Infinity; y0 = Infinity; y1 = -Infinity;
    for (let r = 0; r < k; r++) {
      x0 = Math.min(x0, u[r]! + crpix[0]); x1 = Math.max(x1, u[r]! + crpix[0]);
      y0 = Math.min(y0, v[r]! + crpix[1]); y1 = Math.max(y1, v[r]! + crpix[1]);
    }
  }
  const inv2 = fitSipInverse(fwd, crpix, [x0, x1, y0, y1], opts.sipInverseOrder ?? order + 1);
  return { wcs: new Wcs({ crval: tangent, crpix, cd, sip: { a, b, ap: inv2.ap, bp: inv2.bp }, naxis }), iterations, sipInvErr: inv2.maxErr };
}

/** Fit AP/BP (order `ord`, all terms incl. constant and linear) to the inverse of a SIP forward polynomial. */
export function fitSipInverse(sip: Sip, crpix: readonly [number, number], box: [number, number, number, number], ord: number): { ap: number[][]; bp: number[][]; maxErr: number } {
  const G = 40;
  const N = G * G;
  const U = new Float64Array(N);
  const V = new Float64Array(N);
  const du = new Float64Array(N);
  const dv = new Float64Array(N);
  const t2 = new Float64Array(2);
  let s = 0;
  for (let iy = 0; iy < G; iy++) {
    for (let ix = 0; ix < G; ix++) {
      const uu = box[0] + ((box[1] - box[0]) * ix) / (G - 1) - crpix[0];
      const vv = box[2] + ((box[3] - box[2]) * iy) / (G - 1) - crpix[1];
      sip.forward(uu, vv, t2);
      const r = iy * G + ix;
      U[r] = t2[0]!;
      V[r] = t2[1]!;
      du[r] = uu - t2[0]!;
      dv[r] = vv - t2[1]!;
      s = Math.max(s, Math.abs(t2[0]!), Math.abs(t2[1]!));
    }
  }
  if (s === 0) s = 1;
  const terms: Term[] = [];
  for (let d = 0; d <= ord; d++) for (let p = d; p >= 0; p--) terms.push({ p, q: d - p, r: 0 });
  const m = terms.length;
  const A = new Float64Array(N * m);
  for (let r = 0; r < N; r++) for (let j = 0; j < m; j++) A[r * m + j] = (U[r]! / s) ** terms[j]!.p * (V[r]! / s) ** terms[j]!.q;
  const [ca, cb] = leastSquares(A, N, m, [du, dv], 'SIP inverse fit') as [Float64Array, Float64Array];
  const ap: number[][] = [];
  const bp: number[][] = [];
  for (let p = 0; p <= ord; p++) {
    ap.push(new Array(ord + 1 - p).fill(0));
    bp.push(new Array(ord + 1 - p).fill(0));
  }
  terms.forEach((t, j) => {
    const f = s ** (t.p + t.q);
    ap[t.p]![t.q] = ca[j]! / f;
    bp[t.p]![t.q] = cb[j]! / f;
  });
  let maxErr = 0;
  for (let r = 0; r < N; r++) {
    let eu = -du[r]!;
    let ev = -dv[r]!;
    for (let j = 0; j < m; j++) {
      eu += A[r * m + j]! * ca[j]!;
      ev += A[r * m + j]! * cb[j]!;
    }
    maxErr = Math.max(maxErr, Math.abs(eu), Math.abs(ev));
  }
  return { ap, bp, maxErr };
}
