/**
 * Spherical geometry on the unit sphere. RA/Dec in degrees (ICRS) at the API; radians inside.
 * Every formula is chosen to stay accurate at both tiny (< 1 mas) and large (~180°) angles.
 */

export const DEG = Math.PI / 180;
export const RAD = 180 / Math.PI;
export const ARCSEC = DEG / 3600;

export type Vec3 = [number, number, number];

/** Wrap an RA to [0, 360). */
export function wrapRa(raDeg: number): number {
  let r = raDeg % 360;
  if (r < 0) r += 360;
  if (r >= 360) r -= 360; // -1e-17 % 360 + 360 rounds to 360
  return r;
}

/** Wrap an angle difference to [-180, 180). */
export function wrapDelta(dDeg: number): number {
  let d = (dDeg + 180) % 360;
  if (d < 0) d += 360;
  return d - 180;
}

/** Unit vector of (RA, Dec) in degrees. */
export function radecToVec(raDeg: number, decDeg: number): Vec3 {
  const a = raDeg * DEG, d = decDeg * DEG;
  const cd = Math.cos(d);
  return [cd * Math.cos(a), cd * Math.sin(a), Math.sin(d)];
}

/** (RA, Dec) in degrees of a (not necessarily unit) vector; RA in [0,360). */
export function vecToRadec(v: readonly number[]): [number, number] {
  const x = v[0]!, y = v[1]!, z = v[2]!;
  const ra = x === 0 && y === 0 ? 0 : wrapRa(Math.atan2(y, x) * RAD);
  const dec = Math.atan2(z, Math.hypot(x, y)) * RAD;
  return [ra, dec];
}

export function dot(a: readonly number[], b: readonly number[]): number {
  return a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;
}
export function cross(a: readonly number[], b: readonly number[]): Vec3 {
  return [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];
}
export function norm(a: readonly number[]): number {
  return Math.hypot(a[0]!, a[1]!, a[2]!);
}
export function normalize(a: readonly number[]): Vec3 {
  const n = norm(a);
  return [a[0]! / n, a[1]! / n, a[2]! / n];
}

/**
 * Angular separation in degrees (Vincenty formula: accurate for all angles, including
 * antipodal points and sub-milliarcsecond separations).
 */
export function separationDeg(ra1: number, dec1: number, ra2: number, dec2: number): number {
  const dra = (ra2 - ra1) * DEG;
  const d1 = dec1 * DEG, d2 = dec2 * DEG;
  const s1 = Math.sin(d1), c1 = Math.cos(d1), s2 = Math.sin(d2), c2 = Math.cos(d2);
  const sdra = Math.sin(dra), cdra = Math.cos(dra);
  const num1 = c2 * sdra;
  const num2 = c1 * s2 - s1 * c2 * cdra;
  const den = s1 * s2 + c1 * c2 * cdra;
  return Math.atan2(Math.hypot(num1, num2), den) * RAD;
}

/** Angle in radians between two vectors (any length), accurate at all angles. */
export function vecAngle(a: readonly number[], b: readonly number[]): number {
  return Math.atan2(norm(cross(a, b)), dot(a, b));
}

/** Position angle (degrees east of north, in [0,360)) of point 2 as seen from point 1. */
export function positionAngleDeg(ra1: number, dec1: number, ra2: number, dec2: number): number {
  const dra = (ra2 - ra1) * DEG;
  const d1 = dec1 * DEG, d2 = dec2 * DEG;
  const y = Math.sin(dra) * Math.cos(d2);
  const x = Math.cos(d1) * Math.sin(d2) - Math.sin(d1) * Math.cos(d2) * Math.cos(dra);
  if (x === 0 && y === 0) return 0;
  return wrapRa(Math.atan2(y, x) * RAD);
}

