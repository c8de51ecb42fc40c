/**
 * The transient stages as engine task kinds (registered when this module is imported):
 *  - `associate` (per patch or brick): the diaSrc tables of the CCDs overlapping the region →
 *    assoc/…/diaObject-….fits and diaSource-….fits;
 *  - `forced` (per CCD and image type): the diaObjects of the regions overlapping the CCD,
 *    measured on its difference image (or calibrated image) → forced/…/forced-….fits;
 *  - `products` (per campaign): the Parquet tables, the candidate list and the HTML report.
 * `planTransientTasks` builds these tasks with their dependencies for a set of search CCDs.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { FitsReader } from '../../fits/reader.js';
import type { NewTask } from '../../engine/types.js';
import { registerKind } from '../../pipeline/kinds.js';
import { datasetPath } from '../../pipeline/layout.js';
import { productLayout } from '../../products/layout.js';
import { reportForRepo } from '../../products/report.js';
import { TesseraError } from '../../util/errors.js';
import type { Wcs } from '../../wcs/wcs.js';
import { parseRegion, patchRegionFor, type AssocRegion } from '../../assoc/region.js';
import { associateRegionToFiles, forcedToFile, mergeCampaign, readDiaSrcFits, readDiffExposure, readObjectPositions, type CcdMeta } from './assoc-stage.js';

export interface CcdRef extends CcdMeta {
  /** Files of the calibrated science and template CCDs (relative to the repository or absolute), for the PSF of the difference image. */
  scienceCalexp?: string;
  templateCalexp?: string;
}

/** MAGZERO of the IMAGE HDU of a difference image (the science CCD's zero point), and its CONVOLVE keyword. */
export function diffHeaderInfo(path: string): { zeroPoint?: number; convolved?: string } {
  const r = FitsReader.open(path);
  try {
    const h = r.imageHeader(r.hdus.some((x) => x.extname?.trim().toUpperCase() === 'IMAGE') ? 'IMAGE' : 1);
    const zp = h.get('MAGZERO'), cv = h.get('CONVOLVE');
    return { zeroPoint: typeof zp === 'number' ? zp : undefined, convolved: typeof cv === 'string' ? cv.trim().toUpperCase() : undefined };
  } finally {
    r.close();
  }
}

export interface AssociateParams {
  /** 'TRACT:X,Y' or a brick name. */
  region: string;
  radiusArcsec?: number;
  /** The CCDs whose diaSrc tables may hold sources of the region. */
  ccds: CcdRef[];
}

export interface ForcedParams extends CcdRef {
  imageType?: 'diff' | 'calexp';
  /** Regions whose diaObjects may fall on the CCD. */
  regions: string[];
  fitBackground?: boolean;
}

const did = (c: { band: string; expnum: number; ccd: number }) => ({ band: c.band, expnum: c.expnum, ccd: c.ccd });

function forcedPath(root: string, p: ForcedParams): string {
  const path = productLayout(root).forcedFits(p);
  return p.imageType === 'calexp' ? path.replace(/\.fits$/, '-calexp.fits') : path;
}

registerKind({
  kind: 'associate',
  version: '1',
  outputs(p: AssociateParams, repo) {
    const L = productLayout(repo.root), r = parseRegion(p.region);
    return [L.diaObjectFits(r), L.diaSourceFits(r)];
  },
  inputs: (p: AssociateParams, repo) => p.ccds.map((c) => datasetPath(repo.root, 'diaSrc', did(c))),
  async run(p: AssociateParams, ctx) {
    const region = parseRegion(p.region);
    const tables = p.ccds.map((c) => {
      const path = datasetPath(ctx.repo.root, 'diaSrc', did(c));
      if (!existsSync(path)) throw new TesseraError(`associate ${region.name}: missing diaSrc table ${path}`);
      const zp = c.zeroPoint ?? diffHeaderInfo(datasetPath(ctx.repo.root, 'diff', did(c))).zeroPoint;
      return readDiaSrcFits(path, { ...c, zeroPoint: zp });
    });
    const res = associateRegionToFiles(productLayout(ctx.repo.root), region, tables, { radiusArcsec: p.radiusArcsec });
    ctx.log(`associate ${region.name}: ${res.sources.n} diaSources → ${res.objects.n} diaObjects`);
  },
});

registerKind({
  kind: 'forced',
  version: '1',
  outputs: (p: ForcedParams, repo) => [forcedPath(repo.root, p)],
  inputs: (p: ForcedParams, repo) => [datasetPath(repo.root, p.imageType === 'calexp' ? 'calexp' : 'diff', did(p))],
  async run(p: ForcedParams, ctx) {
    const L = productLayout(ctx.repo.root);
    const img = datasetPath(ctx.repo.root, p.imageType === 'calexp' ? 'calexp' : 'diff', did(p));
    // The PSF of a difference image is that of the image that was not convolved (the convolved
    // one was matched to it): the template's when the science image was convolved.
    const info = p.imageType === 'calexp' ? {} : diffHeaderInfo(img);
    const rel = (f: string) => (isAbsolute(f) ? f : join(ctx.repo.root, f));
    let psfFile = info.convolved === 'SCIENCE' ? p.templateCalexp : p.scienceCalexp;
    psfFile = psfFile ? rel(psfFile) : datasetPath(ctx.repo.root, 'calexp', did(p));
    const exp = readDiffExposure(img, existsSync(psfFile) ? psfFile : undefined);
    if (exp.psfSource === 'fallback' && p.imageType !== 'calexp') {
      ctx.log(`forced ${p.expnum}/${p.ccd}: the difference image has no PSF HDU; using the PSF of ${psfFile} (ignores the decorrelation kernel: fluxes may be biased by a few per cent)`);
    }
    const objs = readObjectPositions(p.regions.map((r) => L.diaObjectFits(parseRegion(r))).filter((f) => existsSync(f)));
    // PSF fluxes on a calexp: its MAGZERO is for aperture fluxes, so fold the aperture correction
    // in (as the diff stage does for the difference image's MAGZERO).
    const zeroPoint = p.zeroPoint ?? (p.imageType === 'calexp' && exp.zeroPoint !== undefined && exp.apcorr ? exp.zeroPoint - 2.5 * Math.log10(exp.apcorr) : undefined);
    const t = forcedToFile(L, exp, objs, { imageType: p.imageType ?? 'diff', mjd: p.mjd, band: p.band, expnum: p.expnum, ccd: p.ccd, zeroPoint },
      { fitBackground: p.fitBackground ?? p.imageType === 'calexp' }, forcedPath(ctx.repo.root, p));
    ctx.log(`forced ${p.expnum}/${p.ccd} (${p.imageType ?? 'diff'}): ${t.n} of ${objs.n} diaObjects on the image`);
  },
});

