/**
 * A spatial index for cross-matching catalogs on the sphere: Dec zones (of a height near the
 * match radius), rows sorted by RA within each zone, and unit vectors for exact distances.
 * Handles RA wrap (the RA window is split at 0/360) and the poles (the window becomes the whole
 * zone when the search circle reaches a pole). Typed arrays only; no per-row allocation.
 */
import { TesseraError } from '../util/errors.js';

const D2R = Math.PI / 180;

export interface NearestMatch {
  /** for each query row, the index of the nearest catalog row within the radius, or −1 */
  index: Int32Array;
  /** separation in arcsec (NaN when unmatched) */
  sepArcsec: Float64Array;
}

export interface PairMatch {
  /** query-row index of each pair */
  i1: Int32Array;
  /** catalog-row index of each pair */
  i2: Int32Array;
  sepArcsec: Float64Array;
}

/** Chord length² between unit vectors for an angle in radians. */
function chord2(angleRad: number): number {
  const s = 2 * Math.sin(Math.min(angleRad, Math.PI) / 2);
  return s * s;
}
/** Angle in radians from a chord length² (accurate at small and large angles). */
function angleFromChord2(c2: number): number {
  return 2 * Math.asin(Math.min(1, Math.sqrt(c2) / 2));
}

export class SkyIndex {
  readonly n: number;
  readonly zoneHeightDeg: number;
  /** original row of each sorted position */
  readonly perm: Uint32Array;
  private readonly ra: Float64Array;
  private readonly x: Float64Array;
  private readonly y: Float64Array;
  private readonly z: Float64Array;
  private readonly zoneMin: number;
  private readonly zoneCount: number;
  /** zoneStart[k]..zoneStart[k+1] are the sorted positions of zone zoneMin + k */
  private readonly zoneStart: Int32Array;

