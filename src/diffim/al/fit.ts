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
function stampBasis(img: FitImages, basis: KernelBasis, xc: number, yc: number, rs: number): Float64Array | null {
  const { width, height, ref, bad } = img;
  const hw = basis.spec.hw, size = basis.size;
  const ext = rs + hw;
  if (xc - ext < 0 || yc - ext < 0 || xc + ext >= width || yc + ext >= height) return null;
  for (let y = yc - ext; y <= yc + ext; y++) for (let x = xc - ext; x <= xc + ext; x++) if (bad[y * width + x]) return null;
  const side = 2 * rs + 1, tall = 2 * ext + 1, np = side * side;
  const nh = basis.hFactors.length;
  // horizontal passes: H_h(x, yy) = Σ_u f(u) R(x − u, yy), x in the fit columns, yy over the extended rows
  const H = new Float64Array(nh * side * tall);
  for (let h = 0; h < nh; h++) {
    const f = basis.hFactors[h]!;
    const base = h * side * tall;
    for (let j = 0; j < tall; j++) {
      const row = (yc - ext + j) * width;
      for (let i = 0; i < side; i++) {
        const x = xc - rs + i;
        let s = 0;
        for (let u = 0; u < size; u++) s += f[u]! * ref[row + x - (u - hw)]!;
        H[base + j * side + i] = s;
      }
    }
  }
  const nb = basis.n;
  const C = new Float64Array(nb * np);
  for (let k = 0; k < nb; k++) {
    const fy = basis.fy[k]!;
    const hb = basis.hIndex[k]! * side * tall;
    const ob = k * np;
    for (let j = 0; j < side; j++) {
      // output row y = yc − rs + j; H row index of (y − v) is (j + hw − v) for v ∈ [−hw, hw] → vi = v + hw
      for (let i = 0; i < side; i++) {
        let s = 0;
        for (let vi = 0; vi < size; vi++) s += fy[vi]! * H[hb + (j + 2 * hw - vi) * side + i]!;
        C[ob + j * side + i] = s;
      }
    }
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

function localNormal(sd: StampData, nb: number): void {
  const nl = nb + 1, np = sd.np;
  const Q = new Float64Array(nl * nl), q = new Float64Array(nl);
  const { C, t, w } = sd;
  for (let i = 0; i < nl; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      if (i < nb && j < nb) { const bi = i * np, bj = j * np; for (let p = 0; p < np; p++) s += C[bi + p]! * C[bj + p]! * w[p]!; }
      else if (i === nb && j < nb) { const bj = j * np; for (let p = 0; p < np; p++) s += C[bj + p]! * w[p]!; }
      else { for (let p = 0; p < np; p++) s += w[p]!; }
      Q[i * nl + j] = s; Q[j * nl + i] = s;
    }
    let s = 0;
    if (i < nb) { const bi = i * np; for (let p = 0; p < np; p++) s += C[bi + p]! * t[p]! * w[p]!; }
    else for (let p = 0; p < np; p++) s += t[p]! * w[p]!;
    q[i] = s;
  }
  sd.Q = Q; sd.q = q;
}

/** χ² of a stamp for local coefficients a (nb kernel + 1 background); dof = np − nParams. */
function stampChi2(sd: StampData, a: Float64Array, nb: number): number {
  const np = sd.np;
  let chi = 0;
  for (let p = 0; p < np; p++) {
    let m = a[nb]!;
    for (let k = 0; k < nb; k++) m += a[k]! * sd.C[k * np + p]!;
    const r = sd.t[p]! - m;
    chi += r * r * sd.w[p]!;
  }
  return chi;
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
  return Math.max(3, 2 * nPoly(order));
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
  // rough kernel-sum estimate for the noise weights: ratio of stamp sums (refined after the first pass)
  let ks2 = 1;
  for (const c of centres) {
    const xc = Math.round(c.x), yc = Math.round(c.y);
    const C = stampBasis(img, basis, xc, yc, rs);
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
    if (okPix < np * 0.9) { st.rejected = 'bad pixels in target'; data.push(null); continue; }
    const sd: StampData = { x: xc, y: yc, C, t, w, Q: new Float64Array(0), q: new Float64Array(0), np };
    localNormal(sd, nb);
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
  // re-weight with the median kernel sum (noise of the convolved image scales with ksum²)
  {
    const ks = madClip(stamps.filter((s, i) => data[i]).map((s) => s.ksum), kappa).med;
    if (ks > 0 && Math.abs(ks * ks - 1) > 0.05) {
      ks2 = ks * ks;
      for (let s = 0; s < stamps.length; s++) {
        const sd = data[s];
        if (!sd) continue;
        for (let j = 0; j < side; j++) for (let i = 0; i < side; i++) {
          const p = j * side + i;
          if (sd.w[p] === 0) continue;
          const idx = (sd.y - rs + j) * width + (sd.x - rs + i);
          const vv = targetVar[idx]! + ks2 * refVar[idx]!;
          sd.w[p] = vv > 0 && vv < Infinity ? 1 / vv : 0;
        }
        localNormal(sd, nb);
      }
      fitLocal();
    }
  }
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
  for (let it = 0; it < iters; it++) {
    const A = new Float64Array(nG * nG), b = new Float64Array(nG);
    const used = live();
    for (const s of used) {
      const sd = data[s]!;
      polyTerms((sd.x - cx) / sx, (sd.y - cy) / sy, Math.max(kernelOrder, bgOrder), P);
      for (let i = 0; i < nl; i++) {
        const oi = gOff(i), ci = gCnt(i);
        const qi = sd.q[i]!;
        for (let m = 0; m < ci; m++) b[oi + m]! += qi * P[m]!;
        for (let j = 0; j < nl; j++) {
          const oj = gOff(j), cj = gCnt(j);
          const Qij = sd.Q[i * nl + j]!;
          if (Qij === 0) continue;
          for (let m = 0; m < ci; m++) {
            const row = (oi + m) * nG + oj;
            const f = Qij * P[m]!;
            for (let n = 0; n < cj; n++) A[row + n]! += f * P[n]!;
          }
        }
      }
    }
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
    for (const s of used) if (!(stamps[s]!.chi2Global <= c.med + kappa * Math.max(c.sig, 0.05 * c.med))) { stamps[s]!.rejected = 'global chi2 outlier'; nrej++; }
    if (!nrej || live().length < minStampsFor(kernelOrder)) {
      if (nrej) for (const s of used) if (stamps[s]!.rejected === 'global chi2 outlier') stamps[s]!.rejected = '';
      break;
    }
  }
  const usedIdx = live();
  // kernel-sum scatter over stamps, for KSUMERR
  const ks = usedIdx.map((i) => stamps[i]!.ksum);
  const mean = ks.reduce((x, y) => x + y, 0) / ks.length;
  const sdv = Math.sqrt(ks.reduce((x, y) => x + (y - mean) ** 2, 0) / Math.max(1, ks.length - 1));
  const coef: Float64Array[] = [];
  for (let j = 0; j < nb; j++) coef.push(theta.slice(gOff(j), gOff(j) + gCnt(j)));
  return {
    basis, kernelOrder, bgOrder, ksumOrder, width, height, cx, cy, sx, sy,
    coef, bgCoef: theta.slice(gOff(nb), gOff(nb) + nbg), stamps, nUsed: usedIdx.length,
    ksum: coef[0]![0]!, ksumErr: sdv / Math.sqrt(ks.length), chi2Dof, notes,
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
