/**
 * A celestial World Coordinate System for a 2-D image: FITS WCS Papers I and II (linear part,
 * projections, spherical rotation) with SIP or TPV distortions.
 *
 * Pixel convention: every method takes an `origin` — 1 for the FITS convention (centre of the
 * first pixel = 1, 1; the default) or 0 for zero-based array indices. CRPIX is always FITS.
 * Sky: (RA, Dec) in degrees; RA is returned in [0, 360).
 *
 * Reference frames: RADESYS ICRS and FK5 (J2000) are both treated as ICRS (they differ by
 * < 0.02″); FK4 and other frames are refused with an error rather than silently mis-placed.
 */
import { TesseraError } from '../util/errors.js';
import { celestialPole, type CelestialPole } from './celestial.js';
import { Sip, matrixOrder, type SipCoefficients, TPV_TERMS } from './distortion.js';
import { Tpv } from './distortion.js';
import { headerNumber, headerString, formatCard, type HeaderLike, type HeaderSink, type WcsCard } from './header.js';
import { parseProjectionCode, Projection, theta0Deg, type ProjectionCode } from './projection.js';

const D2R = Math.PI / 180;
const R2D = 180 / Math.PI;

export type Origin = 0 | 1;
/** 2×2 matrix as [m11, m12, m21, m22] or [[m11, m12], [m21, m22]]. */
export type Matrix2 = readonly [number, number, number, number] | readonly (readonly number[])[];

export type CelestialAxes = 'RA/DEC' | 'GLON/GLAT' | 'ELON/ELAT';

export interface WcsParams {
  /** Reference pixel, FITS convention. */
  crpix: readonly [number, number];
  /** Reference sky position (RA, Dec) in degrees. */
  crval: readonly [number, number];
  /** CD matrix, degrees per pixel. */
  cd: Matrix2;
  projection?: ProjectionCode;
  /** SIN slant parameters (PV2_1, PV2_2). */
  sinSlant?: readonly [number, number];
  lonpole?: number;
  latpole?: number;
  /** SIP polynomial (TAN only). Matrices m[p][q]. */
  sip?: SipCoefficients;
  /** TPV coefficients PV1_j and PV2_j, j = 0..39 (TAN only). */
  tpv?: { pv1: ArrayLike<number>; pv2: ArrayLike<number> };
  axes?: CelestialAxes;
  /** RADESYS as found in the header (written back); the transform treats it as ICRS. */
  radesys?: string;
  equinox?: number;
  /** Image size (NAXIS1, NAXIS2) when known: the default for footprint(). */
  naxis?: readonly [number, number];
}

export interface SkyArrays {
  ra: Float64Array;
  dec: Float64Array;
}
export interface PixelArrays {
  x: Float64Array;
  y: Float64Array;
}

/**
 * [a, b] as an array of doubles whatever the values: an array of small integers (CRPIX 1024, 2048)
 * has another elements kind than [1024.5, 2048.5], and the transforms, optimised for one, were
 * deoptimised ("wrong map") on the first WCS holding the other.
 */
function doublePair(a: number, b: number): [number, number] {
  const r: [number, number] = [0.5, 0.5];
  r[0] = a; r[1] = b;
  return r;
}

function doubleQuad(a: number, b: number, c: number, d: number): [number, number, number, number] {
  const r: [number, number, number, number] = [0.5, 0.5, 0.5, 0.5];
  r[0] = a; r[1] = b; r[2] = c; r[3] = d;
  return r;
}

/**
 * The points as a Float64Array (the same doubles): the bulk transforms' loops then see one kind of
 * array from every caller (plain arrays, Float32Array, Float64Array), and V8 does not deoptimise
 * them on the next kind.
 */
function f64(a: ArrayLike<number>): Float64Array {
  return a instanceof Float64Array ? a : Float64Array.from(a);
}

function toCd(m: Matrix2): [number, number, number, number] {
  if (typeof m[0] === 'number') {
    const a = m as readonly number[];
    if (a.length !== 4) throw new TesseraError('WCS: CD matrix must have 4 elements');
    return doubleQuad(a[0]!, a[1]!, a[2]!, a[3]!);
  }
  const r = m as readonly (readonly number[])[];
  return doubleQuad(r[0]![0]!, r[0]![1]!, r[1]![0]!, r[1]![1]!);
}

