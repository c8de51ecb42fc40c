/** One unit of simulation work: render and encode one CCD of one exposure. */
import { encodeCcd, type EncodedCcd } from './output.js';
import { makeRenderBuffers, renderCcd, type CcdTruthRows, type PsfTruth, type RenderBuffers } from './render.js';
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

/** Pixel buffers of this thread, reused by every task (the encoded bytes are copies). */
let buffers: RenderBuffers | undefined;

export function runCcdTask(ctx: TaskContext, expIndex: number, ccdIndex: number): CcdTaskResult {
  const cfg = ctx.plan.config;
  const exp = ctx.plan.exposures[expIndex]!;
  const ccd = cfg.camera.ccds[ccdIndex]!;
  const npix = ccd.width * ccd.height;
  if (!buffers || buffers.model.length < npix) buffers = makeRenderBuffers(npix);
  const t0 = performance.now();
  const r = renderCcd(cfg, exp, ccd, ctx.catalog, buffers);
  const t1 = performance.now();
  const encoded = encodeCcd(cfg, exp, r);
  const t2 = performance.now();
  return {
    expIndex, ccdIndex, encoded, truth: r.truth, psf: r.psf, skyAdu: r.skyAdu, zpAdu: r.zpAdu,
    nCosmicRays: r.nCosmicRays, nBadColumns: r.nBadColumns, nHotPixels: r.nHotPixels, satellite: r.satellite,
    renderMs: t1 - t0, encodeMs: t2 - t1,
  };
}
