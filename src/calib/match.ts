/**
 * Planar point matching for astrometry: triangle asterisms with rotation- and scale-invariant
 * descriptors, each candidate triangle correspondence proposing a similarity transform that is
 * verified by counting how many bright detections land on a reference star (a RANSAC over
 * triangle pairs), then least-squares refinement and one-to-one nearest matching.
 *
 * Both point sets are in the same kind of plane (detections in pixels, reference stars projected
 * to pixels through the header WCS), so the transform sought is close to identity but may
 * include tens of pixels of shift, a few degrees of rotation and a few per cent of scale.
 * The convention (0- or 1-based) is whatever the caller uses for both sets.
 */

/** x' = a·x − b·y + tx, y' = b·x + a·y + ty (scale √(a²+b²), rotation atan2(b, a)). */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

export const IDENTITY: Similarity = { a: 1, b: 0, tx: 0, ty: 0 };

export function applySimilarity(t: Similarity, x: number, y: number): [number, number] {
  return [t.a * x - t.b * y + t.tx, t.b * x + t.a * y + t.ty];
}

export function similarityScale(t: Similarity): number {
  return Math.hypot(t.a, t.b);
}

export function similarityRotationDeg(t: Similarity): number {
  return (Math.atan2(t.b, t.a) * 180) / Math.PI;
}

// PointGrid's construction loops, in small functions (the constructor runs a few times per CCD:
// its loops optimised on the stack left code after them without type feedback, which
// deoptimised on each construction).

/** [xmin, ymin, xmax, ymax] of the finite points (xmin > xmax when there is none). */
function bounds(xs: ArrayLike<number>, ys: ArrayLike<number>, n: number, indices: ArrayLike<number> | undefined): Float64Array {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let k = 0; k < n; k++) {
    const i = indices ? indices[k]! : k;
    const x = xs[i]!, y = ys[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
  }
  const b = new Float64Array(4);
  b[0] = x0; b[1] = y0; b[2] = x1; b[3] = y1;
  return b;
}

