/**
 * Reading a campaign's Parquet tables back (DuckDB), ranking candidates, and the self-contained
 * HTML report: summary, candidate table, and per candidate the search/template/difference stamps
 * of its most significant detection (inline PNG data URIs) and its light curve (inline SVG).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { TesseraError } from '../util/errors.js';
import { candidatesCsv, candidatesJson, lightCurves, rankCandidates, type Candidate, type CandidateOptions } from './candidates.js';
import { productLayout, type ProductLayout } from './layout.js';
import { lightCurveSvg, type LightCurve } from './lightcurve.js';
import { openCampaign } from './query.js';
import { pngDataUri, readStamps, stampPng } from './stamps.js';
import { column, type ColData, type ColType, type ProductTable } from './tables.js';

/** Read a whole view into a ProductTable (BIGINT → i8, INTEGER → i4, VARCHAR → str, else f8; NULL → NaN). */
export async function readView(conn: DuckDBConnection, name: string, where = ''): Promise<ProductTable> {
  const r = await conn.runAndReadAll(`SELECT * FROM "${name}" ${where}`);
  const names = r.columnNames(), types = r.columnTypes().map(String);
  const cols = r.getColumnsJS() as unknown[][];
  const n = r.currentRowCount;
  const columns = names.map((nm, j) => {
    const t = types[j]!;
    const ty: ColType = t === 'BIGINT' ? 'i8' : t === 'INTEGER' ? 'i4' : t === 'VARCHAR' ? 'str' : 'f8';
    const src = cols[j] ?? [];
    let data: ColData;
    if (ty === 'str') data = src.map((v) => (v === null ? '' : String(v)));
    else if (ty === 'i4') data = Int32Array.from(src, (v) => (v === null ? 0 : Number(v)));
    else data = Float64Array.from(src, (v) => (v === null ? NaN : Number(v)));
    return { def: { name: nm, type: ty, doc: '' }, data };
  });
  return { name, nrows: n, columns };
}

export interface CampaignProducts {
  diaObject: ProductTable;
  diaSource?: ProductTable;
  forcedSource?: ProductTable;
  /** Per-exposure QA (tables/exposure.parquet), when present. */
  exposure?: ProductTable;
}

export async function loadCampaign(repo: string, opts: { objectId?: number } = {}): Promise<CampaignProducts> {
  const db = await openCampaign(repo);
  try {
    if (!db.views.includes('diaObject')) throw new TesseraError(`${repo}: no tables/diaObject.parquet (run the associate stage first)`);
    const w = opts.objectId !== undefined ? `WHERE diaObjectId = ${Math.trunc(opts.objectId)}` : '';
    const out: CampaignProducts = { diaObject: await readView(db.conn, 'diaObject', w) };
    if (db.views.includes('diaSource')) out.diaSource = await readView(db.conn, 'diaSource', w);
    if (db.views.includes('forcedSource')) out.forcedSource = await readView(db.conn, 'forcedSource', w);
    if (opts.objectId === undefined && db.views.includes('exposure')) out.exposure = await readView(db.conn, 'exposure', 'ORDER BY expnum');
    return out;
  } finally {
    db.close();
  }
}

/** Light curve of one diaObject from a repository (throws when the id is unknown). */
export async function loadLightCurve(repo: string, objectId: number): Promise<LightCurve> {
  const p = await loadCampaign(repo, { objectId });
  if (p.diaObject.nrows === 0) throw new TesseraError(`${repo}: no diaObject ${objectId}`);
  return lightCurves(p.diaObject, p.forcedSource, p.diaSource).get(objectId)!;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number, d = 2): string => (Number.isFinite(v) ? v.toFixed(d) : '—');