/** The point reached from (ra, dec) by moving `sepDeg` along position angle `paDeg` (east of north). */
export function offsetByDeg(raDeg: number, decDeg: number, paDeg: number, sepDeg: number): [number, number] {
  const d = decDeg * DEG, pa = paDeg * DEG, s = sepDeg * DEG;
  const sd = Math.sin(d), cd = Math.cos(d), ss = Math.sin(s), cs = Math.cos(s);
  // rotate via vectors: local north/east basis at the start point
  const a = raDeg * DEG;
  const p: Vec3 = [cd * Math.cos(a), cd * Math.sin(a), sd];
  const east: Vec3 = [-Math.sin(a), Math.cos(a), 0];
  const north: Vec3 = [-sd * Math.cos(a), -sd * Math.sin(a), cd];
  const cp = Math.cos(pa), sp = Math.sin(pa);
  const v: Vec3 = [
    cs * p[0] + ss * (cp * north[0] + sp * east[0]),
    cs * p[1] + ss * (cp * north[1] + sp * east[1]),
    cs * p[2] + ss * (cp * north[2] + sp * east[2]),
  ];
  return vecToRadec(v);
}

/**
 * Gnomonic (tangent-plane) projection about (ra0, dec0): returns standard coordinates
 * (xi, eta) in degrees, xi towards east, eta towards north. Returns null for points on or
 * behind the tangent plane's horizon (angle ≥ 90° from the centre).
 */
export function gnomonicProject(ra0: number, dec0: number, ra: number, dec: number): [number, number] | null {
  const dra = (ra - ra0) * DEG;
  const d0 = dec0 * DEG, d = dec * DEG;
  const cd = Math.cos(d), sd = Math.sin(d), cd0 = Math.cos(d0), sd0 = Math.sin(d0);
  const cdra = Math.cos(dra);
  const den = sd * sd0 + cd * cd0 * cdra;
  if (den <= 0) return null;
  const xi = (cd * Math.sin(dra)) / den;
  const eta = (sd * cd0 - cd * sd0 * cdra) / den;
  return [xi * RAD, eta * RAD];
}

/** Inverse gnomonic projection: (xi, eta) in degrees about (ra0, dec0) → (ra, dec) in degrees. */
export function gnomonicUnproject(ra0: number, dec0: number, xiDeg: number, etaDeg: number): [number, number] {
  const xi = xiDeg * DEG, eta = etaDeg * DEG;
  const d0 = dec0 * DEG, a0 = ra0 * DEG;
  const cd0 = Math.cos(d0), sd0 = Math.sin(d0);
  // vector = centre + xi*east + eta*north, normalised
  const c: Vec3 = [cd0 * Math.cos(a0), cd0 * Math.sin(a0), sd0];
  const e: Vec3 = [-Math.sin(a0), Math.cos(a0), 0];
  const n: Vec3 = [-sd0 * Math.cos(a0), -sd0 * Math.sin(a0), cd0];
  return vecToRadec([c[0] + xi * e[0] + eta * n[0], c[1] + xi * e[1] + eta * n[1], c[2] + xi * e[2] + eta * n[2]]);
}

/** An RA/Dec bounding box; when `wraps` is true the RA range is [ra1,360) ∪ [0,ra2]. */
export interface RaDecBox {
  ra1: number;
  ra2: number;
  dec1: number;
  dec2: number;
  wraps: boolean;
}

/** True when an RA lies in a box's RA range (handling wrap). */
export function boxContainsRa(box: RaDecBox, ra: number): boolean {
  const r = wrapRa(ra);
  return box.wraps ? r >= box.ra1 || r <= box.ra2 : r >= box.ra1 && r <= box.ra2;
}

/** Smallest RA interval containing the given RAs (degrees), as [ra1, ra2, wraps]. */
export function raRange(ras: ArrayLike<number>): [number, number, boolean] {
  const n = ras.length;
  if (n === 0) return [0, 360, false];
  const s = Array.from(ras, wrapRa).sort((a, b) => a - b);
  // the largest gap between consecutive RAs (circularly) is the part NOT covered
  let gapStart = n - 1, gap = s[0]! + 360 - s[n - 1]!;
  for (let i = 0; i + 1 < n; i++) {
    const g = s[i + 1]! - s[i]!;
    if (g > gap) { gap = g; gapStart = i; }
  }
  const ra1 = s[(gapStart + 1) % n]!, ra2 = s[gapStart]!;
  return [ra1, ra2, ra1 > ra2];
}

/**
 * A spherical polygon with great-circle edges (e.g. a CCD footprint), vertices in order
 * (either orientation), smaller than a hemisphere. Point-in-polygon counts edge crossings from
 * the normalised vertex centroid, so that centroid must lie inside: always true for convex
 * polygons (CCD and tract footprints), not guaranteed for strongly non-convex ones.
 */
