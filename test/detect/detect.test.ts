import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  detectSources, estimateBackground, GaussianPsf, MoffatPsf, sumCircles, sumCircle, circleRectOverlap,
  labelAboveThreshold, deblendFootprint, stampOrigin, releaseDetectScratch,
} from '../../src/detect/index.js';
import { MaskBits } from '../../src/image/index.js';
import { simulate, randomStars, matchPositions, rng, type Star } from './sim.js';

const med = (a: number[]) => { const b = [...a].sort((p, q) => p - q); return b.length % 2 ? b[b.length >> 1]! : 0.5 * (b[b.length / 2 - 1]! + b[b.length / 2]!); };
/** Robust σ: half the 15.87–84.13 percentile range. */
const rstd = (a: number[]) => { const b = [...a].sort((p, q) => p - q); return (b[Math.floor(b.length * 0.8413)]! - b[Math.floor(b.length * 0.1587)]!) / 2; };
const col = (c: { get(n: string): ArrayLike<number> }, n: string) => c.get(n);

// One shared simulated CCD: Gaussian stars (FWHM 3.5 px), sky 1000 + gradient, read noise 5, gain 1.
const W = 1024, H = 1024, FWHM = 3.5, SIG = FWHM / 2.3548;
const STARS = randomStars(500, W, H, 200, 1e6, 21, 15);
const SIM = simulate({ width: W, height: H, stars: STARS, profile: 'gaussian', fwhm: FWHM, sky: 1000, skyGradX: 0.05, skyGradY: -0.03, readNoise: 5, gain: 1, seed: 2 });
const SIGN = Math.sqrt(25 + 1000);
/** Optimal (PSF-fit) S/N of a star of this flux on this image. */
const snrOf = (flux: number) => flux / Math.sqrt(4 * Math.PI * SIG * SIG * SIGN * SIGN + flux);
const RES = detectSources({ width: W, height: H, image: SIM.image }, { apertures: [2 * FWHM, 6 * FWHM], gain: 1, psf: new GaussianPsf(FWHM) });
const CAT = RES.catalog;
const MATCH = matchPositions(STARS.map((s) => s.x), STARS.map((s) => s.y), Float64Array.from(col(CAT, 'XWIN_IMAGE'), (v) => v - 1), Float64Array.from(col(CAT, 'YWIN_IMAGE'), (v) => v - 1), 2);

test('exact circle overlap: aperture area on a flat image is πr² to 1e-9; overlap vs numerical integration', () => {
  const w = 80, h = 80;
  const ones = new Float32Array(w * h).fill(1);
  const planes = { width: w, height: h, data: ones, variance: ones };
  const u = rng(17);
  for (const r of [0.3, 0.5, 1, 2.5, 3.7, 10, 25.2]) {
    const xc = 40 + u() - 0.5, yc = 40 + u() - 0.5;
    const s = sumCircle(planes, xc, yc, r);
    assert.ok(Math.abs(s.flux - Math.PI * r * r) < 1e-9, `r=${r}: ${s.flux} vs ${Math.PI * r * r}`);
    assert.ok(Math.abs(s.area - Math.PI * r * r) < 1e-9);
    assert.ok(Math.abs(s.variance - Math.PI * r * r) < 1e-9);
    assert.equal(s.flags, 0);
  }
  // one pixel against a fine numerical integration, for several geometries
  for (let t = 0; t < 20; t++) {
    const x0 = u() * 4 - 2, y0 = u() * 4 - 2, r = 0.3 + u() * 2;
    const exact = circleRectOverlap(x0, y0, x0 + 1, y0 + 1, r);
    let c = 0; const N = 1000;
    for (let j = 0; j < N; j++) for (let i = 0; i < N; i++) { const x = x0 + (i + 0.5) / N, y = y0 + (j + 0.5) / N; if (x * x + y * y <= r * r) c++; }
    assert.ok(Math.abs(exact - c / (N * N)) < 3e-3, `overlap ${exact} vs ${c / (N * N)}`);
  }
  // an aperture over the edge is flagged 16 and counts only the pixels inside
  const f = new Float64Array(1), v = new Float64Array(1), fl = new Int32Array(1);
  sumCircles(planes, 1, 40, [3], f, v, fl);
  assert.equal(fl[0], 16);
  assert.ok(f[0]! < Math.PI * 9 && f[0]! > Math.PI * 9 / 2);
});

