/**
 * Alard–Lupton image subtraction: stamp selection, kernel fit, fast spatially varying
 * convolution, differential background, variance and mask propagation, NaN where undefined,
 * and Reiss & Lupton (DMTN-021) decorrelation of the difference image's noise.
 *
 * SIGN AND NORMALISATION CONVENTIONS (always):
 * - D = science − matched template, in SCIENCE-image counts: a source that brightened in the
 *   science image is positive, a faded one negative, and the PSF flux of a point source on D is
 *   its flux change in science counts.
 * - convolve = 'template' (template sharper): K ⊗ T + bg ≈ S, D = S − K ⊗ T − bg; Σ K = S/T
 *   flux ratio (KSUM).
 * - convolve = 'science' (template blurrier): K ⊗ S + bg ≈ T, D = (K ⊗ S + bg − T)/ΣK; KSUM is
 *   reported as the science/template ratio 1/ΣK so it means the same in both modes.
 * Pixel convention: 0-based inside; positions in the result are 0-based.
 */
import { DEFAULT_BAD_MASK, MaskBits, type MaskedImage } from '../image/masked-image.js';
import { detectSources, type DetectResult } from '../detect/detect.js';
import { estimateBackground } from '../detect/background.js';
import { GaussianPsf, type PsfLike } from '../detect/psf-like.js';
import { quickselect } from '../image/stats.js';
import { TesseraError } from '../util/errors.js';
import { defaultBasis, kernelImage, makeBasis, nPoly, type BasisSpec } from './al/basis.js';
import { backgroundAt, coefAt, fitAlKernel, type AlSolution } from './al/fit.js';
import { convolveKernels, convolveSpatial, fft2, type KernelTerm, type SpatialConvolveInput } from './al/convolve.js';
import { convolveSpatialParallel } from './al/parallel.js';

export interface DiffInput extends MaskedImage {
  /** PSF model (any PsfLike); when absent the FWHM is measured from stars. */
  psf?: PsfLike;
  /** Saturation level (counts, before background subtraction). */
  saturation?: number;
  /** Gain (e-/count) used when the variance must be estimated. */
  gain?: number;
}

export interface SubtractOptions {
  kernelOrder?: number;
  bgOrder?: number;
  /**
   * Which image the kernel convolves: 'template', 'science', or 'preconvolve' (the science image is
   * cross-correlated with its own PSF and the template matched to that; the result is a score
   * image, see SubtractResult.preconvolved). 'auto': the sharper image. (On simulated pairs with
   * a blurrier template, pre-convolution and convolving the science image detect the same
   * transients with the same false detections, so 'auto' keeps the plain difference image.)
   */
  convolve?: 'auto' | 'template' | 'science' | 'preconvolve';
  decorrelate?: boolean;
  /** Override the AL basis (sigmas, degrees, half-width). */
  basis?: Partial<BasisSpec>;
  /** Candidate stamp centres (0-based) instead of a detection on the template. */
  stampCentres?: { x: number; y: number }[];
  /** Detection on the template, if already done (its sources also give stamp candidates). */
  templateSources?: DetectResult;
  /** Minimum fraction of science pixels the template must cover (default 0.1). */
  minOverlap?: number;
  /** Labels used in error messages. */
  scienceName?: string;
  templateName?: string;
}

export interface SubtractResult {
  diff: MaskedImage;
  /** PSF of the difference image (science counts normalisation), centred stamp. */
  diffPsf: { data: Float32Array; size: number; fwhmPix: number };
  /** The difference image's PSF as a PsfLike: PSF of the unconvolved image ⊗ φ (sub-pixel). */
  psf: PsfLike;
  /** Decorrelation kernel (size × size, unit sum; [1] when not decorrelated). */
  phi: { kernel: Float64Array; size: number };
  solution: AlSolution;
  convolved: 'template' | 'science';
  /** Science/template flux ratio at the image centre and its error. */
  ksum: number;
  ksumErr: number;
  chi2Dof: number;
  /** Clipped rms of D/√var over good pixels (≈1 for a consistent subtraction). */
  residRms: number;
  decorrelated: boolean;
  fwhmSci: number;
  fwhmTmpl: number;
  /** Template sources (0-based positions) used for stamps and nearest-source distances. */
  templateSources: { x: Float64Array; y: Float64Array; flux: Float64Array };
  /** Matched template on the science grid in science counts (S − D − bg), for stamps. */
  matchedTemplate: Float32Array;
  /**
   * Pre-convolution mode: `diff.image` is then a SCORE image L = F ⊗ (S ⋆ P_s − K ⊗ T − bg) (⋆:
   * cross-correlation with the science PSF P_s, F the noise-optimal filter, unit sum) — already
   * matched-filtered, so detection must NOT filter it again: S/N = L/√VARIANCE (the `score.snr`
   * map), and a point source of flux f (science counts) adds f·psf, so f = L(peak)/psf(0)
   * (`score.flux`: at a local extremum the sub-pixel peak of parabolas through the 3 × 3
   * neighbourhood, else L/psf(0); or fit the PSF `psf`).
   * `matchedTemplate` is the template term at the same resolution (F ⊗ K ⊗ T + bg).
   */
  preconvolved: boolean;
  /** Pre-convolution mode only: per-pixel S/N and point-source flux maps of the score image. */
  score?: { snr: Float32Array; flux: Float32Array };
  notes: string[];
  timings: Record<string, number>;
}

function medianSample(a: Float32Array, bad?: Uint8Array, maxN = 200001): number {
  const step = Math.max(1, Math.floor(a.length / maxN));
  const v = new Float64Array(Math.ceil(a.length / step));
  let n = 0;
  for (let i = 0; i < a.length; i += step) { const x = a[i]!; if (x === x && Math.abs(x) < Infinity && !(bad && bad[i])) v[n++] = x; }
  if (!n) return NaN;
  return quickselect(v, n >> 1, n);
}

/** Pixel flags of the two inputs (one byte per pixel): unusable (NaN, bad variance, bad mask bits) or saturated. */
const S_BAD = 1, S_SAT = 2, T_BAD = 4, T_SAT = 8;

/**
 * OR into `flags` the image's `badBit` where a pixel is unusable (NaN, bad variance, bad mask
 * bits), else `satBit` where it is saturated (≥ img.saturation). Returns whether any pixel was
 * flagged or carries any mask bit (false: nothing of this image to grow into the output mask), and
 * how many pixels it flagged that had no flag before.
 */
function markBad(img: DiffInput, flags: Uint8Array, badBit: number, satBit: number): { any: boolean; fresh: number } {
  const n = img.width * img.height;
  const { image, variance, mask } = img;
  const s0 = img.saturation;
  const sat = s0 !== undefined && s0 > 0 && s0 < Infinity ? s0 : Infinity;
  const badMask = DEFAULT_BAD_MASK;
  let any = false, fresh = 0;
  if (variance && mask) {
    // common case first (all tests pass: one well-predicted branch), details only when one fails
    for (let i = 0; i < n; i++) {
      const v = image[i]!, s = variance[i]!, m = mask[i]!;
      if (v < sat && s > 0 && s < Infinity && m === 0) continue;
      any = true;
      let b = v - v !== 0 ? badBit : v >= sat ? satBit : 0;
      if (!(s > 0 && s < Infinity) || (m & badMask) !== 0) b = badBit;
      if (b) { if (!flags[i]) fresh++; flags[i]! |= b; }
    }
    return { any, fresh };
  }
  for (let i = 0; i < n; i++) {
    const v = image[i]!;
    let b = v - v !== 0 ? badBit : v >= sat ? satBit : 0;
    if (variance) { const s = variance[i]!; if (!(s > 0 && s < Infinity)) b = badBit; }
    if (mask) { const m = mask[i]!; if (m !== 0) any = true; if ((m & badMask) !== 0) b = badBit; }
    if (b) { if (!flags[i]) fresh++; flags[i]! |= b; any = true; }
  }
  return { any, fresh };
}

