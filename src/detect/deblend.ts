/**
 * Isophotal analysis, multi-threshold deblending and cleaning of detected footprints, after
 * SExtractor (Bertin & Arnouts 1996) as SEP implements it:
 *
 * - deblend: between the object's detection threshold t₀ and its peak p, N levels
 *   t_k = t₀·(p/t₀)^(k/N) cut the footprint into a tree of branches (8-connected, at least
 *   minArea pixels each), built in one pass from the top level down (a max-tree). Walking the tree from the top, a node splits when at least two of its
 *   branches hold an integrated intensity above their level, Σ(f − t_k), larger than
 *   mincont × the total intensity of the object. The branches so kept are the children; the
 *   pixels of the parent outside every child are then given to the child whose Gaussian profile
 *   (from its moments, amplitude from its isophotal area) is the most likely there.
 * - clean: an object is merged into a brighter neighbour when the brighter one's profile,
 *   extrapolated with a Moffat (β = cleanParam) fitted to its isophotal area and flux, exceeds
 *   the fainter object's detection threshold at the fainter one's centre.
 *
 * Pixel convention: 0-based, pixel indices y·width + x. f = filtered (detection) image,
 * d = background-subtracted image.
 */

export const FLAG_CROWDED = 1;
export const FLAG_BLENDED = 2;
export const FLAG_SATURATED = 4;
export const FLAG_TRUNCATED = 8;
export const FLAG_APER_INCOMPLETE = 16;
export const FLAG_ISO_INCOMPLETE = 32;
export const FLAG_DEBLEND_OVERFLOW = 64;
export const FLAG_EXTRACT_OVERFLOW = 128;

/** A detected object and its isophotal quantities (pixel units, 0-based). */
export interface IsoObject {
  /** Footprint pixel indices. */
  pix: Int32Array;
  flags: number;
  /** Detection threshold (filtered-image units) used for this object. */
  dthresh: number;
  /**
   * CLEAN's test level: how far the object's minArea-th brightest (filtered) pixel rises above
   * its threshold (SEP's mthresh); set by detectSources before cleaning.
   */
  mthresh: number;
  npix: number;
  /** Σ f and max f over the footprint (filtered image). */
  fdflux: number;
  fdpeak: number;
  /** Σ d (FLUX_ISO) and max d (FLUX_MAX) over the footprint. */
  flux: number;
  peak: number;
  peakx: number;
  peaky: number;
  /** Barycentre and second moments (d-weighted). */
  mx: number;
  my: number;
  x2: number;
  y2: number;
  xy: number;
  a: number;
  b: number;
  theta: number;
  cxx: number;
  cyy: number;
  cxy: number;
  /** The moments needed a singularity correction (objects one pixel wide). */
  singular: boolean;
  /** SExtractor's amplitude correction for pixelisation of the isophotal area (≤ 1). */
  abcor: number;
  xmin: number;
  xmax: number;
  ymin: number;
  ymax: number;
}

/**
 * Compute the isophotal quantities of a footprint. The barycentre and second moments are
 * weighted by the detection (filtered) image f, as in SExtractor and SEP; FLUX_ISO and the
 * peak come from the background-subtracted image d.
 */
/** Variance added to each axis of singular (one pixel wide) moments: 1/12, a pixel's own. */
const SINGULAR_ADD = 1 / 12;

