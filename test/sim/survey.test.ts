/**
 * End-to-end checks of the simulator on the small preset (2 CCDs of 1024², 2 template + 3 search
 * exposures): statistics of the pixels against the truth, masks, WCS, reference catalog,
 * determinism, and the files as FITS readers (ours, astropy) see them.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { FitsReader } from '../../src/fits/index.js';
import { Wcs } from '../../src/wcs/index.js';
import {
  simulateSurvey, smallPreset, renderCcd, planSurvey, generateCatalog, MASK_BITS, SOURCE_TYPE, openSimulation, type SimulationResult,
} from '../../src/sim/index.js';
import { psfFluxOutside } from '../../src/sim/psf.js';
import { tempDir, PYTHON } from '../helpers.js';

let sim: SimulationResult;
let dir: string;
const SEED = 21;

before(async () => {
  dir = tempDir('tessera-sim-');
  sim = await simulateSurvey(smallPreset({ seed: SEED }), { outDir: dir, jobs: 2 });
});

interface Ccd { img: Float32Array; wgt: Float32Array; msk: Int16Array; w: number; h: number; hdr: ReturnType<FitsReader['imageHeader']> }

function readCcd(expIdx: number, name: string): Ccd {
  const e = sim.manifest.exposures[expIdx]!;
  const ri = FitsReader.open(join(dir, e.image)), rw = FitsReader.open(join(dir, e.weight)), rm = FitsReader.open(join(dir, e.mask));
  const im = ri.readImage(name), wm = rw.readImage(name), mm = rm.readImage(name);
  const out = {
    img: im.data as Float32Array, wgt: wm.data as Float32Array, msk: mm.data as Int16Array,
    w: im.shape[0]!, h: im.shape[1]!, hdr: im.header,
  };
  ri.close(); rw.close(); rm.close();
  return out;
}

function table(path: string, ext: string) {
  const r = FitsReader.open(join(dir, path));
  const t = r.readTable(ext);
  r.close();
  return t;
}
function num(t: ReturnType<typeof table>, name: string): number[] {
  return Array.from(t.column(name).data as ArrayLike<number | bigint>, Number);
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const APER = 20;
interface Star { x: number; y: number; flux: number; inside: number; near: number; mag: number; ra: number; dec: number; expIdx: number; ccd: string; zp: number; alpha: number; fwhm: number }

/** Bright, unsaturated, isolated stars on every CCD of every exposure (FITS x, y). */
function isolatedStars(minSnr: number): Star[] {
  const ep = table(sim.manifest.truth.epochs, 'EPOCHS');
  const cc = table(sim.manifest.truth.ccds, 'CCDS');
  const E = num(ep, 'expnum'), C = num(ep, 'ccdnum'), T = num(ep, 'type'), X = num(ep, 'x'), Y = num(ep, 'y');
  const F = num(ep, 'flux'), M = num(ep, 'mag'), P = num(ep, 'peak'), RA = num(ep, 'ra'), DE = num(ep, 'dec');
  const ccE = num(cc, 'expnum'), ccC = num(cc, 'ccdnum'), zp = num(cc, 'zp_adu'), sat = num(cc, 'saturate'), sky = num(cc, 'sky_adu');
  const alpha = Array.from(cc.column('psf_alpha').data as Float64Array), fwhm = Array.from(cc.column('psf_fwhm').data as Float64Array);
  const out: Star[] = [];
  sim.manifest.exposures.forEach((e, ei) => {
    for (const name of e.ccds) {
      const ccdnum = sim.plan.config.camera.ccds.find((c) => c.name === name)!.ccdnum;
      const row = ccE.findIndex((v, i) => v === e.expnum && ccC[i] === ccdnum);
      const idx: number[] = [];
      for (let k = 0; k < E.length; k++) if (E[k] === e.expnum && C[k] === ccdnum) idx.push(k);
      for (const k of idx) {
        if (T[k] !== SOURCE_TYPE.STAR || !(P[k]! < 0.4 * sat[row]!)) continue;
        if (X[k]! < 60 || Y[k]! < 60 || X[k]! > 1024 - 60 || Y[k]! > 1024 - 60) continue;
        const snr = F[k]! / Math.sqrt(F[k]! / 4 + 2000 * sky[row]! / 4);
        if (snr < minSnr) continue;
        // Neighbours well inside the aperture are counted in the expected flux; anything on its
        // edge, galaxies near it and bright stars in the background annulus reject the star.
        let ok = true, inside = 0, near = 0;
        for (const j of idx) {
          if (j === k || !(F[j]! > 0)) continue;
          const d = Math.hypot(X[j]! - X[k]!, Y[j]! - Y[k]!);
          const margin = T[j] === SOURCE_TYPE.GALAXY ? 12 : 8;
          if (d < 16) near += F[j]! / F[k]!;
          if (d < APER - margin) { inside += F[j]!; continue; }
          if (d < APER + margin && F[j]! > 0.004 * F[k]!) { ok = false; break; }
          if (d < 100 && F[j]! > F[k]!) { ok = false; break; }
        }
        // a bright neighbour inside the aperture loses part of its wings outside it: skip
        if (!ok || inside > 0.05 * F[k]!) continue;
        out.push({ x: X[k]!, y: Y[k]!, flux: F[k]!, inside, near, mag: M[k]!, ra: RA[k]!, dec: DE[k]!, expIdx: ei, ccd: name, zp: zp[row]!, alpha: alpha[row * 9 + 4]!, fwhm: fwhm[row * 9 + 4]! });
      }
    }
  });
  return out;
}

