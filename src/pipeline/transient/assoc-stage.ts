/**
 * File-level steps of the transient path, used by the `associate` and `forced` stages:
 *  - read a diffim diaSource table (tessera diff --sources: X_IMAGE, Y_IMAGE, ALPHA_J2000,
 *    DELTA_J2000, FLUX_PSF, FLUXERR_PSF, SNR, RB_SCORE, FLAGS, DIST_TEMPLATE) with the CCD's
 *    exposure metadata, converting fluxes to nanomaggies with the zero point;
 *  - associate one region and write its diaObject and diaSource FITS tables;
 *  - forced photometry of the diaObjects on one difference image, written as a FITS table;
 *  - merge every unit's FITS tables into the campaign's Parquet tables.
 */
import { join } from 'node:path';
import { FitsReader } from '../../fits/reader.js';
import type { MaskedImage } from '../../image/masked-image.js';
import { psfFromHdu } from '../../psf/io.js';
import { PsfModel } from '../../psf/model.js';
import { TesseraError } from '../../util/errors.js';
import { Wcs } from '../../wcs/wcs.js';
import { associate, type AssociateOptions, type AssociationResult } from '../../assoc/associate.js';
import { forcedSourcesOnImage, nanomaggiesPerCount, type ForcedImageMeta, type ForcedOptions, type ForcedSourceTable, type PsfLike } from '../../assoc/forced.js';
import type { AssocRegion } from '../../assoc/region.js';
import { allocDiaSources, concatDiaSources, makeDiaSourceId, type DiaSourceTable } from '../../assoc/types.js';
import { productLayout, type ProductLayout } from '../../products/layout.js';
import { diaObjectTable, diaSourceTable, forcedSourceTable, column, readTableFits, writeTableFits } from '../../products/tables.js';
import { mergeFitsToParquet, writeParquet } from '../../products/parquet.js';
import { qaTables } from '../../products/qa.js';
import { listFilesRecursive } from '../../util/fs.js';

export interface CcdMeta {
  expnum: number;
  ccd: number;
  band: string;
  mjd: number;
  /** AB zero point of the science CCD (MAGZERO); read from the table header when absent. */
  zeroPoint?: number;
  /** Pixel scale for DIST_TEMPLATE (pixels → arcsec); default from the WCS columns, else 0.263. */
  pixelScaleArcsec?: number;
}

function col(t: { column(name: string): { data: unknown } }, name: string, where: string): Float64Array {
  let c;
  try { c = t.column(name); } catch { throw new TesseraError(`${where}: diaSource table lacks column ${name}`); }
  return Float64Array.from(c.data as ArrayLike<number>);
}

/** Read a diffim diaSource FITS table (EXTNAME DIASRC, else the first table) into a DiaSourceTable. */
export function readDiaSrcFits(path: string, meta: CcdMeta): DiaSourceTable {
  const r = FitsReader.open(path);
  try {
    const hdu = r.hdus.find((h) => h.extname?.trim().toUpperCase() === 'DIASRC') ?? r.hdus.find((h) => h.type === 'bintable');
    if (!hdu) throw new TesseraError(`${path}: no diaSource table (expected a DIASRC binary table)`);
    const where = `${path}[${hdu.index}${hdu.extname ? ` '${hdu.extname}'` : ''}]`;
    const t = r.readTable(hdu.index);
    const zpH = t.header.get('MAGZERO');
    const zp = meta.zeroPoint ?? (typeof zpH === 'number' ? zpH : undefined);
    if (zp === undefined || !Number.isFinite(zp)) throw new TesseraError(`${where}: no zero point (MAGZERO keyword or the CCD's calibrated zero point) to convert FLUX_PSF to nanomaggies`);
    const n = t.nrows;
    const x = col(t, 'X_IMAGE', where), y = col(t, 'Y_IMAGE', where), ra = col(t, 'ALPHA_J2000', where), dec = col(t, 'DELTA_J2000', where);
    const f = col(t, 'FLUX_PSF', where), fe = col(t, 'FLUXERR_PSF', where), snr = col(t, 'SNR', where);
    const has = (name: string) => t.columns.some((c) => c.name.toUpperCase() === name);
    const rb = has('RB_SCORE') ? col(t, 'RB_SCORE', where) : new Float64Array(n).fill(NaN);
    const flags = has('FLAGS') ? col(t, 'FLAGS', where) : new Float64Array(n);
    const dt = has('DIST_TEMPLATE') ? col(t, 'DIST_TEMPLATE', where) : new Float64Array(n).fill(-1);
    const number = has('NUMBER') ? col(t, 'NUMBER', where) : Float64Array.from({ length: n }, (_, i) => i + 1);
    const scale = meta.pixelScaleArcsec ?? 0.263;
    const s = nanomaggiesPerCount(zp);
    const out = allocDiaSources(n);
    for (let i = 0; i < n; i++) {
      if (!(Number.isFinite(ra[i]!) && Number.isFinite(dec[i]!))) throw new TesseraError(`${where}: row ${i + 1} has no sky position`);
      out.diaSourceId[i] = makeDiaSourceId(meta.expnum, meta.ccd, number[i]! - 1);
      out.ra[i] = ra[i]!; out.dec[i] = dec[i]!; out.x[i] = x[i]!; out.y[i] = y[i]!;
      out.mjd[i] = meta.mjd; out.expnum[i] = meta.expnum; out.ccd[i] = meta.ccd; out.band[i] = meta.band;
      out.psfFlux[i] = f[i]! * s; out.psfFluxErr[i] = fe[i]! * s; out.snr[i] = snr[i]!; out.rbScore[i] = rb[i]!;
      out.flags[i] = flags[i]!; out.distTemplateArcsec[i] = dt[i]! >= 0 ? dt[i]! * scale : NaN;
    }
    return out;
  } finally {
    r.close();
  }
}