test('background map: 98% of the image within 0.08σ of the true sky (gradient, 500 stars), global RMS within 2%', () => {
  const back = RES.background.back();
  const rms = RES.background.rms();
  const errs: number[] = [];
  let sumErr = 0;
  for (let y = 32; y < H - 32; y += 8) for (let x = 32; x < W - 32; x += 8) {
    const e = back[y * W + x]! - SIM.sky[y * W + x]!;
    errs.push(Math.abs(e)); sumErr += e;
  }
  errs.sort((a, b) => a - b);
  const p98 = errs[Math.floor(errs.length * 0.98)]!, max = errs[errs.length - 1]!;
  assert.ok(Math.abs(sumErr / errs.length) < 0.02 * SIGN, `mean background error ${sumErr / errs.length}`);
  assert.ok(p98 < 0.08 * SIGN, `98th percentile of |error| ${p98} (σ = ${SIGN.toFixed(1)})`);
  assert.ok(max < 0.15 * SIGN, `max |error| ${max} (near the brightest stars)`);
  assert.ok(Math.abs(RES.globalRms / SIGN - 1) < 0.02, `global rms ${RES.globalRms} vs ${SIGN}`);
  assert.ok(Math.abs(rms[500 * W + 500]! / SIGN - 1) < 0.05);
  assert.ok(Math.abs(RES.globalBack / 1000 - 1) < 0.001, `global background ${RES.globalBack}`);
});

test('background honours the mask: a masked bright block does not bias it', () => {
  const w = 256, h = 256;
  const sim = simulate({ width: w, height: h, stars: [], sky: 500, readNoise: 10, gain: 1e9, seed: 4 });
  const mask = new Uint32Array(w * h);
  // a saturated block filling four meshes entirely
  for (let y = 64; y < 192; y++) for (let x = 64; x < 192; x++) { sim.image[y * w + x] = 60000; mask[y * w + x] = MaskBits.SAT; }
  const b = estimateBackground({ width: w, height: h, image: sim.image, mask }, { backFilterSize: 1 });
  assert.ok(Math.abs(b.back()[130 * w + 130]! - 500) < 2, `masked: ${b.back()[130 * w + 130]}`);
  const b2 = estimateBackground({ width: w, height: h, image: sim.image }, { backFilterSize: 1 });
  assert.ok(b2.back()[130 * w + 130]! > 600, 'unmasked, the block biases the mesh it fills');
  // NaN pixels are ignored too
  const nan = Float32Array.from(sim.image);
  for (let y = 64; y < 192; y++) for (let x = 64; x < 192; x++) nan[y * w + x] = NaN;
  assert.ok(Math.abs(estimateBackground({ width: w, height: h, image: nan }, { backFilterSize: 1 }).back()[130 * w + 130]! - 500) < 2);
});

test('completeness vs S/N: ≥ 97% above S/N 20, ≥ 85% for S/N 10–20; no spurious detections', () => {
  const bins = new Map<string, [number, number]>();
  for (let i = 0; i < STARS.length; i++) {
    const s = snrOf(STARS[i]!.flux);
    const b = s < 5 ? '<5' : s < 10 ? '5-10' : s < 20 ? '10-20' : '>20';
    const e = bins.get(b) ?? [0, 0];
    e[0]++; if (MATCH[i]! >= 0) e[1]++;
    bins.set(b, e);
  }
  const frac = (b: string) => { const e = bins.get(b)!; return e[1] / e[0]; };
  assert.ok(frac('>20') >= 0.97, `S/N>20: ${JSON.stringify(bins.get('>20'))}`);
  assert.ok(frac('10-20') >= 0.85, `S/N 10-20: ${JSON.stringify(bins.get('10-20'))}`);
  assert.ok(frac('5-10') <= frac('10-20') && frac('<5') <= frac('5-10'), 'completeness rises with S/N');
  const matched = new Set(MATCH);
  let spurious = 0;
  for (let j = 0; j < CAT.length; j++) if (!matched.has(j)) spurious++;
  assert.ok(spurious <= 3, `${spurious} detections match no star`);
});

