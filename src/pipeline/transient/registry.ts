/**
 * The CCDs of a campaign as the transient planner needs them, read from the repository's
 * registry (src/pipeline/ingest.ts: `tessera ingest` fills its `exposures` and `ccds` tables from
 * the headers). Added here: the CP-style weight and mask companions of an image file, found by
 * name (`_ooi_` → `_oow_`, `_ood_`), and the header WCS of a CCD, read from its file's header
 * when the planner needs it (the registry keeps the footprint corners, not the WCS).
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FitsReader } from '../../fits/reader.js';
import { Wcs } from '../../wcs/wcs.js';
import type { TaskStore } from '../../engine/types.js';
import { ensureRegistry } from '../ingest.js';

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
  /** The header WCS as FITS keywords, when known without reading the file. */
  wcs?: Record<string, string | number | boolean>;
}

/** Keywords of a WCS (as Wcs.toHeader writes them). */
export function wcsCards(wcs: Wcs): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  wcs.toHeader({ set: (k: string, v: string | number | boolean) => { out[k] = v; } });
  return out;
}

/** The header WCS of a registered CCD: from its cards, else from its file's header. */
export function entryWcs(c: CcdEntry): Wcs {
  if (c.wcs) return Wcs.fromHeader({ get: (k: string) => c.wcs![k] }, `registry: exposure ${c.expnum} CCD ${c.ccd}`);
  const r = FitsReader.open(c.image);
  try {
    const h = r.imageHeader(c.hdu), p = r.hdus[0]!.header;
    return Wcs.fromHeader({ get: (k: string) => h.get(k) ?? p.get(k) }, `${c.image}[${c.hdu}]`);
  } finally {
    r.close();
  }
}

/** The CP weight ('oow') or mask ('ood') file beside an image ('ooi') file, when present. */
export function companion(image: string, tag: 'oow' | 'ood'): string | undefined {
  const b = basename(image);
  if (!b.includes('_ooi_')) return undefined;
  const p = join(dirname(image), b.replace('_ooi_', `_${tag}_`));
  return existsSync(p) ? p : undefined;
}

interface Row {
  expnum: string; ccd: number; hdu: number; extname: string | null; width: number; height: number; corners: string | null;
  path: string; band: string | null; mjd: number | null; exptime: number | null;
}

/**
 * Every registered CCD usable by the planner (numeric exposure number, band, MJD and footprint
 * known); the others are returned in `skipped` with the reason.
 */
export async function readCcds(store: TaskStore): Promise<{ ccds: CcdEntry[]; skipped: string[] }> {
  await ensureRegistry(store);
  const rows = await store.sql<Row>(
    `SELECT c.expnum AS expnum, c.ccd AS ccd, c.hdu AS hdu, c.extname AS extname, c.width AS width, c.height AS height, c.corners AS corners,
            e.path AS path, e.band AS band, e.mjd AS mjd, e.exptime AS exptime
       FROM ccds c JOIN exposures e ON e.expnum = c.expnum ORDER BY c.expnum, c.ccd`,
  );
  const ccds: CcdEntry[] = [];
  const skipped: string[] = [];
  for (const r of rows) {
    const what = `exposure ${r.expnum} CCD ${r.ccd} (${r.path})`;
    const expnum = Number(r.expnum);
    if (!Number.isInteger(expnum)) { skipped.push(`${what}: exposure number is not an integer`); continue; }
    if (!r.band) { skipped.push(`${what}: no band`); continue; }
    if (r.mjd === null || !Number.isFinite(Number(r.mjd))) { skipped.push(`${what}: no MJD`); continue; }
    if (!r.corners) { skipped.push(`${what}: no footprint (no usable WCS)`); continue; }
    ccds.push({
      expnum, ccd: Number(r.ccd), ccdName: r.extname ?? `HDU${r.hdu}`, band: r.band, mjd: Number(r.mjd),
      exptime: r.exptime === null ? NaN : Number(r.exptime), image: r.path, weight: companion(r.path, 'oow'), mask: companion(r.path, 'ood'),
      hdu: Number(r.hdu), width: Number(r.width), height: Number(r.height), footprint: JSON.parse(r.corners) as [number, number][],
    });
  }
  return { ccds, skipped };
}
