/**
 * Difference imaging: tessera (Alard–Lupton + decorrelation + matched-filter detection) vs
 * HOTPANTS + SEP on the same simulated 2048×4096 pair with truth (different seeing, flux
 * scaling, background, a small registration error, 400 injected transients).
 * HOTPANTS is not packaged: it is used when built at $HOTPANTS or /tmp/hotpants/hotpants.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { havePython, machineLine, type BenchModule } from './harness.js';
import { Rng, simulatePair } from '../src/diffim/synth.js';
import { subtractImages } from '../src/diffim/subtract.js';
import { detectDiaSources } from '../src/diffim/dia.js';
import { writeFits } from '../src/fits/writer.js';
import { FitsReader } from '../src/fits/reader.js';

const W = 2048, H = 4096, ZP = 30, EDGE = 25;

interface Det { x: number; y: number; flux: number }

function cpuSeconds(): number { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; }

/** Efficiency per magnitude bin and m50 (linear interpolation where it crosses 0.5 going faint). */
function efficiency(truth: { x: number; y: number; flux: number }[], det: Det[]): { bins: { m: number; eff: number; n: number }[]; m50: number } {
  const mags = truth.map((t) => ZP - 2.5 * Math.log10(t.flux));
  const found = truth.map((t) => det.some((d) => d.flux > 0 && Math.hypot(d.x - t.x, d.y - t.y) < 2));
  const bins: { m: number; eff: number; n: number }[] = [];
  for (let m = 21.5; m < 25; m += 0.25) {
    let n = 0, k = 0;
    mags.forEach((mm, i) => { if (mm >= m && mm < m + 0.25) { n++; if (found[i]) k++; } });
    if (n) bins.push({ m: m + 0.125, eff: k / n, n });
  }
  let m50 = NaN;
  for (let i = 1; i < bins.length; i++) {
    const a = bins[i - 1]!, b = bins[i]!;
    if (a.eff >= 0.5 && b.eff < 0.5) { m50 = a.m + ((a.eff - 0.5) / (a.eff - b.eff)) * (b.m - a.m); break; }
  }
  return { bins, m50 };
}

function falseCount(truth: { x: number; y: number }[], det: Det[]): number {
  return det.filter((d) => d.x > EDGE && d.y > EDGE && d.x < W - 1 - EDGE && d.y < H - 1 - EDGE && !truth.some((t) => Math.hypot(d.x - t.x, d.y - t.y) < 3)).length;
}

const SEP_SCRIPT = `
import sys, numpy as np, sep
from astropy.io import fits
d = fits.getdata(sys.argv[1]).astype(np.float64)
n = fits.getdata(sys.argv[2]).astype(np.float64)
bad = ~np.isfinite(d) | ~np.isfinite(n) | (n <= 0) | (np.abs(d) < 1e-29)
d[bad] = 0; n[bad] = 1e30
fw = float(sys.argv[3]); s = fw / 2.3548
r = int(np.ceil(2 * fw)); y, x = np.mgrid[-r:r + 1, -r:r + 1]
k = np.exp(-(x * x + y * y) / (2 * s * s)); k /= k.sum()
out = []
for sign in (1, -1):
    o = sep.extract(np.ascontiguousarray(sign * d), 5.0, err=n, mask=bad, filter_kernel=k, filter_type='matched', minarea=3, deblend_cont=1.0)
    for row in o:
        out.append('%f %f %f' % (row['x'], row['y'], sign * row['flux']))
open(sys.argv[4], 'w').write('\\n'.join(out))
`;

