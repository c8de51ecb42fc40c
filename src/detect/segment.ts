/**
 * Thresholding and 8-connected labelling of a detection image, by runs: each row is cut into
 * runs of pixels above threshold, runs touching (8-connectivity) a run of the previous row are
 * joined with union-find. One pass over the image, memory ∝ number of runs.
 *
 * Pixel convention: 0-based, index y·width + x.
 */

export interface Footprints {
  /** Number of objects (components with at least minArea pixels). */
  count: number;
  /** Pixel indices of object k are pixels[start[k] .. start[k+1]), in raster order. */
  start: Int32Array;
  pixels: Int32Array;
}

class IntVec {
  a: Int32Array;
  n = 0;
  constructor(cap = 1024) { this.a = new Int32Array(cap); }
  push(v: number): number {
    if (this.n === this.a.length) { const b = new Int32Array(this.a.length * 2); b.set(this.a); this.a = b; }
    this.a[this.n] = v;
    return this.n++;
  }
}

function find(parent: Int32Array, i: number): number {
  let r = i;
  while (parent[r]! !== r) r = parent[r]!;
  while (parent[i]! !== r) { const n = parent[i]!; parent[i] = r; i = n; }
  return r;
}

/** Fills out[0..width) with the noise σ of image row y. */
export type RowNoise = (y: number, out: Float32Array) => void;

/**
 * Label the pixels where det[i] > thresh·noise[i] (noise may be a single number: a uniform
 * level, or a RowNoise provider of σ row by row) and bad[i] is not set, keep components of at least minArea pixels. With
 * noiseIsVariance, `noise` holds variances: the test is det[i] > thresh·√noise[i]; then
 * rowMinNoise (optional) gives a lower bound of each row's variance, used as a pre-test.
 */
export function labelAboveThreshold(
  det: Float32Array, width: number, height: number,
  thresh: number, noise: Float32Array | number | RowNoise, minArea: number, bad?: Uint8Array, noiseIsVariance = false,
  rowMinNoise?: Float64Array,
): Footprints {
  const st: RunState = { rx0: new IntVec(), rx1: new IntVec(), ry: new IntVec(), parent: new Int32Array(1024), prevStart: 0, prevEnd: 0 };
  const above = new Uint8Array(width + 1); // one sentinel 0 at the end of each row
  const rowNoise = typeof noise === 'function' ? new Float32Array(width) : null;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    // the threshold test for the whole row, in one tight loop (one small function per noise kind)
    if (typeof noise === 'function') {
      // σ of this row from a provider (e.g. the background RMS spline): no noise plane at all
      noise(y, rowNoise!);
      aboveRowSigma(det, row, width, thresh, rowNoise!, above);
    } else if (typeof noise === 'number') {
      aboveRowConst(det, row, width, noiseIsVariance ? thresh * Math.sqrt(noise) : thresh * noise, above);
    } else if (noiseIsVariance) {
      // pre-test against the row's smallest threshold: most pixels never read the noise plane
      aboveRowVariance(det, row, width, thresh, rowMinNoise ? thresh * Math.sqrt(rowMinNoise[y]!) : 0, noise, above);
    } else {
      aboveRowPlane(det, row, width, thresh, noise, above);
    }
    if (bad !== undefined) clearBad(bad, row, width, above);
    addRowRuns(st, above, width, y);
  }
  return collectFootprints(st, width, minArea);
}

/** Runs of the rows so far: x0, x1, y per run; union-find parents; the previous row's runs. */
interface RunState {
  rx0: IntVec;
  rx1: IntVec;
  ry: IntVec;
  parent: Int32Array;
  prevStart: number;
  prevEnd: number;
}

function aboveRowSigma(det: Float32Array, row: number, width: number, thresh: number, rn: Float32Array, above: Uint8Array): void {
  let rmin = Infinity;
  for (let x = 0; x < width; x++) if (rn[x]! < rmin) rmin = rn[x]!;
  const tmin = thresh * rmin;
  for (let x = 0; x < width; x++) { const v = det[row + x]!; above[x] = v > tmin && v > thresh * rn[x]! ? 1 : 0; }
}

function aboveRowConst(det: Float32Array, row: number, width: number, t0: number, above: Uint8Array): void {
  for (let x = 0; x < width; x++) above[x] = det[row + x]! > t0 ? 1 : 0;
}

function aboveRowVariance(det: Float32Array, row: number, width: number, thresh: number, tmin: number, noise: Float32Array, above: Uint8Array): void {
  const t2 = thresh * thresh;
  for (let x = 0; x < width; x++) { const v = det[row + x]!; above[x] = v > tmin && v * v > t2 * noise[row + x]! ? 1 : 0; }
}

