import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir } from '../../helpers.js';
import { Wcs } from '../../../src/wcs/wcs.js';
import { Repository } from '../../../src/pipeline/repo.js';
import { buildPlan, calibrateKey, diffKey, forcedKey, associateKey, planCampaign, PRODUCTS_KEY } from '../../../src/pipeline/transient/plan.js';
import { wcsCards, entryWcs, readCcds, type CcdEntry } from '../../../src/pipeline/transient/registry.js';
import { ingestFiles } from '../../../src/pipeline/ingest.js';
import { Header } from '../../../src/fits/header.js';
import { writeFits, type HduInput } from '../../../src/fits/writer.js';
import { demoFieldCentre } from '../../../src/pipeline/transient/config.js';
import { patchRegionFor } from '../../../src/assoc/region.js';
import type { NewTask } from '../../../src/engine/types.js';

const SCALE = 0.263 / 3600;
const W = 768, H = 768;

/** A CCD of a 2-CCD camera (side by side in RA, 60 px gap) at a pointing offset (arcsec). */
function ccd(expnum: number, ccdnum: number, mjd: number, dRaArcsec = 0, dDecArcsec = 0, band = 'r'): CcdEntry {
  const [ra0, dec0] = demoFieldCentre();
  const xOff = (ccdnum === 1 ? -1 : 1) * (W + 60) / 2;
  // TAN about the field centre; crpix puts the field centre xOff pixels from the CCD centre.
  const wcs = Wcs.tan({
    crval: [ra0 + dRaArcsec / 3600 / Math.cos((dec0 * Math.PI) / 180), dec0 + dDecArcsec / 3600],
    crpix: [(W + 1) / 2 - xOff, (H + 1) / 2],
    cd: [[-SCALE, 0], [0, SCALE]],
  });
  const footprint = [[0.5, 0.5], [W + 0.5, 0.5], [W + 0.5, H + 0.5], [0.5, H + 0.5]].map(([x, y]) => wcs.pixToSkyOne(x!, y!) as [number, number]);
  return { expnum, ccd: ccdnum, ccdName: `C${ccdnum}`, band, mjd, exptime: 90, image: `/data/exp${expnum}.fits.fz`, hdu: ccdnum, width: W, height: H, footprint, wcs: wcsCards(wcs) };
}

/** Patches (rings skymap) whose inner part holds some pixel of the CCD (dense grid, no margin). */
function patchesOf(c: CcdEntry): Set<string> {
  const wcs = entryWcs(c);
  const s = new Set<string>();
  for (let y = 1; y <= H; y += 16) for (let x = 1; x <= W; x += 16) {
    const [a, d] = wcs.pixToSkyOne(x, y);
    s.add(patchRegionFor(a, d).name);
  }
  return s;
}

const byKey = (tasks: NewTask[]) => new Map(tasks.map((t) => [t.key, t]));
const sorted = (a: readonly string[] | undefined) => [...(a ?? [])].sort();

// one template exposure, two search exposures; the second search exposure is dithered 40″ in RA
const REG: CcdEntry[] = [
  ccd(100, 1, 60200.1), ccd(100, 2, 60200.1),
  ccd(101, 1, 60245.1), ccd(101, 2, 60245.1),
  ccd(102, 1, 60248.1, 40), ccd(102, 2, 60248.1, 40),
];

