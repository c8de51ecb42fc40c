/**
 * Transient detection on a difference image: matched filter with the difference image's PSF,
 * positive and negative peaks, PSF flux with error (science counts), signed S/N, dipole pairing
 * with a two-PSF dipole fit, flags for masked/edge pixels, distances to the nearest template
 * source and reference star, and autoScan-like features for real/bogus scoring.
 *
 * Pixel convention: 0-based positions in the returned objects (the CLI adds 1).
 */
import type { MaskedImage } from '../image/masked-image.js';
import { MaskBits } from '../image/masked-image.js';
import { convolveSpatial } from './al/convolve.js';
import type { PsfLike } from '../detect/psf-like.js';
import { DiffPsf } from './subtract.js';

export const DIA_FLAGS = {
  /** A masked (NaN) pixel inside the PSF footprint. */
  MASKED: 1,
  /** Within a PSF radius of the image edge or of an undefined region. */
  EDGE: 2,
  /** Part of a dipole (a peak of the opposite sign within 2 FWHM). */
  DIPOLE: 4,
  /** Cosmic-ray or bad-pixel mask bits inside the footprint. */
  CR_BAD: 8,
} as const;

export interface DiaSource {
  x: number;
  y: number;
  flux: number;
  fluxErr: number;
  snr: number;
  flags: number;
  /** Dipole fit: fluxes of the positive and negative lobes and their separation (pixels). */
  dipolePos: number;
  dipoleNeg: number;
  dipoleSep: number;
  /** Distances (pixels) to the nearest template source / reference star (Infinity if none). */
  distTemplate: number;
  distRef: number;
  /** Feature vector (see FEATURE_NAMES). */
  features: Float64Array;
  rbScore: number;
}

export const FEATURE_NAMES = [
  'snr_abs', 'n2sig3', 'n3sig3', 'n2sig5', 'n3sig5', 'psf_chi2', 'ap_psf_ratio', 'diff_tmpl_ratio',
  'sharpness', 'ellipticity', 'size_ratio', 'mask_frac', 'col_med_ratio', 'dist_edge', 'dist_tmpl',
  'dist_ref', 'is_dipole', 'neg', 'peak_snr_ratio',
] as const;

export interface DiaOptions {
  /** Detection threshold on |S/N| of the matched filter (default 5). */
  thresh?: number;
  /** Template sources (0-based) for nearest-source distances. */
  templateSources?: { x: ArrayLike<number>; y: ArrayLike<number>; flux?: ArrayLike<number> };
  /** Reference-catalog stars in science pixels (0-based). */
  refStars?: { x: ArrayLike<number>; y: ArrayLike<number> };
  /** Matched template (science counts) for flux-ratio features. */
  matchedTemplate?: Float32Array;
  /** PSF FWHM of the difference image (pixels). */
  fwhmPix: number;
  /** Maximum number of sources kept (highest |S/N| first, default 5000). */
  maxSources?: number;
  /**
   * Precomputed significance and flux maps (ZOGY: S_corr and α·F_n): peaks are found on `snr`,
   * fluxes read at the peak pixel, errors = |flux/snr|.
   */
  maps?: { snr: Float32Array; flux: Float32Array };
  /**
   * How the matched filter is computed: 'sparse' (default) selects candidate pixels with a
   * separable box-cascade approximation of the PSF and evaluates the exact correlation only
   * around them (falls back to 'fft' when the approximation is poor); 'fft' correlates the
   * whole image by FFT. Both give the same S/N at every pixel that can be a detection.
   */
  matchedFilter?: 'sparse' | 'fft';
}

/** A constant PSF given as a centred stamp (integer-pixel aligned; sub-pixel offsets ignored). */
export class StampPsf implements PsfLike {
  constructor(readonly data: Float32Array, readonly size: number, readonly fwhmPix: number) {}
  stampAt(_x: number, _y: number, size: number, out: Float32Array = new Float32Array(size * size)): Float32Array {
    out.fill(0);
    const h = (size - 1) >> 1, hs = (this.size - 1) >> 1;
    for (let j = -h; j <= h; j++) for (let i = -h; i <= h; i++) {
      if (Math.abs(i) > hs || Math.abs(j) > hs) continue;
      out[(j + h) * size + i + h] = this.data[(j + hs) * this.size + i + hs]!;
    }
    return out;
  }
  fwhmPixAt(): number { return this.fwhmPix; }
}

/**
 * A function filling PSF stamps of one size. For a difference-image PSF (DiffPsf: base ⊗ φ,
 * central crop) over a separable base (a Gaussian), the crop is computed in two 1-D passes,
 * c_v(i) = Σ_u φ(v, u)·gx(i + hφ − u), stamp(j, i) = Σ_v gy(j + hφ − v)·c_v(i) — the same sums as
 * DiffPsf.stampAt (whose base stamp is gx ⊗ gy), in ~2·size·nφ² instead of size²·nφ² operations.
 */
