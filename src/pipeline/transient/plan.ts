/**
 * The transient campaign planner: from the CCD registry to tasks with dependencies.
 *
 *   calibrate/expnum=E/ccd=C       one per registered CCD
 *   diff/expnum=E/ccd=C            one per search CCD; after its own calibrate task and the
 *                                  calibrate tasks of every template CCD that may serve it
 *                                  (same band, overlapping footprint, ≥ minSeparationDays apart)
 *   associate/TRACT:X,Y            one per rings-skymap patch that a search CCD touches; after
 *                                  every diff task of a CCD touching it (fan-in)
 *   forced/diff/E/C                one per search CCD; after the associate tasks of its patches
 *   products                       after every forced task: Parquet tables, candidates, report.html
 *
 * The last three are src/assoc's task kinds and task builder (planTransientTasks); this module
 * adds the calibrate and diff tasks and the template logic in front of them.
 *
 * Templates are the CCDs of the exposures named in `templates`, or those taken before
 * `templateBefore` (MJD); with neither, every earlier CCD (≥ minSeparationDays before) is a
 * template candidate and every CCD that has one is a search CCD (DES-GW's DAG: template jobs
 * before search jobs). Which of the candidates are used is decided when the diff task runs, from
 * the calibrated quality (src/templates selectTemplates).
 *
 * Planning is idempotent: tasks whose key the queue already holds are not added again.
 * Adding exposures later adds their calibrate/diff/forced tasks and the associate tasks of new
 * patches; an existing patch is not re-associated (its task has already run) — delete its
 * outputs and tasks to redo it.
 */
import type { NewTask, TaskStore } from '../../engine/types.js';
import { loadTasks } from '../campaign.js';
import type { Repository } from '../repo.js';
import { selectTemplates, type CcdRecord } from '../../templates/select.js';
import { planTransientTasks, type PlannedCcd } from './assoc-tasks.js';
import { TesseraError } from '../../util/errors.js';
import { entryWcs, readCcds, type CcdEntry } from './registry.js';
import { KIND_CALIBRATE, KIND_DIFF, type CalibrateParams, type CcdRef, type DiffParams } from './params.js';

export const DEFAULT_QUEUE = 'transient';

export interface PlanOptions {
  /** Reference catalog directory (src/calib/refcat) for the calibrate tasks. */
  refcat: string;
  /** Exposure numbers whose CCDs are templates. */
  templates?: readonly number[];
  /** CCDs taken before this MJD are templates. */
  templateBefore?: number;
  /** Minimum time between a search CCD and its templates (days, DES-GW: 0.5). */
  minSeparationDays?: number;
  /** CCDs are grown by this many pixels when finding the patches they touch (header WCS errors; default 100). */
  marginPix?: number;
  /** Association radius (arcsec, default 0.5 as dia_pipe). */
  assocRadiusArcsec?: number;
  /** diaSource detection threshold on the difference images (default 5). */
  diffThreshold?: number;
  /**
   * Also measure forced photometry on the search CCDs' calexps (direct images, local background
   * fitted): tasks `forced/calexp/E/C`, forcedSource rows with imageType 'calexp'. Light curves,
   * candidates and the report use the difference-image rows only.
   */
  forcedOnCalexp?: boolean;
}

export const ccdTaskId = (c: { expnum: number; ccd: number }) => `expnum=${c.expnum}/ccd=${c.ccd}`;
export const calibrateKey = (c: { expnum: number; ccd: number }) => `calibrate/${ccdTaskId(c)}`;
export const diffKey = (c: { expnum: number; ccd: number }) => `diff/${ccdTaskId(c)}`;
/** Keys of the src/assoc task kinds (planTransientTasks). */
export const associateKey = (region: string) => `associate/${region}`;
export const forcedKey = (c: { expnum: number; ccd: number }) => `forced/diff/${c.expnum}/${c.ccd}`;
export const PRODUCTS_KEY = 'products';

function ref(c: CcdEntry): CcdRef {
  return { expnum: c.expnum, ccd: c.ccd, ccdName: c.ccdName, band: c.band, mjd: c.mjd };
}

/** Plan-time record for template selection: geometry, band and time only (quality comes later). */
function geomRecord(c: CcdEntry): CcdRecord {
  return { expnum: c.expnum, ccdName: c.ccdName, ccdNum: c.ccd, band: c.band, mjd: c.mjd, footprint: c.footprint, fwhmArcsec: 1, depth: 0, zp: 0, zpOk: true, sky: 0, exptime: Number.isFinite(c.exptime) ? c.exptime : 0, path: c.image };
}

export interface CampaignPlan {
  tasks: NewTask[];
  /** Search CCD → template candidates (plan time, geometry only). */
  templatesOf: Map<string, CcdEntry[]>;
  /** Association regions ('TRACT:X,Y' patches). */
  regions: string[];
}

