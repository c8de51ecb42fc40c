/**
 * ZOGY (Zackay, Ofek & Gal-Yam 2016) proper image subtraction, on overlapping tiles with the
 * PSFs evaluated at each tile centre (so a spatially varying PSF is followed):
 *   D̂ = (F_r P̂_r N̂ − F_n P̂_n R̂)/√(σ_n²F_r²|P̂_r|² + σ_r²F_n²|P̂_n|²)          (eq. 13, white noise)
 *   F_D = F_rF_n/√(σ_n²F_r² + σ_r²F_n²),  P̂_D = F_rF_n P̂_rP̂_n/(F_D√denom)       (eqs. 15, 17)
 *   S = F_D·D ⊗ P̄_D = k_n ⊗ N − k_r ⊗ R,  k̂_n = F_nF_r² P̂_n*|P̂_r|²/denom        (eq. 16)
 *   S_corr = S/√(V_N⊗k_n² + V_R⊗k_r² + σ_x²(∂S_N/∂x)² + σ_y²(∂S_N/∂y)² + same for S_R)   (eq. 25)
 * with V_N, V_R the full per-pixel variance planes (background + source noise) and σ_x, σ_y the
 * astrometric registration rms. F_r = 1 and F_n = the science/template flux ratio (measured from
 * stars), so α = S/F_S is in template counts and α·F_n in science counts.
 * Output D is rescaled to science counts (D·F_n/F_D): a point source's PSF flux on it is its
 * flux change in science counts, as in AL mode.
 *
 * Pixel convention: 0-based.
 */
import { MaskBits, type MaskedImage } from '../image/masked-image.js';
import { estimateBackground } from '../detect/background.js';
import { GaussianPsf, type PsfLike } from '../detect/psf-like.js';
import { TesseraError } from '../util/errors.js';
import { fftOf } from './al/fft.js';
import { dilateMask, ensureVariance, momentFwhm, noiseRatio, type DiffInput } from './subtract.js';

export interface ZogyOptions {
  /** Science/template flux ratio F_n/F_r (default: measured from the stars given in `stars`). */
  fluxRatio?: number;
  /** Stars (0-based) for the flux ratio and PSF widths when no PSF model is given. */
  stars?: { x: number; y: number }[];
  /** Astrometric registration rms in pixels (default 0.05 each). */
  sigmaX?: number;
  sigmaY?: number;
  /** Tile size (power of two, default 512) and overlap margin (default 32). */
  tile?: number;
  margin?: number;
}

export interface ZogyResult {
  /** D in science counts, its variance and mask. */
  diff: MaskedImage;
  /** Matched-filter score S (template-count units) and the corrected significance S_corr. */
  S: Float32Array;
  Scorr: Float32Array;
  /** PSF-photometry flux map α·F_n in science counts (valid at point-source peaks). */
  flux: Float32Array;
  fluxRatio: number;
  FD: number;
  sigmaN: number;
  sigmaR: number;
  fwhmSci: number;
  fwhmTmpl: number;
  /** PSF of D at the image centre (unit sum), size × size. */
  psfD: { data: Float32Array; size: number };
  residRms: number;
  notes: string[];
}

function median(a: number[]): number {
  const s = a.filter(Number.isFinite).sort((p, q) => p - q);
  return s.length ? s[s.length >> 1]! : NaN;
}

/** Embed a centred odd-size stamp at the origin of an n × n array (wrap-around). */
function embed(stamp: Float32Array, size: number, n: number, re: Float64Array): void {
  re.fill(0);
  const h = (size - 1) >> 1;
  let s = 0;
  for (const v of stamp) s += v;
  for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) re[((j - h + n) % n) * n + ((i - h + n) % n)] = stamp[j * size + i]! / s;
}

