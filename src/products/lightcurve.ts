/**
 * Light curves of diaObjects: the forced photometry series on difference images (every epoch
 * covering the object, detected or not), with detections marked; rendered as a PNG (our raster
 * canvas), an inline SVG for the HTML report, or CSV.
 */
import { Canvas, type Rgb } from './png.js';

export interface LightCurvePoint {
  mjd: number;
  band: string;
  /** Forced PSF flux and error, nanomaggies. */
  flux: number;
  fluxErr: number;
  flags: number;
  expnum: number;
  ccd: number;
  imageType: string;
  /** A diaSource was detected on this exposure/CCD for the object. */
  detected: boolean;
}

export interface LightCurve {
  diaObjectId: number;
  ra: number;
  dec: number;
  points: LightCurvePoint[];
}

export const BAND_COLORS: Record<string, Rgb> = {
  u: [120, 40, 180], g: [20, 140, 50], r: [200, 30, 30], i: [230, 120, 0], z: [60, 60, 60], y: [130, 80, 30], Y: [130, 80, 30],
};
const OTHER: Rgb = [30, 80, 200];
export const bandColor = (b: string): Rgb => BAND_COLORS[b] ?? OTHER;

/** About n "nice" tick values (1, 2, 5 × 10^k steps) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 6): { ticks: number[]; step: number } {
  if (!(hi > lo)) { const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1; lo -= d; hi += d; }
  const raw = (hi - lo) / n;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / p;
  const step = (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return { ticks, step };
}

function tickLabel(v: number, step: number): string {
  const dec = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const s = v.toFixed(dec);
  return s === '-0' ? '0' : s;
}

interface Frame { x0: number; x1: number; y0: number; y1: number; xlo: number; xhi: number; ylo: number; yhi: number; xt: ReturnType<typeof niceTicks>; yt: ReturnType<typeof niceTicks> }

function frame(lc: LightCurve, width: number, height: number, left: number, right: number, top: number, bottom: number): Frame {
  const pts = lc.points.filter((p) => Number.isFinite(p.flux) && Number.isFinite(p.mjd));
  let xlo = Math.min(...pts.map((p) => p.mjd)), xhi = Math.max(...pts.map((p) => p.mjd));
  let ylo = Math.min(0, ...pts.map((p) => p.flux - (Number.isFinite(p.fluxErr) ? p.fluxErr : 0)));
  let yhi = Math.max(0, ...pts.map((p) => p.flux + (Number.isFinite(p.fluxErr) ? p.fluxErr : 0)));
  if (pts.length === 0) { xlo = 0; xhi = 1; ylo = -1; yhi = 1; }
  const xpad = xhi > xlo ? 0.05 * (xhi - xlo) : 1, ypad = yhi > ylo ? 0.08 * (yhi - ylo) : 1;
  xlo -= xpad; xhi += xpad; ylo -= ypad; yhi += ypad;
  return { x0: left, x1: width - right, y0: top, y1: height - bottom, xlo, xhi, ylo, yhi, xt: niceTicks(xlo, xhi, 6), yt: niceTicks(ylo, yhi, 6) };
}

const X = (f: Frame, v: number): number => f.x0 + ((v - f.xlo) / (f.xhi - f.xlo)) * (f.x1 - f.x0);
const Y = (f: Frame, v: number): number => f.y1 - ((v - f.ylo) / (f.yhi - f.ylo)) * (f.y1 - f.y0);

/** A PNG light-curve plot: flux (nanomaggies) against MJD, per-band colours, error bars, detections filled. */
export function lightCurvePng(lc: LightCurve, width = 900, height = 520): Uint8Array {
  const cv = new Canvas(width, height);
  const f = frame(lc, width, height, 110, 30, 56, 70);
  const black: Rgb = [0, 0, 0], grid: Rgb = [225, 225, 225];
  for (const t of f.xt.ticks) { const x = X(f, t); if (x >= f.x0 && x <= f.x1) cv.line(x, f.y0, x, f.y1, grid); }
  for (const t of f.yt.ticks) { const y = Y(f, t); if (y >= f.y0 && y <= f.y1) cv.line(f.x0, y, f.x1, y, grid); }
  if (f.ylo < 0 && f.yhi > 0) cv.line(f.x0, Y(f, 0), f.x1, Y(f, 0), [120, 120, 120], 1, 6);
  cv.line(f.x0, f.y0, f.x1, f.y0, black); cv.line(f.x0, f.y1, f.x1, f.y1, black);
  cv.line(f.x0, f.y0, f.x0, f.y1, black); cv.line(f.x1, f.y0, f.x1, f.y1, black);
  for (const t of f.xt.ticks) {
    const x = X(f, t); if (x < f.x0 || x > f.x1) continue;
    cv.line(x, f.y1, x, f.y1 - 8, black);
    const s = tickLabel(t, f.xt.step);
    cv.text(x - Canvas.textWidth(s) / 2, f.y1 + 10, s, black);
  }
  for (const t of f.yt.ticks) {
    const y = Y(f, t); if (y < f.y0 || y > f.y1) continue;
    cv.line(f.x0, y, f.x0 + 8, y, black);
    const s = tickLabel(t, f.yt.step);
    cv.text(f.x0 - 8 - Canvas.textWidth(s), y - 7, s, black);
  }
  cv.text((f.x0 + f.x1) / 2 - Canvas.textWidth('MJD') / 2, height - 28, 'MJD', black);
  cv.textVertical(16, (f.y0 + f.y1) / 2 + Canvas.textWidth('flux (nanomaggies)') / 2, 'flux (nanomaggies)', black);
  cv.text(f.x0, 14, `diaObject ${lc.diaObjectId}  RA ${lc.ra.toFixed(5)}  Dec ${lc.dec.toFixed(5)}`, black);
  // legend
  const bands = [...new Set(lc.points.map((p) => p.band))].sort();
  let lx = f.x1 - 10;
  for (const b of [...bands].reverse()) {
    lx -= Canvas.textWidth(b) + 24;
    cv.circle(lx + 6, 21, 5, bandColor(b), true);
    cv.text(lx + 16, 14, b, bandColor(b));
  }
  for (const p of lc.points) {
    if (!Number.isFinite(p.flux)) continue;
    const x = X(f, p.mjd), y = Y(f, p.flux), c = bandColor(p.band);
    if (Number.isFinite(p.fluxErr)) {
      const ya = Y(f, p.flux - p.fluxErr), yb = Y(f, p.flux + p.fluxErr);
      cv.line(x, ya, x, yb, c, 2);
      cv.line(x - 4, ya, x + 4, ya, c, 2); cv.line(x - 4, yb, x + 4, yb, c, 2);
    }
    if (p.detected) cv.circle(x, y, 5, c, true);
    else { cv.circle(x, y, 5, [255, 255, 255], true); cv.circle(x, y, 5, c, false); cv.circle(x, y, 4.3, c, false); }
  }
  cv.text(12, height - 15, 'filled: detected, open: not detected', [90, 90, 90]);
  return cv.png();
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The same plot as an inline SVG (for the HTML report). */
export function lightCurveSvg(lc: LightCurve, width = 520, height = 300): string {
  const f = frame(lc, width, height, 64, 12, 20, 40);
  const rgb = (c: Rgb): string => `rgb(${c[0]},${c[1]},${c[2]})`;
  const o: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`];
  o.push(`<rect x="${f.x0}" y="${f.y0}" width="${f.x1 - f.x0}" height="${f.y1 - f.y0}" fill="none" stroke="#000"/>`);
  for (const t of f.xt.ticks) { const x = X(f, t); if (x < f.x0 || x > f.x1) continue; o.push(`<line x1="${x.toFixed(1)}" y1="${f.y0}" x2="${x.toFixed(1)}" y2="${f.y1}" stroke="#e4e4e4"/><text x="${x.toFixed(1)}" y="${f.y1 + 14}" text-anchor="middle">${tickLabel(t, f.xt.step)}</text>`); }
  for (const t of f.yt.ticks) { const y = Y(f, t); if (y < f.y0 || y > f.y1) continue; o.push(`<line x1="${f.x0}" y1="${y.toFixed(1)}" x2="${f.x1}" y2="${y.toFixed(1)}" stroke="#e4e4e4"/><text x="${f.x0 - 4}" y="${(y + 4).toFixed(1)}" text-anchor="end">${tickLabel(t, f.yt.step)}</text>`); }
  if (f.ylo < 0 && f.yhi > 0) o.push(`<line x1="${f.x0}" y1="${Y(f, 0).toFixed(1)}" x2="${f.x1}" y2="${Y(f, 0).toFixed(1)}" stroke="#888" stroke-dasharray="4 3"/>`);
  o.push(`<text x="${(f.x0 + f.x1) / 2}" y="${height - 6}" text-anchor="middle">MJD</text><text transform="translate(12 ${(f.y0 + f.y1) / 2}) rotate(-90)" text-anchor="middle">flux (nanomaggies)</text>`);
  for (const p of lc.points) {
    if (!Number.isFinite(p.flux)) continue;
    const x = X(f, p.mjd).toFixed(1), y = Y(f, p.flux).toFixed(1), c = rgb(bandColor(p.band));
    if (Number.isFinite(p.fluxErr)) o.push(`<line x1="${x}" y1="${Y(f, p.flux - p.fluxErr).toFixed(1)}" x2="${x}" y2="${Y(f, p.flux + p.fluxErr).toFixed(1)}" stroke="${c}" stroke-width="1.5"/>`);
    o.push(`<circle cx="${x}" cy="${y}" r="3.5" fill="${p.detected ? c : '#fff'}" stroke="${c}" stroke-width="1.5"><title>${esc(`${p.band} MJD ${p.mjd.toFixed(3)} ${p.flux.toPrecision(4)} ± ${p.fluxErr.toPrecision(3)} nmgy exp ${p.expnum} ccd ${p.ccd}${p.detected ? ' (detected)' : ''}`)}</title></circle>`);
  }
  const bands = [...new Set(lc.points.map((p) => p.band))].sort();
  bands.forEach((b, i) => o.push(`<text x="${f.x1 - 8 - (bands.length - 1 - i) * 18}" y="${f.y0 + 14}" fill="${rgb(bandColor(b))}" text-anchor="end" font-weight="bold">${esc(b)}</text>`));
  o.push('</svg>');
  return o.join('');
}

export function lightCurveCsv(lc: LightCurve): string {
  const rows = [...lc.points].sort((a, b) => a.mjd - b.mjd || (a.band < b.band ? -1 : a.band > b.band ? 1 : 0));
  return ['diaObjectId,mjd,band,psfFlux,psfFluxErr,flags,expnum,ccd,imageType,detected',
    ...rows.map((p) => [lc.diaObjectId, p.mjd, p.band, p.flux, p.fluxErr, p.flags, p.expnum, p.ccd, p.imageType, p.detected ? 1 : 0].join(','))].join('\n') + '\n';
}