/** Variance plane: given, or background RMS² plus source Poisson noise when a gain is known. */
export function ensureVariance(img: DiffInput): Float32Array {
  if (img.variance) return img.variance;
  const bkg = estimateBackground(img, {});
  const back = bkg.back(), rms = bkg.rms();
  const v = new Float32Array(img.width * img.height);
  const g = img.gain && img.gain > 0 ? img.gain : 0;
  for (let i = 0; i < v.length; i++) {
    const r = rms[i]!;
    v[i] = r * r + (g ? Math.max(img.image[i]! - back[i]!, 0) / g : 0);
  }
  return v;
}

/** Dilate: OR of mask values within a (2r+1)² box (sparse: cost ∝ set pixels · r). */
export function dilateMask(m: Uint32Array, width: number, height: number, r: number): Uint32Array {
  if (r <= 0) return m.slice();
  const out = new Uint32Array(m.length);
  dilateOrInto(m, width, height, r, out, new Uint32Array(m.length));
  return out;
}

/**
 * out |= dilate(m, r) (box (2r+1)², sparse: cost ∝ set pixels · r); `tmp` is a zeroed scratch
 * array of the same length (left dirty).
 */
function dilateOrInto(m: Uint32Array, width: number, height: number, r: number, out: Uint32Array, tmp: Uint32Array): void {
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let x = 0; x < width; x++) {
      const v = m[o + x]!;
      if (!v) continue;
      const a = Math.max(0, x - r), b = Math.min(width - 1, x + r);
      for (let i = a; i <= b; i++) tmp[o + i]! |= v;
    }
  }
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let x = 0; x < width; x++) {
      const v = tmp[o + x]!;
      if (!v) continue;
      const a = Math.max(0, y - r), b = Math.min(height - 1, y + r);
      for (let j = a; j <= b; j++) out[j * width + x]! |= v;
    }
  }
}

/**
 * Grows mask bits by a (2r+1)² box into `out`, sparsely: the horizontal runs go into a scratch
 * plane allocated on first use, only the rows' touched column ranges are visited vertically, and
 * the scratch is cleared as it is read (reusable). Cost ∝ flagged pixels · r, plus one scan.
 */
export class MaskGrower {
  private tmp: Uint32Array | null = null;
  private readonly lo: Int32Array;
  private readonly hi: Int32Array;
  constructor(readonly width: number, readonly height: number) {
    this.lo = new Int32Array(height); this.hi = new Int32Array(height);
  }
  /** out |= grow(maskIn | NO_DATA where flags & badBit | SAT where flags & satBit, r). */
  grow(out: Uint32Array, maskIn: Uint32Array | undefined, flags: Uint8Array, badBit: number, satBit: number, r: number): void {
    const { width, height, lo, hi } = this;
    const sel = badBit | satBit;
    let tmp = this.tmp;
    let any = false;
    for (let y = 0; y < height; y++) {
      const o = y * width;
      let l = width, h = -1;
      for (let x = 0; x < width; x++) {
        const i = o + x;
        const f = flags[i]! & sel;
        const m = maskIn ? maskIn[i]! : 0;
        if (!f && !m) continue;
        const v = m | (f & badBit ? MaskBits.NO_DATA : f ? MaskBits.SAT : 0);
        if (!v) continue;
        if (r <= 0) { out[i]! |= v; continue; }
        if (!tmp) tmp = this.tmp = new Uint32Array(width * height);
        const a = Math.max(0, x - r), b = Math.min(width - 1, x + r);
        for (let k = a; k <= b; k++) tmp[o + k]! |= v;
        if (a < l) l = a;
        if (b > h) h = b;
        any = true;
      }
      lo[y] = l; hi[y] = h;
    }
    if (!any || !tmp) return;
    for (let y = 0; y < height; y++) {
      if (hi[y]! < 0) continue;
      const o = y * width;
      const j0 = Math.max(0, y - r), j1 = Math.min(height - 1, y + r);
      for (let x = lo[y]!; x <= hi[y]!; x++) {
        const v = tmp[o + x]!;
        if (!v) continue;
        tmp[o + x] = 0;
        for (let j = j0; j <= j1; j++) out[j * width + x]! |= v;
      }
    }
  }
}

/** Differential background along row y (0-based) for every column, into `out`. */
function backgroundRow(sol: AlSolution, y: number, out: Float64Array): void {
  const d = sol.bgOrder, c = sol.bgCoef;
  const Y = (y - sol.cy) / sol.sy;
  // coefficient of X^a at this row: Σ_b c(a, b)·Y^b (terms ordered by total degree t, then j = power of Y)
  const A = new Float64Array(d + 1);
  let k = 0;
  for (let t = 0; t <= d; t++) for (let j = 0; j <= t; j++) A[t - j]! += c[k++]! * Y ** j;
  for (let x = 0; x < out.length; x++) {
    const X = (x - sol.cx) / sol.sx;
    let v = A[d]!;
    for (let a = d - 1; a >= 0; a--) v = v * X + A[a]!;
    out[x] = v;
  }
}

interface StarList { x: Float64Array; y: Float64Array; flux: Float64Array; snr: Float64Array; fwhm: Float64Array; flags: Int32Array; peak: Float64Array }

function starsOf(res: DetectResult): StarList {
  const c = res.catalog;
  const n = c.length;
  const g = (k: string) => c.get(k) as ArrayLike<number>;
  const xw = g('XWIN_IMAGE'), yw = g('YWIN_IMAGE'), f = g('FLUX_AUTO'), fe = g('FLUXERR_AUTO'), fw = g('FWHM_IMAGE'), fl = g('FLAGS'), pk = g('FLUX_MAX'), bk = g('BACKGROUND');
  const out: StarList = { x: new Float64Array(n), y: new Float64Array(n), flux: new Float64Array(n), snr: new Float64Array(n), fwhm: new Float64Array(n), flags: new Int32Array(n), peak: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    out.x[i] = xw[i]! - 1; out.y[i] = yw[i]! - 1; out.flux[i] = f[i]!; out.snr[i] = f[i]! / (fe[i]! || Infinity);
    out.fwhm[i] = fw[i]!; out.flags[i] = fl[i]!; out.peak[i] = pk[i]! + (bk ? bk[i]! : 0);
  }
  return out;
}

/**
 * Fast source finder for stamp candidates and template-source positions: background and noise
 * per 128-px block (median and MAD of a sample), 3×3 box-summed image thresholded at S/N 5,
 * local maxima in 5×5, flux in a 13×13 box minus the block background. Positions are
 * intensity-weighted centroids in 5×5 (0-based). Saturated sources are flagged 4. A pixel is
 * bad where `bad[i] & sel` is non-zero. The box sums are kept for 5 rows at a time only.
 */