export function zogySubtract(science: DiffInput, template: DiffInput, opts: ZogyOptions = {}): ZogyResult {
  const { width, height } = science;
  if (template.width !== width || template.height !== height) throw new TesseraError(`ZOGY: template is ${template.width}×${template.height}, science ${width}×${height}: warp first`);
  const notes: string[] = [];
  const vN = ensureVariance(science), vR = ensureVariance(template);
  const bN = estimateBackground({ ...science, variance: vN }), bR = estimateBackground({ ...template, variance: vR });
  const N = new Float32Array(width * height), R = new Float32Array(width * height);
  const VN = new Float32Array(width * height), VR = new Float32Array(width * height);
  const badM = new Uint32Array(width * height);
  const row = new Float32Array(width), row2 = new Float32Array(width);
  let nGood = 0;
  for (let y = 0; y < height; y++) {
    bN.backRow(y, row); bR.backRow(y, row2);
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const a = science.image[i]!, b = template.image[i]!, va = vN[i]!, vb = vR[i]!;
      const bad = a - a !== 0 || b - b !== 0 || !(va > 0 && va < Infinity) || !(vb > 0 && vb < Infinity)
        || ((science.mask?.[i] ?? 0) & (MaskBits.BAD | MaskBits.SAT | MaskBits.NO_DATA | MaskBits.CR)) !== 0
        || ((template.mask?.[i] ?? 0) & (MaskBits.BAD | MaskBits.SAT | MaskBits.NO_DATA | MaskBits.CR)) !== 0;
      if (bad) { badM[i] = MaskBits.NO_DATA | (science.mask?.[i] ?? 0) | (template.mask?.[i] ?? 0); continue; }
      nGood++;
      N[i] = a - row[x]!; R[i] = b - row2[x]!; VN[i] = va; VR[i] = vb;
      badM[i] = (science.mask?.[i] ?? 0) | (template.mask?.[i] ?? 0);
    }
  }
  if (!nGood) throw new TesseraError('ZOGY: the template does not overlap the science image (no pixel valid in both)');
  const sigmaN = Math.sqrt(median(Array.from({ length: 4096 }, (_, k) => VN[Math.floor((k * VN.length) / 4096)]!).filter((v) => v > 0)));
  const sigmaR = Math.sqrt(median(Array.from({ length: 4096 }, (_, k) => VR[Math.floor((k * VR.length) / 4096)]!).filter((v) => v > 0)));
  const stars = opts.stars ?? [];
  // PSF widths from star moments; a PSF model is used when its FWHM agrees within 25% (else noted and replaced)
  const measS = momentFwhm(science.image, width, height, stars, 4), measT = momentFwhm(template.image, width, height, stars, 4);
  const pick = (psf: PsfLike | undefined, meas: number, name: string): { fwhm: number; psf: PsfLike | undefined } => {
    const m = psf?.fwhmPixAt?.((width - 1) / 2, (height - 1) / 2);
    if (psf && m && m > 0 && (!(meas > 0) || Math.abs(m / meas - 1) <= 0.25)) return { fwhm: m, psf };
    if (psf && m && m > 0) notes.push(`${name} PSF model FWHM ${m.toFixed(2)} px disagrees with the stars (${meas.toFixed(2)} px): using a Gaussian`);
    return { fwhm: meas, psf: undefined };
  };
  const pS = pick(science.psf, measS, 'science'), pT = pick(template.psf, measT, 'template');
  const fwhmS = pS.fwhm, fwhmT = pT.fwhm;
  if (!(fwhmS > 0) || !(fwhmT > 0)) throw new TesseraError(`ZOGY: cannot measure the PSF width (${stars.length} stars; give PSF models or more stars)`);
  const psfN: PsfLike = pS.psf ?? new GaussianPsf(fwhmS);
  const psfR: PsfLike = pT.psf ?? new GaussianPsf(fwhmT);
  // flux ratio from aperture sums of the stars (background-subtracted), radius 2 × the larger FWHM
  let Fn = opts.fluxRatio ?? NaN;
  if (!(Fn > 0)) {
    const rad = 2 * Math.max(fwhmS, fwhmT), r2 = rad * rad, ri = Math.ceil(rad);
    const rat: number[] = [];
    for (const s of stars) {
      const xc = Math.round(s.x), yc = Math.round(s.y);
      if (xc - ri < 0 || yc - ri < 0 || xc + ri >= width || yc + ri >= height) continue;
      let a = 0, b = 0, ok = true;
      for (let y = yc - ri; y <= yc + ri && ok; y++) for (let x = xc - ri; x <= xc + ri; x++) {
        if ((x - xc) ** 2 + (y - yc) ** 2 > r2) continue;
        const i = y * width + x;
        if (badM[i]! & MaskBits.NO_DATA) { ok = false; break; }
        a += N[i]!; b += R[i]!;
      }
      if (ok && b > 0 && a > 0) rat.push(a / b);
    }
    Fn = median(rat);
    if (!(Fn > 0)) throw new TesseraError(`ZOGY: cannot measure the flux ratio: no usable star among ${stars.length} (give --flux-ratio or more stars)`);
  }
  const Fr = 1;
  const FD = (Fr * Fn) / Math.sqrt(sigmaN ** 2 * Fr ** 2 + sigmaR ** 2 * Fn ** 2);
  const sx2 = (opts.sigmaX ?? 0.05) ** 2, sy2 = (opts.sigmaY ?? 0.05) ** 2;
  const n = opts.tile ?? 512, mg = opts.margin ?? 32, core = n - 2 * mg;
  const F = fftOf(n);
  const nn = n * n;
  const D = new Float32Array(width * height), S = new Float32Array(width * height), Sc = new Float32Array(width * height), Fl = new Float32Array(width * height);
  const pnR = new Float64Array(nn), pnI = new Float64Array(nn), prR = new Float64Array(nn), prI = new Float64Array(nn);
  const aR = new Float64Array(nn), aI = new Float64Array(nn), bR2 = new Float64Array(nn), bI2 = new Float64Array(nn);
  const knR = new Float64Array(nn), knI = new Float64Array(nn), krR = new Float64Array(nn), krI = new Float64Array(nn);
  const wR = new Float64Array(nn), wI = new Float64Array(nn), w2R = new Float64Array(nn), w2I = new Float64Array(nn);
  const psize = 2 * Math.ceil(3 * Math.max(fwhmS, fwhmT)) + 1;
  let psfD: { data: Float32Array; size: number } | undefined;
  const inv = 1 / nn;
  const load = (src: Float32Array, bx: number, by: number, dst: Float64Array) => {
    dst.fill(0);
    for (let y = 0; y < n; y++) {
      const sy = by + y; if (sy < 0 || sy >= height) continue;
      for (let x = 0; x < n; x++) { const sxp = bx + x; if (sxp >= 0 && sxp < width) dst[y * n + x] = src[sy * width + sxp]!; }
    }
  };
  for (let ty = 0; ty < height; ty += core) for (let tx = 0; tx < width; tx += core) {
    const bx = tx - mg, by = ty - mg;
    const cx = Math.min(width - 1, tx + (core >> 1)), cy = Math.min(height - 1, ty + (core >> 1));
    embed(psfN.stampAt(cx, cy, psize), psize, n, pnR); pnI.fill(0); F.run2d(pnR, pnI, false);
    embed(psfR.stampAt(cx, cy, psize), psize, n, prR); prI.fill(0); F.run2d(prR, prI, false);
    // kernels k_n, k_r (spectra) and P_D
    let FS = 0;
    const pdR = new Float64Array(nn), pdI = new Float64Array(nn);
    for (let k = 0; k < nn; k++) {
      const pn2 = pnR[k]! ** 2 + pnI[k]! ** 2, pr2 = prR[k]! ** 2 + prI[k]! ** 2;
      const den = sigmaN ** 2 * Fr ** 2 * pr2 + sigmaR ** 2 * Fn ** 2 * pn2 + 1e-300;
      knR[k] = (Fn * Fr * Fr * pr2 * pnR[k]!) / den; knI[k] = (-Fn * Fr * Fr * pr2 * pnI[k]!) / den;
      krR[k] = (Fr * Fn * Fn * pn2 * prR[k]!) / den; krI[k] = (-Fr * Fn * Fn * pn2 * prI[k]!) / den;
      FS += (Fn * Fn * Fr * Fr * pn2 * pr2) / den;
      if (!psfD) {
        const sd = Math.sqrt(den);
        pdR[k] = (Fr * Fn * (prR[k]! * pnR[k]! - prI[k]! * pnI[k]!)) / (FD * sd);
        pdI[k] = (Fr * Fn * (prR[k]! * pnI[k]! + prI[k]! * pnR[k]!)) / (FD * sd);
      }
    }
    FS *= inv;
    if (!psfD && cx >= width / 2 - core && cy >= height / 2 - core) {
      F.run2d(pdR, pdI, true);
      const h = (psize - 1) >> 1, st = new Float32Array(psize * psize);
      let s = 0;
      for (let j = 0; j < psize; j++) for (let i = 0; i < psize; i++) { const v = pdR[((j - h + n) % n) * n + ((i - h + n) % n)]! * inv; st[j * psize + i] = v; s += v; }
      for (let i = 0; i < st.length; i++) st[i]! /= s;
      psfD = { data: st, size: psize };
    }
    // N̂, R̂
    load(N, bx, by, aR); aI.fill(0); load(R, bx, by, aI);
    F.run2d(aR, aI, false);
    // separate the two real spectra: N̂(k) = (Z(k) + Z*(−k))/2, R̂(k) = (Z(k) − Z*(−k))/(2i)
    // (indices in the transposed layout are symmetric under k → −k, so the same formula applies)
    const Nr = new Float64Array(nn), Ni = new Float64Array(nn), Rr = new Float64Array(nn), Ri = new Float64Array(nn);
    for (let v = 0; v < n; v++) for (let u = 0; u < n; u++) {
      const k = v * n + u, km = ((n - v) % n) * n + ((n - u) % n);
      const zr = aR[k]!, zi = aI[k]!, cr = aR[km]!, ci = -aI[km]!;
      Nr[k] = 0.5 * (zr + cr); Ni[k] = 0.5 * (zi + ci);
      Rr[k] = 0.5 * (zi - ci); Ri[k] = -0.5 * (zr - cr);
    }
    // S_N + i S_R in one inverse transform: Ŝ_N = k̂_n N̂, Ŝ_R = k̂_r R̂ (both real in space)
    for (let k = 0; k < nn; k++) {
      const snr = knR[k]! * Nr[k]! - knI[k]! * Ni[k]!, sni = knR[k]! * Ni[k]! + knI[k]! * Nr[k]!;
      const srr = krR[k]! * Rr[k]! - krI[k]! * Ri[k]!, sri = krR[k]! * Ri[k]! + krI[k]! * Rr[k]!;
      wR[k] = snr - sri; wI[k] = sni + srr;
      // D̂ = (F_r P̂_r N̂ − F_n P̂_n R̂)/√den
      const pn2 = pnR[k]! ** 2 + pnI[k]! ** 2, pr2 = prR[k]! ** 2 + prI[k]! ** 2;
      const sd = Math.sqrt(sigmaN ** 2 * Fr ** 2 * pr2 + sigmaR ** 2 * Fn ** 2 * pn2) || 1e-300;
      const dr = (Fr * (prR[k]! * Nr[k]! - prI[k]! * Ni[k]!) - Fn * (pnR[k]! * Rr[k]! - pnI[k]! * Ri[k]!)) / sd;
      const di = (Fr * (prR[k]! * Ni[k]! + prI[k]! * Nr[k]!) - Fn * (pnR[k]! * Ri[k]! + pnI[k]! * Rr[k]!)) / sd;
      w2R[k] = dr; w2I[k] = di;
    }
    F.run2d(wR, wI, true);
    F.run2d(w2R, w2I, true);
    // k_n², k_r² in real space → spectra → variance terms
    const kn = knR.slice(), kni = knI.slice(); F.run2d(kn, kni, true);
    const kr = krR.slice(), kri = krI.slice(); F.run2d(kr, kri, true);
    for (let k = 0; k < nn; k++) { const a = kn[k]! * inv, b = kr[k]! * inv; kn[k] = a * a; kr[k] = b * b; kni[k] = 0; kri[k] = 0; }
    F.run2d(kn, kni, false); F.run2d(kr, kri, false);
    load(VN, bx, by, aR); load(VR, bx, by, aI);
    F.run2d(aR, aI, false);
    for (let v = 0; v < n; v++) for (let u = 0; u < n; u++) {
      const k = v * n + u, km = ((n - v) % n) * n + ((n - u) % n);
      const zr = aR[k]!, zi = aI[k]!, cr = aR[km]!, ci = -aI[km]!;
      const vnr = 0.5 * (zr + cr), vni = 0.5 * (zi + ci), vrr = 0.5 * (zi - ci), vri = -0.5 * (zr - cr);
      // V_N ⊗ k_n² + V_R ⊗ k_r² (one real result)
      bR2[k] = vnr * kn[k]! - vni * kni[k]! + vrr * kr[k]! - vri * kri[k]!;
      bI2[k] = vnr * kni[k]! + vni * kn[k]! + vrr * kri[k]! + vri * kr[k]!;
    }
    F.run2d(bR2, bI2, true);
    const xe = Math.min(core, width - tx), ye = Math.min(core, height - ty);
    const dScale = Fn / FD;
    for (let y = 0; y < ye; y++) for (let x = 0; x < xe; x++) {
      const k = (y + mg) * n + x + mg, o = (ty + y) * width + tx + x;
      const sN = wR[k]! * inv, sR = wI[k]! * inv;
      const s = sN - sR;
      // gradients of S_N and S_R (central differences inside the tile)
      const gxN = (wR[k + 1]! - wR[k - 1]!) * 0.5 * inv, gyN = (wR[k + n]! - wR[k - n]!) * 0.5 * inv;
      const gxR = (wI[k + 1]! - wI[k - 1]!) * 0.5 * inv, gyR = (wI[k + n]! - wI[k - n]!) * 0.5 * inv;
      const vs = bR2[k]! * inv + sx2 * (gxN * gxN + gxR * gxR) + sy2 * (gyN * gyN + gyR * gyR);
      S[o] = s;
      Sc[o] = vs > 0 ? s / Math.sqrt(vs) : 0;
      Fl[o] = (s / FS) * Fn;
      D[o] = w2R[k]! * inv * dScale;
    }
  }
  // masks: bad pixels grow by the PSF stamp radius; NaN there
  const grown = dilateMask(badM, width, height, (psize - 1) >> 1);
  const variance = new Float32Array(width * height).fill(((Fn / FD) ** 2));
  for (let i = 0; i < D.length; i++) {
    if (grown[i]! & (MaskBits.NO_DATA | MaskBits.BAD | MaskBits.SAT)) { D[i] = NaN; variance[i] = NaN; S[i] = NaN; Sc[i] = 0; Fl[i] = NaN; }
  }
  return {
    diff: { width, height, image: D, variance, mask: grown }, S, Scorr: Sc, flux: Fl, fluxRatio: Fn, FD, sigmaN, sigmaR,
    fwhmSci: fwhmS, fwhmTmpl: fwhmT, psfD: psfD!, residRms: noiseRatio(D, variance), notes,
  };
}
