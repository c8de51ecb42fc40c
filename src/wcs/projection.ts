/**
 * Spherical projections of Calabretta & Greisen (2002, "Paper II"): the map between
 * projection-plane coordinates (x, y), in degrees, and the native spherical direction (φ, θ).
 *
 * The native direction is carried as the unit-vector triple
 *   a = cosθ·sinφ,  b = cosθ·cosφ,  c = sinθ
 * rather than as angles: the zenithal projections are then purely algebraic (no trig per
 * point), precision does not degrade near the native pole, and the rotation to celestial
 * coordinates needs no sin/cos of φ. A point outside a projection's domain gives NaN.
 */
import { TesseraError } from '../util/errors.js';

export const PROJECTIONS = ['TAN', 'SIN', 'ARC', 'ZEA', 'STG', 'CAR', 'AIT'] as const;
export type ProjectionCode = (typeof PROJECTIONS)[number];

const R2D = 180 / Math.PI;
const HALF_PI = Math.PI / 2;

/** Native latitude θ0 of the fiducial point, degrees (Paper II, Table 13). */
export function theta0Deg(code: ProjectionCode): number {
  return code === 'CAR' || code === 'AIT' ? 0 : 90;
}

export function parseProjectionCode(code: string, where: string): ProjectionCode {
  if ((PROJECTIONS as readonly string[]).includes(code)) return code as ProjectionCode;
  throw new TesseraError(`${where}: projection '${code}' is not supported (supported: ${PROJECTIONS.join(', ')}, with -SIP or -TPV distortions on TAN)`);
}

export class Projection {
  readonly code: ProjectionCode;
  /** SIN slant parameters ξ = PV2_1, η = PV2_2 (both zero: orthographic). */
  readonly sinXi: number;
  readonly sinEta: number;
  private readonly kind: number;

  constructor(code: ProjectionCode, sinXi = 0, sinEta = 0) {
    this.code = code;
    this.sinXi = sinXi;
    this.sinEta = sinEta;
    this.kind = PROJECTIONS.indexOf(code);
  }

  /** (x, y) degrees → out = [cosθ sinφ, cosθ cosφ, sinθ]; NaN outside the domain. */
  toNative(x: number, y: number, out: Float64Array): void {
    let a = NaN;
    let b = NaN;
    let c = NaN;
    switch (this.kind) {
      case 0: { // TAN: the unit vector along (x, -y, R2D)
        const n = 1 / Math.sqrt(x * x + y * y + R2D * R2D);
        a = x * n;
        b = -y * n;
        c = R2D * n;
        break;
      }
      case 1: { // SIN
        const X = x / R2D;
        const Y = y / R2D;
        const xi = this.sinXi;
        const eta = this.sinEta;
        if (xi === 0 && eta === 0) {
          const r2 = X * X + Y * Y;
          if (r2 > 1 + 1e-13) break;
          a = X;
          b = -Y;
          c = Math.sqrt(Math.max(0, 1 - r2));
        } else {
          const qa = xi * xi + eta * eta + 1;
          const qb = xi * (X - xi) + eta * (Y - eta);
          const qc = (X - xi) * (X - xi) + (Y - eta) * (Y - eta) - 1;
          const disc = qb * qb - qa * qc;
          if (disc < 0) break;
          const sq = Math.sqrt(disc);
          let s = (-qb + sq) / qa;
          if (s > 1 + 1e-13) s = (-qb - sq) / qa;
          if (s > 1 + 1e-13 || s < -1 - 1e-13) break;
          s = Math.max(-1, Math.min(1, s));
          const z = 1 - s;
          a = X - xi * z;
          b = eta * z - Y;
          c = s;
        }
        break;
      }
      case 2: { // ARC: θ = 90° − R
        const r = Math.sqrt(x * x + y * y);
        if (r > 180 + 1e-12) break;
        const rr = r / R2D;
        const k = r === 0 ? 1 / R2D : Math.sin(rr) / r;
        a = x * k;
        b = -y * k;
        c = Math.cos(rr);
        break;
      }
      case 3: { // ZEA: θ = 90° − 2 asin(R / 2R2D)
        const w2 = (x * x + y * y) / (4 * R2D * R2D);
        if (w2 > 1 + 1e-13) break;
        const k = Math.sqrt(Math.max(0, 1 - w2)) / R2D; // cosθ / R
        a = x * k;
        b = -y * k;
        c = 1 - 2 * w2;
        break;
      }
      case 4: { // STG: θ = 90° − 2 atan(R / 2R2D)
        const t2 = (x * x + y * y) / (4 * R2D * R2D);
        const k = 1 / (R2D * (1 + t2));
        a = x * k;
        b = -y * k;
        c = (1 - t2) / (1 + t2);
        break;
      }
      case 5: { // CAR
        if (Math.abs(y) > 90 + 1e-12) break;
        const phi = x / R2D;
        const th = y / R2D;
        const ct = Math.cos(th);
        a = ct * Math.sin(phi);
        b = ct * Math.cos(phi);
        c = Math.sin(th);
        break;
      }
      case 6: { // AIT
        const X = x / R2D;
        const Y = y / R2D;
        const z2 = 1 - (X / 4) * (X / 4) - (Y / 2) * (Y / 2);
        if (z2 < 0.5 - 1e-13) break;
        const z = Math.sqrt(Math.max(z2, 0.5));
        const phi = 2 * Math.atan2(z * X / 2, 2 * z * z - 1);
        const s = Math.max(-1, Math.min(1, Y * z));
        const ct = Math.sqrt(1 - s * s);
        a = ct * Math.sin(phi);
        b = ct * Math.cos(phi);
        c = s;
        break;
      }
    }
    out[0] = a;
    out[1] = b;
    out[2] = c;
  }