/** Associate a region's diaSources (from several CCD tables) and write its diaObject/diaSource FITS tables. */
export function associateRegionToFiles(layout: ProductLayout, region: AssocRegion, tables: DiaSourceTable[], opts: AssociateOptions = {}): AssociationResult {
  const res = associate(concatDiaSources(tables), region, opts);
  const cards = { REGION: region.name, ASRADIUS: res.radiusArcsec };
  writeTableFits(layout.diaSourceFits(region), diaSourceTable(res), cards);
  writeTableFits(layout.diaObjectFits(region), diaObjectTable(res.objects, region.name), cards);
  return res;
}

export interface DiffExposure {
  image: MaskedImage;
  wcs: Wcs;
  psf: PsfLike;
  /** Where the PSF came from: the image file itself, or the fallback file. */
  psfSource: 'image' | 'fallback';
  /** MAGZERO of the IMAGE header, when present. */
  zeroPoint?: number;
  /**
   * GAIN (e⁻/count) of the IMAGE header, when present and the variance plane lacks the sources'
   * Poisson noise (no VARSRC = T): forced errors then add it from the gain.
   */
  gain?: number;
  /** APCORR (aperture / PSF flux) of the IMAGE header, when present (calexps; a diff's MAGZERO already includes it). */
  apcorr?: number;
}

/**
 * Read a difference (or calibrated) image: IMAGE, VARIANCE and MASK HDUs, the WCS of the IMAGE
 * header, and the PSF from a `PSF` HDU of the same file or of `psfFile` (the calexp).
 */
export function readDiffExposure(path: string, psfFile?: string): DiffExposure {
  const r = FitsReader.open(path);
  try {
    const find = (name: string) => r.hdus.find((h) => h.extname?.trim().toUpperCase() === name);
    const ih = find('IMAGE') ?? r.hdus.find((h) => h.type === 'image' || h.type === 'compressed-image');
    if (!ih) throw new TesseraError(`${path}: no IMAGE HDU`);
    const img = r.readImage(ih.index);
    const [w, h] = img.shape as [number, number];
    const vh = find('VARIANCE');
    if (!vh) throw new TesseraError(`${path}: no VARIANCE HDU (forced photometry needs the variance plane)`);
    const v = r.readImage(vh.index);
    const mh = find('MASK');
    const mask = mh ? Uint32Array.from(r.readImage(mh.index).data as ArrayLike<number>) : undefined;
    const wcs = Wcs.fromHeader(img.header, `${path}[IMAGE]`);
    const zp = img.header.get('MAGZERO');
    const gain = img.header.get('GAIN');
    const apcorr = img.header.get('APCORR');
    let psf: PsfLike | undefined;
    const readPsf = (rd: FitsReader, where: string): PsfLike | undefined => {
      // a PSFEx-like PSF HDU, or a plain 2-D stamp of the difference image's PSF (PSF_D)
      const ph = rd.hdus.find((x) => x.extname?.trim().toUpperCase() === 'PSF') ?? rd.hdus.find((x) => x.extname?.trim().toUpperCase() === 'PSF_D');
      if (!ph) return undefined;
      const pi = rd.readImage(ph.index);
      const name = ph.extname!.trim();
      if (pi.header.get('POLNAXIS') === undefined && pi.shape.length === 2) return stampPsf(pi.data as ArrayLike<number>, pi.shape, `${where}[${name}]`);
      return psfFromHdu(pi.header, pi.data as ArrayLike<number>, pi.shape, `${where}[${name}]`);
    };
    psf = readPsf(r, path);
    const psfSource = psf ? 'image' as const : 'fallback' as const;
    if (!psf && psfFile) {
      const pr = FitsReader.open(psfFile);
      try { psf = readPsf(pr, psfFile); } finally { pr.close(); }
    }
    if (!psf) throw new TesseraError(`${path}: no PSF HDU${psfFile ? ` (nor in ${psfFile})` : ''}; forced photometry needs the PSF`);
    return {
      image: { width: w, height: h, image: Float32Array.from(img.data as ArrayLike<number>), variance: Float32Array.from(v.data as ArrayLike<number>), mask },
      // GAIN adds the source's Poisson noise to the errors only when the variance plane lacks it
      // (VARSRC = T: calexps of tessera calibrate and the difference images made from them have it)
      wcs, psf, psfSource, zeroPoint: typeof zp === 'number' ? zp : undefined, gain: typeof gain === 'number' && gain > 0 && img.header.get('VARSRC') !== true ? gain : undefined,
      apcorr: typeof apcorr === 'number' && apcorr > 0 ? apcorr : undefined,
    };
  } finally {
    r.close();
  }
}

