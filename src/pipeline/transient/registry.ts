/**
 * The CCD registry of a transient campaign: one record per exposure × CCD, read from FITS headers
 * only (EXPNUM, CCDNUM/EXTNAME, BAND/FILTER, MJD-OBS, EXPTIME and the header WCS for the
 * footprint), kept in `REPO/registry/ccds.json` (written atomically).
 *
 * This is the transient planner's own small registry: the engine's `tessera ingest` (issue 5) is
 * not part of the repository yet; when it lands, `registerFiles` should read its tables instead.
 * CP-style companions are found beside the image by name (`_ooi_` → `_oow_` weight, `_ood_` mask).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { FitsReader } from '../../fits/reader.js';
import type { Header } from '../../fits/header.js';
import { Wcs } from '../../wcs/wcs.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { TesseraError } from '../../util/errors.js';
import type { Repository } from '../repo.js';

export interface CcdEntry {
  expnum: number;
  ccd: number;
  ccdName: string;
  band: string;
  mjd: number;
  exptime: number;
  /** Absolute paths of the image file (and CP weight / mask companions) and the HDU index. */
  image: string;
  weight?: string;
  mask?: string;
  hdu: number;
  width: number;
  height: number;
  /** Footprint corners (RA, Dec degrees) from the header WCS, in order around the CCD. */
  footprint: [number, number][];
  /** The header WCS as FITS keywords (planning needs it before the calibrated WCS exists). */
  wcs: Record<string, string | number | boolean>;
}

/** Keywords of a WCS (as Wcs.toHeader writes them). */
export function wcsCards(wcs: Wcs): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  wcs.toHeader({ set: (k: string, v: string | number | boolean) => { out[k] = v; } });
  return out;
}

/** The WCS of a registry record. */
export function entryWcs(c: Pick<CcdEntry, 'wcs' | 'expnum' | 'ccd'>): Wcs {
  return Wcs.fromHeader({ get: (k: string) => c.wcs[k] }, `registry: exposure ${c.expnum} CCD ${c.ccd}`);
}

export interface RegistryFile {
  format: 'tessera-transient-registry';
  version: 1;
  ccds: CcdEntry[];
}

export const REGISTRY_PATH = 'registry/ccds.json';

export function registryPath(repo: Repository): string {
  return join(repo.root, REGISTRY_PATH);
}

export function readRegistry(repo: Repository): CcdEntry[] {
  const p = registryPath(repo);
  if (!existsSync(p)) return [];
  let j: RegistryFile;
  try {
    j = JSON.parse(readFileSync(p, 'utf8')) as RegistryFile;
  } catch (e) {
    throw new TesseraError(`${p}: unreadable CCD registry: ${(e as Error).message}`);
  }
  if (j.format !== 'tessera-transient-registry' || !Array.isArray(j.ccds)) throw new TesseraError(`${p}: not a Tessera CCD registry`);
  return j.ccds;
}

export function writeRegistry(repo: Repository, ccds: CcdEntry[]): void {
  const sorted = [...ccds].sort((a, b) => a.expnum - b.expnum || a.ccd - b.ccd);
  const j: RegistryFile = { format: 'tessera-transient-registry', version: 1, ccds: sorted };
  writeFileAtomic(registryPath(repo), JSON.stringify(j, null, 1) + '\n');
}

const ccdKey = (c: { expnum: number; ccd: number }) => `${c.expnum}/${c.ccd}`;

function num(h: Header, p: Header | undefined, k: string): number | undefined {
  const v = h.get(k) ?? p?.get(k);
  return typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'bigint' ? Number(v) : undefined;
}
function str(h: Header, p: Header | undefined, k: string): string | undefined {
  const v = h.get(k) ?? p?.get(k);
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}