test('files: three MEFs per exposure with CP-like keywords, read back by our reader', () => {
  assert.equal(sim.manifest.exposures.length, 5);
  assert.deepEqual(sim.manifest.exposures.map((e) => e.role), ['template', 'template', 'search', 'search', 'search']);
  for (const e of sim.manifest.exposures) {
    assert.match(e.image, /c4d_\d{6}_\d{6}_ooi_r_v1\.fits\.fz$/);
    for (const path of [e.image, e.weight, e.mask]) {
      const r = FitsReader.open(join(dir, path));
      const ph = r.imageHeader(0);
      assert.equal(ph.integer('EXPNUM'), e.expnum);
      assert.equal(ph.integer('NEXTEND'), 2);
      for (const name of ['C1', 'C2']) {
        const h = r.imageHeader(name);
        assert.equal(h.integer('EXPNUM'), e.expnum);
        assert.equal(h.string('FILTER'), 'r DECam SDSS c0002 6415.0 1480.0');
        assert.equal(h.string('BAND'), 'r');
        assert.ok(Math.abs(h.number('MJD-OBS') - e.mjd) < 1e-9);
        for (const k of ['EXPTIME', 'GAIN', 'RDNOISE', 'SATURATE', 'AIRMASS', 'CRVAL1', 'CD1_1', 'PV1_7']) assert.ok(Number.isFinite(h.number(k)), k);
        assert.equal(h.integer('CCDNUM'), name === 'C1' ? 1 : 2);
        assert.equal(h.string('CTYPE1'), 'RA---TPV');
      }
      r.close();
    }
  }
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  assert.equal(m.maskBits.SAT, MASK_BITS.SAT);
});

