import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir } from '../../helpers.js';
import { simulateSurvey } from '../../../src/sim/index.js';
import { smallPreset } from '../../../src/sim/survey.js';
import { smallCamera } from '../../../src/sim/camera.js';
import { buildRefcat } from '../../../src/calib/refcat/index.js';
import { FitsReader } from '../../../src/fits/reader.js';
import { Wcs } from '../../../src/wcs/wcs.js';
import { psfFromHdu } from '../../../src/psf/io.js';
import { calibrateExposure } from '../../../src/pipeline/calibrate/exposure.js';

/** The simulator's truth (CCDS table) for one CCD. */
function truthOf(path: string, ccd: string) {
  const r = FitsReader.open(path);
  try {
    const t = r.readTable('CCDS');
    const names = t.column('ccdname').data as unknown as string[];
    const k = Array.from(names, (s) => String(s).trim()).indexOf(ccd);
    const v = (c: string, n: number) => Array.from((t.column(c).data as Float64Array).subarray(k * n, (k + 1) * n));
    const cd = v('cd', 4), pv1 = v('pv1', 12), pv2 = v('pv2', 12);
    const wcs = Wcs.tpv({ crval: v('crval', 2) as [number, number], crpix: v('crpix', 2) as [number, number], cd: cd as [number, number, number, number], pv1, pv2 });
    return { zp: v('zp_adu', 1)[0]!, wcs, psfX: v('psf_x', 9), psfY: v('psf_y', 9), psfFwhm: v('psf_fwhm', 9) };
  } finally {
    r.close();
  }
}

test('calibrate a simulated exposure (src/sim): ZP within 0.01 mag, astrometry ≤ 20 mas, FWHM within 3% of truth', async () => {
  const dir = tempDir();
  const cfg = smallPreset({ seed: 5 });
  cfg.camera = smallCamera({ nccd: 2, width: 1024, height: 2048 });
  cfg.templateEpochs = 1; cfg.searchEpochs = 0;
  const sim = await simulateSurvey(cfg, { outDir: join(dir, 'sim'), jobs: 0 });
  const e = sim.manifest.exposures[0]!;
  await buildRefcat([join(dir, 'sim', sim.manifest.refcat)], join(dir, 'refcat'));
  const res = await calibrateExposure({
    image: join(dir, 'sim', e.image), weight: join(dir, 'sim', e.weight), mask: join(dir, 'sim', e.mask),
    refcat: join(dir, 'refcat'), outDir: join(dir, 'out'), jobs: 1,
  });
  assert.equal(res.nFailed, 0, JSON.stringify(res.rows.map((q) => q.flags)));
  const spreadStats: { star: boolean; spread: number; spreadErr: number; sn: number; flags: number }[] = [];
  for (const q of res.rows) {
    const t = truthOf(join(dir, 'sim', sim.manifest.truth.ccds), q.ccd);
    const rd = FitsReader.open(join(dir, 'out', String(e.expnum), q.ccd, 'calexp.fits.fz'));
    let astWorst = 0, astRms = 0, fwWorst = 0;
    try {
      const wcs = Wcs.fromHeader(rd.imageHeader('IMAGE'));
      let n = 0;
      for (let j = 0; j <= 8; j++) for (let i = 0; i <= 4; i++) {
        const x = 1 + (i * 1023) / 4, y = 1 + (j * 2047) / 8;
        const [a, d] = wcs.pixToSkyOne(x, y), [ta, td] = t.wcs.pixToSkyOne(x, y);
        const sep = Math.hypot((a - ta) * Math.cos((td * Math.PI) / 180), d - td) * 3600;
        astRms += sep * sep; n++; astWorst = Math.max(astWorst, sep);
      }
      astRms = Math.sqrt(astRms / n);
      const p = rd.readImage('PSF');
      const psf = psfFromHdu(rd.imageHeader('PSF'), p.data as Float32Array, p.shape);
      for (let k = 0; k < 9; k++) {
        const f = psf.shapeAt(t.psfX[k]! - 1, t.psfY[k]! - 1).fwhmOpticalPix;
        fwWorst = Math.max(fwWorst, Math.abs(f / t.psfFwhm[k]! - 1));
      }
    } finally {
      rd.close();
    }
    if (process.env.TESSERA_VERBOSE) console.log(`${q.ccd}: zp ${q.zp.toFixed(4)} vs truth ${t.zp.toFixed(4)}; astrometry rms ${(astRms * 1000).toFixed(1)} mas (worst ${(astWorst * 1000).toFixed(1)}) vs truth WCS; PSF FWHM worst ${(fwWorst * 100).toFixed(1)}%`);
    spreadStats.push(...spreadVsTruth(join(dir, 'out', String(e.expnum), q.ccd, 'src.fits'), join(dir, 'sim', sim.manifest.truth.sources)));
    assert.ok(Math.abs(q.zp - t.zp) < 0.01, `${q.ccd}: zero point ${q.zp} vs truth ${t.zp}`);
    assert.ok(astRms <= 0.02, `${q.ccd}: astrometric rms vs truth ${astRms}″`);
    assert.ok(fwWorst < 0.03, `${q.ccd}: PSF FWHM worst relative error ${fwWorst}`);
  }
  // Star/galaxy separation with SPREAD_MODEL (src.fits), sources matched to the truth within
  // 0.5″ with no other true source within 2″, unflagged (FLAGS = 0: blends with a neighbour
  // widen the profile), PSF S/N > 30: galaxy when SPREAD_MODEL > 0.003.
  const bright = spreadStats.filter((o) => o.sn > 30 && o.flags === 0);
  const THR = 0.003;
  const stars = bright.filter((o) => o.star), gals = bright.filter((o) => !o.star);
  const calledGal = bright.filter((o) => o.spread > THR), calledStar = bright.filter((o) => !(o.spread > THR));
  const starPurity = calledStar.filter((o) => o.star).length / calledStar.length;
  const galPurity = calledGal.filter((o) => !o.star).length / calledGal.length;
  const starCompl = stars.filter((o) => !(o.spread > THR)).length / stars.length;
  const galCompl = gals.filter((o) => o.spread > THR).length / gals.length;
  const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1]!;
  if (process.env.TESSERA_VERBOSE) console.log(`SPREAD_MODEL (S/N > 30, FLAGS = 0): ${stars.length} stars (median ${med(stars.map((o) => o.spread)).toFixed(5)}), ${gals.length} galaxies (median ${med(gals.map((o) => o.spread)).toFixed(5)}); threshold ${THR}: star purity ${starPurity.toFixed(3)} completeness ${starCompl.toFixed(3)}, galaxy purity ${galPurity.toFixed(3)} completeness ${galCompl.toFixed(3)}`);
  assert.ok(stars.length >= 50 && gals.length >= 20, `${stars.length} bright stars, ${gals.length} bright galaxies matched`);
  assert.ok(Math.abs(med(stars.map((o) => o.spread))) < 0.0005, 'stars: median SPREAD_MODEL ≈ 0');
  assert.ok(starPurity >= 0.97 && starCompl >= 0.97, `stars: purity ${starPurity}, completeness ${starCompl}`);
  assert.ok(galPurity >= 0.9 && galCompl >= 0.8, `galaxies: purity ${galPurity}, completeness ${galCompl}`);
});

