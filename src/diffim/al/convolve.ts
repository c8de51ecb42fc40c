/**
 * Convolution of a whole image with a spatially varying kernel K(x, y) = Σ_m P_m(x, y)·K_m,
 * P_m = X^a·Y^b polynomial terms of the normalised position: out = Σ_m P_m·(src ⊗ K_m).
 * Done by FFT in overlap-save tiles (cost per pixel independent of the kernel area): the X
 * weights are moved onto the input and the Y weights applied to the output (see convolveSpatial),
 * so order 2 costs about 8 tile transforms. Two real tiles travel in one complex transform (one
 * in re, the other in im).
 *
 * Pixel convention: 0-based; (src ⊗ K)(x, y) = Σ_{u,v} K(u, v)·src(x − u, y − v) with the
 * kernel array indexed (v + h)·size + (u + h). Outside the image src counts as 0; NaN in src
 * must be replaced by the caller (and masked).
 */
import { fftComplex } from '../../image/fft.js';
import { loadTile } from '../../image/convolve.js';
import { fftOf } from './fft.js';

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
  /** Optional per-pixel flags: where non-zero, src (and extra.src) count as 0 (NaN count as 0 too). */
  bad?: Uint8Array;
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

/**
 * Spectrum of a kernel in the layout of forwardTile (columns by runColsDif, then rows by runDif:
 * row-major, both axes bit-reversed), with the inverse's 1/n² folded in.
 */
function kernelSpectrum(k: Float64Array, size: number, n: number, maxHalf = (size - 1) >> 1): { re: Float64Array; im: Float64Array } {
  const re = new Float64Array(n * n), im = new Float64Array(n * n);
  const h = (size - 1) >> 1;
  const s = 1 / (n * n);
  for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) {
    const v = j - h, u = i - h;
    if (Math.abs(u) > maxHalf || Math.abs(v) > maxHalf) continue;
    re[((v + n) % n) * n + ((u + n) % n)] = k[j * size + i]! * s;
  }
  const F = fftOf(n);
  F.runColsDif(re, im, false);
  for (let y = 0; y < n; y++) F.runDif(re, im, y * n, false);
  return { re, im };
}

/**
 * Tile size for a kernel of the given size: the power of two (64 … 256, larger only for kernels
 * wider than 64) with the least transform work per output pixel, n²·log₂n / (n − size + 1)².
 */
export function tileSize(kernelSize: number): number {
  let best = 0, bestCost = Infinity;
  const nMax = kernelSize > 64 ? 4096 : 256;
  for (let n = 64, l = 6; n <= nMax; n *= 2, l++) {
    const v = n - kernelSize + 1;
    if (v < n / 4) continue;
    const cost = (n * n * l) / (v * v);
    if (cost < bestCost) { bestCost = cost; best = n; }
  }
  return best || nMax;
}

/**
 * Half-width actually needed by a set of kernels: rings whose values are all below 1e-10 of the
 * largest kernel value are dropped (a relative error of ≲1e-9 per pixel, far below the float32
 * output's rounding).
 */
function effectiveHalfWidth(kernels: readonly { kernel: Float64Array; size: number }[]): number {
  let mx = 0;
  for (const k of kernels) for (const v of k.kernel) mx = Math.max(mx, Math.abs(v));
  const tiny = 1e-10 * mx;
  let hk = 0;
  for (const k of kernels) {
    const h = (k.size - 1) >> 1;
    for (let j = 0; j < k.size; j++) for (let i = 0; i < k.size; i++) {
      if (Math.abs(k.kernel[j * k.size + i]!) > tiny) hk = Math.max(hk, Math.abs(i - h), Math.abs(j - h));
    }
  }
  return hk;
}

function binom(a: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (a - k + i)) / i;
  return r;
}

/**
 * out = Σ_m P_m(x, y)·(src ⊗ K_m) [+ extra ⊗ K_e]; see the module comment. Exact (to rounding).
 *
 * The X weights go on the INPUT, the Y weights on the OUTPUT. With X(x) = X(x − u) + u/sx,
 *   X(x)^a·(src ⊗ K)(x) = Σ_k C(a, k)·((X^k·src) ⊗ (u/sx)^(a−k)·K)(x),
 * so out = Σ_b Y^b·Σ_k (X^k·src) ⊗ H_kb with H_kb = Σ_{terms (a, b), a ≥ k} C(a, k)(u/sx)^(a−k) K_ab.
 * Per pair of tiles (one in re, one in im): one column transform of src; for each input power k
 * the column-transformed tile is weighted by X^k (per column, the two packed tiles separated by
 * Hermitian symmetry) and row-transformed; products summed per output power b; per b one inverse
 * column transform, weighted by Y^b (a scalar per row) and summed; ONE inverse row pass on the
 * tile's valid rows. Order 2: 4 + 3 + 0.84 tile transforms instead of 2 + 6 + 2.5 for weighting
 * every term's output. Columns are transformed all at once (Fft.runColsDif), no transposes.
 */
