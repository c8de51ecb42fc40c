/**
 * Alard–Lupton kernel fit on stamps: per-stamp solutions, HOTPANTS-like clipping (kernel sum,
 * then residual χ²), and one global least-squares solution with spatially varying kernel
 * coefficients and a polynomial differential background.
 *
 * Model (0-based pixels): target(x, y) ≈ Σ_k a_k(x, y)·[R ⊗ B'_k](x, y) + bg(x, y), with
 * a_k(X, Y) polynomials in the normalised position X = (x − cx)/sx, Y = (y − cy)/sy ∈ [−1, 1].
 * a_0 is the kernel sum (B'_0 has unit sum, the others zero sum; see basis.ts).
 *
 * Each stamp's basis-convolved images are computed ONCE (separably) and kept: the normal
 * equations of the global fit are sums over stamps of their small local normal matrices
 * expanded by the spatial polynomial terms at the stamp centre.
 */
import { TesseraError } from '../../util/errors.js';
import { quickselect } from '../../image/stats.js';
import { type KernelBasis, nPoly, polyTerms } from './basis.js';

export interface FitImages {
  width: number;
  height: number;
  /** Image fitted (the one NOT convolved). */
  target: Float32Array;
  targetVar: Float32Array;
  /** Image convolved by the kernel. */
  ref: Float32Array;
  refVar: Float32Array;
  /** 1 = unusable pixel (either image). */
  bad: Uint8Array;
}

export interface AlFitOptions {
  kernelOrder?: number;
  bgOrder?: number;
  /** Spatial order of the kernel sum (default 0: one photometric ratio for the image). */
  ksumOrder?: number;
  /** Stamp half-size (fit region is (2·rs+1)²), default max(8, round(1.5·hw)). */
  stampHalf?: number;
  /** Clipping threshold in σ (MAD) for kernel sums and χ² (default 3). */
  clipSigma?: number;
  /** Iterations of global fit + clipping (default 3). */
  iterations?: number;
  /**
   * Fix the kernel sum to the PSF-matched aperture flux ratio of the stamps and refit the shape
   * (default true; only with ksumOrder 0).
   */
  photometricKsum?: boolean;
}

export interface AlStamp {
  /** Centre (0-based). */
  x: number;
  y: number;
  /** Per-stamp kernel sum and reduced χ² (of the local fit). */
  ksum: number;
  chi2: number;
  /** χ²/dof of the global solution on this stamp (NaN if not evaluated). */
  chi2Global: number;
  /** Why it was rejected ('' when used). */
  rejected: string;
}

export interface AlSolution {
  basis: KernelBasis;
  kernelOrder: number;
  bgOrder: number;
  ksumOrder: number;
  width: number;
  height: number;
  /** Polynomial normalisation: X = (x − cx)/sx. */
  cx: number; cy: number; sx: number; sy: number;
  /** coef[k][m]: spatial term m of basis k (k = 0: kernel sum, nPoly(ksumOrder) terms). */
  coef: Float64Array[];
  bgCoef: Float64Array;
  stamps: AlStamp[];
  nUsed: number;
  /** Kernel sum at the image centre and its scatter over the used stamps (σ/√n). */
  ksum: number;
  ksumErr: number;
  /** Mean χ²/dof of the used stamps under the global solution. */
  chi2Dof: number;
  notes: string[];
}

interface StampData {
  x: number; y: number;
  /** nb × np basis images then the target and weights. */
  C: Float64Array;
  t: Float64Array;
  w: Float64Array;
  Q: Float64Array;
  q: Float64Array;
  /** Σ w·t² (for χ² from the normal equations). */
  tt: number;
  np: number;
}