export function psfStamper(psf: PsfLike, size: number): (x: number, y: number, out: Float32Array) => Float32Array {
  if (!(psf instanceof DiffPsf) || psf.phiSize === 1 || !psf.base.separableStampAt) return (x, y, out) => psf.stampAt(x, y, size, out);
  const base = psf.base, phi = psf.phi, ps = psf.phiSize, hp = (ps - 1) >> 1;
  const gx = new Float64Array(size), gy = new Float64Array(size);
  const c = new Float64Array(ps * size);
  return (x, y, out) => {
    if (!base.separableStampAt!(x, y, size, gx, gy)) return psf.stampAt(x, y, size, out);
    for (let v = 0; v < ps; v++) {
      const o = v * size, po = v * ps;
      for (let i = 0; i < size; i++) {
        // gx index i + hp − u within [0, size)
        const u0 = Math.max(0, i + hp - size + 1), u1 = Math.min(ps - 1, i + hp);
        let s = 0;
        for (let u = u0; u <= u1; u++) s += phi[po + u]! * gx[i + hp - u]!;
        c[o + i] = s;
      }
    }
    for (let j = 0; j < size; j++) {
      const v0 = Math.max(0, j + hp - size + 1), v1 = Math.min(ps - 1, j + hp), oo = j * size;
      for (let i = 0; i < size; i++) {
        let s = 0;
        for (let v = v0; v <= v1; v++) s += gy[j + hp - v]! * c[v * size + i]!;
        out[oo + i] = s;
      }
    }
    return out;
  };
}

/** Nearest-neighbour distances through a uniform grid. */
class PointGrid {
  private cells = new Map<number, number[]>();
  constructor(private xs: ArrayLike<number>, private ys: ArrayLike<number>, private cell: number) {
    for (let i = 0; i < xs.length; i++) {
      const k = this.key(Math.floor(xs[i]! / cell), Math.floor(ys[i]! / cell));
      (this.cells.get(k) ?? this.cells.set(k, []).get(k)!).push(i);
    }
  }
  private key(i: number, j: number): number { return (j + 1000) * 100003 + (i + 1000); }
  nearest(x: number, y: number, maxRings = 6): number {
    const ci = Math.floor(x / this.cell), cj = Math.floor(y / this.cell);
    let best = Infinity;
    for (let r = 0; r <= maxRings; r++) {
      for (let j = cj - r; j <= cj + r; j++) for (let i = ci - r; i <= ci + r; i++) {
        if (Math.max(Math.abs(i - ci), Math.abs(j - cj)) !== r) continue;
        for (const p of this.cells.get(this.key(i, j)) ?? []) {
          const d = Math.hypot(this.xs[p]! - x, this.ys[p]! - y);
          if (d < best) best = d;
        }
      }
      if (best <= r * this.cell) break;
    }
    return best;
  }
}

/** Weighted linear least squares of amplitude(s): one PSF at (x, y). */
function psfFit(img: Float32Array, v: Float32Array, width: number, height: number, P: Float32Array, size: number, x: number, y: number): { flux: number; err: number; chi2: number; nBad: number } {
  const h = (size - 1) >> 1;
  const x0 = Math.round(x) - h, y0 = Math.round(y) - h;
  let spd = 0, spp = 0, nBad = 0;
  for (let j = 0; j < size; j++) {
    const yy = y0 + j;
    for (let i = 0; i < size; i++) {
      const xx = x0 + i;
      const p = P[j * size + i]!;
      if (xx < 0 || yy < 0 || xx >= width || yy >= height) { nBad++; continue; }
      const d = img[yy * width + xx]!, s = v[yy * width + xx]!;
      if (d !== d || !(s > 0)) { nBad++; continue; }
      spd += (p * d) / s; spp += (p * p) / s;
    }
  }
  const flux = spp > 0 ? spd / spp : NaN;
  let chi2 = 0, n = 0;
  for (let j = 0; j < size; j++) {
    const yy = y0 + j;
    if (yy < 0 || yy >= height) continue;
    for (let i = 0; i < size; i++) {
      const xx = x0 + i;
      if (xx < 0 || xx >= width) continue;
      const d = img[yy * width + xx]!, s = v[yy * width + xx]!;
      if (d !== d || !(s > 0)) continue;
      const r = d - flux * P[j * size + i]!;
      chi2 += (r * r) / s; n++;
    }
  }
  return { flux, err: spp > 0 ? 1 / Math.sqrt(spp) : NaN, chi2: n > 1 ? chi2 / (n - 1) : NaN, nBad };
}

/** Whole-image S/N of the matched filter by FFT correlation (the reference computation). */
function fftMatchedFilter(image: Float32Array, variance: Float32Array, width: number, height: number, P0: Float32Array, size: number, p2: number): Float32Array {
  const clean = new Float32Array(image.length);
  for (let i = 0; i < clean.length; i++) { const v = image[i]!; clean[i] = v === v ? v : 0; }
  // correlation with P = convolution with the flipped stamp (our tiled FFT)
  const flipped = new Float64Array(size * size);
  for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) flipped[(size - 1 - j) * size + (size - 1 - i)] = P0[j * size + i]!;
  const snr = convolveSpatial({ src: clean, width, height, terms: [{ kernel: flipped, size, ax: 0, ay: 0 }], cx: 0, cy: 0, sx: 1, sy: 1 });
  // S/N in place of the filtered image
  for (let i = 0; i < snr.length; i++) {
    const s = variance[i]!;
    snr[i] = image[i]! === image[i]! && s > 0 ? snr[i]! / Math.sqrt(s * p2) : 0;
  }
  return snr;
}

