/**
 * The simulated PSF: a Moffat core (β = 3) plus a wider Moffat wing (β = 2.5, 2× the core
 * scale, 10% of the flux), sheared by an ellipticity that varies smoothly over the focal plane,
 * FWHM from the exposure's seeing with a focal-plane variation.
 *
 * Profile (r² = dᵀ P d, P the unit-determinant shear matrix):
 *   f(r) = (1−w)(β−1)/(πα²)(1+r²/α²)^−β + w(β_w−1)/(πα_w²)(1+r²/α_w²)^−β_w
 * Ellipticity e = (a² − b²)/(a² + b²) with components (e1, e2) in the pixel frame:
 *   P = [[1−e1, −e2], [−e2, 1+e1]] / √(1 − e1² − e2²).
 *
 * Stars are rendered by integrating this profile over each pixel (3×3 sub-samples within two
 * FWHM + 1 px of the centre, the pixel centre elsewhere) on a stamp around the star. Galaxies use a
 * mixture-of-Gaussians approximation of the same profile (fitted once, non-negative least
 * squares), convolved analytically with the galaxy's Gaussian mixture.
 */

import type { ExposurePlan } from './survey.js';
import type { CcdGeometry } from './geometry.js';

export const PSF_BETA = 3;
export const PSF_WING_FRAC = 0.1;
export const PSF_WING_SCALE = 2.0;
export const PSF_WING_BETA = 2.5;

export interface PsfShape {
  /** Core Moffat scale α (px); wing scale is PSF_WING_SCALE·α. */
  alpha: number;
  e1: number;
  e2: number;
  /** FWHM of the composite profile along the geometric-mean axis (px). */
  fwhmPix: number;
}

/** Round composite profile at radius r for α = 1. */
function profileUnit(r2: number): number {
  const b = PSF_BETA, bw = PSF_WING_BETA, s2 = PSF_WING_SCALE * PSF_WING_SCALE;
  return (1 - PSF_WING_FRAC) * (b - 1) / Math.PI * Math.pow(1 + r2, -b)
    + PSF_WING_FRAC * (bw - 1) / (Math.PI * s2) * Math.pow(1 + r2 / s2, -bw);
}

/** FWHM of the composite profile in units of α (bisection, computed once). */
export const FWHM_PER_ALPHA: number = (() => {
  const half = profileUnit(0) / 2;
  let lo = 0, hi = 5;
  for (let k = 0; k < 100; k++) {
    const mid = (lo + hi) / 2;
    if (profileUnit(mid * mid) > half) lo = mid; else hi = mid;
  }
  return 2 * lo;
})();

/** Fraction of the flux outside radius r (px) for a round PSF of scale α. */
export function psfFluxOutside(rPix: number, alpha: number): number {
  const x2 = (rPix / alpha) ** 2, s2 = PSF_WING_SCALE * PSF_WING_SCALE;
  return (1 - PSF_WING_FRAC) * Math.pow(1 + x2, 1 - PSF_BETA) + PSF_WING_FRAC * Math.pow(1 + x2 / s2, 1 - PSF_WING_BETA);
}

/**
 * The PSF at a pixel of a CCD in an exposure: FWHM = seeing·(1 + 0.06ρ² + tilt·ρ),
 * ellipticity = exposure constant + a tangential astigmatism pattern 0.035ρ².
 */
export function psfShapeAt(exp: ExposurePlan, geom: CcdGeometry, i: number, j: number): PsfShape {
  const [fx, fy] = geom.focalNorm(i, j);
  const rho2 = fx * fx + fy * fy;
  const fwhmArcsec = exp.seeingArcsec * (1 + 0.06 * rho2 + exp.psfTilt[0] * fx + exp.psfTilt[1] * fy);
  const fwhmPix = fwhmArcsec / geom.camera.pixelScaleArcsec;
  const phi2 = Math.atan2(fy, fx) * 2;
  const e1 = exp.psfE0[0] - 0.035 * rho2 * Math.cos(phi2);
  const e2 = exp.psfE0[1] - 0.035 * rho2 * Math.sin(phi2);
  return { alpha: fwhmPix / FWHM_PER_ALPHA, e1, e2, fwhmPix };
}

