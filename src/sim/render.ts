/**
 * Rendering one CCD of one exposure: sky with a gradient, stars, galaxies, transients and
 * asteroids through the local PSF, detector defects, a satellite trail now and then, Poisson
 * and read noise, cosmic rays, saturation with bleed trails along columns; the weight
 * (inverse variance) and data-quality mask planes; and the truth of what was put where.
 *
 * Units: the model is built in electrons; the image is written in ADU (e−/gain) with the sky
 * left in (as in DECam CP `ooi` images); the weight is 1/variance in ADU⁻², from the expected
 * sky + read noise (not the sources), 0 on masked pixels.
 */

import type { Band } from './bands.js';
import type { CcdSpec } from './camera.js';
import { CcdGeometry } from './geometry.js';
import {
  addGalaxy, addPointSource, psfShapeAt, psfStamp, stampRadius, type PsfShape,
  PSF_BETA, PSF_WING_BETA, PSF_WING_FRAC, PSF_WING_SCALE,
} from './psf.js';
import { Rng } from './rng.js';
import {
  asteroidPosAt, starMagAt, starPosAt, transientMagAt, type SkyCatalog,
} from './sources.js';
import type { ExposurePlan, SurveyConfig } from './survey.js';

/** Data-quality mask bits (the values of legacypipe's DQ_BITS for the same conditions). */
export const MASK_BITS = {
  /** Bad pixel: bad column or hot pixel (detector defect). */
  BAD: 1,
  /** Saturated (at or above SATURATE). */
  SAT: 2,
  /** Cosmic-ray hit. */
  CR: 8,
  /** Bleed trail from a saturated star (charge spilled along the column). */
  BLEED: 64,
  /** Satellite trail. */
  TRAIL: 1024,
} as const;

/** Bits that zero the weight. */
const ZERO_WEIGHT = MASK_BITS.BAD | MASK_BITS.SAT | MASK_BITS.CR | MASK_BITS.BLEED;

export const SOURCE_TYPE = { STAR: 1, GALAXY: 2, TRANSIENT: 3, ASTEROID: 4 } as const;

/** What was rendered on a CCD: one row per source whose centre falls on it. */
export interface CcdTruthRows {
  n: number;
  id: Float64Array;
  type: Uint8Array;
  ra: Float64Array;
  dec: Float64Array;
  /** FITS pixel coordinates (first pixel centre = 1, 1). */
  x: Float64Array;
  y: Float64Array;
  /** Total flux in ADU (counts) and AB magnitude. */
  flux: Float64Array;
  mag: Float64Array;
  /** Peak pixel value of the noiseless source in ADU (before saturation). */
  peak: Float64Array;
}

export interface PsfTruth {
  /** FITS pixel positions where the PSF was evaluated. */
  x: number[];
  y: number[];
  fwhmPix: number[];
  alpha: number[];
  e1: number[];
  e2: number[];
  /** size×size unit-flux stamps (pixel-integrated), one per position. */
  size: number;
  stamps: Float32Array[];
}

export interface RenderedCcd {
  expnum: number;
  ccd: CcdSpec;
  width: number;
  height: number;
  image: Float32Array;
  weight: Float32Array;
  mask: Int16Array;
  truth: CcdTruthRows;
  psf: PsfTruth;
  /** Mean sky (ADU) and the AB zero point of the image: mag = zpAdu − 2.5 log10(counts in ADU). */
  skyAdu: number;
  zpAdu: number;
  /** Number of cosmic rays, bad columns, hot pixels injected; satellite trail crossed this CCD. */
  nCosmicRays: number;
  nBadColumns: number;
  nHotPixels: number;
  satellite: boolean;
  /** Wall time of each rendering phase (ms). */
  phaseMs: Record<string, number>;
}

const D2R = Math.PI / 180;

