/**
 * The optical model of one exposure: where a CCD pixel looks on the sky.
 *
 * pixel (i, j) [0-based] → focal plane (mm) → undistorted angles (u, v) [deg] →
 * rotation by the camera position angle → (ξ_lin, η_lin) → radial + quadratic distortion →
 * standard coordinates (ξ, η) → gnomonic deprojection about the boresight.
 *
 * This is exactly a TAN+TPV WCS per CCD (CRVAL = boresight, CRPIX = where the optical axis
 * falls in the CCD's pixel grid, CD = scale·rotation, PV = the distortion): `tpvParams()`
 * gives its parameters and every sky↔pixel mapping goes through that `Wcs` (src/wcs), the
 * same object that is written into the truth tables.
 *
 * Focal-plane x (the CCD column axis) points to +Dec and y (rows) to +RA when the position
 * angle is 0 (standard sky parity: det CD < 0).
 */

import type { CameraModel, CcdSpec } from './camera.js';
import { degPerMm } from './camera.js';
import { Wcs } from '../wcs/index.js';

const D2R = Math.PI / 180;

/** Pointing of the optical axis. */
export interface Pointing {
  raDeg: number;
  decDeg: number;
  /** Rotation of the camera on the sky (deg), 0 = focal x to north. */
  rotDeg: number;
}

/** The parameters of a TAN+TPV WCS for one CCD (FITS conventions: CRPIX 1-based). */
export interface TpvParams {
  crval: [number, number];
  crpix: [number, number];
  /** [[CD1_1, CD1_2], [CD2_1, CD2_2]] in deg/px. */
  cd: [[number, number], [number, number]];
  /** PV1_0..PV1_11 and PV2_0..PV2_11. */
  pv1: number[];
  pv2: number[];
}

export class CcdGeometry {
  readonly s: number; // deg per pixel at the axis
  /** 0-based pixel coordinates of the optical axis in this CCD's grid. */
  readonly i0: number;
  readonly j0: number;
  /** The WCS of this CCD for this pointing (TAN+TPV). */
  readonly wcs: Wcs;
  private readonly cosR: number;
  private readonly sinR: number;
  private readonly k3: number;
  private readonly q1: number;
  private readonly q2: number;
  private readonly ra0: number;
  private readonly dec0: number;

  constructor(readonly camera: CameraModel, readonly ccd: CcdSpec, readonly pointing: Pointing) {
    const dpm = degPerMm(camera);
    this.s = dpm * camera.pixelSizeMm;
    this.i0 = (ccd.width - 1) / 2 - ccd.xCenterMm / camera.pixelSizeMm;
    this.j0 = (ccd.height - 1) / 2 - ccd.yCenterMm / camera.pixelSizeMm;
    this.cosR = Math.cos(pointing.rotDeg * D2R);
    this.sinR = Math.sin(pointing.rotDeg * D2R);
    this.k3 = camera.distortionK3;
    this.q1 = camera.distortionQ1;
    this.q2 = camera.distortionQ2;
    this.ra0 = pointing.raDeg;
    this.dec0 = pointing.decDeg;
    const p = this.tpvParams();
    this.wcs = Wcs.tpv({ crval: p.crval, crpix: p.crpix, cd: p.cd, pv1: p.pv1, pv2: p.pv2, naxis: [ccd.width, ccd.height] });
  }

  /** TAN+TPV parameters equivalent to this geometry. */
  tpvParams(): TpvParams {
    const s = this.s, c = this.cosR, n = this.sinR;
    const pv1 = new Array<number>(12).fill(0);
    const pv2 = new Array<number>(12).fill(0);
    pv1[1] = 1; pv2[1] = 1;
    pv1[4] = this.q1; // ξ²
    pv2[4] = this.q2; // η² (axis-2 terms have ξ and η swapped)
    pv1[7] = this.k3; pv1[9] = this.k3; // ξ³ + ξη²
    pv2[7] = this.k3; pv2[9] = this.k3; // η³ + ηξ²
    return {
      crval: [this.ra0, this.dec0],
      crpix: [this.i0 + 1, this.j0 + 1],
      cd: [[-n * s, c * s], [c * s, n * s]],
      pv1, pv2,
    };
  }

  /** Pixel (0-based) → (ra, dec) degrees. */
  pixToSky(i: number, j: number): [number, number] {
    return this.wcs.pixToSkyOne(i, j, 0);
  }

  /** Sky → pixel (0-based) for arrays (NaN for points that do not project). */
  skyToPix(ra: ArrayLike<number>, dec: ArrayLike<number>): { x: Float64Array; y: Float64Array } {
    return this.wcs.skyToPix(ra, dec, 0);
  }

  /** Focal-plane position of a pixel normalised by the field radius (for PSF/sky variations). */
  focalNorm(i: number, j: number): [number, number] {
    const pm = this.camera.pixelSizeMm, R = this.camera.fieldRadiusDeg / degPerMm(this.camera);
    const xm = this.ccd.xCenterMm + (i - (this.ccd.width - 1) / 2) * pm;
    const ym = this.ccd.yCenterMm + (j - (this.ccd.height - 1) / 2) * pm;
    return [xm / R, ym / R];
  }

  /** Sky positions of the four corners and the centre (for footprints). */
  corners(): [number, number][] {
    const w = this.ccd.width, h = this.ccd.height;
    return [[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]].map(([i, j]) => this.pixToSky(i!, j!));
  }
}