export class SphericalPolygon {
  readonly ra: Float64Array;
  readonly dec: Float64Array;
  /** unit vectors of the vertices, counter-clockwise as seen from outside the sphere */
  readonly verts: Vec3[];
  /** an interior reference point (the normalised vertex centroid) */
  readonly centre: Vec3;

  constructor(ra: ArrayLike<number>, dec: ArrayLike<number>) {
    if (ra.length !== dec.length || ra.length < 3) throw new RangeError('SphericalPolygon: need ≥ 3 vertices with matching ra/dec');
    let verts = Array.from(ra, (r, i) => radecToVec(r, dec[i]!));
    let c: Vec3 = [0, 0, 0];
    for (const v of verts) { c[0] += v[0]; c[1] += v[1]; c[2] += v[2]; }
    c = normalize(c);
    // orientation: sum of the signed areas of the triangles (c, v_i, v_i+1)
    let s = 0;
    for (let i = 0; i < verts.length; i++) s += dot(c, cross(verts[i]!, verts[(i + 1) % verts.length]!));
    let ras = Float64Array.from(ra), decs = Float64Array.from(dec);
    if (s < 0) {
      verts = verts.reverse();
      ras = ras.reverse();
      decs = decs.reverse();
    }
    this.verts = verts;
    this.ra = ras;
    this.dec = decs;
    this.centre = c;
  }

  /** Build from vertices given as a flat [ra0, dec0, ra1, dec1, ...] list or pairs. */
  static fromPairs(pairs: ReadonlyArray<readonly [number, number]>): SphericalPolygon {
    return new SphericalPolygon(pairs.map((p) => p[0]), pairs.map((p) => p[1]));
  }

  /** Point-in-polygon by crossing-number along the great-circle arc from the centre to the point. */
  containsVec(p: readonly number[]): boolean {
    const c = this.centre;
    if (dot(c, p) <= -0.999999) return false;
    const n = this.verts.length;
    let crossings = 0;
    for (let i = 0; i < n; i++) {
      const a = this.verts[i]!, b = this.verts[(i + 1) % n]!;
      if (arcsIntersect(c, p, a, b)) crossings++;
    }
    return crossings % 2 === 0;
  }

  contains(raDeg: number, decDeg: number): boolean {
    return this.containsVec(radecToVec(raDeg, decDeg));
  }

  /** Does any part of this polygon overlap the other (shared area, edge crossing or containment)? */
  overlaps(other: SphericalPolygon): boolean {
    for (const v of other.verts) if (this.containsVec(v)) return true;
    for (const v of this.verts) if (other.containsVec(v)) return true;
    const n = this.verts.length, m = other.verts.length;
    for (let i = 0; i < n; i++) {
      const a = this.verts[i]!, b = this.verts[(i + 1) % n]!;
      for (let j = 0; j < m; j++) if (arcsIntersect(a, b, other.verts[j]!, other.verts[(j + 1) % m]!)) return true;
    }
    return false;
  }

  /** Exact area in square degrees (sum of spherical triangles from the centre; polygon < hemisphere). */
  areaDeg2(): number {
    let a = 0;
    const n = this.verts.length;
    for (let i = 0; i < n; i++) a += triangleArea(this.centre, this.verts[i]!, this.verts[(i + 1) % n]!);
    return a * RAD * RAD;
  }

  /**
   * Approximate overlap area in square degrees: the intersection sampled on a gnomonic grid of
   * `grid`×`grid` points over this polygon's bounding region (relative error ~1/grid).
   */
  overlapAreaDeg2(other: SphericalPolygon, grid = 200): number {
    if (!this.overlaps(other)) return 0;
    const [rc, dc] = vecToRadec(this.centre);
    let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
    for (let i = 0; i < this.ra.length; i++) {
      const p = gnomonicProject(rc, dc, this.ra[i]!, this.dec[i]!);
      if (!p) continue;
      xmin = Math.min(xmin, p[0]); xmax = Math.max(xmax, p[0]);
      ymin = Math.min(ymin, p[1]); ymax = Math.max(ymax, p[1]);
    }
    const dx = (xmax - xmin) / grid, dy = (ymax - ymin) / grid;
    let sum = 0;
    for (let j = 0; j < grid; j++) {
      const eta = ymin + (j + 0.5) * dy;
      for (let i = 0; i < grid; i++) {
        const xi = xmin + (i + 0.5) * dx;
        const [r, d] = gnomonicUnproject(rc, dc, xi, eta);
        const v = radecToVec(r, d);
        if (this.containsVec(v) && other.containsVec(v)) {
          // area element of the gnomonic plane: dA = dxi deta / (1 + xi² + eta²)^(3/2)
          const x = xi * DEG, y = eta * DEG;
          sum += 1 / Math.pow(1 + x * x + y * y, 1.5);
        }
      }
    }
    return sum * dx * dy;
  }