/** Cholesky solve of a symmetric positive (semi)definite system with a tiny ridge; false if singular. */
export function solveSpd(A: Float64Array, b: Float64Array, n: number): Float64Array | null {
  const L = new Float64Array(n * n);
  let maxDiag = 0;
  for (let i = 0; i < n; i++) maxDiag = Math.max(maxDiag, A[i * n + i]!);
  const ridge = maxDiag * 1e-12;
  for (let j = 0; j < n; j++) {
    let s = A[j * n + j]! + ridge;
    for (let k = 0; k < j; k++) s -= L[j * n + k]! * L[j * n + k]!;
    if (!(s > 0)) return null;
    const d = Math.sqrt(s);
    L[j * n + j] = d;
    for (let i = j + 1; i < n; i++) {
      let t = A[i * n + j]!;
      for (let k = 0; k < j; k++) t -= L[i * n + k]! * L[j * n + k]!;
      L[i * n + j] = t / d;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) { let s = b[i]!; for (let k = 0; k < i; k++) s -= L[i * n + k]! * y[k]!; y[i] = s / L[i * n + i]!; }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) { let s = y[i]!; for (let k = i + 1; k < n; k++) s -= L[k * n + i]! * x[k]!; x[i] = s / L[i * n + i]!; }
  for (let i = 0; i < n; i++) if (!Number.isFinite(x[i]!)) return null;
  return x;
}

/**
 * Basis images of one stamp: for fit pixels (x, y) in [xc−rs, xc+rs]², C_k(x, y) = [R ⊗ B'_k](x, y).
 * Returns null when the convolved region touches a bad pixel or leaves the image.
 */
/** Scratch planes reused from stamp to stamp (grown on demand; contents are not kept). */
class Scratch {
  private bufs = new Map<string, Float64Array>();
  get(name: string, n: number): Float64Array {
    let b = this.bufs.get(name);
    if (!b || b.length < n) { b = new Float64Array(n); this.bufs.set(name, b); }
    return b;
  }
}

function stampBasis(img: FitImages, basis: KernelBasis, xc: number, yc: number, rs: number, scratch: Scratch): Float64Array | null {
  const { width, height, ref, bad } = img;
  const hw = basis.spec.hw;
  const ext = rs + hw;
  if (xc - ext < 0 || yc - ext < 0 || xc + ext >= width || yc + ext >= height) return null;
  for (let y = yc - ext; y <= yc + ext; y++) for (let x = xc - ext; x <= xc + ext; x++) if (bad[y * width + x]) return null;
  const side = 2 * rs + 1, tall = 2 * ext + 1, np = side * side, ns = side * tall;
  const nh = basis.hFactors.length;
  const sym = basisSymmetry(basis);
  // Every 1-D factor is even or odd about 0 (Gaussian × power), so each tap pair (±v) is one
  // multiply of R(x − v) ± R(x + v). Horizontal pair sums/differences for every extended row:
  const vmaxX = Math.max(0, ...sym.hMax);
  const R0 = scratch.get('R0', ns), SP = scratch.get('SP', vmaxX * ns), SM = scratch.get('SM', vmaxX * ns);
  for (let j = 0; j < tall; j++) {
    const row = (yc - ext + j) * width + xc - rs, o = j * side;
    for (let i = 0; i < side; i++) R0[o + i] = ref[row + i]!;
    for (let v = 1; v <= vmaxX; v++) {
      const ov = (v - 1) * ns + o;
      for (let i = 0; i < side; i++) { const l = ref[row + i - v]!, r = ref[row + i + v]!; SP[ov + i] = l + r; SM[ov + i] = l - r; }
    }
  }
  // horizontal passes: H_h(x, yy) = Σ_u f(u)·R(x − u, yy), x in the fit columns, yy over the extended rows
  const H = scratch.get('H', nh * ns);
  for (let h = 0; h < nh; h++) {
    const f = basis.hFactors[h]!, base = h * ns, odd = sym.hOdd[h]!;
    if (!odd) { const c = f[hw]!; for (let q = 0; q < ns; q++) H[base + q] = c * R0[q]!; }
    else H.fill(0, base, base + ns);
    addTaps(H, base, odd ? SM : SP, ns, f, hw, sym.hMax[h]!);
  }
  // vertical passes: C_k(y) = Σ_v g(v)·H(y − v); the output row j reads H rows j + hw ∓ v (stride side)
  const nb = basis.n;
  const C = new Float64Array(nb * np);
  const vmaxY = Math.max(0, ...sym.vMax);
  const VP = scratch.get('VP', vmaxY * np), VM = scratch.get('VM', vmaxY * np);
  let curH = -1, curMax = 0;
  for (let k = 0; k < nb; k++) {
    const fy = basis.fy[k]!, h = basis.hIndex[k]!, hb = h * ns, ob = k * np;
    const vm = sym.vMax[k]!, odd = sym.vOdd[k]!;
    if (h !== curH || vm > curMax) {
      // pair sums/differences of H_h rows, up to the widest factor that uses this H_h
      curH = h; curMax = 0;
      for (let k2 = k; k2 < nb && basis.hIndex[k2] === h; k2++) curMax = Math.max(curMax, sym.vMax[k2]!);
      for (let v = 1; v <= curMax; v++) {
        const lo = hb + (hw - v) * side, hi = hb + (hw + v) * side, ov = (v - 1) * np;
        for (let p = 0; p < np; p++) { const a = H[lo + p]!, b = H[hi + p]!; VP[ov + p] = a + b; VM[ov + p] = a - b; }
      }
    }
    if (!odd) { const c = fy[hw]!, h0 = hb + hw * side; for (let p = 0; p < np; p++) C[ob + p] = c * H[h0 + p]!; }
    addTaps(C, ob, odd ? VM : VP, np, fy, hw, vm);
  }
  // zero-sum transform: C'_k = C_k − s_k·C_0
  for (let k = 1; k < nb; k++) {
    const s = basis.sums[k]!;
    if (s === 0) continue;
    const ob = k * np;
    for (let p = 0; p < np; p++) C[ob + p]! -= s * C[p]!;
  }
  return C;
}

