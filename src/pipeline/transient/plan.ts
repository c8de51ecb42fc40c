/**
 * The transient campaign planner: from the CCD registry to tasks with dependencies.
 *
 *   calibrate/expnum=E/ccd=C       one per registered CCD
 *   diff/expnum=E/ccd=C            one per search CCD; after its own calibrate task and the
 *                                  calibrate tasks of every template CCD that may serve it
 *                                  (same band, overlapping footprint, ≥ minSeparationDays apart)
 *   associate/tract=T/patch=X,Y    one per rings-skymap patch (or associate/brick=NAME) that a
 *                                  search CCD touches; after every diff task of a CCD touching it
 *   forced/expnum=E/ccd=C          one per search CCD; after the associate tasks of its patches
 *   report                         after every associate and forced task
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
import { patchRegionFor, brickRegion, type AssocRegion } from '../../assoc/region.js';
import { brickForPosition } from '../../sky/bricks.js';
import { gnomonicProject, gnomonicUnproject } from '../../sky/sphere.js';
import { TesseraError } from '../../util/errors.js';
import { readRegistry, type CcdEntry } from './registry.js';
import { KIND_ASSOCIATE, KIND_CALIBRATE, KIND_DIFF, KIND_FORCED, KIND_REPORT, type AssociateParams, type CalibrateParams, type CcdRef, type DiffParams, type ForcedParams, type RegionRef, type ReportParams } from './params.js';

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
  /** Association regions: rings-skymap patches (default) or Legacy Surveys bricks. */
  regions?: 'patch' | 'brick';
  /** Footprints are grown by this much when finding the regions a CCD touches (header WCS errors). */
  marginArcsec?: number;
  /** Association radius (arcsec, default 0.5 as dia_pipe). */
  assocRadiusArcsec?: number;
  /** diaSource detection threshold on the difference images (default 5). */
  diffThreshold?: number;
}

export const ccdTaskId = (c: { expnum: number; ccd: number }) => `expnum=${c.expnum}/ccd=${c.ccd}`;
export const calibrateKey = (c: { expnum: number; ccd: number }) => `calibrate/${ccdTaskId(c)}`;
export const diffKey = (c: { expnum: number; ccd: number }) => `diff/${ccdTaskId(c)}`;
export const forcedKey = (c: { expnum: number; ccd: number }) => `forced/${ccdTaskId(c)}`;
export const associateKey = (r: RegionRef) => (r.kind === 'patch' ? `associate/tract=${r.tract}/patch=${r.patchX},${r.patchY}` : `associate/brick=${r.brick}`);
export const REPORT_KEY = 'report';

function ref(c: CcdEntry): CcdRef {
  return { expnum: c.expnum, ccd: c.ccd, ccdName: c.ccdName, band: c.band, mjd: c.mjd };
}

/** Plan-time record for template selection: geometry, band and time only (quality comes later). */
function geomRecord(c: CcdEntry): CcdRecord {
  return { expnum: c.expnum, ccdName: c.ccdName, ccdNum: c.ccd, band: c.band, mjd: c.mjd, footprint: c.footprint, fwhmArcsec: 1, depth: 0, zp: 0, zpOk: true, sky: 0, exptime: Number.isFinite(c.exptime) ? c.exptime : 0, path: c.image };
}

/** Points over a CCD footprint grown by `marginArcsec`: a (n+1)² grid on the tangent plane. */
export function footprintGrid(fp: ReadonlyArray<readonly [number, number]>, marginArcsec: number, n = 16): [number, number][] {
  let ra0 = 0, dec0 = 0;
  // centre: mean of unit vectors
  let x = 0, y = 0, z = 0;
  for (const [a, d] of fp) {
    const ar = (a * Math.PI) / 180, dr = (d * Math.PI) / 180;
    x += Math.cos(dr) * Math.cos(ar); y += Math.cos(dr) * Math.sin(ar); z += Math.sin(dr);
  }
  ra0 = (Math.atan2(y, x) * 180) / Math.PI; if (ra0 < 0) ra0 += 360;
  dec0 = (Math.atan2(z, Math.hypot(x, y)) * 180) / Math.PI;
  const corners = fp.map(([a, d]) => gnomonicProject(ra0, dec0, a, d));
  if (corners.length !== 4 || corners.some((c) => !c)) throw new TesseraError(`footprint with ${fp.length} corners: expected 4 on one hemisphere`);
  const c = corners as [number, number][];
  const m = marginArcsec / 3600;
  const grow = (p: [number, number]): [number, number] => {
    const r = Math.hypot(p[0], p[1]);
    return r > 0 ? [p[0] * (1 + m / r), p[1] * (1 + m / r)] : p;
  };
  const g = c.map(grow);
  const out: [number, number][] = [];
  for (let j = 0; j <= n; j++) for (let i = 0; i <= n; i++) {
    const u = i / n, v = j / n;
    // bilinear in the quadrilateral c0 c1 c2 c3
    const px = (1 - u) * (1 - v) * g[0]![0] + u * (1 - v) * g[1]![0] + u * v * g[2]![0] + (1 - u) * v * g[3]![0];
    const py = (1 - u) * (1 - v) * g[0]![1] + u * (1 - v) * g[1]![1] + u * v * g[2]![1] + (1 - u) * v * g[3]![1];
    out.push(gnomonicUnproject(ra0, dec0, px, py));
  }
  return out;
}

