import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { planTransientTasks, regionsOverlapping } from '../../src/pipeline/transient/assoc-tasks.js';
import { pipelineExecutor } from '../../src/pipeline/kinds.js';
import { Repository } from '../../src/pipeline/repo.js';
import type { ClaimedTask } from '../../src/engine/types.js';
import { dc2SkyMap } from '../../src/sky/skymap.js';
import { Wcs } from '../../src/wcs/wcs.js';
import { cli, tempDir } from '../helpers.js';
import { H, W, ZP, writeCampaign } from '../products/campaign.js';
import { FitsReader } from '../../src/fits/reader.js';
import { Header } from '../../src/fits/header.js';
import { writeFits, type HduInput } from '../../src/fits/writer.js';
import { datasetPath } from '../../src/pipeline/layout.js';

test('associate / forced / products task kinds run through the engine executor, in dependency order, and are skipped when done', async () => {
  const root = join(tempDir(), 'repo');
  const repo = Repository.init(root);
  const c = writeCampaign(root, 6);
  const tasks = planTransientTasks(c.epochs.map((e) => ({ ...e, zeroPoint: ZP, wcs: c.wcs, width: W, height: H, diffKey: `diff/${e.expnum}/${e.ccd}` })));
  assert.deepEqual(tasks.map((t) => t.kind), ['associate', ...c.epochs.map(() => 'forced'), 'products']);
  assert.deepEqual(tasks[0]!.after, c.epochs.map((e) => `diff/${e.expnum}/${e.ccd}`));
  assert.deepEqual(tasks.at(-1)!.after, c.epochs.map((e) => `forced/diff/${e.expnum}/${e.ccd}`));
  const exec = pipelineExecutor(repo);
  const run = async (pass: number) => {
    const results = [];
    for (const [i, t] of tasks.entries()) {
      const claimed: ClaimedTask = { id: i + 1, queue: 'demo', key: t.key, kind: t.kind, params: t.params, priority: 0, attempts: pass, maxAttempts: 3, leaseId: 1, expectedSeconds: null };
      const o = await exec(claimed, { signal: new AbortController().signal, logPath: join(root, 'logs', `${i}.log`), workerId: 'w' });
      assert.ok(o.ok, `${t.key}: ${o.error}`);
      results.push(o);
    }
    return results;
  };
  const first = await run(1);
  assert.ok(first.every((o) => !(o.result as { skipped?: boolean } | undefined)?.skipped));
  assert.ok(existsSync(join(root, 'report.html')));
  const cands = JSON.parse(readFileSync(join(root, 'tables', 'candidates.json'), 'utf8')) as unknown[];
  assert.ok(cands.length >= 5, `${cands.length} candidates`);
  const q = await cli(['query', root, 'SELECT count(DISTINCT expnum) AS e, count(*) AS n FROM forcedSource', '--json']);
  const row = JSON.parse(q.stdout)[0] as { e: number; n: number };
  assert.equal(row.e, 6);
  const second = await run(2);
  assert.ok(second.every((o) => (o.result as { skipped?: boolean }).skipped === true), 'rerun skips finished tasks');
});

