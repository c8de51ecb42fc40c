/**
 * Where the transient products live in a repository. Per-CCD forced tables follow the engine's
 * dataset layout (src/pipeline/layout.ts, dataset 'forced'); per-region association outputs and
 * the campaign's merged Parquet tables are laid out here:
 *
 *   assoc/<tract>/<x,y>/diaObject-<tract>-<x,y>.fits   and diaSource-….fits    (patch regions)
 *   assoc/<brick[0:3]>/<brick>/diaObject-<brick>.fits  and diaSource-….fits    (brick regions)
 *   tables/diaSource.parquet, tables/diaObject.parquet, tables/forcedSource.parquet
 *   tables/ccd.parquet, tables/exposure.parquet                                 (QA, when present)
 *   tables/candidates.csv, tables/candidates.json
 *   diaSrc/<band>/<expnum>/stamps-<expnum>-<ccd>.fits    (stamps beside the diffim diaSrc table)
 */
import { dirname, join } from 'node:path';
import { datasetPath } from '../pipeline/layout.js';
import type { AssocRegion } from '../assoc/region.js';

export const CAMPAIGN_TABLES = ['diaSource', 'diaObject', 'forcedSource', 'ccd', 'exposure'] as const;
export type CampaignTable = (typeof CAMPAIGN_TABLES)[number];

export interface ProductLayout {
  root: string;
  regionDir(region: AssocRegion): string;
  diaObjectFits(region: AssocRegion): string;
  diaSourceFits(region: AssocRegion): string;
  forcedFits(id: { band: string; expnum: number; ccd: number }): string;
  /** 51×51 search/template/difference stamps of a CCD's diaSources (beside its diaSrc table). */
  stampsFits(id: { band: string; expnum: number; ccd: number }): string;
  table(name: CampaignTable | string): string;
  candidates(ext: 'csv' | 'json'): string;
}

function tag(region: AssocRegion): string {
  return region.kind === 'patch' ? `${region.dataId.tract}-${region.dataId.patch}` : region.name;
}

export function productLayout(root: string): ProductLayout {
  return {
    root,
    regionDir: (r) => (r.kind === 'patch' ? join(root, 'assoc', String(r.dataId.tract), String(r.dataId.patch)) : join(root, 'assoc', r.name.slice(0, 3), r.name)),
    diaObjectFits(r) { return join(this.regionDir(r), `diaObject-${tag(r)}.fits`); },
    diaSourceFits(r) { return join(this.regionDir(r), `diaSource-${tag(r)}.fits`); },
    forcedFits: (id) => datasetPath(root, 'forced', id),
    stampsFits: (id) => join(dirname(datasetPath(root, 'diaSrc', id)), `stamps-${id.expnum}-${String(id.ccd).padStart(2, '0')}.fits`),
    table: (name) => join(root, 'tables', `${name}.parquet`),
    candidates: (ext) => join(root, 'tables', `candidates.${ext}`),
  };
}