  /** Native direction (a, b, c) as above → out = (x, y) degrees; NaN where it does not project. */
  fromNative(a: number, b: number, c: number, out: Float64Array): void {
    let x = NaN;
    let y = NaN;
    switch (this.kind) {
      case 0: { // TAN
        if (c <= 0) break;
        const k = R2D / c;
        x = a * k;
        y = -b * k;
        break;
      }
      case 1: { // SIN
        const xi = this.sinXi;
        const eta = this.sinEta;
        if (xi === 0 && eta === 0) {
          if (c < 0) break;
          x = R2D * a;
          y = -R2D * b;
        } else {
          const z = 1 - c;
          x = R2D * (a + xi * z);
          y = -R2D * (b - eta * z);
        }
        break;
      }
      case 2: { // ARC: R = 90° − θ
        const ct = Math.sqrt(a * a + b * b);
        const k = ct < 1e-15 ? R2D : R2D * Math.atan2(ct, c) / ct;
        if (ct < 1e-15 && c < 0) break; // the antipode has no unique image
        x = a * k;
        y = -b * k;
        break;
      }
      case 3: { // ZEA: R = R2D·cosθ·sqrt(2/(1+sinθ))
        if (1 + c <= 0) break;
        const k = R2D * Math.sqrt(2 / (1 + c));
        x = a * k;
        y = -b * k;
        break;
      }
      case 4: { // STG: R = 2·R2D·cosθ/(1+sinθ)
        if (1 + c <= 1e-15) break;
        const k = 2 * R2D / (1 + c);
        x = a * k;
        y = -b * k;
        break;
      }
      case 5: { // CAR
        x = Math.atan2(a, b) * R2D;
        y = Math.atan2(c, Math.sqrt(a * a + b * b)) * R2D;
        break;
      }
      case 6: { // AIT
        const phi = Math.atan2(a, b);
        const ct = Math.sqrt(a * a + b * b);
        const g = R2D * Math.sqrt(2 / (1 + ct * Math.cos(phi / 2)));
        x = 2 * g * ct * Math.sin(phi / 2);
        y = g * c;
        break;
      }
    }
    out[0] = x;
    out[1] = y;
  }
}

export { HALF_PI, R2D };
