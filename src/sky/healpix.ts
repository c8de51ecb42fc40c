/**
 * HEALPix (Górski et al. 2005) in the RING and NESTED schemes, written to give the same pixel
 * numbers as healpy / Healpix C++ (same floating-point decisions in ang2pix, same query_disc /
 * query_polygon algorithms including the `inclusive` over-sampling factor).
 *
 * Angles: theta = colatitude [0, π], phi = longitude [0, 2π) in radians, or (ra, dec) in degrees
 * with the `…RaDec` helpers (theta = π/2 − dec, phi = ra, as healpy's lonlat=True).
 *
 * Integer ranges: pixel numbers are JS numbers for nside ≤ 2^24 (npix < 2^53). For
 * 2^24 < nside ≤ 2^29 use the BigInt entry points (`ang2pixBig`, `pix2angBig`, `nest2ringBig`,
 * `ring2nestBig`); face coordinates (ix, iy < 2^29) always fit in numbers.
 */
import { TesseraError } from '../util/errors.js';

export const ORDER_MAX = 29;
export const NSIDE_MAX = 2 ** 29;
/** Largest nside whose pixel numbers are exact JS numbers. */
export const NSIDE_MAX_NUMBER = 2 ** 24;

const PI = Math.PI, TWOPI = 2 * Math.PI, HALFPI = Math.PI / 2;
const INV_HALFPI = 2 / Math.PI, INV_TWOPI = 1 / (2 * Math.PI);
const TWOTHIRD = 2 / 3;

const JRLL = [2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4];
const JPLL = [1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7];
const NB_XOFFSET = [-1, -1, 0, 1, 1, 1, 0, -1];
const NB_YOFFSET = [0, 1, 1, 1, 0, -1, -1, -1];
const NB_FACEARRAY = [
  [8, 9, 10, 11, -1, -1, -1, -1, 10, 11, 8, 9],
  [5, 6, 7, 4, 8, 9, 10, 11, 9, 10, 11, 8],
  [-1, -1, -1, -1, 5, 6, 7, 4, -1, -1, -1, -1],
  [4, 5, 6, 7, 11, 8, 9, 10, 11, 8, 9, 10],
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
  [1, 2, 3, 0, 0, 1, 2, 3, 5, 6, 7, 4],
  [-1, -1, -1, -1, 7, 4, 5, 6, -1, -1, -1, -1],
  [3, 0, 1, 2, 3, 0, 1, 2, 4, 5, 6, 7],
  [2, 3, 0, 1, -1, -1, -1, -1, 0, 1, 2, 3],
];
const NB_SWAPARRAY = [[0, 0, 3], [0, 0, 6], [0, 0, 0], [0, 0, 5], [0, 0, 0], [5, 0, 0], [0, 0, 0], [6, 0, 0], [3, 0, 0]];

/** floor() as Healpix C++'s ifloor: truncation, minus one for negative arguments. */
function ifloor(x: number): number {
  return x >= 0 ? Math.trunc(x) : Math.trunc(x) - 1;
}
/** Healpix's fmodulo: result in [0, v2). */
function fmodulo(v1: number, v2: number): number {
  if (v1 >= 0) return v1 < v2 ? v1 : v1 % v2;
  const tmp = (v1 % v2) + v2;
  return tmp === v2 ? 0 : tmp;
}
/** Exact integer square root for 0 ≤ arg < 2^53. */
function isqrt(arg: number): number {
  let r = Math.floor(Math.sqrt(arg + 0.5));
  if (arg < 2 ** 50) return r;
  if (r * r > arg) r--;
  else if ((r + 1) * (r + 1) <= arg) r++;
  return r;
}
/** Interleave the bits of an integer < 2^26: bit k → bit 2k (result < 2^52, exact in a number). */
function spreadBits(v: number): number {
  // valid for v < 2^26 (result < 2^52): split in 13-bit halves and combine with multiplication
  const lo = v & 0x1fff, hi = v >>> 13;
  return spread13(lo) + spread13(hi) * 2 ** 26;
}
function spread13(v: number): number {
  let x = v & 0x1fff;
  x = (x | (x << 8)) & 0x00ff00ff;
  x = (x | (x << 4)) & 0x0f0f0f0f;
  x = (x | (x << 2)) & 0x33333333;
  x = (x | (x << 1)) & 0x55555555;
  return x >>> 0;
}
function compress26(v: number): number {
  // v < 2^26, keep the even bits
  let x = v & 0x55555555;
  x = (x | (x >>> 1)) & 0x33333333;
  x = (x | (x >>> 2)) & 0x0f0f0f0f;
  x = (x | (x >>> 4)) & 0x00ff00ff;
  x = (x | (x >>> 8)) & 0x0000ffff;
  return x;
}
/** Even bits of a pixel-in-face index p < 2^48 (order ≤ 24). */
function compressBits(p: number): number {
  const lo = p % 2 ** 26, hi = Math.floor(p / 2 ** 26);
  return compress26(lo) + compress26(hi) * 2 ** 13;
}

export type Scheme = 'ring' | 'nest';

/** A HEALPix grid of a given nside (a power of two for NEST; any positive integer for RING). */
export class Healpix {
  readonly nside: number;
  /** log2(nside), or -1 when nside is not a power of two (RING only). */
  readonly order: number;
  readonly npface: number;
  readonly ncap: number;
  readonly npix: number;
  private readonly fact1: number;
  private readonly fact2: number;

  constructor(nside: number) {
    if (!Number.isInteger(nside) || nside < 1 || nside > NSIDE_MAX) throw new TesseraError(`HEALPix: invalid nside ${nside} (expected an integer 1..2^29)`);
    this.nside = nside;
    this.order = (nside & (nside - 1)) === 0 ? Math.round(Math.log2(nside)) : -1;
    this.npface = nside * nside;
    this.ncap = (this.npface - nside) * 2;
    this.npix = 12 * this.npface;
    this.fact2 = 4 / this.npix;
    this.fact1 = 2 * nside * this.fact2;
  }

  /** True when pixel numbers are exact JS numbers (nside ≤ 2^24). */
  get numberSafe(): boolean {
    return this.nside <= NSIDE_MAX_NUMBER;
  }
  private needNumber(what: string): void {
    if (!this.numberSafe) throw new TesseraError(`HEALPix ${what}: nside ${this.nside} > 2^24 needs the BigInt functions (ang2pixBig, ...)`);
  }
  private needNest(what: string): void {
    if (this.order < 0) throw new TesseraError(`HEALPix ${what}: NESTED needs nside a power of 2 (got ${this.nside})`);
  }

  /** Mean pixel area in steradians. */
  pixelAreaSr(): number {
    return (4 * PI) / this.npix;
  }

  /** Maximum angular distance (radians) between a pixel centre and its corners. */
  maxPixrad(): number {
    const va = setZPhi(TWOTHIRD, PI / (4 * this.nside));
    let t1 = 1 - 1 / this.nside;
    t1 *= t1;
    const vb = setZPhi(1 - t1 / 3, 0);
    return vAngle(va, vb);
  }

