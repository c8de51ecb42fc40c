/**
 * The product tables of the transient path — diaSource, diaObject, forcedSource — as one generic
 * columnar form (ProductTable) that is written as a FITS binary table per unit (patch, CCD) and
 * merged into one Parquet file per table for the campaign. Column names, types and units are
 * defined here once (and listed in the README).
 */
import type { AssociationResult, DiaObjectTable } from '../assoc/associate.js';
import type { ForcedSourceTable } from '../assoc/forced.js';
import { FitsReader } from '../fits/reader.js';
import { Header } from '../fits/header.js';
import { writeFits, type ColumnInput } from '../fits/writer.js';
import { TesseraError } from '../util/errors.js';
import { TESSERA_VERSION } from '../util/version.js';

/** f8 = double, i4 = 32-bit integer, i8 = 64-bit integer (held as integral doubles < 2^53), str = text. */
export type ColType = 'f8' | 'i4' | 'i8' | 'str';
export type ColData = Float64Array | Int32Array | string[];

export interface ColumnDef {
  name: string;
  type: ColType;
  unit?: string;
  doc: string;
}

export interface ProductTable {
  /** 'diaSource', 'diaObject', 'forcedSource' (also the FITS EXTNAME, upper-cased). */
  name: string;
  nrows: number;
  columns: { def: ColumnDef; data: ColData }[];
}

export function column(t: ProductTable, name: string): ColData {
  const c = t.columns.find((c) => c.def.name === name);
  if (!c) throw new TesseraError(`table ${t.name} has no column '${name}' (columns: ${t.columns.map((c) => c.def.name).join(', ')})`);
  return c.data;
}

const c = (name: string, type: ColType, doc: string, unit?: string): ColumnDef => ({ name, type, doc, ...(unit ? { unit } : {}) });

export const DIA_SOURCE_COLUMNS: ColumnDef[] = [
  c('diaSourceId', 'i8', 'unique id: (expnum·100 + ccd)·10⁶ + row'),
  c('diaObjectId', 'i8', 'diaObject the source was associated with'),
  c('region', 'str', 'association region (TRACT:X,Y patch or brick name)'),
  c('ra', 'f8', 'right ascension (ICRS)', 'deg'),
  c('dec', 'f8', 'declination (ICRS)', 'deg'),
  c('mjd', 'f8', 'MJD of the exposure', 'd'),
  c('expnum', 'i4', 'exposure number'),
  c('ccd', 'i4', 'CCD number'),
  c('band', 'str', 'filter band'),
  c('x', 'f8', 'CCD pixel x (FITS convention)', 'pixel'),
  c('y', 'f8', 'CCD pixel y (FITS convention)', 'pixel'),
  c('psfFlux', 'f8', 'PSF flux on the difference image', 'nanomaggy'),
  c('psfFluxErr', 'f8', '1σ error of psfFlux', 'nanomaggy'),
  c('snr', 'f8', 'signed detection S/N'),
  c('rbScore', 'f8', 'real/bogus score 0..1 (NaN: none)'),
  c('flags', 'i4', 'diffim detection flags'),
  c('distTemplate', 'f8', 'distance to the nearest template source (NaN: none)', 'arcsec'),
];

export const DIA_OBJECT_COLUMNS: ColumnDef[] = [
  c('diaObjectId', 'i8', 'unique id: region id·10⁹ + sequence'),
  c('region', 'str', 'association region'),
  c('ra', 'f8', 'mean right ascension (weighted by positional errors when known)', 'deg'),
  c('dec', 'f8', 'mean declination', 'deg'),
  c('posErr', 'f8', 'error of the mean position (NaN without positional errors)', 'arcsec'),
  c('nDiaSources', 'i4', 'number of associated diaSources'),
  c('firstMjd', 'f8', 'MJD of the first detection', 'd'),
  c('lastMjd', 'f8', 'MJD of the last detection', 'd'),
  c('maxSnr', 'f8', 'signed S/N of the detection with the largest |S/N|'),
  c('snrComb', 'f8', '√Σ S/N² over detections'),
  c('meanRbScore', 'f8', 'mean real/bogus score of the detections'),
  c('maxRbScore', 'f8', 'largest real/bogus score'),
  c('distTemplate', 'f8', 'smallest distance to a template source over detections', 'arcsec'),
];