/**
 * The separable approximation A(u, v) = gx(u)·gy(v) of the stamp P, each 1-D kernel a pair of odd
 * boxes (box ⊗ box, a trapezoid; different along x and y for elongated PSFs), that best correlates
 * with P; rho is the normalised correlation ΣPA/(‖P‖‖A‖) (≈ 0.99 for round Gaussian-like PSFs;
 * a third box gains little once the candidate margin below is at its floor).
 */
export function boxCascadeFor(P: Float32Array, size: number): { wx: [number, number]; wy: [number, number]; gx: Float64Array; gy: Float64Array; rho: number } {
  const h = (size - 1) >> 1;
  let pp = 0;
  for (let i = 0; i < P.length; i++) pp += P[i]! * P[i]!;
  // all box pairs: full 1-D kernel, its norm, and its values on the stamp's support
  const pairs: { w: [number, number]; g: Float64Array; gg: number; onStamp: Float64Array }[] = [];
  for (let a = 1; a <= size; a += 2) for (let b = a; b <= size; b += 2) {
    const g = new Float64Array(a + b - 1);
    for (let i = 0; i < a; i++) for (let k = 0; k < b; k++) g[i + k]! += 1;
    const hg = (g.length - 1) >> 1;
    let gg = 0;
    for (const v of g) gg += v * v;
    const onStamp = new Float64Array(size);
    for (let i = 0; i < size; i++) { const t = i - h; if (Math.abs(t) <= hg) onStamp[i] = g[t + hg]!; }
    pairs.push({ w: [a, b], g, gg, onStamp });
  }
  let best: { wx: [number, number]; wy: [number, number]; gx: Float64Array; gy: Float64Array; rho: number } = { wx: [1, 1], wy: [1, 1], gx: Float64Array.of(1), gy: Float64Array.of(1), rho: -Infinity };
  const col = new Float64Array(size);
  for (const px of pairs) {
    for (let j = 0; j < size; j++) { let r = 0; for (let i = 0; i < size; i++) r += P[j * size + i]! * px.onStamp[i]!; col[j] = r; }
    for (const py of pairs) {
      let pa = 0;
      for (let j = 0; j < size; j++) pa += col[j]! * py.onStamp[j]!;
      const rho = pa / Math.sqrt(pp * px.gg * py.gg);
      if (rho > best.rho) best = { wx: px.w, wy: py.w, gx: px.g, gy: py.g, rho };
    }
  }
  return best;
}

/**
 * How far the separable approximation A = gx ⊗ gy can fall short of the exact matched filter P in
 * the response to a point source: max over offsets t of |R_P(t)| − sgn(R_P(t))·R_A(t), with
 * R_X = (X/‖X‖) ⋆ P the S/N response per unit exact peak S/N. A source of exact peak S/N S can
 * therefore make the approximate S/N fall short by at most S times this (plus the noise term).
 */
export function responseShortfall(P: Float32Array, size: number, gx: Float64Array, gy: Float64Array): number {
  const h = (size - 1) >> 1, hx = (gx.length - 1) >> 1, hy = (gy.length - 1) >> 1;
  const Hx = h + Math.max(h, hx), Hy = h + Math.max(h, hy), nx = 2 * Hx + 1, ny = 2 * Hy + 1;
  let pp = 0, gxx = 0, gyy = 0;
  for (let i = 0; i < P.length; i++) pp += P[i]! * P[i]!;
  for (const v of gx) gxx += v * v;
  for (const v of gy) gyy += v * v;
  // R_P(t) = Σ_u P(u)·P(u + t) / ‖P‖; R_A(t) = Σ_u A(u)·P(u + t) / ‖A‖ (A separable: rows of P first)
  const rp = new Float64Array(nx * ny), ra = new Float64Array(nx * ny);
  for (let ty = -Hy; ty <= Hy; ty++) for (let tx = -Hx; tx <= Hx; tx++) {
    let s = 0;
    for (let v = Math.max(-h, -h - ty); v <= Math.min(h, h - ty); v++) {
      const r0 = (v + h) * size, r1 = (v + ty + h) * size;
      for (let u = Math.max(-h, -h - tx); u <= Math.min(h, h - tx); u++) s += P[r0 + u + h]! * P[r1 + u + tx + h]!;
    }
    rp[(ty + Hy) * nx + tx + Hx] = s / Math.sqrt(pp);
  }
  // c(v, tx) = Σ_u gx(u)·P(v, u + tx), then R_A(ty, tx) = Σ_v gy(v − ty)·c(v, tx)
  const c = new Float64Array(size * nx);
  for (let v = 0; v < size; v++) for (let tx = -Hx; tx <= Hx; tx++) {
    let s = 0;
    for (let u = -hx; u <= hx; u++) { const q = u + tx; if (q >= -h && q <= h) s += gx[u + hx]! * P[v * size + q + h]!; }
    c[v * nx + tx + Hx] = s;
  }
  for (let ty = -Hy; ty <= Hy; ty++) for (let tx = -Hx; tx <= Hx; tx++) {
    let s = 0;
    for (let v = -h; v <= h; v++) { const w = v - ty; if (w >= -hy && w <= hy) s += gy[w + hy]! * c[(v + h) * nx + tx + Hx]!; }
    ra[(ty + Hy) * nx + tx + Hx] = s / Math.sqrt(gxx * gyy);
  }
  const peak = rp[Hy * nx + Hx]!;
  let worst = 0;
  for (let i = 0; i < rp.length; i++) {
    const k = rp[i]! / peak, a = ra[i]! / peak;
    const short = Math.abs(k) - (k >= 0 ? a : -a);
    if (short > worst) worst = short;
  }
  return worst;
}