export function quickSources(img: DiffInput, bad: Uint8Array, sel = 0xff): StarList {
  const { width, height, image } = img;
  const B = 128;
  const bx = Math.ceil(width / B), by = Math.ceil(height / B);
  const bBack = new Float64Array(bx * by), bSig = new Float64Array(bx * by);
  const samp = new Float64Array(Math.ceil(B / 3) ** 2 + 4), dev = new Float64Array(samp.length);
  for (let j = 0; j < by; j++) for (let i = 0; i < bx; i++) {
    let ns = 0;
    for (let y = j * B + 1; y < Math.min(height, (j + 1) * B); y += 3) for (let x = i * B + 1; x < Math.min(width, (i + 1) * B); x += 3) {
      const k = y * width + x; if (!(bad[k]! & sel)) samp[ns++] = image[k]!;
    }
    if (ns < 20) { bBack[j * bx + i] = NaN; bSig[j * bx + i] = NaN; continue; }
    const med = quickselect(samp, ns >> 1, ns);
    // lower-half MAD (robust against sources)
    let nd = 0;
    for (let q = 0; q < ns; q++) if (samp[q]! <= med) dev[nd++] = med - samp[q]!;
    bBack[j * bx + i] = med; bSig[j * bx + i] = 1.4826 * quickselect(dev, nd >> 1, nd);
  }
  const xs: number[] = [], ys: number[] = [], fl: number[] = [], sn: number[] = [], fg: number[] = [], pk: number[] = [];
  const sat = img.saturation ?? Infinity;
  const R = 6;
  if (width < 2 * R + 3 || height < 2 * R + 3) return { x: new Float64Array(0), y: new Float64Array(0), flux: new Float64Array(0), snr: new Float64Array(0), fwhm: new Float64Array(0), flags: new Int32Array(0), peak: new Float64Array(0) };
  // rolling rows: 3 rows of horizontal 3-sums (NaN where a bad pixel contributes), 5 rows of 3×3 box sums
  const rowS = new Float32Array(3 * width), box = new Float32Array(5 * width);
  const hsum = (y: number): void => {
    const o = y * width, d = (y % 3) * width;
    // sliding window: each pixel and flag read once
    let b0 = bad[o]! & sel, b1 = bad[o + 1]! & sel, v0 = image[o]!, v1 = image[o + 1]!;
    for (let x = 1; x < width - 1; x++) {
      const b2 = bad[o + x + 1]! & sel, v2 = image[o + x + 1]!;
      rowS[d + x] = (b0 | b1 | b2) !== 0 ? NaN : v0 + v1 + v2;
      b0 = b1; b1 = b2; v0 = v1; v1 = v2;
    }
  };
  const colBlock = new Int32Array(width);
  for (let x = 0; x < width; x++) colBlock[x] = Math.floor(x / B);
  const thrRow = new Float32Array(width), bRow = new Float32Array(width), sRow = new Float32Array(width);
  let rowBlock = -1;
  hsum(0); hsum(1);
  // box row y (y ≥ 1) is ready once rowS has rows y−1, y, y+1; row yc is scanned once box rows up to yc + 2 exist
  for (let y = 1; y < height - 1; y++) {
    hsum(y + 1);
    {
      const a = ((y - 1) % 3) * width, b = (y % 3) * width, c = ((y + 1) % 3) * width, d = (y % 5) * width;
      for (let x = 1; x < width - 1; x++) box[d + x] = rowS[a + x]! + rowS[b + x]! + rowS[c + x]!;
    }
    const yc = y - 2;
    if (yc < R + 1 || yc >= height - R - 1) continue;
    const bj = Math.floor(yc / B);
    if (bj !== rowBlock) {
      rowBlock = bj;
      for (let x = 0; x < width; x++) { const q = bj * bx + colBlock[x]!; bRow[x] = bBack[q]!; sRow[x] = bSig[q]!; thrRow[x] = 9 * bBack[q]! + 15 * bSig[q]!; }
    }
    const o = yc * width;
    const r0 = (yc % 5) * width;
    for (let x = R + 1; x < width - R - 1; x++) {
      const v = box[r0 + x]!;
      if (!(v > thrRow[x]!)) continue;
      let isMax = true;
      for (let dy = -2; dy <= 2 && isMax; dy++) {
        const rr = ((yc + dy) % 5) * width;
        for (let dx = -2; dx <= 2; dx++) {
          const w = box[rr + x + dx]!;
          if ((dx || dy) && !(w < v || (w === v && dy * width + dx > 0))) { isMax = false; break; }
        }
      }
      if (!isMax) continue;
      const k = o + x;
      const b = bRow[x]!, sg = sRow[x]!;
      let f = 0, cx = 0, cy = 0, cw = 0, peak = -Infinity, nb = 0;
      for (let dy = -R; dy <= R; dy++) for (let dx = -R; dx <= R; dx++) {
        const q = k + dy * width + dx;
        if (bad[q]! & sel) { nb++; continue; }
        const d = image[q]! - b;
        f += d;
        if (image[q]! > peak) peak = image[q]!;
        if (Math.abs(dx) <= 2 && Math.abs(dy) <= 2 && d > 0) { cx += d * dx; cy += d * dy; cw += d; }
      }
      xs.push(cw > 0 ? x + cx / cw : x); ys.push(cw > 0 ? yc + cy / cw : yc);
      fl.push(f); sn.push(f / (sg * (2 * R + 1))); fg.push((peak >= sat ? 4 : 0) | (nb ? 1 : 0)); pk.push(peak);
    }
  }
  const n = xs.length;
  return { x: Float64Array.from(xs), y: Float64Array.from(ys), flux: Float64Array.from(fl), snr: Float64Array.from(sn), fwhm: new Float64Array(n).fill(NaN), flags: Int32Array.from(fg), peak: Float64Array.from(pk) };
}

/** Median FWHM of bright, unflagged, compact sources (pixels). */
function measuredFwhm(s: StarList): number {
  const v: number[] = [];
  for (let i = 0; i < s.x.length; i++) if (s.flags[i] === 0 && s.snr[i]! > 30 && s.fwhm[i]! > 0.5) v.push(s.fwhm[i]!);
  if (v.length < 3) return NaN;
  v.sort((a, b) => a - b);
  // stellar locus: the lower part of the size distribution (galaxies are larger)
  return v[Math.floor(v.length * 0.3)]!;
}

/**
 * Stamp candidates: unflagged, S/N ≥ 20, compact, below 0.8 × saturation, isolated (no
 * neighbour brighter than 5 % of the flux within `isoRadius`), far enough from the edges; at
 * most `perCell` of the brightest per cell of a grid of ~256-px cells so the whole image is sampled.
 */
export function selectStampStars(s: StarList, width: number, height: number, edge: number, isoRadius: number, fwhm: number, saturation = Infinity, perCell = 5, maxStamps = 200): { x: number; y: number }[] {
  const n = s.x.length;
  const ok: number[] = [];
  const cell = isoRadius;
  const gw = Math.ceil(width / cell) + 1, gh = Math.ceil(height / cell) + 1;
  const grid = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const k = Math.floor(s.y[i]! / cell) * gw + Math.floor(s.x[i]! / cell);
    (grid.get(k) ?? grid.set(k, []).get(k)!).push(i);
  }
  for (let i = 0; i < n; i++) {
    if (s.flags[i] !== 0 || !(s.snr[i]! >= 20)) continue;
    if (s.peak[i]! >= 0.8 * saturation) continue;
    if (fwhm > 0 && s.fwhm[i]! >= 2 * fwhm) continue;
    const x = s.x[i]!, y = s.y[i]!;
    if (x < edge || y < edge || x > width - 1 - edge || y > height - 1 - edge) continue;
    let iso = true;
    const cx = Math.floor(x / cell), cy = Math.floor(y / cell);
    for (let dy = -1; dy <= 1 && iso; dy++) for (let dx = -1; dx <= 1 && iso; dx++) {
      if (cx + dx < 0 || cy + dy < 0 || cx + dx >= gw) continue;
      for (const j of grid.get((cy + dy) * gw + cx + dx) ?? []) {
        if (j === i) continue;
        if ((s.x[j]! - x) ** 2 + (s.y[j]! - y) ** 2 < isoRadius * isoRadius && s.flux[j]! > 0.05 * s.flux[i]!) { iso = false; break; }
      }
    }
    if (iso) ok.push(i);
  }
  const nx = Math.max(1, Math.round(width / 256)), ny = Math.max(1, Math.round(height / 256));
  // at most ~maxStamps in all (HOTPANTS-like density), at least one per cell
  perCell = Math.max(1, Math.min(perCell, Math.floor(maxStamps / (nx * ny))));
  const cells = new Map<number, number[]>();
  for (const i of ok) {
    const k = Math.min(ny - 1, Math.floor((s.y[i]! / height) * ny)) * nx + Math.min(nx - 1, Math.floor((s.x[i]! / width) * nx));
    (cells.get(k) ?? cells.set(k, []).get(k)!).push(i);
  }
  const out: { x: number; y: number }[] = [];
  for (const list of cells.values()) {
    list.sort((a, b) => s.snr[b]! - s.snr[a]!);
    for (const i of list.slice(0, perCell)) out.push({ x: Math.round(s.x[i]!), y: Math.round(s.y[i]!) });
  }
  return out;
}

/**
 * Detect sources on an image (5σ) and pick isolated bright stars: stamp/PSF-width/flux-ratio
 * candidates (0-based) and the full source list (for nearest-source distances).
 */