/** SPREAD_MODEL, its error and PSF S/N of the catalog's sources matched (0.5″) to a true star or galaxy. */
function spreadVsTruth(srcPath: string, truthPath: string): { star: boolean; spread: number; spreadErr: number; sn: number; flags: number }[] {
  const r = FitsReader.open(srcPath);
  const t = r.readTable('SOURCES');
  r.close();
  const col = (name: string) => t.column(name).data as unknown as ArrayLike<number>;
  const ra = col('ALPHA_J2000'), dec = col('DELTA_J2000'), sp = col('SPREAD_MODEL'), spe = col('SPREADERR_MODEL');
  const f = col('FLUX_PSF'), fe = col('FLUXERR_PSF'), fl = col('FLAGS');
  const tr = FitsReader.open(truthPath);
  const kinds = (['STARS', 'GALAXIES'] as const).map((ext) => {
    const tt = tr.readTable(ext);
    return { star: ext === 'STARS', ra: tt.column('ra').data as unknown as ArrayLike<number>, dec: tt.column('dec').data as unknown as ArrayLike<number> };
  });
  tr.close();
  // grid of truth positions, 2″ cells
  const cell = 2 / 3600, grid = new Map<string, { star: boolean; ra: number; dec: number }[]>();
  let raMin = Infinity, raMax = -Infinity, deMin = Infinity, deMax = -Infinity;
  for (let i = 0; i < ra.length; i++) { raMin = Math.min(raMin, ra[i]!); raMax = Math.max(raMax, ra[i]!); deMin = Math.min(deMin, dec[i]!); deMax = Math.max(deMax, dec[i]!); }
  const cosd = Math.cos(((deMin + deMax) / 2) * Math.PI / 180);
  for (const k of kinds) {
    for (let j = 0; j < k.ra.length; j++) {
      const a = k.ra[j]!, d = k.dec[j]!;
      if (a < raMin - 0.01 || a > raMax + 0.01 || d < deMin - 0.01 || d > deMax + 0.01) continue;
      const key = `${Math.floor((a * cosd) / cell)},${Math.floor(d / cell)}`;
      let l = grid.get(key);
      if (!l) grid.set(key, (l = []));
      l.push({ star: k.star, ra: a, dec: d });
    }
  }
  const out: { star: boolean; spread: number; spreadErr: number; sn: number; flags: number }[] = [];
  for (let i = 0; i < ra.length; i++) {
    const cx = Math.floor((ra[i]! * cosd) / cell), cy = Math.floor(dec[i]! / cell);
    let best: { star: boolean } | undefined, bd = 0.5, second = Infinity;
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
      for (const c of grid.get(`${cx + dx},${cy + dy}`) ?? []) {
        const sep = Math.hypot((c.ra - ra[i]!) * cosd, c.dec - dec[i]!) * 3600;
        if (sep < bd) { if (best) second = bd; best = c; bd = sep; } else if (sep < second) second = sep;
      }
    }
    // unambiguous matches only (no second true source within 2″)
    if (best && second > 2) out.push({ star: best.star, spread: sp[i]!, spreadErr: spe[i]!, sn: fe[i]! > 0 ? f[i]! / fe[i]! : 0, flags: fl[i]! });
  }
  return out;
}