  ringAbove(z: number): number {
    const az = Math.abs(z);
    if (az <= TWOTHIRD) return Math.trunc(this.nside * (2 - 1.5 * z));
    const iring = Math.trunc(this.nside * Math.sqrt(3 * (1 - az)));
    return z > 0 ? iring : 4 * this.nside - iring - 1;
  }

  ring2z(ring: number): number {
    const ns = this.nside;
    if (ring < ns) return 1 - ring * ring * this.fact2;
    if (ring <= 3 * ns) return (2 * ns - ring) * this.fact1;
    const r = 4 * ns - ring;
    return r * r * this.fact2 - 1;
  }

  /** [startpix, ringpix, shifted] of a ring (1..4nside-1). */
  ringInfo(ring: number): [number, number, boolean] {
    const ns = this.nside;
    if (ring < ns) return [2 * ring * (ring - 1), 4 * ring, true];
    if (ring < 3 * ns) return [this.ncap + (ring - ns) * 4 * ns, 4 * ns, ((ring - ns) & 1) === 0];
    const nr = 4 * ns - ring;
    return [this.npix - 2 * nr * (nr + 1), 4 * nr, true];
  }

  /* ---------------- face coordinates ---------------- */

  /** Location (z, phi, sth|NaN) of a pixel given its face coordinates. */
  xyf2loc(ix: number, iy: number, face: number, out: Float64Array): void {
    const ns = this.nside;
    const jr = JRLL[face]! * ns - ix - iy - 1;
    let nr: number, z: number, sth = NaN;
    if (jr < ns) {
      nr = jr;
      const tmp = nr * nr * this.fact2;
      z = 1 - tmp;
      if (z > 0.99) sth = Math.sqrt(tmp * (2 - tmp));
    } else if (jr > 3 * ns) {
      nr = ns * 4 - jr;
      const tmp = nr * nr * this.fact2;
      z = tmp - 1;
      if (z < -0.99) sth = Math.sqrt(tmp * (2 - tmp));
    } else {
      nr = ns;
      z = (2 * ns - jr) * this.fact1;
    }
    let tmp = JPLL[face]! * nr + ix - iy;
    if (tmp < 0) tmp += 8 * nr;
    const phi = nr === ns ? 0.75 * HALFPI * tmp * this.fact1 : (0.5 * HALFPI * tmp) / nr;
    out[0] = z;
    out[1] = phi;
    out[2] = sth;
  }

  /** Location of a RING pixel (identical arithmetic to Healpix's pix2loc). */
  ringLoc(pix: number, out: Float64Array): void {
    const ns = this.nside;
    let z: number, phi: number, sth = NaN;
    if (pix < this.ncap) {
      const iring = (1 + isqrt(1 + 2 * pix)) >> 1;
      const iphi = pix + 1 - 2 * iring * (iring - 1);
      const tmp = iring * iring * this.fact2;
      z = 1 - tmp;
      if (z > 0.99) sth = Math.sqrt(tmp * (2 - tmp));
      phi = ((iphi - 0.5) * HALFPI) / iring;
    } else if (pix < this.npix - this.ncap) {
      const nl4 = 4 * ns;
      const ip = pix - this.ncap;
      const tmp = Math.floor(ip / nl4);
      const iring = tmp + ns;
      const iphi = ip - nl4 * tmp + 1;
      const fodd = ((iring + ns) & 1) !== 0 ? 1 : 0.5;
      z = (2 * ns - iring) * this.fact1;
      phi = (iphi - fodd) * PI * 0.75 * this.fact1;
    } else {
      const ip = this.npix - pix;
      const iring = (1 + isqrt(2 * ip - 1)) >> 1;
      const iphi = 4 * iring + 1 - (ip - 2 * iring * (iring - 1));
      const tmp = iring * iring * this.fact2;
      z = tmp - 1;
      if (z < -0.99) sth = Math.sqrt(tmp * (2 - tmp));
      phi = ((iphi - 0.5) * HALFPI) / iring;
    }
    out[0] = z;
    out[1] = phi;
    out[2] = sth;
  }

  /** RING pixel → face coordinates [ix, iy, face]. */
  ring2xyf(pix: number): [number, number, number] {
    const ns = this.nside, nl2 = 2 * ns;
    let iring: number, iphi: number, kshift: number, nr: number, face: number;
    if (pix < this.ncap) {
      iring = (1 + isqrt(1 + 2 * pix)) >> 1;
      iphi = pix + 1 - 2 * iring * (iring - 1);
      kshift = 0;
      nr = iring;
      face = Math.trunc((iphi - 1) / nr);
    } else if (pix < this.npix - this.ncap) {
      const ip = pix - this.ncap;
      const tmp = Math.floor(ip / (4 * ns));
      iring = tmp + ns;
      iphi = ip - tmp * 4 * ns + 1;
      kshift = (iring + ns) & 1;
      nr = ns;
      const ire = iring - ns + 1, irm = nl2 + 2 - ire;
      const ifm = Math.floor((iphi - Math.floor(ire / 2) + ns - 1) / ns);
      const ifp = Math.floor((iphi - Math.floor(irm / 2) + ns - 1) / ns);
      face = ifp === ifm ? ifp | 4 : ifp < ifm ? ifp : ifm + 8;
    } else {
      const ip = this.npix - pix;
      iring = (1 + isqrt(2 * ip - 1)) >> 1;
      iphi = 4 * iring + 1 - (ip - 2 * iring * (iring - 1));
      kshift = 0;
      nr = iring;
      iring = 2 * nl2 - iring;
      face = 8 + Math.trunc((iphi - 1) / nr);
    }
    const irt = iring - JRLL[face]! * ns + 1;
    let ipt = 2 * iphi - JPLL[face]! * nr - kshift - 1;
    if (ipt >= nl2) ipt -= 8 * ns;
    return [(ipt - irt) >> 1, (-ipt - irt) >> 1, face];
  }

  /** Face coordinates → RING pixel. */
  xyf2ring(ix: number, iy: number, face: number): number {
    const nl4 = 4 * this.nside;
    const jr = JRLL[face]! * this.nside - ix - iy - 1;
    let [nBefore, nr, shifted] = this.ringInfo(jr);
    nr /= 4;
    const kshift = shifted ? 0 : 1;
    let jp = Math.trunc((JPLL[face]! * nr + ix - iy + 1 + kshift) / 2);
    if (jp < 1) jp += nl4;
    return nBefore + jp - 1;
  }

  xyf2nest(ix: number, iy: number, face: number): number {
    return face * this.npface + spreadBits(ix) + 2 * spreadBits(iy);
  }

  nest2xyf(pix: number): [number, number, number] {
    const face = Math.floor(pix / this.npface);
    const p = pix - face * this.npface;
    return [compressBits(p), compressBits(Math.floor(p / 2)), face];
  }

  /* ---------------- angles ↔ pixels ---------------- */

  private readonly xyfBuf = new Int32Array(3);

  /** Healpix's loc2pix: (z, phi, sin theta or NaN) → face coordinates [ix, iy, face]. */
  loc2xyf(z: number, phi: number, sth: number): [number, number, number] {
    const b = this.xyfBuf;
    this.loc2xyfInto(z, phi, sth, b);
    return [b[0]!, b[1]!, b[2]!];
  }