/**
 * dst[d0 + q] += Σ_{v=1..vmax} f[hw + v]·S[(v − 1)·len + q] for q < len, four taps per pass over
 * dst (the taps accumulate in registers; dst is read and written once per four).
 */
function addTaps(dst: Float64Array, d0: number, S: Float64Array, len: number, f: Float64Array, hw: number, vmax: number): void {
  let v = 1;
  for (; v + 3 <= vmax; v += 4) {
    const c1 = f[hw + v]!, c2 = f[hw + v + 1]!, c3 = f[hw + v + 2]!, c4 = f[hw + v + 3]!;
    const o1 = (v - 1) * len, o2 = o1 + len, o3 = o2 + len, o4 = o3 + len;
    for (let q = 0; q < len; q++) dst[d0 + q]! += c1 * S[o1 + q]! + c2 * S[o2 + q]! + c3 * S[o3 + q]! + c4 * S[o4 + q]!;
  }
  for (; v + 1 <= vmax; v += 2) {
    const c1 = f[hw + v]!, c2 = f[hw + v + 1]!;
    const o1 = (v - 1) * len, o2 = o1 + len;
    for (let q = 0; q < len; q++) dst[d0 + q]! += c1 * S[o1 + q]! + c2 * S[o2 + q]!;
  }
  for (; v <= vmax; v++) {
    const c = f[hw + v]!, o = (v - 1) * len;
    for (let q = 0; q < len; q++) dst[d0 + q]! += c * S[o + q]!;
  }
}

interface BasisSymmetry { hOdd: Uint8Array; hMax: Int32Array; vOdd: Uint8Array; vMax: Int32Array }
const symCache = new WeakMap<KernelBasis, BasisSymmetry>();

/**
 * Parity (even/odd about the centre) and reach (largest |v| whose coefficient is above 1e-13 of
 * the factor's maximum) of every horizontal and vertical 1-D factor of the basis.
 */
function basisSymmetry(basis: KernelBasis): BasisSymmetry {
  const c = symCache.get(basis);
  if (c) return c;
  const hw = basis.spec.hw;
  const one = (f: Float64Array): [number, number] => {
    let fm = 0;
    for (const v of f) fm = Math.max(fm, Math.abs(v));
    let even = true, odd = true, reach = 0;
    for (let v = 1; v <= hw; v++) {
      const a = f[hw + v]!, b = f[hw - v]!;
      if (Math.abs(a - b) > 1e-12 * fm) even = false;
      if (Math.abs(a + b) > 1e-12 * fm) odd = false;
      if (Math.abs(a) > 1e-13 * fm) reach = v;
    }
    if (Math.abs(f[hw]!) > 1e-12 * fm) odd = false;
    if (!even && !odd) throw new RangeError('AL basis factor is neither even nor odd about the kernel centre');
    return [even ? 0 : 1, reach];
  };
  const h = basis.hFactors.map(one), v = basis.fy.map(one);
  const r: BasisSymmetry = {
    hOdd: Uint8Array.from(h, (x) => x[0]), hMax: Int32Array.from(h, (x) => x[1]),
    vOdd: Uint8Array.from(v, (x) => x[0]), vMax: Int32Array.from(v, (x) => x[1]),
  };
  symCache.set(basis, r);
  return r;
}