/** The detection of largest |S/N| of an object (for its stamps). */
function bestDetection(dia: ProductTable | undefined, objectId: number): { expnum: number; ccd: number; band: string; row: number; mjd: number } | undefined {
  if (!dia) return undefined;
  const id = column(dia, 'diaObjectId') as Float64Array, snr = column(dia, 'snr') as Float64Array;
  let best = -1;
  for (let i = 0; i < dia.nrows; i++) if (id[i] === objectId && (best < 0 || Math.abs(snr[i]!) > Math.abs(snr[best]!))) best = i;
  if (best < 0) return undefined;
  const sid = (column(dia, 'diaSourceId') as Float64Array)[best]!;
  return {
    expnum: (column(dia, 'expnum') as Int32Array)[best]!, ccd: (column(dia, 'ccd') as Int32Array)[best]!, band: (column(dia, 'band') as string[])[best]!,
    row: sid % 1_000_000, mjd: (column(dia, 'mjd') as Float64Array)[best]!,
  };
}

export interface ReportOptions extends CandidateOptions {
  /** Candidates shown with stamps and light curves (default 50). */
  maxCandidates?: number;
  title?: string;
  layout?: ProductLayout;
}

export interface ReportResult {
  html: string;
  candidates: Candidate[];
}

/** Build the HTML report of a loaded campaign. */
export function buildReport(p: CampaignProducts, opts: ReportOptions & { layout: ProductLayout }): ReportResult {
  const curves = lightCurves(p.diaObject, p.forcedSource, p.diaSource);
  const cands = rankCandidates(p.diaObject, curves, opts);
  const shown = cands.slice(0, opts.maxCandidates ?? 50);
  const nDia = p.diaSource?.nrows ?? 0, nForced = p.forcedSource?.nrows ?? 0;
  const bands = p.diaSource ? [...new Set(column(p.diaSource, 'band') as string[])].sort() : [];
  const mjds = p.diaSource ? (column(p.diaSource, 'mjd') as Float64Array) : new Float64Array(0);
  let mlo = Infinity, mhi = -Infinity;
  for (const m of mjds) { if (m < mlo) mlo = m; if (m > mhi) mhi = m; }
  const exps = p.diaSource ? new Set(column(p.diaSource, 'expnum') as Int32Array).size : 0;
  const o: string[] = [];
  o.push(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${esc(opts.title ?? 'Tessera transient report')}</title><style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f0f0f0}td.l{text-align:left}.cand{border-top:2px solid #888;margin-top:1.5em;padding-top:.5em}.stamps img{margin-right:6px;image-rendering:pixelated;border:1px solid #999}
.stamps figure{display:inline-block;margin:0 8px 0 0;text-align:center;font-size:12px}.row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}</style></head><body>`);
  o.push(`<h1>${esc(opts.title ?? 'Tessera transient report')}</h1>`);
  o.push(`<h2>Summary</h2><table><tr><th>diaSources</th><th>diaObjects</th><th>forced measurements</th><th>exposures</th><th>bands</th><th>MJD range</th><th>candidates</th></tr>`);
  o.push(`<tr><td>${nDia}</td><td>${p.diaObject.nrows}</td><td>${nForced}</td><td>${exps}</td><td class="l">${esc(bands.join(' '))}</td><td>${Number.isFinite(mlo) ? `${mlo.toFixed(3)} – ${mhi.toFixed(3)}` : '—'}</td><td>${cands.length}</td></tr></table>`);
  if (p.exposure && p.exposure.nrows) {
    const e = p.exposure, g = (n: string) => column(e, n);
    o.push('<h2>Exposures</h2><table><tr><th>expnum</th><th>band</th><th>MJD</th><th>CCDs</th><th>zero point</th><th>seeing (″)</th><th>5σ depth</th><th>differenced</th><th>diaSources</th></tr>');
    for (let i = 0; i < e.nrows; i++) {
      o.push(`<tr><td>${(g('expnum') as Int32Array)[i]}</td><td class="l">${esc((g('band') as string[])[i]!)}</td><td>${num((g('mjd') as Float64Array)[i]!, 3)}</td><td>${(g('nCcd') as Int32Array)[i]}</td><td>${num((g('zeroPoint') as Float64Array)[i]!, 3)}</td><td>${num((g('seeing') as Float64Array)[i]!, 2)}</td><td>${num((g('depth') as Float64Array)[i]!, 2)}</td><td>${(g('nDifferenced') as Int32Array)[i]}</td><td>${(g('nDiaSources') as Int32Array)[i]}</td></tr>`);
    }
    o.push('</table>');
  }
  o.push(`<p>Candidates: diaObjects with ≥ ${opts.minDetections ?? 2} detections, combined S/N ≥ ${opts.minSnr ?? 6} and mean real/bogus score ≥ ${opts.minRbScore ?? 0.5} (or no score), ranked by score = rb × (1 − e^(−nDet/2)) × min(1, S/N/20).</p>`);
  o.push('<h2>Candidates</h2><table id="candidates"><tr><th>rank</th><th>diaObjectId</th><th>RA</th><th>Dec</th><th>score</th><th>nDet</th><th>rb</th><th>max S/N</th><th>host</th><th>trend</th><th>peak flux (nmgy)</th><th>peak band</th><th>peak MJD</th></tr>');
  for (const c of cands) {
    o.push(`<tr><td>${c.rank}</td><td><a href="#obj${c.diaObjectId}">${c.diaObjectId}</a></td><td>${c.ra.toFixed(6)}</td><td>${c.dec.toFixed(6)}</td><td>${c.score.toFixed(3)}</td><td>${c.nDetections}</td><td>${num(c.meanRbScore)}</td><td>${num(c.maxSnr, 1)}</td><td class="l">${c.host}</td><td class="l">${c.trend}</td><td>${num(c.peakFlux, 1)}</td><td class="l">${esc(c.peakBand)}</td><td>${num(c.peakMjd, 3)}</td></tr>`);
  }
  o.push('</table>');
  for (const c of shown) {
    o.push(`<div class="cand" id="obj${c.diaObjectId}"><h3>#${c.rank} diaObject ${c.diaObjectId} — RA ${c.ra.toFixed(6)}, Dec ${c.dec.toFixed(6)} (${c.host}, ${c.trend})</h3><div class="row">`);
    const det = bestDetection(p.diaSource, c.diaObjectId);
    if (det) {
      const st = readStamps(opts.layout.stampsFits(det), det.row);
      if (st) {
        o.push(`<div class="stamps">`);
        for (const [label, plane] of [['search', st.search], ['template', st.template], ['difference', st.diff]] as const) {
          o.push(`<figure><img alt="${label}" src="${pngDataUri(stampPng(plane, st.size, 3))}" width="${st.size * 3}" height="${st.size * 3}"><figcaption>${label}</figcaption></figure>`);
        }
        o.push(`<div style="font-size:12px">exposure ${det.expnum} CCD ${det.ccd} ${esc(det.band)} MJD ${det.mjd.toFixed(3)}</div></div>`);
      } else o.push(`<p>(no stamps for exposure ${det.expnum} CCD ${det.ccd})</p>`);
    }
    const lc = curves.get(c.diaObjectId);
    if (lc && lc.points.length) o.push(`<div>${lightCurveSvg(lc)}</div>`);
    else o.push('<p>(no forced photometry)</p>');
    o.push('</div></div>');
  }
  o.push(`<p style="font-size:11px;color:#777">Made by Tessera. Fluxes in nanomaggies (22.5 AB zero point); filled points: detected on that exposure.</p></body></html>\n`);
  return { html: o.join('\n'), candidates: cands };
}

/** Load a repository's tables and build its report; also returns the candidate CSV/JSON text. */
export async function reportForRepo(repo: string, opts: ReportOptions = {}): Promise<ReportResult & { csv: string; json: string }> {
  const p = await loadCampaign(repo);
  const r = buildReport(p, { ...opts, layout: opts.layout ?? productLayout(repo) });
  return { ...r, csv: candidatesCsv(r.candidates), json: candidatesJson(r.candidates) };
}
