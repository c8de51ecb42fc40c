import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir } from '../../helpers.js';
import { Repository } from '../../../src/pipeline/repo.js';
import { Header } from '../../../src/fits/header.js';
import { writeFits } from '../../../src/fits/writer.js';
import { Wcs } from '../../../src/wcs/wcs.js';
import { TesseraError } from '../../../src/util/errors.js';
import { calexpPath, calexpRecord, runDiffStage } from '../../../src/pipeline/transient/diff-stage.js';
import type { CcdRef, DiffParams } from '../../../src/pipeline/transient/params.js';

const S = 0.263 / 3600;

/** A calexp IMAGE header only (what template selection reads). */
function fakeCalexp(repo: Repository, c: CcdRef, ra: number, dec: number, q: { fwhm: number; depth: number; zp: number }): void {
  const h = new Header([], 'IMAGE');
  Wcs.tan({ crval: [ra, dec], crpix: [32.5, 32.5], cd: [[-S, 0], [0, S]] }).toHeader(h);
  h.set('FWHM', q.fwhm); h.set('DEPTH', q.depth); h.set('MAGZERO', q.zp); h.set('SKYLEVEL', 100); h.set('EXPTIME', 90);
  writeFits(calexpPath(repo, c), [{ kind: 'image', data: null, shape: [] }, { kind: 'image', extname: 'IMAGE', header: h, data: new Float32Array(64 * 64), shape: [64, 64] }]);
}

const ref = (expnum: number, mjd: number): CcdRef => ({ expnum, ccd: 1, ccdName: 'C1', band: 'r', mjd });

test('diff stage: quality from the calexp header; clear errors when the search calexp is missing or no template is usable', () => {
  const repo = Repository.init(join(tempDir(), 'repo'));
  const search = ref(3, 60245), t1 = ref(1, 60200), t2 = ref(2, 60245.2);
  const p: DiffParams = { search, templates: [t1, t2], minSeparationDays: 0.5, threshold: 5 };
  assert.throws(() => runDiffStage(repo, p), (e: unknown) => e instanceof TesseraError && /calexp-3-01\.fits\.fz: calibrated image missing \(did its calibrate task succeed\?\)/.test(e.message));
  fakeCalexp(repo, search, 150, 2, { fwhm: 1.1, depth: 23.5, zp: 30 });
  const rec = calexpRecord(search, calexpPath(repo, search));
  assert.equal(rec.fwhmArcsec, 1.1);
  assert.equal(rec.depth, 23.5);
  assert.ok(rec.zpOk);
  assert.equal(rec.footprint.length, 4);
  // t1's calibration failed (no calexp): skipped; t2 is too close in time (0.2 d): no usable template
  fakeCalexp(repo, t2, 150, 2, { fwhm: 1, depth: 24, zp: 30 });
  const lines: string[] = [];
  assert.throws(() => runDiffStage(repo, p, (s) => lines.push(s)), (e: unknown) => e instanceof TesseraError && /no usable template among 2 candidate CCD\(s\) \(2\/C1: too close in time\)/.test(e.message));
  assert.ok(lines.some((l) => /1\/C1: no calexp \(calibration failed\), skipped/.test(l)), lines.join('\n'));
  // a template elsewhere on the sky does not overlap
  fakeCalexp(repo, t1, 151, 2, { fwhm: 1, depth: 24, zp: 30 });
  assert.throws(() => runDiffStage(repo, { ...p, templates: [t1] }), /no usable template among 1 candidate CCD\(s\) \(none overlaps\)/);
});