  /**
   * @param zoneHeightDeg Dec zone height; best near the typical match radius (default 1″; raised
   *   when needed so there are at most 2^22 zones over the data's Dec extent).
   */
  constructor(raDeg: ArrayLike<number>, decDeg: ArrayLike<number>, zoneHeightDeg = 1 / 3600) {
    const n = raDeg.length;
    if (decDeg.length !== n) throw new TesseraError(`SkyIndex: ra has ${n} rows but dec has ${decDeg.length}`);
    this.n = n;
    let dmin = Infinity, dmax = -Infinity;
    for (let i = 0; i < n; i++) {
      const d = decDeg[i]!, r = raDeg[i]!;
      if (!(d >= -90 && d <= 90) || !Number.isFinite(r)) throw new TesseraError(`SkyIndex: row ${i} has an invalid position (ra=${r}, dec=${d})`);
      if (d < dmin) dmin = d;
      if (d > dmax) dmax = d;
    }
    if (n === 0) { dmin = 0; dmax = 0; }
    const h = Math.max(zoneHeightDeg, (dmax - dmin) / 4194304, 1e-7);
    this.zoneHeightDeg = h;
    const raW = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let r = raDeg[i]! % 360;
      if (r < 0) r += 360;
      if (r >= 360) r = 0;
      raW[i] = r;
    }
    const zsort = zoneSort(raW, decDeg, h);
    this.zoneMin = zsort.zmin;
    this.zoneCount = zsort.zoneCount;
    this.zoneStart = zsort.zoneStart;
    const b = zsort.perm;
    this.perm = b;
    this.ra = new Float64Array(n);
    this.x = new Float64Array(n);
    this.y = new Float64Array(n);
    this.z = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const i = b[k]!;
      const r = raW[i]! * D2R, d = decDeg[i]! * D2R;
      const cd = Math.cos(d);
      this.ra[k] = raW[i]!;
      this.x[k] = cd * Math.cos(r);
      this.y[k] = cd * Math.sin(r);
      this.z[k] = Math.sin(d);
    }
  }

  /** First sorted position in [lo, hi) whose RA is ≥ v. */
  private lowerBound(lo: number, hi: number, v: number): number {
    const ra = this.ra;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (ra[m]! < v) lo = m + 1; else hi = m;
    }
    return lo;
  }

  /** First sorted position in [lo, hi) whose RA is > v. */
  private upperBound(lo: number, hi: number, v: number): number {
    const ra = this.ra;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (ra[m]! <= v) lo = m + 1; else hi = m;
    }
    return lo;
  }

  /**
   * Scan the rows that may lie within `radiusDeg` of (ra, dec) (unit vector q): either keep the
   * nearest one within chord² c2max in `best`, or pass every row within c2max to `all`.
   */
  private search(ra: number, dec: number, radiusDeg: number, qx: number, qy: number, qz: number, c2max: number, best: { c2: number; k: number }, all: ((k: number, c2: number) => void) | null): void {
    const h = this.zoneHeightDeg;
    const z0 = Math.max(this.zoneMin, Math.floor((dec - radiusDeg + 90) / h));
    const z1 = Math.min(this.zoneMin + this.zoneCount - 1, Math.floor((dec + radiusDeg + 90) / h));
    if (z0 > z1) return;
    let fullCircle = false;
    let alpha = 0;
    const adec = Math.abs(dec);
    if (adec + radiusDeg >= 89.999999 || radiusDeg >= 90) fullCircle = true;
    else {
      const s = Math.sin(radiusDeg * D2R) / Math.cos(dec * D2R);
      if (s >= 1) fullCircle = true;
      else alpha = Math.asin(s) / D2R * (1 + 1e-12) + 1e-7;
      if (alpha >= 180) fullCircle = true;
    }
    let lo1 = 0, hi1 = 0, lo2 = 0, hi2 = -1;
    if (!fullCircle) {
      lo1 = ra - alpha; hi1 = ra + alpha;
      if (lo1 < 0) { lo2 = lo1 + 360; hi2 = 360; lo1 = 0; }
      else if (hi1 >= 360) { lo2 = 0; hi2 = hi1 - 360; hi1 = 360; }
    }
    const X = this.x, Y = this.y, Z = this.z, zs = this.zoneStart;
    for (let zz = z0; zz <= z1; zz++) {
      const s0 = zs[zz - this.zoneMin]!, s1 = zs[zz - this.zoneMin + 1]!;
      if (s0 === s1) continue;
      for (let part = 0; part < 2; part++) {
        let a: number, b: number;
        if (fullCircle) {
          if (part === 1) break;
          a = s0; b = s1;
        } else if (part === 0) {
          a = this.lowerBound(s0, s1, lo1);
          b = this.upperBound(a, s1, hi1);
        } else {
          if (hi2 < lo2) break;
          a = this.lowerBound(s0, s1, lo2);
          b = this.upperBound(a, s1, hi2);
        }
        for (let k = a; k < b; k++) {
          const dx = X[k]! - qx, dy = Y[k]! - qy, dz = Z[k]! - qz;
          const c2 = dx * dx + dy * dy + dz * dz;
          if (all) { if (c2 <= c2max) all(k, c2); }
          else if (c2 < best.c2 || (c2 === best.c2 && best.k >= 0 && this.perm[k]! < this.perm[best.k]!)) {
            if (c2 <= c2max) { best.c2 = c2; best.k = k; }
          }
        }
      }
    }
  }

  /** Nearest catalog row within radiusArcsec of (ra, dec), or −1. */
  nearest(raDeg: number, decDeg: number, radiusArcsec: number): { index: number; sepArcsec: number } {
    const m = this.matchNearest([raDeg], [decDeg], radiusArcsec);
    return { index: m.index[0]!, sepArcsec: m.sepArcsec[0]! };
  }

  /** Rows within radiusArcsec of (ra, dec), in increasing row order. */
  within(raDeg: number, decDeg: number, radiusArcsec: number): number[] {
    const p = this.matchAll([raDeg], [decDeg], radiusArcsec);
    return Array.from(p.i2).sort((a, b) => a - b);
  }

  /**
   * For every query row, the nearest indexed row within radiusArcsec (Infinity: the nearest row
   * at any distance, as astropy's match_coordinates_sky). Ties go to the lower row; query rows
   * with an invalid position (NaN, |dec| > 90) get −1.
   * With `excludeSelf`, query row i never matches indexed row i (self-match of one catalog).
   */
  matchNearest(raDeg: ArrayLike<number>, decDeg: ArrayLike<number>, radiusArcsec: number, opts: { excludeSelf?: boolean } = {}): NearestMatch {
    const nq = raDeg.length;
    const index = new Int32Array(nq).fill(-1);
    const sep = new Float64Array(nq).fill(NaN);
    const unbounded = !(radiusArcsec < 180 * 3600);
    const rdeg = Math.min(radiusArcsec, 180 * 3600) / 3600;
    const c2max = chord2(rdeg * D2R);
    const best = { c2: Infinity, k: -1 };
    const perm = this.perm;
    const excl = opts.excludeSelf === true;
    let selfRow = -1;
    const visitor = excl
      ? (k: number, c2: number) => {
          if (perm[k] === selfRow) return;
          if (c2 < best.c2 || (c2 === best.c2 && best.k >= 0 && perm[k]! < perm[best.k]!)) { best.c2 = c2; best.k = k; }
        }
      : null;
    const order = queryOrder(raDeg, decDeg, this.zoneHeightDeg);
    for (let q = 0; q < nq; q++) {
      const i = order ? order[q]! : q;
      const d = decDeg[i]!;
      let r = raDeg[i]! % 360;
      if (r < 0) r += 360;
      if (r >= 360) r = 0;
      if (!(d >= -90 && d <= 90) || !Number.isFinite(r)) continue;
      const cd = Math.cos(d * D2R);
      const qx = cd * Math.cos(r * D2R), qy = cd * Math.sin(r * D2R), qz = Math.sin(d * D2R);
      best.c2 = Infinity;
      best.k = -1;
      selfRow = i;
      if (unbounded) {
        // expanding search: a match found within radius ρ is the true nearest
        for (let rho = this.zoneHeightDeg; ; rho *= 2) {
          const rr = Math.min(rho, 180);
          this.search(r, d, rr, qx, qy, qz, chord2(rr * D2R), best, visitor);
          if (best.k >= 0 || rr >= 180) break;
        }
      } else this.search(r, d, rdeg, qx, qy, qz, c2max, best, visitor);
      if (best.k >= 0) {
        index[i] = perm[best.k]!;
        sep[i] = (angleFromChord2(best.c2) / D2R) * 3600;
      }
    }
    return { index, sepArcsec: sep };
  }

  /** Every (query row, indexed row) pair within radiusArcsec, ordered by query row. */
  matchAll(raDeg: ArrayLike<number>, decDeg: ArrayLike<number>, radiusArcsec: number, opts: { excludeSelf?: boolean } = {}): PairMatch {
    const nq = raDeg.length;
    let cap = Math.max(16, nq);
    let i1 = new Int32Array(cap), i2 = new Int32Array(cap), c2s = new Float64Array(cap);
    let n = 0;
    const rdeg = radiusArcsec / 3600;
    const c2max = chord2(rdeg * D2R);
    const perm = this.perm;
    const excl = opts.excludeSelf === true;
    let cur = 0;
    const start = { v: 0 };
    const visit = (k: number, c2: number): void => {
      const row = perm[k]!;
      if (excl && row === cur) return;
      if (n === cap) {
        cap *= 2;
        const a = new Int32Array(cap); a.set(i1); i1 = a;
        const b = new Int32Array(cap); b.set(i2); i2 = b;
        const c = new Float64Array(cap); c.set(c2s); c2s = c;
      }
      i1[n] = cur; i2[n] = row; c2s[n] = c2; n++;
    };
    const dummy = { c2: 0, k: -1 };
    for (let i = 0; i < nq; i++) {
      const d = decDeg[i]!;
      let r = raDeg[i]! % 360;
      if (r < 0) r += 360;
      if (r >= 360) r = 0;
      if (!(d >= -90 && d <= 90) || !Number.isFinite(r)) continue;
      const cd = Math.cos(d * D2R);
      cur = i;
      start.v = n;
      this.search(r, d, rdeg, cd * Math.cos(r * D2R), cd * Math.sin(r * D2R), Math.sin(d * D2R), c2max, dummy, visit);
      // order each query's partners by catalog row for a deterministic result
      if (n - start.v > 1) sortSegment(i2, c2s, start.v, n);
    }
    const sep = new Float64Array(n);
    for (let k = 0; k < n; k++) sep[k] = (angleFromChord2(c2s[k]!) / D2R) * 3600;
    return { i1: i1.slice(0, n), i2: i2.slice(0, n), sepArcsec: sep };
  }
}