export function analyse(pix: Int32Array, d: Float32Array, f: Float32Array, width: number, dthresh: number, mthresh: number, flags = 0): IsoObject {
  const n = pix.length;
  let fdflux = 0, fdpeak = -Infinity, flux = 0, peak = -Infinity, peakx = 0, peaky = 0;
  let sx = 0, sy = 0, sw = 0;
  let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
  // moments about the first pixel for numerical stability
  const i0 = pix[0]!;
  const ox = i0 % width, oy = (i0 - ox) / width;
  let sxx = 0, syy = 0, sxy = 0, ux = 0, uy = 0, uxx = 0, uyy = 0, uxy = 0;
  for (let k = 0; k < n; k++) {
    const i = pix[k]!;
    const x = i % width, y = (i - x) / width;
    const fv = f[i]!, v = d[i]!;
    fdflux += fv;
    if (fv > fdpeak) fdpeak = fv;
    flux += v;
    if (v > peak) { peak = v; peakx = x; peaky = y; }
    if (x < xmin) xmin = x;
    if (x > xmax) xmax = x;
    if (y < ymin) ymin = y;
    if (y > ymax) ymax = y;
    const rx = x - ox, ry = y - oy;
    // moments weighted by the detection (filtered) image, as SExtractor/SEP compute them
    sx += fv * rx; sy += fv * ry; sw += fv;
    sxx += fv * rx * rx; syy += fv * ry * ry; sxy += fv * rx * ry;
    ux += rx; uy += ry; uxx += rx * rx; uyy += ry * ry; uxy += rx * ry;
  }
  // Both the weighted and the unweighted moments are computed, then one set chosen: the rare
  // cases (no positive weight, a centroid off the footprint, singular moments) then hold no
  // arithmetic of their own, which V8 would first meet in optimised code and deoptimise on.
  const wmx = sx / sw, wmy = sy / sw;
  const wx2 = sxx / sw - wmx * wmx, wy2 = syy / sw - wmy * wmy, wxy = sxy / sw - wmx * wmy;
  const umx = ux / n, umy = uy / n;
  const ux2 = uxx / n - umx * umx, uy2 = uyy / n - umy * umy, uxy2 = uxy / n - umx * umy;
  let mx: number, my: number, x2: number, y2: number, xy: number;
  if (sw > 0) { mx = wmx; my = wmy; x2 = wx2; y2 = wy2; xy = wxy; } else { mx = umx; my = umy; x2 = ux2; y2 = uy2; xy = uxy2; }
  // a flux-weighted centroid can leave the footprint when many values are negative
  if (!(mx >= xmin - ox - 0.5 && mx <= xmax - ox + 0.5 && my >= ymin - oy - 0.5 && my <= ymax - oy + 0.5)) {
    mx = umx; my = umy; x2 = ux2; y2 = uy2; xy = uxy2;
  }
  mx += ox; my += oy;
  if (x2 < 0) x2 = 0;
  if (y2 < 0) y2 = 0;
  const singular = x2 * y2 - xy * xy < 1 / 144;
  const x2s = x2 + SINGULAR_ADD, y2s = y2 + SINGULAR_ADD;
  if (singular) { x2 = x2s; y2 = y2s; }
  const s = shape(x2, y2, xy);
  // SExtractor's pixelisation correction of the Gaussian amplitude (abcor), from the areas above
  // the threshold and above half-way to the peak
  let abcor = 1;
  const thresh2 = (dthresh + peak) / 2;
  if (thresh2 > 0 && dthresh > 0) {
    let dnpix = 0, area2 = 0;
    for (let k = 0; k < n; k++) { const v = d[pix[k]!]!; if (v > dthresh) dnpix++; if (v > thresh2) area2++; }
    const t1t2 = dthresh / thresh2;
    const darea = area2 - dnpix;
    abcor = (darea < 0 ? darea : -1) / (2 * Math.PI * Math.log(t1t2 < 1 ? t1t2 : 0.99) * Math.max(s.a * s.b, 1e-6));
    if (!(abcor <= 1)) abcor = 1;
    if (!(abcor > 0)) abcor = 1;
  }
  return {
    pix, flags, dthresh, mthresh, npix: n, fdflux, fdpeak, flux, peak, peakx, peaky, mx, my, x2, y2, xy,
    a: s.a, b: s.b, theta: s.theta, cxx: s.cxx, cyy: s.cyy, cxy: s.cxy, singular, xmin, xmax, ymin, ymax, abcor,
  };
}

/** Ellipse parameters from second moments: a, b (σ along the axes), theta (radians, −π/2..π/2], cxx, cyy, cxy. */
export function shape(x2: number, y2: number, xy: number): { a: number; b: number; theta: number; cxx: number; cyy: number; cxy: number } {
  const t1 = (x2 + y2) / 2;
  const t2 = Math.sqrt(((x2 - y2) / 2) ** 2 + xy * xy);
  const a = Math.sqrt(Math.max(t1 + t2, 0));
  const b = Math.sqrt(Math.max(t1 - t2, 0));
  let theta = x2 === y2 && xy === 0 ? 0 : 0.5 * Math.atan2(2 * xy, x2 - y2);
  if (theta <= -Math.PI / 2) theta += Math.PI;
  const det = x2 * y2 - xy * xy;
  let cxx: number, cyy: number, cxy: number;
  if (det > 0) { cxx = y2 / det; cyy = x2 / det; cxy = (-2 * xy) / det; }
  else { cxx = cyy = 1 / Math.max(t1, 1e-6); cxy = 0; }
  return { a, b, theta, cxx, cyy, cxy };
}

