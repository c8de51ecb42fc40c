import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectTemplates, templateScore, footprintSamples, type CcdRecord } from '../../src/templates/select.js';
import { TesseraError } from '../../src/util/errors.js';

/** A CCD footprint: a box of w × h degrees (on the sky) centred on (ra, dec). */
function box(ra: number, dec: number, w = 0.15, h = 0.3): [number, number][] {
  const c = Math.cos((dec * Math.PI) / 180);
  const dx = w / 2 / c, dy = h / 2;
  return [[ra - dx, dec - dy], [ra + dx, dec - dy], [ra + dx, dec + dy], [ra - dx, dec + dy]];
}

let nextExp = 1000;
function rec(p: Partial<CcdRecord> & { ra?: number; dec?: number }): CcdRecord {
  const { ra = 150, dec = 2, ...rest } = p;
  return {
    expnum: nextExp++, ccdName: 'N4', ccdNum: 4, band: 'r', mjd: 59000, footprint: box(ra, dec),
    fwhmArcsec: 1.0, depth: 23.5, zp: 31.2, zpOk: true, sky: 500, exptime: 90, path: 'x.fits.fz', ...rest,
  };
}

const search = rec({ mjd: 59100, fwhmArcsec: 1.1 });

test('selection: band, time, quality cuts and overlap; reasons are reported', () => {
  const full = rec({ mjd: 59050, depth: 23.6 });
  const east = rec({ mjd: 59060, ra: 150 + 0.075 / Math.cos(2 * Math.PI / 180), depth: 24.0 });
  const gband = rec({ band: 'g', mjd: 59000 });
  const close = rec({ mjd: 59099.8 });
  const seeing = rec({ mjd: 59000, fwhmArcsec: 2.5 });
  const badzp = rec({ mjd: 59000, zpOk: false });
  const shallow = rec({ mjd: 59000, depth: 21 });
  const far = rec({ mjd: 59000, ra: 155 });
  const after = rec({ mjd: 59110 });
  const sel = selectTemplates(search, [full, east, gband, close, seeing, badzp, shallow, far, after, search], { maxFwhmArcsec: 2, minDepth: 22 });
  const ids = sel.candidates.map((c) => c.record.expnum);
  assert.deepEqual(new Set(ids), new Set([full.expnum, east.expnum, after.expnum]));
  const reason = (r: CcdRecord) => sel.rejected.find((x) => x.record === r)?.reason;
  assert.equal(reason(gband), 'band');
  assert.equal(reason(close), 'too close in time');
  assert.equal(reason(seeing), 'seeing');
  assert.equal(reason(badzp), 'zero point flag');
  assert.equal(reason(shallow), 'depth');
  assert.equal(reason(far), undefined, 'a CCD elsewhere on the sky is not listed');
  const fr = sel.candidates.find((c) => c.record === full)!, ea = sel.candidates.find((c) => c.record === east)!;
  assert.ok(Math.abs(fr.overlapFraction - 1) < 0.01, `full overlap ${fr.overlapFraction}`);
  assert.ok(Math.abs(ea.overlapFraction - 0.5) < 0.03, `half overlap ${ea.overlapFraction}`);
  // east is deeper by 0.4 mag but covers half: 24.0 − 0.75 < 23.6 → full ranks first
  assert.equal(sel.candidates[0]!.record, full);
  assert.equal(ea.score, templateScore(east, 1.1, ea.overlapFraction));
  // one full-overlap template covers it
  assert.equal(sel.cover.length, 1);
  assert.equal(sel.cover[0]!.record, full);
  assert.ok(sel.coveredFraction > 0.99);
  // before-only drops the later one
  const sel2 = selectTemplates(search, [full, after], { beforeOnly: true });
  assert.deepEqual(sel2.candidates.map((c) => c.record), [full]);
  assert.equal(sel2.rejected[0]!.reason, 'after search');
  // a larger separation requirement
  const sel3 = selectTemplates(search, [full, east], { minSeparationDays: 45 });
  assert.deepEqual(sel3.candidates.map((c) => c.record), [full]);
});

test('selection: ranking by depth and seeing (score documented)', () => {
  const deep = rec({ mjd: 59000, depth: 24.0, fwhmArcsec: 1.0 });
  const blurry = rec({ mjd: 59001, depth: 24.2, fwhmArcsec: 1.6 }); // 24.2 − 2.5 log10(1.6/1.1) = 23.79
  const sharp = rec({ mjd: 59002, depth: 23.9, fwhmArcsec: 0.8 });
  const sel = selectTemplates(search, [blurry, sharp, deep]);
  assert.deepEqual(sel.candidates.map((c) => c.record), [deep, sharp, blurry]);
  assert.ok(Math.abs(sel.candidates[2]!.score - (24.2 - 2.5 * Math.log10(1.6 / 1.1))) < 0.02);
  // with the seeing weight off, depth alone ranks
  const sel0 = selectTemplates(search, [blurry, sharp, deep], { seeingWeight: 0 });
  assert.equal(sel0.candidates[0]!.record, blurry);
});

test('selection: cover set of several partial templates (greedy maximum coverage)', () => {
  const off = 0.15 / Math.cos(2 * Math.PI / 180);
  // four CCD-sized templates offset by half a CCD in RA and/or Dec: each covers 25–50%
  const west = rec({ mjd: 59000, ra: 150 - off / 2, depth: 24.5 });
  const east = rec({ mjd: 59001, ra: 150 + off / 2, depth: 24.4 });
  const north = rec({ mjd: 59002, dec: 2.15, depth: 24.6 });
  const sliver = rec({ mjd: 59003, ra: 150 + off * 0.97, depth: 26 }); // covers ~3%
  const sel = selectTemplates(search, [sliver, north, west, east], { minOverlapFraction: 0.01 });
  assert.equal(sel.candidates.length, 4);
  // west + east cover everything; north alone covers 50%
  assert.ok(sel.coverableFraction > 0.99);
  assert.ok(sel.coveredFraction > 0.99, `covered ${sel.coveredFraction}`);
  assert.ok(sel.cover.length <= 3, `cover of ${sel.cover.length}`);
  const chosen = new Set(sel.cover.map((c) => c.record));
  assert.ok(chosen.has(west) && chosen.has(east), 'west and east are needed to reach full coverage');
  assert.ok(!chosen.has(sliver));
  // the union of the cover set's sample hits really covers the CCD
  const pts = footprintSamples(search.footprint, 2000);
  assert.ok(pts.length / 3 > 1500 && pts.length / 3 < 2500);
  // limit the number of templates: one is not enough
  const one = selectTemplates(search, [north, west, east], { maxCoverTemplates: 1 });
  assert.equal(one.cover.length, 1);
  assert.ok(Math.abs(one.coveredFraction - 0.5) < 0.03);
});

test('selection: malformed footprints give a clear error', () => {
  const bad = rec({ mjd: 59000, footprint: [[150, 2], [150.1, 2]] });
  assert.throws(() => selectTemplates(search, [bad]), (e: unknown) => e instanceof TesseraError && /template expnum \d+ CCD N4: footprint needs at least 3 corners/.test((e as Error).message));
  const nan = rec({ mjd: 59000, footprint: [[150, 2], [NaN, 2], [150, 2.1]] });
  assert.throws(() => selectTemplates(nan, []), /search expnum \d+ CCD N4: bad footprint corner/);
});