export function convolveSpatial(inp: SpatialConvolveInput, out: Float32Array = new Float32Array(inp.width * inp.height)): Float32Array {
  const { src, width, height, terms } = inp;
  const hk = effectiveHalfWidth(inp.extra ? [...terms, inp.extra] : terms);
  const ks = 2 * hk + 1;
  const n = tileSize(ks);
  const valid = n - 2 * hk;
  const nn = n * n;
  const F = fftOf(n);
  // input powers k and output powers b
  let maxA = 0, maxB = 0;
  for (const t of terms) { maxA = Math.max(maxA, t.ax); maxB = Math.max(maxB, t.ay); }
  // H_kb kernels (size ks, centred), then spectra
  const H: (Float64Array | null)[][] = [];
  for (let k = 0; k <= maxA; k++) {
    const row: (Float64Array | null)[] = [];
    for (let b = 0; b <= maxB; b++) {
      let h: Float64Array | null = null;
      for (const t of terms) {
        if (t.ay !== b || t.ax < k) continue;
        if (!h) h = new Float64Array(ks * ks);
        const c = binom(t.ax, k), e = t.ax - k, ht = (t.size - 1) >> 1;
        for (let j = 0; j < t.size; j++) for (let i = 0; i < t.size; i++) {
          const v = t.kernel[j * t.size + i]!;
          if (v === 0 || Math.abs(i - ht) > hk || Math.abs(j - ht) > hk) continue;
          const u = i - ht;
          h[(j - ht + hk) * ks + (i - ht + hk)]! += c * (e ? (u / inp.sx) ** e : 1) * v;
        }
      }
      row.push(h);
    }
    H.push(row);
  }
  // spectra interleaved (re, im) in single precision: half the memory traffic of the products
  // (relative error ~6e-8 of each coefficient, far below any image noise)
  const inter = (sp: { re: Float64Array; im: Float64Array }): Float32Array => {
    const a = new Float32Array(2 * nn);
    for (let i = 0; i < nn; i++) { a[2 * i] = sp.re[i]!; a[2 * i + 1] = sp.im[i]!; }
    return a;
  };
  const specs: (Float32Array | null)[][] = H.map((r) => r.map((h) => (h ? inter(kernelSpectrum(h, ks, n)) : null)));
  const espec = inp.extra ? inter(kernelSpectrum(inp.extra.kernel, inp.extra.size, n, hk)) : null;
  // which input powers are needed at all
  const needK: boolean[] = [];
  for (let k = 0; k <= maxA; k++) needK.push(specs[k]!.some((x) => x !== null));
  const needB: boolean[] = [];
  for (let b = 0; b <= maxB; b++) needB.push(specs.some((r) => r[b] !== null) || (b === 0 && espec !== null));
  const y0 = inp.y0 ?? 0, y1 = Math.min(inp.y1 ?? height, height);
  const bad = inp.bad;
  // the common case (spatial order 2, every term present, an extra image): one fused product loop
  let full2 = maxA === 2 && maxB === 2 && espec !== null;
  for (let k = 0; k <= 2 && full2; k++) for (let b = 0; b <= 2 - k; b++) if (!specs[k]![b]) full2 = false;
  for (let k = 0; k <= 2 && full2; k++) for (let b = 3 - k; b <= 2; b++) if (specs[k]![b]) full2 = false;
  let load = loadTile;
  if (bad) {
    // 32-px blocks of each needed row that hold a flagged or NaN pixel (the rest is copied plainly)
    const r0 = Math.max(0, y0 - hk), r1 = Math.min(height, y1 + hk);
    const dS = dirtyBlocks(src, bad, width, r0, r1), dE = inp.extra ? dirtyBlocks(inp.extra.src, bad, width, r0, r1) : dS;
    const eSrc = inp.extra?.src;
    load = (a, w, h, bx, by, nt, dst) => loadTileClean(a, bad, a === eSrc && a !== src ? dE : dS, w, h, bx, by, nt, dst);
  }
  // bit-reversed row index of −ky for the row holding ky (Hermitian pairs)
  const rev = new Uint32Array(n);
  { let l = 0; while (1 << l < n) l++; for (let i = 0; i < n; i++) { let r = 0; for (let b = 0, v = i; b < l; b++, v >>= 1) r = (r << 1) | (v & 1); rev[i] = r; } }
  const negRow = new Uint32Array(n);
  for (let r = 0; r < n; r++) negRow[r] = rev[(n - rev[r]!) & (n - 1)]!;
  const zR = new Float64Array(nn), zI = new Float64Array(nn);
  const bR: Float64Array[] = [], bI: Float64Array[] = [];
  for (let b = 0; b <= maxB; b++) { bR.push(needB[b] ? new Float64Array(nn) : new Float64Array(0)); bI.push(needB[b] ? new Float64Array(nn) : new Float64Array(0)); }
  const eR = espec ? new Float64Array(nn) : null, eI = espec ? new Float64Array(nn) : null;
  // row buffers: the X^k-weighted rows, and the output row
  const rR: Float64Array[] = [], rI: Float64Array[] = [];
  for (let k = 0; k <= maxA; k++) { rR.push(new Float64Array(2 * n)); rI.push(new Float64Array(2 * n)); }
  const gR = new Float64Array(n), gI = new Float64Array(n);
  const alpha: Float64Array[] = [], beta: Float64Array[] = [];
  for (let k = 0; k <= maxA; k++) { alpha.push(new Float64Array(n)); beta.push(new Float64Array(n)); }
  const yW = new Float64Array(maxB + 1);
  for (let ty = y0; ty < y1; ty += valid) {
    const vr = Math.min(valid, y1 - ty);
    for (let ax = 0; ax < width; ax += 2 * valid) {
      const bx = ax + valid;
      const second = bx < width;
      zR.fill(0); zI.fill(0);
      load(src, width, height, ax - hk, ty - hk, n, zR);
      if (second) load(src, width, height, bx - hk, ty - hk, n, zI);
      F.runColsDif(zR, zI, false);
      if (eR && eI && inp.extra) {
        eR.fill(0); eI.fill(0);
        load(inp.extra.src, width, height, ax - hk, ty - hk, n, eR);
        if (second) load(inp.extra.src, width, height, bx - hk, ty - hk, n, eI);
        F.runColsDif(eR, eI, false);
      }
      // X^k column weights; tile A in re, B in im: W = α·Z + β·conj(Z(−ky)), α = (X_A^k + X_B^k)/2, β = (X_A^k − X_B^k)/2
      for (let k = 1; k <= maxA; k++) {
        const al = alpha[k]!, be = beta[k]!;
        for (let c = 0; c < n; c++) {
          const xa = ((ax - hk + c - inp.cx) / inp.sx) ** k;
          const xb = second ? ((bx - hk + c - inp.cx) / inp.sx) ** k : xa;
          al[c] = 0.5 * (xa + xb); be[c] = 0.5 * (xa - xb);
        }
      }
      // per pair of frequency rows (ky, −ky): weighted rows (both read Z at ky and −ky), row
      // transforms (W_0 = Z in place), products summed per output power b
      for (let r = 0; r < n; r++) {
        const r2 = negRow[r]!;
        if (r2 < r) continue;
        const o = r * n, o2 = r2 * n;
        if (full2) {
          // W_1 and W_2 for both rows in one pass over Z
          const w1r = rR[1]!, w1i = rI[1]!, w2r = rR[2]!, w2i = rI[2]!;
          const a1 = alpha[1]!, b1 = beta[1]!, a2 = alpha[2]!, b2 = beta[2]!;
          for (let c = 0; c < n; c++) {
            const pr = zR[o + c]!, pi = zI[o + c]!, qr = zR[o2 + c]!, qi = zI[o2 + c]!;
            let a = a1[c]!, b = b1[c]!;
            w1r[c] = a * pr + b * qr; w1i[c] = a * pi - b * qi;
            w1r[n + c] = a * qr + b * pr; w1i[n + c] = a * qi - b * pi;
            a = a2[c]!; b = b2[c]!;
            w2r[c] = a * pr + b * qr; w2i[c] = a * pi - b * qi;
            w2r[n + c] = a * qr + b * pr; w2i[n + c] = a * qi - b * pi;
          }
        } else for (let k = 1; k <= maxA; k++) {
          if (!needK[k]) continue;
          const wr = rR[k]!, wi = rI[k]!, al = alpha[k]!, be = beta[k]!;
          for (let c = 0; c < n; c++) {
            const a = al[c]!, b = be[c]!;
            const pr = zR[o + c]!, pi = zI[o + c]!, qr = zR[o2 + c]!, qi = zI[o2 + c]!;
            wr[c] = a * pr + b * qr; wi[c] = a * pi - b * qi;
            wr[n + c] = a * qr + b * pr; wi[n + c] = a * qi - b * pi;
          }
        }
        for (let side = 0; side < (r2 === r ? 1 : 2); side++) {
          const oo = side ? o2 : o, wo = side ? n : 0;
          if (needK[0]) F.runDif(zR, zI, oo, false);
          for (let k = 1; k <= maxA; k++) if (needK[k]) F.runDif(rR[k]!, rI[k]!, wo, false);
          if (eR && eI) F.runDif(eR, eI, oo, false);
          if (full2 && eR && eI && espec) {
            rowMul2(zR, zI, oo, rR[1]!, rI[1]!, rR[2]!, rI[2]!, wo, eR, eI, specs, espec, bR, bI, n);
            continue;
          }
          for (let b = 0; b <= maxB; b++) {
            if (!needB[b]) continue;
            const ZR = bR[b]!, ZI = bI[b]!;
            let first = true;
            for (let k = 0; k <= maxA; k++) {
              const sp = specs[k]![b];
              if (!sp) continue;
              if (k === 0) rowMul(zR, zI, oo, sp, ZR, ZI, oo, n, first);
              else rowMul(rR[k]!, rI[k]!, wo, sp, ZR, ZI, oo, n, first);
              first = false;
            }
            if (b === 0 && espec && eR && eI) { rowMul(eR, eI, oo, espec, ZR, ZI, oo, n, first); first = false; }
          }
        }
      }
      for (let b = 0; b <= maxB; b++) if (needB[b]) F.runColsBitrev(bR[b]!, bI[b]!, true);
      // valid rows: Σ_b Y^b·Z_b, inverse row transform, store (A from re, B from im)
      const wA = Math.min(valid, width - ax), wB = second ? Math.min(valid, width - bx) : 0;
      for (let y = 0; y < vr; y++) {
        const Y = (ty + y - inp.cy) / inp.sy;
        for (let b = 0; b <= maxB; b++) yW[b] = Y ** b;
        const o = (y + hk) * n;
        let first = true;
        if (full2) {
          const z0R = bR[0]!, z0I = bI[0]!, z1R = bR[1]!, z1I = bI[1]!, z2R = bR[2]!, z2I = bI[2]!, f1 = yW[1]!, f2 = yW[2]!;
          for (let c = 0; c < n; c++) {
            gR[c] = z0R[o + c]! + f1 * z1R[o + c]! + f2 * z2R[o + c]!;
            gI[c] = z0I[o + c]! + f1 * z1I[o + c]! + f2 * z2I[o + c]!;
          }
        } else for (let b = 0; b <= maxB; b++) {
          if (!needB[b]) continue;
          const ZR = bR[b]!, ZI = bI[b]!, f = yW[b]!;
          if (first) { for (let c = 0; c < n; c++) { gR[c] = f * ZR[o + c]!; gI[c] = f * ZI[o + c]!; } first = false; }
          else for (let c = 0; c < n; c++) { gR[c]! += f * ZR[o + c]!; gI[c]! += f * ZI[o + c]!; }
        }
        F.runBitrev(gR, gI, 0, true);
        const dA = (ty + y) * width + ax;
        for (let x = 0; x < wA; x++) out[dA + x] = gR[x + hk]!;
        const dB = (ty + y) * width + bx;
        for (let x = 0; x < wB; x++) out[dB + x] = gI[x + hk]!;
      }
    }
  }
  return out;
}

