/**
 * Association of diaSources into diaObjects in one region (patch or brick), across epochs and
 * bands. Sources are processed one at a time in a fixed order (MJD, exposure, CCD, diaSourceId):
 * each joins the nearest existing diaObject within the radius, or starts a new one. Positions
 * are kept on the gnomonic tangent plane at the region centre (arcsec), in a hash grid of cells
 * one radius wide (3 × 3 cells searched; objects move cells when their mean moves).
 *
 * Running statistics are exact incremental updates:
 *  - mean position: weighted mean (weights 1/σ² from the positional errors when given, else 1),
 *    updated as m += (w/W)(x − m) after W += w — every detection counts, the second one included
 *    (dia_pipe's updateCat replaced the position on the second detection; not here);
 *  - per band: count, Welford mean and M2 (sample variance M2/(n−1)), min, max, and the
 *    inverse-variance weighted mean with its error 1/√Σw;
 *  - per object: number of diaSources, first/last MJD, the detection of largest |S/N|, mean and
 *    maximum real/bogus score.
 * diaObject ids are region.id·10⁹ + sequence (1, 2, …) in processing order, so a rerun of the
 * same inputs gives the same ids and byte-identical tables.
 */
import { TesseraError } from '../util/errors.js';
import type { AssocRegion } from './region.js';
import { selectDiaSources as selectRows, type DiaSourceTable } from './types.js';

const D2R = Math.PI / 180;
const R2AS = 180 / Math.PI * 3600;
const OFF = 2 ** 21;
const SPAN = 2 ** 22;

export interface AssociateOptions {
  /** Match radius in arcsec (default 0.5). */
  radiusArcsec?: number;
}

/** Per-band flux statistics of diaObjects (one value per object). */
export interface BandStats {
  count: Int32Array;
  mean: Float64Array;
  /** Sample variance (NaN for fewer than 2 detections). */
  variance: Float64Array;
  min: Float64Array;
  max: Float64Array;
  /** Inverse-variance weighted mean and its error (NaN without finite positive errors). */
  wmean: Float64Array;
  wmeanErr: Float64Array;
}

export interface DiaObjectTable {
  n: number;
  diaObjectId: Float64Array;
  ra: Float64Array;
  dec: Float64Array;
  /** Error of the mean position in arcsec (NaN when the diaSources carry no positional errors). */
  posErrArcsec: Float64Array;
  nDiaSources: Int32Array;
  firstMjd: Float64Array;
  lastMjd: Float64Array;
  /** Signed S/N of the detection with the largest |S/N|. */
  maxSnr: Float64Array;
  /** √Σ S/N² over detections. */
  snrComb: Float64Array;
  meanRbScore: Float64Array;
  maxRbScore: Float64Array;
  /** Smallest distance (arcsec) to a template source over detections (NaN when unknown). */
  distTemplateArcsec: Float64Array;
  /** Bands in alphabetical order, and their statistics. */
  bands: string[];
  bandStats: Map<string, BandStats>;
}

export interface AssociationResult {
  region: AssocRegion;
  radiusArcsec: number;
  objects: DiaObjectTable;
  /** The diaSources owned by the region, in processing order, with their diaObject. */
  sources: DiaSourceTable;
  /** diaObjectId of each row of `sources`. */
  diaObjectId: Float64Array;
  /** Input row of each row of `sources`. */
  inputRow: Int32Array;
  /** diaObject → diaSources: sources of object k are memberSource[memberStart[k] .. memberStart[k+1]) (rows of `sources`). */
  memberStart: Int32Array;
  memberSource: Int32Array;
}

function grow<T extends Float64Array | Int32Array>(a: T, n: number): T {
  if (n <= a.length) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(n, a.length * 2));
  b.set(a);
  return b;
}

class BandAcc {
  count: Int32Array; mean: Float64Array; m2: Float64Array; min: Float64Array; max: Float64Array; sw: Float64Array; swf: Float64Array;
  constructor(cap: number) {
    this.count = new Int32Array(cap); this.mean = new Float64Array(cap); this.m2 = new Float64Array(cap);
    this.min = new Float64Array(cap); this.max = new Float64Array(cap); this.sw = new Float64Array(cap); this.swf = new Float64Array(cap);
  }
  ensure(cap: number): void {
    if (cap <= this.count.length) return;
    this.count = grow(this.count, cap); this.mean = grow(this.mean, cap); this.m2 = grow(this.m2, cap);
    this.min = grow(this.min, cap); this.max = grow(this.max, cap); this.sw = grow(this.sw, cap); this.swf = grow(this.swf, cap);
  }
  add(k: number, f: number, e: number): void {
    if (!Number.isFinite(f)) return;
    const n = ++this.count[k]!;
    if (n === 1) { this.mean[k] = f; this.m2[k] = 0; this.min[k] = f; this.max[k] = f; }
    else {
      const d = f - this.mean[k]!;
      this.mean[k]! += d / n;
      this.m2[k]! += d * (f - this.mean[k]!);
      if (f < this.min[k]!) this.min[k] = f;
      if (f > this.max[k]!) this.max[k] = f;
    }
    if (e > 0 && Number.isFinite(e)) { const w = 1 / (e * e); this.sw[k]! += w; this.swf[k]! += w * f; }
  }
}

