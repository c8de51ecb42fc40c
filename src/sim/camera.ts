/**
 * Cameras for the simulator: the DECam focal plane and small test cameras.
 *
 * Focal-plane coordinates are in mm, with the optical axis at (0, 0); a CCD's pixel (i, j)
 * (0-based, pixel centres at integers) sits at
 *     xMm = xCenterMm + (i − (width − 1)/2) · pixelSizeMm
 *     yMm = yCenterMm + (j − (height − 1)/2) · pixelSizeMm.
 *
 * DECam CCD centres: the table of A. Roodman's `decaminfo.py` (SLAC, 2012; "fixed these to agree
 * with the DS9 coordinate system"), used by the DES wavefront/donut software (donutlib,
 * WavefrontPSF): 15 µm pixels, 2048×4096 science CCDs, CCDNUM 1 = S29 ... 62 = N31, N at +x.
 * Columns (the 2048 axis) run along focal-plane x, rows (4096) along y.
 */

import { hash32 } from './rng.js';

export interface CcdSpec {
  /** EXTNAME, e.g. 'N4', 'S31' (small cameras: 'C1', 'C2', ...). */
  name: string;
  ccdnum: number;
  width: number;
  height: number;
  /** Centre of the CCD on the focal plane (mm). */
  xCenterMm: number;
  yCenterMm: number;
  /** e−/ADU. */
  gain: number;
  /** Read noise in e−. */
  readNoiseE: number;
  /** Saturation level in ADU (the SATURATE keyword); full well = saturate·gain. */
  saturateAdu: number;
  /** Relative throughput of this CCD (QE × filter); multiplies source and sky counts. */
  throughput: number;
}

export interface CameraModel {
  name: string;
  /** INSTRUME keyword. */
  instrument: string;
  /** Pixel scale at the optical axis (arcsec/px). */
  pixelScaleArcsec: number;
  pixelSizeMm: number;
  ccds: CcdSpec[];
  /**
   * Radial optical distortion of the tangent-plane coordinates, as in TPV:
   * ξ = u (1 + k3 r²) with u, r the undistorted focal-plane angles in degrees (k3 in deg⁻²).
   */
  distortionK3: number;
  /** Small quadratic distortion terms (deg⁻¹): ξ += q1 u², η += q2 v². */
  distortionQ1: number;
  distortionQ2: number;
  /** Radius (deg) used to normalise focal-plane variations (PSF, sky gradient). */
  fieldRadiusDeg: number;
}

/** [name, xCenterMm, yCenterMm, ccdnum] from decaminfo.py (see header comment). */
const DECAM_LAYOUT: readonly (readonly [string, number, number, number])[] = [
  ['S1', -16.908, -191.670, 25], ['S2', -16.908, -127.780, 26], ['S3', -16.908, -63.890, 27],
  ['S4', -16.908, 0.0, 28], ['S5', -16.908, 63.890, 29], ['S6', -16.908, 127.780, 30],
  ['S7', -16.908, 191.670, 31], ['S8', -50.724, -159.725, 19], ['S9', -50.724, -95.835, 20],
  ['S10', -50.724, -31.945, 21], ['S11', -50.724, 31.945, 22], ['S12', -50.724, 95.835, 23],
  ['S13', -50.724, 159.725, 24], ['S14', -84.540, -159.725, 13], ['S15', -84.540, -95.835, 14],
  ['S16', -84.540, -31.945, 15], ['S17', -84.540, 31.945, 16], ['S18', -84.540, 95.835, 17],
  ['S19', -84.540, 159.725, 18], ['S20', -118.356, -127.780, 8], ['S21', -118.356, -63.890, 9],
  ['S22', -118.356, 0.0, 10], ['S23', -118.356, 63.890, 11], ['S24', -118.356, 127.780, 12],
  ['S25', -152.172, -95.835, 4], ['S26', -152.172, -31.945, 5], ['S27', -152.172, 31.945, 6],
  ['S28', -152.172, 95.835, 7], ['S29', -185.988, -63.890, 1], ['S30', -185.988, 0.0, 2],
  ['S31', -185.988, 63.890, 3],
  ['N1', 16.908, -191.670, 32], ['N2', 16.908, -127.780, 33], ['N3', 16.908, -63.890, 34],
  ['N4', 16.908, 0.0, 35], ['N5', 16.908, 63.890, 36], ['N6', 16.908, 127.780, 37],
  ['N7', 16.908, 191.670, 38], ['N8', 50.724, -159.725, 39], ['N9', 50.724, -95.835, 40],
  ['N10', 50.724, -31.945, 41], ['N11', 50.724, 31.945, 42], ['N12', 50.724, 95.835, 43],
  ['N13', 50.724, 159.725, 44], ['N14', 84.540, -159.725, 45], ['N15', 84.540, -95.835, 46],
  ['N16', 84.540, -31.945, 47], ['N17', 84.540, 31.945, 48], ['N18', 84.540, 95.835, 49],
  ['N19', 84.540, 159.725, 50], ['N20', 118.356, -127.780, 51], ['N21', 118.356, -63.890, 52],
  ['N22', 118.356, 0.0, 53], ['N23', 118.356, 63.890, 54], ['N24', 118.356, 127.780, 55],
  ['N25', 152.172, -95.835, 56], ['N26', 152.172, -31.945, 57], ['N27', 152.172, 31.945, 58],
  ['N28', 152.172, 95.835, 59], ['N29', 185.988, -63.890, 60], ['N30', 185.988, 0.0, 61],
  ['N31', 185.988, 63.890, 62],
];

