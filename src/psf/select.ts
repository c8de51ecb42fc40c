/**
 * PSF star selection from a detection catalog (PSFEx-like): clean flags, S/N range, ellipticity
 * cut, size on the stellar locus (FWHM near the mode of bright compact sources), isolation.
 * Positions are 0-based; only relative geometry matters here.
 */
export interface PsfCandidates {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  flux: ArrayLike<number>;
  fluxErr: ArrayLike<number>;
  /** FWHM (pixels) or any size measure proportional to it. */
  fwhm: ArrayLike<number>;
  /** Semi-axes (for ellipticity = 1 − b/a); optional. */
  a?: ArrayLike<number>;
  b?: ArrayLike<number>;
  flags?: ArrayLike<number>;
}

export interface PsfSelectOptions {
  snMin?: number;   // default 20 (PSFEx SAMPLE_MINSN)
  snMax?: number;   // default 1e5 (saturated stars are flagged anyway)
  maxEllip?: number; // default 0.3 (PSFEx SAMPLE_MAXELLIP)
  /** Accepted size range relative to the stellar-locus mode (default [0.8, 1.25]). */
  sizeRange?: [number, number];
  /** Isolation radius in pixels: reject if a neighbour with > `neighbourFrac` of the flux is closer. */
  isolationPix?: number;
  neighbourFrac?: number;
  /** Keep at most this many (the highest S/N), default 500. */
  maxStars?: number;
  /** Ignore stars whose centre is closer than this to the image edge (needs width/height). */
  edgePix?: number;
  width?: number;
  height?: number;
}

export interface PsfSelection {
  indices: number[];
  /** Mode of the size of bright compact sources (pixels). */
  fwhmMode: number;
  counts: { input: number; flags: number; sn: number; ellip: number; size: number; isolation: number; edge: number };
}

export function selectPsfStars(cat: PsfCandidates, opts: PsfSelectOptions = {}): PsfSelection {
  const n = cat.x.length;
  const snMin = opts.snMin ?? 20, snMax = opts.snMax ?? 1e5, maxEllip = opts.maxEllip ?? 0.3;
  const [sLo, sHi] = opts.sizeRange ?? [0.8, 1.25];
  const counts = { input: n, flags: 0, sn: 0, ellip: 0, size: 0, isolation: 0, edge: 0 };
  const pre: number[] = [];
  for (let i = 0; i < n; i++) {
    if (cat.flags && cat.flags[i] !== 0) { counts.flags++; continue; }
    const f = cat.flux[i]!, e = cat.fluxErr[i]!;
    const sn = f / e;
    if (!(sn >= snMin && sn <= snMax) || !Number.isFinite(cat.fwhm[i]!) || !(cat.fwhm[i]! > 0)) { counts.sn++; continue; }
    if (cat.a && cat.b) {
      const el = 1 - cat.b[i]! / cat.a[i]!;
      if (!(el <= maxEllip)) { counts.ellip++; continue; }
    }
    if (opts.edgePix !== undefined && opts.width !== undefined && opts.height !== undefined) {
      const ep = opts.edgePix;
      if (cat.x[i]! < ep || cat.y[i]! < ep || cat.x[i]! > opts.width - 1 - ep || cat.y[i]! > opts.height - 1 - ep) { counts.edge++; continue; }
    }
    pre.push(i);
  }
  // Stellar locus: the mode of the size distribution of the compact side. Histogram of log size
  // over the candidates; the densest bin among the smallest ~60% (galaxies are larger).
  let fwhmMode = NaN;
  if (pre.length > 0) {
    const ls = pre.map((i) => Math.log(cat.fwhm[i]!)).sort((p, q) => p - q);
    const bin = 0.05;
    const lo = ls[0]!, hi = ls[Math.min(ls.length - 1, Math.floor(ls.length * 0.9))]!;
    const nb = Math.max(1, Math.ceil((hi - lo) / bin) + 1);
    const h = new Float64Array(nb);
    for (const v of ls) {
      if (v > hi) break;
      // triangular smoothing over neighbouring bins
      const b = (v - lo) / bin;
      const b0 = Math.floor(b);
      h[Math.min(nb - 1, b0)]! += 1 - (b - b0);
      if (b0 + 1 < nb) h[b0 + 1]! += b - b0;
    }
    let best = 0;
    for (let b = 1; b < nb; b++) if (h[b]! > h[best]!) best = b;
    // refine: median of values within ±1.5 bins of the peak
    const centre = lo + best * bin;
    const near = ls.filter((v) => Math.abs(v - centre) <= 1.5 * bin);
    fwhmMode = Math.exp(near.length ? near[Math.floor(near.length / 2)]! : centre);
  }
  const sized: number[] = [];
  for (const i of pre) {
    const r = cat.fwhm[i]! / fwhmMode;
    if (r >= sLo && r <= sHi) sized.push(i); else counts.size++;
  }
  // Isolation against ALL detections (grid hash).
  const iso = opts.isolationPix ?? Math.max(5, 3 * (Number.isFinite(fwhmMode) ? fwhmMode : 3));
  const frac = opts.neighbourFrac ?? 0.05;
  const cell = iso;
  const grid = new Map<number, number[]>();
  const key = (gx: number, gy: number) => gx * 1000003 + gy;
  for (let i = 0; i < n; i++) {
    const gx = Math.floor(cat.x[i]! / cell), gy = Math.floor(cat.y[i]! / cell);
    const k = key(gx, gy);
    let l = grid.get(k);
    if (!l) grid.set(k, (l = []));
    l.push(i);
  }
  const out: number[] = [];
  for (const i of sized) {
    const x = cat.x[i]!, y = cat.y[i]!, f = cat.flux[i]!;
    const gx = Math.floor(x / cell), gy = Math.floor(y / cell);
    let isolated = true;
    for (let dy = -1; dy <= 1 && isolated; dy++) for (let dx = -1; dx <= 1 && isolated; dx++) {
      const l = grid.get(key(gx + dx, gy + dy));
      if (!l) continue;
      for (const j of l) {
        if (j === i) continue;
        const ddx = cat.x[j]! - x, ddy = cat.y[j]! - y;
        if (ddx * ddx + ddy * ddy < iso * iso && !(cat.flux[j]! < frac * f)) { isolated = false; break; }
      }
    }
    if (isolated) out.push(i); else counts.isolation++;
  }
  out.sort((p, q) => cat.flux[q]! / cat.fluxErr[q]! - cat.flux[p]! / cat.fluxErr[p]!);
  const maxStars = opts.maxStars ?? 500;
  return { indices: out.slice(0, maxStars), fwhmMode, counts };
}