const AXES: Record<string, [string, string, CelestialAxes]> = {
  RA: ['RA', 'DEC', 'RA/DEC'],
  GLON: ['GLON', 'GLAT', 'GLON/GLAT'],
  ELON: ['ELON', 'ELAT', 'ELON/ELAT'],
};

export class Wcs {
  readonly crpix: readonly [number, number];
  readonly crval: readonly [number, number];
  /** CD matrix [cd11, cd12, cd21, cd22], degrees per pixel. */
  readonly cd: readonly [number, number, number, number];
  readonly projection: Projection;
  readonly pole: CelestialPole;
  readonly sip: Sip | undefined;
  readonly tpv: Tpv | undefined;
  readonly axes: CelestialAxes;
  readonly radesys: string | undefined;
  readonly equinox: number | undefined;
  readonly naxis: readonly [number, number] | undefined;
  private readonly lonpoleIn: number | undefined;
  private readonly latpoleIn: number | undefined;

  // Precomputed for the per-point loops.
  private readonly ci: [number, number, number, number];
  private readonly sdp: number;
  private readonly cdp: number;
  private readonly sphp: number;
  private readonly cphp: number;
  private readonly alphaPRad: number;
  private readonly tolDeg: number;
  private readonly t2 = new Float64Array(2);
  private readonly t3 = new Float64Array(3);

  constructor(p: WcsParams) {
    const code = p.projection ?? 'TAN';
    this.crpix = doublePair(p.crpix[0], p.crpix[1]);
    this.crval = doublePair(p.crval[0], p.crval[1]);
    const cd = toCd(p.cd);
    this.cd = cd;
    for (const v of [...this.crpix, ...this.crval, ...cd]) {
      if (!Number.isFinite(v)) throw new TesseraError('WCS: CRPIX, CRVAL and CD must be finite numbers');
    }
    const det = cd[0] * cd[3] - cd[1] * cd[2];
    if (det === 0) throw new TesseraError('WCS: the CD matrix is singular (determinant 0)');
    this.ci = doubleQuad(cd[3] / det, -cd[1] / det, -cd[2] / det, cd[0] / det);
    if ((p.sip || p.tpv) && code !== 'TAN') throw new TesseraError(`WCS: SIP and TPV distortions need the TAN projection, not ${code}`);
    if (p.sip && p.tpv) throw new TesseraError('WCS: a WCS has either SIP or TPV distortion, not both');
    this.projection = new Projection(code, p.sinSlant?.[0] ?? 0, p.sinSlant?.[1] ?? 0);
    this.sip = p.sip ? new Sip(p.sip) : undefined;
    this.tpv = p.tpv ? new Tpv(p.tpv.pv1, p.tpv.pv2) : undefined;
    if (this.tpv) {
      const t = this.tpv;
      if (t.pv1[1]! * t.pv2[1]! - t.pv1[2]! * t.pv2[2]! === 0) {
        throw new TesseraError('WCS: TPV linear terms (PV1_1, PV1_2, PV2_1, PV2_2) are all missing or singular; missing PVi_j are zero, so the transform would be degenerate');
      }
    }
    this.axes = p.axes ?? 'RA/DEC';
    this.radesys = p.radesys;
    this.equinox = p.equinox;
    this.naxis = p.naxis ? [p.naxis[0], p.naxis[1]] : undefined;
    this.lonpoleIn = p.lonpole;
    this.latpoleIn = p.latpole;
    this.pole = celestialPole(this.crval[0], this.crval[1], theta0Deg(code), p.lonpole, p.latpole);
    this.sdp = Math.sin(this.pole.deltaP * D2R);
    this.cdp = Math.cos(this.pole.deltaP * D2R);
    this.sphp = Math.sin(this.pole.phiP * D2R);
    this.cphp = Math.cos(this.pole.phiP * D2R);
    if (this.pole.deltaP === 90) { this.sdp = 1; this.cdp = 0; }
    if (this.pole.deltaP === -90) { this.sdp = -1; this.cdp = 0; }
    if (this.pole.phiP === 180) { this.sphp = 0; this.cphp = -1; }
    if (this.pole.phiP === 0) { this.sphp = 0; this.cphp = 1; }
    this.alphaPRad = this.pole.alphaP * D2R;
    this.tolDeg = 1e-11 * Math.sqrt(Math.abs(det));
  }

