/**
 * A small simulated transient campaign written in the file formats of the diff stage (difference
 * images with IMAGE/VARIANCE/MASK/PSF HDUs, DIASRC tables, stamps files) for the products tests.
 */
import { Header } from '../../src/fits/header.js';
import { writeFits, type ColumnInput } from '../../src/fits/writer.js';
import { patchRegion, type AssocRegion } from '../../src/assoc/region.js';
import { psfToHdu } from '../../src/psf/io.js';
import { Wcs } from '../../src/wcs/wcs.js';
import { datasetPath } from '../../src/pipeline/layout.js';
import { productLayout } from '../../src/products/layout.js';
import { gaussianPsf, rng } from '../assoc/synth.js';

export const W = 400, H = 400, ZP = 25, SIGMA = 5;
export const NMGY = 10 ** ((22.5 - ZP) / 2.5);

export interface Truth {
  name: string;
  x: number; y: number; ra: number; dec: number;
  /** difference-image flux (counts) at epoch e */
  flux(e: number): number;
  kind: 'transient' | 'variable';
}

export interface Campaign {
  root: string;
  region: AssocRegion;
  wcs: Wcs;
  epochs: { expnum: number; ccd: number; band: string; mjd: number }[];
  truth: Truth[];
  /** spurious detections (expnum, ra, dec) */
  spurious: { expnum: number; ra: number; dec: number }[];
}

