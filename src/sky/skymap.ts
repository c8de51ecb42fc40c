/**
 * The LSST "rings" sky map (lsst.skymap.RingsSkyMap, version 1 numbering) with the legacy
 * tract builder, as configured for DESC DC2 (obs_lsst makeSkyMap): numRings = 120, TAN,
 * tractOverlap = 1/60°, pixelScale = 0.2″, patchInnerDimensions = 4000×4000, patchBorder = 100.
 *
 * Geometry, reconstructed from lsst/skymap (ringsSkyMap.py, tractInfo.py, tractBuilder.py):
 *  - ring size = π/(numRings+1); ring i spans Dec [(i+0.5)·size − π/2, (i+1.5)·size − π/2);
 *    the two polar caps (|Dec| beyond the first/last ring) are tracts 0 and N−1;
 *  - ring i has ⌊2π·cos(dec_near_equator)/size⌋ + 1 tracts centred at Dec (i+1)·size − π/2
 *    and RA 2π·k/n (+ raStart); tract ids count from the south cap, ring by ring;
 *  - each tract's WCS is TAN at its centre with CD = [[−s,0],[0,s]]; its bounding box holds the
 *    points offset from the centre by radius + overlap (radius = size/2) towards E, N, W, S,
 *    expanded to whole pixels and grown to a whole number of 4000-px patches about the centre;
 *  - patch (x, y) has the inner box [4000x, 4000x+4000) × [4000y, …) and an outer box grown by
 *    100 px and clipped to the tract; patches index as nx·y + x.
 * Pixel coordinates here use the LSST convention (pixel centres at integers, first pixel 0,0);
 * the FITS crpix of a WCS is that plus one.
 */
import { TesseraError } from '../util/errors.js';
import { Wcs } from '../wcs/index.js';
import { DEG, RAD, gnomonicProject, gnomonicUnproject, offsetByDeg, wrapRa } from './sphere.js';

export interface RingsSkyMapConfig {
  numRings: number;
  /** degrees */
  tractOverlapDeg: number;
  pixelScaleArcsec: number;
  patchInnerDimensions: [number, number];
  patchBorder: number;
  /** degrees */
  raStart: number;
}

export const DC2_SKYMAP: RingsSkyMapConfig = {
  numRings: 120,
  tractOverlapDeg: 1 / 60,
  pixelScaleArcsec: 0.2,
  patchInnerDimensions: [4000, 4000],
  patchBorder: 100,
  raStart: 0,
};

/** Integer pixel box [minX, maxX] × [minY, maxY] inclusive (LSST Box2I). */
export interface PixelBox {
  minX: number;
  minY: number;
  width: number;
  height: number;
}

/** TAN WCS as plain numbers; crpix in the FITS convention (first pixel centre = 1,1). */
export interface TanWcsParams {
  crval: [number, number];
  crpix: [number, number];
  cd: [[number, number], [number, number]];
  width: number;
  height: number;
}

export class TractInfo {
  constructor(
    readonly id: number,
    readonly ring: number,
    readonly ringTract: number,
    readonly ra: number,
    readonly dec: number,
    /** LSST-convention crpix of the tract WCS (pixel whose centre is at the tract centre) */
    readonly crpix0: [number, number],
    readonly width: number,
    readonly height: number,
    readonly numPatches: [number, number],
    private readonly map: RingsSkyMap,
  ) {}

  get scaleDeg(): number {
    return this.map.config.pixelScaleArcsec / 3600;
  }

  /** TAN WCS of the tract as plain numbers (FITS crpix). */
  wcsParams(): TanWcsParams {
    const s = this.scaleDeg;
    return { crval: [this.ra, this.dec], crpix: [this.crpix0[0] + 1, this.crpix0[1] + 1], cd: [[-s, 0], [0, s]], width: this.width, height: this.height };
  }

  /** The tract WCS as a src/wcs Wcs (FITS pixel convention). */
  wcs(): Wcs {
    const p = this.wcsParams();
    return Wcs.tan({ crval: p.crval, crpix: p.crpix, cd: p.cd, naxis: [p.width, p.height] });
  }

  /** Sky → tract pixel (LSST convention: first pixel centre 0,0); null behind the tangent plane. */
  skyToPixel(raDeg: number, decDeg: number): [number, number] | null {
    const p = gnomonicProject(this.ra, this.dec, raDeg, decDeg);
    if (!p) return null;
    const s = this.scaleDeg;
    return [this.crpix0[0] - p[0] / s, this.crpix0[1] + p[1] / s];
  }

  /** Tract pixel (LSST convention) → sky. */
  pixelToSky(x: number, y: number): [number, number] {
    const s = this.scaleDeg;
    return gnomonicUnproject(this.ra, this.dec, -(x - this.crpix0[0]) * s, (y - this.crpix0[1]) * s);
  }

