import { basename, resolve } from 'node:path';
import { FitsReader } from '../fits/reader.js';
import type { Header } from '../fits/header.js';
import { Wcs } from '../wcs/wcs.js';
import { TesseraError } from '../util/errors.js';
import type { TaskStore } from '../engine/types.js';

/** Registry schema of exposures and CCDs (component `registry` in tessera_schema). */
export const REGISTRY_SCHEMA_VERSION = 1;

const DDL = [
  `CREATE TABLE IF NOT EXISTS exposures (
     expnum TEXT PRIMARY KEY, path TEXT NOT NULL, band TEXT, mjd DOUBLE PRECISION, exptime DOUBLE PRECISION,
     ra DOUBLE PRECISION, dec DOUBLE PRECISION, object TEXT, instrument TEXT, nccd INTEGER NOT NULL,
     ingested DOUBLE PRECISION NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ccds (
     expnum TEXT NOT NULL, ccd INTEGER NOT NULL, hdu INTEGER NOT NULL, extname TEXT,
     width INTEGER NOT NULL, height INTEGER NOT NULL,
     ra DOUBLE PRECISION, dec DOUBLE PRECISION, corners TEXT,
     ra_min DOUBLE PRECISION, ra_max DOUBLE PRECISION, dec_min DOUBLE PRECISION, dec_max DOUBLE PRECISION,
     PRIMARY KEY (expnum, ccd))`,
  `CREATE INDEX IF NOT EXISTS ccds_dec ON ccds(dec_min, dec_max)`,
];

export interface CcdRecord {
  ccd: number;
  hdu: number;
  extname: string | null;
  width: number;
  height: number;
  /** Centre and outer-edge corners (RA, Dec degrees), null when the HDU has no usable WCS. */
  center: [number, number] | null;
  corners: [number, number][] | null;
}

export interface ExposureRecord {
  expnum: string;
  path: string;
  band: string | null;
  mjd: number | null;
  exptime: number | null;
  ra: number | null;
  dec: number | null;
  object: string | null;
  instrument: string | null;
  ccds: CcdRecord[];
  /** Problems that did not stop the exposure from being registered (e.g. a CCD without WCS). */
  warnings: string[];
}

export type IngestOutcome =
  | { file: string; status: 'ingested'; exposure: ExposureRecord }
  | { file: string; status: 'skipped'; expnum: string; reason: string }
  | { file: string; status: 'rejected'; reason: string };

/** Create the registry tables (idempotent); refuse a registry written by a newer Tessera. */
export async function ensureRegistry(store: TaskStore): Promise<void> {
  const v = await store.sql<{ version: unknown }>(`SELECT version FROM tessera_schema WHERE component = 'registry'`);
  if (v[0] && Number(v[0].version) > REGISTRY_SCHEMA_VERSION) {
    throw new TesseraError(`registry schema version ${Number(v[0].version)} is newer than this Tessera supports (${REGISTRY_SCHEMA_VERSION}); upgrade Tessera`);
  }
  if (v[0]) return;
  for (const s of DDL) await store.sql(s);
  await store.sql(`INSERT INTO tessera_schema (component, version) VALUES ('registry', ?) ON CONFLICT (component) DO NOTHING`, [REGISTRY_SCHEMA_VERSION]);
}

/** 'r DECam SDSS c0002 6430.0 1500.0' → 'r'. */
function bandOf(h: (k: string) => string | undefined): string | null {
  const b = h('BAND') ?? h('FILTER');
  if (!b) return null;
  return b.trim().split(/\s+/)[0] ?? null;
}