  /** Plain TAN WCS. */
  static tan(p: { crval: readonly [number, number]; crpix: readonly [number, number]; cd: Matrix2; naxis?: readonly [number, number] }): Wcs {
    return new Wcs({ ...p, projection: 'TAN' });
  }

  /** TAN with TPV distortion (PV1_j, PV2_j; j = 0..39). */
  static tpv(p: { crval: readonly [number, number]; crpix: readonly [number, number]; cd: Matrix2; pv1: ArrayLike<number>; pv2: ArrayLike<number>; naxis?: readonly [number, number] }): Wcs {
    return new Wcs({ crval: p.crval, crpix: p.crpix, cd: p.cd, naxis: p.naxis, projection: 'TAN', tpv: { pv1: p.pv1, pv2: p.pv2 } });
  }

  /** TAN with SIP distortion: a[p][q], b[p][q] and optional inverse ap, bp. */
  static sip(p: { crval: readonly [number, number]; crpix: readonly [number, number]; cd: Matrix2; a: number[][]; b: number[][]; ap?: number[][]; bp?: number[][]; naxis?: readonly [number, number] }): Wcs {
    return new Wcs({ crval: p.crval, crpix: p.crpix, cd: p.cd, naxis: p.naxis, projection: 'TAN', sip: { a: p.a, b: p.b, ap: p.ap, bp: p.bp } });
  }

  /** The parameters this WCS was built from (to make a modified copy: `new Wcs({...w.params, crval})`). */
  get params(): WcsParams {
    return {
      crpix: this.crpix,
      crval: this.crval,
      cd: this.cd,
      projection: this.projection.code,
      sinSlant: this.projection.sinXi || this.projection.sinEta ? [this.projection.sinXi, this.projection.sinEta] : undefined,
      lonpole: this.lonpoleIn,
      latpole: this.latpoleIn,
      sip: this.sip?.coeffs,
      tpv: this.tpv ? { pv1: this.tpv.pv1, pv2: this.tpv.pv2 } : undefined,
      axes: this.axes,
      radesys: this.radesys,
      equinox: this.equinox,
      naxis: this.naxis,
    };
  }

  /** Same WCS for a cut-out whose pixel (1, 1) is this image's pixel (1 + dx, 1 + dy). */
  shifted(dx: number, dy: number): Wcs {
    return new Wcs({ ...this.params, crpix: [this.crpix[0] - dx, this.crpix[1] - dy], naxis: undefined });
  }

  get distortion(): 'none' | 'sip' | 'tpv' {
    return this.sip ? 'sip' : this.tpv ? 'tpv' : 'none';
  }

  /* ------------------------------------------------------------------ transforms */

  /** One point, FITS pixel → (ra, dec) degrees into out. */
  private p2s(px: number, py: number, out: Float64Array, i: number, out2: Float64Array): void {
    let u = px - this.crpix[0];
    let v = py - this.crpix[1];
    const t2 = this.t2;
    if (this.sip) {
      this.sip.forward(u, v, t2);
      u = t2[0]!;
      v = t2[1]!;
    }
    const cd = this.cd;
    let xi = cd[0] * u + cd[1] * v;
    let eta = cd[2] * u + cd[3] * v;
    if (this.tpv) {
      this.tpv.forward(xi, eta, t2);
      xi = t2[0]!;
      eta = t2[1]!;
    }
    const t3 = this.t3;
    this.projection.toNative(xi, eta, t3);
    const a = t3[0]!;
    const b = t3[1]!;
    const c = t3[2]!;
    const A = a * this.cphp - b * this.sphp;
    const B = b * this.cphp + a * this.sphp;
    const num = -A;
    const den = c * this.cdp - B * this.sdp;
    const sd = c * this.sdp + B * this.cdp;
    let ra = (this.alphaPRad + Math.atan2(num, den)) * R2D;
    ra %= 360;
    if (ra < 0) ra += 360;
    if (ra >= 360) ra -= 360;
    out[i] = ra + 0; // no negative zero
    out2[i] = Math.atan2(sd, Math.sqrt(num * num + den * den)) * R2D;
  }

