import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { detectSources } from '../../src/detect/index.js';
import { writeFits } from '../../src/fits/writer.js';
import { tempDir } from '../helpers.js';
import { simulate, randomStars, matchPositions, rng } from './sim.js';
import { havePythonSep, haveSextractor, runSep, runSextractor, type PeerCatalog } from './peers.js';

// A 1024×2048 CCD: 700 Moffat stars (FWHM 4), 150 PSF-convolved exponential galaxies, sky 1000 with a gradient.
const W = 1024, H = 2048;
const dir = tempDir('tessera-peers-');
const path = join(dir, 'img.fits');
const samples: [number, number][] = [];
for (let y = 40; y < H; y += 97) for (let x = 40; x < W; x += 97) samples.push([x, y]);

let prepared: {
  X: Float64Array; Y: Float64Array; FA: ArrayLike<number>; FU: ArrayLike<number>; FUE: ArrayLike<number>; back: Float32Array; get(n: string): ArrayLike<number>;
  truth: { x: number[]; y: number[]; flux: number[] };
} | undefined;
function prepare() {
  if (prepared) return prepared;
  const u = rng(3);
  const stars = randomStars(700, W, H, 500, 5e5, 13, 5);
  const gals = [];
  for (let i = 0; i < 150; i++) gals.push({ x: 10 + u() * (W - 20), y: 10 + u() * (H - 20), flux: 2e3 * Math.pow(100, u()), h: 1 + 2 * u(), q: 0.4 + 0.6 * u(), theta: u() * 3 });
  const sim = simulate({ width: W, height: H, stars, galaxies: gals, profile: 'moffat', fwhm: 4, sky: 1000, skyGradX: 0.02, readNoise: 7, gain: 1, seed: 5 });
  writeFits(path, [{ kind: 'image', data: sim.image, shape: [W, H] }]);
  const res = detectSources({ width: W, height: H, image: sim.image }, { apertures: [6] });
  const c = res.catalog;
  prepared = {
    X: Float64Array.from(c.get('X_IMAGE'), (v) => v - 1), Y: Float64Array.from(c.get('Y_IMAGE'), (v) => v - 1),
    FA: c.get('FLUX_APER'), FU: c.get('FLUX_AUTO'), FUE: c.get('FLUXERR_AUTO'), back: res.background.back(),
    get: (n: string) => c.get(n),
    truth: { x: [...stars.map((t) => t.x), ...gals.map((g) => g.x)], y: [...stars.map((t) => t.y), ...gals.map((g) => g.y)], flux: [...stars.map((t) => t.flux), ...gals.map((g) => g.flux)] },
  };
  return prepared;
}

const med = (a: number[]) => { const b = [...a].sort((p, q) => p - q); return b[b.length >> 1]!; };

function compare(name: string, p: PeerCatalog): void {
  const o = prepare();
  // the peer's S/N > 10 objects (AUTO) found by tessera within 1.5 px, and the reverse
  const m = matchPositions(p.x, p.y, o.X, o.Y, 1.5);
  let n10 = 0, m10 = 0;
  const ra: number[] = [], ru: number[] = [];
  for (let i = 0; i < p.x.length; i++) {
    if (!(p.auto[i]! / p.autoErr[i]! > 10)) continue;
    n10++;
    const j = m[i]!;
    if (j < 0) continue;
    m10++;
    ra.push(o.FA[j]! / p.flux[i]!);
    ru.push(o.FU[j]! / p.auto[i]!);
  }
  assert.ok(n10 > 400, `${name}: ${n10} objects with S/N > 10`);
  assert.ok(m10 / n10 > 0.95, `${name}: ${m10}/${n10} of its S/N > 10 objects matched`);
  const m2 = matchPositions(o.X, o.Y, p.x, p.y, 1.5);
  let o10 = 0, om = 0;
  for (let j = 0; j < o.X.length; j++) if (o.FU[j]! / o.FUE[j]! > 10) { o10++; if (m2[j]! >= 0) om++; }
  assert.ok(om / o10 > 0.95, `${name}: ${om}/${o10} of tessera's S/N > 10 objects matched`);
  assert.ok(Math.abs(med(ra) - 1) < 0.01, `${name}: FLUX_APER ratio median ${med(ra)}`);
  assert.ok(Math.abs(med(ru) - 1) < 0.01, `${name}: FLUX_AUTO ratio median ${med(ru)}`);
  for (let k = 0; k < samples.length; k++) {
    const [x, y] = samples[k]!;
    const r = o.back[y * W + x]! / p.backSamples[k]!;
    assert.ok(Math.abs(r - 1) < 0.01, `${name}: background at (${x}, ${y}) ${o.back[y * W + x]} vs ${p.backSamples[k]}`);
  }
}

