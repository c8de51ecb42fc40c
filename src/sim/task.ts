/** One unit of simulation work: render and encode one CCD of one exposure. */
import { encodeCcd, type EncodedCcd } from './output.js';
import { renderCcd, type CcdTruthRows, type PsfTruth } from './render.js';
import type { SkyCatalog } from './sources.js';
import type { SurveyPlan } from './survey.js';

export interface TaskContext {
  plan: SurveyPlan;
  catalog: SkyCatalog;
}

export interface CcdTaskResult {
  expIndex: number;
  ccdIndex: number;
  encoded: EncodedCcd;
  truth: CcdTruthRows;
  psf: PsfTruth;
  skyAdu: number;
  zpAdu: number;
  nCosmicRays: number;
  nBadColumns: number;
  nHotPixels: number;
  satellite: boolean;
  renderMs: number;
  encodeMs: number;
}

export function runCcdTask(ctx: TaskContext, expIndex: number, ccdIndex: number): CcdTaskResult {
  const cfg = ctx.plan.config;
  const exp = ctx.plan.exposures[expIndex]!;
  const ccd = cfg.camera.ccds[ccdIndex]!;
  const t0 = performance.now();
  const r = renderCcd(cfg, exp, ccd, ctx.catalog);
  const t1 = performance.now();
  const encoded = encodeCcd(cfg, exp, r);
  const t2 = performance.now();
  return {
    expIndex, ccdIndex, encoded, truth: r.truth, psf: r.psf, skyAdu: r.skyAdu, zpAdu: r.zpAdu,
    nCosmicRays: r.nCosmicRays, nBadColumns: r.nBadColumns, nHotPixels: r.nHotPixels, satellite: r.satellite,
    renderMs: t1 - t0, encodeMs: t2 - t1,
  };
}