/** Cell of each point (−1 when not finite) and, in counts[cell + 1], the points per cell; then the prefix sums. */
function assignCells(xs: ArrayLike<number>, ys: ArrayLike<number>, n: number, indices: ArrayLike<number> | undefined,
  x0: number, y0: number, c: number, nx: number, cellOf: Int32Array, counts: Int32Array): void {
  for (let k = 0; k < n; k++) {
    const i = indices ? indices[k]! : k;
    const x = xs[i]!, y = ys[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const ci = Math.floor((y - y0) / c) * nx + Math.floor((x - x0) / c);
    cellOf[k] = ci;
    counts[ci + 1]!++;
  }
  for (let q = 1; q < counts.length; q++) counts[q]! += counts[q - 1]!;
}

/** The points' indices, cell by cell (fill: the cells' start offsets, advanced in place). */
function fillCells(cellOf: Int32Array, indices: ArrayLike<number> | undefined, fill: Int32Array, items: Int32Array): void {
  for (let k = 0; k < cellOf.length; k++) {
    const ci = cellOf[k]!;
    if (ci < 0) continue;
    items[fill[ci]!++] = indices ? indices[k]! : k;
  }
}

/** A uniform grid over 2-D points for radius queries (compressed rows: no hashing). */
export class PointGrid {
  private readonly cell: number;
  private readonly x0: number;
  private readonly y0: number;
  private readonly nx: number;
  private readonly ny: number;
  private readonly start: Int32Array;
  private readonly items: Int32Array;
  constructor(readonly xs: ArrayLike<number>, readonly ys: ArrayLike<number>, cell: number, indices?: ArrayLike<number>) {
    const n = indices ? indices.length : xs.length;
    const box = bounds(xs, ys, n, indices);
    let x0 = box[0]!, y0 = box[1]!, x1 = box[2]!, y1 = box[3]!;
    if (x0 > x1) { x0 = 0; x1 = 0; y0 = 0; y1 = 0; }
    // Keep the grid at most ~4M cells.
    let c = cell;
    while (((x1 - x0) / c + 1) * ((y1 - y0) / c + 1) > 4e6) c *= 2;
    this.cell = c;
    this.x0 = x0; this.y0 = y0;
    this.nx = Math.floor((x1 - x0) / c) + 1;
    this.ny = Math.floor((y1 - y0) / c) + 1;
    const counts = new Int32Array(this.nx * this.ny + 1);
    const cellOf = new Int32Array(n).fill(-1);
    assignCells(xs, ys, n, indices, x0, y0, c, this.nx, cellOf, counts);
    this.start = counts.slice();
    this.items = new Int32Array(n);
    fillCells(cellOf, indices, counts, this.items);
  }
  /** Index of the nearest point within r of (x, y), or −1; `dist2` receives its squared distance. */
  nearest(x: number, y: number, r: number, dist2?: { v: number }): number {
    const c = this.cell;
    const g0x = Math.max(0, Math.floor((x - r - this.x0) / c)), g1x = Math.min(this.nx - 1, Math.floor((x + r - this.x0) / c));
    const g0y = Math.max(0, Math.floor((y - r - this.y0) / c)), g1y = Math.min(this.ny - 1, Math.floor((y + r - this.y0) / c));
    let best = -1, bd = r * r;
    for (let gy = g0y; gy <= g1y; gy++) {
      for (let gx = g0x; gx <= g1x; gx++) {
        const ci = gy * this.nx + gx;
        for (let q = this.start[ci]!, e = this.start[ci + 1]!; q < e; q++) {
          const i = this.items[q]!;
          const dx = this.xs[i]! - x, dy = this.ys[i]! - y;
          const d = dx * dx + dy * dy;
          if (d <= bd) { bd = d; best = i; }
        }
      }
    }
    if (dist2) dist2.v = bd;
    return best;
  }
}

export interface Points {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

export interface PatternOptions {
  /** Brightest detections used to build triangles (default 30). */
  nDet?: number;
  /** Brightest reference stars used to build triangles (default 40). */
  nRef?: number;
  /** Largest rotation accepted (degrees, default 5). */
  maxRotationDeg?: number;
  /** Largest fractional scale change accepted (default 0.1). */
  maxScaleChange?: number;
  /** Largest shift accepted (pixels, default Infinity). */
  maxShiftPix?: number;
  /** Match tolerance in the verification (pixels, default 3). */
  tolPix?: number;
  /** Tolerance on the triangle descriptors (default 0.01). */
  descTol?: number;
  /** Shortest triangle side accepted (pixels, default 30). */
  minSidePix?: number;
}

export interface PatternResult {
  transform: Similarity;
  /** Bright detections that land within tolPix of a reference star with the best transform. */
  nVerified: number;
  /** Number of bright detections tried. */
  nTried: number;
  /** Candidate triangle correspondences examined. */
  nCandidates: number;
}

interface Tri {
  i: number; j: number; k: number; // vertices: i opposite the shortest side, k opposite the longest
  r1: number; // b / c
  r2: number; // a / c
  c: number;
}

/** Triangles of all triples among the given indices, with vertex order fixed by side lengths. */
function triangles(px: ArrayLike<number>, py: ArrayLike<number>, idx: number[], minSide: number): Tri[] {
  const out: Tri[] = [];
  const n = idx.length;
  for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) for (let r = q + 1; r < n; r++) {
    const v = [idx[p]!, idx[q]!, idx[r]!];
    // side opposite vertex m
    const s = [0, 0, 0];
    for (let m = 0; m < 3; m++) {
      const u = v[(m + 1) % 3]!, w = v[(m + 2) % 3]!;
      s[m] = Math.hypot(px[u]! - px[w]!, py[u]! - py[w]!);
    }
    const ord = [0, 1, 2].sort((A, B) => s[A]! - s[B]!);
    const a = s[ord[0]!]!, b = s[ord[1]!]!, c = s[ord[2]!]!;
    if (a < minSide || c <= 0) continue;
    // Orientation: use vertex order (shortest-opposite, middle, longest-opposite); the sign of
    // the cross product tells the handedness. Store both descriptors only for the right handedness.
    const i = v[ord[0]!]!, j = v[ord[1]!]!, k = v[ord[2]!]!;
    const cross = (px[j]! - px[i]!) * (py[k]! - py[i]!) - (py[j]! - py[i]!) * (px[k]! - px[i]!);
    if (Math.abs(b - c) < 1e-9 * c || Math.abs(a - b) < 1e-9 * c) continue;
    // Encode handedness in the sign of r2 so mirrored triangles never match.
    out.push({ i, j, k, r1: b / c, r2: cross >= 0 ? a / c : -a / c, c });
  }
  return out;
}

/** Least-squares similarity mapping (x, y) → (u, v) over paired points. */
export function fitSimilarity(x: ArrayLike<number>, y: ArrayLike<number>, u: ArrayLike<number>, v: ArrayLike<number>): Similarity {
  const n = x.length;
  let mx = 0, my = 0, mu = 0, mv = 0;
  for (let i = 0; i < n; i++) { mx += x[i]!; my += y[i]!; mu += u[i]!; mv += v[i]!; }
  mx /= n; my /= n; mu /= n; mv /= n;
  let sxx = 0, sa = 0, sb = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx, dy = y[i]! - my, du = u[i]! - mu, dv = v[i]! - mv;
    sxx += dx * dx + dy * dy;
    sa += dx * du + dy * dv;
    sb += dx * dv - dy * du;
  }
  const a = sa / sxx, b = sb / sxx;
  return { a, b, tx: mu - (a * mx - b * my), ty: mv - (b * mx + a * my) };
}