export interface DeblendOptions {
  nthresh: number;
  mincont: number;
  minArea: number;
}

/** Largest nthresh × footprint size deblended (2 Mi pixels at 32 levels): bounds time on pathological footprints. */
export const MAX_DEBLEND_CELLS = 64 * 1024 * 1024;

// reusable scratch (no allocation per footprint)
let scratchSub = new Int32Array(0);
let scratchLx = new Int32Array(0), scratchLy = new Int32Array(0), scratchFv = new Float64Array(0);
let scratchUf = new Int32Array(0), scratchRootNode = new Int32Array(0);
let scratchRootCount = new Int32Array(0), scratchRootFlux = new Float64Array(0), scratchActive = new Int32Array(0);
let scratchLev = new Int32Array(0), scratchLivePos = new Int32Array(0);

/**
 * Deblend one footprint (pixel indices in raster order). Returns the children's footprints
 * (global pixel indices), or null when the object stays whole.
 */
export function deblendFootprint(pix: Int32Array, f: Float32Array, d: Float32Array, width: number, dthresh: number, opt: DeblendOptions): Int32Array[] | null {
  const n = pix.length;
  const { nthresh, mincont, minArea } = opt;
  if (nthresh < 2 || n < 2 * minArea || !(mincont < 1)) return null;
  // a pathologically large footprint (e.g. a badly subtracted background) stays whole; callers
  // flag it (SExtractor's flag 64)
  if (n * nthresh > MAX_DEBLEND_CELLS) return null;
  let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity, peak = -Infinity, total = 0;
  for (let k = 0; k < n; k++) {
    const i = pix[k]!;
    const x = i % width, y = (i - x) / width;
    if (x < xmin) xmin = x;
    if (x > xmax) xmax = x;
    if (y < ymin) ymin = y;
    if (y > ymax) ymax = y;
    const v = f[i]!;
    if (v > peak) peak = v;
    total += v;
  }
  if (!(peak > dthresh) || !(dthresh > 0)) return null;
  const bw = xmax - xmin + 1, bh = ymax - ymin + 1;
  if (scratchSub.length < bw * bh) scratchSub = new Int32Array(bw * bh);
  const sub = scratchSub;
  sub.fill(-1, 0, bw * bh);
  if (scratchLx.length < n) { const c = Math.max(n, 2 * scratchLx.length); scratchLx = new Int32Array(c); scratchLy = new Int32Array(c); scratchFv = new Float64Array(c); }
  const lx = scratchLx, ly = scratchLy, fv = scratchFv;
  for (let k = 0; k < n; k++) {
    const i = pix[k]!;
    const x = i % width, y = (i - x) / width;
    lx[k] = x - xmin; ly[k] = y - ymin; fv[k] = f[i]!;
    sub[(y - ymin) * bw + (x - xmin)] = k;
  }
  // Every component above a level holds a local maximum of the footprint: with a single
  // (non-strict) local maximum no level can have two branches, so nothing can split.
  let nmax = 0;
  for (let k = 0; k < n && nmax < 2; k++) {
    const x = lx[k]!, y = ly[k]!, v = fv[k]!;
    let isMax = true;
    for (let dy = -1; dy <= 1 && isMax; dy++) {
      const yy = y + dy;
      if (yy < 0 || yy >= bh) continue;
      for (let dx = -1; dx <= 1; dx++) {
        const xx = x + dx;
        if ((dx === 0 && dy === 0) || xx < 0 || xx >= bw) continue;
        const m = sub[yy * bw + xx]!;
        if (m >= 0 && fv[m]! > v) { isMax = false; break; }
      }
    }
    if (isMax) nmax++;
  }
  if (nmax < 2) return null;
  return deblendTree(pix, f, d, width, dthresh, opt, { n, xmin, ymin, bw, bh, peak, total, sub, lx, ly, fv });
}

/** A footprint in its bounding box: local coordinates, values and the box → pixel-list map. */
interface LocalFootprint {
  n: number;
  xmin: number;
  ymin: number;
  bw: number;
  bh: number;
  peak: number;
  total: number;
  /** Box cell → index into the footprint's pixel list (−1 outside). */
  sub: Int32Array;
  lx: Int32Array;
  ly: Int32Array;
  fv: Float64Array;
}

