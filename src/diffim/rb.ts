/**
 * Real/bogus scoring of diaSources: gradient-boosted decision trees (logistic loss, histogram
 * splits, our own implementation) on the autoScan-like feature vector of dia.ts, trained on
 * simulated detections: injected transients and fading stars (real) against artefacts
 * (cosmic rays, a bad column, misregistered-star dipoles, bright stars with a wrong PSF) and
 * noise peaks (bogus). The shipped model lives in data/rb-model.json; `tessera diff train-rb`
 * rebuilds it reproducibly from a seed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TesseraError } from '../util/errors.js';
import { FEATURE_NAMES, detectDiaSources, type DiaSource } from './dia.js';
import { Rng, addGaussian, simulatePair } from './synth.js';
import { subtractImages } from './subtract.js';

export interface TreeNode {
  /** Feature index, or −1 for a leaf. */
  f: number;
  /** Threshold: go left when x[f] <= t (NaN goes left). */
  t: number;
  l: number;
  r: number;
  /** Leaf value (log-odds increment). */
  v: number;
}

export interface RbModel {
  kind: 'tessera-rb-gbdt';
  version: 1;
  features: string[];
  base: number;
  learningRate: number;
  trees: TreeNode[][];
  /** Training provenance and held-out figures. */
  meta: Record<string, number | string>;
}

function treeValue(nodes: TreeNode[], x: ArrayLike<number>): number {
  let i = 0;
  for (;;) {
    const n = nodes[i]!;
    if (n.f < 0) return n.v;
    const v = x[n.f]!;
    i = !(v > n.t) ? n.l : n.r;
  }
}

/** Probability (0–1) that a source is real. */
export function rbScore(model: RbModel, x: ArrayLike<number>): number {
  let s = model.base;
  for (const t of model.trees) s += model.learningRate * treeValue(t, x);
  return 1 / (1 + Math.exp(-s));
}

export interface GbdtOptions { rounds?: number; depth?: number; learningRate?: number; minLeaf?: number; bins?: number; lambda?: number }

/** Train gradient-boosted trees (logistic loss, second-order leaf values, histogram splits). */
export function trainGbdt(X: Float64Array[], y: Uint8Array, opts: GbdtOptions = {}): { base: number; learningRate: number; trees: TreeNode[][] } {
  const n = X.length, nf = X[0]?.length ?? 0;
  const rounds = opts.rounds ?? 200, depth = opts.depth ?? 3, lr = opts.learningRate ?? 0.1;
  const minLeaf = opts.minLeaf ?? 10, nb = opts.bins ?? 32, lambda = opts.lambda ?? 1;
  // quantile bin edges per feature
  const edges: Float64Array[] = [];
  const bin = new Uint8Array(n * nf);
  for (let f = 0; f < nf; f++) {
    const v = X.map((r) => r[f]!).filter(Number.isFinite).sort((a, b) => a - b);
    const e: number[] = [];
    for (let b = 1; b < nb; b++) { const q = v[Math.floor((b / nb) * (v.length - 1))]; if (q !== undefined && (!e.length || q > e[e.length - 1]!)) e.push(q); }
    edges.push(Float64Array.from(e));
    for (let i = 0; i < n; i++) {
      const x = X[i]![f]!;
      let b = 0;
      while (b < e.length && x > e[b]!) b++;
      bin[i * nf + f] = b;
    }
  }
  let pos = 0;
  for (let i = 0; i < n; i++) pos += y[i]!;
  const p0 = Math.min(Math.max(pos / n, 1e-3), 1 - 1e-3);
  const base = Math.log(p0 / (1 - p0));
  const F = new Float64Array(n).fill(base);
  const g = new Float64Array(n), h = new Float64Array(n);
  const trees: TreeNode[][] = [];
  const G = new Float64Array(nb), Hh = new Float64Array(nb), C = new Int32Array(nb);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < n; i++) { const p = 1 / (1 + Math.exp(-F[i]!)); g[i] = p - y[i]!; h[i] = Math.max(p * (1 - p), 1e-6); }
    const nodes: TreeNode[] = [];
    const grow = (idx: Int32Array, d: number): number => {
      let sg = 0, sh = 0;
      for (const i of idx) { sg += g[i]!; sh += h[i]!; }
      const me = nodes.length;
      nodes.push({ f: -1, t: 0, l: -1, r: -1, v: -sg / (sh + lambda) });
      if (d >= depth || idx.length < 2 * minLeaf) return me;
      let best = 0, bf = -1, bb = -1;
      const parent = (sg * sg) / (sh + lambda);
      for (let f = 0; f < nf; f++) {
        G.fill(0); Hh.fill(0); C.fill(0);
        for (const i of idx) { const b = bin[i * nf + f]!; G[b]! += g[i]!; Hh[b]! += h[i]!; C[b]!++; }
        let gl = 0, hl = 0, cl = 0;
        const ne = edges[f]!.length;
        for (let b = 0; b < ne; b++) {
          gl += G[b]!; hl += Hh[b]!; cl += C[b]!;
          const cr = idx.length - cl;
          if (cl < minLeaf || cr < minLeaf) continue;
          const gr = sg - gl, hr = sh - hl;
          const gain = (gl * gl) / (hl + lambda) + (gr * gr) / (hr + lambda) - parent;
          if (gain > best) { best = gain; bf = f; bb = b; }
        }
      }
      if (bf < 0) return me;
      const L: number[] = [], R: number[] = [];
      for (const i of idx) (bin[i * nf + bf]! <= bb ? L : R).push(i);
      nodes[me]!.f = bf; nodes[me]!.t = edges[bf]![bb]!;
      nodes[me]!.l = grow(Int32Array.from(L), d + 1);
      nodes[me]!.r = grow(Int32Array.from(R), d + 1);
      return me;
    };
    grow(Int32Array.from({ length: n }, (_, i) => i), 0);
    trees.push(nodes);
    for (let i = 0; i < n; i++) F[i]! += lr * treeValue(nodes, X[i]!);
  }
  return { base, learningRate: lr, trees };
}