  /** One point, (ra, dec) degrees → FITS pixel into out. */
  private s2p(ra: number, dec: number, out: Float64Array, i: number, out2: Float64Array): void {
    const da = ra * D2R - this.alphaPRad;
    const d = dec * D2R;
    const cdl = Math.cos(d);
    const sdl = Math.sin(d);
    const ca = cdl * Math.cos(da);
    const A = -cdl * Math.sin(da);
    const B = sdl * this.cdp - ca * this.sdp;
    const c = sdl * this.sdp + ca * this.cdp;
    const a = A * this.cphp + B * this.sphp;
    const b = B * this.cphp - A * this.sphp;
    const t2 = this.t2;
    this.projection.fromNative(a, b, c, t2);
    let xi = t2[0]!;
    let eta = t2[1]!;
    if (this.tpv && xi === xi) {
      this.tpv.inverse(xi, eta, t2, this.tolDeg, 50);
      xi = t2[0]!;
      eta = t2[1]!;
    }
    const ci = this.ci;
    let u = ci[0] * xi + ci[1] * eta;
    let v = ci[2] * xi + ci[3] * eta;
    if (this.sip && u === u) {
      this.sip.inverse(u, v, t2, 1e-11);
      u = t2[0]!;
      v = t2[1]!;
    }
    out[i] = u + this.crpix[0];
    out2[i] = v + this.crpix[1];
  }

  /** Pixel → sky for arrays of points. origin 1 = FITS pixels (default), 0 = zero-based. */
  pixToSky(x: ArrayLike<number>, y: ArrayLike<number>, origin: Origin = 1): SkyArrays {
    return this.pixToSky64(f64(x), f64(y), origin);
  }

  private pixToSky64(x: Float64Array, y: Float64Array, origin: Origin): SkyArrays {
    const n = x.length;
    if (y.length !== n) throw new TesseraError(`pixToSky: x and y differ in length (${n} vs ${y.length})`);
    const ra = new Float64Array(n);
    const dec = new Float64Array(n);
    const off = origin === 0 ? 1 : 0;
    for (let i = 0; i < n; i++) this.p2s(x[i]! + off, y[i]! + off, ra, i, dec);
    return { ra, dec };
  }

  /**
   * Sky → pixel for arrays of points (origin as for pixToSky). Distortions are inverted by
   * Newton iteration on the forward polynomial to ~1e-10 px; points that do not project
   * (behind a TAN tangent plane, outside an AIT ellipse, ...) give NaN.
   */
  skyToPix(ra: ArrayLike<number>, dec: ArrayLike<number>, origin: Origin = 1): PixelArrays {
    return this.skyToPix64(f64(ra), f64(dec), origin);
  }

  private skyToPix64(ra: Float64Array, dec: Float64Array, origin: Origin): PixelArrays {
    const n = ra.length;
    if (dec.length !== n) throw new TesseraError(`skyToPix: ra and dec differ in length (${n} vs ${dec.length})`);
    const x = new Float64Array(n);
    const y = new Float64Array(n);
    const off = origin === 0 ? 1 : 0;
    for (let i = 0; i < n; i++) {
      this.s2p(ra[i]!, dec[i]!, x, i, y);
      x[i] -= off;
      y[i] -= off;
    }
    return { x, y };
  }

  /** Scalar pixel → sky: [ra, dec] degrees. */
  pixToSkyOne(x: number, y: number, origin: Origin = 1): [number, number] {
    // straight to p2s (as pixToSky does per point): a one-element plain array through pixToSky
    // made its loop see two kinds of arrays, and V8 deoptimised it
    const off = origin === 0 ? 1 : 0;
    const ra = new Float64Array(1), dec = new Float64Array(1);
    this.p2s(x + off, y + off, ra, 0, dec);
    return [ra[0]!, dec[0]!];
  }

  /** Scalar sky → pixel: [x, y]. */
  skyToPixOne(ra: number, dec: number, origin: Origin = 1): [number, number] {
    const off = origin === 0 ? 1 : 0;
    const x = new Float64Array(1), y = new Float64Array(1);
    this.s2p(ra, dec, x, 0, y);
    x[0] -= off;
    y[0] -= off;
    return [x[0]!, y[0]!];
  }

  /* ------------------------------------------------------------------ helpers */