/** The multi-threshold tree of a footprint with at least two local maxima, pruned by mincont; then the split. */
function deblendTree(pix: Int32Array, f: Float32Array, d: Float32Array, width: number, dthresh: number, opt: DeblendOptions, L: LocalFootprint): Int32Array[] | null {
  const { nthresh, mincont, minArea } = opt;
  const { n, peak, total, fv } = L;
  const value0 = total * mincont;
  // The tree of branches (a max-tree): pixels are added from the highest level down, merging
  // 8-connected neighbours with union-find (union by size); after each level the sets of at least
  // minArea pixels are that level's nodes. O(n·α) instead of one labelling per level.
  const thr = new Float64Array(nthresh);
  thr[0] = dthresh;
  for (let lev = 1; lev < nthresh; lev++) thr[lev] = dthresh * Math.pow(peak / dthresh, lev / nthresh);
  // bucket the pixels by the highest level they exceed (0 = only the detection threshold)
  if (scratchUf.length < n) {
    const c = Math.max(n, 2 * scratchUf.length);
    scratchUf = new Int32Array(c); scratchRootNode = new Int32Array(c); scratchRootCount = new Int32Array(c);
    scratchRootFlux = new Float64Array(c); scratchActive = new Int32Array(c);
  }
  const uf = scratchUf, size = scratchRootCount, fsum = scratchRootFlux, order = scratchActive, nodeOfRoot = scratchRootNode;
  const levelStart = new Int32Array(nthresh + 1);
  const levOf = scratchLev.length >= n ? scratchLev : (scratchLev = new Int32Array(Math.max(n, 2 * scratchLev.length)));
  bucketLevels(fv, n, thr, nthresh, Math.log(peak / dthresh), dthresh, levOf, levelStart, order);
  uf.fill(-1, 0, n); // −1: not added yet
  // live roots (swap-remove on union)
  const live: number[] = [];
  const livePos = scratchLivePos.length >= n ? scratchLivePos : (scratchLivePos = new Int32Array(Math.max(n, 2 * scratchLivePos.length)));
  const nodeLevel: number[] = [0], nodeParent: number[] = [-1], nodeNpix: number[] = [n], nodeFlux: number[] = [total], nodeRep: number[] = [0];
  let prevNodesStart = 1, prevNodesEnd = 1; // nodes of the level above (created just before)
  let maxNodes = 1;
  for (let lev = nthresh - 1; lev >= 1; lev--) {
    // add the pixels exceeding level lev but not lev + 1
    addLevel(levelStart[lev]!, levelStart[lev + 1]!, order, L, uf, size, fsum, livePos, live);
    // this level's nodes
    const start = nodeLevel.length;
    for (const r of live) {
      nodeOfRoot[r] = -1;
      if (size[r]! >= minArea) {
        nodeOfRoot[r] = nodeLevel.length;
        nodeLevel.push(lev); nodeParent.push(-1); nodeNpix.push(size[r]!); nodeFlux.push(fsum[r]!); nodeRep.push(r);
      }
    }
    // parents of the nodes one level up: the node now holding their representative pixel
    for (let j = prevNodesStart; j < prevNodesEnd; j++) nodeParent[j] = nodeOfRoot[findRoot(uf, nodeRep[j]!)]!;
    prevNodesStart = start; prevNodesEnd = nodeLevel.length;
    if (prevNodesEnd - prevNodesStart > maxNodes) maxNodes = prevNodesEnd - prevNodesStart;
  }
  for (let j = prevNodesStart; j < prevNodesEnd; j++) nodeParent[j] = 0; // level 1 → the whole footprint
  if (maxNodes < 2) return null;
  const kept = pruneTree(nodeLevel, nodeParent, nodeNpix, nodeFlux, thr, value0);
  if (kept === null) return null;
  return splitChildren(pix, f, d, width, dthresh, L, kept, thr, nodeLevel, nodeRep);
}

/**
 * Adds the pixels order[q0 .. q1) to the union-find forest, joining each with its added
 * 8-connected neighbours (union by size; Σ f per root in fsum); `live` holds the current roots
 * (livePos: their positions in it).
 */