export function findStars(img: DiffInput): { centres: { x: number; y: number }[]; sources: { x: Float64Array; y: Float64Array; flux: Float64Array }; fwhm: number } {
  const det = detectSources({ ...img, variance: ensureVariance(img) }, { threshSigma: 5, minArea: 5, deblendNThresh: 16 });
  const st = starsOf(det);
  const fwhm = measuredFwhm(st);
  const hw = Math.min(20, Math.max(5, Math.ceil(2.5 * (fwhm > 0 ? fwhm : 4))));
  const centres = selectStampStars(st, img.width, img.height, 2.5 * hw + 1, 2.5 * hw, fwhm, img.saturation ?? Infinity);
  return { centres, sources: { x: st.x, y: st.y, flux: st.flux }, fwhm };
}

/**
 * DMTN-021 decorrelation kernel φ: φ̂(k) = √((σ_i² + κ̄²σ_c²)/(σ_i² + σ_c²|κ̂(k)|²)), κ the
 * matching kernel (size × size), σ_i² the variance of the unconvolved image, σ_c² of the
 * convolved one. Returned as a (size × size) real kernel of unit sum.
 */
export function decorrelationKernel(kappa: Float64Array, size: number, varTarget: number, varConv: number): Float64Array {
  let n = 32;
  while (n < 4 * size) n *= 2;
  const re = new Float64Array(n * n), im = new Float64Array(n * n);
  const h = (size - 1) >> 1;
  let kbar = 0;
  for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) {
    const v = kappa[j * size + i]!;
    kbar += v;
    re[((j - h + n) % n) * n + ((i - h + n) % n)] = v;
  }
  fft2(re, im, n, false);
  const num = varTarget + kbar * kbar * varConv;
  for (let i = 0; i < n * n; i++) {
    const p2 = re[i]! * re[i]! + im[i]! * im[i]!;
    re[i] = Math.sqrt(num / (varTarget + varConv * p2));
    im[i] = 0;
  }
  fft2(re, im, n, true);
  const out = new Float64Array(size * size);
  let s = 0;
  for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) {
    const v = re[((j - h + n) % n) * n + ((i - h + n) % n)]!;
    out[j * size + i] = v;
    s += v;
  }
  for (let i = 0; i < out.length; i++) out[i]! /= s;
  return out;
}

/** Clipped rms of D/√var over valid pixels (sampled), 3σ clip. */
export function noiseRatio(d: Float32Array, v: Float32Array, step = 3): number {
  // one pass into a fine histogram of D/σ over (−8, 8) (per-bin count, sum, sum of squares: the
  // sums are exact, only the clip boundary is resolved to a bin of 0.004); the few values outside
  // are kept as they are. The 3σ clipping then iterates over bins.
  const NB = 4000, Z0 = -8, BW = 16 / NB;
  const hn = new Float64Array(NB), hs = new Float64Array(NB), hs2 = new Float64Array(NB);
  let out = new Float64Array(1024), no = 0, na = 0;
  for (let i = 0; i < d.length; i += step) {
    const x = d[i]!, s = v[i]!;
    if (!(x === x && s > 0 && s < Infinity)) continue;
    const z = x / Math.sqrt(s);
    na++;
    if (z > Z0 && z < -Z0) { const b = ((z - Z0) / BW) | 0; hn[b]!++; hs[b]! += z; hs2[b]! += z * z; }
    else { if (no === out.length) { const o2 = new Float64Array(2 * no); o2.set(out); out = o2; } out[no++] = z; }
  }
  if (!na) return NaN;
  let lo = -Infinity, hi = Infinity, sd = NaN;
  for (let it = 0; it < 10; it++) {
    let s = 0, s2 = 0, n = 0;
    for (let b = 0; b < NB; b++) {
      if (!hn[b]) continue;
      const c = Z0 + (b + 0.5) * BW;
      if (c > lo && c < hi) { s += hs[b]!; s2 += hs2[b]!; n += hn[b]!; }
    }
    for (let i = 0; i < no; i++) { const x = out[i]!; if (x > lo && x < hi) { s += x; s2 += x * x; n++; } }
    const m = s / n; const nsd = Math.sqrt(Math.max(0, s2 / n - m * m));
    if (Math.abs(nsd - sd) < 1e-6 * nsd) break;
    sd = nsd; lo = m - 3 * sd; hi = m + 3 * sd;
  }
  // a 3σ clip of a Gaussian returns 0.98657 σ
  return sd / 0.98657;
}

/** PSF of a (decorrelated) difference image: the unconvolved image's PSF convolved with φ. */
export class DiffPsf implements PsfLike {
  constructor(readonly base: PsfLike, readonly phi: Float64Array, readonly phiSize: number, readonly fwhmPix: number) {}
  stampAt(x: number, y: number, size: number, out: Float32Array = new Float32Array(size * size)): Float32Array {
    if (this.phiSize === 1) return this.base.stampAt(x, y, size, out);
    // central size × size of base ⊗ φ only: out(j, i) = Σ φ(v, u)·b(j + hp − v, i + hp − u)
    const ps = this.phiSize, hp = (ps - 1) >> 1, phi = this.phi;
    const b = this.base.stampAt(x, y, size);
    const acc = new Float64Array(size * size);
    for (let v = 0; v < ps; v++) {
      const dv = hp - v, j0 = Math.max(0, -dv), j1 = Math.min(size, size - dv);
      for (let u = 0; u < ps; u++) {
        const c = phi[v * ps + u]!;
        if (c === 0) continue;
        const du = hp - u, i0 = Math.max(0, -du), i1 = Math.min(size, size - du);
        for (let j = j0; j < j1; j++) {
          const oo = j * size, bo = (j + dv) * size + du;
          for (let i = i0; i < i1; i++) acc[oo + i]! += c * b[bo + i]!;
        }
      }
    }
    for (let i = 0; i < acc.length; i++) out[i] = acc[i]!;
    return out;
  }
  fwhmPixAt(): number { return this.fwhmPix; }
}

/**
 * FWHM (pixels) from Gaussian-weighted second moments at given star positions (0-based), with
 * the local background from the median of an annulus. For a Gaussian of σ and weight σ_w the
 * weighted moment is σ²σ_w²/(σ²+σ_w²): inverted exactly, iterating σ_w towards σ.
 * Returns the median over stars (NaN if fewer than 3 measured).
 */
export function momentFwhm(img: Float32Array, width: number, height: number, pos: readonly { x: number; y: number }[], guess: number): number {
  const res: number[] = [];
  const r = Math.max(6, Math.ceil(2.5 * guess));
  const ann: number[] = [];
  const ex = new Float64Array(2 * r + 1), ey = new Float64Array(2 * r + 1);
  for (const p of pos.slice(0, 200)) {
    const xc = Math.round(p.x), yc = Math.round(p.y);
    if (xc - r - 3 < 0 || yc - r - 3 < 0 || xc + r + 3 >= width || yc + r + 3 >= height) continue;
    ann.length = 0;
    for (let y = yc - r - 3; y <= yc + r + 3; y++) for (let x = xc - r - 3; x <= xc + r + 3; x++) {
      const d2 = (x - xc) ** 2 + (y - yc) ** 2;
      if (d2 > r * r) { const v = img[y * width + x]!; if (v === v) ann.push(v); }
    }
    ann.sort((a, b) => a - b);
    const bg = ann[ann.length >> 1]!;
    let sw = guess / 2.3548, ok = true;
    let sig = sw;
    const side = 2 * r + 1;
    for (let it = 0; it < 8; it++) {
      let s0 = 0, sxx = 0, syy = 0, mx = 0, my = 0;
      const k = 1 / (2 * sw * sw);
      // separable Gaussian weight: exp(−(dx² + dy²)k) = exp(−dx²k)·exp(−dy²k)
      for (let q = 0; q < side; q++) { ex[q] = Math.exp(-((xc - r + q - p.x) ** 2) * k); ey[q] = Math.exp(-((yc - r + q - p.y) ** 2) * k); }
      for (let y = yc - r; y <= yc + r; y++) {
        const wy = ey[y - yc + r]!;
        for (let x = xc - r; x <= xc + r; x++) {
          const v = img[y * width + x]! - bg;
          if (v !== v) { ok = false; break; }
          const w = ex[x - xc + r]! * wy * v;
          s0 += w; mx += w * (x - p.x); my += w * (y - p.y);
        }
        if (!ok) break;
      }
      if (!ok || !(s0 > 0)) { ok = false; break; }
      mx /= s0; my /= s0;
      for (let y = yc - r; y <= yc + r; y++) {
        const wy = ey[y - yc + r]!;
        for (let x = xc - r; x <= xc + r; x++) {
          const v = img[y * width + x]! - bg;
          const dx = x - p.x - mx, dy = y - p.y - my;
          const w = ex[x - xc + r]! * wy * v;
          sxx += w * dx * dx; syy += w * dy * dy;
        }
      }
      const m2 = (sxx + syy) / (2 * s0);
      if (!(m2 > 0) || m2 >= sw * sw) { ok = false; break; }
      sig = Math.sqrt((m2 * sw * sw) / (sw * sw - m2));
      if (Math.abs(sig - sw) < 1e-4) break;
      sw = sig;
    }
    if (ok && sig > 0.3 && sig < 5 * guess) res.push(Math.sqrt(Math.max(sig * sig - 1 / 12, 0.01)) * 2.3548200450309493);
  }
  if (res.length < 3) return NaN;
  res.sort((a, b) => a - b);
  return res[res.length >> 1]!;
}