test('forced photometry on calexps (forcedOnCalexp): PSF zero point with APCORR, local background fitted; light curves keep the difference-image points only', async () => {
  const root = join(tempDir(), 'repo');
  const repo = Repository.init(root);
  const c = writeCampaign(root, 3);
  const APCORR = 1.02, SKY = 100;
  // calexp stand-ins: the difference image's pixels on a sky level, with its planes and PSF
  for (const e of c.epochs) {
    const id = { band: e.band, expnum: e.expnum, ccd: e.ccd };
    const r = FitsReader.open(datasetPath(root, 'diff', id));
    const hdus: HduInput[] = [];
    for (const name of ['IMAGE', 'VARIANCE', 'MASK', 'PSF']) {
      const im = r.readImage(name);
      const h = new Header();
      for (const card of im.header.cards) if (card.value !== undefined && !['EXTNAME', 'XTENSION', 'SIMPLE', 'BITPIX', 'PCOUNT', 'GCOUNT'].includes(card.key) && !/^NAXIS/.test(card.key)) h.set(card.key, card.value, card.comment);
      let data = im.data as Float32Array;
      if (name === 'IMAGE') { data = Float32Array.from(data, (v) => v + SKY); h.set('APCORR', APCORR); }
      hdus.push({ kind: 'image', extname: name, header: h, data: name === 'MASK' ? Int32Array.from(data) : Float32Array.from(data), shape: im.shape, ...(name === 'PSF' ? {} : { compress: { type: 'RICE_1' as const } }) });
    }
    r.close();
    writeFits(datasetPath(root, 'calexp', id), hdus);
  }
  const tasks = planTransientTasks(c.epochs.map((e) => ({ ...e, wcs: c.wcs, width: W, height: H })), { forcedOnCalexp: true });
  assert.deepEqual(tasks.map((t) => t.kind), ['associate', ...c.epochs.flatMap(() => ['forced', 'forced']), 'products']);
  const exec = pipelineExecutor(repo);
  for (const [i, t] of tasks.entries()) {
    const claimed: ClaimedTask = { id: i + 1, queue: 'demo', key: t.key, kind: t.kind, params: t.params, priority: 0, attempts: 1, maxAttempts: 3, leaseId: 1, expectedSeconds: null };
    const o = await exec(claimed, { signal: new AbortController().signal, logPath: join(root, 'logs', `${i}.log`), workerId: 'w' });
    assert.ok(o.ok, `${t.key}: ${o.error}`);
  }
  const q = await cli(['query', root, `SELECT d.expnum, d.psfFlux AS fd, k.psfFlux AS fc, k.psfFluxErr AS ec, k.zeroPoint AS zc, k.background AS bc
    FROM forcedSource d JOIN forcedSource k USING (diaObjectId, expnum, ccd) WHERE d.imageType = 'diff' AND k.imageType = 'calexp' AND d.psfFlux > 0`, '--json']);
  assert.equal(q.code, 0, q.stderr);
  const rows = JSON.parse(q.stdout) as { fd: number; fc: number; ec: number; zc: number; bc: number }[];
  assert.ok(rows.length >= 3 * 5, `${rows.length} objects measured on both`);
  // same pixels, same counts: nanomaggies differ by APCORR (the calexp's PSF zero point is MAGZERO − 2.5 log10 APCORR)
  for (const x of rows) assert.ok(Math.abs(x.zc - (ZP - 2.5 * Math.log10(APCORR))) < 1e-9, `zero point ${x.zc}`);
  // counts agree with the difference image's within the noise (the background fit adds a little):
  // fc / APCORR is the calexp's flux on the difference image's scale
  const pulls = rows.map((x) => (x.fc / APCORR - x.fd) / x.ec).map(Math.abs).sort((a, b) => a - b);
  assert.ok(pulls[pulls.length >> 1]! < 0.5, `median |calexp/APCORR − diff| / err ${pulls[pulls.length >> 1]}`);
  // the local background (counts per pixel) absorbs the sky
  for (const x of rows) assert.ok(Math.abs(x.bc - SKY) < 2, `background ${x.bc}`);
  // light curves, candidates and the report use the difference-image rows only
  const id = c.truth.length ? (JSON.parse((await cli(['query', root, 'SELECT diaObjectId FROM diaObject ORDER BY maxSnr DESC LIMIT 1', '--json'])).stdout) as { diaObjectId: number }[])[0]!.diaObjectId : 0;
  const lc = await cli(['lightcurve', root, String(id), '--csv']);
  assert.equal(lc.code, 0, lc.stderr);
  const lines = lc.stdout.trim().split('\n').slice(1);
  assert.equal(lines.length, c.epochs.length);
  assert.ok(lines.every((l) => l.split(',')[8] === 'diff'));
});

test('regionsOverlapping finds every patch a CCD touches', () => {
  const t = dc2SkyMap().tract(4849);
  // a DECam-sized CCD centred on the corner of four patches
  const [ra, dec] = t.pixelToSky(20000 - 0.5, 20000 - 0.5);
  const wcs = Wcs.tan({ crval: [ra, dec], crpix: [1024.5, 2048.5], cd: [-0.263 / 3600, 0, 0, 0.263 / 3600], naxis: [2048, 4096] });
  const rs = regionsOverlapping(wcs, 2048, 4096).map((r) => r.name);
  assert.deepEqual(new Set(rs), new Set(['4849:4,4', '4849:5,4', '4849:4,5', '4849:5,5']));
  assert.equal(rs.length, 4);
});