function addLevel(q0: number, q1: number, order: Int32Array, L: LocalFootprint, uf: Int32Array, size: Int32Array, fsum: Float64Array,
  livePos: Int32Array, live: number[]): void {
  const { bw, bh, sub, lx, ly, fv } = L;
  for (let q = q0; q < q1; q++) {
    const k = order[q]!;
    uf[k] = k; size[k] = 1; fsum[k] = fv[k]!;
    livePos[k] = live.length; live.push(k);
    const x = lx[k]!, y = ly[k]!;
    let a = k;
    for (let dy = -1; dy <= 1; dy++) {
      const yy = y + dy;
      if (yy < 0 || yy >= bh) continue;
      for (let dx = -1; dx <= 1; dx++) {
        if (dx === 0 && dy === 0) continue;
        const xx = x + dx;
        if (xx < 0 || xx >= bw) continue;
        const mm = sub[yy * bw + xx]!;
        if (mm < 0 || uf[mm]! < 0) continue;
        const b = findRoot(uf, mm);
        if (a === b) continue;
        // union by size: the smaller set joins the larger
        let big = a, small = b;
        if (size[b]! > size[a]!) { big = b; small = a; }
        uf[small] = big; size[big]! += size[small]!; fsum[big]! += fsum[small]!;
        // remove `small` from the live roots
        const pos = livePos[small]!, last = live.pop()!;
        if (last !== small) { live[pos] = last; livePos[last] = pos; }
        a = big;
      }
    }
  }
}

/**
 * The level of each pixel (the highest threshold it exceeds; 0 = only the detection threshold)
 * into levOf, the pixels bucketed by level into order, the buckets' starts into levelStart.
 */
function bucketLevels(fv: Float64Array, n: number, thr: Float64Array, nthresh: number, logRatio: number, dthresh: number,
  levOf: Int32Array, levelStart: Int32Array, order: Int32Array): void {
  for (let k = 0; k < n; k++) {
    let l = logRatio > 0 ? Math.floor((nthresh * Math.log(fv[k]! / dthresh)) / logRatio) : 0;
    if (!(l >= 0)) l = 0;
    if (l > nthresh - 1) l = nthresh - 1;
    // exact comparisons decide at the boundaries
    while (l > 0 && !(fv[k]! > thr[l]!)) l--;
    while (l < nthresh - 1 && fv[k]! > thr[l + 1]!) l++;
    levOf[k] = l;
    levelStart[l + 1]!++;
  }
  for (let l = 0; l < nthresh; l++) levelStart[l + 1]! += levelStart[l]!;
  const fill = levelStart.slice(0, nthresh);
  for (let k = 0; k < n; k++) order[fill[levOf[k]!]!++] = k;
}

/**
 * Top-down pruning of the tree by the minimum contrast: the kept nodes (at least two branches
 * above value0 under one parent), or null when the object stays whole. Nodes were created from
 * the highest level down, so a forward pass (then the root) visits children before their parents.
 */
function pruneTree(nodeLevel: number[], nodeParent: number[], nodeNpix: number[], nodeFlux: number[], thr: Float64Array, value0: number): number[] | null {
  const nn = nodeLevel.length;
  const ok = new Uint8Array(nn).fill(1);
  const children: number[][] = Array.from({ length: nn }, () => []);
  for (let j = 1; j < nn; j++) children[nodeParent[j]!]!.push(j);
  const kept: number[] = [];
  for (let step = 1; step <= nn; step++) {
    const j = step === nn ? 0 : step;
    const ch = children[j]!;
    if (ch.length === 0) continue;
    let m = 0;
    for (const c of ch) {
      if (nodeFlux[c]! - thr[nodeLevel[c]!]! * nodeNpix[c]! > value0) m++;
      if (!ok[c]) ok[j] = 0;
    }
    if (m > 1) {
      for (const c of ch) if (ok[c] && nodeFlux[c]! - thr[nodeLevel[c]!]! * nodeNpix[c]! > value0) kept.push(c);
      ok[j] = 0;
    }
  }
  if (ok[0] || kept.length < 2) return null;
  return kept;
}