export interface RbSample { features: Float64Array; real: boolean; kind: string }

/** Kinds of simulated detections that are real astrophysical changes. */
export const REAL_KINDS = new Set(['transient', 'hosted', 'fading', 'variable']);

/**
 * Labelled detections from one simulated pair. Real: transients at random positions, supernovae
 * 0–5 px from the centre of a galaxy (extended, in both images: a template source but not a
 * reference star), variable stars that fade or brighten. Bogus: cosmic rays, a bad column,
 * misregistered stars (dipoles), stars with a wrong PSF (bright-star residuals) and noise peaks
 * (mostly residual lobes around stars). A reference catalog (as Gaia would give) lists the stars
 * brighter than ~3000 template counts (logistic completeness, 0.05 px astrometric scatter), so
 * `dist_ref` is informative but not decisive: bright-star artefacts sit on reference stars, and so
 * do brightening/fading variables; faint-star dipoles do not. One pair in four has no reference
 * catalog (dist_ref at its cap, as `tessera diff` without --refcat gives).
 */
export function simulateRbSamples(seed: number, size = 1024): RbSample[] {
  const rng = new Rng(seed * 7919 + 13);
  const nT = 60;
  const transients: { x: number; y: number; flux: number }[] = [];
  for (let i = 0; i < nT; i++) transients.push({ x: 30 + rng.next() * (size - 60), y: 30 + rng.next() * (size - 60), flux: 10 ** (2.6 + rng.next() * 1.6) });
  const nStars = Math.round((size * size) / 2000);
  const fading = Array.from({ length: 15 }, (_, i) => ({ index: i, fade: 0.3 + 0.6 * rng.next() }));
  const movers = Array.from({ length: 25 }, (_, i) => { const a = rng.next() * 2 * Math.PI, r = 0.3 + rng.next() * 1.2; return { index: 15 + i, dx: r * Math.cos(a), dy: r * Math.sin(a) }; });
  const wideStars = Array.from({ length: 20 }, (_, i) => ({ index: 40 + i, scale: rng.next() < 0.5 ? 0.85 : 1.2 }));
  // variable stars that brighten by 30–150% (a negative fade)
  const brightening = Array.from({ length: 12 }, (_, i) => ({ index: 60 + i, fade: -(0.3 + 1.2 * rng.next()) }));
  const fw = 3.5 + rng.next() * 2;
  const pair = simulatePair({
    width: size, height: size, seed, nStars, fluxRange: [800, 1e6], fwhmSci: fw, fwhmTmpl: Math.min(fw * (0.6 + rng.next() * 0.3), fw - 0.3),
    fluxRatio: 0.8 + rng.next() * 0.6, shift: [rng.next() * 0.3 - 0.15, rng.next() * 0.3 - 0.15], transients, fading: [...fading, ...brightening], movers, wideStars,
    cosmicRays: 60, badColumn: Math.floor(100 + rng.next() * (size - 200)),
  });
  // galaxies (Gaussian profiles 1–2 science FWHM wide, in both images, registered like the stars),
  // 12 of them hosting a supernova 0–5 px from the centre; all added with their photon noise
  const { gain, tmplNoise, fluxRatio, shift } = pair.opts;
  const sciSig = new Float32Array(size * size), tmplSig = new Float32Array(size * size);
  const hosted: { x: number; y: number; flux: number }[] = [];
  for (let i = 0; i < 30; i++) {
    const gx = 40 + rng.next() * (size - 80), gy = 40 + rng.next() * (size - 80);
    const flux = 10 ** (3.3 + 1.2 * rng.next()), g = fw * (1 + rng.next());
    addGaussian(sciSig, size, size, gx, gy, flux * fluxRatio, Math.hypot(g, fw));
    addGaussian(tmplSig, size, size, gx + shift[0], gy + shift[1], flux, Math.hypot(g, pair.template.fwhmPix));
    if (i < 12) {
      const a = rng.next() * 2 * Math.PI, r = 5 * rng.next();
      const t = { x: gx + r * Math.cos(a), y: gy + r * Math.sin(a), flux: 10 ** (2.6 + rng.next() * 1.6) };
      hosted.push(t);
      addGaussian(sciSig, size, size, t.x, t.y, t.flux, fw);
    }
  }
  for (const [img, sig, ns] of [[pair.science, sciSig, 1], [pair.template, tmplSig, tmplNoise]] as const) {
    for (let i = 0; i < sig.length; i++) {
      const v = sig[i]!;
      if (!(v > 0)) continue;
      const nv = (v / gain) * ns * ns;
      img.image[i]! += v + Math.sqrt(nv) * rng.normal();
      img.variance[i]! += nv;
    }
  }
  // reference catalog: the stars (not the galaxies), logistic completeness around 3000 template counts
  const withRef = seed % 4 !== 3;
  const refX: number[] = [], refY: number[] = [];
  for (const s of pair.stars) {
    const keep = rng.next() < 0.98 / (1 + (3000 / s.flux) ** 4);
    const ex = 0.05 * rng.normal(), ey = 0.05 * rng.normal();
    if (keep && withRef) { refX.push(s.x + ex); refY.push(s.y + ey); }
  }
  const res = subtractImages(pair.science, pair.template);
  const dia = detectDiaSources(res.diff, res.psf, { thresh: 5, fwhmPix: res.diffPsf.fwhmPix, templateSources: res.templateSources, matchedTemplate: res.matchedTemplate, refStars: withRef ? { x: refX, y: refY } : undefined });
  const out: RbSample[] = [];
  for (const s of dia) {
    const near = (x: number, y: number, r: number) => Math.hypot(s.x - x, s.y - y) < r;
    let kind = 'noise';
    if (transients.some((t) => near(t.x, t.y, 2))) kind = 'transient';
    else if (hosted.some((t) => near(t.x, t.y, 2))) kind = 'hosted';
    else if (fading.some((f) => near(pair.stars[f.index]!.x, pair.stars[f.index]!.y, 2))) kind = 'fading';
    else if (brightening.some((f) => near(pair.stars[f.index]!.x, pair.stars[f.index]!.y, 2))) kind = 'variable';
    else if (pair.cosmicRays.some((c) => near(c.x, c.y, 3))) kind = 'cosmic';
    else if (pair.opts.badColumn !== undefined && Math.abs(s.x - pair.opts.badColumn) < 3) kind = 'badcolumn';
    else if (movers.some((m) => near(pair.stars[m.index]!.x, pair.stars[m.index]!.y, 4))) kind = 'dipole';
    else if (wideStars.some((w) => near(pair.stars[w.index]!.x, pair.stars[w.index]!.y, 4))) kind = 'psfresidual';
    out.push({ features: s.features, real: REAL_KINDS.has(kind), kind });
  }
  return out;
}

