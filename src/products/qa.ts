/**
 * QA tables of a campaign, from the headers of its calibrated CCDs and difference images (read
 * header only): `ccd` (one row per calexp: zero point, seeing, depth, sky, astrometry; and, when
 * the CCD was differenced, the subtraction's statistics and diaSource count) and `exposure`
 * (per exposure: CCD count, median zero point, seeing and depth, diaSource total).
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FitsReader } from '../fits/reader.js';
import type { Header } from '../fits/header.js';
import { datasetPath } from '../pipeline/layout.js';
import type { ColumnDef, ColData, ProductTable } from './tables.js';
import { listFilesRecursive } from '../util/fs.js';

function imageHeader(path: string): Header | undefined {
  const r = FitsReader.open(path);
  try {
    const sel = r.hdus.some((h) => h.extname?.trim().toUpperCase() === 'IMAGE') ? 'IMAGE' : 1;
    return r.imageHeader(sel);
  } catch {
    return undefined;
  } finally {
    r.close();
  }
}

const num = (h: Header | undefined, k: string): number => { const v = h?.get(k); return typeof v === 'number' ? v : NaN; };
const c = (name: string, type: ColumnDef['type'], doc: string, unit?: string): ColumnDef => ({ name, type, doc, ...(unit ? { unit } : {}) });

export const CCD_QA_COLUMNS: ColumnDef[] = [
  c('expnum', 'i4', 'exposure number'), c('ccd', 'i4', 'CCD number'), c('band', 'str', 'filter band'), c('mjd', 'f8', 'MJD of the exposure', 'd'),
  c('zeroPoint', 'f8', 'MAGZERO', 'mag'), c('zeroPointErr', 'f8', 'MAGZERR', 'mag'), c('seeing', 'f8', 'PSF FWHM', 'arcsec'),
  c('depth', 'f8', '5σ PSF depth', 'mag'), c('sky', 'f8', 'sky level subtracted', 'count'), c('skySigma', 'f8', 'sky noise per pixel', 'count'),
  c('astromRms', 'f8', 'astrometric fit rms', 'arcsec'), c('nAstromStars', 'i4', 'stars in the astrometric fit'),
  c('differenced', 'i4', '1 when a difference image exists'), c('templateExpnum', 'i4', 'template exposure (0: none)'),
  c('ksum', 'f8', 'kernel sum (science/template flux ratio)'), c('chi2Dof', 'f8', 'kernel-fit stamp χ²/dof'), c('residRms', 'f8', 'difference-image rms / expected noise'),
  c('nDiaSources', 'i4', 'diaSources detected on the difference image'),
];

export const EXPOSURE_QA_COLUMNS: ColumnDef[] = [
  c('expnum', 'i4', 'exposure number'), c('band', 'str', 'filter band'), c('mjd', 'f8', 'MJD', 'd'), c('nCcd', 'i4', 'calibrated CCDs'),
  c('zeroPoint', 'f8', 'median CCD zero point', 'mag'), c('seeing', 'f8', 'median seeing', 'arcsec'), c('depth', 'f8', 'median 5σ depth', 'mag'),
  c('nDifferenced', 'i4', 'CCDs with a difference image'), c('nDiaSources', 'i4', 'diaSources over the CCDs'),
];

const median = (v: number[]): number => {
  const s = v.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : 0.5 * (s[m - 1]! + s[m]!);
};

/** The ccd and exposure QA tables of a repository (undefined when it has no calexp files). */
export function qaTables(root: string): { ccd: ProductTable; exposure: ProductTable } | undefined {
  const files = listFilesRecursive(join(root, 'calexp'), /^calexp-(\d+)-(\d+)\.fits\.fz$/);
  if (!files.length) return undefined;
  const rows: Record<string, number | string>[] = [];
  for (const f of files) {
    const m = /calexp-(\d+)-(\d+)\.fits\.fz$/.exec(f)!;
    const h = imageHeader(f);
    if (!h) continue;
    const expnum = Number(m[1]), ccd = Number(m[2]);
    // BAND from the header, else from the layout (calexp/<band>/<expnum>/calexp-….fits.fz)
    const band = String(h.get('BAND') ?? '').trim() || basename(dirname(dirname(f)));
    const id = { band, expnum, ccd };
    const diff = datasetPath(root, 'diff', id);
    const dh = existsSync(diff) ? imageHeader(diff) : undefined;
    let nDia = 0;
    const dsrc = datasetPath(root, 'diaSrc', id);
    if (existsSync(dsrc)) {
      const r = FitsReader.open(dsrc);
      try { const t = r.hdus.find((x) => x.type === 'bintable'); nDia = t ? Number(t.header.get('NAXIS2') ?? 0) : 0; } finally { r.close(); }
    }
    rows.push({
      expnum, ccd, band, mjd: num(h, 'MJD-OBS'), zeroPoint: num(h, 'MAGZERO'), zeroPointErr: num(h, 'MAGZERR'), seeing: num(h, 'FWHM'),
      depth: num(h, 'DEPTH'), sky: num(h, 'SKYLEVEL'), skySigma: num(h, 'SKYSIGMA'), astromRms: num(h, 'ASTRRMS'), nAstromStars: num(h, 'NASTRSTR') || 0,
      differenced: dh ? 1 : 0, templateExpnum: dh ? num(dh, 'TMPLEXP') || 0 : 0, ksum: num(dh, 'KSUM'), chi2Dof: num(dh, 'CHI2DOF'), residRms: num(dh, 'RESIDRMS'), nDiaSources: nDia,
    });
  }
  const build = (name: string, defs: ColumnDef[], rs: Record<string, number | string>[]): ProductTable => ({
    name, nrows: rs.length,
    columns: defs.map((def) => {
      let data: ColData;
      if (def.type === 'str') data = rs.map((r) => String(r[def.name] ?? ''));
      else if (def.type === 'i4') data = Int32Array.from(rs, (r) => Number(r[def.name]) || 0);
      else data = Float64Array.from(rs, (r) => Number(r[def.name]));
      return { def, data };
    }),
  });
  const byExp = new Map<number, Record<string, number | string>[]>();
  for (const r of rows) (byExp.get(r.expnum as number) ?? byExp.set(r.expnum as number, []).get(r.expnum as number)!).push(r);
  const exps = [...byExp.entries()].sort((a, b) => a[0] - b[0]).map(([expnum, rs]) => ({
    expnum, band: rs[0]!.band, mjd: rs[0]!.mjd, nCcd: rs.length,
    zeroPoint: median(rs.map((r) => r.zeroPoint as number)), seeing: median(rs.map((r) => r.seeing as number)), depth: median(rs.map((r) => r.depth as number)),
    nDifferenced: rs.reduce((a, r) => a + (r.differenced as number), 0), nDiaSources: rs.reduce((a, r) => a + (r.nDiaSources as number), 0),
  }));
  return { ccd: build('ccd', CCD_QA_COLUMNS, rows), exposure: build('exposure', EXPOSURE_QA_COLUMNS, exps) };
}