/** Children's footprints: the kept nodes' cores, and every other pixel given to the most likely child. */
function splitChildren(pix: Int32Array, f: Float32Array, d: Float32Array, width: number, dthresh: number, L: LocalFootprint,
  kept: number[], thr: Float64Array, nodeLevel: number[], nodeRep: number[]): Int32Array[] {
  const { n, xmin, ymin, bw, bh, lx, ly } = L;
  const nk = kept.length;
  // core pixels of each kept node: flood fill from its representative over pixels above its level
  const owner = floodCores(L, kept, thr, nodeLevel, nodeRep);
  // Gaussian models of the children from their cores
  const cm = new Float64Array(nk * 6); // mx, my, cxx, cyy, cxy, amp
  const abc = new Float64Array(nk);
  const maxA = childModels(pix, owner, nk, d, f, width, dthresh, cm, abc);
  // children near each pixel: beyond ~12 σ (Mahalanobis distance² / 2 ≥ 70) a child's
  // probability is 0, so only children in the neighbouring grid cells can compete
  const cell = Math.max(8, Math.ceil(12 * maxA) + 1);
  const gw = Math.floor(bw / cell) + 1, gh = Math.floor(bh / cell) + 1;
  const gridStart = new Int32Array(gw * gh + 1);
  const cellOf = new Int32Array(nk);
  for (let c = 0; c < nk; c++) {
    const gx = Math.min(gw - 1, Math.max(0, Math.floor((cm[c * 6]! - xmin) / cell)));
    const gy = Math.min(gh - 1, Math.max(0, Math.floor((cm[c * 6 + 1]! - ymin) / cell)));
    cellOf[c] = gy * gw + gx;
    gridStart[cellOf[c]! + 1]!++;
  }
  for (let g = 0; g < gw * gh; g++) gridStart[g + 1]! += gridStart[g]!;
  const gridList = new Int32Array(nk);
  const gfill = gridStart.slice(0, gw * gh);
  for (let c = 0; c < nk; c++) gridList[gfill[cellOf[c]!]!++] = c;
  const counts = new Int32Array(nk);
  for (let k = 0; k < n; k++) {
    if (owner[k]! < 0) owner[k] = likeliestChild(lx[k]!, ly[k]!, xmin, ymin, cell, gw, gh, gridStart, gridList, cm, abc, nk);
    counts[owner[k]!]!++;
  }
  // the children's footprints are views of one array: an array buffer per child is an external
  // allocation each that the young-generation GC must track (~4,700 objects per CCD)
  const out: Int32Array[] = [];
  const fills = new Int32Array(nk);
  const all = new Int32Array(n);
  for (let c = 0, o = 0; c < nk; c++) { out.push(all.subarray(o, o + counts[c]!)); o += counts[c]!; }
  for (let k = 0; k < n; k++) { const c = owner[k]!; out[c]![fills[c]!++] = pix[k]!; }
  return out;
}

/** Owner (kept-node rank) of each footprint pixel from flood fills of the kept nodes' cores; −1 elsewhere. */
function floodCores(L: LocalFootprint, kept: number[], thr: Float64Array, nodeLevel: number[], nodeRep: number[]): Int32Array {
  const { n, bw, bh, sub, lx, ly, fv } = L;
  const owner = new Int32Array(n).fill(-1);
  const nk = kept.length;
  const stack: number[] = [];
  for (let c = 0; c < nk; c++) {
    const node = kept[c]!, t = thr[nodeLevel[node]!]!;
    const r0 = nodeRep[node]!;
    owner[r0] = c;
    stack.push(r0);
    while (stack.length) {
      const k = stack.pop()!;
      const x = lx[k]!, y = ly[k]!;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= bh) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= bw) continue;
          const mm = sub[yy * bw + xx]!;
          if (mm < 0 || owner[mm]! >= 0 || !(fv[mm]! > t)) continue;
          owner[mm] = c;
          stack.push(mm);
        }
      }
    }
  }
  return owner;
}