test('sky noise matches the variance plane (ratio within 3%)', () => {
  const ep = table(sim.manifest.truth.epochs, 'EPOCHS');
  const E = num(ep, 'expnum'), X = num(ep, 'x'), Y = num(ep, 'y'), M = num(ep, 'mag'), C = num(ep, 'ccdnum');
  for (const ei of [0, 3]) {
    const e = sim.manifest.exposures[ei]!;
    for (const name of e.ccds) {
      const d = readCcd(ei, name);
      const ccdnum = name === 'C1' ? 1 : 2;
      // keep pixels away from every source brighter than mag 24.5
      const keep = new Uint8Array(d.w * d.h).fill(1);
      for (let k = 0; k < E.length; k++) {
        if (E[k] !== e.expnum || C[k] !== ccdnum || !(M[k]! < 24.5)) continue;
        const r = M[k]! < 17 ? 60 : M[k]! < 20 ? 25 : 12;
        const x0 = Math.round(X[k]! - 1), y0 = Math.round(Y[k]! - 1);
        for (let y = Math.max(0, y0 - r); y <= Math.min(d.h - 1, y0 + r); y++)
          for (let x = Math.max(0, x0 - r); x <= Math.min(d.w - 1, x0 + r); x++) keep[y * d.w + x] = 0;
      }
      const z: number[] = [];
      for (let y = 0; y < d.h; y++) for (let x = 0; x + 1 < d.w; x += 2) {
        const p = y * d.w + x;
        if (!keep[p] || !keep[p + 1] || d.msk[p] || d.msk[p + 1] || !(d.wgt[p]! > 0) || !(d.wgt[p + 1]! > 0)) continue;
        z.push((d.img[p + 1]! - d.img[p]!) / Math.sqrt(1 / d.wgt[p]! + 1 / d.wgt[p + 1]!));
      }
      assert.ok(z.length > 50000, `${z.length} sky pixel pairs`);
      // 6σ clipping removes the few pixels hit by light the truth radii above do not cover
      const zc = z.filter((v) => Math.abs(v) < 6);
      assert.ok(zc.length > 0.999 * z.length, `${z.length - zc.length} outliers of ${z.length}`);
      const mu = zc.reduce((a, b) => a + b, 0) / zc.length;
      const sd = Math.sqrt(zc.reduce((a, b) => a + (b - mu) ** 2, 0) / zc.length);
      const zm = median(z);
      const mad = 1.4826 * median(z.map((v) => Math.abs(v - zm)));
      assert.ok(Math.abs(sd - 1) < 0.03, `exp ${ei} ${name}: measured/expected noise ${sd.toFixed(4)}`);
      assert.ok(Math.abs(mad - 1) < 0.03, `exp ${ei} ${name}: MAD noise ratio ${mad.toFixed(4)}`);
    }
  }
});

test('star fluxes in a large aperture match the truth: |pull| < 4, median ratio within 1%; zero point to 0.01 mag', () => {
  const stars = isolatedStars(50);
  assert.ok(stars.length >= 30, `${stars.length} isolated bright stars`);
  const cache = new Map<string, Ccd>();
  const ratios: number[] = [], pulls: number[] = [], dzp: number[] = [];
  for (const s of stars) {
    const key = `${s.expIdx}:${s.ccd}`;
    if (!cache.has(key)) cache.set(key, readCcd(s.expIdx, s.ccd));
    const d = cache.get(key)!;
    const cx = s.x - 1, cy = s.y - 1, R = APER;
    // background: the true sky of each pixel, recovered from the weight (1/w = (sky_e + rn²)/gain²),
    // so that the comparison is not biased by the crowded-field sky estimate
    const gain = d.hdr.number('GAIN'), rn = d.hdr.number('RDNOISE');
    let meas = 0, masked = false, varSum = 0;
    for (let y = Math.floor(cy - R); y <= Math.ceil(cy + R); y++) for (let x = Math.floor(cx - R); x <= Math.ceil(cx + R); x++) {
      const p = y * d.w + x;
      if (Math.hypot(x - cx, y - cy) >= R) continue;
      if (d.msk[p] || !(d.wgt[p]! > 0)) { masked = true; break; }
      const sky = (gain * gain / d.wgt[p]! - rn * rn) / gain;
      meas += d.img[p]! - sky;
      varSum += 1 / d.wgt[p]!;
    }
    if (masked) continue;
    const expect = s.flux * (1 - psfFluxOutside(R, s.alpha)) + s.inside;
    const sigma = Math.sqrt(Math.max(expect, 0) / gain + varSum);
    ratios.push(meas / expect);
    pulls.push((meas - expect) / sigma);
    dzp.push(s.mag + 2.5 * Math.log10((meas - s.inside) / (1 - psfFluxOutside(R, s.alpha))) - s.zp);
  }
  assert.ok(pulls.length >= 30);
  const worst = Math.max(...pulls.map(Math.abs));
  assert.ok(worst < 4, `worst pull ${worst.toFixed(2)} of ${pulls.length}`);
  const mr = median(ratios);
  assert.ok(Math.abs(mr - 1) < 0.01, `median flux ratio ${mr}`);
  assert.ok(Math.abs(median(dzp)) < 0.01, `zero point offset ${median(dzp)}`);
});