/** Pixel index → Float32 value, open addressing with linear probing (grows at half load). */
class PixelMemo {
  private keys: Int32Array;
  private vals: Float32Array;
  private n = 0;
  constructor(capacity: number) {
    let c = 1024;
    while (c < 2 * capacity) c *= 2;
    this.keys = new Int32Array(c).fill(-1);
    this.vals = new Float32Array(c);
  }
  private slot(k: number): number {
    const keys = this.keys, m = keys.length - 1;
    let s = Math.imul(k, 0x9e3779b1) >>> 0 & m;
    while (keys[s] !== -1 && keys[s] !== k) s = (s + 1) & m;
    return s;
  }
  /** The stored value, NaN when absent. */
  get(k: number): number {
    const s = this.slot(k);
    return this.keys[s] === k ? this.vals[s]! : NaN;
  }
  set(k: number, v: number): number {
    let s = this.slot(k);
    if (this.keys[s] !== k) {
      if (2 * (this.n + 1) > this.keys.length) {
        const ok = this.keys, ov = this.vals;
        this.keys = new Int32Array(2 * ok.length).fill(-1);
        this.vals = new Float32Array(2 * ok.length);
        for (let q = 0; q < ok.length; q++) if (ok[q] !== -1) { const t = this.slot(ok[q]!); this.keys[t] = ok[q]!; this.vals[t] = ov[q]!; }
        s = this.slot(k);
      }
      this.keys[s] = k;
      this.n++;
    }
    this.vals[s] = v;
    return this.vals[s]!;
  }
}

/**
 * The streaming pass of sparseMatchedFilter: the separable two-box filter over the whole image;
 * returns the pixels (raster order) with (A⋆d)² ≥ k2·var and marks the CELL × CELL cells holding a
 * pixel with (A⋆d)² ≥ kB·var; null when the candidates exceed maxCand.
 */
function approxCandidates(image: Float32Array, variance: Float32Array, width: number, height: number, wx: [number, number], wy: [number, number], k2: number, kB: number, CELL: number): { cand: Int32Array; bright: Uint8Array; nBright: number } | null {
  const ncx = Math.ceil(width / CELL);
  const bright = new Uint8Array(ncx * Math.ceil(height / CELL));
  let nBright = 0;
  const r0 = (wx[0] - 1) >> 1, r1 = (wx[1] - 1) >> 1, q0 = (wy[0] - 1) >> 1, q1 = (wy[1] - 1) >> 1;
  const R = r0 + r1, Ry = q0 + q1;
  const maxCand = Math.max(1000, (width * height) >> 6);
  let cand = new Int32Array(4096), nc = 0;
  // horizontal: two running boxes on a zero-padded row (padding 2R: exact full correlation with g)
  const pad = 2 * R, n = width + 2 * pad;
  const pa = new Float64Array(n), pb = new Float64Array(n);
  // vertical: two running boxes over streamed rows; ring slot t mod (2q + 1) holds row t − 2q − 1
  const L0 = 2 * q0 + 1, L1 = 2 * q1 + 1;
  const ring0 = new Float64Array(L0 * width), ring1 = new Float64Array(L1 * width);
  const acc0 = new Float64Array(width), acc1 = new Float64Array(width);
  for (let t = 0; t < height + Ry; t++) {
    if (t < height) {
      const o = t * width - pad;
      for (let x = pad; x < pad + width; x++) { const v = image[o + x]!; pa[x] = v === v ? v : 0; }
      // pa → pb (radius r0) → pa (radius r1); values within R of the buffer ends stay 0
      let s = 0;
      for (let q = 0; q <= 2 * r0; q++) s += pa[q]!;
      for (let x = r0, end = n - r0 - 1; x < end; x++) { pb[x] = s; s += pa[x + r0 + 1]! - pa[x - r0]!; }
      pb[n - r0 - 1] = s;
      s = 0;
      for (let q = 0; q <= 2 * r1; q++) s += pb[q]!;
      for (let x = r1, end = n - r1 - 1; x < end; x++) { pa[x] = s; s += pb[x + r1 + 1]! - pb[x - r1]!; }
      pa[n - r1 - 1] = s;
    } else pa.fill(0);
    const s0 = (t % L0) * width, s1 = (t % L1) * width;
    for (let x = 0; x < width; x++) {
      const v = pa[pad + x]!;
      const a0 = acc0[x]! - ring0[s0 + x]! + v; ring0[s0 + x] = v; acc0[x] = a0;
      acc1[x] = acc1[x]! - ring1[s1 + x]! + a0; ring1[s1 + x] = a0;
    }
    const y = t - Ry; // acc1 now holds the filtered row y
    if (y < 2 || y >= height - 2) continue;
    const o = y * width;
    for (let x = 2; x < width - 2; x++) {
      const a = acc1[x]!;
      if (a * a >= k2 * variance[o + x]!) {
        if (nc === cand.length) {
          if (nc >= maxCand) return null;
          const c = new Int32Array(nc * 2); c.set(cand); cand = c;
        }
        cand[nc++] = o + x;
        if (a * a >= kB * variance[o + x]!) { const c = ((y / CELL) | 0) * ncx + ((x / CELL) | 0); if (!bright[c]) { bright[c] = 1; nBright++; } }
      }
    }
  }
  return { cand: cand.subarray(0, nc), bright, nBright };
}