test('centroids: bright-star XWIN error < 0.02 px; faint-star scatter within 1.6× the Cramér-Rao bound', () => {
  const XW = col(CAT, 'XWIN_IMAGE'), YW = col(CAT, 'YWIN_IMAGE'), FL = col(CAT, 'FLAGS');
  const bright: number[] = [], ratio: number[] = [];
  for (let i = 0; i < STARS.length; i++) {
    const j = MATCH[i]!, s = STARS[i]!;
    if (j < 0 || FL[j]! & 3) continue;
    const dx = XW[j]! - 1 - s.x, dy = YW[j]! - 1 - s.y;
    if (snrOf(s.flux) > 300) bright.push(Math.hypot(dx, dy));
    const snr = snrOf(s.flux);
    if (snr > 10 && snr < 60) {
      // background-limited CRLB for a Gaussian PSF: σx = √(8π)·σ²·σn / F (pixel width included in σ²)
      const crlb = (Math.sqrt(8 * Math.PI) * (SIG * SIG + 1 / 12) * SIGN) / s.flux;
      ratio.push(dx / crlb, dy / crlb);
    }
  }
  assert.ok(bright.length > 50 && med(bright) < 0.02, `bright median offset ${med(bright)}`);
  const r = rstd(ratio);
  assert.ok(ratio.length > 60 && r < 1.6 && r > 0.8, `centroid scatter / CRLB = ${r.toFixed(2)} (${ratio.length})`);
});

test('fluxes unbiased: median ratio to truth within 1% for bright stars (APER 6·FWHM, PSF, AUTO within 2%)', () => {
  const FA = col(CAT, 'FLUX_APER'), FP = col(CAT, 'FLUX_PSF'), FU = col(CAT, 'FLUX_AUTO'), FL = col(CAT, 'FLAGS');
  const ra: number[] = [], rp: number[] = [], ru: number[] = [];
  for (let i = 0; i < STARS.length; i++) {
    const j = MATCH[i]!, s = STARS[i]!;
    if (j < 0 || FL[j]! & 3 || snrOf(s.flux) < 100) continue;
    ra.push(FA[j * 2 + 1]! / s.flux); rp.push(FP[j]! / s.flux); ru.push(FU[j]! / s.flux);
  }
  assert.ok(ra.length > 100);
  assert.ok(Math.abs(med(ra) - 1) < 0.01, `APER ratio ${med(ra)}`);
  assert.ok(Math.abs(med(rp) - 1) < 0.01, `PSF ratio ${med(rp)}`);
  assert.ok(Math.abs(med(ru) - 1) < 0.02, `AUTO ratio ${med(ru)}`);
});

test('errors calibrated: pull widths of FLUX_APER, FLUX_PSF, XWIN, YWIN within 10% of 1', () => {
  const modelSub = new Float32Array(W * H);
  for (let i = 0; i < W * H; i++) modelSub[i] = SIM.model[i]! - SIM.sky[i]!;
  const truth = { width: W, height: H, data: modelSub, variance: new Float32Array(W * H) };
  const f = new Float64Array(1), v = new Float64Array(1);
  const FA = col(CAT, 'FLUX_APER'), FAE = col(CAT, 'FLUXERR_APER'), FP = col(CAT, 'FLUX_PSF'), FPE = col(CAT, 'FLUXERR_PSF');
  const XW = col(CAT, 'XWIN_IMAGE'), YW = col(CAT, 'YWIN_IMAGE'), EX = col(CAT, 'ERRX2WIN_IMAGE'), EY = col(CAT, 'ERRY2WIN_IMAGE');
  const X = col(CAT, 'X_IMAGE'), Y = col(CAT, 'Y_IMAGE'), FL = col(CAT, 'FLAGS');
  const pa: number[] = [], pp: number[] = [], px: number[] = [], py: number[] = [];
  for (let i = 0; i < STARS.length; i++) {
    const j = MATCH[i]!, s = STARS[i]!;
    if (j < 0 || FL[j]! & 3 || snrOf(s.flux) < 10) continue;
    // the noiseless flux in the same aperture (diameter 2·FWHM) at the same centre
    sumCircles(truth, X[j]! - 1, Y[j]! - 1, [FWHM], f, v, null);
    pa.push((FA[j * 2]! - f[0]!) / FAE[j * 2]!);
    pp.push((FP[j]! - s.flux) / FPE[j]!);
    px.push((XW[j]! - 1 - s.x) / Math.sqrt(EX[j]!));
    py.push((YW[j]! - 1 - s.y) / Math.sqrt(EY[j]!));
  }
  for (const [name, p] of [['APER', pa], ['PSF', pp], ['XWIN', px], ['YWIN', py]] as const) {
    const wdt = rstd(p);
    assert.ok(Math.abs(wdt - 1) < 0.1, `${name} pull width ${wdt.toFixed(3)} (n=${p.length})`);
    assert.ok(Math.abs(med(p)) < 0.2, `${name} pull median ${med(p).toFixed(3)}`);
  }
});