/** Per-band diaObject columns, named `<band>_<suffix>`. */
export const DIA_OBJECT_BAND_COLUMNS: ColumnDef[] = [
  c('nDiaSources', 'i4', 'detections in the band'),
  c('psfFluxMean', 'f8', 'mean PSF flux (Welford)', 'nanomaggy'),
  c('psfFluxSigma', 'f8', 'sample standard deviation of the PSF flux', 'nanomaggy'),
  c('psfFluxMin', 'f8', 'smallest PSF flux', 'nanomaggy'),
  c('psfFluxMax', 'f8', 'largest PSF flux', 'nanomaggy'),
  c('psfFluxWMean', 'f8', 'inverse-variance weighted mean PSF flux', 'nanomaggy'),
  c('psfFluxWMeanErr', 'f8', 'error of the weighted mean', 'nanomaggy'),
];

export const FORCED_SOURCE_COLUMNS: ColumnDef[] = [
  c('diaObjectId', 'i8', 'diaObject measured'),
  c('ra', 'f8', 'position measured at', 'deg'),
  c('dec', 'f8', 'position measured at', 'deg'),
  c('expnum', 'i4', 'exposure number'),
  c('ccd', 'i4', 'CCD number'),
  c('band', 'str', 'filter band'),
  c('mjd', 'f8', 'MJD of the exposure', 'd'),
  c('imageType', 'str', "'diff' (difference image) or 'calexp' (direct image)"),
  c('x', 'f8', 'CCD pixel x (FITS convention)', 'pixel'),
  c('y', 'f8', 'CCD pixel y (FITS convention)', 'pixel'),
  c('psfFlux', 'f8', 'forced PSF flux', 'nanomaggy'),
  c('psfFluxErr', 'f8', '1σ error of psfFlux', 'nanomaggy'),
  c('psfFluxCounts', 'f8', 'forced PSF flux in image counts', 'count'),
  c('psfFluxErrCounts', 'f8', 'error in counts', 'count'),
  c('zeroPoint', 'f8', 'AB magnitude of one count (flux_nmgy = counts·10^((22.5−ZP)/2.5))', 'mag'),
  c('background', 'f8', 'fitted local background per pixel', 'count'),
  c('chi2', 'f8', 'reduced χ² of the PSF fit'),
  c('flags', 'i4', 'forced flags: 1 off-image, 2 edge, 4 masked, 8 saturated, 16 no data'),
];

/** The associated diaSources of one region as a table. */
export function diaSourceTable(r: AssociationResult): ProductTable {
  const s = r.sources, n = s.n;
  const data: Record<string, ColData> = {
    diaSourceId: s.diaSourceId, diaObjectId: r.diaObjectId, region: new Array<string>(n).fill(r.region.name),
    ra: s.ra, dec: s.dec, mjd: s.mjd, expnum: s.expnum, ccd: s.ccd, band: s.band, x: s.x, y: s.y,
    psfFlux: s.psfFlux, psfFluxErr: s.psfFluxErr, snr: s.snr, rbScore: s.rbScore, flags: s.flags, distTemplate: s.distTemplateArcsec,
  };
  return { name: 'diaSource', nrows: n, columns: DIA_SOURCE_COLUMNS.map((def) => ({ def, data: data[def.name]! })) };
}

/** A diaObject table (with its per-band statistics) as a table. */
export function diaObjectTable(o: DiaObjectTable, regionName: string): ProductTable {
  const n = o.n;
  const data: Record<string, ColData> = {
    diaObjectId: o.diaObjectId, region: new Array<string>(n).fill(regionName), ra: o.ra, dec: o.dec, posErr: o.posErrArcsec,
    nDiaSources: o.nDiaSources, firstMjd: o.firstMjd, lastMjd: o.lastMjd, maxSnr: o.maxSnr, snrComb: o.snrComb,
    meanRbScore: o.meanRbScore, maxRbScore: o.maxRbScore, distTemplate: o.distTemplateArcsec,
  };
  const columns = DIA_OBJECT_COLUMNS.map((def) => ({ def, data: data[def.name]! }));
  for (const band of o.bands) {
    const s = o.bandStats.get(band)!;
    const sigma = s.variance.map(Math.sqrt);
    const b: Record<string, ColData> = {
      nDiaSources: s.count, psfFluxMean: s.mean, psfFluxSigma: sigma, psfFluxMin: s.min, psfFluxMax: s.max, psfFluxWMean: s.wmean, psfFluxWMeanErr: s.wmeanErr,
    };
    for (const def of DIA_OBJECT_BAND_COLUMNS) columns.push({ def: { ...def, name: `${band}_${def.name}`, doc: `${band}: ${def.doc}` }, data: b[def.name]! });
  }
  return { name: 'diaObject', nrows: n, columns };
}

export function forcedSourceTable(f: ForcedSourceTable): ProductTable {
  const data = f as unknown as Record<string, ColData>;
  return { name: 'forcedSource', nrows: f.n, columns: FORCED_SOURCE_COLUMNS.map((def) => ({ def, data: data[def.name]! })) };
}

