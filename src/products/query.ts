/**
 * SQL over a campaign's Parquet tables with DuckDB: each table present under tables/ is a view
 * (diaSource, diaObject, forcedSource, and the QA tables ccd, exposure), so a user writes
 * `SELECT … FROM diaObject JOIN forcedSource USING (diaObjectId)`.
 */
import { existsSync, statSync } from 'node:fs';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { TesseraError } from '../util/errors.js';
import { CAMPAIGN_TABLES, productLayout } from './layout.js';

export interface QueryResult {
  columns: string[];
  types: string[];
  rows: unknown[][];
}

const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** Open an in-memory DuckDB with the campaign's tables as views. */
export async function openCampaign(repo: string): Promise<{ conn: DuckDBConnection; views: string[]; close(): void }> {
  if (!existsSync(repo) || !statSync(repo).isDirectory()) throw new TesseraError(`${repo}: not a directory (expected a Tessera repository)`);
  const layout = productLayout(repo);
  const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
  const conn = await inst.connect();
  const views: string[] = [];
  for (const name of CAMPAIGN_TABLES) {
    const p = layout.table(name);
    if (!existsSync(p)) continue;
    await conn.run(`CREATE VIEW "${name}" AS SELECT * FROM read_parquet(${sqlString(p)})`);
    views.push(name);
  }
  if (views.length === 0) {
    conn.closeSync();
    throw new TesseraError(`${repo}: no campaign tables (expected ${CAMPAIGN_TABLES.map((n) => `tables/${n}.parquet`).join(', ')}); run the associate and forced stages first`);
  }
  return { conn, views, close: () => { conn.closeSync(); inst.closeSync(); } };
}

/** Run one SQL statement over a campaign's tables. */
export async function queryCampaign(repo: string, sql: string): Promise<QueryResult> {
  const db = await openCampaign(repo);
  try {
    let reader;
    try {
      reader = await db.conn.runAndReadAll(sql);
    } catch (e) {
      throw new TesseraError(`query failed: ${(e as Error).message.split('\n')[0]} (views: ${db.views.join(', ')})`);
    }
    return { columns: reader.columnNames(), types: reader.columnTypes().map(String), rows: reader.getRowsJS() as unknown[][] };
  } finally {
    db.close();
  }
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Number.isFinite(v) ? String(Number(v.toPrecision(10))) : String(v);
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
  return String(v);
}

/** An aligned text table (numbers right-aligned). */
export function formatText(r: QueryResult): string {
  const cells = r.rows.map((row) => row.map(cell));
  const w = r.columns.map((c, j) => Math.max(c.length, ...cells.map((row) => row[j]!.length)));
  const numeric = r.columns.map((_, j) => r.rows.every((row) => row[j] === null || typeof row[j] === 'number' || typeof row[j] === 'bigint'));
  const fmtRow = (row: string[]): string => row.map((s, j) => (numeric[j] ? s.padStart(w[j]!) : s.padEnd(w[j]!))).join('  ').trimEnd();
  const lines = [fmtRow(r.columns), w.map((n) => '-'.repeat(n)).join('  '), ...cells.map(fmtRow)];
  return lines.join('\n') + `\n(${r.rows.length} row${r.rows.length === 1 ? '' : 's'})\n`;
}

export function formatCsv(r: QueryResult): string {
  const q = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const body = r.rows.map((row) => row.map((v) => (v === null || v === undefined ? '' : q(cell(v)))).join(','));
  return [r.columns.map(q).join(','), ...body].join('\n') + '\n';
}

export function formatJson(r: QueryResult): string {
  const objs = r.rows.map((row) => Object.fromEntries(r.columns.map((c, j) => [c, row[j]])));
  return JSON.stringify(objs, (_k, v) => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : typeof v === 'number' && !Number.isFinite(v) ? null : v), 1) + '\n';
}