/**
 * Matched-filter S/N evaluated exactly (direct correlation with P0, as the FFT computes it) only
 * where it can matter. A separable two-box approximation A of the PSF (boxCascadeFor; normalised
 * correlation ρ with P0) is run over the whole image with running sums (a few operations per pixel,
 * independent of the PSF size); pixels whose approximate |S/N| reaches thr − m are candidates. For
 * white noise the approximate and exact S/N differ by N(0, 2(1 − ρ)); m = max(1, 6·√(2(1 − ρ))) + ½
 * covers that (≥ 6σ) plus ½ for the approximation's different response to sources, which for a
 * source of S/N S is at most S·responseShortfall: around sources brighter than ½/shortfall every
 * pixel within the reach of both responses is evaluated exactly and joins the candidates if it
 * reaches thr. So every pixel with exact |S/N| ≥ thr is a candidate (for point sources; features
 * sharper than the PSF, e.g. cosmic rays, are only covered by the margin). `at(i)` gives the
 * exact S/N of pixel i, computed on demand and memoised (the peak test and the sub-pixel
 * interpolation read only candidates and their 5 × 5 neighbours). Returns null (use the FFT) when
 * ρ is too low (m > 3) or the candidates or bright regions are too many.
 */
function sparseMatchedFilter(image: Float32Array, variance: Float32Array, width: number, height: number, P0: Float32Array, size: number, p2: number, thr: number): { cand: Int32Array; at: (i: number) => number } | null {
  if (width < 8 || height < 8) return null;
  const box = boxCascadeFor(P0, size);
  // margin: 6σ of the noise difference (≥ 1) plus EXTRA for the approximation's response to sources
  const EXTRA = 0.5;
  const margin = Math.max(1, 6 * Math.sqrt(Math.max(0, 2 * (1 - box.rho)))) + EXTRA;
  if (!(margin <= 3)) return null;
  const tlo = Math.max(0, thr - margin);
  // sources brighter (approximate |S/N|) than B may make the approximation fall short by more than
  // EXTRA in their wings: around them every pixel within R is evaluated exactly
  const eps = responseShortfall(P0, size, box.gx, box.gy);
  const B = eps > 0 ? Math.max(thr, EXTRA / eps) : Infinity;
  const RG = size + ((Math.max(box.gx.length, box.gy.length) - 1) >> 1);
  let ggx = 0, ggy = 0;
  for (const v of box.gx) ggx += v * v;
  for (const v of box.gy) ggy += v * v;
  const k2 = tlo * tlo * ggx * ggy; // candidate: (A⋆d)² ≥ tlo²·ΣA²·var
  const kB = B * B * ggx * ggy;
  const CELL = 8, ncx = Math.ceil(width / CELL);
  const pass = approxCandidates(image, variance, width, height, box.wx, box.wy, k2, kB, CELL);
  if (!pass) return null;
  const { cand, bright, nBright } = pass, nc = cand.length;
  // exact S/N on demand, memoised (NaN pixels and non-positive variance give 0, as in the FFT path)
  // (a small hash table rather than image-sized planes: no large allocation, no GC pressure)
  const memo = new PixelMemo(4 * nc + 1024);
  const h = (size - 1) >> 1;
  const Pd = Float64Array.from(P0);
  const at = (i: number): number => {
    const known = memo.get(i);
    if (known === known) return known;
    const v0 = image[i]!, s = variance[i]!;
    if (v0 !== v0 || !(s > 0)) { memo.set(i, 0); return 0; }
    const xs = (i % width) - h, ys = ((i / width) | 0) - h;
    let sum = 0;
    const inside = xs >= 0 && ys >= 0 && xs + size <= width && ys + size <= height;
    if (inside) {
      for (let j = 0; j < size; j++) {
        const o = (ys + j) * width + xs, q = j * size;
        for (let u = 0; u < size; u++) sum += Pd[q + u]! * image[o + u]!;
      }
    }
    if (!inside || sum !== sum) {
      // NaN inside the window (counts as 0) or the window crosses the edge
      sum = 0;
      for (let j = 0; j < size; j++) {
        const yy = ys + j;
        if (yy < 0 || yy >= height) continue;
        for (let u = 0; u < size; u++) {
          const xx = xs + u;
          if (xx < 0 || xx >= width) continue;
          const d = image[yy * width + xx]!;
          if (d === d) sum += Pd[j * size + u]! * d;
        }
      }
    }
    return memo.set(i, Math.fround(Math.fround(sum) / Math.sqrt(s * p2)));
  };
  if (nBright) {
    // exact S/N around bright sources; pixels reaching thr join the candidates (sorted, unique)
    const side = CELL + 2 * RG;
    if (nBright * side * side > (width * height) / 8) return null;
    const extra: number[] = [];
    for (let c = 0; c < bright.length; c++) {
      if (!bright[c]) continue;
      const cx = (c % ncx) * CELL, cy = ((c / ncx) | 0) * CELL;
      const y0 = Math.max(2, cy - RG), y1 = Math.min(height - 3, cy + CELL - 1 + RG);
      const x0 = Math.max(2, cx - RG), x1 = Math.min(width - 3, cx + CELL - 1 + RG);
      for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) {
        const i = y * width + x;
        if (memo.get(i) === memo.get(i)) continue; // already evaluated (an overlapping zone)
        const v = at(i);
        if (v >= thr || v <= -thr) extra.push(i);
      }
    }
    if (extra.length) {
      const all = new Int32Array(nc + extra.length);
      all.set(cand);
      all.set(extra, nc);
      all.sort();
      let n = 0;
      for (let k = 0; k < all.length; k++) if (!k || all[k] !== all[n - 1]) all[n++] = all[k]!;
      return { cand: all.subarray(0, n), at };
    }
  }
  return { cand, at };
}