/** PSF stamp (size × size) at (x, y) from a PsfLike, centred (integer position). */
function psfStamp(psf: PsfLike, x: number, y: number, size: number): Float64Array {
  const s = psf.stampAt(Math.round(x), Math.round(y), size);
  return Float64Array.from(s);
}

/**
 * Subtract `template` (already on the science pixel grid) from `science`. Both MaskedImages
 * with optional variance/mask/PSF; missing variance is estimated. See the module comment.
 */
export function subtractImages(science: DiffInput, template: DiffInput, opts: SubtractOptions = {}): SubtractResult {
  const g = subtractionSteps(science, template, opts);
  let r = g.next();
  while (!r.done) r = g.next(convolveSpatial(r.value));
  return r.value;
}

/**
 * As subtractImages, with the big convolution split over `workers` worker threads (row bands of
 * the CCD, shared memory). Same result to rounding; pays on images of a few Mpix and more.
 */
export async function subtractImagesParallel(science: DiffInput, template: DiffInput, opts: SubtractOptions = {}, workers = 2): Promise<SubtractResult> {
  const g = subtractionSteps(science, template, opts);
  let r = g.next();
  while (!r.done) r = g.next(workers > 1 ? await convolveSpatialParallel(r.value, workers) : convolveSpatial(r.value));
  return r.value;
}