/** A constant PSF from a centred, odd-sized 2-D stamp (normalised to unit sum). */
export function stampPsf(data: ArrayLike<number>, shape: readonly number[], where = 'PSF stamp'): PsfModel {
  const [w, h] = shape as [number, number];
  if (w !== h || w % 2 !== 1) throw new TesseraError(`${where}: a PSF stamp must be square with an odd size, got ${w}×${h}`);
  const coeffs = Float64Array.from(data);
  let s = 0;
  for (const v of coeffs) s += Number.isFinite(v) ? v : 0;
  if (!(s > 0)) throw new TesseraError(`${where}: PSF stamp does not sum to a positive value`);
  for (let i = 0; i < coeffs.length; i++) coeffs[i] = Number.isFinite(coeffs[i]!) ? coeffs[i]! / s : 0;
  return new PsfModel({ size: w, sampling: 1, degree: 0, polZero: [0, 0], polScale: [1, 1], coeffs });
}

/** Objects (id, position) of the campaign's diaObject FITS tables. */
export function readObjectPositions(paths: string[]): { n: number; diaObjectId: Float64Array; ra: Float64Array; dec: Float64Array } {
  const ids: number[] = [], ras: number[] = [], decs: number[] = [];
  for (const p of [...paths].sort()) {
    const t = readTableFits(p);
    const id = column(t, 'diaObjectId') as Float64Array, ra = column(t, 'ra') as Float64Array, dec = column(t, 'dec') as Float64Array;
    for (let i = 0; i < t.nrows; i++) { ids.push(id[i]!); ras.push(ra[i]!); decs.push(dec[i]!); }
  }
  return { n: ids.length, diaObjectId: Float64Array.from(ids), ra: Float64Array.from(ras), dec: Float64Array.from(decs) };
}

/** Forced photometry of the objects on one image, written to the CCD's forced table. */
export function forcedToFile(layout: ProductLayout, exp: DiffExposure, objects: { n: number; diaObjectId: ArrayLike<number>; ra: ArrayLike<number>; dec: ArrayLike<number> },
  meta: Omit<ForcedImageMeta, 'zeroPoint'> & { zeroPoint?: number }, opts: ForcedOptions = {}, path?: string): ForcedSourceTable {
  const zp = meta.zeroPoint ?? exp.zeroPoint;
  if (zp === undefined) throw new TesseraError(`forced photometry of exposure ${meta.expnum} CCD ${meta.ccd}: no zero point (MAGZERO)`);
  const t = forcedSourcesOnImage(exp.image, exp.psf, exp.wcs, objects, { ...meta, zeroPoint: zp }, { ...(exp.gain ? { gain: exp.gain } : {}), ...opts });
  writeTableFits(path ?? layout.forcedFits(meta), forcedSourceTable(t), { EXPNUM: meta.expnum, CCDNUM: meta.ccd, FILTER: meta.band, MJD_OBS: meta.mjd, MAGZERO: zp });
  return t;
}

/** Merge every region's and CCD's FITS tables of a repository into tables/*.parquet. Returns row counts. */
export function mergeCampaign(root: string): { diaObject: number; diaSource: number; forcedSource: number } {
  const L = productLayout(root);
  const objs = listFilesRecursive(join(root, 'assoc'), /^diaObject-.*\.fits$/);
  const srcs = listFilesRecursive(join(root, 'assoc'), /^diaSource-.*\.fits$/);
  const forced = listFilesRecursive(join(root, 'forced'), /^forced-.*\.fits$/);
  if (objs.length === 0) throw new TesseraError(`${root}: no diaObject tables under assoc/ (run the associate stage first)`);
  const qa = qaTables(root);
  if (qa) { writeParquet(L.table('ccd'), qa.ccd); writeParquet(L.table('exposure'), qa.exposure); }
  return {
    diaObject: mergeFitsToParquet('diaObject', objs, L.table('diaObject')),
    diaSource: mergeFitsToParquet('diaSource', srcs, L.table('diaSource')),
    forcedSource: forced.length ? mergeFitsToParquet('forcedSource', forced, L.table('forcedSource')) : 0,
  };
}