  /** loc2xyf without allocation: writes ix, iy, face into out. */
  private loc2xyfInto(z: number, phi: number, sth: number, out: Int32Array): void {
    const ns = this.nside;
    const za = Math.abs(z);
    const tt = fmodulo(phi * INV_HALFPI, 4.0);
    if (za <= TWOTHIRD) {
      const temp1 = ns * (0.5 + tt);
      const temp2 = ns * (z * 0.75);
      const jp = Math.trunc(temp1 - temp2);
      const jm = Math.trunc(temp1 + temp2);
      const ifp = Math.floor(jp / ns), ifm = Math.floor(jm / ns);
      out[2] = ifp === ifm ? ifp | 4 : ifp < ifm ? ifp : ifm + 8;
      out[0] = jm - ifm * ns;
      out[1] = ns - (jp - ifp * ns) - 1;
      return;
    }
    const ntt = Math.min(3, Math.trunc(tt));
    const tp = tt - ntt;
    const tmp = za < 0.99 || Number.isNaN(sth) ? ns * Math.sqrt(3 * (1 - za)) : (ns * sth) / Math.sqrt((1 + za) / 3);
    let jp = Math.trunc(tp * tmp), jm = Math.trunc((1 - tp) * tmp);
    jp = Math.min(jp, ns - 1);
    jm = Math.min(jm, ns - 1);
    if (z >= 0) { out[0] = ns - jm - 1; out[1] = ns - jp - 1; out[2] = ntt; }
    else { out[0] = jp; out[1] = jm; out[2] = ntt + 8; }
  }

  /** NESTED pixel of a location (no allocation). */
  private loc2nest(z: number, phi: number, sth: number): number {
    const b = this.xyfBuf;
    this.loc2xyfInto(z, phi, sth, b);
    const ix = b[0]!, iy = b[1]!;
    if (ix < 8192 && iy < 8192) return b[2]! * this.npface + spread13(ix) + 2 * spread13(iy);
    return this.xyf2nest(ix, iy, b[2]!);
  }

  /** Healpix's RING loc2pix (numbers; nside ≤ 2^24). */
  private loc2ring(z: number, phi: number, sth: number): number {
    const ns = this.nside;
    const za = Math.abs(z);
    const tt = fmodulo(phi * INV_HALFPI, 4.0);
    if (za <= TWOTHIRD) {
      const nl4 = 4 * ns;
      const temp1 = ns * (0.5 + tt);
      const temp2 = ns * z * 0.75;
      const jp = Math.trunc(temp1 - temp2);
      const jm = Math.trunc(temp1 + temp2);
      const ir = ns + 1 + jp - jm;
      const kshift = 1 - (ir & 1);
      const t1 = jp + jm - ns + kshift + 1 + nl4 + nl4;
      const ip = Math.floor(t1 / 2) % nl4;
      return this.ncap + (ir - 1) * nl4 + ip;
    }
    const tp = tt - Math.trunc(tt);
    const tmp = za < 0.99 || Number.isNaN(sth) ? ns * Math.sqrt(3 * (1 - za)) : (ns * sth) / Math.sqrt((1 + za) / 3);
    const jp = Math.trunc(tp * tmp);
    const jm = Math.trunc((1 - tp) * tmp);
    const ir = jp + jm + 1;
    const ip = Math.trunc(tt * ir);
    return z > 0 ? 2 * ir * (ir - 1) + ip : this.npix - 2 * ir * (ir + 1) + ip;
  }

  /** Pixel containing (theta, phi) in radians — exactly as healpy.ang2pix. */
  ang2pix(theta: number, phi: number, nest = false): number {
    this.needNumber('ang2pix');
    if (!(theta >= 0 && theta <= PI)) throw new TesseraError(`HEALPix ang2pix: theta ${theta} outside [0, π]`);
    const z = Math.cos(theta);
    const sth = theta < 0.01 || theta > 3.14159 - 0.01 ? Math.sin(theta) : NaN;
    if (nest) {
      if (this.order < 0) this.needNest('ang2pix');
      return this.loc2nest(z, phi, sth);
    }
    return this.loc2ring(z, phi, sth);
  }

  /** Pixel containing (ra, dec) in degrees (healpy lonlat=True). */
  ang2pixRaDec(raDeg: number, decDeg: number, nest = false): number {
    return this.ang2pix(HALFPI - decDeg * (PI / 180), raDeg * (PI / 180), nest);
  }

  /** Pixel containing a (not necessarily unit) vector — exactly as healpy.vec2pix. */
  vec2pix(x: number, y: number, z: number, nest = false): number {
    this.needNumber('vec2pix');
    const xl = 1 / Math.sqrt(x * x + y * y + z * z);
    const phi = x === 0 && y === 0 ? 0 : Math.atan2(y, x);
    const nz = z * xl;
    const sth = Math.abs(nz) > 0.99 ? xl * Math.sqrt(x * x + y * y) : NaN;
    if (nest) {
      this.needNest('vec2pix');
      return this.loc2nest(nz, phi, sth);
    }
    return this.loc2ring(nz, phi, sth);
  }

  private readonly locBuf = new Float64Array(3);

  /** Location (z, phi, sth|NaN) of a pixel. */
  pix2loc(pix: number, nest: boolean, out: Float64Array): void {
    if (nest) {
      const [ix, iy, f] = this.nest2xyf(pix);
      this.xyf2loc(ix, iy, f, out);
    } else this.ringLoc(pix, out);
  }

  /** Centre (theta, phi) in radians of a pixel — exactly as healpy.pix2ang. */
  pix2ang(pix: number, nest = false): [number, number] {
    this.checkPix(pix, nest);
    const b = this.locBuf;
    this.pix2loc(pix, nest, b);
    const theta = Number.isNaN(b[2]!) ? Math.acos(b[0]!) : Math.atan2(b[2]!, b[0]!);
    return [theta, b[1]!];
  }

  /** Centre (ra, dec) in degrees of a pixel (healpy lonlat=True). */
  pix2angRaDec(pix: number, nest = false): [number, number] {
    const [theta, phi] = this.pix2ang(pix, nest);
    return [(phi * 180) / PI, 90 - (theta * 180) / PI];
  }

  /** Unit vector of a pixel centre — as healpy.pix2vec. */
  pix2vec(pix: number, nest = false): [number, number, number] {
    this.checkPix(pix, nest);
    const b = this.locBuf;
    this.pix2loc(pix, nest, b);
    return locToVec(b[0]!, b[1]!, b[2]!);
  }

  private checkPix(pix: number, nest: boolean): void {
    this.needNumber('pixel');
    if (nest) this.needNest('pixel');
    if (!Number.isInteger(pix) || pix < 0 || pix >= this.npix) throw new TesseraError(`HEALPix: pixel ${pix} outside 0..${this.npix - 1} for nside ${this.nside}`);
  }

  nest2ring(pix: number): number {
    this.checkPix(pix, true);
    const [ix, iy, f] = this.nest2xyf(pix);
    return this.xyf2ring(ix, iy, f);
  }

  ring2nest(pix: number): number {
    this.checkPix(pix, true);
    const [ix, iy, f] = this.ring2xyf(pix);
    return this.xyf2nest(ix, iy, f);
  }