/** As loadTile (dst pre-zeroed, outside the image stays 0), with flagged and NaN pixels as 0. */
function loadTileClean(src: Float32Array, bad: Uint8Array, dirty: Uint8Array, width: number, height: number, bx: number, by: number, n: number, dst: Float64Array): void {
  const x0 = Math.max(0, -bx), x1 = Math.min(n, width - bx);
  const nb = (width + 31) >> 5;
  for (let y = 0; y < n; y++) {
    const sy = by + y;
    if (sy < 0 || sy >= height) continue;
    const srow = sy * width + bx, drow = y * n, dr = sy * nb;
    // runs of image columns [ix, ixEnd) within one 32-px block
    for (let x = x0; x < x1;) {
      const ix = bx + x, blk = ix >> 5;
      const xe = Math.min(x1, ((blk + 1) << 5) - bx);
      if (dirty[dr + blk]) {
        for (let k = x; k < xe; k++) { const v = src[srow + k]!; dst[drow + k] = bad[srow + k]! !== 0 || v - v !== 0 ? 0 : v; }
      } else {
        for (let k = x; k < xe; k++) dst[drow + k] = src[srow + k]!;
      }
      x = xe;
    }
  }
}

/** Per row r0 ≤ y < r1 and 32-px block: 1 if a pixel there is flagged or NaN (rows outside stay 0). */
function dirtyBlocks(src: Float32Array, bad: Uint8Array, width: number, r0: number, r1: number): Uint8Array {
  const nb = (width + 31) >> 5;
  const out = new Uint8Array(nb * Math.ceil(src.length / width));
  for (let y = r0; y < r1; y++) {
    const o = y * width;
    for (let b = 0; b < nb; b++) {
      const a = o + (b << 5), e = o + Math.min(width, (b + 1) << 5);
      let d = 0;
      for (let i = a; i < e; i++) { const v = src[i]!; if (bad[i]! !== 0 || v - v !== 0) { d = 1; break; } }
      out[y * nb + b] = d;
    }
  }
  return out;
}