/** Build the full task list of a campaign from registry records (pure; no store). */
export function buildPlan(ccds: readonly CcdEntry[], opts: PlanOptions): CampaignPlan {
  const minSep = opts.minSeparationDays ?? 0.5;
  if (opts.templates && opts.templateBefore !== undefined) throw new TesseraError('give either template exposures or a template-before MJD, not both');
  const tset = opts.templates ? new Set(opts.templates) : undefined;
  if (tset) for (const e of tset) if (!ccds.some((c) => c.expnum === e)) throw new TesseraError(`template exposure ${e} is not registered`);
  const isTemplate = (c: CcdEntry): boolean | undefined =>
    tset ? tset.has(c.expnum) : opts.templateBefore !== undefined ? c.mjd < opts.templateBefore : undefined;
  const sorted = [...ccds].sort((a, b) => a.expnum - b.expnum || a.ccd - b.ccd);
  const tasks: NewTask[] = [];
  for (const c of sorted) {
    const p: CalibrateParams = { ...ref(c), image: c.image, weight: c.weight, mask: c.mask, hdu: c.hdu, refcat: opts.refcat };
    tasks.push({ key: calibrateKey(c), kind: KIND_CALIBRATE, params: p, priority: 30, expectedSeconds: 30 });
  }
  const templatesOf = new Map<string, CcdEntry[]>();
  const planned: PlannedCcd[] = [];
  for (const c of sorted) {
    if (isTemplate(c) === true) continue;
    const pool = sorted.filter((t) => t.expnum !== c.expnum && isTemplate(t) !== false);
    const sel = selectTemplates(geomRecord(c), pool.map(geomRecord), { minSeparationDays: minSep, beforeOnly: isTemplate(c) === undefined, minOverlapFraction: 0.01 });
    const cands = sel.candidates.map((k) => pool.find((t) => t.expnum === k.record.expnum && t.ccd === k.record.ccdNum)!);
    if (!cands.length) continue;
    cands.sort((a, b) => a.expnum - b.expnum || a.ccd - b.ccd);
    templatesOf.set(ccdTaskId(c), cands);
    const dp: DiffParams = { search: ref(c), templates: cands.map(ref), minSeparationDays: minSep, threshold: opts.diffThreshold ?? 5, refcat: opts.refcat };
    tasks.push({ key: diffKey(c), kind: KIND_DIFF, params: dp, after: [calibrateKey(c), ...cands.map(calibrateKey)], priority: 20, expectedSeconds: 60 });
    const wcs = entryWcs(c);
    planned.push({ expnum: c.expnum, ccd: c.ccd, band: c.band, mjd: c.mjd, wcs, width: c.width, height: c.height, diffKey: diffKey(c) });
  }
  // associate (per patch, after every diff of a CCD overlapping it), forced (per search CCD,
  // after the associate tasks of its patches) and products (after every forced task): src/assoc.
  const downstream = planned.length ? planTransientTasks(planned, { radiusArcsec: opts.assocRadiusArcsec, marginPix: opts.marginPix ?? 100, forcedOnCalexp: opts.forcedOnCalexp }) : [];
  for (const t of downstream) tasks.push({ ...t, priority: t.kind === 'associate' ? 10 : t.kind === 'forced' ? 5 : 0 });
  const regions = downstream.filter((t) => t.kind === 'associate').map((t) => (t.params as { region: string }).region);
  return { tasks, templatesOf, regions };
}

export interface PlanResult {
  added: number;
  skipped: number;
  total: number;
  ccds: number;
  searches: number;
  regions: number;
  byKind: Record<string, number>;
  /** Registered CCDs the planner could not use, with the reason. */
  unusable: string[];
}

/** Plan (or re-plan) the campaign of a repository from its registry (tessera ingest) into `queue`. */
export async function planCampaign(repo: Repository, store: TaskStore, opts: PlanOptions, queue = DEFAULT_QUEUE): Promise<PlanResult> {
  const { ccds, skipped } = await readCcds(store);
  if (!ccds.length) throw new TesseraError(`${repo.root}: no usable CCDs registered (tessera ingest REPO FILES, or give the files to tessera plan)${skipped.length ? `: ${skipped.slice(0, 3).join('; ')}` : ''}`);
  const plan = buildPlan(ccds, opts);
  const r = await loadTasks(store, queue, plan.tasks);
  const byKind: Record<string, number> = {};
  for (const t of plan.tasks) byKind[t.kind] = (byKind[t.kind] ?? 0) + 1;
  return { added: r.added, skipped: r.skipped, total: plan.tasks.length, ccds: ccds.length, searches: plan.templatesOf.size, regions: plan.regions.length, byKind, unusable: skipped };
}