class RowSink {
  id: number[] = []; type: number[] = []; ra: number[] = []; dec: number[] = [];
  x: number[] = []; y: number[] = []; flux: number[] = []; mag: number[] = []; peak: number[] = [];
  push(id: number, type: number, ra: number, dec: number, x: number, y: number, flux: number, mag: number, peak: number): void {
    this.id.push(id); this.type.push(type); this.ra.push(ra); this.dec.push(dec);
    this.x.push(x + 1); this.y.push(y + 1); this.flux.push(flux); this.mag.push(mag); this.peak.push(peak);
  }
  finish(): CcdTruthRows {
    return {
      n: this.id.length, id: Float64Array.from(this.id), type: Uint8Array.from(this.type),
      ra: Float64Array.from(this.ra), dec: Float64Array.from(this.dec), x: Float64Array.from(this.x), y: Float64Array.from(this.y),
      flux: Float64Array.from(this.flux), mag: Float64Array.from(this.mag), peak: Float64Array.from(this.peak),
    };
  }
}

/** Central value of a unit point source's profile (≈ the peak pixel fraction; truth only). */
function peakFraction(psf: PsfShape): number {
  const a2 = psf.alpha * psf.alpha, aw2 = a2 * PSF_WING_SCALE * PSF_WING_SCALE;
  return (1 - PSF_WING_FRAC) * (PSF_BETA - 1) / (Math.PI * a2) + PSF_WING_FRAC * (PSF_WING_BETA - 1) / (Math.PI * aw2);
}

/** Sky bounding box of a CCD (with margin), in RA relative to the CCD centre to handle wrap. */
function ccdBox(geom: CcdGeometry, marginDeg: number): { raC: number; dra: number; dec0: number; dec1: number } {
  const cs = geom.corners();
  const [raC, decC] = geom.pixToSky((geom.ccd.width - 1) / 2, (geom.ccd.height - 1) / 2);
  let dra = 0, dec0 = decC, dec1 = decC;
  for (const [r, d] of cs) {
    let dr = r - raC;
    if (dr > 180) dr -= 360; else if (dr < -180) dr += 360;
    dra = Math.max(dra, Math.abs(dr));
    dec0 = Math.min(dec0, d); dec1 = Math.max(dec1, d);
  }
  const cosd = Math.max(0.01, Math.cos(Math.max(Math.abs(dec0), Math.abs(dec1)) * D2R));
  return { raC, dra: dra + marginDeg / cosd, dec0: dec0 - marginDeg, dec1: dec1 + marginDeg };
}

function inBox(box: { raC: number; dra: number; dec0: number; dec1: number }, ra: number, dec: number): boolean {
  if (dec < box.dec0 || dec > box.dec1) return false;
  let dr = ra - box.raC;
  if (dr > 180) dr -= 360; else if (dr < -180) dr += 360;
  return Math.abs(dr) <= box.dra;
}

/** Converts a position angle (deg E of N) to an angle in the pixel frame (rad from the x axis). */
function paConverter(geom: CcdGeometry): (paDeg: number) => number {
  const [[a, b], [c, d]] = geom.tpvParams().cd;
  const ang = (pa: number) => {
    const xi = Math.sin(pa * D2R), eta = Math.cos(pa * D2R);
    return Math.atan2(-c * xi + a * eta, d * xi - b * eta);
  };
  const tN = ang(0);
  let dE = ang(90) - tN;
  while (dE > Math.PI) dE -= 2 * Math.PI;
  while (dE < -Math.PI) dE += 2 * Math.PI;
  const sgn = dE > 0 ? 1 : -1;
  return (pa: number) => tN + sgn * pa * D2R;
}

/** Pixel buffers reused from one CCD to the next (avoids allocating ~150 MB per DECam CCD). */
export interface RenderBuffers {
  model: Float32Array;
  sky: Float32Array;
  image: Float32Array;
  weight: Float32Array;
  mask: Int16Array;
}

export function makeRenderBuffers(npix: number): RenderBuffers {
  return {
    model: new Float32Array(npix), sky: new Float32Array(npix), image: new Float32Array(npix),
    weight: new Float32Array(npix), mask: new Int16Array(npix),
  };
}

/**
 * Render one CCD. With `buffers` (at least width×height long) the pixel planes are written into
 * them, and the returned image/weight/mask are views of those buffers, valid until the next call.
 */
