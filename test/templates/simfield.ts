/**
 * Test helpers: render point sources with a circular Gaussian PSF defined ON THE SKY onto any
 * WCS grid (the local Jacobian of the WCS makes it elliptical in pixels), pixel-integrated by
 * 5×5 sub-sampling, and simple aperture measurements. 0-based pixels.
 */
import { Wcs } from '../../src/wcs/wcs.js';

export interface Star { ra: number; dec: number; flux: number }

/** Local Jacobian of a WCS at (x, y): arcsec on the tangent plane per pixel, [dxi/dx, dxi/dy, deta/dx, deta/dy]. */
export function localJacobian(wcs: Wcs, x: number, y: number): [number, number, number, number] {
  const s = wcs.pixToSky([x, x + 0.5, x - 0.5, x, x], [y, y, y, y + 0.5, y - 0.5], 0);
  const c = Math.cos((s.dec[0]! * Math.PI) / 180);
  const dra = (i: number, k: number) => { let d = s.ra[i]! - s.ra[k]!; if (d > 180) d -= 360; if (d < -180) d += 360; return d * c * 3600; };
  const ddec = (i: number, k: number) => (s.dec[i]! - s.dec[k]!) * 3600;
  return [dra(1, 2), dra(3, 4), ddec(1, 2), ddec(3, 4)];
}

/** Add stars (sky Gaussian PSF of sigmaArcsec) to an image on the grid of `wcs`. */
export function renderStars(wcs: Wcs, width: number, height: number, stars: readonly Star[], sigmaArcsec: number, out = new Float32Array(width * height)): Float32Array {
  const SUB = 5;
  for (const st of stars) {
    const p = wcs.skyToPix([st.ra], [st.dec], 0);
    const x0 = p.x[0]!, y0 = p.y[0]!;
    if (!(x0 > -20 && y0 > -20 && x0 < width + 20 && y0 < height + 20)) continue;
    const [a, b, c, d] = localJacobian(wcs, x0, y0);
    // pixel-space inverse covariance: Mᵀ M / σ², M = [[a, b], [c, d]]
    const s2 = sigmaArcsec * sigmaArcsec;
    const ixx = (a * a + c * c) / s2, ixy = (a * b + c * d) / s2, iyy = (b * b + d * d) / s2;
    const det = ixx * iyy - ixy * ixy;
    const norm = (st.flux * Math.sqrt(det)) / (2 * Math.PI);
    const r = Math.ceil(6 * Math.sqrt(Math.max(iyy, ixx) / det));
    const xa = Math.max(0, Math.floor(x0) - r), xb = Math.min(width - 1, Math.floor(x0) + r);
    const ya = Math.max(0, Math.floor(y0) - r), yb = Math.min(height - 1, Math.floor(y0) + r);
    for (let y = ya; y <= yb; y++) for (let x = xa; x <= xb; x++) {
      let s = 0;
      for (let v = 0; v < SUB; v++) {
        const dy = y - y0 + (v + 0.5) / SUB - 0.5;
        for (let u = 0; u < SUB; u++) {
          const dx = x - x0 + (u + 0.5) / SUB - 0.5;
          s += Math.exp(-0.5 * (ixx * dx * dx + 2 * ixy * dx * dy + iyy * dy * dy));
        }
      }
      out[y * width + x]! += (norm * s) / (SUB * SUB);
    }
  }
  return out;
}

/** Aperture sum and first-moment centroid within radius r of (x, y). */
export function aperture(img: Float32Array, width: number, height: number, x: number, y: number, r: number): { flux: number; cx: number; cy: number; bad: boolean } {
  let f = 0, sx = 0, sy = 0, bad = false;
  for (let j = Math.floor(y - r); j <= Math.ceil(y + r); j++) for (let i = Math.floor(x - r); i <= Math.ceil(x + r); i++) {
    if ((i - x) ** 2 + (j - y) ** 2 > r * r) continue;
    if (i < 0 || j < 0 || i >= width || j >= height) { bad = true; continue; }
    const v = img[j * width + i]!;
    if (v !== v) { bad = true; continue; }
    f += v; sx += v * i; sy += v * j;
  }
  return { flux: f, cx: sx / f, cy: sy / f, bad };
}

/** Deterministic Gaussian random numbers (xorshift + Box–Muller). */
export function gaussRng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const u = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return (s + 0.5) / 4294967296; };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/** A TAN+TPV grid with noticeable distortion (PV1_4 = x², PV1_7 = x³, PV2_4 = y², PV2_5 = xy terms). */
export function distortedWcs(ra: number, dec: number, width: number, height: number, scaleArcsec: number): Wcs {
  const s = scaleArcsec / 3600;
  const pv1 = [0, 1, 0, 0, 0.5, 0.2, 0, 20];
  const pv2 = [0, 1, 0, 0, 0.4, -0.3, 0.2];
  return Wcs.tpv({ crval: [ra, dec], crpix: [width / 2 + 0.5, height / 2 + 0.5], cd: [[-s, 0], [0, s]], pv1, pv2, naxis: [width, height] });
}

/** A rotated, scaled TAN grid centred near (ra, dec). */
export function rotatedWcs(ra: number, dec: number, width: number, height: number, scaleArcsec: number, rotDeg: number): Wcs {
  const s = scaleArcsec / 3600, t = (rotDeg * Math.PI) / 180;
  const cd = [[-s * Math.cos(t), s * Math.sin(t)], [s * Math.sin(t), s * Math.cos(t)]];
  return Wcs.tan({ crval: [ra, dec], crpix: [width / 2 + 0.5, height / 2 + 0.5], cd, naxis: [width, height] });
}

/** Stars on a jittered grid inside the footprint of `wcs` (margin in pixels). */
export function starGrid(wcs: Wcs, width: number, height: number, n: number, margin: number, fluxes: [number, number], seed = 7): Star[] {
  const g = gaussRng(seed);
  const out: Star[] = [];
  const side = Math.ceil(Math.sqrt(n));
  for (let j = 0; j < side; j++) for (let i = 0; i < side; i++) {
    if (out.length >= n) break;
    const x = margin + ((i + 0.5 + 0.05 * g()) / side) * (width - 2 * margin);
    const y = margin + ((j + 0.5 + 0.05 * g()) / side) * (height - 2 * margin);
    const s = wcs.pixToSky([x], [y], 0);
    const f = fluxes[0] * (fluxes[1] / fluxes[0]) ** ((out.length * 0.618) % 1);
    out.push({ ra: s.ra[0]!, dec: s.dec[0]!, flux: f });
  }
  return out;
}