function sortSegment(idx: Int32Array, val: Float64Array, a: number, b: number): void {
  for (let i = a + 1; i < b; i++) {
    const ki = idx[i]!, vi = val[i]!;
    let j = i - 1;
    while (j >= a && idx[j]! > ki) { idx[j + 1] = idx[j]!; val[j + 1] = val[j]!; j--; }
    idx[j + 1] = ki; val[j + 1] = vi;
  }
}

/**
 * Nearest neighbour in catalog 2 of each row of catalog 1 within radiusArcsec (like astropy's
 * match_coordinates_sky, but radius-limited). Builds the index on catalog 2.
 */
export function matchNearest(ra1: ArrayLike<number>, dec1: ArrayLike<number>, ra2: ArrayLike<number>, dec2: ArrayLike<number>, radiusArcsec: number): NearestMatch {
  // zone height: the radius, or for an unbounded search the mean spacing (~95% found in one pass)
  let h = radiusArcsec / 3600;
  if (!(radiusArcsec < 180 * 3600)) h = meanSpacingDeg(dec2);
  const idx = new SkyIndex(ra2, dec2, Math.max(h, 1e-6));
  return idx.matchNearest(ra1, dec1, radiusArcsec);
}

/** All pairs (i in catalog 1, j in catalog 2) closer than radiusArcsec (like search_around_sky). */
export function matchAllPairs(ra1: ArrayLike<number>, dec1: ArrayLike<number>, ra2: ArrayLike<number>, dec2: ArrayLike<number>, radiusArcsec: number): PairMatch {
  const idx = new SkyIndex(ra2, dec2, Math.max(radiusArcsec / 3600, 1e-6));
  return idx.matchAll(ra1, dec1, radiusArcsec);
}

