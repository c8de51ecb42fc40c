/**
 * A synthetic CCD with truth for the calibrate tests and benchmark: Moffat stars with a
 * spatially varying PSF at positions from a true TPV WCS, Gaia-like G/BP/RP for every star
 * (band magnitudes through the shared colour terms), sky + Poisson + read noise, and a header
 * WCS that is off by a given shift/rotation/scale.
 */
import { Wcs } from '../../../src/wcs/wcs.js';
import { gaiaColorCorrection } from '../../../src/calib/colorterms.js';
import { addMoffat, DEFAULT_FIELD, rng, type MoffatField } from '../../psf/synth.js';
import type { RefStars } from '../../../src/pipeline/calibrate/ccd.js';

export interface SynthCcd {
  width: number;
  height: number;
  image: Float32Array;
  variance: Float32Array;
  truth: Wcs;
  header: Wcs;
  ref: RefStars & { mag: Float64Array };
  zpTrue: number;
  band: string;
  gain: number;
  sky: number;
  field: MoffatField;
  nStarsOnCcd: number;
}

export function truthWcs(width: number, height: number, crval: [number, number] = [150.1, 2.2]): Wcs {
  const SCALE = 0.263 / 3600;
  const pv1 = new Array(40).fill(0), pv2 = new Array(40).fill(0);
  pv1[1] = 1; pv2[1] = 1;
  pv1[7] = 0.02; pv2[7] = 0.02;
  pv1[4] = 0.004; pv2[6] = -0.003;
  const th = (0.3 * Math.PI) / 180;
  return Wcs.tpv({
    crval, crpix: [(width + 1) / 2, (height + 1) / 2],
    cd: [-SCALE * Math.cos(th), SCALE * Math.sin(th), SCALE * Math.sin(th), SCALE * Math.cos(th)],
    pv1, pv2, naxis: [width, height],
  });
}

export function offsetWcs(truth: Wcs, offArcsec: [number, number], rotDeg: number, scale: number): Wcs {
  const th = (rotDeg * Math.PI) / 180;
  const [a, b, c, d] = truth.cd;
  const co = Math.cos(th), si = Math.sin(th);
  return Wcs.tan({
    crval: [truth.crval[0] + offArcsec[0] / 3600 / Math.cos((truth.crval[1] * Math.PI) / 180), truth.crval[1] + offArcsec[1] / 3600],
    crpix: [truth.crpix[0], truth.crpix[1]],
    cd: [scale * (co * a - si * c), scale * (co * b - si * d), scale * (si * a + co * c), scale * (si * b + co * d)],
    naxis: truth.naxis,
  });
}

export function makeSynthCcd(opts: { width?: number; height?: number; seed?: number; nStars?: number; zp?: number; band?: string;
  offArcsec?: [number, number]; rotDeg?: number; scale?: number; fwhm?: number; crval?: [number, number] } = {}): SynthCcd {
  const width = opts.width ?? 2048, height = opts.height ?? 4096;
  const r = rng(opts.seed ?? 1);
  const truth = truthWcs(width, height, opts.crval);
  const header = offsetWcs(truth, opts.offArcsec ?? [20, -15], opts.rotDeg ?? 0.5, opts.scale ?? 1.01);
  const field = DEFAULT_FIELD(width, height, opts.fwhm ?? 4.0);
  const zp = opts.zp ?? 31.0, band = opts.band ?? 'r', gain = 4, sky = 800, rn = 7;
  // Stars over a region larger than the CCD (the reference catalog covers the margin too).
  const nTot = opts.nStars ?? 1500;
  const margin = 600;
  const px = new Float64Array(nTot), py = new Float64Array(nTot);
  const G = new Float64Array(nTot), BP = new Float64Array(nTot), RP = new Float64Array(nTot), M = new Float64Array(nTot);
  for (let i = 0; i < nTot; i++) {
    px[i] = 1 - margin + r.uniform() * (width + 2 * margin);
    py[i] = 1 - margin + r.uniform() * (height + 2 * margin);
    // Number counts rising towards the faint end (dN/dm ∝ 10^(0.3 m)).
    G[i] = 15.5 + Math.log10(1 + r.uniform() * (10 ** (0.3 * 6) - 1)) / 0.3;
    const c = 0.5 + 2 * r.uniform();
    // Missing BP/RP for 5% of stars (they get the average colour, as in legacypipe).
    if (r.uniform() < 0.05) { BP[i] = NaN; RP[i] = NaN; M[i] = G[i]! + gaiaColorCorrection(band, NaN); }
    else { BP[i] = G[i]! + 0.4 * c; RP[i] = G[i]! - 0.6 * c; M[i] = G[i]! + gaiaColorCorrection(band, c); }
  }
  const sky2 = truth.pixToSky(px, py, 1);
  const image = new Float32Array(width * height);
  let nOn = 0;
  for (let i = 0; i < nTot; i++) {
    const x = px[i]! - 1, y = py[i]! - 1; // 0-based
    if (x < -30 || y < -30 || x > width + 29 || y > height + 29) continue;
    if (x >= 0 && y >= 0 && x < width && y < height) nOn++;
    const flux = 10 ** (-0.4 * (M[i]! - zp));
    addMoffat(image, width, height, x, y, flux, field, flux > 3e5 ? 45 : 30, 12);
  }
  const variance = new Float32Array(width * height);
  for (let p = 0; p < width * height; p++) {
    const v = (sky + Math.max(0, image[p]!)) / gain + (rn / gain) ** 2;
    variance[p] = v;
    image[p] = sky + image[p]! + Math.sqrt(v) * r.gauss();
  }
  // Gaia-like catalog errors: positions 0.1–1 mas (negligible), magnitudes ~1 mmag.
  const ref = { ra: sky2.ra, dec: sky2.dec, g: G.map((g) => g + 0.001 * r.gauss()), bp: BP, rp: RP, mag: G };
  return { width, height, image, variance, truth, header, ref, zpTrue: zp, band, gain, sky, field, nStarsOnCcd: nOn };
}

/** A reference query over the synthetic catalog (cone search, no proper motion). */
export function synthRefQuery(ref: RefStars): (ra: number, dec: number, radiusDeg: number) => RefStars {
  return (ra0, dec0, rad) => {
    const idx: number[] = [];
    const d2r = Math.PI / 180;
    for (let i = 0; i < ref.ra.length; i++) {
      const c = Math.sin(dec0 * d2r) * Math.sin(ref.dec[i]! * d2r) + Math.cos(dec0 * d2r) * Math.cos(ref.dec[i]! * d2r) * Math.cos((ref.ra[i]! - ra0) * d2r);
      if (Math.acos(Math.min(1, c)) / d2r <= rad) idx.push(i);
    }
    const pick = (a: ArrayLike<number>) => Float64Array.from(idx, (i) => a[i]!);
    return { ra: pick(ref.ra), dec: pick(ref.dec), g: pick(ref.g), bp: pick(ref.bp), rp: pick(ref.rp) };
  };
}