registerKind({
  kind: 'products',
  version: '1',
  outputs: (_p: unknown, repo) => {
    const L = productLayout(repo.root);
    return [L.table('diaObject'), L.table('diaSource'), L.table('forcedSource'), L.candidates('csv'), L.candidates('json'), `${repo.root}/report.html`];
  },
  async run(_p: unknown, ctx) {
    const L = productLayout(ctx.repo.root);
    const n = mergeCampaign(ctx.repo.root);
    const r = await reportForRepo(ctx.repo.root);
    ctx.writeOutput(L.candidates('csv'), r.csv);
    ctx.writeOutput(L.candidates('json'), r.json);
    ctx.writeOutput(`${ctx.repo.root}/report.html`, r.html);
    ctx.log(`products: ${n.diaObject} diaObjects, ${n.diaSource} diaSources, ${n.forcedSource} forced measurements, ${r.candidates.length} candidates`);
  },
});

/** Patch regions (rings skymap) a CCD overlaps, from a grid of points over it (spacing ≤ 256 px). */
export function regionsOverlapping(wcs: Wcs, width: number, height: number, marginPix = 0): AssocRegion[] {
  const nx = Math.max(2, Math.ceil((width + 2 * marginPix) / 256) + 1), ny = Math.max(2, Math.ceil((height + 2 * marginPix) / 256) + 1);
  const seen = new Map<string, AssocRegion>();
  for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    const [ra, dec] = wcs.pixToSkyOne(0.5 - marginPix + ((width + 2 * marginPix) * i) / (nx - 1), 0.5 - marginPix + ((height + 2 * marginPix) * j) / (ny - 1), 1);
    const r = patchRegionFor(ra, dec);
    if (!seen.has(r.name)) seen.set(r.name, r);
  }
  return [...seen.values()].sort((a, b) => a.id - b.id);
}

export interface PlannedCcd extends CcdRef {
  wcs: Wcs;
  width: number;
  height: number;
  /** Key of the task that writes this CCD's diff image and diaSrc table (dependency). */
  diffKey?: string;
}

/** associate (per overlapped patch), forced (per CCD) and products tasks with their dependencies. */
export function planTransientTasks(ccds: PlannedCcd[], opts: { radiusArcsec?: number; forcedOnCalexp?: boolean; marginPix?: number } = {}): NewTask[] {
  const byRegion = new Map<string, { region: AssocRegion; ccds: PlannedCcd[] }>();
  const regionsOf = new Map<PlannedCcd, string[]>();
  for (const c of ccds) {
    const rs = regionsOverlapping(c.wcs, c.width, c.height, opts.marginPix ?? 0);
    regionsOf.set(c, rs.map((r) => r.name));
    for (const r of rs) (byRegion.get(r.name) ?? byRegion.set(r.name, { region: r, ccds: [] }).get(r.name)!).ccds.push(c);
  }
  const strip = (c: PlannedCcd): CcdRef => ({
    expnum: c.expnum, ccd: c.ccd, band: c.band, mjd: c.mjd,
    ...(c.zeroPoint !== undefined ? { zeroPoint: c.zeroPoint } : {}), ...(c.pixelScaleArcsec ? { pixelScaleArcsec: c.pixelScaleArcsec } : {}),
    ...(c.scienceCalexp ? { scienceCalexp: c.scienceCalexp } : {}), ...(c.templateCalexp ? { templateCalexp: c.templateCalexp } : {}),
  });
  const tasks: NewTask[] = [];
  const names = [...byRegion.keys()].sort();
  for (const name of names) {
    const g = byRegion.get(name)!;
    const after = g.ccds.map((c) => c.diffKey).filter((k): k is string => !!k);
    tasks.push({ key: `associate/${name}`, kind: 'associate', params: { region: name, radiusArcsec: opts.radiusArcsec, ccds: g.ccds.map(strip) } satisfies AssociateParams, after });
  }
  const forcedKeys: string[] = [];
  for (const c of ccds) {
    const regions = regionsOf.get(c)!;
    const after = regions.map((r) => `associate/${r}`);
    for (const imageType of opts.forcedOnCalexp ? (['diff', 'calexp'] as const) : (['diff'] as const)) {
      const key = `forced/${imageType}/${c.expnum}/${c.ccd}`;
      forcedKeys.push(key);
      tasks.push({ key, kind: 'forced', params: { ...strip(c), imageType, regions } satisfies ForcedParams, after });
    }
  }
  tasks.push({ key: 'products', kind: 'products', params: {}, after: forcedKeys });
  return tasks;
}