  /** Face coordinates of a pixel. */
  pix2xyf(pix: number, nest: boolean): [number, number, number] {
    return nest ? this.nest2xyf(pix) : this.ring2xyf(pix);
  }
  xyf2pix(ix: number, iy: number, face: number, nest: boolean): number {
    return nest ? this.xyf2nest(ix, iy, face) : this.xyf2ring(ix, iy, face);
  }

  /**
   * The 8 neighbours of a pixel in the order SW, W, NW, N, NE, E, SE, S (as
   * healpy.get_all_neighbours); -1 where a neighbour does not exist.
   */
  neighbours(pix: number, nest = false): number[] {
    this.checkPix(pix, nest);
    const [ix, iy, face] = this.pix2xyf(pix, nest);
    const ns = this.nside;
    const out: number[] = new Array(8);
    for (let i = 0; i < 8; i++) {
      let x = ix + NB_XOFFSET[i]!, y = iy + NB_YOFFSET[i]!;
      let nbnum = 4;
      if (x < 0) { x += ns; nbnum -= 1; } else if (x >= ns) { x -= ns; nbnum += 1; }
      if (y < 0) { y += ns; nbnum -= 3; } else if (y >= ns) { y -= ns; nbnum += 3; }
      const f = NB_FACEARRAY[nbnum]![face]!;
      if (f >= 0) {
        const bits = NB_SWAPARRAY[nbnum]![face >> 2]!;
        if (bits & 1) x = ns - x - 1;
        if (bits & 2) y = ns - y - 1;
        if (bits & 4) { const t = x; x = y; y = t; }
        out[i] = this.xyf2pix(x, y, f, nest);
      } else out[i] = -1;
    }
    return out;
  }

  /**
   * Points along the boundary of a pixel as unit vectors (4·step of them, starting at the
   * north corner going anticlockwise — as healpy.boundaries). step=1 gives the 4 corners.
   */
  boundaries(pix: number, nest = false, step = 1): Array<[number, number, number]> {
    this.checkPix(pix, nest);
    const [ix, iy, face] = this.pix2xyf(pix, nest);
    const ns = this.nside;
    const dc = 0.5 / ns;
    const xc = (ix + 0.5) / ns, yc = (iy + 0.5) / ns;
    const d = 1 / (step * ns);
    const out: Array<[number, number, number]> = new Array(4 * step);
    for (let i = 0; i < step; i++) {
      out[i] = xyfLoc(xc + dc - i * d, yc + dc, face);
      out[i + step] = xyfLoc(xc - dc, yc + dc - i * d, face);
      out[i + 2 * step] = xyfLoc(xc - dc + i * d, yc - dc, face);
      out[i + 3 * step] = xyfLoc(xc + dc, yc - dc + i * d, face);
    }
    return out;
  }

  /* ---------------- queries ---------------- */

  /**
   * Pixels whose centres lie within `radius` (radians) of the direction (theta, phi); with
   * `inclusive`, every pixel overlapping the disc (and possibly a few more), tested at
   * resolution fact·nside — identical to healpy.query_disc. Sorted ascending.
   */
  queryDisc(theta: number, phi: number, radius: number, opts: { nest?: boolean; inclusive?: boolean; fact?: number } = {}): number[] {
    this.needNumber('query_disc');
    const nest = opts.nest ?? false;
    const fact = opts.inclusive ? Math.abs(opts.fact ?? 4) : 0;
    if (opts.inclusive && fact === 0) throw new TesseraError('HEALPix query_disc: fact must be a positive integer');
    [theta, phi] = normalizePointing(theta, phi);
    if (nest) {
      this.needNest('query_disc');
      if (fact && (fact & (fact - 1)) !== 0) throw new TesseraError(`HEALPix query_disc: fact must be a power of 2 when nest is true (fact=${fact})`);
      const v = ptgToVec(theta, phi);
      return this.queryMultidiscNest([v], [radius], fact, true, Math.cos(theta), phi);
    }
    return this.queryDiscRing(theta, phi, radius, fact);
  }

  /** queryDisc about (ra, dec) in degrees with a radius in degrees. */
  queryDiscRaDec(raDeg: number, decDeg: number, radiusDeg: number, opts: { nest?: boolean; inclusive?: boolean; fact?: number } = {}): number[] {
    return this.queryDisc(HALFPI - decDeg * (PI / 180), raDeg * (PI / 180), radiusDeg * (PI / 180), opts);
  }

  /** queryDisc about a vector (as healpy.query_disc(nside, vec, ...)). */
  queryDiscVec(vec: readonly number[], radius: number, opts: { nest?: boolean; inclusive?: boolean; fact?: number } = {}): number[] {
    const [t, p] = vecToPtg(vec[0]!, vec[1]!, vec[2]!);
    return this.queryDisc(t, p, radius, opts);
  }

  private queryDiscRing(theta: number, phi: number, radius: number, fct: number): number[] {
    const inclusive = fct !== 0;
    if (fct === 0) fct = 1;
    if (inclusive && Math.floor(NSIDE_MAX / this.nside) < fct) throw new TesseraError('HEALPix query_disc: invalid oversampling factor');
    const out: number[] = [];
    let b2: Healpix | undefined;
    let rsmall: number, rbig: number;
    if (fct > 1) {
      b2 = new Healpix(fct * this.nside);
      rsmall = radius + b2.maxPixrad();
      rbig = radius + this.maxPixrad();
    } else rsmall = rbig = inclusive ? radius + this.maxPixrad() : radius;
    if (rsmall >= PI) return range(0, this.npix);
    rbig = Math.min(PI, rbig);
    const cosrsmall = Math.cos(rsmall), cosrbig = Math.cos(rbig);
    const z0 = Math.cos(theta);
    const xa = 1 / Math.sqrt((1 - z0) * (1 + z0));
    const cpix = fct > 1 ? this.loc2ring(z0, phi, NaN) : -1;
    const rlat1 = theta - rsmall;
    const zmax = Math.cos(rlat1);
    let irmin = this.ringAbove(zmax) + 1;
    if (rlat1 <= 0 && irmin > 1) {
      const [sp, rp] = this.ringInfo(irmin - 1);
      pushRange(out, 0, sp + rp);
    }
    if (fct > 1 && rlat1 > 0) irmin = Math.max(1, irmin - 1);
    const rlat2 = theta + rsmall;
    const zmin = Math.cos(rlat2);
    let irmax = this.ringAbove(zmin);
    if (fct > 1 && rlat2 < PI) irmax = Math.min(4 * this.nside - 1, irmax + 1);
    for (let iz = irmin; iz <= irmax; iz++) {
      const z = this.ring2z(iz);
      const x = (cosrbig - z * z0) * xa;
      const ysq = 1 - z * z - x * x;
      const dphi = ysq <= 0 ? PI - 1e-15 : Math.atan2(Math.sqrt(ysq), x);
      const [ipix1, nr, shifted] = this.ringInfo(iz);
      const shift = shifted ? 0.5 : 0;
      const ipix2 = ipix1 + nr - 1;
      let ipLo = ifloor(nr * INV_TWOPI * (phi - dphi) - shift) + 1;
      let ipHi = ifloor(nr * INV_TWOPI * (phi + dphi) - shift);
      if (fct > 1) {
        while (ipLo <= ipHi && this.checkPixelRing(b2!, ipLo, nr, ipix1, fct, z0, phi, cosrsmall, cpix)) ++ipLo;
        while (ipHi > ipLo && this.checkPixelRing(b2!, ipHi, nr, ipix1, fct, z0, phi, cosrsmall, cpix)) --ipHi;
      }
      if (ipLo <= ipHi) {
        if (ipHi >= nr) { ipLo -= nr; ipHi -= nr; }
        if (ipLo < 0) {
          pushRange(out, ipix1, ipix1 + ipHi + 1);
          pushRange(out, ipix1 + ipLo + nr, ipix2 + 1);
        } else pushRange(out, ipix1 + ipLo, ipix1 + ipHi + 1);
      }
    }
    if (rlat2 >= PI && irmax + 1 < 4 * this.nside) {
      const [sp] = this.ringInfo(irmax + 1);
      pushRange(out, sp, this.npix);
    }
    return out;
  }

