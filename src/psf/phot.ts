/**
 * PSF photometry at fixed positions with a PsfModel (linear least squares for the amplitude,
 * the sky already subtracted). Positions are 0-based.
 */
import type { PsfModel } from './model.js';

export interface PsfPhotResult {
  flux: Float64Array;
  fluxErr: Float64Array;
  /** Reduced χ² of the fit. */
  chi2: Float64Array;
}

// The pixel loops of one source in small functions of their own: psfPhotometry runs once per
// CCD over thousands of sources, and V8 then optimises these early instead of the whole loop on
// the stack (in unoptimised code every intermediate double is a heap allocation).

/** Σ w·m², Σ w·m, Σ w, Σ w·m·d, Σ w·d (w = 1/variance) over the usable pixels of the stamp at (cx, cy), into out[0..5). */
function psfSums(data: Float32Array, width: number, height: number, variance: Float32Array | undefined, mask: ArrayLike<number> | undefined,
  bg: number, stamp: Float32Array, D: number, cx: number, cy: number, out: Float64Array): void {
  let spp = 0, sp = 0, s1 = 0, spd = 0, sd = 0;
  for (let j = 0; j < D; j++) {
    const yy = cy + j;
    if (yy < 0 || yy >= height) continue;
    for (let k = 0; k < D; k++) {
      const xx = cx + k;
      if (xx < 0 || xx >= width) continue;
      const p = yy * width + xx;
      const dv = data[p]!;
      const v = variance ? variance[p]! : bg;
      if (!Number.isFinite(dv) || !(v > 0) || (mask && mask[p] !== 0)) continue;
      const m = stamp[j * D + k]!, w = 1 / v;
      spp += w * m * m; sp += w * m; s1 += w; spd += w * m * dv; sd += w * dv;
    }
  }
  out[0] = spp; out[1] = sp; out[2] = s1; out[3] = spd; out[4] = sd;
}

/** Pixels counted by the last psfChi2. */
let chiDof = 0;

/** Σ (d − f·m − b)²/variance over the usable pixels (their number in chiDof). */
function psfChi2(data: Float32Array, width: number, height: number, variance: Float32Array | undefined, mask: ArrayLike<number> | undefined,
  bg: number, stamp: Float32Array, D: number, cx: number, cy: number, f: number, b: number): number {
  let c2 = 0, dof = 0;
  for (let j = 0; j < D; j++) {
    const yy = cy + j;
    if (yy < 0 || yy >= height) continue;
    for (let k = 0; k < D; k++) {
      const xx = cx + k;
      if (xx < 0 || xx >= width) continue;
      const p = yy * width + xx;
      const dv = data[p]!;
      const v = variance ? variance[p]! : bg;
      if (!Number.isFinite(dv) || !(v > 0) || (mask && mask[p] !== 0)) continue;
      const res = dv - f * stamp[j * D + k]! - b;
      c2 += (res * res) / v; dof++;
    }
  }
  chiDof = dof;
  return c2;
}

export function psfPhotometry(
  img: { data: Float32Array; width: number; height: number; variance?: Float32Array; mask?: ArrayLike<number> },
  model: PsfModel,
  xs: ArrayLike<number>, ys: ArrayLike<number>,
  opts: { radiusPix?: number; noiseVariance?: number; fitSky?: boolean } = {},
): PsfPhotResult {
  const n = xs.length;
  const r = opts.radiusPix ?? Math.max(3, Math.round(model.radiusPix));
  const D = 2 * r + 1;
  const stamp = new Float32Array(D * D);
  const flux = new Float64Array(n), fluxErr = new Float64Array(n), chi2 = new Float64Array(n);
  const sums = new Float64Array(5);
  const bg = opts.noiseVariance ?? 1;
  const { data, width, height, variance, mask } = img;
  const fitSky = opts.fitSky === true;
  for (let i = 0; i < n; i++) {
    const x = xs[i]!, y = ys[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) { flux[i] = NaN; fluxErr[i] = NaN; chi2[i] = NaN; continue; }
    model.stampAt(x, y, D, stamp);
    const cx = Math.round(x) - r, cy = Math.round(y) - r;
    // Weighted least squares for amplitude f (and, with fitSky, a constant local sky b).
    psfSums(data, width, height, variance, mask, bg, stamp, D, cx, cy, sums);
    const spp = sums[0]!, sp = sums[1]!, s1 = sums[2]!, spd = sums[3]!, sd = sums[4]!;
    if (!(spp > 0)) { flux[i] = NaN; fluxErr[i] = NaN; chi2[i] = NaN; continue; }
    let f: number, b = 0, varF: number;
    const det = spp * s1 - sp * sp;
    if (fitSky && det > 1e-12 * spp * s1) {
      f = (s1 * spd - sp * sd) / det; b = (spp * sd - sp * spd) / det; varF = s1 / det;
    } else {
      f = spd / spp; varF = 1 / spp;
    }
    flux[i] = f; fluxErr[i] = Math.sqrt(varF);
    const c2 = psfChi2(data, width, height, variance, mask, bg, stamp, D, cx, cy, f, b);
    const dof = chiDof;
    chi2[i] = dof > 1 ? c2 / (dof - 1) : NaN;
  }
  return { flux, fluxErr, chi2 };
}

/**
 * Noise-equivalent area (pixels) of the PSF at (x, y): 1 / Σ P², P normalised to sum 1.
 * The 5σ point-source depth for sky variance σ² per pixel is 5·σ·sqrt(NEA) counts.
 */
export function noiseEquivalentArea(model: PsfModel, x: number, y: number): number {
  const r = Math.max(3, Math.round(model.radiusPix));
  const D = 2 * r + 1;
  const s = model.stampAt(x, y, D);
  let q = 0;
  for (let i = 0; i < s.length; i++) q += s[i]! * s[i]!;
  return 1 / q;
}