test('SPREAD_MODEL separates stars (≈ 0) from small galaxies (> 0.005); FWHM and FLUX_RADIUS of stars', () => {
  const w = 512, h = 512;
  const u = rng(8);
  const stars: Star[] = [], gals: { x: number; y: number; flux: number; h: number; q: number; theta: number }[] = [];
  for (let k = 0; k < 40; k++) stars.push({ x: 30 + (k % 8) * 60 + u() * 5, y: 30 + Math.floor(k / 8) * 50 + u() * 5, flux: 3e4 + 5e4 * u() });
  for (let k = 0; k < 40; k++) gals.push({ x: 30 + (k % 8) * 60 + u() * 5, y: 290 + Math.floor(k / 8) * 45 + u() * 5, flux: 5e4 + 5e4 * u(), h: 1.5, q: 0.7, theta: u() * 3 });
  const psf = new MoffatPsf(4, 3);
  const sim = simulate({ width: w, height: h, stars, galaxies: gals, profile: 'moffat', fwhm: 4, sky: 800, readNoise: 5, gain: 1, seed: 9 });
  const res = detectSources({ width: w, height: h, image: sim.image }, { gain: 1, psf });
  const c = res.catalog;
  const m = matchPositions([...stars, ...gals].map((s) => s.x), [...stars, ...gals].map((s) => s.y),
    Float64Array.from(c.get('X_IMAGE'), (v) => v - 1), Float64Array.from(c.get('Y_IMAGE'), (v) => v - 1), 2);
  const sm = c.get('SPREAD_MODEL'), se = c.get('SPREADERR_MODEL'), fw = c.get('FWHM_IMAGE');
  const sStar: number[] = [], sGal: number[] = [], fwStar: number[] = [];
  for (let i = 0; i < 80; i++) { const j = m[i]!; if (j < 0) continue; (i < 40 ? sStar : sGal).push(sm[j]!); if (i < 40) fwStar.push(fw[j]!); }
  assert.ok(sStar.length >= 38 && sGal.length >= 38);
  assert.ok(Math.abs(med(sStar)) < 0.002, `star spread_model ${med(sStar)}`);
  assert.ok(med(sGal) > 0.005, `galaxy spread_model ${med(sGal)}`);
  assert.ok(Math.min(...sGal) > Math.max(...sStar), 'clean separation at this S/N');
  assert.ok(se[m[0]!]! > 0 && se[m[0]!]! < 0.01);
  // FWHM_IMAGE assumes a Gaussian core (as SExtractor's): a Moffat β=3 reads ~10% wide
  assert.ok(Math.abs(med(fwStar) / 4 - 1) < 0.15, `star FWHM_IMAGE ${med(fwStar)}`);
});

test('deblending: pairs 3 FWHM apart with contrast 10 are split; positions and fluxes recovered', () => {
  const w = 600, h = 600, fwhm = 3;
  const u = rng(12);
  const stars: Star[] = [];
  const pairs: [number, number][] = [];
  for (let k = 0; k < 25; k++) {
    const cx = 60 + (k % 5) * 110, cy = 60 + Math.floor(k / 5) * 110;
    const ang = u() * Math.PI * 2, sep = 3 * fwhm;
    stars.push({ x: cx, y: cy, flux: 2e5 });
    stars.push({ x: cx + sep * Math.cos(ang), y: cy + sep * Math.sin(ang), flux: 2e4 });
    pairs.push([stars.length - 2, stars.length - 1]);
  }
  const sim = simulate({ width: w, height: h, stars, profile: 'gaussian', fwhm, sky: 1000, readNoise: 5, gain: 1, seed: 3 });
  const img = { width: w, height: h, image: sim.image };
  const res = detectSources(img, { gain: 1 });
  const c = res.catalog;
  assert.equal(c.length, 50, `${c.length} objects for 25 pairs`);
  const m = matchPositions(stars.map((s) => s.x), stars.map((s) => s.y), Float64Array.from(c.get('XWIN_IMAGE'), (v) => v - 1), Float64Array.from(c.get('YWIN_IMAGE'), (v) => v - 1), 1);
  const fl = c.get('FLAGS');
  for (const [a, b] of pairs) {
    assert.ok(m[a]! >= 0 && m[b]! >= 0, 'both members matched within 1 px');
    assert.ok(fl[m[a]!]! & 2 && fl[m[b]!]! & 2, 'both flagged blended (2)');
  }
  // without deblending each pair is one object
  const res1 = detectSources(img, { gain: 1, deblendNThresh: 1 });
  assert.equal(res1.catalog.length, 25);
  // a huge minimum contrast keeps them together too
  assert.equal(detectSources(img, { gain: 1, deblendMinCont: 0.2 }).catalog.length, 25);
});