export interface RbTrainReport {
  model: RbModel;
  nTrain: number;
  nTest: number;
  /** Held-out: score threshold keeping 99% of real detections, and the fraction of bogus removed by it. */
  threshold99: number;
  bogusRemoved99: number;
  perKind: Record<string, { n: number; removed: number }>;
}

/** Simulate, train on `nTrain` pairs, evaluate on `nTest` held-out pairs. Deterministic for a seed. */
export function trainRealBogus(seed = 1, nTrain = 16, nTest = 8, size = 1024, log?: (s: string) => void): RbTrainReport {
  const train: RbSample[] = [], test: RbSample[] = [];
  for (let i = 0; i < nTrain + nTest; i++) {
    const s = simulateRbSamples(seed * 1000 + i, size);
    (i < nTrain ? train : test).push(...s);
    log?.(`pair ${i + 1}/${nTrain + nTest}: ${s.length} detections (${s.filter((x) => x.real).length} real)`);
  }
  if (!train.some((s) => s.real) || !train.some((s) => !s.real)) throw new TesseraError('real/bogus training: simulations gave only one class');
  const g = trainGbdt(train.map((s) => s.features), Uint8Array.from(train, (s) => (s.real ? 1 : 0)));
  const model: RbModel = { kind: 'tessera-rb-gbdt', version: 1, features: [...FEATURE_NAMES], base: g.base, learningRate: g.learningRate, trees: g.trees, meta: { seed, nTrain: train.length, pairsTrain: nTrain, pairsTest: nTest, size } };
  const sc = test.map((s) => rbScore(model, s.features));
  const realScores = sc.filter((_, i) => test[i]!.real).sort((a, b) => a - b);
  const thr = realScores.length ? realScores[Math.floor(0.01 * realScores.length)]! : 0.5;
  const perKind: Record<string, { n: number; removed: number }> = {};
  let nb = 0, nr = 0;
  test.forEach((s, i) => {
    const k = (perKind[s.kind] ??= { n: 0, removed: 0 });
    k.n++;
    if (sc[i]! < thr) k.removed++;
    if (!s.real) { nb++; if (sc[i]! < thr) nr++; }
  });
  model.meta.threshold99 = thr;
  model.meta.bogusRemoved99 = nb ? nr / nb : NaN;
  model.meta.nTest = test.length;
  return { model, nTrain: train.length, nTest: test.length, threshold99: thr, bogusRemoved99: nb ? nr / nb : NaN, perKind };
}