/**
 * Find the similarity transform that maps detections onto reference positions. Both lists must
 * be sorted brightest first. Returns null when no triangle correspondence is verified by at least
 * 4 bright detections.
 */
export function findPattern(det: Points, ref: Points, opts: PatternOptions = {}): PatternResult | null {
  const nDet = Math.min(det.x.length, opts.nDet ?? 30);
  const nRef = Math.min(ref.x.length, opts.nRef ?? 40);
  const maxRot = ((opts.maxRotationDeg ?? 5) * Math.PI) / 180;
  const maxScale = opts.maxScaleChange ?? 0.1;
  const maxShift = opts.maxShiftPix ?? Infinity;
  const tol = opts.tolPix ?? 3;
  const descTol = opts.descTol ?? 0.01;
  const minSide = opts.minSidePix ?? 30;
  if (nDet < 3 || nRef < 3) return null;
  const di: number[] = [], ri: number[] = [];
  for (let i = 0; i < nDet; i++) di.push(i);
  for (let i = 0; i < nRef; i++) ri.push(i);
  const dt = triangles(det.x, det.y, di, minSide);
  const rt = triangles(ref.x, ref.y, ri, minSide);
  // Hash the reference triangles on (r1, r2).
  const cell = descTol;
  const hash = new Map<number, number[]>();
  const hkey = (a: number, b: number) => a * 100003 + b;
  for (let t = 0; t < rt.length; t++) {
    const k = hkey(Math.floor(rt[t]!.r1 / cell), Math.floor(rt[t]!.r2 / cell));
    let l = hash.get(k);
    if (!l) hash.set(k, (l = []));
    l.push(t);
  }
  // Grid of ALL reference points (not only the bright ones) for verification.
  const refGrid = new PointGrid(ref.x, ref.y, Math.max(tol, 8));
  const nVerify = Math.min(det.x.length, Math.max(nDet, 60));
  let best: PatternResult | null = null;
  let nCand = 0;
  const seen = new Set<number>();
  for (const d of dt) {
    const g1 = Math.floor(d.r1 / cell), g2 = Math.floor(d.r2 / cell);
    for (let a1 = g1 - 1; a1 <= g1 + 1; a1++) for (let a2 = g2 - 1; a2 <= g2 + 1; a2++) {
      const l = hash.get(hkey(a1, a2));
      if (!l) continue;
      for (const t of l) {
        const r = rt[t]!;
        if (Math.abs(r.r1 - d.r1) > descTol || Math.abs(r.r2 - d.r2) > descTol) continue;
        const s = r.c / d.c;
        if (Math.abs(s - 1) > maxScale) continue;
        const tr = fitSimilarity(
          [det.x[d.i]!, det.x[d.j]!, det.x[d.k]!], [det.y[d.i]!, det.y[d.j]!, det.y[d.k]!],
          [ref.x[r.i]!, ref.x[r.j]!, ref.x[r.k]!], [ref.y[r.i]!, ref.y[r.j]!, ref.y[r.k]!],
        );
        if (Math.abs(Math.atan2(tr.b, tr.a)) > maxRot) continue;
        if (Math.hypot(tr.tx, tr.ty) > maxShift + 1e4 && maxShift !== Infinity) continue;
        // Avoid re-verifying near-identical transforms.
        const sig = (Math.round(tr.tx / 2) * 65536 + Math.round(tr.ty / 2)) * 8192 + Math.round(Math.atan2(tr.b, tr.a) * 2000);
        if (seen.has(sig)) continue;
        seen.add(sig);
        nCand++;
        // Verify on the bright detections.
        let nv = 0;
        for (let q = 0; q < nVerify; q++) {
          const [u, v] = applySimilarity(tr, det.x[q]!, det.y[q]!);
          if (refGrid.nearest(u, v, tol) >= 0) nv++;
        }
        if (!best || nv > best.nVerified) best = { transform: tr, nVerified: nv, nTried: nVerify, nCandidates: 0 };
      }
    }
  }
  if (!best) return null;
  // Significance: the count expected by chance from the reference density within the tolerance.
  let rx0 = Infinity, rx1 = -Infinity, ry0 = Infinity, ry1 = -Infinity;
  for (let i = 0; i < ref.x.length; i++) {
    rx0 = Math.min(rx0, ref.x[i]!); rx1 = Math.max(rx1, ref.x[i]!);
    ry0 = Math.min(ry0, ref.y[i]!); ry1 = Math.max(ry1, ref.y[i]!);
  }
  const density = ref.x.length / Math.max(1, (rx1 - rx0) * (ry1 - ry0));
  const chance = nVerify * Math.min(1, density * Math.PI * tol * tol);
  if (best.nVerified < Math.max(4, chance + 5 * Math.sqrt(chance) + 1)) return null;
  // Check the shift limit on the transform at the centre of the detections.
  if (maxShift !== Infinity) {
    let cx = 0, cy = 0;
    for (let q = 0; q < nDet; q++) { cx += det.x[q]!; cy += det.y[q]!; }
    cx /= nDet; cy /= nDet;
    const [u, v] = applySimilarity(best.transform, cx, cy);
    if (Math.hypot(u - cx, v - cy) > maxShift) return null;
  }
  // Refine by least squares on the verified pairs (twice, with the improved transform).
  let tr = best.transform;
  for (let pass = 0; pass < 2; pass++) {
    const pairs = matchPoints(det, ref, tr, tol, nVerify, refGrid);
    if (pairs.det.length < 3) break;
    const X = pairs.det.map((i) => det.x[i]!), Y = pairs.det.map((i) => det.y[i]!);
    const U = pairs.ref.map((i) => ref.x[i]!), V = pairs.ref.map((i) => ref.y[i]!);
    tr = fitSimilarity(X, Y, U, V);
  }
  const final = matchPoints(det, ref, tr, tol, nVerify, refGrid);
  return { transform: tr, nVerified: Math.max(final.det.length, best.nVerified), nTried: nVerify, nCandidates: nCand };
}

/**
 * One-to-one matching: each detection (first `nUse`) transformed by t is paired with its nearest
 * reference within r; when two detections claim the same reference the closer wins.
 */
export function matchPoints(det: Points, ref: Points, t: Similarity, r: number, nUse = det.x.length, grid?: PointGrid): { det: number[]; ref: number[]; dist: number[] } {
  const g = grid ?? new PointGrid(ref.x, ref.y, Math.max(r, 4));
  const claim = new Map<number, { d: number; dist: number }>();
  const d2 = { v: 0 };
  for (let q = 0; q < nUse; q++) {
    const x = det.x[q]!, y = det.y[q]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const [u, v] = applySimilarity(t, x, y);
    const j = g.nearest(u, v, r, d2);
    if (j < 0) continue;
    const prev = claim.get(j);
    if (!prev || d2.v < prev.dist) claim.set(j, { d: q, dist: d2.v });
  }
  const out = { det: [] as number[], ref: [] as number[], dist: [] as number[] };
  for (const [j, c] of claim) { out.det.push(c.d); out.ref.push(j); out.dist.push(Math.sqrt(c.dist)); }
  return out;
}