/**
 * Detect positive and negative point sources on a difference image. The matched filter is the
 * correlation of D with the PSF; S/N = (D ⋆ P)/√(var·ΣP²) with the local variance.
 */
export function detectDiaSources(diff: MaskedImage, psf: PsfLike, opts: DiaOptions): DiaSource[] {
  const { width, height, image } = diff;
  const variance = diff.variance!;
  const mask = diff.mask;
  const thr = opts.thresh ?? 5;
  const fwhm = opts.fwhmPix;
  const size = 2 * Math.ceil(2 * fwhm) + 1;
  const h = (size - 1) >> 1;
  const stamp = psfStamper(psf, size);
  const P0 = stamp(Math.round((width - 1) / 2), Math.round((height - 1) / 2), new Float32Array(size * size));
  let p2 = 0;
  for (const v of P0) p2 += v * v;
  let cand: Int32Array | null = null, full: Float32Array | null = null, sparseAt: ((i: number) => number) | null = null;
  if (opts.maps) full = opts.maps.snr;
  else {
    const sparse = opts.matchedFilter === 'fft' ? null : sparseMatchedFilter(image, variance, width, height, P0, size, p2, thr);
    if (sparse) { sparseAt = sparse.at; cand = sparse.cand; }
    else full = fftMatchedFilter(image, variance, width, height, P0, size, p2);
  }
  const fullMap = full;
  const snrAt: (i: number) => number = sparseAt ?? ((i) => fullMap![i]!);
  // peaks: local extrema of S/N in 5 × 5 above |thr|, in raster order (nearest neighbours tested first)
  const nbr: number[] = [];
  for (const ring of [1, 2]) for (let dy = -ring; dy <= ring; dy++) for (let dx = -ring; dx <= ring; dx++) if (Math.max(Math.abs(dx), Math.abs(dy)) === ring) nbr.push(dy * width + dx);
  const peaks: { x: number; y: number; s: number }[] = [];
  const isPeak = (i: number): boolean => {
    const s = snrAt(i);
    if (!(s >= thr || s <= -thr)) return false;
    for (let k = 0; k < nbr.length; k++) {
      const o = snrAt(i + nbr[k]!);
      if (s > 0 ? o > s : o < s) return false;
    }
    return true;
  };
  if (cand) {
    for (let c = 0; c < cand.length; c++) { const i = cand[c]!; if (isPeak(i)) peaks.push({ x: i % width, y: (i / width) | 0, s: snrAt(i) }); }
  } else {
    const m = full!;
    for (let y = 2; y < height - 2; y++) for (let x = 2; x < width - 2; x++) {
      const i = y * width + x, s = m[i]!;
      if ((s >= thr || s <= -thr) && isPeak(i)) peaks.push({ x, y, s });
    }
  }
  peaks.sort((a, b) => Math.abs(b.s) - Math.abs(a.s));
  peaks.length = Math.min(peaks.length, opts.maxSources ?? 5000);
  const tgrid = opts.templateSources && opts.templateSources.x.length ? new PointGrid(opts.templateSources.x, opts.templateSources.y, 32) : null;
  const rgrid = opts.refStars && opts.refStars.x.length ? new PointGrid(opts.refStars.x, opts.refStars.y, 32) : null;
  const out: DiaSource[] = [];
  const stamps: Float32Array[] = [];
  for (const pk of peaks) {
    // sub-pixel position: quadratic interpolation of the S/N peak
    const i = pk.y * width + pk.x;
    const c = snrAt(i), l = snrAt(i - 1), r = snrAt(i + 1), u = snrAt(i - width), d = snrAt(i + width);
    const denx = l - 2 * c + r, deny = u - 2 * c + d;
    const ox = denx !== 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (l - r)) / denx)) : 0;
    const oy = deny !== 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (u - d)) / deny)) : 0;
    const x = pk.x + ox, y = pk.y + oy;
    const P = stamp(x, y, new Float32Array(size * size));
    stamps.push(P);
    const f = psfFit(image, variance, width, height, P, size, x, y);
    if (opts.maps) { f.flux = opts.maps.flux[i]!; f.err = Math.abs(f.flux / pk.s); }
    let flags = 0;
    if (f.nBad > 0) flags |= DIA_FLAGS.MASKED;
    if (x < size || y < size || x > width - 1 - size || y > height - 1 - size) flags |= DIA_FLAGS.EDGE;
    let nearNan = false, crBad = 0, nMasked = 0;
    const x0 = Math.round(x) - h, y0 = Math.round(y) - h;
    for (let j = -2; j < size + 2; j++) for (let q = -2; q < size + 2; q++) {
      const xx = x0 + q, yy = y0 + j;
      if (xx < 0 || yy < 0 || xx >= width || yy >= height) { nearNan = true; continue; }
      const k = yy * width + xx;
      if (image[k] !== image[k]) nearNan = true;
      if (mask && j >= 0 && j < size && q >= 0 && q < size) {
        if (mask[k]! & (MaskBits.CR | MaskBits.BAD | MaskBits.SAT)) crBad++;
        if (mask[k]! & ~(MaskBits.DETECTED | MaskBits.DETECTED_NEGATIVE)) nMasked++;
      }
    }
    if (nearNan) flags |= DIA_FLAGS.EDGE;
    if (crBad) flags |= DIA_FLAGS.CR_BAD;
    out.push({
      x, y, flux: f.flux, fluxErr: f.err, snr: f.flux / f.err, flags, dipolePos: NaN, dipoleNeg: NaN, dipoleSep: NaN,
      distTemplate: tgrid ? tgrid.nearest(x, y) : Infinity, distRef: rgrid ? rgrid.nearest(x, y) : Infinity,
      features: new Float64Array(FEATURE_NAMES.length), rbScore: NaN,
    });
    const src = out[out.length - 1]!;
    // features
    const F = src.features;
    computeFeatures(F, src, image, variance, mask, width, height, P, size, f.chi2, nMasked / (size * size), pk.s, opts.matchedTemplate, fwhm);
  }
  // dipoles: opposite-sign peaks within 2 FWHM; fit two PSFs of opposite sign (linear amplitudes at the two positions)
  const rad = 2 * fwhm;
  for (let a = 0; a < out.length; a++) {
    const A = out[a]!;
    if (A.snr <= 0 || A.flags & DIA_FLAGS.DIPOLE) continue;
    let best = -1, bd = Infinity;
    for (let b = 0; b < out.length; b++) {
      const B = out[b]!;
      if (B.snr >= 0) continue;
      const dd = Math.hypot(A.x - B.x, A.y - B.y);
      if (dd < rad && dd < bd) { bd = dd; best = b; }
    }
    if (best < 0) continue;
    const B = out[best]!;
    const fit = dipoleFit(image, variance, width, height, stamps[a]!, stamps[best]!, size, A.x, A.y, B.x, B.y);
    for (const S of [A, B]) {
      S.flags |= DIA_FLAGS.DIPOLE;
      S.dipolePos = fit.pos; S.dipoleNeg = fit.neg; S.dipoleSep = bd;
      S.features[FEATURE_NAMES.indexOf('is_dipole')] = 1;
    }
  }
  return out;
}