let shipped: RbModel | null | undefined;

/** The model shipped with the package (data/rb-model.json), or null when absent. */
export function defaultRbModel(): RbModel | null {
  if (shipped !== undefined) return shipped;
  const path = fileURLToPath(new URL('../../../data/rb-model.json', import.meta.url));
  shipped = existsSync(path) ? parseRbModel(readFileSync(path, 'utf8'), path) : null;
  return shipped;
}

export function parseRbModel(text: string, where: string): RbModel {
  let m: RbModel;
  try { m = JSON.parse(text) as RbModel; } catch (e) { throw new TesseraError(`${where}: not a JSON real/bogus model (${(e as Error).message})`); }
  if (m.kind !== 'tessera-rb-gbdt' || !Array.isArray(m.trees)) throw new TesseraError(`${where}: not a tessera real/bogus model (kind ${String(m.kind)})`);
  if (m.features.join(',') !== FEATURE_NAMES.join(',')) throw new TesseraError(`${where}: model features differ from this version's (${m.features.length} vs ${FEATURE_NAMES.length}); retrain with tessera diff train-rb`);
  return m;
}

/** Set rbScore on each source from a model. */
export function scoreSources(model: RbModel, sources: DiaSource[]): void {
  for (const s of sources) s.rbScore = rbScore(model, s.features);
}