/**
 * Incremental associator for one region. `add` may be called several times with later visits;
 * `associate()` below is the one-shot form used by the stage.
 */
export class Associator {
  readonly region: AssocRegion;
  readonly radiusArcsec: number;
  private readonly ra0: number;
  private readonly sinD0: number;
  private readonly cosD0: number;
  private readonly cell: number;
  nObj = 0;
  // object state
  private px = new Float64Array(1024);
  private py = new Float64Array(1024);
  private sw = new Float64Array(1024);
  private hasErr = true;
  private nSrc = new Int32Array(1024);
  private first = new Float64Array(1024);
  private last = new Float64Array(1024);
  private maxSnr = new Float64Array(1024);
  private snr2 = new Float64Array(1024);
  private rbN = new Int32Array(1024);
  private rbMean = new Float64Array(1024);
  private rbMax = new Float64Array(1024);
  private dTmpl = new Float64Array(1024);
  private next = new Int32Array(1024);
  private prev = new Int32Array(1024);
  private key = new Float64Array(1024);
  private readonly heads = new Map<number, number>();
  private readonly bandAcc = new Map<string, BandAcc>();
  /** Object index of every source added so far, and the sources' rows, in processing order. */
  private assigned: Int32Array = new Int32Array(1024);
  private nAssigned = 0;

  constructor(region: AssocRegion, opts: AssociateOptions = {}) {
    const r = opts.radiusArcsec ?? 0.5;
    if (!(r > 0) || !Number.isFinite(r)) throw new TesseraError(`association radius must be a positive number of arcsec, got ${r}`);
    this.region = region;
    this.radiusArcsec = r;
    this.ra0 = region.center[0] * D2R;
    const d0 = region.center[1] * D2R;
    this.sinD0 = Math.sin(d0); this.cosD0 = Math.cos(d0);
    this.cell = Math.max(r, 1e-3);
  }

  private ensure(n: number): void {
    if (n <= this.px.length) return;
    this.px = grow(this.px, n); this.py = grow(this.py, n); this.sw = grow(this.sw, n); this.nSrc = grow(this.nSrc, n);
    this.first = grow(this.first, n); this.last = grow(this.last, n); this.maxSnr = grow(this.maxSnr, n); this.snr2 = grow(this.snr2, n);
    this.rbN = grow(this.rbN, n); this.rbMean = grow(this.rbMean, n); this.rbMax = grow(this.rbMax, n); this.dTmpl = grow(this.dTmpl, n);
    this.next = grow(this.next, n); this.prev = grow(this.prev, n); this.key = grow(this.key, n);
    for (const b of this.bandAcc.values()) b.ensure(this.px.length);
  }

  private cellKey(x: number, y: number): number {
    const cx = Math.floor(x / this.cell) + OFF, cy = Math.floor(y / this.cell) + OFF;
    if (cx < 0 || cx >= SPAN || cy < 0 || cy >= SPAN) throw new TesseraError(`association: position too far from the region centre of ${this.region.name}`);
    return cx * SPAN + cy;
  }

  private link(k: number, key: number): void {
    this.key[k] = key;
    const h = this.heads.get(key);
    this.prev[k] = -1;
    this.next[k] = h === undefined ? -1 : h;
    if (h !== undefined) this.prev[h] = k;
    this.heads.set(key, k);
  }

  private unlink(k: number): void {
    const key = this.key[k]!, p = this.prev[k]!, nx = this.next[k]!;
    if (p >= 0) this.next[p] = nx;
    else if (nx >= 0) this.heads.set(key, nx);
    else this.heads.delete(key);
    if (nx >= 0) this.prev[nx] = p;
  }

  /** Processing order of the rows of t: (mjd, expnum, ccd, diaSourceId). */
  static order(t: DiaSourceTable, rows?: ArrayLike<number>): Uint32Array {
    const idx = rows ? Uint32Array.from(rows) : Uint32Array.from({ length: t.n }, (_, i) => i);
    const { mjd, expnum, ccd, diaSourceId } = t;
    idx.sort((a, b) => (mjd[a]! - mjd[b]!) || (expnum[a]! - expnum[b]!) || (ccd[a]! - ccd[b]!) || (diaSourceId[a]! - diaSourceId[b]!) || (a - b));
    return idx;
  }