test('WCS: headers carry the perturbed pointing; the true WCS maps truth positions to the star centroids (< 0.05 px)', () => {
  const ex = table(sim.manifest.truth.ccds, 'EXPOSURES');
  const cc = table(sim.manifest.truth.ccds, 'CCDS');
  const raT = num(ex, 'ra_true'), deT = num(ex, 'dec_true'), raH = num(ex, 'ra_header'), deH = num(ex, 'dec_header');
  const trueWcs = (ei: number, name: string) => {
    const row = num(cc, 'expnum').findIndex((v, i) => v === sim.manifest.exposures[ei]!.expnum && num(cc, 'ccdnum')[i] === (name === 'C1' ? 1 : 2));
    const g = (c: string, k: number) => Array.from((cc.column(c).data as Float64Array).subarray(row * k, row * k + k));
    const cd = g('cd', 4);
    return Wcs.tpv({ crval: g('crval', 2) as [number, number], crpix: g('crpix', 2) as [number, number], cd: [cd[0]!, cd[1]!, cd[2]!, cd[3]!], pv1: g('pv1', 12), pv2: g('pv2', 12) });
  };
  const sep = (a: number, b: number, c: number, d: number) => Math.hypot((a - c) * Math.cos(b * Math.PI / 180), b - d) * 3600;
  for (let ei = 0; ei < 5; ei++) {
    const off = sep(raT[ei]!, deT[ei]!, raH[ei]!, deH[ei]!);
    assert.ok(off > 1 && off < 150, `pointing error ${off}″`);
    const d = readCcd(ei, 'C1');
    const hw = Wcs.fromHeader(d.hdr);
    const tw = trueWcs(ei, 'C1');
    // the header WCS puts the optical axis at the header pointing, the true one at the true pointing
    const [ah, dh] = hw.pixToSkyOne(tw.params.crpix[0], tw.params.crpix[1]);
    const [at, dt] = tw.pixToSkyOne(tw.params.crpix[0], tw.params.crpix[1]);
    assert.ok(sep(ah, dh, raH[ei]!, deH[ei]!) < 0.01 && sep(at, dt, raT[ei]!, deT[ei]!) < 0.01);
    const [ac, dc] = hw.pixToSkyOne(512, 512), [tc, tdc] = tw.pixToSkyOne(512, 512);
    assert.ok(sep(ac, dc, tc, tdc) > 1, 'header WCS differs from the truth');
  }
  // centroids of bright isolated stars vs the true WCS applied to the truth (ra, dec) at the epoch
  const stars = isolatedStars(200).filter((s) => s.near < 0.002);
  assert.ok(stars.length >= 15, `${stars.length} bright stars`);
  const cache = new Map<string, { d: Ccd; w: Wcs }>();
  const errs: number[] = [];
  for (const s of stars) {
    const key = `${s.expIdx}:${s.ccd}`;
    if (!cache.has(key)) cache.set(key, { d: readCcd(s.expIdx, s.ccd), w: trueWcs(s.expIdx, s.ccd) });
    const { d, w } = cache.get(key)!;
    const [px, py] = w.skyToPixOne(s.ra, s.dec); // FITS
    // windowed centroid (Gaussian window of σ = FWHM/2.35), background from an annulus
    let cx = px - 1 + 0.3, cy = py - 1 - 0.3;
    const ann: number[] = [];
    for (let y = Math.round(cy) - 40; y <= Math.round(cy) + 40; y++) for (let x = Math.round(cx) - 40; x <= Math.round(cx) + 40; x++) {
      const r = Math.hypot(x - cx, y - cy);
      if (r > 30 && r < 40) ann.push(d.img[y * d.w + x]!);
    }
    const bkg = median(ann);
    const sw = s.fwhm / 2.3548;
    for (let it = 0; it < 30; it++) {
      let sx = 0, sy = 0, sn = 0;
      for (let y = Math.round(cy) - 15; y <= Math.round(cy) + 15; y++) for (let x = Math.round(cx) - 15; x <= Math.round(cx) + 15; x++) {
        const wgt = Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sw * sw)) * (d.img[y * d.w + x]! - bkg);
        sx += wgt * (x - cx); sy += wgt * (y - cy); sn += wgt;
      }
      cx += 2 * sx / sn; cy += 2 * sy / sn;
    }
    errs.push(Math.hypot(cx + 1 - px, cy + 1 - py));
  }
  errs.sort((a, b) => a - b);
  const p90 = errs[Math.floor(0.9 * (errs.length - 1))]!;
  assert.ok(median(errs) < 0.03, `median centroid offset ${median(errs)}`);
  assert.ok(p90 < 0.05, `90th percentile centroid offset ${p90} px`);
});