/**
 * The seven products of spatial order 2 in one pass over a frequency row (offset o in the tile
 * arrays, wo in the row buffers of W_1, W_2): Z_0 = W_0·Ĥ_00 + W_1·Ĥ_10 + W_2·Ĥ_20 + E·Φ̂,
 * Z_1 = W_0·Ĥ_01 + W_1·Ĥ_11, Z_2 = W_0·Ĥ_02.
 */
function rowMul2(w0R: Float64Array, w0I: Float64Array, o: number, w1R: Float64Array, w1I: Float64Array, w2R: Float64Array, w2I: Float64Array, wo: number,
  eR: Float64Array, eI: Float64Array, specs: (Float32Array | null)[][], espec: Float32Array, bR: Float64Array[], bI: Float64Array[], n: number): void {
  const h00 = specs[0]![0]!, h01 = specs[0]![1]!, h02 = specs[0]![2]!, h10 = specs[1]![0]!, h11 = specs[1]![1]!, h20 = specs[2]![0]!;
  const z0R = bR[0]!, z0I = bI[0]!, z1R = bR[1]!, z1I = bI[1]!, z2R = bR[2]!, z2I = bI[2]!;
  for (let i = 0; i < n; i++) {
    const q = o + i, s = 2 * q, w = wo + i;
    const ar = w0R[q]!, ai = w0I[q]!, br = w1R[w]!, bi = w1I[w]!, cr = w2R[w]!, ci = w2I[w]!, er = eR[q]!, ei = eI[q]!;
    let hr = h00[s]!, hi = h00[s + 1]!;
    let zr = ar * hr - ai * hi, zi = ar * hi + ai * hr;
    hr = h10[s]!; hi = h10[s + 1]!; zr += br * hr - bi * hi; zi += br * hi + bi * hr;
    hr = h20[s]!; hi = h20[s + 1]!; zr += cr * hr - ci * hi; zi += cr * hi + ci * hr;
    hr = espec[s]!; hi = espec[s + 1]!; zr += er * hr - ei * hi; zi += er * hi + ei * hr;
    z0R[q] = zr; z0I[q] = zi;
    hr = h01[s]!; hi = h01[s + 1]!; zr = ar * hr - ai * hi; zi = ar * hi + ai * hr;
    hr = h11[s]!; hi = h11[s + 1]!; zr += br * hr - bi * hi; zi += br * hi + bi * hr;
    z1R[q] = zr; z1I[q] = zi;
    hr = h02[s]!; hi = h02[s + 1]!;
    z2R[q] = ar * hr - ai * hi; z2I[q] = ar * hi + ai * hr;
  }
}

/** Z[zo..zo+n) (=|+=) A[ao..ao+n)·S[zo..zo+n), complex; S interleaved (re, im). */
function rowMul(aR: Float64Array, aI: Float64Array, ao: number, sp: Float32Array, zR: Float64Array, zI: Float64Array, zo: number, n: number, set: boolean): void {
  if (set) {
    for (let i = 0; i < n; i++) {
      const a = aR[ao + i]!, b = aI[ao + i]!, q = 2 * (zo + i), c = sp[q]!, d = sp[q + 1]!;
      zR[zo + i] = a * c - b * d; zI[zo + i] = a * d + b * c;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const a = aR[ao + i]!, b = aI[ao + i]!, q = 2 * (zo + i), c = sp[q]!, d = sp[q + 1]!;
      zR[zo + i]! += a * c - b * d; zI[zo + i]! += a * d + b * c;
    }
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