  /**
   * Associate the rows of t that lie in the region, in processing order. Returns the rows taken
   * (processing order) and their object indices.
   */
  add(t: DiaSourceTable): { rows: Int32Array; object: Int32Array } {
    const inside: number[] = [];
    for (let i = 0; i < t.n; i++) if (this.region.contains(t.ra[i]!, t.dec[i]!)) inside.push(i);
    const order = Associator.order(t, inside);
    const m = order.length;
    const object = new Int32Array(m);
    const r2 = this.radiusArcsec * this.radiusArcsec;
    const errs = !!(t.raErrArcsec && t.decErrArcsec);
    if (!errs) this.hasErr = false;
    const { ra, dec } = t;
    const sinD0 = this.sinD0, cosD0 = this.cosD0, ra0 = this.ra0, cell = this.cell;
    for (let j = 0; j < m; j++) {
      const i = order[j]!;
      // gnomonic projection (arcsec)
      const a = ra[i]! * D2R - ra0, d = dec[i]! * D2R;
      const sd = Math.sin(d), cd = Math.cos(d), ca = Math.cos(a);
      const den = sd * sinD0 + cd * cosD0 * ca;
      if (!(den > 0)) throw new TesseraError(`diaSource ${t.diaSourceId[i]} at (${ra[i]}, ${dec[i]}) is more than 90° from the centre of region ${this.region.name}`);
      const x = (cd * Math.sin(a) / den) * R2AS;
      const y = ((sd * cosD0 - cd * sinD0 * ca) / den) * R2AS;
      const cx = Math.floor(x / cell), cy = Math.floor(y / cell);
      let best = -1, bestD = r2;
      for (let gx = cx - 1; gx <= cx + 1; gx++) {
        for (let gy = cy - 1; gy <= cy + 1; gy++) {
          let k = this.heads.get((gx + OFF) * SPAN + (gy + OFF));
          while (k !== undefined && k >= 0) {
            const dx = this.px[k]! - x, dy = this.py[k]! - y;
            const dd = dx * dx + dy * dy;
            if (dd < bestD || (dd === bestD && best >= 0 && k < best)) { bestD = dd; best = k; }
            k = this.next[k]!;
          }
        }
      }
      let w = 1;
      if (errs) {
        const ex = t.raErrArcsec![i]!, ey = t.decErrArcsec![i]!;
        const v = 0.5 * (ex * ex + ey * ey);
        w = v > 0 && Number.isFinite(v) ? 1 / v : 1;
      }
      const snr = t.snr[i]!, rb = t.rbScore[i]!, mjd = t.mjd[i]!, dt = t.distTemplateArcsec[i]!;
      let k = best;
      if (k < 0) {
        k = this.nObj++;
        this.ensure(this.nObj);
        this.px[k] = x; this.py[k] = y; this.sw[k] = w;
        this.nSrc[k] = 1; this.first[k] = mjd; this.last[k] = mjd; this.maxSnr[k] = snr; this.snr2[k] = Number.isFinite(snr) ? snr * snr : 0;
        this.rbN[k] = 0; this.rbMean[k] = 0; this.rbMax[k] = NaN;
        this.dTmpl[k] = Number.isFinite(dt) ? dt : NaN;
        for (const b of this.bandAcc.values()) { b.count[k] = 0; b.sw[k] = 0; b.swf[k] = 0; b.m2[k] = 0; }
        this.link(k, this.cellKey(x, y));
      } else {
        const W = this.sw[k]! + w;
        const f = w / W;
        this.px[k]! += f * (x - this.px[k]!);
        this.py[k]! += f * (y - this.py[k]!);
        this.sw[k] = W;
        this.nSrc[k]!++;
        if (mjd < this.first[k]!) this.first[k] = mjd;
        if (mjd > this.last[k]!) this.last[k] = mjd;
        if (Math.abs(snr) > Math.abs(this.maxSnr[k]!) || !Number.isFinite(this.maxSnr[k]!)) this.maxSnr[k] = snr;
        if (Number.isFinite(snr)) this.snr2[k]! += snr * snr;
        if (Number.isFinite(dt) && !(dt >= this.dTmpl[k]!)) this.dTmpl[k] = dt;
        const key = this.cellKey(this.px[k]!, this.py[k]!);
        if (key !== this.key[k]) { this.unlink(k); this.link(k, key); }
      }
      if (Number.isFinite(rb)) {
        const n = ++this.rbN[k]!;
        this.rbMean[k]! += (rb - this.rbMean[k]!) / n;
        if (!(rb <= this.rbMax[k]!)) this.rbMax[k] = rb;
      }
      const band = t.band[i]!;
      let acc = this.bandAcc.get(band);
      if (!acc) { acc = new BandAcc(this.px.length); this.bandAcc.set(band, acc); }
      acc.add(k, t.psfFlux[i]!, t.psfFluxErr[i]!);
      object[j] = k;
    }
    this.assigned = grow(this.assigned, this.nAssigned + m);
    this.assigned.set(object, this.nAssigned);
    this.nAssigned += m;
    return { rows: Int32Array.from(order), object };
  }