function localNormal(sd: StampData, nb: number, scratch: Scratch): void {
  const nl = nb + 1, np = sd.np;
  const Q = new Float64Array(nl * nl), q = new Float64Array(nl);
  const { C, t, w } = sd;
  // weighted copies once, then plain dot products
  const Cw = scratch.get('Cw', nb * np);
  for (let k = 0; k < nb; k++) { const o = k * np; for (let p = 0; p < np; p++) Cw[o + p] = C[o + p]! * w[p]!; }
  for (let i = 0; i < nb; i++) {
    const bi = i * np;
    // four columns at a time (each Cw value loaded once for four products)
    let j = 0;
    for (; j + 3 <= i; j += 4) {
      const b0 = j * np, b1 = b0 + np, b2 = b1 + np, b3 = b2 + np;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let p = 0; p < np; p++) {
        const c = Cw[bi + p]!;
        s0 += c * C[b0 + p]!; s1 += c * C[b1 + p]!; s2 += c * C[b2 + p]!; s3 += c * C[b3 + p]!;
      }
      Q[i * nl + j] = s0; Q[j * nl + i] = s0;
      Q[i * nl + j + 1] = s1; Q[(j + 1) * nl + i] = s1;
      Q[i * nl + j + 2] = s2; Q[(j + 2) * nl + i] = s2;
      Q[i * nl + j + 3] = s3; Q[(j + 3) * nl + i] = s3;
    }
    for (; j <= i; j++) {
      const bj = j * np;
      let s = 0;
      for (let p = 0; p < np; p++) s += Cw[bi + p]! * C[bj + p]!;
      Q[i * nl + j] = s; Q[j * nl + i] = s;
    }
    let s1 = 0, s2 = 0;
    for (let p = 0; p < np; p++) { s1 += Cw[bi + p]!; s2 += Cw[bi + p]! * t[p]!; }
    Q[nb * nl + i] = s1; Q[i * nl + nb] = s1;
    q[i] = s2;
  }
  let sw = 0, swt = 0, tt = 0;
  for (let p = 0; p < np; p++) { sw += w[p]!; swt += w[p]! * t[p]!; tt += t[p]! * t[p]! * w[p]!; }
  Q[nb * nl + nb] = sw; q[nb] = swt;
  sd.Q = Q; sd.q = q; sd.tt = tt;
}

/** χ² of a stamp for local coefficients a (nb kernel + 1 background): tᵀWt − 2aᵀq + aᵀQa. */
function stampChi2(sd: StampData, a: Float64Array, nb: number): number {
  const nl = nb + 1;
  let chi = sd.tt;
  for (let i = 0; i < nl; i++) {
    let s = 0;
    const row = i * nl;
    for (let j = 0; j < nl; j++) s += sd.Q[row + j]! * a[j]!;
    chi += a[i]! * (s - 2 * sd.q[i]!);
  }
  return Math.max(chi, 0);
}

function madClip(values: number[], kappa: number): { med: number; sig: number } {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return { med: NaN, sig: NaN };
  const med = s[s.length >> 1]!;
  const dev = s.map((v) => Math.abs(v - med)).sort((a, b) => a - b);
  const sig = 1.4826 * dev[dev.length >> 1]!;
  void kappa;
  return { med, sig };
}

/** Minimum number of stamps for a given spatial order (the fit falls back to lower orders). */
export function minStampsFor(order: number): number {
  return order === 0 ? 3 : 4 * nPoly(order);
}

/**
 * Fit the spatially varying AL kernel. `centres` are candidate stamp centres (0-based integer
 * pixels, e.g. isolated stars from a detection). Throws TesseraError naming how many usable
 * stamps were found and how many are needed when there are too few.
 */