/** The subtraction as steps: yields each whole-image convolution to be done, receives its result. */
function* subtractionSteps(science: DiffInput, template: DiffInput, opts: SubtractOptions): Generator<SpatialConvolveInput, SubtractResult, Float32Array> {
  // stage timings in CPU seconds of this thread (robust on a shared machine)
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
  const t0 = cpu();
  const timings: Record<string, number> = {};
  const tick = (k: string, t: number) => { timings[k] = cpu() - t; return cpu(); };
  const { width, height } = science;
  const sName = opts.scienceName ?? 'science image', tName = opts.templateName ?? 'template';
  if (template.width !== width || template.height !== height) {
    throw new TesseraError(`${tName}: ${template.width}×${template.height} pixels, but the science image ${sName} is ${width}×${height}: warp the template onto the science grid first`);
  }
  const notes: string[] = [];
  // flags: S_BAD/S_SAT science, T_BAD/T_SAT template; any flag = unusable for the fit and convolution
  const flags = new Uint8Array(width * height);
  const sm = markBad(science, flags, S_BAD, S_SAT), tm = markBad(template, flags, T_BAD, T_SAT);
  const sAny = sm.any, tAny = tm.any;
  // usable science pixels (no science flag) and those also usable in the template (no flag at all)
  const nSci = flags.length - sm.fresh, nOver = nSci - tm.fresh;
  if (nSci === 0) throw new TesseraError(`${sName}: no usable pixel (all NaN or masked)`);
  const overlap = nOver / nSci;
  if (nOver === 0) throw new TesseraError(`${tName} does not overlap ${sName}: no science pixel has valid template data`);
  if (overlap < (opts.minOverlap ?? 0.1)) throw new TesseraError(`${tName} covers only ${(100 * overlap).toFixed(1)}% of ${sName} (need at least ${(100 * (opts.minOverlap ?? 0.1)).toFixed(0)}%)`);
  let t = tick('flags', t0);
  const sVar = ensureVariance(science), tVar = ensureVariance(template);
  t = tick('variance', t);
  // template detection: stamp candidates, template FWHM, nearest-source distances later
  const tStars = opts.templateSources ? starsOf(opts.templateSources) : quickSources(template, flags, T_BAD | T_SAT);
  t = tick('detect template', t);
  let fwhmGuess = measuredFwhm(tStars);
  if (!(fwhmGuess > 0)) {
    const bright: { x: number; y: number }[] = [];
    for (let i = 0; i < tStars.x.length; i++) if (tStars.flags[i] === 0 && tStars.snr[i]! > 30) bright.push({ x: tStars.x[i]!, y: tStars.y[i]! });
    bright.sort(() => 0);
    fwhmGuess = momentFwhm(template.image, width, height, bright.slice(0, 100), 4);
  }
  const hwGuess = Math.min(20, Math.max(5, Math.ceil(2.5 * (fwhmGuess > 0 ? fwhmGuess : 4))));
  const centres = opts.stampCentres ?? selectStampStars(tStars, width, height, 2.5 * hwGuess + 1, 2.5 * hwGuess, fwhmGuess, template.saturation ?? Infinity);
  // PSF widths: measured from star moments; a PSF model's width is used when it agrees (within 25%),
  // otherwise the model is distrusted (noted) and a Gaussian of the measured width replaces it
  const measT = momentFwhm(template.image, width, height, centres, fwhmGuess > 0 ? fwhmGuess : 4);
  const measS = momentFwhm(science.image, width, height, centres, measT > 0 ? measT * 1.3 : 5);
  const pick = (psf: PsfLike | undefined, meas: number, name: string): { fwhm: number; psf?: PsfLike } => {
    const m = psf?.fwhmPixAt?.((width - 1) / 2, (height - 1) / 2);
    if (psf && m && m > 0) {
      if (!(meas > 0) || Math.abs(m / meas - 1) <= 0.25) return { fwhm: m, psf };
      notes.push(`${name} PSF model FWHM ${m.toFixed(2)} px disagrees with the stars (${meas.toFixed(2)} px): using a Gaussian of the measured width`);
    }
    return { fwhm: meas };
  };
  const pt = pick(template.psf, measT, tName), ps = pick(science.psf, measS, sName);
  const fwhmT = pt.fwhm, fwhmS = ps.fwhm;
  const tPsf = pt.psf, sPsf = ps.psf;
  if (!(fwhmT > 0) || !(fwhmS > 0)) {
    throw new TesseraError(`cannot measure the PSF width of the ${!(fwhmT > 0) ? tName : sName}: fewer than 3 isolated stars measured (${centres.length} candidates; give a PSF model)`);
  }
  let convolved: 'template' | 'science';
  const mode = opts.convolve ?? 'auto';
  // the pre-convolved science image has FWHM ≈ √2·FWHM_S: matching the template to it convolves
  // (no deconvolution) while FWHM_T stays below that (with a margin for the kernel's wings)
  const preOk = fwhmT <= PRECONV_MAX_RATIO * fwhmS;
  if (mode === 'preconvolve') {
    if (!preOk) notes.push(`pre-convolution with the template FWHM ${fwhmT.toFixed(2)} px > ${PRECONV_MAX_RATIO} × science ${fwhmS.toFixed(2)} px: expect deconvolution artefacts`);
    return yield* preconvolvedSteps({ science, template, opts, flags, sVar, tVar, centres, fwhmS, fwhmT, sPsf, tStars, notes, sAny, tAny, timings, t, t0 });
  }
  if (mode === 'auto') convolved = fwhmT <= fwhmS ? 'template' : 'science';
  else convolved = mode;
  if (mode === 'auto' && convolved === 'science') notes.push(`template FWHM ${fwhmT.toFixed(2)} px > science ${fwhmS.toFixed(2)} px: convolving the science image`);
  const sharp = convolved === 'template' ? fwhmT : fwhmS, blurry = convolved === 'template' ? fwhmS : fwhmT;
  if (mode !== 'auto' && sharp > blurry * 1.05) notes.push(`convolving the blurrier image (${convolved}) by request: expect deconvolution artefacts`);
  const spec0 = defaultBasis(sharp, blurry, { degrees: opts.basis?.degrees, hw: opts.basis?.hw });
  const spec: BasisSpec = { sigmas: opts.basis?.sigmas ?? spec0.sigmas, degrees: opts.basis?.degrees ?? spec0.degrees, hw: opts.basis?.hw ?? spec0.hw };
  const basis = makeBasis(spec);
  const hw = spec.hw;
  const rs = Math.max(8, Math.round(1.5 * hw));
  // stamps
  const bad = flags;
  const target = convolved === 'template' ? science : template;
  const ref = convolved === 'template' ? template : science;
  const targetVar = convolved === 'template' ? sVar : tVar, refVar = convolved === 'template' ? tVar : sVar;
  const sol = fitAlKernel({ width, height, target: target.image, targetVar, ref: ref.image, refVar, bad }, basis, centres, { kernelOrder: opts.kernelOrder ?? 2, bgOrder: opts.bgOrder ?? 1 });
  notes.push(...sol.notes);
  t = tick('kernel fit', t);
  // kernels per spatial term
  const order = sol.kernelOrder;
  const nTerm = nPoly(order);
  const size = basis.size;
  const Km: Float64Array[] = [];
  const exps: [number, number][] = [];
  for (let tdeg = 0; tdeg <= order; tdeg++) for (let j = 0; j <= tdeg; j++) exps.push([tdeg - j, j]);
  const cvec = new Float64Array(basis.n);
  for (let m = 0; m < nTerm; m++) {
    for (let k = 0; k < basis.n; k++) cvec[k] = m < sol.coef[k]!.length ? sol.coef[k]![m]! : 0;
    Km.push(kernelImage(basis, cvec));
  }
  const kCentre = kernelImage(basis, coefAt(sol, sol.cx, sol.cy));
  let kc = 0;
  for (const v of kCentre) kc += v;
  // decorrelation
  const decorrelate = opts.decorrelate ?? true;
  const varT = medianSample(targetVar, bad), varC = medianSample(refVar, bad);
  let phi: Float64Array = new Float64Array([1]);
  let phiSize = 1;
  if (decorrelate) { phi = decorrelationKernel(kCentre, size, varT, varC); phiSize = size; }
  // convolution: Dgen = φ ⊗ (target − Σ P_m (ref ⊗ K_m)) (background subtracted after); flagged
  // pixels of either image count as 0 in both (the convolution reads them through `bad`)
  const terms: KernelTerm[] = [];
  for (let m = 0; m < nTerm; m++) {
    const k = decorrelate ? convolveKernels(Km[m]!, size, phi, phiSize) : { kernel: Km[m]!, size };
    for (let i = 0; i < k.kernel.length; i++) k.kernel[i] = -k.kernel[i]!;
    terms.push({ kernel: k.kernel, size: k.size, ax: exps[m]![0], ay: exps[m]![1] });
  }
  const dgen: Float32Array = yield ({ src: ref.image, bad, width, height, terms, cx: sol.cx, cy: sol.cy, sx: sol.sx, sy: sol.sy, extra: { src: target.image, kernel: phi, size: phiSize } });
  t = tick('convolve', t);
  // variance: decorrelated → white: var_t + κ̄²·var_c (in the pixel loop below); otherwise var_t + K_c² ⊗ var_c
  const variance = new Float32Array(width * height);
  const k2 = kc * kc;
  if (!decorrelate) {
    const ksq = Float64Array.from(kCentre, (v) => v * v);
    convolveSpatial({ src: refVar, bad, width, height, terms: [{ kernel: ksq, size, ax: 0, ay: 0 }], cx: sol.cx, cy: sol.cy, sx: sol.sx, sy: sol.sy }, variance);
    for (let i = 0; i < variance.length; i++) variance[i]! += targetVar[i]!;
  }
  // masks: reference problems grow by the kernel (+φ) footprint, target problems by φ
  const sMask = science.mask, tMask = template.mask;
  const rMaskIn = convolved === 'template' ? tMask : sMask, tMaskIn = convolved === 'template' ? sMask : tMask;
  const rBits = convolved === 'template' ? [T_BAD, T_SAT] as const : [S_BAD, S_SAT] as const;
  const tgBits = convolved === 'template' ? [S_BAD, S_SAT] as const : [T_BAD, T_SAT] as const;
  const hphi = (phiSize - 1) >> 1;
  // mask = grow(ref bits, hw + hφ) | grow(target bits, hφ)
  const mask = new Uint32Array(width * height);
  const grower = new MaskGrower(width, height);
  // (an image with no flagged pixel and no mask bit adds nothing: skip its scan)
  if (convolved === 'template' ? tAny : sAny) grower.grow(mask, rMaskIn, flags, rBits[0], rBits[1], hw + hphi);
  if (convolved === 'template' ? sAny : tAny) grower.grow(mask, tMaskIn, flags, tgBits[0], tgBits[1], hphi);
  // still all zero (clean inputs): written, never read, below (a read before the first write of a
  // fresh page costs a second page fault)
  const maskZero = !sAny && !tAny;
  // D in place of the convolution output
  const image = dgen;
  const edge = hw + hphi;
  const sign = convolved === 'template' ? 1 : -1;
  const scale = convolved === 'template' ? 1 : 1 / kc;
  const matched = new Float32Array(width * height);
  const bgRow = new Float64Array(width);
  const sImg = science.image;
  const ss = scale * scale, dead0 = DEFAULT_BAD_MASK | MaskBits.NO_DATA;
  const xe0 = Math.min(edge, width), xe1 = Math.max(xe0, width - edge);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    if (y < edge || y >= height - edge) {
      if (maskZero) mask.fill(MaskBits.EDGE, o, o + width);
      else for (let i = o; i < o + width; i++) mask[i]! |= MaskBits.EDGE;
      image.fill(NaN, o, o + width); variance.fill(NaN, o, o + width); matched.fill(NaN, o, o + width);
      continue;
    }
    backgroundRow(sol, y, bgRow);
    if (maskZero) { mask.fill(MaskBits.EDGE, o, o + xe0); mask.fill(MaskBits.EDGE, o + xe1, o + width); }
    else {
      for (let x = 0; x < xe0; x++) mask[o + x]! |= MaskBits.EDGE;
      for (let x = xe1; x < width; x++) mask[o + x]! |= MaskBits.EDGE;
    }
    image.fill(NaN, o, o + xe0); variance.fill(NaN, o, o + xe0); matched.fill(NaN, o, o + xe0);
    image.fill(NaN, o + xe1, o + width); variance.fill(NaN, o + xe1, o + width); matched.fill(NaN, o + xe1, o + width);
    for (let x = xe0; x < xe1; x++) {
      const i = o + x;
      if (!maskZero && (mask[i]! & dead0)) { image[i] = NaN; variance[i] = NaN; matched[i] = NaN; continue; }
      const d = (image[i]! - bgRow[x]!) * sign * scale;
      image[i] = d;
      variance[i] = (decorrelate ? targetVar[i]! + k2 * refVar[i]! : variance[i]!) * ss;
      matched[i] = sImg[i]! - d;
    }
  }
  t = tick('mask+variance', t);
  const residRms = noiseRatio(image, variance);
  t = tick('residual rms', t);
  // PSF of D: PSF of the unconvolved image ⊗ φ
  const psfSize = 2 * Math.ceil(2.5 * blurry) + 1;
  const tgtPsf = (convolved === 'template' ? sPsf : tPsf) ?? new GaussianPsf(convolved === 'template' ? fwhmS : fwhmT);
  let dp = psfStamp(tgtPsf, (width - 1) / 2, (height - 1) / 2, psfSize);
  let dps = psfSize;
  if (decorrelate) { const c = convolveKernels(dp, psfSize, phi, phiSize); dp = c.kernel; dps = c.size; }
  // crop back to psfSize, unit sum
  const off = (dps - psfSize) >> 1;
  const dpc = new Float32Array(psfSize * psfSize);
  let ssum = 0;
  for (let j = 0; j < psfSize; j++) for (let i = 0; i < psfSize; i++) { const v = dp[(j + off) * dps + i + off]!; dpc[j * psfSize + i] = v; ssum += v; }
  for (let i = 0; i < dpc.length; i++) dpc[i]! /= ssum;
  const ksum = convolved === 'template' ? kc : 1 / kc;
  const ksumErr = convolved === 'template' ? sol.ksumErr : sol.ksumErr / (kc * kc);
  timings.total = cpu() - t0;
  return {
    diff: { width, height, image, variance, mask },
    diffPsf: { data: dpc, size: psfSize, fwhmPix: convolved === 'template' ? fwhmS : fwhmT },
    psf: new DiffPsf(tgtPsf, phi, phiSize, convolved === 'template' ? fwhmS : fwhmT),
    phi: { kernel: phi, size: phiSize },
    solution: sol, convolved, ksum, ksumErr, chi2Dof: sol.chi2Dof, residRms, decorrelated: decorrelate,
    fwhmSci: fwhmS, fwhmTmpl: fwhmT,
    templateSources: { x: tStars.x, y: tStars.y, flux: tStars.flux },
    matchedTemplate: matched, preconvolved: false, notes, timings,
  };
}

