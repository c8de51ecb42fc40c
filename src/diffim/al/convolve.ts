/**
 * Convolution of a whole image with a spatially varying kernel K(x, y) = Σ_m P_m(x, y)·K_m,
 * P_m = X^a·Y^b polynomial terms of the normalised position: out = Σ_m P_m·(src ⊗ K_m).
 * Done by FFT in overlap-save tiles: each tile is transformed once, multiplied by every K̂_m and
 * transformed back, so the cost per pixel is (1 + M)·O(log N) whatever the kernel area. Two
 * real tiles travel in one complex transform (real in re, the other in im).
 *
 * Pixel convention: 0-based; (src ⊗ K)(x, y) = Σ_{u,v} K(u, v)·src(x − u, y − v) with the
 * kernel array indexed (v + h)·size + (u + h). Outside the image src counts as 0; NaN in src
 * must be replaced by the caller (and masked).
 */
import { fftComplex } from '../../image/fft.js';
import { loadTile } from '../../image/convolve.js';
import { fftOf, transpose } from './fft.js';

export interface KernelTerm {
  /** size × size kernel (odd size). */
  kernel: Float64Array;
  size: number;
  /** Polynomial exponents of this term's spatial weight X^ax·Y^ay (0, 0 = constant). */
  ax: number;
  ay: number;
}

export interface SpatialConvolveInput {
  src: Float32Array;
  width: number;
  height: number;
  terms: KernelTerm[];
  /** Normalisation of the positions: X = (x − cx)/sx, Y = (y − cy)/sy. */
  cx: number; cy: number; sx: number; sy: number;
  /** Optional second image convolved with a constant kernel and added: out += extra ⊗ K_e. */
  extra?: { src: Float32Array; kernel: Float64Array; size: number };
  /** Rows [y0, y1) of the output to compute (default all): lets workers split the image. */
  y0?: number;
  y1?: number;
}

let tmpR = new Float64Array(0), tmpI = new Float64Array(0);

/** 2-D FFT of n × n in place, rows then columns (columns through a contiguous copy). */
export function fft2(re: Float64Array, im: Float64Array, n: number, inverse: boolean): void {
  for (let y = 0; y < n; y++) fftComplex(re, im, inverse, n, y * n, 1);
  if (tmpR.length < n) { tmpR = new Float64Array(n); tmpI = new Float64Array(n); }
  for (let x = 0; x < n; x++) {
    for (let y = 0; y < n; y++) { tmpR[y] = re[y * n + x]!; tmpI[y] = im[y * n + x]!; }
    fftComplex(tmpR, tmpI, inverse, n, 0, 1);
    for (let y = 0; y < n; y++) { re[y * n + x] = tmpR[y]!; im[y * n + x] = tmpI[y]!; }
  }
}

/** Kernel spectrum in the (transposed, bit-reversed) layout of Fft.run2dDif, with the inverse's 1/n² folded in. */
function kernelSpectrum(k: Float64Array, size: number, n: number): { re: Float64Array; im: Float64Array } {
  const re = new Float64Array(n * n), im = new Float64Array(n * n);
  const h = (size - 1) >> 1;
  const s = 1 / (n * n);
  for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) {
    const v = j - h, u = i - h;
    re[((v + n) % n) * n + ((u + n) % n)] = k[j * size + i]! * s;
  }
  fftOf(n).run2dDif(re, im);
  return { re, im };
}

/** Tile size for a kernel of the given size: the power of two ≥ 4·size, at least 128. */
export function tileSize(kernelSize: number): number {
  let n = 128;
  while (n < 4 * kernelSize) n *= 2;
  return n;
}

/**
 * out = Σ_m P_m(x, y)·(src ⊗ K_m) [+ extra ⊗ K_e]; see the module comment.
 *
 * The inverse transform of each term is done in two halves: its first pass (along y, for every
 * frequency column) per term; the weight Y^b is constant along the second pass (along x), so the
 * terms sharing an X power a are summed, weighted by Y^b, before ONE second pass per X power, and
 * that pass runs only on the tile's valid rows. Tiles are paired within a tile row (the pair shares
 * its Y weights, so the re/im packing survives the weighting).
 */
