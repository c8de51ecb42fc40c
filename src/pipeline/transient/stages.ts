/**
 * The task kinds of the transient campaign, registered with the engine's kind registry
 * (src/pipeline/kinds.ts) when this module is imported; `tessera worker` imports it
 * before it claims tasks:
 *  - calibrate: src/pipeline/calibrate runCcdTask on one CCD, outputs moved into the layout
 *    (calexp/<band>/<expnum>/calexp-<expnum>-<ccd>.fits.fz, src/…/src-<expnum>-<ccd>.fits);
 *  - diff: ./diff-stage.ts;
 *  - associate, forced, products: src/pipeline/transient/assoc-tasks.ts (imported here so that they register too).
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { registerKind, type KindContext } from '../kinds.js';
import type { Repository } from '../repo.js';
import { runCcdTask } from '../calibrate/task.js';
import { TesseraError } from '../../util/errors.js';
import './assoc-tasks.js';
import { calexpPath, diaSrcPath, diffPath, runDiffStage, srcPath, stampsPath } from './diff-stage.js';
import { KIND_CALIBRATE, KIND_DIFF, type CalibrateParams, type DiffParams } from './params.js';

export const reportPath = (repo: Repository) => join(repo.root, 'report.html');

registerKind({
  kind: KIND_CALIBRATE,
  version: '1',
  outputs: (p: CalibrateParams, repo) => [calexpPath(repo, p), srcPath(repo, p)],
  inputs: (p: CalibrateParams) => [p.image, ...(p.weight ? [p.weight] : []), ...(p.mask ? [p.mask] : []), p.refcat],
  async run(p: CalibrateParams, ctx: KindContext) {
    const repo = ctx.repo;
    const work = join(repo.root, 'calexp', '.work', `${p.expnum}-${p.ccd}-${ctx.task.leaseId}`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    try {
      const r = runCcdTask({ image: p.image, weight: p.weight, mask: p.mask, hdu: p.hdu, refcat: p.refcat, outDir: work });
      if (!r.ok) throw new TesseraError(`calibrate ${p.expnum}/${p.ccdName}: ${r.qa.flags}`);
      const q = r.qa;
      ctx.log(`ZP ${q.zp.toFixed(4)} ± ${q.zpErr.toFixed(4)} (${q.nZpStars} stars), seeing ${q.seeingArcsec.toFixed(2)}″, depth ${q.depth.toFixed(2)}, astrometry rms ${q.astromRmsArcsec.toFixed(3)}″ (${q.nAstromStars} stars), ${q.nSources} sources${q.flags ? `, flags ${q.flags}` : ''}`);
      if (r.timings) ctx.log(`times ${Object.entries(r.timings).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ')}`);
      const dir = join(work, String(q.expnum), q.ccd);
      const cal = calexpPath(repo, p), src = srcPath(repo, p);
      mkdirSync(join(cal, '..'), { recursive: true });
      mkdirSync(join(src, '..'), { recursive: true });
      renameSync(join(dir, 'src.fits'), src);
      renameSync(join(dir, 'calexp.fits.fz'), cal);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
});

registerKind({
  kind: KIND_DIFF,
  version: '1',
  outputs: (p: DiffParams, repo) => [diffPath(repo, p.search), diaSrcPath(repo, p.search), stampsPath(repo, p.search)],
  inputs: (p: DiffParams, repo) => [calexpPath(repo, p.search), ...p.templates.map((t) => calexpPath(repo, t))],
  async run(p: DiffParams, ctx: KindContext) {
    runDiffStage(ctx.repo, p, ctx.log);
  },
});