test('CLEAN: no spurious detections in the wings of bright stars; flags for saturation, edges and masks', () => {
  const w = 400, h = 300;
  const stars: Star[] = [
    { x: 100, y: 100, flux: 5e6 }, // bright, saturated below
    { x: 300, y: 150, flux: 2e6 },
    { x: 1.2, y: 200, flux: 5e4 }, // on the edge
    { x: 200, y: 250, flux: 5e4 }, // gets a masked pixel
  ];
  const sim = simulate({ width: w, height: h, stars, profile: 'moffat', fwhm: 4, sky: 1000, readNoise: 5, gain: 1, seed: 6 });
  const mask = new Uint32Array(w * h);
  mask[250 * w + 201] = MaskBits.CR;
  const satLevel = 60000;
  const res = detectSources({ width: w, height: h, image: sim.image, mask }, { gain: 1, satLevel });
  const c = res.catalog;
  const X = c.get('X_IMAGE'), Y = c.get('Y_IMAGE'), FL = c.get('FLAGS'), IM = c.get('IMAFLAGS_ISO');
  const near = (x: number, y: number, r: number) => { const out: number[] = []; for (let j = 0; j < c.length; j++) if (Math.hypot(X[j]! - 1 - x, Y[j]! - 1 - y) < r) out.push(j); return out; };
  assert.equal(near(100, 100, 40).length, 1, 'one detection for the bright star');
  assert.equal(near(300, 150, 40).length, 1);
  const sat = near(100, 100, 3)[0]!;
  assert.ok(sim.image[100 * w + 100]! > satLevel && FL[sat]! & 4, 'saturated star flagged 4');
  const edge = near(1, 200, 4)[0]!;
  assert.ok(FL[edge]! & 8, 'edge star flagged 8 (truncated)');
  assert.ok(FL[edge]! & 16, 'edge star flagged 16 (aperture incomplete)');
  const masked = near(200, 250, 3)[0]!;
  assert.equal(IM[masked], MaskBits.CR, 'IMAFLAGS_ISO carries the mask bit');
  assert.ok(FL[masked]! & 16, 'a masked pixel inside its apertures flags 16');
  assert.equal(c.length, 4, `expected 4 objects, got ${c.length}`);
  // without CLEAN, the wings of the brightest star are split into spurious pieces or not: never fewer objects
  assert.ok(detectSources({ width: w, height: h, image: sim.image, mask }, { gain: 1, clean: false }).catalog.length >= 4);
});

test('variance plane: the threshold follows the local noise (no excess detections where the noise is high)', () => {
  const w = 512, h = 256;
  const g = rng(31);
  const image = new Float32Array(w * h), variance = new Float32Array(w * h);
  // left half σ = 5, right half σ = 25 (Box–Muller noise)
  for (let i = 0; i < w * h; i++) {
    const x = i % w;
    const s = x < w / 2 ? 5 : 25;
    const z = Math.sqrt(-2 * Math.log(g() || 1e-12)) * Math.cos(2 * Math.PI * g());
    image[i] = 100 + s * z;
    variance[i] = s * s;
  }
  const withVar = detectSources({ width: w, height: h, image, variance }, { threshSigma: 3 });
  const X = withVar.catalog.get('X_IMAGE');
  let left = 0, right = 0;
  for (let j = 0; j < X.length; j++) (X[j]! < w / 2 ? left++ : right++);
  assert.ok(left + right < 20, `${left + right} noise detections at 3σ`);
  assert.ok(Math.abs(left - right) <= Math.max(6, 0.6 * (left + right)), `left ${left} right ${right}`);
  // zero-weight (infinite variance) columns next to noise never make detections
  const holed = Float32Array.from(variance);
  for (let y = 0; y < h; y++) for (const x of [100, 101, 300]) holed[y * w + x] = Infinity;
  const withHoles = detectSources({ width: w, height: h, image, variance: holed }, { threshSigma: 3 });
  assert.ok(withHoles.catalog.length <= withVar.catalog.length + 2, `${withHoles.catalog.length} vs ${withVar.catalog.length} detections with dead columns`);
  // 'filtered' threshold mode: thresholds in units of the filtered noise (more detections at equal thresh)
  const filtered = detectSources({ width: w, height: h, image, variance }, { threshSigma: 3, threshMode: 'filtered' });
  assert.ok(filtered.catalog.length >= withVar.catalog.length);
});