  /** As TractInfo.contains: the nearest pixel of the position lies in the tract box. */
  contains(raDeg: number, decDeg: number): boolean {
    const p = this.skyToPixel(raDeg, decDeg);
    if (!p) return false;
    const x = Math.floor(p[0] + 0.5), y = Math.floor(p[1] + 0.5);
    return x >= 0 && x < this.width && y >= 0 && y < this.height;
  }

  /** Patch whose inner box holds the position (as TractInfo.findPatch); throws when outside the tract. */
  findPatch(raDeg: number, decDeg: number): PatchInfo {
    const p = this.skyToPixel(raDeg, decDeg);
    if (!p) throw new TesseraError(`(${raDeg}, ${decDeg}) is not in tract ${this.id}`);
    const x = Math.floor(p[0] + 0.5), y = Math.floor(p[1] + 0.5);
    if (!(x >= 0 && x < this.width && y >= 0 && y < this.height)) throw new TesseraError(`(${raDeg}, ${decDeg}) is not in tract ${this.id}`);
    const [iw, ih] = this.map.config.patchInnerDimensions;
    return this.patch(Math.trunc(x / iw), Math.trunc(y / ih));
  }

  /** Patch (x, y), or by sequential index nx·y + x. */
  patch(x: number, y?: number): PatchInfo {
    const [nx, ny] = this.numPatches;
    if (y === undefined) { const seq = x; x = seq % nx; y = Math.floor(seq / nx); }
    if (!(Number.isInteger(x) && Number.isInteger(y) && x >= 0 && x < nx && y >= 0 && y < ny)) {
      throw new TesseraError(`patch ${x},${y} is not in range [0-${nx - 1}, 0-${ny - 1}] of tract ${this.id}`);
    }
    const [iw, ih] = this.map.config.patchInnerDimensions;
    const b = this.map.config.patchBorder;
    const inner: PixelBox = { minX: x * iw, minY: y * ih, width: iw, height: ih };
    const ox0 = Math.max(0, inner.minX - b), oy0 = Math.max(0, inner.minY - b);
    const ox1 = Math.min(this.width, inner.minX + iw + b), oy1 = Math.min(this.height, inner.minY + ih + b);
    const outer: PixelBox = { minX: ox0, minY: oy0, width: ox1 - ox0, height: oy1 - oy0 };
    return new PatchInfo(this, x, y, nx * y + x, inner, outer);
  }

  /** Sky positions of the tract box corners (LSST pixel −0.5 edges). */
  corners(): Array<[number, number]> {
    return [[-0.5, -0.5], [this.width - 0.5, -0.5], [this.width - 0.5, this.height - 0.5], [-0.5, this.height - 0.5]].map(([x, y]) => this.pixelToSky(x!, y!));
  }
}

export class PatchInfo {
  constructor(
    readonly tract: TractInfo,
    readonly x: number,
    readonly y: number,
    readonly sequentialIndex: number,
    readonly inner: PixelBox,
    readonly outer: PixelBox,
  ) {}

  /** The patch's outer-box WCS (the tract WCS shifted so the outer box starts at FITS pixel 1,1). */
  wcsParams(): TanWcsParams {
    const t = this.tract.wcsParams();
    return { ...t, crpix: [t.crpix[0] - this.outer.minX, t.crpix[1] - this.outer.minY], width: this.outer.width, height: this.outer.height };
  }

  wcs(): Wcs {
    const p = this.wcsParams();
    return Wcs.tan({ crval: p.crval, crpix: p.crpix, cd: p.cd, naxis: [p.width, p.height] });
  }

  /** "x,y" as the Butler names a patch. */
  get name(): string {
    return `${this.x},${this.y}`;
  }
}

export class RingsSkyMap {
  readonly config: RingsSkyMapConfig;
  readonly ringSize: number;
  readonly ringNums: number[];
  readonly numTracts: number;
  private readonly ringStart: number[];
  private readonly cache = new Map<number, TractInfo>();

  constructor(config: RingsSkyMapConfig = DC2_SKYMAP) {
    this.config = config;
    this.ringSize = Math.PI / (config.numRings + 1);
    this.ringNums = [];
    for (let i = 0; i < config.numRings; i++) {
      const startDec = this.ringSize * (i + 0.5) - 0.5 * Math.PI;
      const stopDec = startDec + this.ringSize;
      const dec = Math.min(Math.abs(startDec), Math.abs(stopDec));
      this.ringNums.push(Math.trunc((2 * Math.PI * Math.cos(dec)) / this.ringSize) + 1);
    }
    this.ringStart = [];
    let s = 0;
    for (const n of this.ringNums) { this.ringStart.push(s); s += n; }
    this.numTracts = s + 2;
  }

  /** [ring, tract-in-ring] of a tract id (ring −1 and numRings are the caps). */
  ringIndices(id: number): [number, number] {
    if (!Number.isInteger(id) || id < 0 || id >= this.numTracts) throw new TesseraError(`tract ${id} is out of range [0, ${this.numTracts - 1}]`);
    if (id === 0) return [-1, 0];
    if (id === this.numTracts - 1) return [this.config.numRings, 0];
    let ring = 0, t = id - 1;
    while (ring < this.config.numRings && t >= this.ringNums[ring]!) { t -= this.ringNums[ring]!; ring++; }
    return [ring, t];
  }