test('mask: saturated pixels and bleed trails flagged SAT/BLEED with zero weight', () => {
  let nsat = 0, nbleed = 0;
  for (let ei = 0; ei < 5; ei++) for (const name of ['C1', 'C2']) {
    const d = readCcd(ei, name);
    const satLevel = d.hdr.number('SATURATE');
    for (let p = 0; p < d.img.length; p++) {
      if (d.img[p]! >= satLevel - 1) {
        assert.ok(d.msk[p]! & MASK_BITS.SAT, `pixel ${p} at saturation not flagged`);
        nsat++;
      }
      if (d.msk[p]! & MASK_BITS.BLEED) nbleed++;
      if (d.msk[p]! & (MASK_BITS.SAT | MASK_BITS.CR | MASK_BITS.BAD | MASK_BITS.BLEED)) assert.equal(d.wgt[p], 0);
    }
  }
  assert.ok(nsat > 20, `${nsat} saturated pixels`);
  assert.ok(nbleed > 5, `${nbleed} bleed pixels`);
});

test('mask: every cosmic-ray pixel above 3σ is flagged CR', () => {
  const cfg = smallPreset({ seed: 5 });
  cfg.artefacts = { ...cfg.artefacts, cosmicRaysPerMpix100s: 40 };
  const plan = planSurvey(cfg);
  const cat = generateCatalog(plan);
  const exp = plan.exposures[2]!, ccd = cfg.camera.ccds[0]!;
  const a = renderCcd(cfg, exp, ccd, cat);
  const cfg0 = { ...cfg, artefacts: { ...cfg.artefacts, cosmicRaysPerMpix100s: 0 } };
  const b = renderCcd(cfg0, exp, ccd, cat);
  assert.ok(a.nCosmicRays > 10);
  let hit = 0;
  for (let p = 0; p < a.image.length; p++) {
    const diff = a.image[p]! - b.image[p]!;
    const sigma = b.weight[p]! > 0 ? 1 / Math.sqrt(b.weight[p]!) : 10;
    if (diff > 3 * sigma) {
      hit++;
      assert.ok(a.mask[p]! & MASK_BITS.CR, `CR pixel ${p} (+${diff.toFixed(0)} ADU) not flagged`);
    }
  }
  assert.ok(hit > 50, `${hit} CR pixels`);
});

test('reference catalog: Gaia column names, G < 21, errors added (not the truth)', () => {
  const g = table(sim.manifest.refcat, 'GAIA');
  for (const c of ['source_id', 'ra', 'dec', 'pmra', 'pmdec', 'ref_epoch', 'phot_g_mean_mag', 'phot_bp_mean_mag', 'phot_rp_mean_mag', 'ra_error', 'pmra_error']) assert.ok(g.column(c));
  const st = table(sim.manifest.truth.sources, 'STARS');
  const id = num(st, 'id'), ra = num(st, 'ra'), dec = num(st, 'dec'), G = num(st, 'gaia_g');
  const byId = new Map(id.map((v, i) => [v, i]));
  const sid = num(g, 'source_id'), gra = num(g, 'ra'), gdec = num(g, 'dec'), gerr = num(g, 'ra_error'), gG = num(g, 'phot_g_mean_mag');
  assert.ok(Math.max(...gG) < 21.1);
  assert.ok(num(g, 'ref_epoch').every((v) => v === 2016));
  const pulls: number[] = [];
  let differ = 0;
  sid.forEach((s, m) => {
    const k = byId.get(s)!;
    const dE = (gra[m]! - ra[k]!) * Math.cos(dec[k]! * Math.PI / 180) * 3.6e6;
    pulls.push(dE / gerr[m]!);
    if (gG[m] !== G[k]) differ++;
  });
  const sd = Math.sqrt(pulls.reduce((a, b) => a + b * b, 0) / pulls.length);
  assert.ok(sd > 0.85 && sd < 1.15, `position pull sd ${sd}`);
  assert.ok(differ > 0.99 * sid.length);
});

test('determinism: the same seed gives byte-identical files (in-thread vs 2 workers)', async () => {
  const dir2 = tempDir('tessera-sim2-');
  const sim2 = await simulateSurvey(smallPreset({ seed: SEED }), { outDir: dir2, jobs: 0 });
  const paths = [
    ...sim.manifest.exposures.flatMap((e) => [e.image, e.weight, e.mask]),
    sim.manifest.refcat, sim.manifest.truth.sources, sim.manifest.truth.ccds, sim.manifest.truth.epochs, 'manifest.json',
  ];
  assert.deepEqual(sim2.manifest.exposures.map((e) => e.image), sim.manifest.exposures.map((e) => e.image));
  for (const p of paths) assert.ok(readFileSync(join(dir, p)).equals(readFileSync(join(dir2, p))), `${p} differs`);
});

