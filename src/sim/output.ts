/**
 * DECam Community-Pipeline-like files for simulated exposures.
 *
 * Per exposure three multi-extension files (one HDU per CCD, EXTNAME = CCD name, in CCDNUM order):
 *   c4d_YYMMDD_hhmmss_ooi_<band>_v1.fits.fz   image (ADU, sky not subtracted), RICE_1
 *   c4d_YYMMDD_hhmmss_oow_<band>_v1.fits.fz   inverse variance (ADU⁻²), RICE_1
 *   c4d_YYMMDD_hhmmss_ood_<band>_v1.fits.fz   data-quality mask (16-bit integers, bits in MASK_BITS), RICE_1
 * (the date and time are DATE-OBS in UTC). The header WCS is the telescope's: the true TPV
 * WCS with the pointing and rotation errors of the exposure; the true one is in the truth tables.
 */

import { Header } from '../fits/header.js';
import { encodeFits } from '../fits/writer.js';
import { TESSERA_VERSION } from '../util/version.js';
import { BAND_INFO } from './bands.js';
import type { CameraModel, CcdSpec } from './camera.js';
import { CcdGeometry } from './geometry.js';
import { MASK_BITS, type RenderedCcd } from './render.js';
import type { ExposurePlan, SurveyConfig } from './survey.js';

export type ProductKind = 'ooi' | 'oow' | 'ood';

/** File name of a product of an exposure. */
export function exposureFileName(exp: ExposurePlan, kind: ProductKind): string {
  const d = exp.dateObs; // YYYY-MM-DDThh:mm:ss.sss
  const ymd = d.slice(2, 4) + d.slice(5, 7) + d.slice(8, 10);
  const hms = d.slice(11, 13) + d.slice(14, 16) + d.slice(17, 19);
  return `c4d_${ymd}_${hms}_${kind}_${exp.band}_v1.fits.fz`;
}

function sexagesimal(deg: number, hours: boolean): string {
  let v = hours ? deg / 15 : Math.abs(deg);
  const sign = !hours && deg < 0 ? '-' : hours ? '' : '+';
  const a = Math.floor(v); v = (v - a) * 60;
  const b = Math.floor(v); const c = (v - b) * 60;
  const cs = c.toFixed(hours ? 3 : 2).padStart(hours ? 6 : 5, '0');
  return `${sign}${String(a).padStart(2, '0')}:${String(b).padStart(2, '0')}:${cs}`;
}

const PRODTYPE: Record<ProductKind, string> = { ooi: 'image', oow: 'wtmap', ood: 'dqmask' };

/** Primary header of an exposure file. */
export function primaryHeader(cfg: SurveyConfig, exp: ExposurePlan, kind: ProductKind, nccd: number): Header {
  const h = new Header([], 'primary');
  const cam = cfg.camera;
  h.set('ORIGIN', 'Tessera simulator', 'simulated data');
  h.set('SIMULATE', true, 'this exposure is simulated');
  h.set('SIMSEED', String(cfg.seed), 'simulation seed');
  h.set('SOFTWARE', `tessera ${TESSERA_VERSION}`);
  h.set('TELESCOP', cam.name === 'decam' ? 'CTIO 4.0-m telescope' : 'simulated telescope');
  h.set('INSTRUME', cam.instrument);
  h.set('OBSTYPE', 'object');
  h.set('PROCTYPE', 'InstCal', 'processing type (CP-like)');
  h.set('PRODTYPE', PRODTYPE[kind]);
  h.set('EXPNUM', exp.expnum, 'exposure number');
  h.set('OBJECT', `sim field ${cfg.fieldRaDeg.toFixed(3)} ${cfg.fieldDecDeg.toFixed(3)}`);
  h.set('FILTER', BAND_INFO[exp.band].filter);
  h.set('BAND', exp.band);
  h.set('EXPTIME', exp.exptime, 'exposure time (s)');
  h.set('MJD-OBS', exp.mjd, 'MJD of exposure start');
  h.set('DATE-OBS', exp.dateObs, 'UTC of exposure start');
  h.set('AIRMASS', Math.round(exp.airmass * 1000) / 1000);
  h.set('RA', sexagesimal(exp.headerPointing.raDeg, true), 'telescope RA (hours)');
  h.set('DEC', sexagesimal(exp.headerPointing.decDeg, false), 'telescope Dec');
  h.set('TELRA', exp.headerPointing.raDeg, 'telescope RA (deg)');
  h.set('TELDEC', exp.headerPointing.decDeg, 'telescope Dec (deg)');
  h.set('NEXTEND', nccd, 'number of extensions');
  if (kind === 'ood') {
    for (const [name, bit] of Object.entries(MASK_BITS)) h.set(`MASK_${name}`.slice(0, 8), bit, `mask bit value: ${name}`);
  }
  return h;
}