export default {
  name: 'diffim',
  async run() {
    const rng = new Rng(2024);
    const transients: { x: number; y: number; flux: number }[] = [];
    // log-uniform fluxes across the detection limit (m = 21.7 .. 24.8 at ZP 30)
    for (let i = 0; i < 800; i++) transients.push({ x: 40 + rng.next() * (W - 80), y: 40 + rng.next() * (H - 80), flux: 10 ** (2 + rng.next() * 1.3) * 1.0 });
    const pair = simulatePair({ width: W, height: H, seed: 77, nStars: 4000, fluxRange: [500, 1e6], fwhmSci: 4.7, fwhmTmpl: 3.0, fluxRatio: 1.2, shift: [0.15, -0.1], transients });
    // ours: subtraction + detection, CPU time of this (single-threaded) process, best of 3
    let best = Infinity, res: ReturnType<typeof subtractImages> | undefined, dia: ReturnType<typeof detectDiaSources> = [];
    let bestStages: Record<string, number> = {};
    for (let rep = 0; rep < 3; rep++) {
      const c0 = cpuSeconds();
      res = subtractImages(pair.science, pair.template);
      const c1 = cpuSeconds();
      dia = detectDiaSources(res.diff, res.psf, { thresh: 5, fwhmPix: res.diffPsf.fwhmPix, templateSources: res.templateSources, matchedTemplate: res.matchedTemplate });
      const c2 = cpuSeconds();
      // stage times of the fastest run
      if (c2 - c0 < best) { best = c2 - c0; bestStages = { ...res.timings, 'DIA detection': c2 - c1 }; }
    }
    const r = res!;
    const ours = dia.map((d) => ({ x: d.x, y: d.y, flux: d.flux }));
    const dia45 = detectDiaSources(r.diff, r.psf, { thresh: 4.5, fwhmPix: r.diffPsf.fwhmPix }).map((d) => ({ x: d.x, y: d.y, flux: d.flux }));
    const eff45 = efficiency(transients, dia45), fp45 = falseCount(transients, dia45);
    const effOurs = efficiency(transients, ours);
    const fpOurs = falseCount(transients, ours);
    const rows: string[] = [];
    rows.push('| | tessera diff (AL, decorrelated, matched filter) | HOTPANTS 5.1.11 + SEP 1.2 | ratio |');
    rows.push('|---|---|---|---|');
    const hp = process.env.HOTPANTS ?? '/tmp/hotpants/hotpants';
    let hpNote = '';
    let hpTime = NaN, effHp: ReturnType<typeof efficiency> | undefined, fpHp = NaN, hpKsum = NaN, hpRms = NaN;
    if (existsSync(hp)) {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-diffim-bench-'));
      try {
        writeFits(join(dir, 'sci.fits'), [{ kind: 'image', data: pair.science.image, shape: [W, H] }]);
        writeFits(join(dir, 'tmpl.fits'), [{ kind: 'image', data: pair.template.image, shape: [W, H] }]);
        const args = ['-inim', 'sci.fits', '-tmplim', 'tmpl.fits', '-outim', 'hp.fits', '-oni', 'hpn.fits',
          '-il', '0', '-iu', '1e7', '-tl', '0', '-tu', '1e7', '-ig', '4', '-ir', '5', '-tg', '16', '-tr', '2.5',
          '-r', '10', '-rss', '15', '-nsx', '10', '-nsy', '20', '-ko', '2', '-bgo', '1',
          '-ng', '3', '6', '0.77', '4', '1.54', '2', '3.07', '-c', 't', '-n', 'i', '-v', '0'];
        for (let rep = 0; rep < 3; rep++) {
          const p = spawnSync('bash', ['-c', `TIMEFORMAT='%U %S'; { time ${hp} ${args.join(' ')} >/dev/null 2>&1 ; } 2>&1`], { cwd: dir, encoding: 'utf8' });
          const m = /([\d.]+) ([\d.]+)\s*$/.exec(p.stdout);
          if (m) hpTime = Math.min(Number.isFinite(hpTime) ? hpTime : Infinity, Number(m[1]) + Number(m[2]));
        }
        if (!existsSync(join(dir, 'hp.fits'))) throw new Error('HOTPANTS produced no output');
        const rd = FitsReader.open(join(dir, 'hp.fits'));
        hpKsum = Number(rd.imageHeader(0).get('KSUM00') ?? NaN);
        const d = rd.readImage(0).data as Float32Array;
        rd.close();
        const nz = FitsReader.open(join(dir, 'hpn.fits'));
        const nn = nz.readImage(0).data as Float32Array;
        nz.close();
        // HOTPANTS residual rms in units of its noise (same clipped estimator as ours, valid pixels)
        const dd = new Float32Array(d.length), vv = new Float32Array(d.length);
        for (let i = 0; i < d.length; i++) { const ok = Math.abs(d[i]!) > 1e-29 && nn[i]! > 0; dd[i] = ok ? d[i]! : NaN; vv[i] = ok ? nn[i]! * nn[i]! : NaN; }
        const { noiseRatio } = await import('../src/diffim/subtract.js');
        hpRms = noiseRatio(dd, vv);
        if (havePython('sep', 'astropy')) {
          writeFileSync(join(dir, 'run_sep.py'), SEP_SCRIPT);
          const p = spawnSync('/usr/bin/python3', ['run_sep.py', 'hp.fits', 'hpn.fits', String(pair.opts.fwhmSci), 'sep.txt'], { cwd: dir, encoding: 'utf8' });
          if (p.status !== 0) throw new Error(`SEP on HOTPANTS output failed: ${p.stderr.slice(-400)}`);
          const det = readFileSync(join(dir, 'sep.txt'), 'utf8').trim().split('\n').filter(Boolean).map((l) => { const [x, y, f] = l.split(' ').map(Number); return { x: x!, y: y!, flux: f! }; });
          effHp = efficiency(transients, det);
          fpHp = falseCount(transients, det);
        } else hpNote = 'python3-sep not installed: no detection comparison. ';
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    } else {
      hpNote = `HOTPANTS not built (looked at $HOTPANTS and /tmp/hotpants/hotpants): build it from github:acbecker/hotpants outside the repository to get the side-by-side columns. `;
    }
    const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
    rows.push(`| CPU time per CCD (subtract + detect, one core) | ${f(best, 2)} s | ${f(hpTime, 2)} s (subtraction only) | ${Number.isFinite(hpTime) ? (best / hpTime).toFixed(2) + '×' : 'n/a'} |`);
    rows.push(`| kernel sum (truth 1.2) | ${f(r.ksum, 4)} | ${f(hpKsum, 4)} | |`);
    rows.push(`| residual rms / expected noise (clipped, all valid pixels) | ${f(r.residRms)} | ${f(hpRms)} | |`);
    rows.push(`| m50 of injected point sources (ZP ${ZP}) | ${f(effOurs.m50, 2)} | ${f(effHp?.m50 ?? NaN, 2)} | ${effHp ? `${(effOurs.m50 - effHp.m50 >= 0 ? '+' : '')}${(effOurs.m50 - effHp.m50).toFixed(2)} mag` : ''} |`);
    rows.push(`| false detections per CCD (5σ, outside ${EDGE} px border) | ${fpOurs} | ${Number.isFinite(fpHp) ? fpHp : 'n/a'} | |`);
    rows.push(`| tessera at 4.5σ: m50 / false detections | ${f(eff45.m50, 2)} / ${fp45} | | |`);
    if (effHp && Number.isFinite(fpHp)) {
      // equal false-detection rate: the lowest threshold (step 0.1σ) with no more false detections than HOTPANTS+SEP
      let best: { t: number; m50: number; fp: number } | undefined;
      for (let th = 4.0; th <= 5.0001; th += 0.1) {
        const d = detectDiaSources(r.diff, r.psf, { thresh: th, fwhmPix: r.diffPsf.fwhmPix }).map((x) => ({ x: x.x, y: x.y, flux: x.flux }));
        const fp = falseCount(transients, d);
        if (fp <= fpHp) { best = { t: th, m50: efficiency(transients, d).m50, fp }; break; }
      }
      if (best) rows.push(`| m50 at equal false-detection rate (tessera at ${best.t.toFixed(1)}σ: ${best.fp} false) | ${f(best.m50, 2)} | ${f(effHp.m50, 2)} (${fpHp} false) | ${(best.m50 - effHp.m50 >= 0 ? '+' : '')}${(best.m50 - effHp.m50).toFixed(2)} mag |`);
    }
    const effRows = ['| mag | n | tessera | HOTPANTS+SEP |', '|---|---|---|---|'];
    for (const b of effOurs.bins) {
      const h = effHp?.bins.find((x) => Math.abs(x.m - b.m) < 1e-6);
      effRows.push(`| ${b.m.toFixed(2)} | ${b.n} | ${b.eff.toFixed(2)} | ${h ? h.eff.toFixed(2) : 'n/a'} |`);
    }
    const tim = Object.entries(bestStages).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ');
    const body = `${machineLine()}

Simulated pair 2048×4096 (seed 77): 4000 stars (template fluxes 500–10⁶ counts, N(>F) ∝ 1/F), template FWHM 3.0 px,
science FWHM 4.7 px, flux ratio 1.2, sky 1000 (+50 gradient) vs 500, gain 4, read noise 5, template noise ×0.5,
template registration error (0.15, −0.10) px, 800 point-source transients with log-uniform fluxes 100–2000 counts.
Both tools get the same pixels and the same kernel set-up (half-width 10 → 21×21, 3 Gaussians σ = 0.77/1.54/3.07 px with
degrees 6/4/2, kernel order 2, background order 1, template convolved, output normalised to the science image).
tessera: \`subtractImages\` + \`detectDiaSources\` (matched-filter S/N ≥ 5, positive and negative). HOTPANTS: 10×20 stamp grid,
noise from gain/read noise; its difference and noise images then go to SEP (matched Gaussian filter of the science FWHM,
5σ, both signs). Times are CPU seconds (user+sys) of one run (best of 3, both tools); the machine was shared while measuring.
A transient counts as found if a positive detection lies within 2 px; a false detection is any detection farther than
3 px from every transient. SEP's threshold assumes white noise, but HOTPANTS's difference image has the convolved
template's correlated noise, so its nominal 5σ is a lower effective threshold (more false detections); the 4.5σ row shows
tessera's trade-off at a lower threshold. ${hpNote}tessera stage times (CPU, fastest run): ${tim}.

${rows.join('\n')}

Detection efficiency per magnitude bin:

${effRows.join('\n')}`;
    return [{ title: 'Difference imaging: tessera diff vs HOTPANTS + SEP (2048×4096 CCD)', body }];
  },
} satisfies BenchModule;
