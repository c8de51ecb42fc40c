/**
 * `tessera calibrate` on one exposure: every selected CCD HDU is calibrated (./task.ts), in
 * parallel across `jobs` worker threads; one failing CCD fails alone. Afterwards the exposure
 * zero point (median over CCDs) is computed, outlier CCDs (|ZP − median| > 0.15 mag) are flagged,
 * and OUT/qa.csv is written (rows of other exposures already in it are kept; rows of this
 * exposure are replaced).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { TesseraError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { FitsReader } from '../../fits/reader.js';
import { Refcat } from '../../calib/refcat/index.js';
import { exposureZeroPoint } from '../../calib/photometry.js';
import type { CalibrateConfig, CcdQa } from './ccd.js';
import { runCcdTask, failedQa, type CcdTask, type CcdTaskResult } from './task.js';

export interface CalibrateExposureOptions {
  image: string;
  weight?: string;
  mask?: string;
  refcat: string;
  outDir: string;
  /** CCDs by CCDNUM or EXTNAME (default: every image HDU). */
  ccds?: string[];
  /** Parallel workers (default: available cores). 1 runs in this thread. */
  jobs?: number;
  config?: CalibrateConfig;
  /** Called as each CCD finishes. */
  onCcd?: (r: CcdTaskResult) => void;
}

export interface CalibrateExposureResult {
  rows: CcdQa[];
  nFailed: number;
  exposureZp: number;
  outliers: string[];
  exposureFlagged: boolean;
}

export const QA_COLUMNS = ['expnum', 'ccd', 'band', 'mjd', 'zp', 'zp_err', 'seeing', 'sky', 'depth', 'astrom_rms', 'n_stars', 'flags'] as const;

function fmt(v: number, d: number): string {
  return Number.isFinite(v) ? v.toFixed(d) : '';
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function qaCsvRow(q: CcdQa): string {
  return [String(q.expnum), q.ccd, q.band, fmt(q.mjd, 6), fmt(q.zp, 4), fmt(q.zpErr, 4), fmt(q.seeingArcsec, 3), fmt(q.sky, 2),
    fmt(q.depth, 3), fmt(q.astromRmsArcsec, 4), String(q.nZpStars), csvField(q.flags)].join(',');
}

/** Select the CCD HDUs of an exposure file. */
export function ccdHdus(path: string, select?: string[]): { index: number; name: string; ccdnum?: number }[] {
  const r = FitsReader.open(path);
  try {
    const out: { index: number; name: string; ccdnum?: number }[] = [];
    for (const h of r.hdus) {
      if (h.type !== 'image' && h.type !== 'compressed-image') continue;
      const ih = r.imageHeader(h.index);
      if (ih.get('NAXIS') !== 2) continue;
      const cn = ih.get('CCDNUM');
      out.push({ index: h.index, name: (h.extname ?? `HDU${h.index}`).trim(), ccdnum: typeof cn === 'number' ? cn : undefined });
    }
    if (out.length === 0) throw new TesseraError(`${path}: no 2-D image HDU (no CCD) in the file`);
    if (!select || select.length === 0) return out;
    const chosen: typeof out = [];
    for (const s of select) {
      const t = s.trim();
      const hit = /^\d+$/.test(t)
        ? out.find((c) => c.ccdnum === Number(t)) ?? (out.every((c) => c.ccdnum === undefined) ? out.find((c) => c.index === Number(t)) : undefined)
        : out.find((c) => c.name.toUpperCase() === t.toUpperCase());
      if (!hit) throw new TesseraError(`${path}: no CCD '${t}' (CCDs: ${out.map((c) => c.ccdnum !== undefined ? `${c.ccdnum}/${c.name}` : c.name).join(', ')})`);
      if (!chosen.includes(hit)) chosen.push(hit);
    }
    return chosen;
  } finally {
    r.close();
  }
}

async function runPool(tasks: CcdTask[], jobs: number, onCcd?: (r: CcdTaskResult) => void): Promise<CcdTaskResult[]> {
  const results: CcdTaskResult[] = new Array(tasks.length);
  if (jobs <= 1 || tasks.length <= 1) {
    for (let i = 0; i < tasks.length; i++) { results[i] = runCcdTask(tasks[i]!); onCcd?.(results[i]!); }
    return results;
  }
  let next = 0;
  const url = new URL('./worker.js', import.meta.url);
  // One lane per worker; a worker that crashes (e.g. out of memory) fails its CCD only and is
  // replaced by a fresh one for the remaining CCDs.
  const lane = (): Promise<void> => new Promise<void>((resolve) => {
    const w = new Worker(url);
    let current = -1;
    let done = false;
    const feed = () => {
      if (next >= tasks.length) { done = true; void w.terminate().then(() => resolve()); return; }
      current = next++;
      w.postMessage({ id: current, task: tasks[current]! });
    };
    w.on('message', (m: { id: number; result: CcdTaskResult }) => { results[m.id] = m.result; onCcd?.(m.result); feed(); });
    w.on('error', (e) => {
      if (done) return;
      done = true;
      if (current >= 0 && !results[current]) {
        const t = tasks[current]!;
        results[current] = { ok: false, seconds: 0, qa: failedQa(NaN, `HDU${t.hdu}`, '', NaN, `worker crashed: ${e.message}`) };
        onCcd?.(results[current]!);
      }
      void w.terminate();
      lane().then(resolve, resolve);
    });
    feed();
  });
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, lane));
  return results;
}