test('edge cases: an image with no sources gives an empty catalog; an all-NaN image is an error', () => {
  const w = 128, h = 128;
  const sim = simulate({ width: w, height: h, stars: [], sky: 100, readNoise: 3, gain: 1e9, seed: 1 });
  const res = detectSources({ width: w, height: h, image: sim.image }, { threshSigma: 5 });
  assert.equal(res.catalog.length, 0);
  assert.ok(res.catalog.has('FLUX_AUTO'));
  assert.throws(() => detectSources({ width: w, height: h, image: new Float32Array(w * h).fill(NaN) }), /no usable pixel/);
});

test('labelling is 8-connected with a minimum area; deblendFootprint splits two peaks', () => {
  const w = 10, h = 6;
  const det = new Float32Array(w * h);
  // a diagonal chain (8-connected, 4 px) and a 2-px blob
  for (const [x, y] of [[1, 1], [2, 2], [3, 3], [4, 4], [8, 1], [8, 2]]) det[y! * w + x!] = 10;
  const fp = labelAboveThreshold(det, w, h, 1, 1, 3);
  assert.equal(fp.count, 1);
  assert.equal(fp.start[1]! - fp.start[0]!, 4);
  const fp2 = labelAboveThreshold(det, w, h, 1, 1, 1);
  assert.equal(fp2.count, 2);
  // two Gaussian peaks joined at a low saddle
  const W2 = 40, H2 = 20;
  const f = new Float32Array(W2 * H2);
  for (let y = 0; y < H2; y++) for (let x = 0; x < W2; x++) f[y * W2 + x] = 100 * Math.exp(-((x - 12) ** 2 + (y - 10) ** 2) / 8) + 60 * Math.exp(-((x - 20) ** 2 + (y - 10) ** 2) / 8);
  const fp3 = labelAboveThreshold(f, W2, H2, 1, 1, 5);
  assert.equal(fp3.count, 1);
  const kids = deblendFootprint(fp3.pixels, f, f, W2, 1, { nthresh: 32, mincont: 0.005, minArea: 5 });
  assert.ok(kids && kids.length === 2, 'split in two');
  assert.equal(kids![0]!.length + kids![1]!.length, fp3.pixels.length, 'every pixel given to a child');
  assert.deepEqual(stampOrigin(10.4, 20.6, 5), { x0: 8, y0: 19 });
});

test('scratch planes reused between calls leave no trace: a second image gives the same catalog as alone', () => {
  const w = 256, h = 200;
  const a = simulate({ width: w, height: h, stars: randomStars(30, w, h, 1e3, 1e5, 3, 10), profile: 'gaussian', fwhm: 3, sky: 300, readNoise: 5, gain: 1, seed: 1 });
  const b = simulate({ width: w, height: h, stars: randomStars(25, w, h, 1e3, 1e5, 4, 10), profile: 'gaussian', fwhm: 3, sky: 300, readNoise: 5, gain: 1, seed: 2 });
  const mask = new Uint32Array(w * h);
  for (let x = 0; x < w; x++) mask[50 * w + x] = MaskBits.BAD;
  releaseDetectScratch();
  const alone = detectSources({ width: w, height: h, image: b.image }, { gain: 1 });
  releaseDetectScratch();
  const first = detectSources({ width: w, height: h, image: a.image, mask }, { gain: 1 });
  const firstFlux = Array.from(first.catalog.get('FLUX_AUTO'));
  const afterA = detectSources({ width: w, height: h, image: b.image }, { gain: 1 });
  assert.equal(afterA.catalog.length, alone.catalog.length);
  for (const name of ['X_IMAGE', 'FLUX_AUTO', 'FLUXERR_APER', 'FLAGS', 'IMAFLAGS_ISO']) assert.deepEqual(Array.from(afterA.catalog.get(name)), Array.from(alone.catalog.get(name)), name);
  assert.ok(first.catalog.length > 20);
  assert.deepEqual(Array.from(first.catalog.get('FLUX_AUTO')), firstFlux, 'the first catalog is untouched by the second call');
});