/** Largest template/science FWHM ratio for which pre-convolution still convolves the template. */
export const PRECONV_MAX_RATIO = 1.3;

interface PreconvContext {
  science: DiffInput; template: DiffInput; opts: SubtractOptions; flags: Uint8Array;
  sVar: Float32Array; tVar: Float32Array; centres: { x: number; y: number }[];
  fwhmS: number; fwhmT: number; sPsf?: PsfLike; tStars: StarList; notes: string[]; sAny: boolean; tAny: boolean;
  timings: Record<string, number>; t: number; t0: number;
}

/**
 * Pre-convolution (Lupton/Reiss; ip_diffim AlardLuptonPreconvolveSubtractTask): S' = S ⋆ P_s (the
 * science image cross-correlated with its own PSF, FWHM ≈ √2·FWHM_S) is fitted by K ⊗ T + bg, so
 * the kernel convolves even when the template is somewhat blurrier than the science image. The
 * difference S' − K ⊗ T − bg is the matched-filter numerator of a point-source search; its noise
 * has the power spectrum σ_s²|P̂_s|² + σ_t²|K̂|², so it is filtered once more by
 * F̂ = (σ_s² + σ_t²K̄²)·|P̂_s|² / (σ_s²|P̂_s|² + σ_t²|K̂|²) (unit sum; F = δ without template noise):
 * L = F ⊗ (S' − K ⊗ T − bg) is the noise-optimal score for a point source. Its PSF is
 * P_L = F ⊗ P_s ⋆ P_s (unit sum) and its pixel variance var_S·Σ(F⊗P_s)² + var_T·Σ(F⊗K)².
 * Done as two whole-image convolutions: T with the spatially varying F ⊗ K_m, S with F ⋆ P_s.
 */
function* preconvolvedSteps(c: PreconvContext): Generator<SpatialConvolveInput, SubtractResult, Float32Array> {
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
  const { science, template, opts, flags, sVar, tVar, centres, fwhmS, fwhmT, notes, timings, t0 } = c;
  let t = c.t;
  const tick = (k: string, t1: number) => { timings[k] = (timings[k] ?? 0) + cpu() - t1; return cpu(); };
  const { width, height } = science;
  // science PSF stamp (unit sum) at the image centre
  const sPsfLike = c.sPsf ?? new GaussianPsf(fwhmS);
  const psfSize = 2 * Math.ceil(2.5 * fwhmS) + 1, hp = (psfSize - 1) >> 1;
  const Ps = psfStamp(sPsfLike, (width - 1) / 2, (height - 1) / 2, psfSize);
  let ps = 0;
  for (const v of Ps) ps += v;
  for (let i = 0; i < Ps.length; i++) Ps[i]! /= ps;
  const Pflip = Float64Array.from(Ps).reverse();
  const fwhmPre = Math.SQRT2 * fwhmS;
  const spec0 = defaultBasis(fwhmT, fwhmPre, { degrees: opts.basis?.degrees, hw: opts.basis?.hw });
  const spec: BasisSpec = { sigmas: opts.basis?.sigmas ?? spec0.sigmas, degrees: opts.basis?.degrees ?? spec0.degrees, hw: opts.basis?.hw ?? spec0.hw };
  const basis = makeBasis(spec);
  const hw = spec.hw, size = basis.size;
  const rs = Math.max(8, Math.round(1.5 * hw));
  // S ⋆ P_s and var_S ⋆ P_s² on the stamp regions only (all the fit reads)
  const pre = preconvolveStamps(science.image, sVar, flags, width, height, Ps, psfSize, centres, rs + 3);
  const sol = fitAlKernel({ width, height, target: pre.image, targetVar: pre.variance, ref: template.image, refVar: tVar, bad: flags }, basis, centres, { kernelOrder: opts.kernelOrder ?? 2, bgOrder: opts.bgOrder ?? 1 });
  notes.push(...sol.notes);
  t = tick('kernel fit', t);
  const order = sol.kernelOrder, nTerm = nPoly(order);
  const exps: [number, number][] = [];
  for (let tdeg = 0; tdeg <= order; tdeg++) for (let j = 0; j <= tdeg; j++) exps.push([tdeg - j, j]);
  const cvec = new Float64Array(basis.n);
  const kCentre = kernelImage(basis, coefAt(sol, sol.cx, sol.cy));
  let kc = 0;
  for (const v of kCentre) kc += v;
  const varS = medianSample(sVar, flags), varT = medianSample(tVar, flags);
  // the score filter (decorrelate = false: none, L = S ⋆ P_s − K ⊗ T − bg)
  const filtered = opts.decorrelate ?? true;
  const fSize = filtered ? size : 1;
  const F = filtered ? scoreFilter(kCentre, size, Ps, psfSize, varS, varT) : new Float64Array([1]);
  const hF = (fSize - 1) >> 1;
  const terms: KernelTerm[] = [];
  for (let m = 0; m < nTerm; m++) {
    for (let k = 0; k < basis.n; k++) cvec[k] = m < sol.coef[k]!.length ? sol.coef[k]![m]! : 0;
    const fk = convolveKernels(kernelImage(basis, cvec), size, F, fSize);
    terms.push({ kernel: fk.kernel, size: fk.size, ax: exps[m]![0], ay: exps[m]![1] });
  }
  const FP = convolveKernels(F, fSize, Pflip, psfSize);
  const FKc = convolveKernels(kCentre, size, F, fSize).kernel;
  let nFP = 0, nFK = 0;
  for (const v of FP.kernel) nFP += v * v;
  for (const v of FKc) nFK += v * v;
  const M: Float32Array = yield ({ src: template.image, bad: flags, width, height, terms, cx: sol.cx, cy: sol.cy, sx: sol.sx, sy: sol.sy });
  const L: Float32Array = yield ({ src: science.image, bad: flags, width, height, terms: [{ kernel: FP.kernel, size: FP.size, ax: 0, ay: 0 }], cx: sol.cx, cy: sol.cy, sx: sol.sx, sy: sol.sy });
  t = tick('convolve', t);
  // masks: template problems grow by the F ⊗ K footprint, science problems by F ⋆ P_s
  const mask = new Uint32Array(width * height);
  const grower = new MaskGrower(width, height);
  if (c.tAny) grower.grow(mask, template.mask, flags, T_BAD, T_SAT, hF + hw);
  if (c.sAny) grower.grow(mask, science.mask, flags, S_BAD, S_SAT, hF + hp);
  const edge = hF + Math.max(hw, hp);
  const variance = new Float32Array(width * height), matched = new Float32Array(width * height);
  const snr = new Float32Array(width * height), flux = new Float32Array(width * height);
  // PSF of L: P_s ⊗ (F ⋆ P_s), unit sum; its peak converts L to point-source flux
  const fsz = FP.size;
  const lPsfBase = new DiffPsf(sPsfLike, FP.kernel, fsz, fwhmPre);
  const lSize = 2 * Math.ceil(2.5 * fwhmPre) + 1;
  const PL = lPsfBase.stampAt(Math.round((width - 1) / 2), Math.round((height - 1) / 2), lSize);
  let plSum = 0;
  const lh = (lSize - 1) >> 1;
  for (const v of PL) plSum += v;
  for (let i = 0; i < PL.length; i++) PL[i]! /= plSum;
  const pl0 = PL[lh * lSize + lh]!;
  // FWHM from the half-maximum crossings of the central row and column (F has small negative
  // lobes, so second moments would understate it)
  const halfWidth = (step: number): number => {
    let w = 0;
    for (const dir of [-1, 1]) {
      let r = 1;
      while (r <= lh && PL[lh * lSize + lh + dir * r * step]! > pl0 / 2) r++;
      if (r > lh) { w += lh; continue; }
      const a = PL[lh * lSize + lh + dir * (r - 1) * step]!, b = PL[lh * lSize + lh + dir * r * step]!;
      w += r - 1 + (a - pl0 / 2) / (a - b);
    }
    return w;
  };
  const fwhmL = 0.5 * (halfWidth(1) + halfWidth(lSize));
  const bgRow = new Float64Array(width);
  const dead0 = DEFAULT_BAD_MASK | MaskBits.NO_DATA;
  for (let y = 0; y < height; y++) {
    const o = y * width;
    const rowEdge = y < edge || y >= height - edge;
    if (!rowEdge) backgroundRow(sol, y, bgRow);
    for (let x = 0; x < width; x++) {
      const i = o + x;
      if (rowEdge || x < edge || x >= width - edge) mask[i]! |= MaskBits.EDGE;
      if (rowEdge || x < edge || x >= width - edge || (mask[i]! & dead0)) { L[i] = NaN; variance[i] = NaN; matched[i] = NaN; snr[i] = NaN; flux[i] = NaN; continue; }
      const mt = M[i]! + bgRow[x]!;
      const d = L[i]! - mt;
      const v = sVar[i]! * nFP + tVar[i]! * nFK;
      L[i] = d; variance[i] = v; matched[i] = mt;
      snr[i] = d / Math.sqrt(v);
    }
  }
  // point-source flux: where a pixel is a local extremum along x and along y, the peak value of a
  // parabola through it and its two neighbours on each axis (the source's sub-pixel peak; reading
  // L at the pixel alone would be low by the PSF's fall-off over up to half a pixel), else L itself
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let x = 0; x < width; x++) {
      const i = o + x, c = L[i]!;
      if (c !== c) { flux[i] = NaN; continue; }
      let pk = c;
      if (x > 0 && x < width - 1 && y > 0 && y < height - 1) {
        const l = L[i - 1]!, r = L[i + 1]!, u = L[i - width]!, dn = L[i + width]!;
        const dx = l - 2 * c + r, dy = u - 2 * c + dn;
        // same sign of curvature on both axes, opposite to c's sign: an extremum (peak or trough)
        // (and the vertex within half a pixel on each axis)
        if (dx * c < 0 && dy * c < 0 && Math.abs(l - r) <= Math.abs(dx) && Math.abs(u - dn) <= Math.abs(dy)) pk = c - ((l - r) * (l - r)) / (8 * dx) - ((u - dn) * (u - dn)) / (8 * dy);
      }
      flux[i] = pk / pl0;
    }
  }
  t = tick('mask+variance', t);
  const residRms = noiseRatio(L, variance);
  timings.total = cpu() - t0;
  return {
    diff: { width, height, image: L, variance, mask },
    diffPsf: { data: PL, size: lSize, fwhmPix: fwhmL },
    psf: new DiffPsf(sPsfLike, FP.kernel, fsz, fwhmL),
    phi: { kernel: F, size: fSize },
    solution: sol, convolved: 'template', ksum: kc, ksumErr: sol.ksumErr, chi2Dof: sol.chi2Dof, residRms, decorrelated: filtered,
    fwhmSci: fwhmS, fwhmTmpl: fwhmT,
    templateSources: { x: c.tStars.x, y: c.tStars.y, flux: c.tStars.flux },
    matchedTemplate: matched, preconvolved: true, score: { snr, flux }, notes, timings,
  };
}