export function writeCampaign(root: string, nEpochs = 8): Campaign {
  const region = patchRegion(4849, 5, 5);
  const [ra0, dec0] = region.center;
  const wcs = Wcs.tan({ crval: [ra0, dec0], crpix: [W / 2 + 0.5, H / 2 + 0.5], cd: [-0.263 / 3600, 0, 0, 0.263 / 3600], naxis: [W, H] });
  const psf = gaussianPsf(1.5);
  const psfHdu = psfToHdu(psf);
  const r = rng(99);
  const truth: Truth[] = [];
  const place = (k: number): [number, number] => [60 + (k % 5) * 70 + r.u() * 5, 60 + Math.floor(k / 5) * 90 + r.u() * 5];
  for (let k = 0; k < 6; k++) {
    const [x, y] = place(k);
    const t0 = 1 + (k % 3), peak = 400 + 300 * k;
    truth.push({ name: `SN${k}`, x, y, ra: 0, dec: 0, kind: 'transient', flux: (e) => (e < t0 ? 0 : peak * Math.exp(-(e - t0) / 3) * (1 - Math.exp(-(e - t0 + 0.6)))) });
  }
  for (let k = 6; k < 9; k++) {
    const [x, y] = place(k);
    truth.push({ name: `VAR${k}`, x, y, ra: 0, dec: 0, kind: 'variable', flux: (e) => 500 * Math.sin(1.3 * e + k) });
  }
  for (const t of truth) [t.ra, t.dec] = wcs.pixToSkyOne(t.x, t.y, 1);
  const epochs = Array.from({ length: nEpochs }, (_, e) => ({ expnum: 500 + e, ccd: 7, band: e % 2 ? 'r' : 'g', mjd: 60000 + 2 * e + 0.1 * e }));
  const spurious: Campaign['spurious'] = [];
  const D = 25, h = 12;
  for (const [e, ep] of epochs.entries()) {
    const img = new Float32Array(W * H), variance = new Float32Array(W * H).fill(SIGMA * SIGMA), mask = new Int32Array(W * H);
    const tmpl = new Float32Array(W * H), search = new Float32Array(W * H);
    for (const t of truth) {
      const st = psf.stampAt(t.x - 1, t.y - 1, D);
      const x0 = Math.round(t.x - 1) - h, y0 = Math.round(t.y - 1) - h;
      for (let j = 0; j < D; j++) for (let i = 0; i < D; i++) {
        const p = (y0 + j) * W + x0 + i;
        img[p]! += t.flux(e) * st[j * D + i]!;
        tmpl[p]! += 800 * st[j * D + i]!;
      }
    }
    for (let p = 0; p < W * H; p++) { img[p]! += SIGMA * r.n(); tmpl[p]! += 100 + 2 * r.n(); search[p] = tmpl[p]! + img[p]!; }
    const hdr = new Header();
    wcs.toHeader(hdr);
    hdr.set('MAGZERO', ZP);
    hdr.set('MJD-OBS', ep.mjd);
    const id = { band: ep.band, expnum: ep.expnum, ccd: ep.ccd };
    hdr.set('KSUM', 1.0); hdr.set('TMPLEXP', 400); hdr.set('RESIDRMS', 1.01);
    // a stand-in calexp (header only matters here) for the QA tables
    const ch = new Header();
    for (const [k, v] of [['BAND', ep.band], ['MJD-OBS', ep.mjd], ['MAGZERO', ZP], ['MAGZERR', 0.003], ['FWHM', 0.93], ['DEPTH', 23.5 - 0.1 * e], ['SKYLEVEL', 100], ['ASTRRMS', 0.01], ['NASTRSTR', 50]] as const) ch.set(k, v);
    writeFits(datasetPath(root, 'calexp', id), [{ kind: 'image', extname: 'IMAGE', header: ch, data: new Float32Array(64), shape: [8, 8], compress: { type: 'RICE_1' } }]);
    writeFits(datasetPath(root, 'diff', id), [
      { kind: 'image', extname: 'IMAGE', header: hdr, data: img, shape: [W, H], compress: { type: 'RICE_1' } },
      { kind: 'image', extname: 'VARIANCE', data: variance, shape: [W, H], compress: { type: 'RICE_1' } },
      { kind: 'image', extname: 'MASK', data: mask, shape: [W, H], compress: { type: 'RICE_1' } },
      { kind: 'image', extname: 'PSF', header: (() => { const ph = new Header(); for (const c of psfHdu.cards) if (c.key !== 'EXTNAME') ph.set(c.key, c.value, c.comment); return ph; })(), data: psfHdu.data, shape: psfHdu.shape },
    ]);
    // "detections": true sources above 5σ, plus 2 spurious, measured with noise
    const fluxErr = SIGMA * Math.sqrt(4 * Math.PI * 1.5 * 1.5);
    const rows: { x: number; y: number; f: number; rb: number; dt: number }[] = [];
    for (const t of truth) {
      const f = t.flux(e) + fluxErr * r.n();
      if (Math.abs(f) / fluxErr < 5) continue;
      rows.push({ x: t.x + 0.1 * r.n(), y: t.y + 0.1 * r.n(), f, rb: t.kind === 'transient' ? 0.8 + 0.2 * r.u() : 0.7, dt: t.kind === 'transient' ? -1 : 0.3 });
    }
    for (let s = 0; s < 2; s++) {
      const x = 20 + r.u() * (W - 40), y = 20 + r.u() * (H - 40);
      rows.push({ x, y, f: 6 * fluxErr, rb: 0.1, dt: -1 });
      const [sra, sdec] = wcs.pixToSkyOne(x, y, 1);
      spurious.push({ expnum: ep.expnum, ra: sra, dec: sdec });
    }
    const n = rows.length;
    const X = Float64Array.from(rows, (q) => q.x), Y = Float64Array.from(rows, (q) => q.y);
    const sky = wcs.pixToSky(X, Y, 1);
    const cols: ColumnInput[] = [
      { name: 'NUMBER', data: Int32Array.from(rows, (_, i) => i + 1), tform: '1J' },
      { name: 'X_IMAGE', data: X, tform: '1D' }, { name: 'Y_IMAGE', data: Y, tform: '1D' },
      { name: 'ALPHA_J2000', data: sky.ra, tform: '1D' }, { name: 'DELTA_J2000', data: sky.dec, tform: '1D' },
      { name: 'FLUX_PSF', data: Float64Array.from(rows, (q) => q.f), tform: '1D' },
      { name: 'FLUXERR_PSF', data: new Float64Array(n).fill(fluxErr), tform: '1D' },
      { name: 'SNR', data: Float64Array.from(rows, (q) => q.f / fluxErr), tform: '1D' },
      { name: 'RB_SCORE', data: Float64Array.from(rows, (q) => q.rb), tform: '1D' },
      { name: 'FLAGS', data: new Int32Array(n), tform: '1J' },
      { name: 'DIST_TEMPLATE', data: Float64Array.from(rows, (q) => q.dt), tform: '1D' },
    ];
    writeFits(datasetPath(root, 'diaSrc', id), [{ kind: 'bintable', extname: 'DIASRC', columns: cols, nrows: n }]);
    const S = 51, hs = 25;
    const cube = (plane: Float32Array): Float32Array => {
      const out = new Float32Array(S * S * Math.max(n, 0)).fill(NaN);
      rows.forEach((q, k) => {
        const x0 = Math.round(q.x - 1) - hs, y0 = Math.round(q.y - 1) - hs;
        for (let j = 0; j < S; j++) for (let i = 0; i < S; i++) {
          const xx = x0 + i, yy = y0 + j;
          if (xx >= 0 && xx < W && yy >= 0 && yy < H) out[k * S * S + j * S + i] = plane[yy * W + xx]!;
        }
      });
      return out;
    };
    writeFits(productLayout(root).stampsFits(id), [
      { kind: 'image', data: null, shape: [] },
      { kind: 'image', extname: 'SEARCH', data: cube(search), shape: [S, S, n] },
      { kind: 'image', extname: 'TEMPLATE', data: cube(tmpl), shape: [S, S, n] },
      { kind: 'image', extname: 'DIFF', data: cube(img), shape: [S, S, n] },
    ]);
  }
  return { root, region, wcs, epochs, truth, spurious };
}