export function renderCcd(cfg: SurveyConfig, exp: ExposurePlan, ccd: CcdSpec, cat: SkyCatalog, buffers?: RenderBuffers): RenderedCcd {
  const cam = cfg.camera;
  const geom = new CcdGeometry(cam, ccd, exp.pointing);
  const w = ccd.width, h = ccd.height, npix = w * h;
  const buf = buffers && buffers.model.length >= npix ? buffers : undefined;
  const band: Band = exp.band;
  const zpE = exp.zpElectrons + 2.5 * Math.log10(ccd.throughput); // mag for 1 e−/s
  const fluxE = (mag: number) => Math.pow(10, -0.4 * (mag - zpE)) * exp.exptime;
  const gain = ccd.gain;
  const rn2 = ccd.readNoiseE * ccd.readNoiseE;
  const model = buf ? buf.model.subarray(0, npix) : new Float32Array(npix);

  const phaseMs: Record<string, number> = {};
  let tPhase = performance.now();
  const phase = (k: string) => { const t = performance.now(); phaseMs[k] = (phaseMs[k] ?? 0) + t - tPhase; tPhase = t; };
  /* ---- sky with a linear gradient over the focal plane ---- */
  const pixArea = cam.pixelScaleArcsec * cam.pixelScaleArcsec;
  const skyE = Math.pow(10, -0.4 * (exp.skyMag - zpE)) * exp.exptime * pixArea;
  const skyPlane = buf ? buf.sky.subarray(0, npix) : new Float32Array(npix);
  {
    const [fx0, fy0] = geom.focalNorm(0, 0);
    const [fx1] = geom.focalNorm(1, 0);
    const [, fy1] = geom.focalNorm(0, 1);
    const gx = exp.skyGradient[0], gy = exp.skyGradient[1];
    const dfx = fx1 - fx0, dfy = fy1 - fy0;
    for (let y = 0; y < h; y++) {
      const base = skyE * (1 + gx * fx0 + gy * (fy0 + dfy * y));
      const step = skyE * gx * dfx;
      const row = y * w;
      for (let x = 0; x < w; x++) skyPlane[row + x] = base + step * x;
    }
  }
  model.set(skyPlane);

  const sink = new RowSink();
  const marginDeg = 120 * cam.pixelScaleArcsec / 3600;
  const box = ccdBox(geom, marginDeg);
  const onCcd = (x: number, y: number) => x >= -0.5 && x < w - 0.5 && y >= -0.5 && y < h - 0.5;
  const mjdMid = exp.mjd + exp.exptime / 2 / 86400;

  /* ---- stars (with proper motion and variability) ---- */
  const st = cat.stars;
  const sIdx: number[] = [], sRa: number[] = [], sDec: number[] = [];
  for (let k = 0; k < st.n; k++) {
    if (!inBox(box, st.ra[k]!, st.dec[k]!)) continue;
    const [ra, dec] = starPosAt(st, k, mjdMid);
    sIdx.push(k); sRa.push(ra); sDec.push(dec);
  }
  {
    const { x: xs, y: ys } = geom.skyToPix(sRa, sDec);
    for (let m = 0; m < sIdx.length; m++) {
      const k = sIdx[m]!, x = xs[m]!, y = ys[m]!;
      if (!(x > -100 && x < w + 99 && y > -100 && y < h + 99)) continue;
      const mag = starMagAt(st, k, band, mjdMid);
      const f = fluxE(mag);
      const psf = psfShapeAt(exp, geom, x, y);
      const R = f > 1e4 ? stampRadius(psf, f) : Math.ceil(5 * psf.fwhmPix);
      addPointSource(model, w, h, psf, x, y, f, R);
      if (onCcd(x, y)) sink.push(st.id[k]!, SOURCE_TYPE.STAR, sRa[m]!, sDec[m]!, x, y, f / gain, mag, f * peakFraction(psf) / gain);
    }
  }

  phase('stars');
  /* ---- galaxies ---- */
  const gl = cat.galaxies;
  const scale = cam.pixelScaleArcsec;
  const paToPixelAngle = paConverter(geom);
  const gIdx: number[] = [], gRa: number[] = [], gDec: number[] = [];
  for (let k = 0; k < gl.n; k++) {
    if (!inBox(box, gl.ra[k]!, gl.dec[k]!)) continue;
    gIdx.push(k); gRa.push(gl.ra[k]!); gDec.push(gl.dec[k]!);
  }
  {
    const { x: xs, y: ys } = geom.skyToPix(gRa, gDec);
    for (let m = 0; m < gIdx.length; m++) {
      const k = gIdx[m]!, x = xs[m]!, y = ys[m]!;
      if (!(x > -60 && x < w + 59 && y > -60 && y < h + 59)) continue;
      const mag = gl.mag[band][k]!;
      const f = fluxE(mag);
      const psf = psfShapeAt(exp, geom, x, y);
      const theta = paToPixelAngle(gl.pa[k]!);
      addGalaxy(model, w, h, psf, x, y, f, gl.sersic[k] === 4 ? 4 : 1, gl.reArcsec[k]! / scale, gl.q[k]!, theta);
      if (onCcd(x, y)) sink.push(gl.id[k]!, SOURCE_TYPE.GALAXY, gl.ra[k]!, gl.dec[k]!, x, y, f / gain, mag, NaN);
    }
  }

  phase('galaxies');
  /* ---- transients ---- */
  const tr = cat.transients;
  {
    const { x: xs, y: ys } = geom.skyToPix(tr.ra, tr.dec);
    for (let k = 0; k < tr.n; k++) {
      const x = xs[k]!, y = ys[k]!;
      if (!(x > -60 && x < w + 59 && y > -60 && y < h + 59)) continue;
      const mag = transientMagAt(tr, k, band, mjdMid);
      const f = Number.isFinite(mag) ? fluxE(mag) : 0;
      const psf = psfShapeAt(exp, geom, x, y);
      if (f > 0) addPointSource(model, w, h, psf, x, y, f, f > 1e4 ? stampRadius(psf, f) : Math.ceil(5 * psf.fwhmPix));
      if (onCcd(x, y)) sink.push(tr.id[k]!, SOURCE_TYPE.TRANSIENT, tr.ra[k]!, tr.dec[k]!, x, y, f / gain, mag, f * peakFraction(psf) / gain);
    }
  }

  /* ---- asteroids: trailed during the exposure ---- */
  const as = cat.asteroids;
  for (let k = 0; k < as.n; k++) {
    const [raS, decS] = asteroidPosAt(as, k, exp.mjd);
    const [raE, decE] = asteroidPosAt(as, k, exp.mjd + exp.exptime / 86400);
    const [raM, decM] = asteroidPosAt(as, k, mjdMid);
    const { x: xs, y: ys } = geom.skyToPix([raS, raE, raM], [decS, decE, decM]);
    const xm = xs[2]!, ym = ys[2]!;
    if (!(xm > -60 && xm < w + 59 && ym > -60 && ym < h + 59)) continue;
    const mag = as.mag[band][k]!;
    const f = fluxE(mag);
    const psf = psfShapeAt(exp, geom, xm, ym);
    const len = Math.hypot(xs[1]! - xs[0]!, ys[1]! - ys[0]!);
    const nstep = Math.max(1, Math.ceil(len / 0.5));
    for (let s = 0; s < nstep; s++) {
      const t = (s + 0.5) / nstep;
      addPointSource(model, w, h, psf, xs[0]! + t * (xs[1]! - xs[0]!), ys[0]! + t * (ys[1]! - ys[0]!), f / nstep, Math.ceil(5 * psf.fwhmPix));
    }
    if (onCcd(xm, ym)) sink.push(as.id[k]!, SOURCE_TYPE.ASTEROID, raM, decM, xm, ym, f / gain, mag, NaN);
  }

  const mask = buf ? buf.mask.subarray(0, npix).fill(0) : new Int16Array(npix);

  phase('other sources');
  /* ---- detector defects (fixed per CCD for the survey): hot pixels and bad columns ---- */
  const rd = new Rng(cfg.seed, 'defects', cam.name, ccd.ccdnum);
  const nHot = rd.poisson(cfg.artefacts.hotPixelsPerMpix * npix / 1e6);
  for (let k = 0; k < nHot; k++) {
    const p = rd.int(npix);
    model[p] += rd.range(5, 50) * exp.exptime;
    mask[p] |= MASK_BITS.BAD;
  }
  const nBad = rd.poisson(cfg.artefacts.badColumnsPerCcd);
  for (let k = 0; k < nBad; k++) {
    const x = 10 + rd.int(w - 20);
    const full = rd.bool(0.5);
    const y0 = full ? 0 : rd.int(h);
    const y1 = full ? h - 1 : (rd.bool(0.5) ? h - 1 : Math.min(h - 1, y0 + 50 + rd.int(h / 2)));
    const hot = rd.bool(0.5);
    const level = rd.range(0.3, 1.5);
    for (let y = y0; y <= y1; y++) {
      const p = y * w + x;
      model[p] = hot ? model[p]! + level * skyE : model[p]! * 0.05;
      mask[p] |= MASK_BITS.BAD;
    }
  }

  /* ---- satellite trail: one straight line across the whole focal plane ---- */
  let satHere = false;
  if (exp.satellite) {
    const rsat = new Rng(cfg.seed, 'satellite', exp.expnum);
    const ang = rsat.range(0, Math.PI);
    const fovMm = cam.fieldRadiusDeg / (cam.pixelScaleArcsec / 3600) * cam.pixelSizeMm;
    const off = rsat.range(-0.6, 0.6) * fovMm;
    const sigma = rsat.range(1.0, 2.0);
    const peak = rsat.range(100, 1500);
    // line: points p with n·p = off, n = (−sin, cos) in focal mm; in this CCD's pixel frame
    const nx = -Math.sin(ang), ny = Math.cos(ang);
    const cx = ccd.xCenterMm / cam.pixelSizeMm - (w - 1) / 2, cy = ccd.yCenterMm / cam.pixelSizeMm - (h - 1) / 2;
    const offPix = off / cam.pixelSizeMm;
    // distance of pixel (x, y): nx (x + cx) + ny (y + cy) − offPix
    const dC = nx * ((w - 1) / 2 + cx) + ny * ((h - 1) / 2 + cy) - offPix;
    if (Math.abs(dC) < Math.hypot(w, h) / 2 + 6 * sigma) {
      satHere = true;
      const lim = 5 * sigma;
      const i2s = 1 / (2 * sigma * sigma);
      const thr = 0.3 * Math.sqrt(skyE);
      for (let y = 0; y < h; y++) {
        const row = y * w;
        const dy = ny * (y + cy) - offPix;
        for (let x = 0; x < w; x++) {
          const d = nx * (x + cx) + dy;
          if (d > lim || d < -lim) continue;
          const v = peak * Math.exp(-d * d * i2s);
          model[row + x] += v;
          if (v > thr) mask[row + x] |= MASK_BITS.TRAIL;
        }
      }
    }
  }

  phase('artefacts');
  /* ---- noise: Poisson (normal approximation above 20 e−) and read noise ---- */
  const rn = new Rng(cfg.seed, 'noise', exp.expnum, ccd.ccdnum);
  const img = buf ? buf.image.subarray(0, npix) : new Float32Array(npix);
  const z = new Float32Array(w);
  for (let y = 0; y < h; y++) {
    rn.fillNormal(z);
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const lam = model[row + x]!;
      if (lam >= 20) img[row + x] = lam + Math.sqrt(lam + rn2) * z[x]!;
      else img[row + x] = rn.poisson(lam) + ccd.readNoiseE * z[x]!;
    }
  }

  phase('noise');
  /* ---- cosmic rays: sharp tracks deposited after the noise ---- */
  const rc = new Rng(cfg.seed, 'cosmics', exp.expnum, ccd.ccdnum);
  const nCr = rc.poisson(cfg.artefacts.cosmicRaysPerMpix100s * npix / 1e6 * exp.exptime / 100);
  for (let k = 0; k < nCr; k++) {
    const x0 = rc.uniform() * w, y0 = rc.uniform() * h;
    const len = Math.min(40, rc.exponential(5));
    const ang = rc.range(0, 2 * Math.PI);
    const dEdx = rc.range(400, 3000); // e− per pixel of track
    const nstep = Math.max(1, Math.ceil(len / 0.25));
    const q = dEdx * Math.max(len, 1) / nstep;
    for (let s = 0; s < nstep; s++) {
      const t = nstep === 1 ? 0 : s / (nstep - 1);
      const xi = Math.round(x0 + t * len * Math.cos(ang)), yi = Math.round(y0 + t * len * Math.sin(ang));
      if (xi < 0 || xi >= w || yi < 0 || yi >= h) continue;
      img[yi * w + xi] += q;
      mask[yi * w + xi] |= MASK_BITS.CR;
    }
  }

  /* ---- saturation and bleed trails along columns ---- */
  const full = ccd.saturateAdu * gain;
  bleed(img, mask, w, h, full);

  /* ---- to ADU, weight ---- */
  const weight = buf ? buf.weight.subarray(0, npix) : new Float32Array(npix);
  const ig = 1 / gain;
  const g2 = gain * gain;
  for (let p = 0; p < npix; p++) {
    let v = img[p]! * ig;
    // at (or within 2 ADU of) the saturation level: clipped to SATURATE and flagged
    if (v >= ccd.saturateAdu - 2) { v = ccd.saturateAdu; mask[p] |= MASK_BITS.SAT; }
    img[p] = v;
    weight[p] = (mask[p]! & ZERO_WEIGHT) ? 0 : g2 / (skyPlane[p]! + rn2);
  }

  phase('saturation, ADU, weight');
  /* ---- PSF truth on a 3×3 grid ---- */
  const psfT: PsfTruth = { x: [], y: [], fwhmPix: [], alpha: [], e1: [], e2: [], size: 31, stamps: [] };
  for (const fy of [1 / 6, 1 / 2, 5 / 6]) {
    for (const fx of [1 / 6, 1 / 2, 5 / 6]) {
      const x = Math.round(fx * w), y = Math.round(fy * h);
      const s = psfShapeAt(exp, geom, x, y);
      psfT.x.push(x + 1); psfT.y.push(y + 1); psfT.fwhmPix.push(s.fwhmPix); psfT.alpha.push(s.alpha);
      psfT.e1.push(s.e1); psfT.e2.push(s.e2);
      psfT.stamps.push(psfStamp(s, psfT.size));
    }
  }

  phase('PSF truth');
  return {
    expnum: exp.expnum, ccd, width: w, height: h, image: img, weight, mask, truth: sink.finish(), psf: psfT, phaseMs,
    skyAdu: skyE / gain, zpAdu: zpE + 2.5 * Math.log10(exp.exptime) - 2.5 * Math.log10(gain),
    nCosmicRays: nCr, nBadColumns: nBad, nHotPixels: nHot, satellite: satHere,
  };
}