function mjdFromDate(iso: string): number | null {
  const s = iso.trim();
  const t = Date.parse(/Z|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`);
  return Number.isFinite(t) ? t / 86400000 + 40587 : null;
}

/** Read an exposure's headers (no pixels): identity, band, MJD, exposure time, CCD footprints. */
export function readExposure(path: string): ExposureRecord {
  const file = resolve(path);
  const fits = FitsReader.open(file);
  const primary = fits.hdus[0]!.header;
  const warnings: string[] = [];
  const ccds: CcdRecord[] = [];
  let first: Header | undefined;
  for (const h of fits.hdus) {
    if (h.type !== 'image' && h.type !== 'compressed-image') continue;
    const ih = fits.imageHeader(h.index);
    const naxis = ih.optionalNumber('NAXIS') ?? 0;
    if (naxis < 2) continue;
    first ??= ih;
    const width = ih.integer('NAXIS1');
    const height = ih.integer('NAXIS2');
    const where = `${file}[HDU ${h.index}${h.extname ? ` '${h.extname}'` : ''}]`;
    const ccdnum = ih.optionalNumber('CCDNUM');
    const ccd = ccdnum !== undefined && Number.isInteger(ccdnum) ? ccdnum : h.index;
    if (ccds.some((c) => c.ccd === ccd)) throw new TesseraError(`${where}: CCD number ${ccd} appears twice in the file`);
    let center: [number, number] | null = null;
    let corners: [number, number][] | null = null;
    try {
      // Keywords missing from the extension are inherited from the primary header (INHERIT convention).
      const merged = { get: (k: string) => ih.get(k) ?? primary.get(k) };
      const fp = Wcs.fromHeader(merged, where).footprint(width, height);
      if ([...fp.corners.flat(), ...fp.center].every(Number.isFinite)) {
        center = fp.center;
        corners = fp.corners;
      } else warnings.push(`${where}: WCS gives no finite sky position for the corners; footprint not registered`);
    } catch (e) {
      warnings.push(`${(e as Error).message}; footprint not registered`);
    }
    ccds.push({ ccd, hdu: h.index, extname: h.extname?.trim() ?? null, width, height, center, corners });
  }
  if (!ccds.length) throw new TesseraError(`${file}: no image HDU with NAXIS >= 2 (not an exposure)`);
  const key = (k: string) => primary.get(k) ?? first?.get(k);
  const str = (k: string) => {
    const v = key(k);
    return v === undefined || v === null ? undefined : String(v).trim();
  };
  const num = (k: string) => {
    const v = key(k);
    if (v === undefined || v === null || v === '') return undefined;
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isFinite(n)) throw new TesseraError(`${file}: keyword ${k}: expected a number, got '${String(v)}'`);
    return n;
  };
  const expnumRaw = num('EXPNUM');
  const expnum = expnumRaw !== undefined ? String(expnumRaw) : basename(file).replace(/\.fits(\.fz|\.gz)?$/i, '');
  if (expnumRaw === undefined) warnings.push(`${file}: no EXPNUM keyword; exposure named '${expnum}' after the file`);
  const dateObs = str('DATE-OBS');
  const mjd = num('MJD-OBS') ?? (dateObs ? mjdFromDate(dateObs) : null);
  const raKw = key('RA');
  const centers = ccds.filter((c) => c.center).map((c) => c.center!);
  // Pointing: mean of the CCD centres (unit vectors), else the RA/DEC keywords when numeric.
  let ra: number | null = null;
  let dec: number | null = null;
  if (centers.length) {
    let x = 0, y = 0, z = 0;
    for (const [r, d] of centers) {
      const rr = (r * Math.PI) / 180, dd = (d * Math.PI) / 180;
      x += Math.cos(dd) * Math.cos(rr);
      y += Math.cos(dd) * Math.sin(rr);
      z += Math.sin(dd);
    }
    ra = ((Math.atan2(y, x) * 180) / Math.PI + 360) % 360;
    dec = (Math.atan2(z, Math.hypot(x, y)) * 180) / Math.PI;
  } else if (typeof raKw === 'number' && typeof key('DEC') === 'number') {
    ra = raKw;
    dec = key('DEC') as number;
  }
  return {
    expnum,
    path: file,
    band: bandOf(str),
    mjd: mjd ?? null,
    exptime: num('EXPTIME') ?? null,
    ra,
    dec,
    object: str('OBJECT') ?? null,
    instrument: str('INSTRUME') ?? null,
    ccds: ccds.sort((a, b) => a.ccd - b.ccd),
    warnings,
  };
}

/**
 * Register files: idempotent (a file already ingested is skipped), a different file with the same
 * exposure number is rejected as a duplicate, an unreadable file is rejected; the others go on.
 */
export async function ingestFiles(store: TaskStore, files: readonly string[], onOutcome?: (o: IngestOutcome) => void): Promise<IngestOutcome[]> {
  await ensureRegistry(store);
  const out: IngestOutcome[] = [];
  const emit = (o: IngestOutcome) => {
    out.push(o);
    onOutcome?.(o);
  };
  for (const f of files) {
    let exp: ExposureRecord;
    try {
      exp = readExposure(f);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const reason = e instanceof TesseraError ? err.message : err.code === 'ENOENT' ? `${f}: no such file` : err.code ? `${f}: ${err.message}` : `${f}: unreadable: ${err.message}`;
      emit({ file: f, status: 'rejected', reason });
      continue;
    }
    const prev = await store.sql<{ path: string }>('SELECT path FROM exposures WHERE expnum = ?', [exp.expnum]);
    if (prev[0]) {
      if (prev[0].path === exp.path) emit({ file: f, status: 'skipped', expnum: exp.expnum, reason: 'already ingested' });
      else emit({ file: f, status: 'rejected', reason: `${exp.path}: duplicate exposure ${exp.expnum}, already ingested from ${prev[0].path}` });
      continue;
    }
    // CCDs first, the exposure row last: a crash in between is repaired by ingesting again.
    for (const c of exp.ccds) {
      const ras = c.corners?.map((p) => p[0]) ?? [];
      const decs = c.corners?.map((p) => p[1]) ?? [];
      // RA range of a footprint that crosses RA = 0 is given as ra_min > ra_max.
      let raMin = ras.length ? Math.min(...ras) : null;
      let raMax = ras.length ? Math.max(...ras) : null;
      if (raMin !== null && raMax !== null && raMax - raMin > 180) {
        raMin = Math.min(...ras.filter((r) => r > 180));
        raMax = Math.max(...ras.filter((r) => r <= 180));
      }
      await store.sql(
        `INSERT INTO ccds (expnum, ccd, hdu, extname, width, height, ra, dec, corners, ra_min, ra_max, dec_min, dec_max)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (expnum, ccd) DO NOTHING`,
        [exp.expnum, c.ccd, c.hdu, c.extname, c.width, c.height, c.center?.[0] ?? null, c.center?.[1] ?? null, c.corners ? JSON.stringify(c.corners) : null, raMin, raMax, decs.length ? Math.min(...decs) : null, decs.length ? Math.max(...decs) : null],
      );
    }
    const ins = await store.sql(
      `INSERT INTO exposures (expnum, path, band, mjd, exptime, ra, dec, object, instrument, nccd, ingested)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (expnum) DO NOTHING RETURNING expnum`,
      [exp.expnum, exp.path, exp.band, exp.mjd, exp.exptime, exp.ra, exp.dec, exp.object, exp.instrument, exp.ccds.length, Date.now() / 1000],
    );
    if (!ins.length) emit({ file: f, status: 'rejected', reason: `${exp.path}: duplicate exposure ${exp.expnum} (ingested concurrently by another process)` });
    else emit({ file: f, status: 'ingested', exposure: exp });
  }
  return out;
}