/** Shear matrix P (unit determinant) for an ellipticity. */
function shear(e1: number, e2: number): [number, number, number] {
  const n = 1 / Math.sqrt(1 - e1 * e1 - e2 * e2);
  return [(1 - e1) * n, -e2 * n, (1 + e1) * n];
}

/** Stamp radius (px) for a point source of `flux` (e−): where the profile drops below `floor` e−/px, at least 8 FWHM. */
export function stampRadius(shape: PsfShape, flux: number, floor = 0.02, maxR = 400): number {
  let r = Math.ceil(8 * shape.fwhmPix);
  const a2 = shape.alpha * shape.alpha;
  while (r < maxR && flux * profileUnit((r * r) / a2) / a2 > floor) r = Math.ceil(r * 1.25);
  return Math.min(r, maxR);
}

const SUB = 3;
const SUB_OFF: number[] = Array.from({ length: SUB }, (_, k) => (k + 0.5) / SUB - 0.5);

/**
 * Add a point source of total `flux` centred at (xc, yc) (0-based pixel coordinates, pixel
 * centres at integers) into img (row-major, w×h), out to radius R. Returns the flux added
 * inside the image.
 */
export function addPointSource(img: Float32Array, w: number, h: number, shape: PsfShape, xc: number, yc: number, flux: number, R: number): number {
  const [pxx, pxy, pyy] = shear(shape.e1, shape.e2);
  const a2 = shape.alpha * shape.alpha, aw2 = a2 * PSF_WING_SCALE * PSF_WING_SCALE;
  const c1 = flux * (1 - PSF_WING_FRAC) * (PSF_BETA - 1) / (Math.PI * a2);
  const c2 = flux * PSF_WING_FRAC * (PSF_WING_BETA - 1) / (Math.PI * aw2);
  const ia2 = 1 / a2, iaw2 = 1 / aw2;
  const x0 = Math.max(0, Math.floor(xc - R)), x1 = Math.min(w - 1, Math.ceil(xc + R));
  const y0 = Math.max(0, Math.floor(yc - R)), y1 = Math.min(h - 1, Math.ceil(yc + R));
  const rIn2 = (2 * shape.fwhmPix + 1) ** 2;
  const R2 = R * R;
  const inv = 1 / (SUB * SUB);
  let added = 0;
  for (let y = y0; y <= y1; y++) {
    const dy = y - yc;
    const row = y * w;
    for (let x = x0; x <= x1; x++) {
      const dx = x - xc;
      const d2 = dx * dx + dy * dy;
      if (d2 > R2) continue;
      let v: number;
      if (d2 < rIn2) {
        v = 0;
        for (let sy = 0; sy < SUB; sy++) {
          const yy = dy + SUB_OFF[sy]!;
          for (let sx = 0; sx < SUB; sx++) {
            const xx = dx + SUB_OFF[sx]!;
            const q = pxx * xx * xx + 2 * pxy * xx * yy + pyy * yy * yy;
            const t1 = 1 + q * ia2, t2 = 1 + q * iaw2;
            v += c1 / (t1 * t1 * t1) + c2 / (t2 * t2 * Math.sqrt(t2));
          }
        }
        v *= inv;
      } else {
        const q = pxx * dx * dx + 2 * pxy * dx * dy + pyy * dy * dy;
        const t1 = 1 + q * ia2, t2 = 1 + q * iaw2;
        v = c1 / (t1 * t1 * t1) + c2 / (t2 * t2 * Math.sqrt(t2));
      }
      img[row + x] += v;
      added += v;
    }
  }
  return added;
}