/** Header of one CCD HDU (the telescope's WCS: pointing and rotation errors included). */
export function ccdHeader(cfg: SurveyConfig, exp: ExposurePlan, ccd: CcdSpec, kind: ProductKind, r: RenderedCcd): Header {
  const h = new Header([], ccd.name);
  h.set('EXTNAME', ccd.name);
  h.set('CCDNUM', ccd.ccdnum, 'CCD number');
  h.set('DETPOS', ccd.name, 'detector position');
  h.set('EXPNUM', exp.expnum);
  h.set('INSTRUME', cfg.camera.instrument);
  h.set('FILTER', BAND_INFO[exp.band].filter);
  h.set('BAND', exp.band);
  h.set('MJD-OBS', exp.mjd);
  h.set('DATE-OBS', exp.dateObs);
  h.set('EXPTIME', exp.exptime);
  h.set('AIRMASS', Math.round(exp.airmass * 1000) / 1000);
  h.set('GAIN', ccd.gain, 'e-/ADU');
  h.set('RDNOISE', ccd.readNoiseE, 'read noise (e-)');
  h.set('SATURATE', ccd.saturateAdu, 'saturation level (ADU)');
  // per-amplifier copies, as DECam CP headers carry them (both amplifiers alike here)
  h.set('GAINA', ccd.gain, 'e-/ADU, amplifier A');
  h.set('GAINB', ccd.gain, 'e-/ADU, amplifier B');
  h.set('RDNOISEA', ccd.readNoiseE, 'read noise (e-), amplifier A');
  h.set('RDNOISEB', ccd.readNoiseE, 'read noise (e-), amplifier B');
  h.set('SATURATA', ccd.saturateAdu, 'saturation (ADU), amplifier A');
  h.set('SATURATB', ccd.saturateAdu, 'saturation (ADU), amplifier B');
  h.set('AVSKY', Math.round(r.skyAdu * 100) / 100, 'mean sky level (ADU)');
  h.set('PIXSCAL1', cfg.camera.pixelScaleArcsec, 'arcsec/pixel');
  h.set('PIXSCAL2', cfg.camera.pixelScaleArcsec, 'arcsec/pixel');
  if (kind === 'ooi') h.set('BUNIT', 'adu');
  if (kind === 'oow') h.set('BUNIT', 'adu**-2', 'inverse variance');
  if (kind === 'ood') for (const [name, bit] of Object.entries(MASK_BITS)) h.set(`MASK_${name}`.slice(0, 8), bit, `mask bit value: ${name}`);
  const hg = new CcdGeometry(cfg.camera, ccd, exp.headerPointing);
  hg.wcs.toHeader(h);
  return h;
}

/** Dither seed for the quantization of one HDU (deterministic, 1..10000). */
function ditherSeed(expnum: number, ccdnum: number): number {
  return ((expnum * 131 + ccdnum * 7) % 10000) + 1;
}

/** Encoded HDU bytes (no primary) of a rendered CCD for the three products. */
export interface EncodedCcd {
  ooi: Uint8Array[];
  oow: Uint8Array[];
  ood: Uint8Array[];
}

/** Quantization step of a weight map: 1e-4 of its largest value. */
function weightStep(w: Float32Array): number {
  let m = 0;
  for (let i = 0; i < w.length; i++) if (w[i]! > m) m = w[i]!;
  return m > 0 ? m * 1e-4 : 1e-10;
}

export function encodeCcd(cfg: SurveyConfig, exp: ExposurePlan, r: RenderedCcd): EncodedCcd {
  const shape = [r.width, r.height];
  const enc = (kind: ProductKind, data: Float32Array | Int16Array, compress: Record<string, unknown>) => {
    const chunks = encodeFits([{ kind: 'image', header: ccdHeader(cfg, exp, r.ccd, kind, r), data, shape, extname: r.ccd.name, compress }]);
    return chunks.slice(1); // drop the empty primary header encodeFits adds before a compressed HDU
  };
  return {
    ooi: enc('ooi', r.image, { type: 'RICE_1', quantizeLevel: 16, dither: 'SUBTRACTIVE_DITHER_1', ditherSeed: ditherSeed(exp.expnum, r.ccd.ccdnum) }),
    // The weight is smooth: quantize with an absolute step of 1e-4 of its largest value, without
    // dithering (a tile holding masked zeros gets ZZERO = 0, so the zeros stay exactly zero).
    oow: enc('oow', r.weight, { type: 'RICE_1', quantizeLevel: -weightStep(r.weight), dither: 'NO_DITHER' }),
    ood: enc('ood', r.mask, { type: 'RICE_1' }),
  };
}

/** Bytes of an exposure's primary HDU. */
export function encodePrimary(cfg: SurveyConfig, exp: ExposurePlan, kind: ProductKind, nccd: number): Uint8Array[] {
  return encodeFits([{ kind: 'image', header: primaryHeader(cfg, exp, kind, nccd), data: null, shape: [] }]);
}