  /**
   * Local pixel scale at (x, y) (default: CRPIX), arcsec per pixel: the square root of the
   * area on the sky of one pixel, from the Jacobian of the full transform.
   */
  pixelScaleArcsec(x?: number, y?: number, origin: Origin = 1): number {
    const px = x === undefined ? this.crpix[0] : x + (origin === 0 ? 1 : 0);
    const py = y === undefined ? this.crpix[1] : y + (origin === 0 ? 1 : 0);
    const h = 0.5;
    const s = this.pixToSky([px, px + h, px - h, px, px], [py, py, py, py + h, py - h], 1);
    const ra0 = s.ra[0]!;
    const dec0 = s.dec[0]!;
    const std = (k: number): [number, number] => standardCoords(s.ra[k]!, s.dec[k]!, ra0, dec0);
    const [x1, y1] = std(1);
    const [x2, y2] = std(2);
    const [x3, y3] = std(3);
    const [x4, y4] = std(4);
    const j11 = (x1 - x2) / (2 * h);
    const j21 = (y1 - y2) / (2 * h);
    const j12 = (x3 - x4) / (2 * h);
    const j22 = (y3 - y4) / (2 * h);
    return Math.sqrt(Math.abs(j11 * j22 - j12 * j21)) * 3600 * R2D;
  }

  /**
   * Sky outline of a width × height image (default NAXIS1 × NAXIS2): the four corners at the
   * OUTER pixel edges (FITS 0.5 and N + 0.5), the midpoints of the four edges, and the centre.
   * Corners go (0.5, 0.5), (W+0.5, 0.5), (W+0.5, H+0.5), (0.5, H+0.5); edge midpoints follow
   * the same order starting with the bottom edge (y = 0.5).
   */
  footprint(width?: number, height?: number): { corners: [number, number][]; edgeMidpoints: [number, number][]; center: [number, number] } {
    const w = width ?? this.naxis?.[0];
    const h = height ?? this.naxis?.[1];
    if (w === undefined || h === undefined) throw new TesseraError('WCS footprint: image size unknown (give width and height)');
    const x0 = 0.5;
    const x1 = w + 0.5;
    const y0 = 0.5;
    const y1 = h + 0.5;
    const xm = (w + 1) / 2;
    const ym = (h + 1) / 2;
    const xs = [x0, x1, x1, x0, xm, x1, xm, x0, xm];
    const ys = [y0, y0, y1, y1, y0, ym, y1, ym, ym];
    const s = this.pixToSky(xs, ys, 1);
    const pt = (k: number): [number, number] => [s.ra[k]!, s.dec[k]!];
    return { corners: [0, 1, 2, 3].map(pt), edgeMidpoints: [4, 5, 6, 7].map(pt), center: pt(8) };
  }

  /* ------------------------------------------------------------------ headers */