test('astropy reads the exposure files and agrees on pixels and TPV WCS', (t) => {
  const ok = spawnSync(PYTHON, ['-c', 'import astropy.io.fits, astropy.wcs'], { stdio: 'ignore' }).status === 0;
  if (!ok) { t.skip('python3-astropy not installed'); return; }
  const e = sim.manifest.exposures[3]!;
  const script = `
import sys, json, warnings
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
warnings.simplefilter('ignore')
out = {}
with fits.open(sys.argv[1]) as f, fits.open(sys.argv[2]) as w, fits.open(sys.argv[3]) as m:
    out['names'] = [h.name for h in f[1:]]
    h = f['C2']
    out['sum'] = float(np.sum(h.data, dtype=np.float64))
    out['wsum'] = float(np.sum(w['C2'].data, dtype=np.float64))
    out['msum'] = int(np.sum(m['C2'].data.astype(np.int64)))
    out['shape'] = list(h.data.shape)
    ra, dec = WCS(h.header).all_pix2world([[100.0, 200.0], [900.0, 50.0]], 1).T
    out['ra'] = list(map(float, ra)); out['dec'] = list(map(float, dec))
print(json.dumps(out))
`;
  const r = spawnSync(PYTHON, ['-c', script, join(dir, e.image), join(dir, e.weight), join(dir, e.mask)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const py = JSON.parse(r.stdout);
  assert.deepEqual(py.names, ['C1', 'C2']);
  assert.deepEqual(py.shape, [1024, 1024]);
  const d = readCcd(3, 'C2');
  let s = 0, ws = 0, ms = 0;
  for (let p = 0; p < d.img.length; p++) { s += d.img[p]!; ws += d.wgt[p]!; ms += d.msk[p]!; }
  assert.ok(Math.abs(py.sum - s) / Math.abs(s) < 1e-6);
  assert.ok(Math.abs(py.wsum - ws) / Math.abs(ws) < 1e-6);
  assert.equal(py.msum, ms);
  const w = Wcs.fromHeader(d.hdr);
  const ours = w.pixToSky([100, 900], [200, 50]);
  for (let i = 0; i < 2; i++) {
    const dd = Math.hypot((ours.ra[i]! - py.ra[i]) * Math.cos(ours.dec[i]! * Math.PI / 180), ours.dec[i]! - py.dec[i]) * 3.6e6;
    assert.ok(dd < 1, `astropy/our TPV differ by ${dd} mas`);
  }
});

test('openSimulation: truth of a CCD (true and header WCS, zero point, PSF) and its sources', () => {
  const s = openSimulation(dir);
  const e = s.manifest.exposures[2]!;
  const t = s.ccd(e.expnum, 'C2');
  assert.equal(t.ccdnum, 2);
  assert.equal(t.band, 'r');
  assert.ok(t.zpAdu > 25 && t.zpAdu < 35);
  const d = readCcd(2, 'C2');
  const hw = Wcs.fromHeader(d.hdr);
  for (const [x, y] of [[1, 1], [512, 700], [1024, 1024]] as const) {
    const [a, b] = hw.pixToSkyOne(x, y), [c, f] = t.headerWcs.pixToSkyOne(x, y);
    assert.ok(Math.hypot(a - c, b - f) * 3.6e6 < 0.01, 'header WCS as in the image header');
  }
  assert.equal(t.psf.fwhmPix.length, 9);
  const rows = s.sourcesOn(e.expnum, 'C2');
  assert.ok(rows.n > 100);
  assert.ok(rows.x.every((x) => x >= 0.5 && x < 1024.5));
  assert.equal(s.sourcesOn(e.expnum, 2, SOURCE_TYPE.STAR).n, rows.type.filter((v) => v === SOURCE_TYPE.STAR).length);
  assert.throws(() => s.ccd(e.expnum, 'N4'), /no CCD N4/);
  assert.throws(() => openSimulation(join(dir, 'exposures')), /manifest\.json/);
});
