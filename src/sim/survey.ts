/**
 * Survey configuration and plan: which exposures are taken, when, where and in what conditions.
 */

import type { CameraModel } from './camera.js';
import { decamCamera, smallCamera } from './camera.js';
import { BAND_INFO, type Band } from './bands.js';
import type { Pointing } from './geometry.js';
import { Rng } from './rng.js';

export interface SourceDensities {
  /** Stars per deg² brighter than G = 20. */
  starsPerDeg2: number;
  /** Brightest and faintest star drawn (Gaia G). */
  starGRange: [number, number];
  /** Galaxies per deg² in the r range below. */
  galaxiesPerDeg2: number;
  galaxyRRange: [number, number];
  /** Number of SN-like transients (placed in the search footprint). */
  transients: number;
  /** Range of their peak r magnitudes (default 19.5–22.5). */
  transientPeakMag?: [number, number];
  /** Number of periodic variable stars (chosen among stars 15 < G < 21). */
  variables: number;
  /** Number of moving objects (asteroids). */
  asteroids: number;
}

export interface ArtefactRates {
  /** Cosmic rays per Mpix per 100 s of exposure. */
  cosmicRaysPerMpix100s: number;
  /** Probability that an exposure has a satellite trail. */
  satelliteProb: number;
  /** Bad columns per CCD (mean; fixed defects of the detector). */
  badColumnsPerCcd: number;
  /** Hot pixels per Mpix (fixed defects). */
  hotPixelsPerMpix: number;
}

export interface SurveyConfig {
  seed: number | string;
  camera: CameraModel;
  /** Field centre (deg). */
  fieldRaDeg: number;
  fieldDecDeg: number;
  bands: Band[];
  /** Template epochs and search epochs; each epoch has one exposure per band. */
  templateEpochs: number;
  searchEpochs: number;
  exptime: number;
  startMjd: number;
  firstExpnum: number;
  /** Dither of the true pointing between exposures (arcsec, rms per axis). */
  ditherArcsec: number;
  /** Error of the header WCS: pointing (arcsec, rms per axis) and rotation (deg, rms). */
  pointingErrorArcsec: number;
  rotationErrorDeg: number;
  /** Median seeing FWHM in r (arcsec). */
  seeingArcsec: number;
  sources: SourceDensities;
  artefacts: ArtefactRates;
  /** Only render these CCD numbers (default: all). */
  ccdnums?: number[];
  /** Keep only the first N exposures of the plan. */
  maxExposures?: number;
  /**
   * Tile the sky instead of revisiting one field: nx × ny pointings spaced by stepDeg on the
   * tangent plane about the field centre; every epoch visits every tile in every band.
   */
  tiling?: { nx: number; ny: number; stepDeg: number };
}

export type Role = 'template' | 'search';

export interface ExposurePlan {
  index: number;
  expnum: number;
  band: Band;
  role: Role;
  epoch: number;
  /** Tile index (0 when the survey revisits one field). */
  tile: number;
  mjd: number;
  /** DATE-OBS (UTC, from the MJD). */
  dateObs: string;
  exptime: number;
  airmass: number;
  /** Seeing FWHM at the field centre (arcsec). */
  seeingArcsec: number;
  /** Sky brightness (AB mag/arcsec²). */
  skyMag: number;
  /** Transparency (1 = photometric). */
  transparency: number;
  /** AB magnitude giving 1 e−/s at this exposure (before CCD throughput). */
  zpElectrons: number;
  /** True pointing and the one written in headers ("as the telescope gives it"). */
  pointing: Pointing;
  headerPointing: Pointing;
  /** Sky gradient across the focal plane (fraction per field radius) in x and y. */
  skyGradient: [number, number];
  /** Constant PSF ellipticity (tracking/wind) and FWHM tilt across the field. */
  psfE0: [number, number];
  psfTilt: [number, number];
  satellite: boolean;
}

export interface SurveyPlan {
  config: SurveyConfig;
  exposures: ExposurePlan[];
}