/**
 * Science image cross-correlated with its PSF (S ⋆ P) and its variance with P² (var ⋆ P²), only
 * within `r` pixels of the given centres (elsewhere 0; NaN where a flagged pixel is in the PSF
 * footprint or the footprint leaves the image).
 */
function preconvolveStamps(img: Float32Array, vr: Float32Array, flags: Uint8Array, width: number, height: number, psf: Float64Array, ps: number, centres: readonly { x: number; y: number }[], r: number): { image: Float32Array; variance: Float32Array } {
  const image = new Float32Array(width * height), variance = new Float32Array(width * height);
  const hp = (ps - 1) >> 1;
  const p2 = Float64Array.from(psf, (v) => v * v);
  for (const c of centres) {
    const xc = Math.round(c.x), yc = Math.round(c.y);
    for (let y = Math.max(0, yc - r); y <= Math.min(height - 1, yc + r); y++) for (let x = Math.max(0, xc - r); x <= Math.min(width - 1, xc + r); x++) {
      const i = y * width + x;
      if (x - hp < 0 || y - hp < 0 || x + hp >= width || y + hp >= height) { image[i] = NaN; variance[i] = NaN; continue; }
      let s = 0, sv = 0, bad = false;
      for (let v = -hp; v <= hp && !bad; v++) {
        const row = (y + v) * width + x, pr = (v + hp) * ps + hp;
        for (let u = -hp; u <= hp; u++) {
          const k = row + u;
          if (flags[k]) { bad = true; break; }
          s += psf[pr + u]! * img[k]!; sv += p2[pr + u]! * vr[k]!;
        }
      }
      image[i] = bad ? NaN : s; variance[i] = bad ? NaN : sv;
    }
  }
  return { image, variance };
}

/**
 * Score filter of the pre-convolved difference (size × size, unit sum):
 * F̂ = (σ_s² + σ_t²κ̄²)·|P̂|² / (σ_s²|P̂|² + σ_t²|κ̂|²), κ the matching kernel (size × size,
 * κ̄ = Σκ), P the science PSF (psfSize × psfSize, unit sum), σ_s², σ_t² the science and template
 * variances. F = δ when the template is noiseless; bounded by 1 + σ_t²κ̄²/σ_s² everywhere.
 */
export function scoreFilter(kappa: Float64Array, size: number, psf: Float64Array, psfSize: number, varS: number, varT: number): Float64Array {
  let n = 32;
  while (n < 4 * Math.max(size, psfSize)) n *= 2;
  const place = (k: Float64Array, sz: number): { re: Float64Array; im: Float64Array; sum: number } => {
    const re = new Float64Array(n * n), im = new Float64Array(n * n);
    const h = (sz - 1) >> 1;
    let sum = 0;
    for (let j = 0; j < sz; j++) for (let i = 0; i < sz; i++) { const v = k[j * sz + i]!; sum += v; re[((j - h + n) % n) * n + ((i - h + n) % n)] = v; }
    fft2(re, im, n, false);
    return { re, im, sum };
  };
  const K = place(kappa, size), P = place(psf, psfSize);
  const num0 = varS + varT * K.sum * K.sum;
  const re = new Float64Array(n * n), im = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) {
    const p2 = P.re[i]! * P.re[i]! + P.im[i]! * P.im[i]!, k2 = K.re[i]! * K.re[i]! + K.im[i]! * K.im[i]!;
    const den = varS * p2 + varT * k2;
    re[i] = den > 0 ? (num0 * p2) / den : 1;
  }
  fft2(re, im, n, true);
  const h = (size - 1) >> 1;
  const out = new Float64Array(size * size);
  let s = 0;
  for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) { const v = re[((j - h + n) % n) * n + ((i - h + n) % n)]!; out[j * size + i] = v; s += v; }
  for (let i = 0; i < out.length; i++) out[i]! /= s;
  return out;
}
