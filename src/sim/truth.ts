/**
 * Reading a simulation back: the manifest and the truth tables, in the shapes other stages'
 * tests want (the true WCS of a CCD as a Wcs, its zero point and PSF, the sources on it).
 *
 *   const sim = openSimulation(dir);
 *   const t = sim.ccd(900003, 'C1');      // { zpAdu, trueWcs, headerWcs, psf, gain, skyAdu, ... }
 *   const rows = sim.sourcesOn(900003, 'C1'); // every source on that CCD at that epoch
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FitsReader } from '../fits/reader.js';
import type { FitsTable } from '../fits/table.js';
import { TesseraError } from '../util/errors.js';
import { Wcs } from '../wcs/index.js';
import type { SimulationManifest } from './simulate.js';

export interface CcdTruth {
  expnum: number;
  ccdnum: number;
  ccdname: string;
  band: string;
  mjd: number;
  /** AB zero point of the image: mag = zpAdu − 2.5 log10(counts in ADU). */
  zpAdu: number;
  gain: number;
  rdnoise: number;
  saturate: number;
  skyAdu: number;
  trueWcs: Wcs;
  /** The WCS written in the image header (pointing and rotation errors). */
  headerWcs: Wcs;
  /** PSF on a 3×3 grid: FITS positions, FWHM (px), core Moffat α (px), ellipticity. */
  psf: { x: number[]; y: number[]; fwhmPix: number[]; alpha: number[]; e1: number[]; e2: number[] };
}

export interface SourceRows {
  n: number;
  id: number[];
  /** 1 star, 2 galaxy, 3 transient, 4 asteroid. */
  type: number[];
  ra: number[];
  dec: number[];
  /** FITS pixel coordinates. */
  x: number[];
  y: number[];
  /** ADU and AB magnitude. */
  flux: number[];
  mag: number[];
}

function nums(t: FitsTable, name: string): number[] {
  return Array.from(t.column(name).data as ArrayLike<number | bigint>, Number);
}
function strs(t: FitsTable, name: string): string[] {
  return Array.from(t.column(name).data as ArrayLike<string>, (s) => String(s).trim());
}
function vec(t: FitsTable, name: string, row: number, n: number): number[] {
  return Array.from((t.column(name).data as Float64Array).subarray(row * n, row * n + n));
}

export class Simulation {
  readonly manifest: SimulationManifest;
  private readonly ccds: FitsTable;
  private readonly epochs: FitsTable;
  private readonly key = new Map<string, number>();

  constructor(readonly dir: string) {
    let text: string;
    try {
      text = readFileSync(join(dir, 'manifest.json'), 'utf8');
    } catch {
      throw new TesseraError(`${dir}: no manifest.json (not a tessera simulation directory)`);
    }
    this.manifest = JSON.parse(text) as SimulationManifest;
    if (this.manifest.tessera !== 'simulation') throw new TesseraError(`${join(dir, 'manifest.json')}: not a tessera simulation manifest`);
    const read = (p: string, ext: string) => {
      const r = FitsReader.open(join(dir, p));
      try { return r.readTable(ext); } finally { r.close(); }
    };
    this.ccds = read(this.manifest.truth.ccds, 'CCDS');
    this.epochs = read(this.manifest.truth.epochs, 'EPOCHS');
    const e = nums(this.ccds, 'expnum'), c = nums(this.ccds, 'ccdnum'), names = strs(this.ccds, 'ccdname');
    for (let k = 0; k < e.length; k++) {
      this.key.set(`${e[k]}:${c[k]}`, k);
      this.key.set(`${e[k]}:${names[k]}`, k);
    }
  }

  private row(expnum: number, ccd: number | string): number {
    const k = this.key.get(`${expnum}:${ccd}`);
    if (k === undefined) throw new TesseraError(`${this.dir}: no CCD ${ccd} in exposure ${expnum} of this simulation`);
    return k;
  }

  /** Truth of one CCD of one exposure (by CCDNUM or EXTNAME). */
  ccd(expnum: number, ccd: number | string): CcdTruth {
    const t = this.ccds, k = this.row(expnum, ccd);
    const cd = vec(t, 'cd', k, 4), hcd = vec(t, 'hdr_cd', k, 4);
    const crpix = vec(t, 'crpix', k, 2) as [number, number];
    const pv1 = vec(t, 'pv1', k, 12), pv2 = vec(t, 'pv2', k, 12);
    return {
      expnum, ccdnum: nums(t, 'ccdnum')[k]!, ccdname: strs(t, 'ccdname')[k]!, band: strs(t, 'band')[k]!,
      mjd: nums(t, 'mjd')[k]!, zpAdu: nums(t, 'zp_adu')[k]!, gain: nums(t, 'gain')[k]!, rdnoise: nums(t, 'rdnoise')[k]!,
      saturate: nums(t, 'saturate')[k]!, skyAdu: nums(t, 'sky_adu')[k]!,
      trueWcs: Wcs.tpv({ crval: vec(t, 'crval', k, 2) as [number, number], crpix, cd: cd as [number, number, number, number], pv1, pv2 }),
      headerWcs: Wcs.tpv({ crval: vec(t, 'hdr_crval', k, 2) as [number, number], crpix, cd: hcd as [number, number, number, number], pv1, pv2 }),
      psf: {
        x: vec(t, 'psf_x', k, 9), y: vec(t, 'psf_y', k, 9), fwhmPix: vec(t, 'psf_fwhm', k, 9),
        alpha: vec(t, 'psf_alpha', k, 9), e1: vec(t, 'psf_e1', k, 9), e2: vec(t, 'psf_e2', k, 9),
      },
    };
  }

  /** Every source whose centre is on a CCD at an exposure (optionally of one type). */
  sourcesOn(expnum: number, ccd: number | string, type?: number): SourceRows {
    const ccdnum = nums(this.ccds, 'ccdnum')[this.row(expnum, ccd)]!;
    const t = this.epochs;
    const E = t.column('expnum').data as Int32Array, C = t.column('ccdnum').data as Int32Array, T = t.column('type').data as Int16Array;
    const idx: number[] = [];
    for (let k = 0; k < E.length; k++) if (E[k] === expnum && C[k] === ccdnum && (type === undefined || T[k] === type)) idx.push(k);
    const pick = (name: string) => { const a = t.column(name).data as ArrayLike<number | bigint>; return idx.map((k) => Number(a[k]!)); };
    return { n: idx.length, id: pick('id'), type: pick('type'), ra: pick('ra'), dec: pick('dec'), x: pick('x'), y: pick('y'), flux: pick('flux'), mag: pick('mag') };
  }
}

/** Open a simulation directory written by simulateSurvey / `tessera simulate`. */
export function openSimulation(dir: string): Simulation {
  return new Simulation(dir);
}