function companion(image: string, tag: 'oow' | 'ood'): string | undefined {
  const b = basename(image);
  if (!b.includes('_ooi_')) return undefined;
  const p = join(dirname(image), b.replace('_ooi_', `_${tag}_`));
  return existsSync(p) ? p : undefined;
}

/** Read the CCD records of one exposure file (headers only). */
export function scanExposureFile(file: string): CcdEntry[] {
  const path = resolve(file);
  if (!existsSync(path)) throw new TesseraError(`${path}: no such file`);
  const r = FitsReader.open(path);
  try {
    const primary = r.hdus[0]?.header;
    const out: CcdEntry[] = [];
    for (const h of r.hdus) {
      if (h.type !== 'image' && h.type !== 'compressed-image') continue;
      const hd = h.type === 'compressed-image' ? r.imageHeader(h.index) : h.header;
      const w = hd.optionalNumber('NAXIS1') ?? 0, ht = hd.optionalNumber('NAXIS2') ?? 0;
      if (!(w > 0 && ht > 0)) continue;
      const where = `${path}[${h.index}${h.extname ? ` '${h.extname.trim()}'` : ''}]`;
      const expnum = num(hd, primary, 'EXPNUM');
      if (expnum === undefined) throw new TesseraError(`${where}: no EXPNUM keyword`);
      const mjd = num(hd, primary, 'MJD-OBS');
      if (mjd === undefined) throw new TesseraError(`${where}: no MJD-OBS keyword`);
      const band = str(hd, primary, 'BAND') ?? str(hd, primary, 'FILTER')?.split(/\s+/)[0];
      if (!band) throw new TesseraError(`${where}: no BAND or FILTER keyword`);
      const ccd = num(hd, undefined, 'CCDNUM') ?? h.index;
      const ccdName = h.extname?.trim() || str(hd, undefined, 'DETPOS') || `HDU${h.index}`;
      const wcs = Wcs.fromHeader(hd, where);
      const footprint: [number, number][] = [[0.5, 0.5], [w + 0.5, 0.5], [w + 0.5, ht + 0.5], [0.5, ht + 0.5]].map(([x, y]) => wcs.pixToSkyOne(x!, y!) as [number, number]);
      out.push({
        expnum, ccd, ccdName, band, mjd, exptime: num(hd, primary, 'EXPTIME') ?? NaN,
        image: path, weight: companion(path, 'oow'), mask: companion(path, 'ood'), hdu: h.index, width: w, height: ht, footprint, wcs: wcsCards(wcs),
      });
    }
    if (!out.length) throw new TesseraError(`${path}: no 2-D image HDU`);
    return out;
  } finally {
    r.close();
  }
}

/**
 * Register exposure files: new CCDs are added, CCDs already registered from the same file are
 * left alone (idempotent), a CCD registered from another file is a duplicate (reported, skipped).
 * A file that cannot be read is reported and the others go on.
 */
export function registerFiles(repo: Repository, files: readonly string[]): { added: number; known: number; errors: string[] } {
  const ccds = readRegistry(repo);
  const byKey = new Map(ccds.map((c) => [ccdKey(c), c]));
  let added = 0, known = 0;
  const errors: string[] = [];
  for (const f of files) {
    let recs: CcdEntry[];
    try {
      recs = scanExposureFile(f);
    } catch (e) {
      if (!(e instanceof TesseraError) && !(e instanceof Error)) throw e;
      errors.push((e as Error).message);
      continue;
    }
    for (const r of recs) {
      const old = byKey.get(ccdKey(r));
      if (old) {
        if (old.image === r.image && old.hdu === r.hdu) known++;
        else errors.push(`${r.image}[${r.hdu}]: exposure ${r.expnum} CCD ${r.ccd} is already registered from ${old.image}[${old.hdu}] (duplicate, skipped)`);
        continue;
      }
      byKey.set(ccdKey(r), r);
      ccds.push(r);
      added++;
    }
  }
  if (added) writeRegistry(repo, ccds);
  return { added, known, errors };
}