/** Gaussian model (cm: mx, my, cxx, cyy, cxy, amp; abc: abcor) of each child from its core; returns the largest a/√abcor. */
function childModels(pix: Int32Array, owner: Int32Array, nk: number, d: Float32Array, f: Float32Array, width: number, dthresh: number, cm: Float64Array, abc: Float64Array): number {
  const n = owner.length;
  // the cores, grouped by child (counting sort)
  const coreStart = new Int32Array(nk + 1);
  for (let k = 0; k < n; k++) if (owner[k]! >= 0) coreStart[owner[k]! + 1]!++;
  for (let c = 0; c < nk; c++) coreStart[c + 1]! += coreStart[c]!;
  const corePix = new Int32Array(coreStart[nk]!);
  const cfill = coreStart.slice(0, nk);
  for (let k = 0; k < n; k++) { const c = owner[k]!; if (c >= 0) corePix[cfill[c]!++] = pix[k]!; }
  let maxA = 0;
  for (let c = 0; c < nk; c++) {
    const o = analyse(corePix.subarray(coreStart[c]!, coreStart[c + 1]!), d, f, width, dthresh, dthresh);
    const dist = o.npix / (2 * Math.PI * o.abcor * Math.max(o.a * o.b, 1e-6));
    let amp = dist < 70 ? dthresh * Math.exp(dist) : 4 * o.fdpeak;
    if (amp > 4 * o.fdpeak) amp = 4 * o.fdpeak;
    cm[c * 6] = o.mx; cm[c * 6 + 1] = o.my; cm[c * 6 + 2] = o.cxx; cm[c * 6 + 3] = o.cyy; cm[c * 6 + 4] = o.cxy; cm[c * 6 + 5] = amp;
    abc[c] = o.abcor;
    maxA = Math.max(maxA, o.a / Math.sqrt(o.abcor));
  }
  return maxA;
}

/** The child most likely at local pixel (lxk, lyk): the largest Gaussian profile among the neighbouring grid cells, else the nearest in Mahalanobis distance. */
function likeliestChild(lxk: number, lyk: number, xmin: number, ymin: number, cell: number, gw: number, gh: number,
  gridStart: Int32Array, gridList: Int32Array, cm: Float64Array, abc: Float64Array, nk: number): number {
  const x = lxk + xmin, y = lyk + ymin;
  let best = -1, bestP = 0;
  const gx = Math.floor(lxk / cell), gy = Math.floor(lyk / cell);
  for (let yy = Math.max(0, gy - 1); yy <= Math.min(gh - 1, gy + 1); yy++) {
    for (let xx = Math.max(0, gx - 1); xx <= Math.min(gw - 1, gx + 1); xx++) {
      const g = yy * gw + xx;
      for (let q = gridStart[g]!; q < gridStart[g + 1]!; q++) {
        const c = gridList[q]!;
        const dx = x - cm[c * 6]!, dy = y - cm[c * 6 + 1]!;
        const dist = (0.5 * (cm[c * 6 + 2]! * dx * dx + cm[c * 6 + 3]! * dy * dy + cm[c * 6 + 4]! * dx * dy)) / abc[c]!;
        if (dist >= 70) continue;
        const p = cm[c * 6 + 5]! * Math.exp(-dist);
        if (p > bestP) { bestP = p; best = c; }
      }
    }
  }
  // nobody nearby: the child at the smallest Mahalanobis distance (a function of its own: a rare
  // branch with arithmetic first met in optimised code deoptimised likeliestChild)
  if (best < 0 || !(bestP > 1e-31)) best = nearestChild(x, y, cm, abc, nk, best);
  return best;
}

/**
 * Takes likeliestChild's fallback once (a pixel with no child in its grid cells) on a one-child
 * toy input, so the call has type feedback before V8 optimises likeliestChild. Result discarded.
 */
export function primeLikeliestChild(): void {
  const cm = new Float64Array([40.5, 40.5, 1, 1, 0, 1]);
  const gridStart = new Int32Array(2), gridList = new Int32Array(1), abc = new Float64Array([1]);
  // V8 gives a function its feedback storage only after its first few calls: call it a few more
  for (let i = 0; i < 16; i++) likeliestChild(0, 0, 0, 0, 8, 1, 1, gridStart, gridList, cm, abc, 1);
}

function nearestChild(x: number, y: number, cm: Float64Array, abc: Float64Array, nk: number, best: number): number {
  let bestD = Infinity;
  for (let c = 0; c < nk; c++) {
    const dx = x - cm[c * 6]!, dy = y - cm[c * 6 + 1]!;
    const dist = (0.5 * (cm[c * 6 + 2]! * dx * dx + cm[c * 6 + 3]! * dy * dy + cm[c * 6 + 4]! * dx * dy)) / abc[c]!;
    if (dist < bestD) { bestD = dist; best = c; }
  }
  return best;
}

/** Root of i with path halving. */
function findRoot(parent: Int32Array, i: number): number {
  while (parent[i]! !== i) {
    const g = parent[parent[i]!]!;
    parent[i] = g;
    i = g;
  }
  return i;
}