  /** True when the RING pixel (in-ring index `pix`) certainly does NOT overlap the disc. */
  private checkPixelRing(b2: Healpix, pix: number, nr: number, ipix1: number, fct: number, cz: number, cphi: number, cosrp2: number, cpix: number): boolean {
    if (pix >= nr) pix -= nr;
    if (pix < 0) pix += nr;
    pix += ipix1;
    if (pix === cpix) return false;
    const [px, py, pf] = this.ring2xyf(pix);
    const loc = this.locBuf;
    for (let i = 0; i < fct - 1; i++) {
      const ox = fct * px, oy = fct * py;
      b2.xyf2ringLoc(ox + i, oy, pf, loc);
      if (cosdistZphi(loc[0]!, loc[1]!, cz, cphi) > cosrp2) return false;
      b2.xyf2ringLoc(ox + fct - 1, oy + i, pf, loc);
      if (cosdistZphi(loc[0]!, loc[1]!, cz, cphi) > cosrp2) return false;
      b2.xyf2ringLoc(ox + fct - 1 - i, oy + fct - 1, pf, loc);
      if (cosdistZphi(loc[0]!, loc[1]!, cz, cphi) > cosrp2) return false;
      b2.xyf2ringLoc(ox, oy + fct - 1 - i, pf, loc);
      if (cosdistZphi(loc[0]!, loc[1]!, cz, cphi) > cosrp2) return false;
    }
    return true;
  }

  /**
   * Location of the RING pixel with face coordinates (ix, iy, face), computed with RING pix2loc
   * arithmetic but without forming the pixel number (safe for nside up to 2^29).
   */
  xyf2ringLoc(ix: number, iy: number, face: number, out: Float64Array): void {
    const ns = this.nside;
    const jr = JRLL[face]! * ns - ix - iy - 1; // ring number
    let nr: number, shifted: boolean;
    if (jr < ns) { nr = jr; shifted = true; }
    else if (jr <= 3 * ns) { nr = ns; shifted = ((jr - ns) & 1) === 0; }
    else { nr = 4 * ns - jr; shifted = true; }
    const kshift = shifted ? 0 : 1;
    let jp = Math.trunc((JPLL[face]! * nr + ix - iy + 1 + kshift) / 2);
    if (jp < 1) jp += 4 * ns;
    // jp is iphi (1-based position in the ring); reproduce ringLoc's formulas
    let z: number, phi: number, sth = NaN;
    if (jr < ns) {
      const tmp = jr * jr * this.fact2;
      z = 1 - tmp;
      if (z > 0.99) sth = Math.sqrt(tmp * (2 - tmp));
      phi = ((jp - 0.5) * HALFPI) / jr;
    } else if (jr <= 3 * ns) {
      const fodd = ((jr + ns) & 1) !== 0 ? 1 : 0.5;
      z = (2 * ns - jr) * this.fact1;
      phi = (jp - fodd) * PI * 0.75 * this.fact1;
    } else {
      const ir = 4 * ns - jr;
      const tmp = ir * ir * this.fact2;
      z = tmp - 1;
      if (z < -0.99) sth = Math.sqrt(tmp * (2 - tmp));
      phi = ((jp - 0.5) * HALFPI) / ir;
    }
    out[0] = z;
    out[1] = phi;
    out[2] = sth;
  }

  /**
   * Pixels whose centres lie inside the convex spherical polygon (vertices as unit vectors or
   * (ra, dec) degrees); with `inclusive` all overlapping pixels (and maybe a few more) —
   * identical to healpy.query_polygon.
   */
  queryPolygon(vertices: ReadonlyArray<readonly number[]>, opts: { nest?: boolean; inclusive?: boolean; fact?: number } = {}): number[] {
    this.needNumber('query_polygon');
    const nest = opts.nest ?? false;
    const fact = opts.inclusive ? Math.abs(opts.fact ?? 4) : 0;
    if (opts.inclusive && fact === 0) throw new TesseraError('HEALPix query_polygon: fact must be a positive integer');
    if (nest) {
      this.needNest('query_polygon');
      if (fact && (fact & (fact - 1)) !== 0) throw new TesseraError(`HEALPix query_polygon: fact must be a power of 2 when nest is true (fact=${fact})`);
    }
    const nv = vertices.length;
    if (nv < 3) throw new TesseraError('HEALPix query_polygon: not enough vertices in polygon');
    // pointing(vec3) then to_vec3, as healpy does
    const vv = vertices.map((v) => {
      const [t, p] = vecToPtg(v[0]!, v[1]!, v[2]!);
      return ptgToVec(t, p);
    });
    const normals: number[][] = [];
    let flip = 0;
    for (let i = 0; i < nv; i++) {
      const n = crossV(vv[i]!, vv[(i + 1) % nv]!);
      const hnd = dotV(n, vv[(i + 2) % nv]!);
      if (!(Math.abs(hnd) > 1e-10)) throw new TesseraError('HEALPix query_polygon: degenerate corner');
      if (i === 0) flip = hnd < 0 ? -1 : 1;
      else if (!(flip * hnd > 0)) throw new TesseraError('HEALPix query_polygon: polygon is not convex');
      const f = flip / Math.hypot(n[0]!, n[1]!, n[2]!);
      normals.push([n[0]! * f, n[1]! * f, n[2]! * f]);
    }
    const rad = new Array<number>(nv).fill(HALFPI);
    if (fact) {
      const [c, cosrad] = findEnclosingCircle(vv);
      normals.push(c);
      rad.push(Math.acos(cosrad));
    }
    if (nest) return this.queryMultidiscNest(normals, rad, fact, false, 0, 0);
    return this.queryMultidiscRing(normals, rad, fact);
  }

  /** queryPolygon with (ra, dec) vertices in degrees. */
  queryPolygonRaDec(ra: ArrayLike<number>, dec: ArrayLike<number>, opts: { nest?: boolean; inclusive?: boolean; fact?: number } = {}): number[] {
    const verts: number[][] = [];
    for (let i = 0; i < ra.length; i++) {
      const a = ra[i]! * (PI / 180), d = dec[i]! * (PI / 180);
      verts.push([Math.cos(d) * Math.cos(a), Math.cos(d) * Math.sin(a), Math.sin(d)]);
    }
    return this.queryPolygon(verts, opts);
  }

