import { test } from 'node:test';
import assert from 'node:assert/strict';
import { warpMaskedImage, wcsPixelMap, warpHeaderCards } from '../../src/templates/warp.js';
import { MaskBits } from '../../src/image/masked-image.js';
import { aperture, distortedWcs, gaussRng, renderStars, rotatedWcs, starGrid } from './simfield.js';

const RA = 52.5, DEC = -27.8;
// grid A: 640 × 720 at 0.26″/px with TPV distortion; grid B: 330 × 400 at 0.31″/px rotated 30° and shifted
const WA = 640, HA = 720, WB = 330, HB = 400;
const A = distortedWcs(RA, DEC, WA, HA, 0.26);
const B = rotatedWcs(RA + 0.002, DEC - 0.0015, WB, HB, 0.31, 30);
const SIGMA = 0.55; // arcsec: σ ≈ 2.1 px on A, 1.8 px on B

test('warp: the interpolated pixel map is within 0.01 px of the exact WCS chain', () => {
  const map = wcsPixelMap(A, B, WB, HB);
  assert.ok(map.maxErrorPix < 0.01, `max error ${map.maxErrorPix}`);
  // independent check at random pixels
  const g = gaussRng(3);
  const xs = new Float64Array(WB), ys = new Float64Array(WB), jac = new Float64Array(WB);
  let worst = 0;
  for (let k = 0; k < 200; k++) {
    const y = Math.floor(Math.abs(g() * 97 + k * 13) % HB);
    map.row(y, xs, ys, jac);
    const x = Math.floor(Math.abs(g() * 101 + k * 7) % WB);
    const [ex, ey] = map.exact(x, y);
    worst = Math.max(worst, Math.hypot(xs[x]! - ex, ys[x]! - ey));
    // Jacobian ≈ area ratio (0.31/0.26)² up to the distortion
    assert.ok(Math.abs(jac[x]! / (0.31 / 0.26) ** 2 - 1) < 0.05, `jacobian ${jac[x]}`);
  }
  assert.ok(worst < 0.01, `worst ${worst}`);
});

test('warp: star fluxes conserved < 0.5% and positions < 0.02 px against direct rendering', () => {
  const stars = starGrid(B, WB, HB, 36, 25, [2e3, 2e5]);
  const imgA = renderStars(A, WA, HA, stars, SIGMA);
  const direct = renderStars(B, WB, HB, stars, SIGMA);
  const w = warpMaskedImage({ width: WA, height: HA, image: imgA }, A, B, WB, HB);
  assert.equal(w.coverage, 1, 'B lies inside A');
  let worstF = 0, worstP = 0;
  for (const s of stars) {
    const p = B.skyToPix([s.ra], [s.dec], 0);
    const a = aperture(w.image, WB, HB, p.x[0]!, p.y[0]!, 11), d = aperture(direct, WB, HB, p.x[0]!, p.y[0]!, 11);
    assert.ok(!a.bad && !d.bad);
    worstF = Math.max(worstF, Math.abs(a.flux / d.flux - 1));
    worstP = Math.max(worstP, Math.hypot(a.cx - d.cx, a.cy - d.cy));
    // and against the truth
    assert.ok(Math.abs(a.flux / s.flux - 1) < 0.005, `flux ${a.flux} vs truth ${s.flux}`);
  }
  assert.ok(worstF < 0.005, `flux ratio error ${worstF}`);
  assert.ok(worstP < 0.02, `position error ${worstP} px`);
  // pixel by pixel: residual < 1% of the brightest peak
  let peak = 0, res = 0;
  for (let i = 0; i < direct.length; i++) { peak = Math.max(peak, direct[i]!); res = Math.max(res, Math.abs(w.image[i]! - direct[i]!)); }
  assert.ok(res < 0.02 * peak, `max residual ${res} vs peak ${peak}`);
});

test('warp: noise — per-pixel variance as propagated, large-scale variance conserved', () => {
  const g = gaussRng(11);
  const n = WA * HA, sig2 = 100;
  const img = new Float32Array(n), vr = new Float32Array(n).fill(sig2);
  for (let i = 0; i < n; i++) img[i] = 10 * g();
  const w = warpMaskedImage({ width: WA, height: HA, image: img, variance: vr }, A, B, WB, HB);
  let s2 = 0, pv = 0, m = 0;
  for (let i = 0; i < WB * HB; i++) { s2 += w.image[i]! ** 2; pv += w.variance![i]!; m++; }
  const measured = s2 / m, predicted = pv / m;
  assert.ok(Math.abs(measured / predicted - 1) < 0.03, `per-pixel variance measured ${measured} predicted ${predicted}`);
  assert.ok(w.varianceFactor > 0.3 && w.varianceFactor < 1, `varianceFactor ${w.varianceFactor}`);
  // 16×16 block sums: flux conservation keeps the large-scale noise: var ≈ J·256·σ²
  const J = (0.31 / 0.26) ** 2, B16 = 16;
  let bs2 = 0, nb = 0;
  for (let by = 0; by + B16 <= HB; by += B16) for (let bx = 0; bx + B16 <= WB; bx += B16) {
    let s = 0;
    for (let y = by; y < by + B16; y++) for (let x = bx; x < bx + B16; x++) s += w.image[y * WB + x]!;
    bs2 += s * s; nb++;
  }
  const blockVar = bs2 / nb, expect = J * B16 * B16 * sig2;
  assert.ok(Math.abs(blockVar / expect - 1) < 0.12, `block variance ${blockVar} vs ${expect} (${nb} blocks)`);
  const cards = warpHeaderCards(w);
  assert.ok(cards.some((c) => c.key === 'WRPVARF' && c.comment.includes('correlated')));
});

