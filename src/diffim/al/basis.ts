/**
 * Alard–Lupton kernel basis: Gaussians × polynomials, B(u, v) = exp(−(u²+v²)/2σ²)·u^p·v^q for
 * p + q ≤ degree, on a (2·hw+1)² grid of kernel offsets (u, v) ∈ [−hw, hw]².
 *
 * Every basis function is separable, B = g_p(u)·g_q(v), which is what makes the per-stamp basis
 * images cheap (one horizontal pass per (σ, p), one vertical pass per (σ, p, q)).
 *
 * Normalisation (as in Alard 2000): basis 0 (first Gaussian, p = q = 0) sums to 1; every other
 * basis function B_k is replaced by B'_k = B_k − s_k·B_0 with s_k = Σ B_k, so it sums to 0.
 * The kernel sum Σ K = a_0 is then carried by the coefficient of basis 0 alone.
 *
 * Kernel convention: the model of the target image is M(x, y) = Σ_{u,v} K(u, v)·R(x − u, y − v)
 * (a true convolution R ⊗ K), with R the image being convolved.
 */

export interface BasisSpec {
  /** Gaussian sigmas in pixels. */
  sigmas: number[];
  /** Polynomial degree for each Gaussian. */
  degrees: number[];
  /** Kernel half-width: the kernel is (2·hw+1)². */
  hw: number;
}

export interface KernelBasis {
  spec: BasisSpec;
  size: number;
  /** Number of basis functions. */
  n: number;
  /** 1-D factors: fx[k] over u (size values), fy[k] over v, so B_k(u, v) = fx[k][u]·fy[k][v]. */
  fx: Float64Array[];
  fy: Float64Array[];
  /** s_k = Σ B_k (before the zero-sum transform); s_0 = 1. */
  sums: Float64Array;
  /** Which (σ index, p) horizontal factor each basis uses (for sharing horizontal passes). */
  hIndex: Int32Array;
  /** Distinct horizontal factors. */
  hFactors: Float64Array[];
}

/**
 * Default basis widths, HOTPANTS-README-like: σ_match = √(σ_sharp² − σ_blurry²) spread as
 * 0.5, 1, 2 × σ_match (floored at 0.4 px), degrees 6, 4, 2; half-width ≈ 3 × the widest σ
 * (at least 2.5 × the blurrier image's FWHM), clipped to [5, 20].
 */
export function defaultBasis(fwhmSharpPix: number, fwhmBlurryPix: number, opts: { degrees?: number[]; hw?: number } = {}): BasisSpec {
  const f = 2 * Math.sqrt(2 * Math.log(2));
  const ss = fwhmSharpPix / f, sb = fwhmBlurryPix / f;
  const sm = Math.sqrt(Math.max(sb * sb - ss * ss, 0.16));
  const sigmas = [Math.max(0.4, 0.5 * sm), Math.max(0.7, sm), Math.max(1.2, 2 * sm)];
  const degrees = opts.degrees ?? [6, 4, 2];
  const hw = opts.hw ?? Math.min(20, Math.max(5, Math.ceil(Math.max(3 * sigmas[2]!, 1.25 * fwhmBlurryPix))));
  return { sigmas: sigmas.slice(0, degrees.length), degrees, hw };
}

export function makeBasis(spec: BasisSpec): KernelBasis {
  const { sigmas, degrees, hw } = spec;
  const size = 2 * hw + 1;
  const fx: Float64Array[] = [], fy: Float64Array[] = [];
  const hFactors: Float64Array[] = [];
  const hIdx: number[] = [];
  const sums: number[] = [];
  for (let g = 0; g < sigmas.length; g++) {
    const s = sigmas[g]!, deg = degrees[g]!;
    const gauss = new Float64Array(size);
    for (let i = 0; i < size; i++) { const u = i - hw; gauss[i] = Math.exp(-(u * u) / (2 * s * s)); }
    const pow: Float64Array[] = [];
    for (let p = 0; p <= deg; p++) {
      const a = new Float64Array(size);
      // polynomial in u/σ keeps the factors of similar magnitude (better conditioned)
      for (let i = 0; i < size; i++) a[i] = gauss[i]! * ((i - hw) / s) ** p;
      pow.push(a);
    }
    const hBase = hFactors.length;
    for (let p = 0; p <= deg; p++) hFactors.push(pow[p]!);
    for (let p = 0; p <= deg; p++) {
      for (let q = 0; q <= deg - p; q++) {
        fx.push(pow[p]!);
        fy.push(pow[q]!);
        hIdx.push(hBase + p);
        let sx = 0, sy = 0;
        for (let i = 0; i < size; i++) { sx += pow[p]![i]!; sy += pow[q]![i]!; }
        sums.push(sx * sy);
      }
    }
  }
  // normalise basis 0 to unit sum (scale its factors), and express other sums relative to it
  const s0 = sums[0]!;
  const r = Math.sqrt(s0);
  const fx0 = Float64Array.from(fx[0]!, (v) => v / r), fy0 = Float64Array.from(fy[0]!, (v) => v / r);
  // basis 0 shares arrays with hFactors[0]: give it its own scaled copies
  fx[0] = fx0; fy[0] = fy0;
  hFactors[0] = fx0;
  // every basis with σ index 0 and p = 0 used hFactors[0] horizontally: their fx must be fx0 too,
  // so fold the scale into fy for those (fx·fy unchanged).
  for (let k = 1; k < fx.length; k++) {
    if (hIdx[k] === 0) { fy[k] = Float64Array.from(fy[k]!, (v) => v * r); fx[k] = fx0; }
  }
  sums[0] = 1;
  return { spec, size, n: fx.length, fx, fy, sums: Float64Array.from(sums), hIndex: Int32Array.from(hIdx), hFactors };
}

/**
 * Kernel image (size × size, row-major, index (v+hw)·size + (u+hw)) for coefficients `coef`
 * of the zero-sum-transformed basis: K = a_0·B_0 + Σ_{k>0} a_k·(B_k − s_k·B_0).
 */
export function kernelImage(basis: KernelBasis, coef: ArrayLike<number>, out: Float64Array = new Float64Array(basis.size * basis.size)): Float64Array {
  const { size, n, fx, fy, sums } = basis;
  out.fill(0);
  let c0 = coef[0]!;
  for (let k = 1; k < n; k++) c0 -= coef[k]! * sums[k]!;
  for (let k = 0; k < n; k++) {
    const a = k === 0 ? c0 : coef[k]!;
    if (a === 0) continue;
    const X = fx[k]!, Y = fy[k]!;
    for (let v = 0; v < size; v++) {
      const av = a * Y[v]!;
      const row = v * size;
      for (let u = 0; u < size; u++) out[row + u]! += av * X[u]!;
    }
  }
  return out;
}

/** Number of terms of a 2-D polynomial of total degree d. */
export function nPoly(d: number): number {
  return ((d + 1) * (d + 2)) / 2;
}

/** Terms X^i·Y^j, i + j ≤ d, ordered by total degree then by decreasing power of X. */
export function polyTerms(X: number, Y: number, d: number, out: Float64Array): Float64Array {
  let k = 0;
  for (let t = 0; t <= d; t++) {
    for (let j = 0; j <= t; j++) {
      out[k++] = X ** (t - j) * Y ** j;
    }
  }
  return out;
}