  private queryMultidiscRing(norms: number[][], rad: number[], fct: number): number[] {
    const inclusive = fct !== 0;
    if (fct === 0) fct = 1;
    let b2: Healpix | undefined;
    let rpsmall: number, rpbig: number;
    if (fct > 1) {
      b2 = new Healpix(fct * this.nside);
      rpsmall = b2.maxPixrad();
      rpbig = this.maxPixrad();
    } else rpsmall = rpbig = inclusive ? this.maxPixrad() : 0;
    let irmin = 1, irmax = 4 * this.nside - 1;
    const z0: number[] = [], xa: number[] = [], cosrsmall: number[] = [], cosrbig: number[] = [], pth: number[] = [], pph: number[] = [], cpix: number[] = [];
    for (let i = 0; i < norms.length; i++) {
      const rsmall = rad[i]! + rpsmall;
      if (rsmall < PI) {
        const rbig = Math.min(PI, rad[i]! + rpbig);
        const [th, ph] = vecToPtg(norms[i]![0]!, norms[i]![1]!, norms[i]![2]!);
        cosrsmall.push(Math.cos(rsmall));
        cosrbig.push(Math.cos(rbig));
        const cth = Math.cos(th);
        z0.push(cth);
        cpix.push(fct > 1 ? this.loc2ring(cth, ph, NaN) : -1);
        xa.push(1 / Math.sqrt((1 - cth) * (1 + cth)));
        pth.push(th);
        pph.push(ph);
        const rlat1 = th - rsmall;
        const zmax = Math.cos(rlat1);
        let irminT = rlat1 <= 0 ? 1 : this.ringAbove(zmax) + 1;
        if (fct > 1 && rlat1 > 0) irminT = Math.max(1, irminT - 1);
        const rlat2 = th + rsmall;
        const zmin = Math.cos(rlat2);
        let irmaxT = rlat2 >= PI ? 4 * this.nside - 1 : this.ringAbove(zmin);
        if (fct > 1 && rlat2 < PI) irmaxT = Math.min(4 * this.nside - 1, irmaxT + 1);
        if (irmaxT < irmax) irmax = irmaxT;
        if (irminT > irmin) irmin = irminT;
      }
    }
    const out: number[] = [];
    for (let iz = irmin; iz <= irmax; iz++) {
      const z = this.ring2z(iz);
      const [ipix1, nr, shifted] = this.ringInfo(iz);
      const shift = shifted ? 0.5 : 0;
      let tr: number[] = [ipix1, ipix1 + nr]; // rangeset as flat [a0,b0,a1,b1,...]
      for (let j = 0; j < z0.length; j++) {
        const x = (cosrbig[j]! - z * z0[j]!) * xa[j]!;
        const ysq = 1 - z * z - x * x;
        const dphi = ysq <= 0 ? PI - 1e-15 : Math.atan2(Math.sqrt(ysq), x);
        let ipLo = ifloor(nr * INV_TWOPI * (pph[j]! - dphi) - shift) + 1;
        let ipHi = ifloor(nr * INV_TWOPI * (pph[j]! + dphi) - shift);
        if (fct > 1) {
          while (ipLo <= ipHi && this.checkPixelRing(b2!, ipLo, nr, ipix1, fct, z0[j]!, pph[j]!, cosrsmall[j]!, cpix[j]!)) ++ipLo;
          while (ipHi > ipLo && this.checkPixelRing(b2!, ipHi, nr, ipix1, fct, z0[j]!, pph[j]!, cosrsmall[j]!, cpix[j]!)) --ipHi;
        }
        if (ipHi >= nr) { ipLo -= nr; ipHi -= nr; }
        if (ipLo < 0) tr = rangesetRemove(tr, ipix1 + ipHi + 1, ipix1 + ipLo + nr);
        else tr = rangesetIntersect(tr, ipix1 + ipLo, ipix1 + ipHi + 1);
      }
      for (let k = 0; k < tr.length; k += 2) pushRange(out, tr[k]!, tr[k + 1]!);
    }
    return out;
  }

  /**
   * Healpix's hierarchical NEST query for the intersection of discs (query_disc uses one disc,
   * query_polygon one per edge plus the enclosing circle when inclusive). Pixels are carried
   * as (face, ix, iy, order), so no pixel number above the output order is ever formed.
   */
  private queryMultidiscNest(norms: number[][], rad: number[], fact: number, single: boolean, cz: number, cphi: number): number[] {
    const inclusive = fact !== 0;
    const order = this.order;
    const nv = norms.length;
    if (single && rad[0]! >= PI) return range(0, this.npix);
    let oplus = 0;
    if (inclusive) {
      if (2 ** (ORDER_MAX - order) < fact) throw new TesseraError('HEALPix query: invalid oversampling factor');
      oplus = Math.round(Math.log2(fact));
    }
    const omax = order + oplus;
    const bases: Healpix[] = [];
    // crlimit[o][i][0..2]
    const crl = new Float64Array((omax + 1) * nv * 3);
    for (let o = 0; o <= omax; o++) {
      bases.push(new Healpix(2 ** o));
      const dr = bases[o]!.maxPixrad();
      for (let i = 0; i < nv; i++) {
        const k = (o * nv + i) * 3;
        crl[k] = rad[i]! + dr > PI ? -1 : Math.cos(rad[i]! + dr);
        crl[k + 1] = single ? Math.cos(rad[i]!) : o === 0 ? Math.cos(rad[i]!) : crl[i * 3 + 1]!;
        crl[k + 2] = rad[i]! - dr < 0 ? 1 : Math.cos(rad[i]! - dr);
      }
    }
    // stack of (face, ix, iy, order)
    const sF: number[] = [], sX: number[] = [], sY: number[] = [], sO: number[] = [];
    for (let i = 0; i < 12; i++) { sF.push(11 - i); sX.push(0); sY.push(0); sO.push(0); }
    let stacktop = 0;
    const out: number[] = [];
    const loc = new Float64Array(3);
    const cz0 = cz, cph0 = cphi;
    const push4 = (f: number, x: number, y: number, o: number): void => {
      for (let i = 0; i < 4; i++) {
        const k = 3 - i;
        sF.push(f); sX.push(2 * x + (k & 1)); sY.push(2 * y + (k >> 1)); sO.push(o + 1);
      }
    };
    const emitAt = (f: number, x: number, y: number, o: number): void => {
      const sh = o - order;
      const px = Math.floor(x / 2 ** sh), py = Math.floor(y / 2 ** sh);
      const p = this.xyf2nest(px, py, f);
      if (out.length === 0 || out[out.length - 1]! < p) out.push(p);
    };
    while (sF.length) {
      const f = sF.pop()!, x = sX.pop()!, y = sY.pop()!, o = sO.pop()!;
      const b = bases[o]!;
      b.xyf2loc(x, y, f, loc);
      let zone: number;
      if (single) {
        const cangdist = cosdistZphi(cz0, cph0, loc[0]!, loc[1]!);
        const k = o * 3;
        if (!(cangdist > crl[k]!)) continue;
        zone = cangdist < crl[k + 1]! ? 1 : cangdist <= crl[k + 2]! ? 2 : 3;
      } else {
        const pv = locToVec(loc[0]!, loc[1]!, loc[2]!);
        zone = 3;
        let bail = false;
        for (let i = 0; i < nv && !bail; i++) {
          const n = norms[i]!;
          const crad = pv[0] * n[0]! + pv[1] * n[1]! + pv[2] * n[2]!;
          const k = (o * nv + i) * 3;
          for (let iz = 0; iz < zone; iz++) {
            if (crad < crl[k + iz]!) {
              zone = iz;
              if (zone === 0) { bail = true; break; }
            }
          }
        }
        if (bail) continue;
      }
      if (zone === 0) continue;
      // check_pixel
      if (o < order) {
        if (zone >= 3) {
          const sdist = order - o;
          const base = this.xyf2nest(x * 2 ** sdist, y * 2 ** sdist, f);
          const cnt = 4 ** sdist;
          for (let p = base; p < base + cnt; p++) out.push(p);
        } else push4(f, x, y, o);
      } else if (o > order) {
        if (zone >= 2) {
          emitAt(f, x, y, o);
          sF.length = sX.length = sY.length = sO.length = stacktop;
        } else if (o < omax) push4(f, x, y, o);
        else {
          emitAt(f, x, y, o);
          sF.length = sX.length = sY.length = sO.length = stacktop;
        }
      } else {
        if (zone >= 2) out.push(this.xyf2nest(x, y, f));
        else if (inclusive) {
          if (order < omax) {
            stacktop = sF.length;
            push4(f, x, y, o);
          } else out.push(this.xyf2nest(x, y, f));
        }
      }
    }
    return out;
  }