/** A centred PSF image (size×size, odd size, unit flux, centre at the middle pixel + (dx, dy)). */
export function psfStamp(shape: PsfShape, size: number, dx = 0, dy = 0): Float32Array {
  const out = new Float32Array(size * size);
  const c = (size - 1) / 2;
  addPointSource(out, size, size, shape, c + dx, c + dy, 1, size);
  return out;
}

/* ---------------- mixture-of-Gaussians approximation (for galaxies) ---------------- */

/** PSF mixture in units of α: amplitudes (sum 1) and σ (in α). */
export const PSF_MOG: { amp: Float64Array; sigma: Float64Array } = (() => {
  const sig = [0.3, 0.5, 0.8, 1.3, 2.1, 3.4, 5.5, 9];
  const K = sig.length;
  const A: number[][] = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  const b = new Array<number>(K).fill(0);
  for (let r = 0.01; r < 40; r += 0.02) {
    const wgt = r; // area weight
    const f = profileUnit(r * r);
    const g = sig.map((s) => Math.exp(-0.5 * r * r / (s * s)) / (2 * Math.PI * s * s));
    for (let i = 0; i < K; i++) {
      b[i] += wgt * g[i]! * f;
      for (let j = 0; j < K; j++) A[i]![j] += wgt * g[i]! * g[j]!;
    }
  }
  // non-negative least squares by projected coordinate descent
  const x = new Array<number>(K).fill(1 / K);
  for (let it = 0; it < 20000; it++) {
    let change = 0;
    for (let i = 0; i < K; i++) {
      let s = b[i]!;
      for (let j = 0; j < K; j++) if (j !== i) s -= A[i]![j]! * x[j]!;
      const nx = Math.max(0, s / A[i]![i]!);
      change += Math.abs(nx - x[i]!);
      x[i] = nx;
    }
    if (change < 1e-13) break;
  }
  const tot = x.reduce((p, q) => p + q, 0);
  return { amp: Float64Array.from(x.map((v) => v / tot)), sigma: Float64Array.from(sig) };
})();

/** Tractor mixtures for Sérsic profiles (Hogg & Lang 2013, tractor/mixture_profiles.py): amplitudes and variances in units of r_e. */
const EXP_AMP = [2.34853813e-03, 3.07995260e-02, 2.23364214e-01, 1.17949102e+00, 4.33873750e+00, 5.99820770e+00];
const EXP_VAR = [1.20078965e-03, 8.84526493e-03, 3.91463084e-02, 1.39976817e-01, 4.60962500e-01, 1.50159566e+00];
const DEV_AMP = [4.26347652e-02, 2.40127183e-01, 6.85907632e-01, 1.51937350e+00, 2.83627243e+00, 4.46467501e+00, 5.72440830e+00, 5.60989349e+00];
const DEV_VAR = [2.23759216e-04, 1.00220099e-03, 4.18731126e-03, 1.69432589e-02, 6.84850479e-02, 2.87207080e-01, 1.33320254e+00, 8.40215071e+00];

function normalise(a: number[]): Float64Array {
  const s = a.reduce((p, q) => p + q, 0);
  return Float64Array.from(a.map((v) => v / s));
}
export const SERSIC_MOG = {
  1: { amp: normalise(EXP_AMP), var: Float64Array.from(EXP_VAR) },
  4: { amp: normalise(DEV_AMP), var: Float64Array.from(DEV_VAR) },
} as const;

/**
 * Add a Sérsic (n = 1 or 4) galaxy convolved with the PSF: half-light radius rePix along the
 * major axis, axis ratio q, major-axis angle thetaPix (radians from the pixel x axis towards y).
 * Each Gaussian of the product mixture is evaluated on its own bounding box, with the pixel
 * response approximated by adding 1/12 px² to the variance.
 */