/** Inverse gnomonic projection: standard coordinates (deg) about (ra0, dec0) → (ra, dec). */
function tangentToSky(ra0: number, dec0: number, xiDeg: number, etaDeg: number): [number, number] {
  const r = Math.PI / 180;
  const xi = xiDeg * r, eta = etaDeg * r, a0 = ra0 * r, d0 = dec0 * r;
  const X = Math.cos(d0) * Math.cos(a0) - xi * Math.sin(a0) - eta * Math.sin(d0) * Math.cos(a0);
  const Y = Math.cos(d0) * Math.sin(a0) + xi * Math.cos(a0) - eta * Math.sin(d0) * Math.sin(a0);
  const Z = Math.sin(d0) + eta * Math.cos(d0);
  let ra = Math.atan2(Y, X) / r;
  if (ra < 0) ra += 360;
  return [ra, Math.atan2(Z, Math.hypot(X, Y)) / r];
}

/** MJD → 'YYYY-MM-DDThh:mm:ss.sss' (UTC). */
export function mjdToIso(mjd: number): string {
  const ms = Math.round((mjd - 40587) * 86400000);
  return new Date(ms).toISOString().replace('Z', '');
}

/** Build the exposure list of a survey (deterministic from the seed). */
export function planSurvey(config: SurveyConfig): SurveyPlan {
  const rng = new Rng(config.seed, 'plan');
  const exposures: ExposurePlan[] = [];
  const nT = config.templateEpochs, nS = config.searchEpochs;
  let expnum = config.firstExpnum;
  const til = config.tiling ?? { nx: 1, ny: 1, stepDeg: 0 };
  if (!(til.nx >= 1 && til.ny >= 1 && Number.isInteger(til.nx) && Number.isInteger(til.ny))) throw new Error('tiling: nx and ny must be positive integers');
  const tiles: [number, number][] = [];
  for (let j = 0; j < til.ny; j++) for (let i = 0; i < til.nx; i++) {
    const xi = (i - (til.nx - 1) / 2) * til.stepDeg, eta = (j - (til.ny - 1) / 2) * til.stepDeg;
    tiles.push(tangentToSky(config.fieldRaDeg, config.fieldDecDeg, xi, eta));
  }
  for (let e = 0; e < nT + nS; e++) {
    const role: Role = e < nT ? 'template' : 'search';
    // Templates every ~3 nights from startMjd; searches start 45 days later, every ~3 nights.
    const night = role === 'template' ? e * 3 : 45 + (e - nT) * 3;
    const t0 = config.startMjd + night + 0.05 + 0.25 * rng.uniform();
    let slot = 0;
    for (let b = 0; b < config.bands.length; b++) {
      for (let tile = 0; tile < tiles.length; tile++, slot++) {
        const [fra, fdec] = tiles[tile]!;
        const band = config.bands[b]!;
        const info = BAND_INFO[band];
        const mjd = t0 + slot * (config.exptime + 30) / 86400;
        const airmass = 1.0 + 0.5 * rng.uniform();
        const seeingR = config.seeingArcsec * Math.exp(0.15 * rng.normal()) * (role === 'template' ? 0.9 : 1.0);
        const seeing = Math.max(0.6, seeingR * info.seeingFactor * Math.pow(airmass, 0.6));
        const skyMag = info.sky0 + 0.15 * rng.normal() - (rng.bool(0.2) ? 0.5 * rng.uniform() : 0);
        const transparency = role === 'template' ? 0.96 + 0.04 * rng.uniform() : 0.8 + 0.2 * rng.uniform();
        const zpElectrons = info.zp0 - info.kExt * (airmass - 1) + 2.5 * Math.log10(transparency);
        const d = config.ditherArcsec / 3600;
        const cosd = Math.cos(fdec * Math.PI / 180);
        const pointing: Pointing = {
          raDeg: fra + rng.gauss(0, d) / cosd,
          decDeg: fdec + rng.gauss(0, d),
          rotDeg: rng.gauss(0, 0.01),
        };
        const pe = config.pointingErrorArcsec / 3600;
        const headerPointing: Pointing = {
          raDeg: pointing.raDeg + rng.gauss(0, pe) / Math.cos(pointing.decDeg * Math.PI / 180),
          decDeg: pointing.decDeg + rng.gauss(0, pe),
          rotDeg: pointing.rotDeg + rng.gauss(0, config.rotationErrorDeg),
        };
        if (pointing.raDeg < 0) pointing.raDeg += 360; else if (pointing.raDeg >= 360) pointing.raDeg -= 360;
        if (headerPointing.raDeg < 0) headerPointing.raDeg += 360; else if (headerPointing.raDeg >= 360) headerPointing.raDeg -= 360;
        exposures.push({
          index: exposures.length, expnum: expnum++, band, role, epoch: e, tile, mjd, dateObs: mjdToIso(mjd),
          exptime: config.exptime, airmass, seeingArcsec: seeing, skyMag, transparency, zpElectrons,
          pointing, headerPointing,
          skyGradient: [rng.gauss(0, 0.02), rng.gauss(0, 0.02)],
          psfE0: [rng.gauss(0, 0.02), rng.gauss(0, 0.02)],
          psfTilt: [rng.gauss(0, 0.03), rng.gauss(0, 0.03)],
          satellite: rng.bool(config.artefacts.satelliteProb),
        });
      }
    }
  }
  if (config.maxExposures !== undefined) exposures.length = Math.min(exposures.length, config.maxExposures);
  return { config, exposures };
}