  /* ---------------- BigInt path for nside up to 2^29 ---------------- */

  /** ang2pix returning a BigInt (any nside up to 2^29). */
  ang2pixBig(theta: number, phi: number, nest = false): bigint {
    if (!(theta >= 0 && theta <= PI)) throw new TesseraError(`HEALPix ang2pix: theta ${theta} outside [0, π]`);
    const z = Math.cos(theta);
    const sth = theta < 0.01 || theta > 3.14159 - 0.01 ? Math.sin(theta) : NaN;
    if (nest) this.needNest('ang2pixBig');
    const [ix, iy, f] = this.loc2xyf(z, phi, sth);
    return nest ? this.xyf2nestBig(ix, iy, f) : this.xyf2ringBig(ix, iy, f);
  }

  xyf2nestBig(ix: number, iy: number, face: number): bigint {
    return (BigInt(face) << BigInt(2 * this.order)) | spreadBig(ix) | (spreadBig(iy) << 1n);
  }

  nest2xyfBig(pix: bigint): [number, number, number] {
    const face = Number(pix >> BigInt(2 * this.order));
    const p = pix & ((1n << BigInt(2 * this.order)) - 1n);
    return [compressBig(p), compressBig(p >> 1n), face];
  }

  xyf2ringBig(ix: number, iy: number, face: number): bigint {
    const ns = this.nside;
    const nsb = BigInt(ns);
    const jr = JRLL[face]! * ns - ix - iy - 1; // < 2^31: exact
    let nr: number, shifted: boolean, nBefore: bigint;
    if (jr < ns) { nr = jr; shifted = true; nBefore = 2n * BigInt(jr) * BigInt(jr - 1); }
    else if (jr < 3 * ns) { nr = ns; shifted = ((jr - ns) & 1) === 0; nBefore = 2n * (nsb * nsb - nsb) + BigInt(jr - ns) * 4n * nsb; }
    else { nr = 4 * ns - jr; shifted = true; nBefore = 12n * nsb * nsb - 2n * BigInt(nr) * BigInt(nr + 1); }
    const kshift = shifted ? 0 : 1;
    let jp = Math.trunc((JPLL[face]! * nr + ix - iy + 1 + kshift) / 2);
    if (jp < 1) jp += 4 * ns;
    return nBefore + BigInt(jp - 1);
  }

  ring2xyfBig(pix: bigint): [number, number, number] {
    const ns = this.nside, nsb = BigInt(ns), nl2 = 2 * ns;
    const ncap = 2n * (nsb * nsb - nsb), npix = 12n * nsb * nsb;
    let iring: number, iphi: number, kshift: number, nr: number, face: number;
    if (pix < ncap) {
      iring = Number((1n + bigIsqrt(1n + 2n * pix)) >> 1n);
      iphi = Number(pix + 1n - 2n * BigInt(iring) * BigInt(iring - 1));
      kshift = 0; nr = iring;
      face = Math.trunc((iphi - 1) / nr);
    } else if (pix < npix - ncap) {
      const ip = pix - ncap;
      const tmp = ip / (4n * nsb);
      iring = Number(tmp) + ns;
      iphi = Number(ip - tmp * 4n * nsb) + 1;
      kshift = (iring + ns) & 1;
      nr = ns;
      const ire = iring - ns + 1, irm = nl2 + 2 - ire;
      const ifm = Math.floor((iphi - Math.floor(ire / 2) + ns - 1) / ns);
      const ifp = Math.floor((iphi - Math.floor(irm / 2) + ns - 1) / ns);
      face = ifp === ifm ? ifp | 4 : ifp < ifm ? ifp : ifm + 8;
    } else {
      const ip = npix - pix;
      iring = Number((1n + bigIsqrt(2n * ip - 1n)) >> 1n);
      iphi = Number(4n * BigInt(iring) + 1n - (ip - 2n * BigInt(iring) * BigInt(iring - 1)));
      kshift = 0; nr = iring;
      iring = 2 * nl2 - iring;
      face = 8 + Math.trunc((iphi - 1) / nr);
    }
    const irt = iring - JRLL[face]! * ns + 1;
    let ipt = 2 * iphi - JPLL[face]! * nr - kshift - 1;
    if (ipt >= nl2) ipt -= 8 * ns;
    return [Math.floor((ipt - irt) / 2), Math.floor((-ipt - irt) / 2), face];
  }

  nest2ringBig(pix: bigint): bigint {
    this.needNest('nest2ring');
    const [x, y, f] = this.nest2xyfBig(pix);
    return this.xyf2ringBig(x, y, f);
  }
  ring2nestBig(pix: bigint): bigint {
    this.needNest('ring2nest');
    const [x, y, f] = this.ring2xyfBig(pix);
    return this.xyf2nestBig(x, y, f);
  }
  /** pix2ang for BigInt pixel numbers (any nside up to 2^29). */
  pix2angBig(pix: bigint, nest = false): [number, number] {
    const [x, y, f] = nest ? this.nest2xyfBig(pix) : this.ring2xyfBig(pix);
    const b = this.locBuf;
    if (nest) this.xyf2loc(x, y, f, b);
    else this.xyf2ringLoc(x, y, f, b);
    const theta = Number.isNaN(b[2]!) ? Math.acos(b[0]!) : Math.atan2(b[2]!, b[0]!);
    return [theta, b[1]!];
  }
}

/* ---------------- helpers ---------------- */