  /** Read the celestial WCS of axes 1 and 2 from a header. `where` prefixes error messages. */
  static fromHeader(h: HeaderLike, where = 'header'): Wcs {
    const ct1 = headerString(h, 'CTYPE1', where);
    const ct2 = headerString(h, 'CTYPE2', where);
    if (ct1 === undefined || ct2 === undefined) throw new TesseraError(`${where}: no celestial WCS (CTYPE1/CTYPE2 missing)`);
    const p1 = parseCtype(ct1.trim().toUpperCase(), 'CTYPE1', where);
    const p2 = parseCtype(ct2.trim().toUpperCase(), 'CTYPE2', where);
    const axes = AXES[p1.type];
    if (!axes) {
      if (AXES[p2.type]) throw new TesseraError(`${where}: CTYPE1 '${ct1}' is a latitude and CTYPE2 '${ct2}' a longitude; swapped celestial axes are not supported`);
      throw new TesseraError(`${where}: CTYPE1 '${ct1}' is not a celestial longitude axis (RA, GLON, ELON)`);
    }
    if (p2.type !== axes[1]) throw new TesseraError(`${where}: CTYPE2 '${ct2}' does not pair with CTYPE1 '${ct1}' (expected ${axes[1]})`);
    if (p1.proj !== p2.proj || p1.suffix !== p2.suffix) throw new TesseraError(`${where}: CTYPE1 '${ct1}' and CTYPE2 '${ct2}' name different projections`);
    const num = (k: string) => headerNumber(h, k, where);

    let projection: ProjectionCode;
    let tpvWanted = false;
    let sipWanted = false;
    if (p1.proj === 'TPV') {
      projection = 'TAN';
      tpvWanted = true;
      if (p1.suffix) throw new TesseraError(`${where}: CTYPE1 '${ct1}': TPV takes no distortion suffix`);
    } else {
      projection = parseProjectionCode(p1.proj, `${where}: CTYPE1 '${ct1}'`);
      if (p1.suffix === 'SIP') {
        if (projection !== 'TAN') throw new TesseraError(`${where}: CTYPE1 '${ct1}': SIP is only supported with TAN`);
        sipWanted = true;
      } else if (p1.suffix) throw new TesseraError(`${where}: CTYPE1 '${ct1}': distortion '-${p1.suffix}' is not supported (SIP and TPV are)`);
    }

    // PVi_j on the two axes (TPV coefficients, or SIN slant parameters).
    const pv1 = new Float64Array(40);
    const pv2 = new Float64Array(40);
    let anyPv = false;
    for (let j = 0; j < 40; j++) {
      const a = num(`PV1_${j}`);
      const b = num(`PV2_${j}`);
      if (a !== undefined) { pv1[j] = a; anyPv = true; }
      if (b !== undefined) { pv2[j] = b; anyPv = true; }
    }
    // SCAMP writes TAN with PV distortion terms: that is TPV (not for TAN-SIP, where PV is ignored as astropy does).
    if (projection === 'TAN' && !sipWanted && anyPv) tpvWanted = true;
    if (tpvWanted) {
      // TPV defines PVi_0..PVi_39 only; a higher index is refused (as wcslib does) rather than ignored.
      for (let j = 40; j < 100; j++) {
        for (const i of [1, 2]) {
          if (num(`PV${i}_${j}`) !== undefined) throw new TesseraError(`${where}: PV${i}_${j}: TPV has coefficients PV${i}_0..PV${i}_39 only`);
        }
      }
    }

    // Linear part.
    const cd = linearFromHeader(h, where);

    const crpix: [number, number] = [num('CRPIX1') ?? 0, num('CRPIX2') ?? 0];
    const crval: [number, number] = [num('CRVAL1') ?? 0, num('CRVAL2') ?? 0];

    let radesys = headerString(h, 'RADESYS', where) ?? headerString(h, 'RADECSYS', where);
    const equinox = num('EQUINOX') ?? num('EPOCH');
    if (axes[2] !== 'GLON/GLAT') {
      radesys = radesys?.trim().toUpperCase();
      const frame = radesys ?? (equinox !== undefined && equinox < 1984 ? 'FK4' : 'ICRS');
      if (frame !== 'ICRS' && frame !== 'FK5') {
        throw new TesseraError(`${where}: reference frame ${frame}${equinox !== undefined ? ` (EQUINOX ${equinox})` : ''} is not supported; only ICRS and FK5 J2000 (treated as ICRS)`);
      }
      if (frame === 'FK5' && equinox !== undefined && equinox !== 2000) {
        throw new TesseraError(`${where}: FK5 with EQUINOX ${equinox} is not supported (only J2000)`);
      }
    }

    let sip: SipCoefficients | undefined;
    if (sipWanted) sip = sipFromHeader(h, where);

    const naxis1 = num('NAXIS1');
    const naxis2 = num('NAXIS2');
    const build = (p: WcsParams): Wcs => {
      try {
        return new Wcs(p);
      } catch (e) {
        if (e instanceof TesseraError && e.message.startsWith('WCS: ')) throw new TesseraError(`${where}: ${e.message.slice(5)}`);
        throw e;
      }
    };
    const w = build({
      crpix,
      crval,
      cd,
      projection,
      sinSlant: projection === 'SIN' && (pv2[1] !== 0 || pv2[2] !== 0) ? [pv2[1]!, pv2[2]!] : undefined,
      lonpole: num('LONPOLE'),
      latpole: num('LATPOLE'),
      sip,
      tpv: tpvWanted ? { pv1, pv2 } : undefined,
      axes: axes[2],
      radesys,
      equinox,
      naxis: naxis1 !== undefined && naxis2 !== undefined ? [naxis1, naxis2] : undefined,
    });
    return w;
  }