  tract(id: number): TractInfo {
    let t = this.cache.get(id);
    if (t) return t;
    const [ring, k] = this.ringIndices(id);
    let ra: number, dec: number;
    if (ring === -1) { ra = 0; dec = -90; }
    else if (ring === this.config.numRings) { ra = 0; dec = 90; }
    else {
      dec = (this.ringSize * (ring + 1) - 0.5 * Math.PI) * RAD;
      ra = wrapRa(((2 * Math.PI * k) / this.ringNums[ring]!) * RAD + this.config.raStart);
    }
    // minimum bounding box: the centre offset by radius + overlap towards E, N, W, S
    const s = this.config.pixelScaleArcsec / 3600;
    const dist = 0.5 * this.ringSize * RAD + this.config.tractOverlapDeg;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < 4; i++) {
      // lsst bearing is measured from east towards north; position angle = 90° − bearing
      const [r, d] = offsetByDeg(ra, dec, 90 - i * 90, dist);
      const p = gnomonicProject(ra, dec, r, d)!;
      const px = -p[0] / s, py = p[1] / s;
      x0 = Math.min(x0, px); x1 = Math.max(x1, px); y0 = Math.min(y0, py); y1 = Math.max(y1, py);
    }
    // Box2I(Box2D, EXPAND)
    const minX = Math.floor(x0 + 0.5), minY = Math.floor(y0 + 0.5);
    let w = Math.ceil(x1 - 0.5) + 1 - minX, h = Math.ceil(y1 - 0.5) + 1 - minY;
    const [iw, ih] = this.config.patchInnerDimensions;
    const nx = Math.floor((w + iw - 1) / iw), ny = Math.floor((h + ih - 1) / ih);
    let bx = minX, by = minY;
    const dx = iw * nx - w, dy = ih * ny - h;
    if (dx > 0) { w = iw * nx; bx -= Math.floor(dx / 2); }
    if (dy > 0) { h = ih * ny; by -= Math.floor(dy / 2); }
    t = new TractInfo(id, ring, k, ra, dec, [-bx, -by], w, h, [nx, ny], this);
    this.cache.set(id, t);
    return t;
  }

  /** Ring number of a Dec (−1 south cap … numRings north cap), as _decToRingNum. */
  decToRing(decDeg: number): number {
    const dec = decDeg * DEG;
    const first = this.ringSize * 0.5 - 0.5 * Math.PI;
    if (dec < first) return -1;
    if (dec > -first) return this.config.numRings;
    return Math.trunc((dec - first) / this.ringSize);
  }

  private raToTractNum(raDeg: number, ring: number): number {
    if (ring === -1 || ring === this.config.numRings) return 0;
    const d = wrapRa(raDeg - this.config.raStart) * DEG;
    const k = Math.trunc(d / ((2 * Math.PI) / this.ringNums[ring]!) + 0.5);
    return k === this.ringNums[ring] ? 0 : k;
  }

  /** The tract whose centre is nearest in its ring (as RingsSkyMap.findTract). */
  findTract(raDeg: number, decDeg: number): TractInfo {
    if (!(decDeg >= -90 && decDeg <= 90) || !Number.isFinite(raDeg)) throw new TesseraError(`findTract: bad position (${raDeg}, ${decDeg})`);
    const ring = this.decToRing(decDeg);
    if (ring === -1) return this.tract(0);
    if (ring === this.config.numRings) return this.tract(this.numTracts - 1);
    return this.tract(this.ringStart[ring]! + this.raToTractNum(raDeg, ring) + 1);
  }

  /** Every tract whose box contains the position (as findAllTracts). */
  findAllTracts(raDeg: number, decDeg: number): TractInfo[] {
    const ring = this.decToRing(decDeg);
    const out: TractInfo[] = [];
    for (const r of [ring - 1, ring, ring + 1]) {
      if (r < 0 || r >= this.config.numRings) continue;
      const k = this.raToTractNum(raDeg, r);
      for (let t of [k - 1, k, k + 1]) {
        if (t < 0) t += this.ringNums[r]!;
        else if (t > this.ringNums[r]! - 1) t -= this.ringNums[r]!;
        const tr = this.tract(this.ringStart[r]! + t + 1);
        if (tr.contains(raDeg, decDeg)) out.push(tr);
      }
    }
    for (const id of [0, this.numTracts - 1]) {
      const tr = this.tract(id);
      if (tr.contains(raDeg, decDeg)) out.push(tr);
    }
    return out;
  }
}

let dc2: RingsSkyMap | undefined;
/** The shared DC2 rings sky map. */
export function dc2SkyMap(): RingsSkyMap {
  return (dc2 ??= new RingsSkyMap(DC2_SKYMAP));
}