export function fitAlKernel(img: FitImages, basis: KernelBasis, centres: readonly { x: number; y: number }[], opts: AlFitOptions = {}): AlSolution {
  const hw = basis.spec.hw;
  const rs = opts.stampHalf ?? Math.max(8, Math.round(1.5 * hw));
  const kappa = opts.clipSigma ?? 3;
  let kernelOrder = opts.kernelOrder ?? 2;
  let bgOrder = opts.bgOrder ?? 1;
  let ksumOrder = Math.min(opts.ksumOrder ?? 0, kernelOrder);
  const notes: string[] = [];
  const nb = basis.n, nl = nb + 1;
  const stamps: AlStamp[] = [];
  const data: (StampData | null)[] = [];
  const side = 2 * rs + 1, np = side * side;
  const { width, height, target, targetVar, refVar, bad } = img;
  // kernel-sum estimate for the noise weights (noise of the convolved image scales with ΣK²≈ksum²):
  // median over candidates of the background-subtracted stamp flux ratio target/ref
  const ratios: number[] = [];
  for (const c of centres) {
    const xc = Math.round(c.x), yc = Math.round(c.y);
    if (xc - rs - 2 < 0 || yc - rs - 2 < 0 || xc + rs + 2 >= width || yc + rs + 2 >= height) continue;
    let bt = 0, br = 0, nbk = 0, st = 0, sr = 0;
    for (let i = -rs; i <= rs; i++) for (const [x, y] of [[xc + i, yc - rs], [xc + i, yc + rs], [xc - rs, yc + i], [xc + rs, yc + i]] as const) {
      const k = y * width + x; if (!bad[k]) { bt += target[k]!; br += img.ref[k]!; nbk++; }
    }
    if (!nbk) continue;
    bt /= nbk; br /= nbk;
    const r2 = Math.floor(rs / 2);
    for (let y = yc - r2; y <= yc + r2; y++) for (let x = xc - r2; x <= xc + r2; x++) { const k = y * width + x; if (!bad[k]) { st += target[k]! - bt; sr += img.ref[k]! - br; } }
    if (sr > 0 && st > 0) ratios.push(st / sr);
  }
  ratios.sort((p, q) => p - q);
  const ks2 = ratios.length ? ratios[ratios.length >> 1]! ** 2 : 1;
  const scratch = new Scratch();
  for (const c of centres) {
    const xc = Math.round(c.x), yc = Math.round(c.y);
    const C = stampBasis(img, basis, xc, yc, rs, scratch);
    const st: AlStamp = { x: xc, y: yc, ksum: NaN, chi2: NaN, chi2Global: NaN, rejected: '' };
    stamps.push(st);
    if (!C) { st.rejected = 'edge or bad pixels'; data.push(null); continue; }
    const t = new Float64Array(np), w = new Float64Array(np);
    let okPix = 0;
    for (let j = 0; j < side; j++) for (let i = 0; i < side; i++) {
      const idx = (yc - rs + j) * width + (xc - rs + i);
      const p = j * side + i;
      const v = target[idx]!;
      if (bad[idx] || v !== v) { t[p] = 0; w[p] = 0; continue; }
      t[p] = v;
      const vv = targetVar[idx]! + ks2 * refVar[idx]!;
      w[p] = vv > 0 && vv < Infinity ? 1 / vv : 0;
      if (w[p]! > 0) okPix++;
    }
    let coreBad = false;
    const rc = rs >> 1;
    for (let y = yc - rc; y <= yc + rc && !coreBad; y++) for (let x = xc - rc; x <= xc + rc; x++) if (bad[y * width + x]) { coreBad = true; break; }
    if (okPix < np * 0.9 || coreBad) { st.rejected = 'bad pixels in target'; data.push(null); continue; }
    const sd: StampData = { x: xc, y: yc, C, t, w, Q: new Float64Array(0), q: new Float64Array(0), tt: 0, np };
    localNormal(sd, nb, scratch);
    data.push(sd);
  }
  // per-stamp solutions
  const fitLocal = () => {
    for (let s = 0; s < stamps.length; s++) {
      const sd = data[s];
      if (!sd) continue;
      const a = solveSpd(sd.Q, sd.q, nl);
      if (!a) { stamps[s]!.rejected = 'singular stamp fit'; data[s] = null; continue; }
      stamps[s]!.ksum = a[0]!;
      stamps[s]!.chi2 = stampChi2(sd, a, nb) / (np - nl);
    }
  };
  fitLocal();
  // clip on kernel sum, then on χ²
  const live = () => stamps.map((_, i) => i).filter((i) => data[i] && !stamps[i]!.rejected);
  {
    const idx = live();
    const { med, sig } = madClip(idx.map((i) => stamps[i]!.ksum), kappa);
    const tol = Math.max(kappa * sig, 1e-3 * Math.abs(med));
    for (const i of idx) if (!(Math.abs(stamps[i]!.ksum - med) <= tol)) stamps[i]!.rejected = 'kernel sum outlier';
    const idx2 = live();
    const c = madClip(idx2.map((i) => stamps[i]!.chi2), kappa);
    for (const i of idx2) if (!(stamps[i]!.chi2 <= c.med + kappa * Math.max(c.sig, 0.05 * c.med))) stamps[i]!.rejected = 'chi2 outlier';
  }
  const found = live().length;
  while (found < minStampsFor(kernelOrder) && kernelOrder > 0) kernelOrder--;
  while (found < minStampsFor(bgOrder) && bgOrder > 0) bgOrder--;
  ksumOrder = Math.min(ksumOrder, kernelOrder);
  if (kernelOrder < (opts.kernelOrder ?? 2)) notes.push(`kernel spatial order lowered to ${kernelOrder} (${found} stamps)`);
  if (bgOrder < (opts.bgOrder ?? 1)) notes.push(`background order lowered to ${bgOrder} (${found} stamps)`);
  if (found < minStampsFor(0)) {
    const total = stamps.length;
    throw new TesseraError(`too few kernel stamps: ${found} usable of ${total} candidate star${total === 1 ? '' : 's'} (need at least ${minStampsFor(0)} isolated, unsaturated stars with clean pixels; ${minStampsFor(opts.kernelOrder ?? 2)} for kernel order ${opts.kernelOrder ?? 2})`);
  }
  const cx = (width - 1) / 2, cy = (height - 1) / 2, sx = Math.max(cx, 1), sy = Math.max(cy, 1);
  const nks = nPoly(ksumOrder), nk = nPoly(kernelOrder), nbg = nPoly(bgOrder);
  const nG = nks + (nb - 1) * nk + nbg;
  const P = new Float64Array(nPoly(Math.max(kernelOrder, bgOrder)));
  // local index → (offset, count) of its global block
  const gOff = (j: number) => (j === 0 ? 0 : j < nb ? nks + (j - 1) * nk : nks + (nb - 1) * nk);
  const gCnt = (j: number) => (j === 0 ? nks : j < nb ? nk : nbg);
  let theta: Float64Array = new Float64Array(nG);
  const localCoef = (sd: StampData, th: Float64Array, out: Float64Array) => {
    polyTerms((sd.x - cx) / sx, (sd.y - cy) / sy, Math.max(kernelOrder, bgOrder), P);
    for (let j = 0; j < nl; j++) {
      const o = gOff(j), c = gCnt(j);
      let s = 0;
      for (let m = 0; m < c; m++) s += th[o + m]! * P[m]!;
      out[j] = s;
    }
    return out;
  };
  const iters = opts.iterations ?? 3;
  const a = new Float64Array(nl);
  let chi2Dof = NaN;
  const nP = nPoly(Math.max(kernelOrder, bgOrder));
  const PP = new Float64Array(nP * nP);
  /** Add (sign = 1) or remove (−1) a stamp's contribution to the global normal equations. */
  const accumulate = (A: Float64Array, b: Float64Array, sd: StampData, sign: number) => {
    polyTerms((sd.x - cx) / sx, (sd.y - cy) / sy, Math.max(kernelOrder, bgOrder), P);
    for (let m = 0; m < nP; m++) for (let n = 0; n < nP; n++) PP[m * nP + n] = sign * P[m]! * P[n]!;
    for (let i = 0; i < nl; i++) {
      const oi = gOff(i), ci = gCnt(i);
      const qi = sign * sd.q[i]!;
      for (let m = 0; m < ci; m++) b[oi + m]! += qi * P[m]!;
      for (let j = 0; j < nl; j++) {
        const oj = gOff(j), cj = gCnt(j);
        const Qij = sd.Q[i * nl + j]!;
        if (Qij === 0) continue;
        for (let m = 0; m < ci; m++) {
          const row = (oi + m) * nG + oj, pr = m * nP;
          for (let n = 0; n < cj; n++) A[row + n]! += Qij * PP[pr + n]!;
        }
      }
    }
  };
  const A = new Float64Array(nG * nG), b = new Float64Array(nG);
  for (const s of live()) accumulate(A, b, data[s]!, 1);
  for (let it = 0; it < iters; it++) {
    const used = live();
    const sol = solveSpd(A, b, nG);
    if (!sol) throw new TesseraError(`kernel solution is singular with ${used.length} stamps (kernel order ${kernelOrder}, background order ${bgOrder})`);
    theta = sol;
    // global χ² per stamp, clip
    const chis: number[] = [];
    for (const s of used) {
      const sd = data[s]!;
      localCoef(sd, theta, a);
      stamps[s]!.chi2Global = stampChi2(sd, a, nb) / (np - nl);
      chis.push(stamps[s]!.chi2Global);
    }
    chi2Dof = chis.reduce((x, y) => x + y, 0) / chis.length;
    if (it === iters - 1) break;
    const c = madClip(chis, kappa);
    let nrej = 0;
    const rej: number[] = [];
    for (const s of used) if (!(stamps[s]!.chi2Global <= c.med + kappa * Math.max(c.sig, 0.05 * c.med))) rej.push(s);
    nrej = rej.length;
    if (!nrej || used.length - nrej < minStampsFor(kernelOrder)) break;
    for (const s of rej) { stamps[s]!.rejected = 'global chi2 outlier'; accumulate(A, b, data[s]!, -1); }
  }
  const usedIdx = live();
  // kernel-sum scatter over stamps, for KSUMERR
  const ks = usedIdx.map((i) => stamps[i]!.ksum);
  const mean = ks.reduce((x, y) => x + y, 0) / ks.length;
  let sdv = Math.sqrt(ks.reduce((x, y) => x + (y - mean) ** 2, 0) / Math.max(1, ks.length - 1));
  let ksumErr = sdv / Math.sqrt(ks.length);
  // Photometric kernel sum. The least-squares kernel trades its sum against core residuals it cannot
  // fit (e.g. a marginally sampled template), biasing ΣK by a few 0.1%. The flux ratio is measured
  // instead in large apertures (radius rs − 4, background from the stamp rim) between the target and
  // the reference convolved with the NORMALISED fitted kernel — PSF-matched, so the ratio does not
  // depend on the kernel's shape errors — then the kernel shape is refitted with ΣK fixed to it.
  if ((opts.photometricKsum ?? true) && ksumOrder === 0 && usedIdx.length >= 3) {
    const ratios: { r: number; w: number }[] = [];
    const rAp = Math.max(3, rs - 4), rIn = rs - 2;
    const mk = new Float64Array(np);
    const ringT = new Float64Array(np), ringM = new Float64Array(np);
    for (const s of usedIdx) {
      const sd = data[s]!;
      localCoef(sd, theta, a);
      const a0 = a[0]!;
      if (!(a0 > 0)) continue;
      mk.fill(0);
      {
        // four basis images per pass over mk
        const C = sd.C;
        let k = 0;
        for (; k + 3 < nb; k += 4) {
          const c0 = a[k]! / a0, c1 = a[k + 1]! / a0, c2 = a[k + 2]! / a0, c3 = a[k + 3]! / a0;
          const o0 = k * np, o1 = o0 + np, o2 = o1 + np, o3 = o2 + np;
          for (let q = 0; q < np; q++) mk[q]! += c0 * C[o0 + q]! + c1 * C[o1 + q]! + c2 * C[o2 + q]! + c3 * C[o3 + q]!;
        }
        for (; k < nb; k++) { const c = a[k]! / a0, o = k * np; for (let q = 0; q < np; q++) mk[q]! += c * C[o + q]!; }
      }
      let nr = 0;
      let st = 0, sm = 0, nAp = 0, vAp = 0, ok = true;
      for (let j = 0; j < side && ok; j++) for (let i = 0; i < side; i++) {
        const q = j * side + i, r2 = (i - rs) ** 2 + (j - rs) ** 2;
        if (sd.w[q] === 0) { if (r2 <= rAp * rAp) { ok = false; break; } continue; }
        if (r2 >= rIn * rIn) { ringT[nr] = sd.t[q]!; ringM[nr++] = mk[q]!; }
        else if (r2 <= rAp * rAp) { st += sd.t[q]!; sm += mk[q]!; nAp++; vAp += 1 / sd.w[q]!; }
      }
      if (!ok || nr < 20) continue;
      const ft = st - nAp * quickselect(ringT, nr >> 1, nr), fm = sm - nAp * quickselect(ringM, nr >> 1, nr);
      if (!(fm > 0)) continue;
      ratios.push({ r: ft / fm, w: (fm * fm) / vAp });
    }
    if (ratios.length >= 3) {
      // clip ratio outliers (variables, blends) at 3σ (MAD), then a weighted mean
      const c = madClip(ratios.map((x) => x.r), 3);
      const keep = ratios.filter((x) => Math.abs(x.r - c.med) <= 3 * Math.max(c.sig, 1e-6 * Math.abs(c.med)));
      let sw = 0, swr = 0;
      for (const x of keep) { sw += x.w; swr += x.w * x.r; }
      const kPhot = swr / sw;
      let chi = 0;
      for (const x of keep) chi += x.w * (x.r - kPhot) ** 2;
      // error from the weights, inflated by the scatter when it exceeds the noise
      ksumErr = Math.sqrt(1 / sw) * Math.max(1, Math.sqrt(chi / Math.max(1, keep.length - 1)));
      sdv = NaN;
      // refit the shape with ΣK fixed: move column 0 to the right-hand side
      const n1 = nG - 1;
      const A1 = new Float64Array(n1 * n1), b1 = new Float64Array(n1);
      for (let i = 0; i < n1; i++) {
        b1[i] = b[i + 1]! - A[(i + 1) * nG]! * kPhot;
        for (let j = 0; j < n1; j++) A1[i * n1 + j] = A[(i + 1) * nG + j + 1]!;
      }
      const sol1 = solveSpd(A1, b1, n1);
      if (sol1) {
        theta = new Float64Array(nG);
        theta[0] = kPhot; theta.set(sol1, 1);
        const chis: number[] = [];
        for (const s of usedIdx) { const sd = data[s]!; localCoef(sd, theta, a); stamps[s]!.chi2Global = stampChi2(sd, a, nb) / (np - nl); chis.push(stamps[s]!.chi2Global); }
        chi2Dof = chis.reduce((x, y) => x + y, 0) / chis.length;
        notes.push(`kernel sum from PSF-matched aperture photometry of ${keep.length} stamps (least-squares ${mean.toFixed(5)})`);
      }
    }
  }
  void sdv;
  const coef: Float64Array[] = [];
  for (let j = 0; j < nb; j++) coef.push(theta.slice(gOff(j), gOff(j) + gCnt(j)));
  return {
    basis, kernelOrder, bgOrder, ksumOrder, width, height, cx, cy, sx, sy,
    coef, bgCoef: theta.slice(gOff(nb), gOff(nb) + nbg), stamps, nUsed: usedIdx.length,
    ksum: coef[0]![0]!, ksumErr, chi2Dof, notes,
  };
}

/** Local kernel coefficients (per basis function) at 0-based position (x, y). */
export function coefAt(sol: AlSolution, x: number, y: number, out: Float64Array = new Float64Array(sol.basis.n)): Float64Array {
  const P = polyTerms((x - sol.cx) / sol.sx, (y - sol.cy) / sol.sy, sol.kernelOrder, new Float64Array(nPoly(sol.kernelOrder)));
  for (let k = 0; k < sol.basis.n; k++) {
    const c = sol.coef[k]!;
    let s = 0;
    for (let m = 0; m < c.length; m++) s += c[m]! * P[m]!;
    out[k] = s;
  }
  return out;
}

/** Differential background at (x, y). */
export function backgroundAt(sol: AlSolution, x: number, y: number): number {
  const P = polyTerms((x - sol.cx) / sol.sx, (y - sol.cy) / sol.sy, sol.bgOrder, new Float64Array(nPoly(sol.bgOrder)));
  let s = 0;
  for (let m = 0; m < sol.bgCoef.length; m++) s += sol.bgCoef[m]! * P[m]!;
  return s;
}