/** Concatenate tables of the same kind; columns missing from a part are NaN / 0 / ''. Column order: first appearance. */
export function concatTables(name: string, parts: ProductTable[]): ProductTable {
  const defs: ColumnDef[] = [];
  const seen = new Map<string, ColumnDef>();
  for (const p of parts) for (const col of p.columns) {
    const prev = seen.get(col.def.name);
    if (!prev) { seen.set(col.def.name, col.def); defs.push(col.def); }
    else if (prev.type !== col.def.type) throw new TesseraError(`${name}: column '${col.def.name}' is ${prev.type} in one part and ${col.def.type} in another`);
  }
  const n = parts.reduce((a, p) => a + p.nrows, 0);
  const columns = defs.map((def) => {
    const data: ColData = def.type === 'str' ? new Array<string>(n).fill('') : def.type === 'i4' ? new Int32Array(n) : new Float64Array(n).fill(def.type === 'f8' ? NaN : 0);
    let o = 0;
    for (const p of parts) {
      const col = p.columns.find((c) => c.def.name === def.name);
      if (col) {
        if (Array.isArray(data)) { const src = col.data as string[]; for (let i = 0; i < p.nrows; i++) data[o + i] = src[i]!; }
        else (data as Float64Array).set((col.data as Float64Array).subarray(0, p.nrows), o);
      }
      o += p.nrows;
    }
    return { def, data };
  });
  // per-band columns: keep the fixed columns first, then band columns sorted by name for a stable layout
  const fixed = columns.filter((c) => !/^[A-Za-z0-9]+_/.test(c.def.name));
  const band = columns.filter((c) => /^[A-Za-z0-9]+_/.test(c.def.name)).sort((a, b) => (a.def.name < b.def.name ? -1 : a.def.name > b.def.name ? 1 : 0));
  return { name, nrows: n, columns: [...fixed, ...band] };
}

/** Write a table as a FITS binary table (EXTNAME = name upper-cased), atomically. */
export function writeTableFits(path: string, t: ProductTable, cards: Record<string, string | number | boolean> = {}): void {
  const h = new Header();
  h.set('TSVERS', TESSERA_VERSION, 'Tessera version');
  h.set('TSTABLE', t.name, 'Tessera product table');
  for (const [k, v] of Object.entries(cards)) h.set(k, v);
  const columns: ColumnInput[] = t.columns.map(({ def, data }) => {
    const unit = def.unit ? { unit: def.unit } : {};
    if (def.type === 'str') {
      const arr = data as string[];
      const w = Math.max(1, ...arr.map((s) => Buffer.byteLength(s)));
      return { name: def.name, data: arr, tform: `${w}A`, ...unit };
    }
    if (def.type === 'i8') return { name: def.name, data: BigInt64Array.from(data as Float64Array, (v) => BigInt(v)), tform: '1K', ...unit };
    if (def.type === 'i4') return { name: def.name, data: data as Int32Array, tform: '1J', ...unit };
    return { name: def.name, data: data as Float64Array, tform: '1D', ...unit };
  });
  writeFits(path, [{ kind: 'bintable', extname: t.name.toUpperCase(), header: h, columns, nrows: t.nrows }]);
}

/** Read a table written by writeTableFits (column types from the FITS TFORMs). */
export function readTableFits(path: string, name?: string): ProductTable {
  const r = FitsReader.open(path);
  try {
    const sel = name ? name.toUpperCase() : 1;
    const ft = r.readTable(sel);
    const tname = String(ft.header.get('TSTABLE') ?? name ?? 'table');
    const columns = ft.columns.map((fc) => {
      const unit = fc.unit ? { unit: fc.unit } : {};
      let def: ColumnDef, data: ColData;
      if (fc.type === 'A') { def = { name: fc.name, type: 'str', doc: '', ...unit }; data = (fc.data as string[]).map((s) => s.trimEnd()); }
      else if (fc.type === 'K') { def = { name: fc.name, type: 'i8', doc: '', ...unit }; data = Float64Array.from(fc.data as BigInt64Array, (v) => Number(v)); }
      else if (fc.type === 'J' || fc.type === 'I' || fc.type === 'B') { def = { name: fc.name, type: 'i4', doc: '', ...unit }; data = Int32Array.from(fc.data as Int32Array); }
      else if (fc.type === 'D' || fc.type === 'E') { def = { name: fc.name, type: 'f8', doc: '', ...unit }; data = Float64Array.from(fc.data as Float64Array); }
      else throw new TesseraError(`${path}: column ${fc.name} has unsupported type ${fc.tform}`);
      return { def, data };
    });
    return { name: tname, nrows: ft.nrows, columns };
  } finally {
    r.close();
  }
}
