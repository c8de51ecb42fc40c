/**
 * Gaia → camera-band colour transformations (the ONE table in Tessera; the simulator imports it).
 *
 * For DECam g, r, i, z these are the Legacy Surveys' polynomials in Gaia BP−RP, as legacypipe
 * applies them (legacypipe `py/legacypipe/gaiacat.py`, function `gaia_to_decam`, coefficients
 * "from Rongpu, 2020-04-12"):
 *
 *     m_band = G + Σ_k c_k · (BP − RP)^k
 *
 * with BP−RP clipped to [−0.6, 4.1] (the validity range of the fit) and stars without a BP−RP
 * colour (missing, non-finite or zero BP/RP) given the average colour 1.4.
 *
 * `mode: 'G'` is the BLISS-like alternative: the reference magnitude is Gaia G in every band,
 * with no colour term (BLISS-expCalib_Y3apass.py).
 */
import { TesseraError } from '../util/errors.js';

export interface ColorTerm {
  /** Gaia base magnitude the polynomial is added to. */
  base: 'G';
  /** Polynomial coefficients c_0, c_1, ... in (BP − RP). */
  coeffs: readonly number[];
}

/** Average BP−RP used for stars with no colour (legacypipe's `average_color`). */
export const GAIA_AVERAGE_COLOR = 1.4;
/** Range BP−RP is clipped to before evaluating the polynomials (legacypipe's `color_clip`). */
export const GAIA_COLOR_CLIP: readonly [number, number] = [-0.6, 4.1];

/** Gaia → DECam (Legacy Surveys DR9/DR10) colour terms, keyed by band name. */
export const GAIA_TO_DECAM: Readonly<Record<string, ColorTerm>> = {
  g: { base: 'G', coeffs: [-0.1178631039, 0.3650113495, 0.5608615360, -0.2850687702,
    -1.0243473939, 1.4378375491, 0.0679401731, -1.1713172509,
    0.9107811975, -0.3374324004, 0.0683946390, -0.0073089582, 0.0003230170] },
  r: { base: 'G', coeffs: [0.1139078673, -0.2868955307, 0.0013196434, 0.1029151074,
    0.1196710702, -0.3729031390, 0.1859874242, 0.1370162451,
    -0.1808580848, 0.0803219195, -0.0180218196, 0.0020584707, -0.0000953486] },
  i: { base: 'G', coeffs: [0.3396481660, -0.6491867119, -0.3330769819, 0.4381097294,
    0.5752125977, -1.4746570523, 1.2979140762, -0.6371018151,
    0.1948940062, -0.0382055596, 0.0046907449, -0.0003296841, 0.0000101480] },
  z: { base: 'G', coeffs: [0.4811198057, -0.9990015041, 0.1403990019, 0.2150988888,
    -0.2917655866, 0.1326831887, -0.0259205004, 0.0018548776] },
};

export type ColorMode = 'colorterm' | 'G';

/** Bands with a Gaia colour transformation. */
export function colorTermBands(): string[] {
  return Object.keys(GAIA_TO_DECAM);
}

/** True when BP and RP give a usable colour (legacypipe: finite, non-zero). */
function hasColor(bp: number, rp: number): boolean {
  return Number.isFinite(bp) && Number.isFinite(rp) && bp !== 0 && rp !== 0;
}

/** Evaluate Σ c_k x^k (Horner). */
function poly(coeffs: readonly number[], x: number): number {
  let s = 0;
  for (let k = coeffs.length - 1; k >= 0; k--) s = s * x + coeffs[k]!;
  return s;
}

/**
 * The colour correction m_band − G for one star with the given BP−RP (NaN → average colour),
 * after clipping to GAIA_COLOR_CLIP.
 */
export function gaiaColorCorrection(band: string, bpMinusRp: number): number {
  const ct = GAIA_TO_DECAM[band];
  if (!ct) throw new TesseraError(`no Gaia colour transformation for band '${band}' (known: ${colorTermBands().join(', ')}); use the G-only mode`);
  let c = Number.isFinite(bpMinusRp) ? bpMinusRp : GAIA_AVERAGE_COLOR;
  c = Math.min(GAIA_COLOR_CLIP[1], Math.max(GAIA_COLOR_CLIP[0], c));
  return poly(ct.coeffs, c);
}

/**
 * Reference AB magnitudes in `band` from Gaia G, BP, RP arrays. Stars with no usable G
 * (non-finite or 0) get NaN. In 'G' mode the result is G itself (BLISS-like).
 */
export function gaiaToBand(
  band: string,
  g: ArrayLike<number>, bp: ArrayLike<number>, rp: ArrayLike<number>,
  mode: ColorMode = 'colorterm',
): Float64Array {
  const n = g.length;
  const out = new Float64Array(n);
  const ct = mode === 'colorterm' ? GAIA_TO_DECAM[band] : undefined;
  if (mode === 'colorterm' && !ct) {
    throw new TesseraError(`no Gaia colour transformation for band '${band}' (known: ${colorTermBands().join(', ')}); use the G-only mode`);
  }
  const [lo, hi] = GAIA_COLOR_CLIP;
  for (let i = 0; i < n; i++) {
    const G = g[i]!;
    if (!Number.isFinite(G) || G === 0) { out[i] = NaN; continue; }
    if (!ct) { out[i] = G; continue; }
    const B = bp[i]!, R = rp[i]!;
    let c = hasColor(B, R) ? B - R : GAIA_AVERAGE_COLOR;
    c = Math.min(hi, Math.max(lo, c));
    out[i] = G + poly(ct.coeffs, c);
  }
  return out;
}