export function regionRef(r: AssocRegion): RegionRef {
  if (r.kind === 'patch') {
    const [px, py] = String(r.dataId.patch).split(',').map(Number) as [number, number];
    return { kind: 'patch', tract: Number(r.dataId.tract), patchX: px, patchY: py, name: r.name };
  }
  return { kind: 'brick', brick: r.name, name: r.name };
}

/** The association regions whose inner part a CCD footprint (grown by the margin) touches. */
export function regionsOfFootprint(fp: ReadonlyArray<readonly [number, number]>, kind: 'patch' | 'brick', marginArcsec: number): RegionRef[] {
  const seen = new Map<string, RegionRef>();
  for (const [a, d] of footprintGrid(fp, marginArcsec)) {
    const r = kind === 'patch' ? regionRef(patchRegionFor(a, d)) : regionRef(brickRegion(brickForPosition(a, d)));
    seen.set(associateKey(r), r);
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
}

export interface CampaignPlan {
  tasks: NewTask[];
  /** Search CCD → template candidates (plan time, geometry only). */
  templatesOf: Map<string, CcdEntry[]>;
  regions: RegionRef[];
}

/** Build the full task list of a campaign from registry records (pure; no store). */
export function buildPlan(ccds: readonly CcdEntry[], opts: PlanOptions): CampaignPlan {
  const minSep = opts.minSeparationDays ?? 0.5;
  const regionKind = opts.regions ?? 'patch';
  const margin = opts.marginArcsec ?? 30;
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
  const regionTasks = new Map<string, { region: RegionRef; diffs: CcdRef[] }>();
  const forcedRegions = new Map<string, RegionRef[]>();
  const searches: CcdEntry[] = [];
  for (const c of sorted) {
    if (isTemplate(c) === true) continue;
    const pool = sorted.filter((t) => t.expnum !== c.expnum && isTemplate(t) !== false);
    const sel = selectTemplates(geomRecord(c), pool.map(geomRecord), { minSeparationDays: minSep, beforeOnly: isTemplate(c) === undefined, minOverlapFraction: 0.01 });
    const cands = sel.candidates.map((k) => pool.find((t) => t.expnum === k.record.expnum && t.ccd === k.record.ccdNum)!);
    if (!cands.length) continue;
    cands.sort((a, b) => a.expnum - b.expnum || a.ccd - b.ccd);
    templatesOf.set(ccdTaskId(c), cands);
    searches.push(c);
    const dp: DiffParams = {
      search: ref(c),
      templates: cands.map(ref),
      minSeparationDays: minSep,
      threshold: opts.diffThreshold ?? 5,
    };
    tasks.push({ key: diffKey(c), kind: KIND_DIFF, params: dp, after: [calibrateKey(c), ...cands.map(calibrateKey)], priority: 20, expectedSeconds: 60 });
    const regs = regionsOfFootprint(c.footprint, regionKind, margin);
    forcedRegions.set(ccdTaskId(c), regs);
    for (const r of regs) {
      const k = associateKey(r);
      let e = regionTasks.get(k);
      if (!e) regionTasks.set(k, (e = { region: r, diffs: [] }));
      e.diffs.push(ref(c));
    }
  }
  const regions = [...regionTasks.values()].map((e) => e.region);
  for (const [k, e] of [...regionTasks.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const ap: AssociateParams = { region: e.region, diffs: e.diffs, radiusArcsec: opts.assocRadiusArcsec ?? 0.5 };
    tasks.push({ key: k, kind: KIND_ASSOCIATE, params: ap, after: e.diffs.map(diffKey), priority: 10, expectedSeconds: 10 });
  }
  for (const c of searches) {
    const regs = forcedRegions.get(ccdTaskId(c))!;
    const fp: ForcedParams = { ccd: ref(c), regions: regs };
    tasks.push({ key: forcedKey(c), kind: KIND_FORCED, params: fp, after: regs.map(associateKey), priority: 5, expectedSeconds: 10 });
  }
  if (searches.length) {
    const rp: ReportParams = { title: 'Tessera transient campaign' };
    tasks.push({ key: REPORT_KEY, kind: KIND_REPORT, params: rp, after: [...regionTasks.keys(), ...searches.map(forcedKey)].sort(), priority: 0, expectedSeconds: 20 });
  }
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
}

/** Plan (or re-plan) the campaign of a repository from its CCD registry into `queue`. */
export async function planCampaign(repo: Repository, store: TaskStore, opts: PlanOptions, queue = DEFAULT_QUEUE): Promise<PlanResult> {
  const ccds = readRegistry(repo);
  if (!ccds.length) throw new TesseraError(`${repo.root}: no CCDs registered (give exposure files to tessera plan)`);
  const plan = buildPlan(ccds, opts);
  const r = await loadTasks(store, queue, plan.tasks);
  const byKind: Record<string, number> = {};
  for (const t of plan.tasks) byKind[t.kind] = (byKind[t.kind] ?? 0) + 1;
  return { added: r.added, skipped: r.skipped, total: plan.tasks.length, ccds: ccds.length, searches: plan.templatesOf.size, regions: plan.regions.length, byKind };
}