  /** diaObject id of object index k. */
  objectId(k: number): number {
    return this.region.id * 1e9 + k + 1;
  }

  /** The diaObject table as it stands. */
  objects(): DiaObjectTable {
    const n = this.nObj;
    const out: DiaObjectTable = {
      n,
      diaObjectId: new Float64Array(n), ra: new Float64Array(n), dec: new Float64Array(n), posErrArcsec: new Float64Array(n),
      nDiaSources: this.nSrc.slice(0, n), firstMjd: this.first.slice(0, n), lastMjd: this.last.slice(0, n),
      maxSnr: this.maxSnr.slice(0, n), snrComb: new Float64Array(n), meanRbScore: new Float64Array(n), maxRbScore: this.rbMax.slice(0, n),
      distTemplateArcsec: this.dTmpl.slice(0, n),
      bands: [...this.bandAcc.keys()].sort(), bandStats: new Map(),
    };
    const sinD0 = this.sinD0, cosD0 = this.cosD0;
    for (let k = 0; k < n; k++) {
      out.diaObjectId[k] = this.objectId(k);
      // inverse gnomonic
      const x = this.px[k]! / R2AS, y = this.py[k]! / R2AS;
      const rho = Math.hypot(x, y);
      const c = Math.atan(rho);
      const sc = Math.sin(c), cc = Math.cos(c);
      const dec = rho === 0 ? Math.asin(sinD0) : Math.asin(cc * sinD0 + (y * sc * cosD0) / rho);
      const ra = this.ra0 + Math.atan2(x * sc, rho * cosD0 * cc - y * sinD0 * sc);
      let raDeg = ra / D2R;
      raDeg = ((raDeg % 360) + 360) % 360;
      out.ra[k] = raDeg; out.dec[k] = dec / D2R;
      out.posErrArcsec[k] = this.hasErr ? 1 / Math.sqrt(this.sw[k]!) : NaN;
      out.snrComb[k] = Math.sqrt(this.snr2[k]!);
      out.meanRbScore[k] = this.rbN[k]! > 0 ? this.rbMean[k]! : NaN;
    }
    for (const band of out.bands) {
      const a = this.bandAcc.get(band)!;
      const s: BandStats = {
        count: new Int32Array(n), mean: new Float64Array(n), variance: new Float64Array(n), min: new Float64Array(n),
        max: new Float64Array(n), wmean: new Float64Array(n), wmeanErr: new Float64Array(n),
      };
      for (let k = 0; k < n; k++) {
        const c = a.count[k]!;
        s.count[k] = c;
        s.mean[k] = c > 0 ? a.mean[k]! : NaN;
        s.variance[k] = c > 1 ? a.m2[k]! / (c - 1) : NaN;
        s.min[k] = c > 0 ? a.min[k]! : NaN;
        s.max[k] = c > 0 ? a.max[k]! : NaN;
        const sw = a.sw[k]!;
        s.wmean[k] = sw > 0 ? a.swf[k]! / sw : NaN;
        s.wmeanErr[k] = sw > 0 ? 1 / Math.sqrt(sw) : NaN;
      }
      out.bandStats.set(band, s);
    }
    return out;
  }

  /** Object index of each source added, in processing order. */
  assignments(): Int32Array {
    return this.assigned.slice(0, this.nAssigned);
  }
}

/** Associate a region's diaSources in one go (the `associate` stage). */
export function associate(sources: DiaSourceTable, region: AssocRegion, opts: AssociateOptions = {}): AssociationResult {
  const a = new Associator(region, opts);
  const { rows, object } = a.add(sources);
  const objects = a.objects();
  const m = rows.length;
  const diaObjectId = new Float64Array(m);
  for (let j = 0; j < m; j++) diaObjectId[j] = objects.diaObjectId[object[j]!]!;
  // CSR map object → sources (rows of the processing-order table)
  const n = objects.n;
  const memberStart = new Int32Array(n + 1);
  for (let j = 0; j < m; j++) memberStart[object[j]! + 1]!++;
  for (let k = 0; k < n; k++) memberStart[k + 1]! += memberStart[k]!;
  const fill = memberStart.slice(0, n);
  const memberSource = new Int32Array(m);
  for (let j = 0; j < m; j++) memberSource[fill[object[j]!]!++] = j;
  return {
    region, radiusArcsec: a.radiusArcsec, objects, sources: selectRows(sources, rows), diaObjectId, inputRow: rows, memberStart, memberSource,
  };
}