function aboveRowPlane(det: Float32Array, row: number, width: number, thresh: number, noise: Float32Array, above: Uint8Array): void {
  for (let x = 0; x < width; x++) above[x] = det[row + x]! > thresh * noise[row + x]! ? 1 : 0;
}

function clearBad(bad: Uint8Array, row: number, width: number, above: Uint8Array): void {
  for (let x = 0; x < width; x++) if (bad[row + x] === 1) above[x] = 0;
}

/** Cut row y into runs and join them with the touching (8-connected) runs of the previous row. */
function addRowRuns(st: RunState, above: Uint8Array, width: number, y: number): void {
  const { rx0, rx1, ry } = st;
  let parent = st.parent;
  const curStart = rx0.n, prevEnd = st.prevEnd;
  let p = st.prevStart;
  let x = 0;
  while (x < width) {
    if (above[x] === 0) { x++; continue; }
    const x0 = x;
    while (above[++x] === 1);
    const x1 = x - 1;
    const r = rx0.push(x0); rx1.push(x1); ry.push(y);
    if (r >= parent.length) { const b = new Int32Array(parent.length * 2); b.set(parent); parent = b; st.parent = b; }
    parent[r] = r;
    while (p < prevEnd && rx1.a[p]! < x0 - 1) p++;
    for (let q = p; q < prevEnd && rx0.a[q]! <= x1 + 1; q++) {
      const a = find(parent, r), b = find(parent, q);
      if (a !== b) { if (a < b) parent[b] = a; else parent[a] = b; }
    }
  }
  st.prevStart = curStart;
  st.prevEnd = rx0.n;
}

/**
 * Components of at least minArea pixels, their pixels in raster order. Each pass over the runs is
 * a function of its own: in one function (called once per image) every loop was compiled on the
 * stack and deoptimised on reaching the next one.
 */
function collectFootprints(st: RunState, width: number, minArea: number): Footprints {
  const { rx0, rx1, ry, parent } = st;
  const nruns = rx0.n;
  // pixel count per root
  const count = new Int32Array(nruns);
  const root = new Int32Array(nruns);
  countRoots(parent, rx0.a, rx1.a, nruns, root, count);
  const objOf = new Int32Array(nruns).fill(-1);
  const nobj = numberObjects(root, count, nruns, minArea, objOf);
  const start = new Int32Array(nobj + 1);
  objectStarts(root, objOf, rx0.a, rx1.a, nruns, start);
  prefixSum(start, nobj);
  const fill = start.slice(0, nobj);
  const pixels = new Int32Array(start[nobj]!);
  fillPixels(root, objOf, rx0.a, rx1.a, ry.a, nruns, width, fill, pixels);
  return { count: nobj, start, pixels };
}

function countRoots(parent: Int32Array, x0: Int32Array, x1: Int32Array, nruns: number, root: Int32Array, count: Int32Array): void {
  for (let r = 0; r < nruns; r++) {
    const q = find(parent, r);
    root[r] = q;
    count[q]! += x1[r]! - x0[r]! + 1;
  }
}

function numberObjects(root: Int32Array, count: Int32Array, nruns: number, minArea: number, objOf: Int32Array): number {
  let nobj = 0;
  for (let r = 0; r < nruns; r++) if (root[r] === r && count[r]! >= minArea) objOf[r] = nobj++;
  return nobj;
}

function objectStarts(root: Int32Array, objOf: Int32Array, x0: Int32Array, x1: Int32Array, nruns: number, start: Int32Array): void {
  for (let r = 0; r < nruns; r++) { const o = objOf[root[r]!]!; if (o >= 0) start[o + 1]! += x1[r]! - x0[r]! + 1; }
}

function prefixSum(start: Int32Array, nobj: number): void {
  for (let o = 0; o < nobj; o++) start[o + 1]! += start[o]!;
}

/** Runs are in raster order, so each object's pixels come out in raster order. */
function fillPixels(root: Int32Array, objOf: Int32Array, x0: Int32Array, x1: Int32Array, y: Int32Array, nruns: number, width: number,
  fill: Int32Array, pixels: Int32Array): void {
  for (let r = 0; r < nruns; r++) {
    const o = objOf[root[r]!]!;
    if (o < 0) continue;
    const base = y[r]! * width;
    let f = fill[o]!;
    for (let xx = x0[r]!; xx <= x1[r]!; xx++) pixels[f++] = base + xx;
    fill[o] = f;
  }
}
