/** Synthetic star fields with a known, spatially varying Moffat PSF (test data for the PSF). */

/** Deterministic PRNG (mulberry32) and Gaussian deviates. */
export function rng(seed: number): { uniform(): number; gauss(): number } {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare = NaN;
  const gauss = () => {
    if (!Number.isNaN(spare)) { const s = spare; spare = NaN; return s; }
    let u = 0, v = 0, s = 0;
    do { u = 2 * uniform() - 1; v = 2 * uniform() - 1; s = u * u + v * v; } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * Math.log(s)) / s);
    spare = v * m;
    return u * m;
  };
  return { uniform, gauss };
}

export interface MoffatField {
  /** FWHM (pixels) of the Moffat at (x, y), 0-based. */
  fwhm(x: number, y: number): number;
  /** Ellipticity components (e1, e2) with e = (a²−b²)/(a²+b²) convention-free small values. */
  e(x: number, y: number): [number, number];
  beta: number;
}

export const DEFAULT_FIELD = (w: number, h: number, base = 4.0): MoffatField => ({
  fwhm: (x, y) => base * (1 + 0.08 * (x / w - 0.5) - 0.06 * (y / h - 0.5) + 0.05 * ((x / w - 0.5) ** 2)),
  e: (x, y) => [0.04 * (x / w - 0.5), 0.03 * (y / h - 0.5) + 0.02],
  beta: 3.0,
});

/**
 * Add a pixel-integrated (5×5 sub-sampled) elliptical Moffat of total flux `flux` centred at
 * (x, y) (0-based) to img, within radius `rad`. Returns the flux that fell inside the box of
 * half-width `boxR` around round(x), round(y) (the normalisation a stamp-normalised PSF sees).
 */
export function addMoffat(img: Float32Array, w: number, h: number, x: number, y: number, flux: number,
  field: MoffatField, rad = 20, boxR = 12): number {
  const fwhm = field.fwhm(x, y);
  const [e1, e2] = field.e(x, y);
  const beta = field.beta;
  const alpha = fwhm / (2 * Math.sqrt(2 ** (1 / beta) - 1));
  // Shape matrix: q = [dx dy] S [dx dy]ᵀ / α², with S = I + shear(e1, e2) (det-normalised)
  const s11 = 1 - e1, s22 = 1 + e1, s12 = -e2;
  const det = Math.sqrt(s11 * s22 - s12 * s12);
  const a11 = s11 / det, a22 = s22 / det, a12 = s12 / det;
  const norm = (beta - 1) / (Math.PI * alpha * alpha);
  const sub = 5;
  const cx = Math.round(x), cy = Math.round(y);
  let inBox = 0;
  for (let py = cy - rad; py <= cy + rad; py++) {
    if (py < 0 || py >= h) continue;
    for (let px = cx - rad; px <= cx + rad; px++) {
      if (px < 0 || px >= w) continue;
      let s = 0;
      for (let j = 0; j < sub; j++) {
        const dy = py - y + (j + 0.5) / sub - 0.5;
        for (let i = 0; i < sub; i++) {
          const dx = px - x + (i + 0.5) / sub - 0.5;
          const q = (a11 * dx * dx + 2 * a12 * dx * dy + a22 * dy * dy) / (alpha * alpha);
          s += Math.pow(1 + q, -beta);
        }
      }
      const v = (flux * norm * s) / (sub * sub);
      img[py * w + px]! += v;
      if (Math.abs(px - cx) <= boxR && Math.abs(py - cy) <= boxR) inBox += v;
    }
  }
  return inBox;
}

export interface StarField {
  img: Float32Array;
  w: number;
  h: number;
  sigma: number;
  x: Float64Array;
  y: Float64Array;
  flux: Float64Array;
  fluxInBox: Float64Array;
}

export function makeStarField(opts: { w: number; h: number; n: number; seed: number; sigma?: number; field?: MoffatField; fluxMin?: number; fluxMax?: number; boxR?: number; margin?: number }): StarField {
  const { w, h, n } = opts;
  const r = rng(opts.seed);
  const field = opts.field ?? DEFAULT_FIELD(w, h);
  const sigma = opts.sigma ?? 10;
  const img = new Float32Array(w * h);
  const x = new Float64Array(n), y = new Float64Array(n), flux = new Float64Array(n), fib = new Float64Array(n);
  const fmin = opts.fluxMin ?? 2e4, fmax = opts.fluxMax ?? 3e5;
  const margin = opts.margin ?? 20;
  for (let i = 0; i < n; i++) {
    x[i] = margin + r.uniform() * (w - 2 * margin);
    y[i] = margin + r.uniform() * (h - 2 * margin);
    flux[i] = fmin * Math.pow(fmax / fmin, r.uniform());
    fib[i] = addMoffat(img, w, h, x[i]!, y[i]!, flux[i]!, field, 20, opts.boxR ?? 12);
  }
  for (let p = 0; p < w * h; p++) img[p]! += sigma * r.gauss() + Math.sqrt(Math.max(0, img[p]!) / 4) * r.gauss();
  return { img, w, h, sigma, x, y, flux, fluxInBox: fib };
}
