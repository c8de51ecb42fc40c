/**
 * Legacy Surveys bricks: the all-sky tiling of 662,174 bricks of ~0.25°×0.25° used by
 * legacypipe (survey-bricks.fits). Definition (desiutil.brick / legacypipe):
 *  - 721 Dec rows centred at −90, −89.75, …, +90 (row height 0.25°, edges at centre ± 0.125°);
 *  - a row has ncol = 2·⌈(360/0.25)·cos(|dec_c| − 0.125°)/2⌉ bricks (even, no wider than 0.25°
 *    at the row edge nearest the equator); each pole row is a single brick centred at RA 180;
 *  - RA edges of a row at i·360/ncol; the brick centre is the mean of its edges;
 *  - BRICKID = 1 + bricks in all rows below + column; BRICKQ = col%2 + 2·(row%2) (1 at the south pole);
 *  - BRICKNAME = RRRR[p|m]DDD from the centre: ⌊10·RA⌋ and ⌊10·|Dec|⌋ after rounding to 1e-4°.
 * DEC1/DEC2 of the pole rows are clamped to ±90.
 */
import { TesseraError } from '../util/errors.js';
import { wrapRa, DEG, SphericalPolygon, type RaDecBox } from './sphere.js';
import { Wcs } from '../wcs/index.js';

export const BRICK_SIZE = 0.25;
export const NROWS = 721;
export const NBRICKS = 662174;

export interface Brick {
  brickname: string;
  brickid: number;
  brickq: number;
  brickrow: number;
  brickcol: number;
  ra: number;
  dec: number;
  ra1: number;
  ra2: number;
  dec1: number;
  dec2: number;
}

const ncolPerRow = new Int32Array(NROWS);
/** brickid of the first brick of each row, minus 1 (cumulative count of bricks below). */
const rowStart = new Int32Array(NROWS + 1);
{
  for (let i = 0; i < NROWS; i++) {
    const dc = -90 + i * BRICK_SIZE;
    const declo = Math.abs(dc) - BRICK_SIZE / 2;
    const n = (360 / BRICK_SIZE) * Math.cos((declo * Math.PI) / 180);
    ncolPerRow[i] = Math.ceil(n / 2) * 2;
  }
  ncolPerRow[0] = 1;
  ncolPerRow[NROWS - 1] = 1;
  for (let i = 0; i < NROWS; i++) rowStart[i + 1] = rowStart[i]! + ncolPerRow[i]!;
}

/** Number of bricks in Dec row `row` (0 = south pole). */
export function bricksInRow(row: number): number {
  return ncolPerRow[row]!;
}

/** Round half to even (Python's format rounding for the brick-name hack). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function brickName(ra: number, dec: number): string {
  const rs = String(roundHalfEven(ra * 10000)).padStart(7, '0').slice(0, 4);
  const ds = String(roundHalfEven(Math.abs(dec) * 10000)).padStart(6, '0').slice(0, 3);
  return `${rs}${dec >= 0 ? 'p' : 'm'}${ds}`;
}

/** The brick at (row, col). */
export function brickAt(row: number, col: number): Brick {
  if (!(row >= 0 && row < NROWS) || !Number.isInteger(row)) throw new TesseraError(`brick row ${row} outside 0..${NROWS - 1}`);
  const ncol = ncolPerRow[row]!;
  if (!(col >= 0 && col < ncol) || !Number.isInteger(col)) throw new TesseraError(`brick column ${col} outside 0..${ncol - 1} in row ${row}`);
  const dec = -90 + row * BRICK_SIZE;
  let ra1: number, ra2: number, ra: number;
  if (ncol === 1) { ra1 = 0; ra2 = 360; ra = 180; }
  else {
    const step = 360 / ncol;
    ra1 = col * step;
    ra2 = col + 1 === ncol ? 360 : (col + 1) * step;
    ra = 0.5 * (ra1 + ra2);
  }
  return {
    brickname: brickName(ra, dec),
    brickid: rowStart[row]! + col + 1,
    brickq: row === 0 ? 1 : (col % 2) + 2 * (row % 2),
    brickrow: row,
    brickcol: col,
    ra,
    dec,
    ra1,
    ra2,
    dec1: Math.max(-90, dec - BRICK_SIZE / 2),
    dec2: Math.min(90, dec + BRICK_SIZE / 2),
  };
}