test('warp: round trip A → B → A keeps fluxes and pixels', () => {
  const stars = starGrid(B, WB, HB, 25, 40, [5e3, 5e4], 5);
  const imgA = renderStars(A, WA, HA, stars, SIGMA);
  const toB = warpMaskedImage({ width: WA, height: HA, image: imgA }, A, B, WB, HB);
  const back = warpMaskedImage({ width: WB, height: HB, image: toB.image, mask: toB.mask }, B, A, WA, HA);
  let peak = 0, res = 0;
  for (const s of stars) {
    const p = A.skyToPix([s.ra], [s.dec], 0);
    const a = aperture(back.image, WA, HA, p.x[0]!, p.y[0]!, 12), d = aperture(imgA, WA, HA, p.x[0]!, p.y[0]!, 12);
    assert.ok(!a.bad);
    assert.ok(Math.abs(a.flux / d.flux - 1) < 0.005, `round-trip flux ${a.flux} vs ${d.flux}`);
    assert.ok(Math.hypot(a.cx - d.cx, a.cy - d.cy) < 0.02);
    for (let y = Math.round(p.y[0]!) - 8; y <= Math.round(p.y[0]!) + 8; y++) for (let x = Math.round(p.x[0]!) - 8; x <= Math.round(p.x[0]!) + 8; x++) {
      const i = y * WA + x;
      peak = Math.max(peak, imgA[i]!); res = Math.max(res, Math.abs(back.image[i]! - imgA[i]!));
    }
  }
  assert.ok(res < 0.02 * peak, `round-trip residual ${res} vs peak ${peak}`);
  // outside B's footprint: NO_DATA and NaN
  let nodata = 0;
  for (let i = 0; i < WA * HA; i++) if (back.mask[i]! & MaskBits.NO_DATA) { nodata++; assert.ok(Number.isNaN(back.image[i]!)); }
  assert.ok(nodata > 0 && back.coverage < 1 && back.coverage > 0.3);
});

test('warp: masks propagate (bilinear OR), excluded pixels are interpolated around, NO_DATA outside', () => {
  const n = WA * HA;
  const img = new Float32Array(n).fill(50), mask = new Uint32Array(n), vr = new Float32Array(n).fill(4);
  // a BAD pixel and a cosmic ray with a huge value at the pixel under B's centre
  const c = A.skyToPix([RA + 0.002], [DEC - 0.0015], 0);
  const bx = Math.round(c.x[0]!), by = Math.round(c.y[0]!);
  mask[by * WA + bx] = MaskBits.CR; img[by * WA + bx] = 1e6;
  mask[(by + 40) * WA + bx] = MaskBits.BAD; img[(by + 40) * WA + bx] = NaN;
  const w = warpMaskedImage({ width: WA, height: HA, image: img, variance: vr, mask }, A, B, WB, HB, { conserveFlux: false });
  let crPix = 0, badPix = 0, maxDev = 0, holes = 0;
  for (let i = 0; i < WB * HB; i++) {
    if (w.mask[i]! & MaskBits.CR) crPix++;
    if (w.mask[i]! & MaskBits.BAD) badPix++;
    if (!Number.isFinite(w.image[i]!)) { holes++; assert.ok(w.mask[i]! & MaskBits.NO_DATA); continue; }
    maxDev = Math.max(maxDev, Math.abs(w.image[i]! - 50));
  }
  assert.ok(crPix >= 1 && crPix <= 4, `CR spread to ${crPix} pixels`);
  assert.ok(badPix >= 1 && badPix <= 4, `BAD spread to ${badPix} pixels`);
  // an output pixel right on an excluded one, whose valid weight is below half, is a NO_DATA hole
  assert.ok(holes <= 4, `${holes} holes`);
  // the excluded CR and NaN do not leak: a flat field stays flat
  assert.ok(maxDev < 1e-3, `flat field deviates by ${maxDev}`);
  // full Lanczos mask footprint: 6×6 = 25–36 pixels
  const w6 = warpMaskedImage({ width: WA, height: HA, image: img, mask }, A, B, WB, HB, { maskKernel: 'lanczos3' });
  let cr6 = 0;
  for (let i = 0; i < WB * HB; i++) if (w6.mask[i]! & MaskBits.CR) cr6++;
  assert.ok(cr6 > 10 && cr6 <= 40, `lanczos mask spread ${cr6}`);
});

test('warp: onto its own grid is the identity (image, variance, mask unchanged)', () => {
  const g = gaussRng(21);
  const W = 120, H = 90;
  const img = new Float32Array(W * H), vr = new Float32Array(W * H), mask = new Uint32Array(W * H);
  for (let i = 0; i < img.length; i++) { img[i] = 100 + 10 * g(); vr[i] = 50 + (i % 7); }
  mask[40 * W + 60] = MaskBits.SAT;
  const wcs = distortedWcs(RA, DEC, W, H, 0.26);
  const w = warpMaskedImage({ width: W, height: H, image: img, variance: vr, mask }, wcs, wcs, W, H);
  let worst = 0, worstV = 0;
  for (let i = 0; i < img.length; i++) {
    if (i === 40 * W + 60) continue; // excluded (SAT): interpolated from its neighbours
    worst = Math.max(worst, Math.abs(w.image[i]! - img[i]!));
    worstV = Math.max(worstV, Math.abs(w.variance![i]! - vr[i]!));
  }
  assert.ok(worst < 1e-3 && worstV < 1e-3, `identity residual ${worst} / ${worstV}`);
  let sat = 0;
  for (let i = 0; i < mask.length; i++) if (w.mask[i]! & MaskBits.SAT) sat++;
  assert.ok(sat >= 1 && sat <= 4);
  assert.ok(Math.abs(w.varianceFactor - 1) < 1e-3);
});