test('agrees with SEP 1.2 on the same image: matches > 95% at S/N > 10, flux ratios and background within 1%, completeness as SEP\'s', (t) => {
  if (!havePythonSep()) { t.skip('python3-sep / python3-astropy not installed (Debian /usr/bin/python3)'); return; }
  const o = prepare();
  const sep = runSep(path, 6, samples);
  compare('SEP', sep);
  // completeness against the truth (within 2 px) at no more spurious detections than SEP
  const score = (x: Float64Array, y: Float64Array) => {
    const m = matchPositions(o.truth.x, o.truth.y, x, y, 2);
    const used = new Set(m);
    let found = 0, foundBright = 0, nBright = 0, spurious = 0;
    for (let i = 0; i < m.length; i++) { if (m[i]! >= 0) found++; if (o.truth.flux[i]! > 1e4) { nBright++; if (m[i]! >= 0) foundBright++; } }
    for (let j = 0; j < x.length; j++) if (!used.has(j)) spurious++;
    return { found, foundBright, nBright, spurious };
  };
  const ours = score(o.X, o.Y), theirs = score(sep.x, sep.y);
  assert.ok(ours.found >= theirs.found - 2, `truth recovered: tessera ${ours.found}, SEP ${theirs.found}`);
  assert.ok(ours.foundBright / ours.nBright > 0.95, `bright (flux > 1e4) recovered ${ours.foundBright}/${ours.nBright}`);
  assert.ok(ours.spurious <= theirs.spurious + 3, `spurious: tessera ${ours.spurious}, SEP ${theirs.spurious}`);
});

test('agrees with source-extractor on the same image: matches > 95% at S/N > 10, flux ratios and background within 1%', (t) => {
  if (!haveSextractor()) { t.skip('source-extractor not installed'); return; }
  prepare();
  const sex = runSextractor(path, dir, 6, samples);
  compare('source-extractor', sex);
  // the other measurements, object by object (S/N > 20)
  const o = prepare();
  const m = matchPositions(sex.x, sex.y, o.X, o.Y, 1);
  const cols = sex.columns!;
  const ratios: Record<string, number[]> = { FLUX_RADIUS: [], KRON_RADIUS: [], ISOAREA_IMAGE: [], FLUX_ISO: [], FLUX_MAX: [], A_IMAGE: [] };
  const dx: number[] = [];
  let same = 0, n = 0;
  for (let i = 0; i < sex.x.length; i++) {
    const j = m[i]!;
    if (j < 0 || !(sex.auto[i]! / sex.autoErr[i]! > 20)) continue;
    n++;
    for (const k of Object.keys(ratios)) ratios[k]!.push(Number(o.get(k)[j]) / cols[k]![i]!);
    dx.push(Math.hypot(o.get('XWIN_IMAGE')[j]! - cols.XWIN_IMAGE![i]!, o.get('YWIN_IMAGE')[j]! - cols.YWIN_IMAGE![i]!));
    if (o.get('FLAGS')[j] === cols.FLAGS![i]) same++;
  }
  assert.ok(med(dx) < 0.01, `XWIN/YWIN median offset ${med(dx)} px`);
  assert.ok(same / n > 0.95, `FLAGS equal for ${same}/${n}`);
  const tol: Record<string, number> = { FLUX_RADIUS: 0.02, KRON_RADIUS: 0.01, ISOAREA_IMAGE: 0.01, FLUX_ISO: 0.01, FLUX_MAX: 0.01, A_IMAGE: 0.01 };
  for (const k of Object.keys(ratios)) assert.ok(Math.abs(med(ratios[k]!) - 1) < tol[k]!, `${k}: median ratio to source-extractor ${med(ratios[k]!)}`);
});