  /**
   * The WCS as header cards: CTYPE, CUNIT, CRPIX, CRVAL, CD (always the CD form), LONPOLE,
   * LATPOLE, RADESYS, and the SIP (A/B/AP/BP) or TPV (PVi_j) coefficients. Reading these back
   * gives the same transform exactly (numbers are written with full double precision).
   */
  toCards(): WcsCard[] {
    const [lng, lat] = AXES[this.axes.split('/')[0]!]!;
    const code = this.tpv ? 'TPV' : this.projection.code;
    const suffix = this.sip ? '-SIP' : '';
    const c: WcsCard[] = [];
    c.push({ key: 'WCSAXES', value: 2, comment: 'number of WCS axes' });
    c.push({ key: 'CTYPE1', value: `${lng.padEnd(4, '-')}-${code}${suffix}`, comment: 'longitude axis and projection' });
    c.push({ key: 'CTYPE2', value: `${lat.padEnd(4, '-')}-${code}${suffix}`, comment: 'latitude axis and projection' });
    c.push({ key: 'CUNIT1', value: 'deg' });
    c.push({ key: 'CUNIT2', value: 'deg' });
    c.push({ key: 'CRPIX1', value: this.crpix[0], comment: 'reference pixel (FITS convention)' });
    c.push({ key: 'CRPIX2', value: this.crpix[1] });
    c.push({ key: 'CRVAL1', value: this.crval[0], comment: 'reference sky position, deg' });
    c.push({ key: 'CRVAL2', value: this.crval[1] });
    c.push({ key: 'CD1_1', value: this.cd[0], comment: 'linear transform, deg/pixel' });
    c.push({ key: 'CD1_2', value: this.cd[1] });
    c.push({ key: 'CD2_1', value: this.cd[2] });
    c.push({ key: 'CD2_2', value: this.cd[3] });
    c.push({ key: 'LONPOLE', value: this.pole.phiP, comment: 'native longitude of celestial pole' });
    c.push({ key: 'LATPOLE', value: this.pole.deltaP, comment: 'celestial latitude of native pole' });
    if (this.axes !== 'GLON/GLAT') {
      const rs = this.radesys ?? 'ICRS';
      c.push({ key: 'RADESYS', value: rs });
      if (rs === 'FK5') c.push({ key: 'EQUINOX', value: this.equinox ?? 2000 });
    }
    if (this.projection.code === 'SIN' && (this.projection.sinXi || this.projection.sinEta)) {
      c.push({ key: 'PV2_1', value: this.projection.sinXi });
      c.push({ key: 'PV2_2', value: this.projection.sinEta });
    }
    if (this.sip) {
      const s = this.sip.coeffs;
      const put = (name: string, m: number[][] | undefined, order: number) => {
        if (!m) return;
        c.push({ key: `${name}_ORDER`, value: order, comment: 'SIP polynomial order' });
        m.forEach((row, p) => row.forEach((v, q) => { if (v && p + q <= order) c.push({ key: `${name}_${p}_${q}`, value: v }); }));
      };
      put('A', s.a, Math.max(this.sip.aOrder, matrixOrder(s.a)));
      put('B', s.b, Math.max(this.sip.bOrder, matrixOrder(s.b)));
      if (s.ap && s.bp) {
        put('AP', s.ap, Math.max(this.sip.apOrder, matrixOrder(s.ap)));
        put('BP', s.bp, Math.max(this.sip.bpOrder, matrixOrder(s.bp)));
      }
    }
    if (this.tpv) {
      for (let i = 1; i <= 2; i++) {
        const pv = i === 1 ? this.tpv.pv1 : this.tpv.pv2;
        for (let j = 0; j < 40; j++) if (pv[j] !== 0) c.push({ key: `PV${i}_${j}`, value: pv[j]! });
      }
    }
    return c;
  }

  /**
   * Write the WCS into a header. Old WCS keywords that would conflict (PC, CDELT, CROTA, CD,
   * SIP and PV coefficients) are removed first when the header offers `delete(key)` or
   * `remove(key)`. Returns the cards written.
   */
  toHeader(sink: HeaderSink & { delete?(key: string): unknown; remove?(key: string): unknown }): WcsCard[] {
    const del = sink.delete?.bind(sink) ?? sink.remove?.bind(sink);
    if (del) for (const k of staleWcsKeys()) del(k);
    const cards = this.toCards();
    for (const card of cards) sink.set(card.key, card.value, card.comment);
    return cards;
  }

  /** The cards as header text (80-column lines, END last), e.g. a SCAMP-style `.head` file. */
  toHeaderText(): string {
    return this.toCards().map((c) => formatCard(c.key, c.value, c.comment)).join('\n') + '\n' + 'END'.padEnd(80) + '\n';
  }
}