/** Two PSFs at fixed positions, amplitudes by weighted least squares. */
function dipoleFit(img: Float32Array, v: Float32Array, width: number, height: number, Pa: Float32Array, Pb: Float32Array, size: number, xa: number, ya: number, xb: number, yb: number): { pos: number; neg: number } {
  const cx = Math.round((xa + xb) / 2), cy = Math.round((ya + yb) / 2);
  const big = size + 2 * Math.ceil(Math.max(Math.abs(xa - xb), Math.abs(ya - yb)));
  const bs = big | 1, hb = (bs - 1) >> 1, h = (size - 1) >> 1;
  let aa = 0, bb = 0, ab = 0, ad = 0, bd = 0;
  for (let j = -hb; j <= hb; j++) for (let i = -hb; i <= hb; i++) {
    const xx = cx + i, yy = cy + j;
    if (xx < 0 || yy < 0 || xx >= width || yy >= height) continue;
    const d = img[yy * width + xx]!, s = v[yy * width + xx]!;
    if (d !== d || !(s > 0)) continue;
    const ua = xx - Math.round(xa) + h, va = yy - Math.round(ya) + h, ub = xx - Math.round(xb) + h, vb = yy - Math.round(yb) + h;
    const pa = ua >= 0 && va >= 0 && ua < size && va < size ? Pa[va * size + ua]! : 0;
    const pb = ub >= 0 && vb >= 0 && ub < size && vb < size ? Pb[vb * size + ub]! : 0;
    aa += (pa * pa) / s; bb += (pb * pb) / s; ab += (pa * pb) / s; ad += (pa * d) / s; bd += (pb * d) / s;
  }
  const det = aa * bb - ab * ab;
  if (!(det > 0)) return { pos: NaN, neg: NaN };
  return { pos: (bb * ad - ab * bd) / det, neg: (aa * bd - ab * ad) / det };
}