const CLEAN_ZONE = 10;

/** Moffat "contamination" model of an object used by CLEAN: amplitude and alpha. */
function cleanModel(o: IsoObject, beta: number): { amp: number; alpha: number } {
  const unit = Math.PI * o.a * o.b;
  const amp = o.fdflux / (2 * unit * o.abcor);
  const alpha = ((Math.pow(amp / o.dthresh, 1 / beta) - 1) * unit) / o.npix;
  return { amp, alpha };
}

/**
 * CLEAN: merge spurious detections in the wings of brighter objects. Returns the surviving
 * objects (merged ones have their pixels added to their master, which is re-analysed).
 */
export function cleanObjects(objs: IsoObject[], d: Float32Array, f: Float32Array, width: number, cleanParam: number): IsoObject[] {
  const order = objs.map((_, i) => i).sort((p, q) => objs[q]!.fdflux - objs[p]!.fdflux);
  const beta = cleanParam;
  const models = objs.map((o) => cleanModel(o, beta));
  // spatial grid of accepted objects, each registered over the cells its influence can reach
  const cell = 32;
  const grid = new Map<number, number[]>();
  const key = (cx: number, cy: number) => cy * 65536 + cx;
  const masterOf = new Int32Array(objs.length).fill(-1);
  for (const i of order) {
    const o = objs[i]!;
    // is o eaten by an accepted brighter object?
    const cx = Math.floor(o.mx / cell), cy = Math.floor(o.my / cell);
    const cand = grid.get(key(cx, cy));
    let eatenBy = -1;
    if (cand) {
      for (const j of cand) {
        const b = objs[j]!;
        const dx = o.mx - b.mx, dy = o.my - b.my;
        const rlim = (o.a + b.a) * CLEAN_ZONE;
        if (dx * dx + dy * dy >= rlim * rlim) continue;
        const { amp, alpha } = models[j]!;
        const val = 1 + alpha * (b.cxx * dx * dx + b.cyy * dy * dy + b.cxy * dx * dy);
        if (val > 1 && (val < 1e10 ? amp * Math.pow(val, -beta) : 0) > o.mthresh) { eatenBy = j; break; }
      }
    }
    if (eatenBy >= 0) { masterOf[i] = eatenBy; continue; }
    // register: influence radius where amp·val^-β falls below the faintest threshold
    const { amp, alpha } = models[i]!;
    const tmin = o.dthresh * 0.05;
    let reach = 0;
    if (alpha > 0 && amp > tmin) {
      const vmax = Math.pow(amp / tmin, 1 / beta);
      reach = Math.sqrt((vmax - 1) / alpha) * Math.max(o.a, 1e-3) * 1.05 + 1;
    }
    reach = Math.min(reach, CLEAN_ZONE * (o.a + 50));
    const c0x = Math.floor((o.mx - reach) / cell), c1x = Math.floor((o.mx + reach) / cell);
    const c0y = Math.floor((o.my - reach) / cell), c1y = Math.floor((o.my + reach) / cell);
    for (let yy = c0y; yy <= c1y; yy++) for (let xx = c0x; xx <= c1x; xx++) {
      const k = key(xx, yy);
      const l = grid.get(k);
      if (l) l.push(i); else grid.set(k, [i]);
    }
  }
  // merge
  const extra = new Map<number, number[]>();
  for (let i = 0; i < objs.length; i++) {
    const m = masterOf[i]!;
    if (m >= 0) { const l = extra.get(m); if (l) l.push(i); else extra.set(m, [i]); }
  }
  const out: IsoObject[] = [];
  for (let i = 0; i < objs.length; i++) {
    if (masterOf[i]! >= 0) continue;
    const o = objs[i]!;
    const slaves = extra.get(i);
    if (!slaves) { out.push(o); continue; }
    let total = o.pix.length;
    let flags = o.flags;
    for (const s of slaves) { total += objs[s]!.pix.length; flags |= objs[s]!.flags & ~FLAG_BLENDED; }
    const pix = new Int32Array(total);
    pix.set(o.pix);
    let p = o.pix.length;
    for (const s of slaves) { pix.set(objs[s]!.pix, p); p += objs[s]!.pix.length; }
    pix.sort();
    out.push(analyse(pix, d, f, width, o.dthresh, o.mthresh, flags));
  }
  return out;
}