/** Per-CCD electronics: gain 3.6–4.4 e/ADU, read noise 6–8 e−, SATURATE 35k–45k ADU; fixed per CCD. */
function electronics(name: string): Pick<CcdSpec, 'gain' | 'readNoiseE' | 'saturateAdu' | 'throughput'> {
  const h = hash32('ccd-electronics', name);
  const u1 = (h & 0xff) / 255, u2 = ((h >>> 8) & 0xff) / 255, u3 = ((h >>> 16) & 0xff) / 255, u4 = ((h >>> 24) & 0xff) / 255;
  return {
    gain: Math.round((3.6 + 0.8 * u1) * 1000) / 1000,
    readNoiseE: Math.round((6 + 2 * u2) * 100) / 100,
    saturateAdu: Math.round(35000 + 10000 * u3),
    throughput: 1 + 0.03 * (u4 - 0.5),
  };
}

/**
 * The DECam camera: 62 science CCDs of 2048×4096, 0.263″/px at the axis, with a radial
 * TPV-like distortion giving ≈13″ displacement and ≈1% scale change at the field edge (1.1°).
 */
export function decamCamera(): CameraModel {
  const ccds: CcdSpec[] = DECAM_LAYOUT.map(([name, x, y, ccdnum]) => ({
    name, ccdnum, width: 2048, height: 4096, xCenterMm: x, yCenterMm: y, ...electronics(name),
  }));
  ccds.sort((a, b) => a.ccdnum - b.ccdnum);
  return {
    name: 'decam', instrument: 'DECam', pixelScaleArcsec: 0.263, pixelSizeMm: 0.015, ccds,
    distortionK3: -0.0028, distortionQ1: 1.5e-4, distortionQ2: -1.0e-4, fieldRadiusDeg: 1.1,
  };
}

export interface SmallCameraOptions {
  /** Number of CCDs, 1–16 (default 2). */
  nccd?: number;
  width?: number;
  height?: number;
  pixelScaleArcsec?: number;
  /** Gap between CCDs in pixels (default 60). */
  gapPx?: number;
}

/**
 * A small camera for tests: nccd CCDs of width×height in a row along focal-plane x (two rows
 * when nccd > 4), named C1..Cn, same distortion law as DECam scaled to its field.
 */
export function smallCamera(opts: SmallCameraOptions = {}): CameraModel {
  const n = opts.nccd ?? 2, w = opts.width ?? 1024, h = opts.height ?? 1024;
  const scale = opts.pixelScaleArcsec ?? 0.263, gap = opts.gapPx ?? 60;
  const pix = 0.015;
  const perRow = n > 4 ? Math.ceil(n / 2) : n;
  const rows = Math.ceil(n / perRow);
  const ccds: CcdSpec[] = [];
  for (let k = 0; k < n; k++) {
    const col = k % perRow, row = Math.floor(k / perRow);
    const x = (col - (perRow - 1) / 2) * (w + gap) * pix;
    const y = (row - (rows - 1) / 2) * (h + gap) * pix;
    const name = `C${k + 1}`;
    ccds.push({ name, ccdnum: k + 1, width: w, height: h, xCenterMm: x, yCenterMm: y, ...electronics(`small-${name}`) });
  }
  let rmax = 0;
  for (const c of ccds) {
    const dx = Math.abs(c.xCenterMm) + c.width * pix / 2, dy = Math.abs(c.yCenterMm) + c.height * pix / 2;
    rmax = Math.max(rmax, Math.hypot(dx, dy));
  }
  const fieldRadiusDeg = rmax / pix * scale / 3600;
  // Same fractional distortion at the field edge as DECam: k3·R² ≈ −0.0034.
  const k3 = -0.0028 * (1.1 * 1.1) / (fieldRadiusDeg * fieldRadiusDeg);
  return {
    name: 'small', instrument: 'SIMCAM', pixelScaleArcsec: scale, pixelSizeMm: pix, ccds,
    distortionK3: k3, distortionQ1: 0, distortionQ2: 0, fieldRadiusDeg,
  };
}

/** Angle on the focal plane per mm (degrees), at the optical axis. */
export function degPerMm(cam: CameraModel): number {
  return cam.pixelScaleArcsec / cam.pixelSizeMm / 3600;
}