function computeFeatures(F: Float64Array, s: DiaSource, img: Float32Array, v: Float32Array, mask: Uint32Array | undefined, width: number, height: number, P: Float32Array, size: number, chi2: number, maskFrac: number, peakSnr: number, tmpl: Float32Array | undefined, fwhm: number): void {
  void mask;
  const h = (size - 1) >> 1;
  const xc = Math.round(s.x), yc = Math.round(s.y);
  const sign = s.snr >= 0 ? 1 : -1;
  // negative-pixel counts (in the sign-flipped sense: pixels opposite to the source) in 7×7 / 11×11
  let n2s3 = 0, n3s3 = 0, n2s5 = 0, n3s5 = 0;
  let ap = 0, apT = 0, cen = 0, ring = 0, sxx = 0, syy = 0, sxy = 0, sw = 0;
  for (let j = -5; j <= 5; j++) for (let i = -5; i <= 5; i++) {
    const xx = xc + i, yy = yc + j;
    if (xx < 0 || yy < 0 || xx >= width || yy >= height) continue;
    const k = yy * width + xx;
    const d = img[k]! * sign, sd = Math.sqrt(v[k]!);
    if (d !== d || !(sd > 0)) continue;
    const in3 = Math.abs(i) <= 3 && Math.abs(j) <= 3;
    if (d < -2 * sd) { n2s5++; if (in3) n2s3++; }
    if (d < -3 * sd) { n3s5++; if (in3) n3s3++; }
    const r2 = i * i + j * j;
    if (r2 <= fwhm * fwhm) { ap += d; if (tmpl) { const t = tmpl[k]!; if (t === t) apT += t; } }
    if (r2 === 0) cen = d;
    if (r2 >= 1 && r2 <= 2) ring += d / 8;
    if (d > 0 && r2 <= 4 * fwhm * fwhm) { sxx += d * i * i; syy += d * j * j; sxy += d * i * j; sw += d; }
  }
  const flux = Math.abs(s.flux);
  const mxx = sw > 0 ? sxx / sw : 0, myy = sw > 0 ? syy / sw : 0, mxy = sw > 0 ? sxy / sw : 0;
  const tr = mxx + myy, dt = Math.sqrt(Math.max(0, ((mxx - myy) / 2) ** 2 + mxy * mxy));
  const a2 = tr / 2 + dt, b2 = Math.max(tr / 2 - dt, 1e-6);
  // expected second moment of the PSF (for size ratio)
  let pxx = 0, pw = 0;
  for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) { const p = P[j * size + i]!; const r2 = (i - h) ** 2 + (j - h) ** 2; if (r2 <= 4 * fwhm * fwhm) { pxx += p * r2; pw += p; } }
  const psize = pw > 0 ? pxx / pw / 2 : 1;
  // bad-column test: median of the column through the source (away from it) relative to the noise
  let colAbove = 0, colN = 0;
  for (let j = -25; j <= 25; j++) {
    if (Math.abs(j) < 3 * fwhm) continue;
    const yy = yc + j;
    if (yy < 0 || yy >= height) continue;
    const k = yy * width + xc;
    const d = img[k]!, sd = Math.sqrt(v[k]!);
    if (d === d && sd > 0) { colAbove += (d * sign) / sd; colN++; }
  }
  const edge = Math.min(s.x, s.y, width - 1 - s.x, height - 1 - s.y);
  F[0] = Math.abs(s.snr);
  F[1] = n2s3; F[2] = n3s3; F[3] = n2s5; F[4] = n3s5;
  F[5] = Number.isFinite(chi2) ? Math.min(chi2, 100) : 100;
  F[6] = flux > 0 ? Math.max(-5, Math.min(5, ap / flux)) : 0;
  F[7] = tmpl ? Math.max(-10, Math.min(10, Math.log10(Math.abs(apT) + 1) - Math.log10(Math.abs(ap) + 1))) : 0;
  F[8] = cen > 0 ? Math.max(-5, Math.min(5, ring / cen)) : -5;
  F[9] = 1 - Math.sqrt(b2 / Math.max(a2, 1e-6));
  F[10] = Math.max(0, Math.min(5, tr / 2 / Math.max(psize, 1e-3)));
  F[11] = maskFrac;
  F[12] = colN ? colAbove / colN : 0;
  F[13] = Math.min(edge, 200);
  F[14] = Math.min(s.distTemplate, 200);
  F[15] = Math.min(s.distRef, 200);
  F[16] = 0;
  F[17] = s.snr < 0 ? 1 : 0;
  F[18] = s.snr !== 0 ? Math.max(0, Math.min(5, Math.abs(peakSnr / s.snr))) : 0;
}