test('plan: calibrate per CCD; diff per search CCD after its calibrate and its overlapping templates; fan-in to patches', () => {
  const plan = buildPlan(REG, { refcat: '/refcat', templates: [100] });
  const T = byKey(plan.tasks);
  assert.equal(plan.tasks.length, new Set(plan.tasks.map((t) => t.key)).size, 'unique keys');
  for (const c of REG) assert.equal(T.get(calibrateKey(c))?.kind, 'calibrate');
  for (const c of REG.filter((c) => c.expnum === 100)) assert.ok(!T.has(diffKey(c)), 'no diff for template CCDs');
  // unshifted search CCDs overlap only the template CCD with the same position
  assert.deepEqual(sorted(T.get(diffKey(REG[2]!))!.after), sorted([calibrateKey(REG[2]!), calibrateKey(REG[0]!)]));
  assert.deepEqual(sorted(T.get(diffKey(REG[3]!))!.after), sorted([calibrateKey(REG[3]!), calibrateKey(REG[1]!)]));
  // the 40″-dithered CCD 1 of exposure 102 still lies within template CCD 1 only; CCD 2 reaches into the
  // template's CCD 1 across the 60-px gap (40″ = 152 px): both template CCDs are candidates
  assert.deepEqual(sorted(T.get(diffKey(REG[5]!))!.after), sorted([calibrateKey(REG[5]!), calibrateKey(REG[0]!), calibrateKey(REG[1]!)]));
  // fan-in: each associate task waits for exactly the diffs of the search CCDs that touch its patch
  const searches = REG.filter((c) => c.expnum !== 100);
  const allPatches = new Set(searches.flatMap((c) => [...patchesOf(c)]));
  assert.ok(allPatches.size >= 2, 'the field straddles a patch boundary');
  const assoc = plan.tasks.filter((t) => t.kind === 'associate');
  assert.deepEqual(sorted(assoc.map((t) => t.key)), sorted([...allPatches].map(associateKey)));
  for (const p of allPatches) {
    const want = searches.filter((c) => patchesOf(c).has(p)).map(diffKey);
    assert.deepEqual(sorted(T.get(associateKey(p))!.after), sorted(want), `associate ${p}`);
  }
  // forced per search CCD after the associate tasks of its patches; products after every forced task
  for (const c of searches) assert.deepEqual(sorted(T.get(forcedKey(c))!.after), sorted([...patchesOf(c)].map(associateKey)), `forced ${c.expnum}/${c.ccd}`);
  assert.deepEqual(sorted(T.get(PRODUCTS_KEY)!.after), sorted(searches.map(forcedKey)));
  // every dependency names a planned task
  for (const t of plan.tasks) for (const a of t.after ?? []) assert.ok(T.has(a), `${t.key} waits for unknown ${a}`);
});

test('plan: forcedOnCalexp adds forced photometry on each search CCD\'s calexp, after the same associate tasks', () => {
  const plain = buildPlan(REG, { refcat: '/refcat', templates: [100] });
  const plan = buildPlan(REG, { refcat: '/refcat', templates: [100], forcedOnCalexp: true });
  const T = byKey(plan.tasks);
  const searches = REG.filter((c) => c.expnum !== 100);
  assert.equal(plan.tasks.length, plain.tasks.length + searches.length);
  for (const c of searches) {
    const k = `forced/calexp/${c.expnum}/${c.ccd}`;
    assert.equal(T.get(k)?.kind, 'forced');
    assert.equal((T.get(k)!.params as { imageType: string }).imageType, 'calexp');
    assert.deepEqual(sorted(T.get(k)!.after), sorted(T.get(forcedKey(c))!.after));
  }
  assert.ok(searches.every((c) => T.get(PRODUCTS_KEY)!.after!.includes(`forced/calexp/${c.expnum}/${c.ccd}`)), 'products waits for the calexp forced tasks too');
});