  /** RA/Dec bounding box, handling RA wrap and polygons containing a pole. */
  boundingBox(): RaDecBox {
    let dmin = Infinity, dmax = -Infinity;
    const n = this.verts.length;
    for (let i = 0; i < n; i++) {
      dmin = Math.min(dmin, this.dec[i]!);
      dmax = Math.max(dmax, this.dec[i]!);
      // great-circle edges bulge poleward: find the extreme latitude along each edge
      const a = this.verts[i]!, b = this.verts[(i + 1) % n]!;
      const nrm = cross(a, b);
      const nn = norm(nrm);
      if (nn === 0) continue;
      // the point of the great circle with max z is along z - (z·n̂)n̂ ; check it lies on the arc
      const nh = [nrm[0] / nn, nrm[1] / nn, nrm[2] / nn];
      for (const sgn of [1, -1]) {
        const t: Vec3 = [-nh[2]! * nh[0]! * sgn, -nh[2]! * nh[1]! * sgn, (1 - nh[2]! * nh[2]!) * sgn];
        const tn = norm(t);
        if (tn < 1e-15) continue;
        const tp: Vec3 = [t[0] / tn, t[1] / tn, t[2] / tn];
        // on the minor arc a→b when both cross(a,tp) and cross(tp,b) point along nrm
        if (dot(cross(a, tp), nrm) >= 0 && dot(cross(tp, b), nrm) >= 0) {
          const d = Math.asin(Math.max(-1, Math.min(1, tp[2]))) * RAD;
          dmin = Math.min(dmin, d);
          dmax = Math.max(dmax, d);
        }
      }
    }
    if (this.containsVec([0, 0, 1])) return { ra1: 0, ra2: 360, dec1: dmin, dec2: 90, wraps: false };
    if (this.containsVec([0, 0, -1])) return { ra1: 0, ra2: 360, dec1: -90, dec2: dmax, wraps: false };
    const [ra1, ra2, wraps] = raRange(this.ra);
    return { ra1, ra2, dec1: dmin, dec2: dmax, wraps };
  }
}

/** Area (steradians) of the spherical triangle abc (L'Huilier via the vector formula). */
export function triangleArea(a: readonly number[], b: readonly number[], c: readonly number[]): number {
  const num = Math.abs(dot(a, cross(b, c)));
  const den = 1 + dot(a, b) + dot(b, c) + dot(c, a);
  return 2 * Math.atan2(num, den);
}

/** Is p (unit) on the minor arc a→b, given it lies on their great circle with normal n = a×b? */
function onArc(p: readonly number[], a: readonly number[], b: readonly number[], n: readonly number[]): boolean {
  return dot(cross(a, p), n) >= 0 && dot(cross(p, b), n) >= 0;
}

/** Do the minor great-circle arcs p1→p2 and q1→q2 intersect (proper or touching)? */
export function arcsIntersect(p1: readonly number[], p2: readonly number[], q1: readonly number[], q2: readonly number[]): boolean {
  const np = cross(p1, p2), nq = cross(q1, q2);
  const s1 = dot(np, q1), s2 = dot(np, q2);
  if ((s1 > 0 && s2 > 0) || (s1 < 0 && s2 < 0)) return false;
  const t1 = dot(nq, p1), t2 = dot(nq, p2);
  if ((t1 > 0 && t2 > 0) || (t1 < 0 && t2 < 0)) return false;
  const x = cross(np, nq);
  if (norm(x) === 0) return false; // same great circle: vertex containment tests cover overlap
  const y: Vec3 = [-x[0], -x[1], -x[2]];
  return (onArc(x, p1, p2, np) && onArc(x, q1, q2, nq)) || (onArc(y, p1, p2, np) && onArc(y, q1, q2, nq));
}