/** Rough mean spacing (degrees) of points spread over their Dec band (for zone sizing). */
function meanSpacingDeg(dec: ArrayLike<number>): number {
  const n = dec.length;
  if (n < 2) return 1;
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < n; i++) { const d = dec[i]!; if (d < lo) lo = d; if (d > hi) hi = d; }
  const band = Math.max(1e-6, hi - lo);
  // assume an RA extent comparable to the Dec extent (a field); all-sky gives a larger value anyway
  return Math.sqrt((band * Math.max(band, 1e-6)) / n);
}

/**
 * Order rows by Dec zone (height h degrees) and, within a zone, by RA (quantised to 2^-32 of a
 * turn): an LSD radix sort on RA (two 16-bit passes) then a stable counting sort on the zone.
 * `ra` must already be wrapped to [0, 360).
 */
function zoneSort(ra: Float64Array, dec: ArrayLike<number>, h: number): { perm: Uint32Array; zmin: number; zoneCount: number; zoneStart: Int32Array } {
  const n = ra.length;
  const zoneOf = new Int32Array(n);
  const raQ = new Uint32Array(n);
  let zmin = 0x7fffffff, zmax = -1;
  for (let i = 0; i < n; i++) {
    const zz = Math.floor((dec[i]! + 90) / h);
    zoneOf[i] = zz;
    if (zz < zmin) zmin = zz;
    if (zz > zmax) zmax = zz;
    raQ[i] = Math.min(0xffffffff, Math.floor((ra[i]! / 360) * 4294967296));
  }
  if (n === 0) { zmin = 0; zmax = 0; }
  const zoneCount = zmax - zmin + 1;
  let a = new Uint32Array(n), b = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  const cnt = new Int32Array(65537);
  for (const shift of [0, 16]) {
    cnt.fill(0);
    for (let i = 0; i < n; i++) cnt[((raQ[a[i]!]! >>> shift) & 0xffff) + 1]!++;
    for (let k = 0; k < 65536; k++) cnt[k + 1]! += cnt[k]!;
    for (let i = 0; i < n; i++) { const r = a[i]!; b[cnt[(raQ[r]! >>> shift) & 0xffff]!++] = r; }
    const t = a; a = b; b = t;
  }
  const zs = new Int32Array(zoneCount + 1);
  for (let i = 0; i < n; i++) zs[zoneOf[i]! - zmin + 1]!++;
  for (let k = 0; k < zoneCount; k++) zs[k + 1]! += zs[k]!;
  const zoneStart = zs.slice();
  for (let i = 0; i < n; i++) { const r = a[i]!; b[zs[zoneOf[r]! - zmin]!++] = r; }
  return { perm: b, zmin, zoneCount, zoneStart };
}

/** A cache-friendly order for queries: zone-then-RA (falls back to identity for small or invalid input). */
function queryOrder(ra: ArrayLike<number>, dec: ArrayLike<number>, h: number): Uint32Array | null {
  const n = ra.length;
  if (n < 20000) return null;
  const raW = new Float64Array(n);
  const decC = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let r = ra[i]! % 360;
    if (!(r === r)) r = 0;
    if (r < 0) r += 360;
    if (r >= 360) r = 0;
    raW[i] = r;
    const d = dec[i]!;
    decC[i] = d >= -90 && d <= 90 ? d : 0;
  }
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < n; i++) { if (decC[i]! < lo) lo = decC[i]!; if (decC[i]! > hi) hi = decC[i]!; }
  return zoneSort(raW, decC, Math.max(h, (hi - lo) / 4194304, 1e-7)).perm;
}