/**
 * Spill charge above the full well up and down the column (y axis), filling neighbours to the
 * full well; every pixel that received spilled charge is marked BLEED. Values in electrons.
 */
export function bleed(img: Float32Array, mask: Int16Array, w: number, h: number, full: number): void {
  const cols = new Set<number>();
  for (let p = 0; p < img.length; p++) if (img[p]! > full) cols.add(p % w);
  for (const x of cols) {
    let excess = 0;
    for (let y = 0; y < h; y++) {
      const p = y * w + x;
      if (img[p]! > full) { excess += img[p]! - full; img[p] = full; }
    }
    if (excess <= 0) continue;
    // find the saturated run centre and push half the charge each way from its ends
    let lo = -1, hi = -1;
    for (let y = 0; y < h; y++) if (img[y * w + x]! >= full) { if (lo < 0) lo = y; hi = y; }
    let up = excess / 2, down = excess / 2;
    for (let y = hi + 1; y < h && up > 0; y++) {
      const p = y * w + x;
      const room = full - img[p]!;
      if (room <= 0) continue;
      const add = Math.min(room, up);
      img[p] += add; up -= add;
      mask[p] |= MASK_BITS.BLEED;
    }
    for (let y = lo - 1; y >= 0 && down > 0; y--) {
      const p = y * w + x;
      const room = full - img[p]!;
      if (room <= 0) continue;
      const add = Math.min(room, down);
      img[p] += add; down -= add;
      mask[p] |= MASK_BITS.BLEED;
    }
  }
}