function spreadBig(v: number): bigint {
  return BigInt(spread13(v & 0x1fff)) | (BigInt(spread13((v >>> 13) & 0x1fff)) << 26n) | (BigInt(spread13(v >>> 26)) << 52n);
}
function compressBig(p: bigint): number {
  let r = 0;
  let bit = 1;
  for (let k = 0n; p >> k; k += 2n, bit *= 2) if ((p >> k) & 1n) r += bit;
  return r;
}
function bigIsqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  while (x * x > n) x--;
  while ((x + 1n) * (x + 1n) <= n) x++;
  return x;
}

function range(a: number, b: number): number[] {
  const out = new Array<number>(b - a);
  for (let i = 0; i < b - a; i++) out[i] = a + i;
  return out;
}
function pushRange(out: number[], a: number, b: number): void {
  for (let p = a; p < b; p++) out.push(p);
}
/** Intersect a flat rangeset with [a, b). */
function rangesetIntersect(r: number[], a: number, b: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < r.length; k += 2) {
    const lo = Math.max(r[k]!, a), hi = Math.min(r[k + 1]!, b);
    if (lo < hi) out.push(lo, hi);
  }
  return out;
}
/** Remove [a, b) from a flat rangeset. */
function rangesetRemove(r: number[], a: number, b: number): number[] {
  if (a >= b) return r;
  const out: number[] = [];
  for (let k = 0; k < r.length; k += 2) {
    const lo = r[k]!, hi = r[k + 1]!;
    if (hi <= a || lo >= b) { out.push(lo, hi); continue; }
    if (lo < a) out.push(lo, a);
    if (hi > b) out.push(b, hi);
  }
  return out;
}

function setZPhi(z: number, phi: number): [number, number, number] {
  const st = Math.sqrt((1 - z) * (1 + z));
  return [st * Math.cos(phi), st * Math.sin(phi), z];
}
function locToVec(z: number, phi: number, sth: number): [number, number, number] {
  if (!Number.isNaN(sth)) return [sth * Math.cos(phi), sth * Math.sin(phi), z];
  return setZPhi(z, phi);
}
function xyfLoc(x: number, y: number, face: number): [number, number, number] {
  const jr = JRLL[face]! - x - y;
  let nr: number, z: number, sth = NaN;
  if (jr < 1) {
    nr = jr;
    const tmp = (nr * nr) / 3;
    z = 1 - tmp;
    if (z > 0.99) sth = Math.sqrt(tmp * (2 - tmp));
  } else if (jr > 3) {
    nr = 4 - jr;
    const tmp = (nr * nr) / 3;
    z = tmp - 1;
    if (z < -0.99) sth = Math.sqrt(tmp * (2 - tmp));
  } else {
    nr = 1;
    z = ((2 - jr) * 2) / 3;
  }
  let tmp = JPLL[face]! * nr + x - y;
  if (tmp < 0) tmp += 8;
  if (tmp >= 8) tmp -= 8;
  const phi = nr < 1e-15 ? 0 : (0.5 * HALFPI * tmp) / nr;
  return locToVec(z, phi, sth);
}
function crossV(a: readonly number[], b: readonly number[]): number[] {
  return [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];
}
function dotV(a: readonly number[], b: readonly number[]): number {
  return a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;
}
function vAngle(a: readonly number[], b: readonly number[]): number {
  const c = crossV(a, b);
  return Math.atan2(Math.hypot(c[0]!, c[1]!, c[2]!), dotV(a, b));
}
function cosdistZphi(z1: number, phi1: number, z2: number, phi2: number): number {
  return z1 * z2 + Math.cos(phi1 - phi2) * Math.sqrt((1 - z1 * z1) * (1 - z2 * z2));
}
/** Healpix's pointing(vec3): theta = atan2(ρ, z), phi in [0, 2π). */
function vecToPtg(x: number, y: number, z: number): [number, number] {
  const theta = Math.atan2(Math.sqrt(x * x + y * y), z);
  let phi = x === 0 && y === 0 ? 0 : Math.atan2(y, x);
  if (phi < 0) phi += TWOPI;
  return [theta, phi];
}
function ptgToVec(theta: number, phi: number): number[] {
  const st = Math.sin(theta);
  return [st * Math.cos(phi), st * Math.sin(phi), Math.cos(theta)];
}
/** Healpix's pointing::normalize. */
function normalizePointing(theta: number, phi: number): [number, number] {
  theta = fmodulo(theta, TWOPI);
  if (theta > PI) { phi += PI; theta = TWOPI - theta; }
  return [theta, fmodulo(phi, TWOPI)];
}
function norm3(a: readonly number[]): number[] {
  const l = Math.hypot(a[0]!, a[1]!, a[2]!);
  const f = 1 / l;
  return [a[0]! * f, a[1]! * f, a[2]! * f];
}
/** Smallest circle enclosing unit vectors (Healpix's find_enclosing_circle): [centre, cos radius]. */
function findEnclosingCircle(pt: number[][]): [number[], number] {
  const add = (a: readonly number[], b: readonly number[]) => [a[0]! + b[0]!, a[1]! + b[1]!, a[2]! + b[2]!];
  const sub = (a: readonly number[], b: readonly number[]) => [a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!];
  let center = norm3(add(pt[0]!, pt[1]!));
  let cosrad = dotV(pt[0]!, center);
  const circle2 = (q1: number, q2: number): void => {
    center = norm3(add(pt[q1]!, pt[q2]!));
    cosrad = dotV(pt[q1]!, center);
    for (let i = 0; i < q1; i++) {
      if (dotV(pt[i]!, center) < cosrad) {
        center = norm3(crossV(sub(pt[q1]!, pt[i]!), sub(pt[q2]!, pt[i]!)));
        cosrad = dotV(pt[i]!, center);
        if (cosrad < 0) { center = [-center[0]!, -center[1]!, -center[2]!]; cosrad = -cosrad; }
      }
    }
  };
  const circle1 = (q: number): void => {
    center = norm3(add(pt[0]!, pt[q]!));
    cosrad = dotV(pt[0]!, center);
    for (let i = 1; i < q; i++) if (dotV(pt[i]!, center) < cosrad) circle2(i, q);
  };
  for (let i = 2; i < pt.length; i++) if (dotV(pt[i]!, center) < cosrad) circle1(i);
  return [center, cosrad];
}

const cache = new Map<number, Healpix>();
/** A shared Healpix object for an nside. */
export function healpix(nside: number): Healpix {
  let h = cache.get(nside);
  if (!h) { h = new Healpix(nside); cache.set(nside, h); }
  return h;
}

/**
 * Vectorised ang2pix over (ra, dec) arrays in degrees (nside ≤ 2^24) — the fast path used by
 * catalogs; gives the same numbers as healpy.ang2pix(nside, ra, dec, lonlat=True, nest=...).
 */
export function ang2pixRaDecArray(nside: number, ra: ArrayLike<number>, dec: ArrayLike<number>, nest = false, out?: Float64Array): Float64Array {
  const h = healpix(nside);
  const n = ra.length;
  const res = out ?? new Float64Array(n);
  for (let i = 0; i < n; i++) res[i] = h.ang2pix(HALFPI - dec[i]! * (PI / 180), ra[i]! * (PI / 180), nest);
  return res;
}