/** Search-window MJD range (first to last search exposure). */
export function searchWindow(plan: SurveyPlan): [number, number] {
  const s = plan.exposures.filter((e) => e.role === 'search').map((e) => e.mjd);
  if (!s.length) {
    const all = plan.exposures.map((e) => e.mjd);
    return [Math.min(...all), Math.max(...all)];
  }
  return [Math.min(...s), Math.max(...s)];
}

export interface PresetOptions {
  seed?: number | string;
  fieldRaDeg?: number;
  fieldDecDeg?: number;
  bands?: Band[];
}

/**
 * The small preset: 2 CCDs of 1024×1024, 2 template + 3 search epochs in r, a dense star
 * field (enough Gaia stars per CCD to calibrate), a dozen transients. A few seconds.
 */
export function smallPreset(opts: PresetOptions = {}): SurveyConfig {
  return {
    seed: opts.seed ?? 1,
    camera: smallCamera({ nccd: 2, width: 1024, height: 1024 }),
    fieldRaDeg: opts.fieldRaDeg ?? 150.1,
    fieldDecDeg: opts.fieldDecDeg ?? 2.2,
    bands: opts.bands ?? ['r'],
    templateEpochs: 2,
    searchEpochs: 3,
    exptime: 90,
    startMjd: 60200,
    firstExpnum: 900001,
    ditherArcsec: 15,
    pointingErrorArcsec: 20,
    rotationErrorDeg: 0.02,
    seeingArcsec: 1.0,
    sources: {
      starsPerDeg2: 12000, starGRange: [14, 23], galaxiesPerDeg2: 40000, galaxyRRange: [17, 24],
      transients: 12, variables: 4, asteroids: 2,
    },
    artefacts: { cosmicRaysPerMpix100s: 3, satelliteProb: 0.2, badColumnsPerCcd: 1, hotPixelsPerMpix: 5 },
  };
}

/** A DECam survey: full 62-CCD camera, field at high Galactic latitude. */
export function decamPreset(opts: PresetOptions = {}): SurveyConfig {
  return {
    seed: opts.seed ?? 1,
    camera: decamCamera(),
    fieldRaDeg: opts.fieldRaDeg ?? 150.1,
    fieldDecDeg: opts.fieldDecDeg ?? 2.2,
    bands: opts.bands ?? ['g', 'r', 'i'],
    templateEpochs: 1,
    searchEpochs: 1,
    exptime: 90,
    startMjd: 60200,
    firstExpnum: 900001,
    ditherArcsec: 60,
    pointingErrorArcsec: 30,
    rotationErrorDeg: 0.03,
    seeingArcsec: 1.0,
    sources: {
      starsPerDeg2: 2000, starGRange: [12, 24], galaxiesPerDeg2: 30000, galaxyRRange: [17, 24],
      transients: 60, variables: 100, asteroids: 2,
    },
    artefacts: { cosmicRaysPerMpix100s: 2, satelliteProb: 0.1, badColumnsPerCcd: 0.5, hotPixelsPerMpix: 3 },
  };
}

export const presets = { small: smallPreset, decam: decamPreset };