/** Row and column of the brick containing (ra, dec) in degrees. O(1). */
export function brickRowCol(raDeg: number, decDeg: number): [number, number] {
  if (!(decDeg >= -90 && decDeg <= 90)) throw new TesseraError(`Dec ${decDeg} outside [-90, 90]`);
  if (!Number.isFinite(raDeg)) throw new TesseraError(`RA ${raDeg} is not a finite number`);
  const row = Math.trunc((decDeg + 90 + BRICK_SIZE / 2) / BRICK_SIZE);
  const ncol = ncolPerRow[row]!;
  const col = Math.min(ncol - 1, Math.trunc((wrapRa(raDeg) / 360) * ncol));
  return [row, col];
}

/** The brick containing (ra, dec) in degrees. */
export function brickForPosition(raDeg: number, decDeg: number): Brick {
  const [r, c] = brickRowCol(raDeg, decDeg);
  return brickAt(r, c);
}

/** The brick with a given BRICKID (1..662174). */
export function brickById(id: number): Brick {
  if (!Number.isInteger(id) || id < 1 || id > NBRICKS) throw new TesseraError(`BRICKID ${id} outside 1..${NBRICKS}`);
  let lo = 0, hi = NROWS - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (rowStart[mid]! < id) lo = mid; else hi = mid - 1;
  }
  return brickAt(lo, id - 1 - rowStart[lo]!);
}

/** The brick with a given name (e.g. "1351p192"); throws a TesseraError when no brick has it. */
export function brickByName(name: string): Brick {
  const m = /^(\d{4})([pm])(\d{3})$/.exec(name);
  if (!m) throw new TesseraError(`'${name}' is not a brick name (expected RRRR[p|m]DDD, e.g. 1351p192)`);
  const dec = (m[2] === 'm' ? -1 : 1) * (Number(m[3]) / 10 + 0.05);
  const ra = Number(m[1]) / 10 + 0.05;
  // the brick centre lies within 0.125° in Dec and one brick width in RA of the name's value
  const [row0] = brickRowCol(ra, Math.max(-90, Math.min(90, dec)));
  for (const row of [row0, row0 - 1, row0 + 1]) {
    if (row < 0 || row >= NROWS) continue;
    const [, c0] = brickRowCol(ra, -90 + row * BRICK_SIZE);
    for (const col of [c0, c0 - 1, c0 + 1]) {
      if (col < 0 || col >= ncolPerRow[row]!) continue;
      const b = brickAt(row, col);
      if (b.brickname === name) return b;
    }
  }
  throw new TesseraError(`no brick is named '${name}'`);
}

/** Columnar form of the whole brick table (as survey-bricks.fits). */
export interface BrickTable {
  brickname: string[];
  brickid: Int32Array;
  brickq: Int16Array;
  brickrow: Int32Array;
  brickcol: Int32Array;
  ra: Float64Array;
  dec: Float64Array;
  ra1: Float64Array;
  ra2: Float64Array;
  dec1: Float64Array;
  dec2: Float64Array;
}

/** Generate all 662,174 bricks, ordered by BRICKID. */
export function brickTable(): BrickTable {
  const n = NBRICKS;
  const t: BrickTable = {
    brickname: new Array<string>(n), brickid: new Int32Array(n), brickq: new Int16Array(n), brickrow: new Int32Array(n),
    brickcol: new Int32Array(n), ra: new Float64Array(n), dec: new Float64Array(n), ra1: new Float64Array(n),
    ra2: new Float64Array(n), dec1: new Float64Array(n), dec2: new Float64Array(n),
  };
  let k = 0;
  for (let row = 0; row < NROWS; row++) {
    for (let col = 0; col < ncolPerRow[row]!; col++, k++) {
      const b = brickAt(row, col);
      t.brickname[k] = b.brickname; t.brickid[k] = b.brickid; t.brickq[k] = b.brickq; t.brickrow[k] = row; t.brickcol[k] = col;
      t.ra[k] = b.ra; t.dec[k] = b.dec; t.ra1[k] = b.ra1; t.ra2[k] = b.ra2; t.dec1[k] = b.dec1; t.dec2[k] = b.dec2;
    }
  }
  return t;
}

/**
 * Bricks whose RA/Dec box intersects the region RA1..RA2 × DEC1..DEC2 (degrees). When
 * ra1 > ra2 the RA range wraps through 0 (e.g. 359.5..0.5). Ordered by BRICKID.
 */