export async function calibrateExposure(opts: CalibrateExposureOptions): Promise<CalibrateExposureResult> {
  for (const [what, p] of [['image', opts.image], ['weight', opts.weight], ['mask', opts.mask]] as const) {
    if (p !== undefined && !existsSync(p)) throw new TesseraError(`${p}: ${what} file not found`);
  }
  Refcat.open(opts.refcat); // a clear error now rather than one per CCD
  const ccds = ccdHdus(opts.image, opts.ccds);
  mkdirSync(opts.outDir, { recursive: true });
  const tasks: CcdTask[] = ccds.map((c) => ({ image: opts.image, weight: opts.weight, mask: opts.mask, hdu: c.index, refcat: opts.refcat, outDir: opts.outDir, config: opts.config }));
  const jobs = Math.max(1, opts.jobs ?? availableParallelism());
  const results = await runPool(tasks, jobs, opts.onCcd);
  const rows = results.map((r) => r.qa);
  // Exposure zero point and outlier CCDs.
  const ok = rows.filter((q) => Number.isFinite(q.zp));
  const ex = exposureZeroPoint(ok.map((q) => ({ ccd: q.ccd, zp: q.zp })), 0.15);
  for (const q of rows) {
    if (ex.outliers.includes(q.ccd)) q.flags = q.flags ? `ZP_OUTLIER; ${q.flags}` : `ZP_OUTLIER (${(q.zp - ex.zp).toFixed(3)} mag from exposure median)`;
    if (ex.exposureFlagged && ok.length > 0 && !q.flags.startsWith('FAILED')) q.flags = q.flags ? `${q.flags}; EXPOSURE_FLAGGED` : 'EXPOSURE_FLAGGED';
  }
  writeQaCsv(join(opts.outDir, 'qa.csv'), rows);
  return { rows, nFailed: results.filter((r) => !r.ok).length, exposureZp: ex.zp, outliers: ex.outliers, exposureFlagged: ex.exposureFlagged };
}

/** Merge rows into OUT/qa.csv: replace rows with the same (expnum, ccd), keep the others. */
export function writeQaCsv(path: string, rows: CcdQa[]): void {
  const header = QA_COLUMNS.join(',');
  const keep: string[] = [];
  const mine = new Set(rows.map((q) => `${q.expnum},${q.ccd}`));
  if (existsSync(path)) {
    const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
    if (lines[0] === header) {
      for (const l of lines.slice(1)) {
        const [e, c] = l.split(',');
        if (!mine.has(`${e},${c}`)) keep.push(l);
      }
    }
  }
  const out = [header, ...keep, ...rows.map(qaCsvRow)].join('\n') + '\n';
  writeFileAtomic(path, out);
}
