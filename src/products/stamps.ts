/**
 * Stamps (51×51 search / template / difference cut-outs per diaSource, as `tessera diff --stamps`
 * writes them: image cubes SEARCH, TEMPLATE, DIFF of shape [51, 51, n] and a DIASRC table whose
 * row k is diaSource NUMBER k+1) rendered as PNGs with a zscale + asinh stretch.
 */
import { existsSync } from 'node:fs';
import { FitsReader } from '../fits/reader.js';
import { encodePng } from './png.js';

export interface StampSet {
  size: number;
  search: Float32Array;
  template: Float32Array;
  diff: Float32Array;
}

/** Read the stamps of diaSource row `row` (0-based) from a stamps file; undefined when absent. */
export function readStamps(path: string, row: number): StampSet | undefined {
  if (!existsSync(path)) return undefined;
  const r = FitsReader.open(path);
  try {
    const planes: Float32Array[] = [];
    let size = 0;
    for (const name of ['SEARCH', 'TEMPLATE', 'DIFF']) {
      const img = r.readImage(name);
      const [w, h, n] = img.shape as number[];
      if (!w || !h || n === undefined || row >= n) return undefined;
      size = w;
      const sub = img.data.subarray(row * w * h, (row + 1) * w * h);
      planes.push(Float32Array.from(sub as ArrayLike<number>));
    }
    return { size, search: planes[0]!, template: planes[1]!, diff: planes[2]! };
  } finally {
    r.close();
  }
}

/** IRAF-like zscale limits (contrast 0.25) of the finite values of a plane. */
export function zscale(v: ArrayLike<number>, contrast = 0.25): [number, number] {
  const s: number[] = [];
  for (let i = 0; i < v.length; i++) if (Number.isFinite(v[i]!)) s.push(v[i]!);
  if (s.length === 0) return [0, 1];
  s.sort((a, b) => a - b);
  const n = s.length;
  const med = n % 2 ? s[(n - 1) / 2]! : 0.5 * (s[n / 2 - 1]! + s[n / 2]!);
  // iterative linear fit of sorted value against index with 2.5σ rejection
  let use = s.map(() => true);
  let slope = 0, icpt = med;
  for (let it = 0; it < 5; it++) {
    let sx = 0, sy = 0, sxx = 0, sxy = 0, m = 0;
    for (let i = 0; i < n; i++) if (use[i]) { sx += i; sy += s[i]!; sxx += i * i; sxy += i * s[i]!; m++; }
    if (m < Math.max(5, n / 2)) break;
    const d = m * sxx - sx * sx;
    if (d <= 0) break;
    slope = (m * sxy - sx * sy) / d; icpt = (sy - slope * sx) / m;
    let rr = 0;
    for (let i = 0; i < n; i++) if (use[i]) rr += (s[i]! - icpt - slope * i) ** 2;
    const sd = Math.sqrt(rr / m);
    const nu = s.map((y, i) => Math.abs(y - icpt - slope * i) <= 2.5 * sd);
    if (nu.every((u, i) => u === use[i])) break;
    use = nu;
  }
  const z1 = Math.max(s[0]!, med - ((n / 2) * slope) / contrast);
  const z2 = Math.min(s[n - 1]!, med + ((n / 2) * slope) / contrast);
  return z2 > z1 ? [z1, z2] : [s[0]!, s[n - 1]! > s[0]! ? s[n - 1]! : s[0]! + 1];
}

/** Grey PNG of a square plane, zscale limits with an asinh stretch, upscaled `zoom` times (NaN = mid grey). */
export function stampPng(plane: Float32Array, size: number, zoom = 3): Uint8Array {
  const [z1, z2] = zscale(plane);
  const a = 10, norm = Math.asinh(a);
  const W = size * zoom;
  const out = new Uint8Array(W * W);
  for (let y = 0; y < size; y++) {
    // FITS rows go up; PNG rows go down
    const srcRow = (size - 1 - y) * size;
    for (let x = 0; x < size; x++) {
      const v = plane[srcRow + x]!;
      let g = 128;
      if (Number.isFinite(v)) {
        const t = Math.min(1, Math.max(0, (v - z1) / (z2 - z1)));
        g = Math.round((255 * Math.asinh(a * t)) / norm);
      }
      for (let j = 0; j < zoom; j++) out.fill(g, (y * zoom + j) * W + x * zoom, (y * zoom + j) * W + x * zoom + zoom);
    }
  }
  return encodePng(W, W, out, 1);
}

export const pngDataUri = (png: Uint8Array): string => `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