test('variance plane used in place: its unusable pixels are restored; unusableOut receives the unusable-pixel map', () => {
  const w = 256, h = 200;
  const a = simulate({ width: w, height: h, stars: randomStars(30, w, h, 1e3, 1e5, 5, 10), profile: 'gaussian', fwhm: 3, sky: 300, readNoise: 5, gain: 1, seed: 3 });
  const image = Float32Array.from(a.image);
  const variance = new Float32Array(w * h).fill(325);
  const mask = new Uint32Array(w * h);
  for (let x = 0; x < w; x++) mask[60 * w + x] = MaskBits.BAD; // masked row, variance kept
  for (let y = 0; y < h; y++) variance[y * w + 90] = 0; // zero-weight column
  for (let y = 0; y < h; y++) variance[y * w + 91] = Infinity;
  image[120 * w + 7] = NaN;
  const before = Float32Array.from(variance);
  const unusable = new Uint8Array(w * h);
  const sub = new Float32Array(w * h);
  const res = detectSources({ width: w, height: h, image, variance, mask }, { gain: 1, unusableOut: unusable, subtractedOut: sub });
  assert.ok(res.catalog.length > 20);
  assert.deepEqual(variance, before, 'variance plane unchanged after the call');
  // subtractedOut (detection's working plane during the call) holds image − background everywhere, unusable pixels included
  const brow = new Float32Array(w);
  for (let y = 0; y < h; y++) {
    res.background.backRow(y, brow);
    for (let x = 0; x < w; x++) assert.ok(Object.is(sub[y * w + x], Math.fround(image[y * w + x]! - brow[x]!)), `sub at ${x},${y}`);
  }
  let nBad = 0;
  for (let i = 0; i < w * h; i++) {
    const expect = (mask[i]! & MaskBits.BAD) !== 0 || !(variance[i]! > 0 && variance[i]! < Infinity) || Number.isNaN(image[i]!) ? 1 : 0;
    assert.equal(unusable[i], expect, `pixel ${i}`);
    nBad += expect;
  }
  assert.equal(nBad, w + 2 * (h - 1) + 1);
  // the same catalog as with a copy of the variance plane
  const again = detectSources({ width: w, height: h, image, variance: Float32Array.from(before), mask }, { gain: 1 });
  for (const name of ['X_IMAGE', 'FLUX_AUTO', 'FLUXERR_APER', 'FLAGS']) assert.deepEqual(Array.from(again.catalog.get(name)), Array.from(res.catalog.get(name)), name);
  // a failing call (unusableOut of the wrong size) leaves it unchanged too
  assert.throws(() => detectSources({ width: w, height: h, image, variance, mask }, { unusableOut: new Uint8Array(5) }), /unusableOut/);
  assert.deepEqual(variance, before);
});

test('sumCircles (edge-shared overlaps) equals the per-pixel exact overlap sum for several radii', () => {
  const W = 120, H = 120;
  const data = new Float32Array(W * H);
  let s = 7;
  for (let i = 0; i < data.length; i++) { s = (s * 16807) % 2147483647; data[i] = s / 2147483647 - 0.3; }
  let worst = 0;
  for (let t = 0; t < 60; t++) {
    const xc = 20 + ((t * 37) % 80) + (t % 7) / 7, yc = 20 + ((t * 53) % 80) + (t % 5) / 5;
    const radii = [0.7, 3, 6.25, 12.3];
    const f = new Float64Array(4), v = new Float64Array(4);
    sumCircles({ width: W, height: H, data }, xc, yc, radii, f, v, null, 0);
    for (let q = 0; q < radii.length; q++) {
      const r = radii[q]!;
      let ref = 0;
      for (let y = Math.floor(yc - r - 1); y <= Math.ceil(yc + r + 1); y++) {
        for (let x = Math.floor(xc - r - 1); x <= Math.ceil(xc + r + 1); x++) ref += circleRectOverlap(x - xc - 0.5, y - yc - 0.5, x - xc + 0.5, y - yc + 0.5, r) * data[y * W + x]!;
      }
      worst = Math.max(worst, Math.abs(ref - f[q]!) / Math.max(1e-9, Math.abs(ref)));
    }
  }
  assert.ok(worst < 1e-10, `worst relative difference ${worst}`);
});