export function bricksInRegion(ra1: number, ra2: number, dec1: number, dec2: number): Brick[] {
  if (!(dec1 <= dec2)) throw new TesseraError(`bricks: DEC1 ${dec1} must be ≤ DEC2 ${dec2}`);
  const d1 = Math.max(-90, dec1), d2 = Math.min(90, dec2);
  const fullCircle = ra2 - ra1 >= 360;
  const a1 = wrapRa(ra1), a2raw = wrapRa(ra2);
  const a2 = a2raw === 0 && ra2 !== ra1 && !(ra1 > ra2) ? 360 : a2raw;
  const intervals: Array<[number, number]> = fullCircle ? [[0, 360]] : a1 <= a2 ? [[a1, a2]] : [[a1, 360], [0, a2]];
  const out: Brick[] = [];
  const [row1] = brickRowCol(0, d1);
  const [row2] = brickRowCol(0, d2);
  for (let row = row1; row <= row2; row++) {
    const ncol = ncolPerRow[row]!;
    const cols = new Set<number>();
    for (const [lo, hi] of intervals) {
      const c1 = Math.max(0, Math.floor((lo / 360) * ncol));
      // a box touching hi exactly at an edge does not include the next brick
      let c2 = Math.min(ncol - 1, Math.floor((hi / 360) * ncol));
      if (c2 > c1 && (c2 * 360) / ncol >= hi) c2--;
      for (let c = c1; c <= c2; c++) cols.add(c);
    }
    for (const c of [...cols].sort((x, y) => x - y)) out.push(brickAt(row, c));
  }
  return out;
}

/** Bricks touching a spherical polygon (e.g. a CCD footprint), ordered by BRICKID. */
export function bricksTouchingPolygon(poly: SphericalPolygon): Brick[] {
  const box: RaDecBox = poly.boundingBox();
  const cands = bricksInRegion(box.ra1, box.ra2, box.dec1, box.dec2);
  // pole-cap bricks are discs around the pole: the bounding-box test is exact for them
  return cands.filter((b) => b.brickrow === 0 || b.brickrow === NROWS - 1 || poly.overlaps(brickPolygon(b)));
}

/**
 * A brick's boundary as a spherical polygon (not for the two pole-cap bricks). RA edges are meridians (great circles); Dec edges
 * are small circles, approximated by extra vertices every ≤ 0.05° so the polygon follows them.
 */
export function brickPolygon(b: Brick): SphericalPolygon {
  const ras: number[] = [], decs: number[] = [];
  const span = b.ra2 - b.ra1;
  const nseg = Math.max(1, Math.ceil(span / 0.05));
  const d1 = Math.max(-89.9999, b.dec1), d2 = Math.min(89.9999, b.dec2);
  for (let i = 0; i <= nseg; i++) { ras.push(b.ra1 + (span * i) / nseg); decs.push(d1); }
  for (let i = nseg; i >= 0; i--) { ras.push(b.ra1 + (span * i) / nseg); decs.push(d2); }
  return new SphericalPolygon(ras, decs);
}

/** legacypipe's processing grid for a brick: 3600×3600 px of 0.262″ on a TAN projection. */
export interface BrickWcs {
  crval: [number, number];
  /** FITS convention (first pixel centre = 1,1) */
  crpix: [number, number];
  cd: [[number, number], [number, number]];
  width: number;
  height: number;
}

/** As legacypipe's wcs_for_brick: Tan(ra, dec, W/2+0.5, H/2+0.5, −s, 0, 0, s, W, H). */
export function wcsForBrick(b: Pick<Brick, 'ra' | 'dec'>, width = 3600, height = 3600, pixscaleArcsec = 0.262): BrickWcs {
  const s = pixscaleArcsec / 3600;
  return { crval: [b.ra, b.dec], crpix: [width / 2 + 0.5, height / 2 + 0.5], cd: [[-s, 0], [0, s]], width, height };
}

/** The brick's processing grid as a src/wcs Wcs (FITS pixel convention). */
export function brickWcs(b: Pick<Brick, 'ra' | 'dec'>, width = 3600, height = 3600, pixscaleArcsec = 0.262): Wcs {
  const w = wcsForBrick(b, width, height, pixscaleArcsec);
  return Wcs.tan({ crval: w.crval, crpix: w.crpix, cd: w.cd, naxis: [w.width, w.height] });
}

/** True when (ra, dec) is inside the brick's own RA/Dec box (the brick_primary rule: lower edges inclusive). */
export function inBrickBox(b: Brick, raDeg: number, decDeg: number): boolean {
  const r = wrapRa(raDeg);
  return r >= b.ra1 && r < b.ra2 && decDeg >= b.dec1 && (decDeg < b.dec2 || (b.dec2 === 90 && decDeg === 90));
}

/** Approximate area of a brick in square degrees (exact for the RA/Dec box). */
export function brickAreaDeg2(b: Brick): number {
  return (b.ra2 - b.ra1) * (Math.sin(b.dec2 * DEG) - Math.sin(b.dec1 * DEG)) / DEG;
}