/** Keywords that a previous WCS may have left and that would change the meaning of ours. */
function staleWcsKeys(): string[] {
  const k: string[] = ['CDELT1', 'CDELT2', 'CROTA1', 'CROTA2', 'PC1_1', 'PC1_2', 'PC2_1', 'PC2_2', 'PC001001', 'PC001002', 'PC002001', 'PC002002', 'CD1_1', 'CD1_2', 'CD2_1', 'CD2_2', 'LONPOLE', 'LATPOLE', 'A_ORDER', 'B_ORDER', 'AP_ORDER', 'BP_ORDER', 'A_DMAX', 'B_DMAX'];
  for (let p = 0; p <= 9; p++) for (let q = 0; q + p <= 9; q++) for (const n of ['A', 'B', 'AP', 'BP']) k.push(`${n}_${p}_${q}`);
  for (let j = 0; j < 40; j++) k.push(`PV1_${j}`, `PV2_${j}`);
  return k;
}

function parseCtype(s: string, key: string, where: string): { type: string; proj: string; suffix?: string } {
  const m = /^([A-Z]{1,4})-*-([A-Z]{3})(?:-([A-Z]{3}))?$/.exec(s);
  if (!m) throw new TesseraError(`${where}: ${key} '${s}' is not a celestial axis type of the form 'RA---TAN'`);
  return { type: m[1]!, proj: m[2]!, suffix: m[3] };
}

function linearFromHeader(h: HeaderLike, where: string): [number, number, number, number] {
  const num = (k: string) => headerNumber(h, k, where);
  const pc = [num('PC1_1'), num('PC1_2'), num('PC2_1'), num('PC2_2')];
  const cdk = [num('CD1_1'), num('CD1_2'), num('CD2_1'), num('CD2_2')];
  const cdelt1 = num('CDELT1');
  const cdelt2 = num('CDELT2');
  if (pc.some((v) => v !== undefined)) {
    // PC takes precedence over CD when both are present (as in wcslib).
    const m = [pc[0] ?? 1, pc[1] ?? 0, pc[2] ?? 0, pc[3] ?? 1];
    const c1 = cdelt1 ?? 1;
    const c2 = cdelt2 ?? 1;
    return [c1 * m[0]!, c1 * m[1]!, c2 * m[2]!, c2 * m[3]!];
  }
  if (cdk.some((v) => v !== undefined)) return [cdk[0] ?? 0, cdk[1] ?? 0, cdk[2] ?? 0, cdk[3] ?? 0];
  if (cdelt1 === undefined || cdelt2 === undefined) throw new TesseraError(`${where}: no linear WCS part (CD1_1..CD2_2, PCi_j + CDELTi, or CDELTi [+ CROTA2])`);
  const rho = (num('CROTA2') ?? num('CROTA1') ?? 0) * D2R;
  const c = Math.cos(rho);
  const s = Math.sin(rho);
  return [cdelt1 * c, -cdelt2 * s, cdelt1 * s, cdelt2 * c];
}

function sipFromHeader(h: HeaderLike, where: string): SipCoefficients {
  const num = (k: string) => headerNumber(h, k, where);
  const read = (name: string, required: boolean): number[][] | undefined => {
    const order = num(`${name}_ORDER`);
    if (order === undefined) {
      if (required) throw new TesseraError(`${where}: CTYPE says -SIP but ${name}_ORDER is missing`);
      return undefined;
    }
    if (!Number.isInteger(order) || order < 0 || order > 9) throw new TesseraError(`${where}: ${name}_ORDER = ${order} must be an integer 0..9`);
    const m: number[][] = [];
    for (let p = 0; p <= order; p++) {
      m.push([]);
      for (let q = 0; q + p <= order; q++) m[p]!.push(num(`${name}_${p}_${q}`) ?? 0);
    }
    return m;
  };
  const a = read('A', true)!;
  const b = read('B', true)!;
  const ap = read('AP', false);
  const bp = read('BP', false);
  return { a, b, ap: ap && bp ? ap : undefined, bp: ap && bp ? bp : undefined };
}

/** Gnomonic standard coordinates (ξ, η) in radians of (ra, dec) about (ra0, dec0); degrees in. */
export function standardCoords(ra: number, dec: number, ra0: number, dec0: number): [number, number] {
  const d = dec * D2R;
  const d0 = dec0 * D2R;
  const da = (ra - ra0) * D2R;
  const cosc = Math.sin(d0) * Math.sin(d) + Math.cos(d0) * Math.cos(d) * Math.cos(da);
  return [Math.cos(d) * Math.sin(da) / cosc, (Math.cos(d0) * Math.sin(d) - Math.sin(d0) * Math.cos(d) * Math.cos(da)) / cosc];
}

export { TPV_TERMS };
