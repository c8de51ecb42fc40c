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
    assert.ok(Math.abs(q.zp - t.zp) < 0.01, `${q.ccd}: zero point ${q.zp} vs truth ${t.zp}`);
    assert.ok(astRms <= 0.02, `${q.ccd}: astrometric rms vs truth ${astRms}″`);
    assert.ok(fwWorst < 0.03, `${q.ccd}: PSF FWHM worst relative error ${fwWorst}`);
  }
});