test('plan: template-before MJD and the default (earlier epochs, ≥ 0.5 day apart, same band)', () => {
  const p1 = buildPlan(REG, { refcat: '/r', templateBefore: 60240 });
  assert.deepEqual(sorted(p1.tasks.filter((t) => t.kind === 'diff').map((t) => t.key)), sorted(REG.slice(2).map(diffKey)));
  // default: exposure 101 is a template candidate of 102 (3 days earlier) as well as 100
  const p2 = buildPlan(REG, { refcat: '/r' });
  const T2 = byKey(p2.tasks);
  assert.ok(!T2.has(diffKey(REG[0]!)), 'the first epoch has no earlier template');
  assert.ok(sorted(T2.get(diffKey(REG[4]!))!.after).includes(calibrateKey(REG[2]!)));
  assert.ok(sorted(T2.get(diffKey(REG[4]!))!.after).includes(calibrateKey(REG[0]!)));
  // too close in time or another band: no template
  const p3 = buildPlan([ccd(1, 1, 60000), ccd(2, 1, 60000.3), ccd(3, 1, 60001, 0, 0, 'g')], { refcat: '/r' });
  assert.equal(p3.tasks.filter((t) => t.kind === 'diff').length, 0);
  assert.throws(() => buildPlan(REG, { refcat: '/r', templates: [999] }), /template exposure 999 is not registered/);
});

/** An exposure file (2 CCD HDUs of zeros, tile-compressed) with the WCS of REG's CCDs. */
function writeExposure(path: string, ccds: CcdEntry[]): void {
  const p = new Header([], 'primary');
  p.set('EXPNUM', ccds[0]!.expnum); p.set('MJD-OBS', ccds[0]!.mjd); p.set('BAND', ccds[0]!.band); p.set('EXPTIME', 90);
  const hdus: HduInput[] = [{ kind: 'image', header: p, data: null, shape: [] }];
  for (const c of ccds) {
    const h = new Header([], `C${c.ccd}`);
    h.set('CCDNUM', c.ccd);
    for (const [k, v] of Object.entries(c.wcs!)) h.set(k, v);
    hdus.push({ kind: 'image', extname: `C${c.ccd}`, header: h, data: new Float32Array(W * H), shape: [W, H], compress: { type: 'RICE_1' } });
  }
  writeFits(path, hdus);
}

test('plan: re-planning is idempotent; new exposures add only their tasks (registry from tessera ingest)', async () => {
  const dir = tempDir();
  const repo = Repository.init(join(dir, 'repo'));
  const file = (e: number) => join(dir, `exp${e}_ooi_r_v1.fits.fz`);
  for (const e of [100, 101, 102]) writeExposure(file(e), REG.filter((c) => c.expnum === e));
  const store = await repo.openStore();
  try {
    await ingestFiles(store, [file(100), file(101)]);
    const reg = await readCcds(store);
    assert.equal(reg.ccds.length, 4);
    assert.deepEqual(reg.skipped, []);
    // footprints and header WCS as registered agree with the synthetic CCDs
    for (const c of reg.ccds) {
      const want = REG.find((r) => r.expnum === c.expnum && r.ccd === c.ccd)!;
      for (let k = 0; k < 4; k++) assert.ok(Math.abs(c.footprint[k]![1] - want.footprint[k]![1]) < 1e-6);
    }
    const a = await planCampaign(repo, store, { refcat: '/r', templates: [100] });
    assert.equal(a.skipped, 0);
    assert.ok(a.added > 0);
    const b = await planCampaign(repo, store, { refcat: '/r', templates: [100] });
    assert.equal(b.added, 0, 're-plan adds nothing');
    assert.equal(b.skipped, a.added);
    const before = new Set((await store.tasks({ queue: 'transient', limit: 10000 })).map((t) => t.key));
    await ingestFiles(store, [file(102)]);
    const c = await planCampaign(repo, store, { refcat: '/r', templates: [100] });
    const after = (await store.tasks({ queue: 'transient', limit: 10000 })).map((t) => t.key).filter((k) => !before.has(k));
    assert.deepEqual(sorted(after), sorted([...REG.slice(4).flatMap((c) => [calibrateKey(c), diffKey(c), forcedKey(c)])]));
    assert.equal(c.added, after.length);
    // the dependencies of a new diff point at existing calibrate tasks
    const t = await store.getTask({ queue: 'transient', key: diffKey(REG[4]!) });
    const deps = await store.dependencies([t!.id]);
    assert.equal(deps.length, 2);
  } finally {
    await store.close();
  }
});