export function addGalaxy(img: Float32Array, w: number, h: number, psf: PsfShape, xc: number, yc: number,
  flux: number, n: 1 | 4, rePix: number, q: number, thetaPix: number, floor = 1e-3): void {
  const gal = SERSIC_MOG[n];
  const ct = Math.cos(thetaPix), st = Math.sin(thetaPix);
  // S = R diag(1, q²) Rᵀ
  const sxx = ct * ct + q * q * st * st, sxy = ct * st * (1 - q * q), syy = st * st + q * q * ct * ct;
  const e1 = psf.e1, e2 = psf.e2;
  const nrm = 1 / Math.sqrt(1 - e1 * e1 - e2 * e2);
  const pixx = (1 + e1) * nrm, pixy = e2 * nrm, piyy = (1 - e1) * nrm; // P⁻¹
  const a2 = psf.alpha * psf.alpha;
  const re2 = rePix * rePix;
  // Merge the galaxy components much narrower than the PSF core into one with the same
  // amplitude and second moment (their convolution with the PSF is indistinguishable).
  const small = 0.25 * (PSF_MOG.sigma[0]! * PSF_MOG.sigma[0]!) * a2;
  const gAmp: number[] = [], gVar: number[] = [];
  let mAmp = 0, mVar = 0;
  for (let k = 0; k < gal.amp.length; k++) {
    const v = gal.var[k]! * re2;
    if (v < small) { mAmp += gal.amp[k]!; mVar += gal.amp[k]! * v; } else { gAmp.push(gal.amp[k]!); gVar.push(v); }
  }
  if (mAmp > 0) { gAmp.push(mAmp); gVar.push(mVar / mAmp); }
  for (let k = 0; k < gAmp.length; k++) {
    const gv = gVar[k]!;
    for (let m = 0; m < PSF_MOG.amp.length; m++) {
      const amp = gAmp[k]! * PSF_MOG.amp[m]! * flux;
      if (amp < floor) continue;
      const pv = PSF_MOG.sigma[m]! * PSF_MOG.sigma[m]! * a2;
      const cxx = gv * sxx + pv * pixx + 1 / 12;
      const cxy = gv * sxy + pv * pixy;
      const cyy = gv * syy + pv * piyy + 1 / 12;
      addGaussian(img, w, h, xc, yc, amp, cxx, cxy, cyy, floor);
    }
  }
}

/**
 * Add amp × N(centre, C) sampled at pixel centres, on a box of ±nσ (4 ≤ n ≤ 6, larger when the
 * peak is far above `floor`). Uses the exact recurrence exp(E(x+1)) = exp(E(x))·r, r ← r·k along
 * each row, so only two exponentials per row.
 */
export function addGaussian(img: Float32Array, w: number, h: number, xc: number, yc: number,
  amp: number, cxx: number, cxy: number, cyy: number, floor: number): void {
  const det = cxx * cyy - cxy * cxy;
  const peak = amp / (2 * Math.PI * Math.sqrt(det));
  const nsig = peak > floor ? Math.max(4, Math.min(6, Math.sqrt(2 * Math.log(peak / floor)))) : 4;
  const hx = nsig * Math.sqrt(cxx), hy = nsig * Math.sqrt(cyy);
  const ixx = cyy / det, ixy = -cxy / det, iyy = cxx / det;
  const x0 = Math.max(0, Math.ceil(xc - hx)), x1 = Math.min(w - 1, Math.floor(xc + hx));
  const y0 = Math.max(0, Math.ceil(yc - hy)), y1 = Math.min(h - 1, Math.floor(yc + hy));
  if (x1 < x0) return;
  const kx = Math.exp(-ixx);
  for (let y = y0; y <= y1; y++) {
    const dy = y - yc;
    const row = y * w;
    const bxy = 2 * ixy * dy;
    const dx0 = x0 - xc;
    let g = peak * Math.exp(-0.5 * (ixx * dx0 * dx0 + bxy * dx0 + iyy * dy * dy));
    let r = Math.exp(-0.5 * (ixx * (2 * dx0 + 1) + bxy));
    for (let x = x0; x <= x1; x++) {
      img[row + x] += g;
      g *= r;
      r *= kx;
    }
  }
}
