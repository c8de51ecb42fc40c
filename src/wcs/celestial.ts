/**
 * The spherical rotation between native (φ, θ) and celestial (α, δ) coordinates, and the
 * position of the native pole (Calabretta & Greisen 2002, §2.2–2.4). Angles in degrees.
 */
import { TesseraError } from '../util/errors.js';

const D2R = Math.PI / 180;
const R2D = 180 / Math.PI;
const TOL = 1e-10;

function wrap180(x: number): number {
  if (x > 180) return x - 360;
  if (x < -180) return x + 360;
  return x;
}

export interface CelestialPole {
  /** Celestial coordinates of the native pole (αp, δp), degrees. */
  alphaP: number;
  deltaP: number;
  /** Native longitude of the celestial pole (LONPOLE, φp), degrees. */
  phiP: number;
}

/**
 * Native pole for a reference point (α0, δ0) at native (φ0, θ0), with LONPOLE / LATPOLE as given
 * or defaulted as in Paper II: φp = φ0 when δ0 ≥ θ0, else φ0 + 180°; LATPOLE defaults to +90°
 * and picks between the two solutions for δp when the projection is not zenithal.
 */
export function celestialPole(alpha0: number, delta0: number, theta0: number, lonpole?: number, latpole?: number, where = 'WCS'): CelestialPole {
  const phi0 = 0;
  const phiP = lonpole ?? (delta0 < theta0 ? phi0 + 180 : phi0);
  if (theta0 === 90) return { alphaP: alpha0, deltaP: delta0, phiP };

  const latIn = latpole ?? 90;
  const slat0 = Math.sin(delta0 * D2R);
  const clat0 = Math.cos(delta0 * D2R);
  const sthe0 = Math.sin(theta0 * D2R);
  const cthe0 = Math.cos(theta0 * D2R);
  let sphip: number;
  let u = 0;
  let v = 0;
  let latp: number;
  let determined = true;
  if (phiP === phi0) {
    sphip = 0;
    u = theta0;
    v = 90 - delta0;
  } else {
    sphip = Math.sin((phiP - phi0) * D2R);
    const cphip = Math.cos((phiP - phi0) * D2R);
    const x = cthe0 * cphip;
    const y = sthe0;
    const z = Math.sqrt(x * x + y * y);
    if (z === 0) {
      if (slat0 !== 0) throw new TesseraError(`${where}: LONPOLE/CRVAL give no valid celestial pole`);
      determined = false;
    } else {
      let t = slat0 / z;
      if (Math.abs(t) > 1) {
        if (Math.abs(t) > 1 + TOL) throw new TesseraError(`${where}: LONPOLE ${phiP} is inconsistent with CRVAL2 ${delta0} (no celestial pole)`);
        t = Math.sign(t);
      }
      u = Math.atan2(y, x) * R2D;
      v = Math.acos(t) * R2D;
    }
  }
  if (determined) {
    const l1 = wrap180(u + v);
    const l2 = wrap180(u - v);
    if (Math.abs(latIn - l1) < Math.abs(latIn - l2)) latp = Math.abs(l1) < 90 + TOL ? l1 : l2;
    else latp = Math.abs(l2) < 90 + TOL ? l2 : l1;
  } else {
    latp = latIn;
  }
  if (Math.abs(latp) > 90 + TOL) throw new TesseraError(`${where}: no valid celestial pole for LONPOLE ${phiP} with CRVAL2 ${delta0} (ill-conditioned LONPOLE/LATPOLE)`);
  latp = Math.max(-90, Math.min(90, latp));

  let alphaP: number;
  const z = Math.cos(latp * D2R) * clat0;
  if (Math.abs(z) < TOL) {
    if (Math.abs(clat0) < TOL) alphaP = alpha0;
    else if (latp > 0) alphaP = alpha0 + phiP - phi0 - 180;
    else alphaP = alpha0 - phiP + phi0;
  } else {
    const x = (sthe0 - Math.sin(latp * D2R) * slat0) / z;
    const y = sphip * cthe0 / clat0;
    alphaP = alpha0 - Math.atan2(y, x) * R2D;
  }
  return { alphaP, deltaP: latp, phiP };
}