export function convolveSpatial(inp: SpatialConvolveInput, out: Float32Array = new Float32Array(inp.width * inp.height)): Float32Array {
  const { src, width, height, terms } = inp;
  let ks = 1;
  for (const t of terms) ks = Math.max(ks, t.size);
  if (inp.extra) ks = Math.max(ks, inp.extra.size);
  const n = tileSize(ks);
  const hk = (ks - 1) >> 1;
  const valid = n - 2 * hk;
  const nn = n * n;
  const F = fftOf(n);
  // kernel spectra interleaved (re, im) in single precision: half the memory traffic of the
  // per-row products (relative error ~1e-7 of the tile values, far below any image noise)
  const inter = (sp: { re: Float64Array; im: Float64Array }): Float32Array => {
    const a = new Float32Array(2 * nn);
    for (let i = 0; i < nn; i++) { a[2 * i] = sp.re[i]!; a[2 * i + 1] = sp.im[i]!; }
    return a;
  };
  const specs = terms.map((t) => inter(kernelSpectrum(t.kernel, t.size, n)));
  const espec = inp.extra ? inter(kernelSpectrum(inp.extra.kernel, inp.extra.size, n)) : null;
  const y0 = inp.y0 ?? 0, y1 = Math.min(inp.y1 ?? height, height);
  // polynomial powers per column and row
  let maxA = 0, maxB = 0;
  for (const t of terms) { maxA = Math.max(maxA, t.ax); maxB = Math.max(maxB, t.ay); }
  const xp: Float64Array[] = [], yp: Float64Array[] = [];
  for (let a = 0; a <= maxA; a++) { const r = new Float64Array(width); for (let x = 0; x < width; x++) r[x] = ((x - inp.cx) / inp.sx) ** a; xp.push(r); }
  for (let b = 0; b <= maxB; b++) { const r = new Float64Array(height); for (let y = 0; y < height; y++) r[y] = ((y - inp.cy) / inp.sy) ** b; yp.push(r); }
  // groups of terms by X power
  const powers = [...new Set(terms.map((t) => t.ax))].sort((p, q) => p - q);
  const gOf = terms.map((t) => powers.indexOf(t.ax));
  const firstOf = gOf.map((g, m) => gOf.indexOf(g) === m);
  const gR = powers.map(() => new Float64Array(nn)), gI = powers.map(() => new Float64Array(nn));
  const rowR = new Float64Array(n), rowI = new Float64Array(n);
  const sR = new Float64Array(nn), sI = new Float64Array(nn);
  const eR = espec ? new Float64Array(nn) : null, eI = espec ? new Float64Array(nn) : null;
  const wys = terms.map(() => new Float64Array(n));
  for (let ty = y0; ty < y1; ty += valid) {
    const vr = Math.min(valid, y1 - ty);
    // Y weights of each term over this tile row's valid rows
    for (let m = 0; m < terms.length; m++) {
      const py = yp[terms[m]!.ay]!, w = wys[m]!;
      w.fill(0);
      for (let y = 0; y < vr; y++) w[y + hk] = py[ty + y]!;
    }
    for (let ax = 0; ax < width; ax += 2 * valid) {
      const bx = ax + valid;
      const second = bx < width;
      sR.fill(0); sI.fill(0);
      loadTile(src, width, height, ax - hk, ty - hk, n, sR);
      if (second) loadTile(src, width, height, bx - hk, ty - hk, n, sI);
      F.run2dDif(sR, sI);
      if (eR && eI && inp.extra) {
        eR.fill(0); eI.fill(0);
        loadTile(inp.extra.src, width, height, ax - hk, ty - hk, n, eR);
        if (second) loadTile(inp.extra.src, width, height, bx - hk, ty - hk, n, eI);
        F.run2dDif(eR, eI);
      }
      // per frequency row kx: product with each term's spectrum, first inverse pass (in L1), then
      // weighted accumulation into the term's X-power group (transposed layout kx·n + y)
      for (let kx = 0; kx < n; kx++) {
        const o = kx * n;
        for (let m = 0; m < terms.length; m++) {
          const sp = specs[m]!;
          for (let i = 0; i < n; i++) {
            const q = o + i;
            const a = sR[q]!, b = sI[q]!, c = sp[2 * q]!, d = sp[2 * q + 1]!;
            rowR[i] = a * c - b * d;
            rowI[i] = a * d + b * c;
          }
          if (m === 0 && espec && eR && eI) {
            for (let i = 0; i < n; i++) {
              const q = o + i;
              const a = eR[q]!, b = eI[q]!, c = espec[2 * q]!, d = espec[2 * q + 1]!;
              rowR[i]! += a * c - b * d;
              rowI[i]! += a * d + b * c;
            }
          }
          F.runBitrev(rowR, rowI, 0, true);
          const w = wys[m]!;
          const GR = gR[gOf[m]!]!, GI = gI[gOf[m]!]!;
          if (firstOf[m]) {
            // the group's first term sets the row (rows outside the valid range stay 0)
            for (let y = 0; y < n; y++) { const f = w[y]!; GR[o + y] = rowR[y]! * f; GI[o + y] = rowI[y]! * f; }
          } else {
            for (let y = hk; y < hk + vr; y++) { const f = w[y]!; GR[o + y]! += rowR[y]! * f; GI[o + y]! += rowI[y]! * f; }
          }
        }
      }
      for (let g = 0; g < powers.length; g++) {
        const GR = gR[g]!, GI = gI[g]!;
        transpose(GR, n); transpose(GI, n);
        F.runRowsBitrev(GR, GI, hk, hk + vr, true);
        const px = xp[powers[g]!]!;
        // tiles partition the output: the first group sets it, the others add
        store(GR, n, ax, ty, hk, valid, vr, out, width, px, g === 0);
        if (second) store(GI, n, bx, ty, hk, valid, vr, out, width, px, g === 0);
      }
    }
  }
  return out;
}

function store(res: Float64Array, n: number, tx: number, ty: number, hk: number, valid: number, vr: number, out: Float32Array, width: number, px: Float64Array, set: boolean): void {
  const w = Math.min(valid, width - tx);
  for (let y = 0; y < vr; y++) {
    const srow = (y + hk) * n + hk, drow = (ty + y) * width + tx;
    if (set) for (let x = 0; x < w; x++) out[drow + x] = res[srow + x]! * px[tx + x]!;
    else for (let x = 0; x < w; x++) out[drow + x]! += res[srow + x]! * px[tx + x]!;
  }
}

/** Full 2-D convolution of two small kernels (sizes a and b, odd) → size a + b − 1. */
export function convolveKernels(k1: Float64Array, s1: number, k2: Float64Array, s2: number): { kernel: Float64Array; size: number } {
  const s = s1 + s2 - 1;
  const out = new Float64Array(s * s);
  for (let j1 = 0; j1 < s1; j1++) for (let i1 = 0; i1 < s1; i1++) {
    const a = k1[j1 * s1 + i1]!;
    if (a === 0) continue;
    for (let j2 = 0; j2 < s2; j2++) {
      const row = (j1 + j2) * s + i1;
      for (let i2 = 0; i2 < s2; i2++) out[row + i2]! += a * k2[j2 * s2 + i2]!;
    }
  }
  return { kernel: out, size: s };
}
