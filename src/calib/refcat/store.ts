/**
 * A Gaia-like reference catalog partitioned in HEALPix pixels (as DES-GW's BLISS calibration used
 * nside=32 files): DIR/manifest.json plus one FITS binary table per pixel,
 * DIR/nest<NSIDE>/pix-<N>.fits, holding only the REFCAT_COLUMNS.
 *
 * The manifest records which pixels the inputs COVER, so that a query over sky with no
 * partition file fails with a RefcatCoverageError naming the missing pixels, while a covered
 * pixel without rows is simply empty.
 *
 * Building streams: inputs are read one at a time (CSV and Parquet in chunks), rows are spilled
 * to per-pixel scratch files, and each pixel's FITS table is written atomically at the end.
 */
import { appendFileSync, createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { TesseraError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { FitsReader, writeFits, Header, type FitsColumn } from '../../fits/index.js';
import { healpix } from '../../sky/healpix.js';
import { SphericalPolygon, radecToVec, vecToRadec, dot, separationDeg } from '../../sky/sphere.js';
import { REFCAT_COLUMNS, emptyColumn, type RefcatTable } from './columns.js';
import { propagateColumns } from './epoch.js';

export const MANIFEST = 'manifest.json';
export const REFCAT_FORMAT = 'tessera-refcat';

export interface RefcatManifest {
  format: typeof REFCAT_FORMAT;
  version: 1;
  nside: number;
  scheme: 'nested';
  columns: { name: string; unit: string }[];
  /** rows per pixel that has a file */
  pixels: Record<string, number>;
  /** 'all' (an all-sky input) or the sorted list of covered pixels */
  covered: 'all' | number[];
  nrows: number;
  /** ref_epoch used for rows whose input had none */
  defaultRefEpoch: number;
  inputs: string[];
  created: string;
}

/** A query reached sky the catalog does not cover. */
export class RefcatCoverageError extends TesseraError {
  override name = 'RefcatCoverageError';
  constructor(message: string, readonly missingPixels: number[], readonly nside: number) {
    super(message);
  }
}

export interface BuildOptions {
  /** HEALPix nside of the partition (default 32) */
  nside?: number;
  /**
   * 'data' (default): the pixels that received rows are covered; 'all': the inputs are an
   * all-sky catalog and every pixel is covered (empty ones included).
   */
  coverage?: 'data' | 'all';
  /** extra covered discs [ra, dec, radiusDeg]: every pixel overlapping them counts as covered */
  coverCones?: Array<[number, number, number]>;
  /** ref_epoch for rows without one (default 2016.0, Gaia DR3) */
  defaultRefEpoch?: number;
  /** rows per chunk for CSV/Parquet reading (default 200000) */
  chunkRows?: number;
}

interface Chunk {
  n: number;
  cols: Map<string, Float64Array>;
  sourceId?: BigInt64Array;
  file: string;
  /** 0-based input row of the chunk's first row (for error messages) */
  row0: number;
}

const NUMERIC_COLS = REFCAT_COLUMNS.filter((c) => c.kind !== 'int64');
/** Bytes of one spilled row: source_id int64 + the numeric columns as float64. */
const ROW_BYTES = 8 + 8 * NUMERIC_COLS.length;

/* ------------------------------------------------------------------ inputs */

function lowerMap(names: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const n of names) m.set(n.trim().toLowerCase(), n);
  return m;
}

function checkRequired(file: string, present: Map<string, string>): void {
  for (const c of REFCAT_COLUMNS) {
    if (c.required && !present.has(c.name)) {
      throw new TesseraError(`${file}: no '${c.name}' column (a reference catalog input needs ra and dec, Gaia column names; found: ${[...present.values()].join(', ')})`);
    }
  }
}

function* readFitsInput(file: string): Generator<Chunk> {
  const r = FitsReader.open(file);
  try {
    const hdu = r.hdus.find((h) => h.type === 'bintable' || h.type === 'table');
    if (!hdu) throw new TesseraError(`${file}: no table HDU (expected a FITS binary table with Gaia columns)`);
    const t = r.readTable(hdu.index);
    const present = lowerMap(t.columns.map((c) => c.name));
    checkRequired(`${file}[HDU ${hdu.index}]`, present);
    const cols = new Map<string, Float64Array>();
    let sourceId: BigInt64Array | undefined;
    for (const spec of REFCAT_COLUMNS) {
      const nm = present.get(spec.name);
      if (!nm) continue;
      const col = t.column(nm);
      if (spec.kind === 'int64') sourceId = toBigInt(col, file);
      else cols.set(spec.name, toFloat64(col, file));
    }
    yield { n: t.nrows, cols, sourceId, file, row0: 0 };
  } finally {
    r.close();
  }
}

function toFloat64(col: FitsColumn, file: string): Float64Array {
  const d = col.data;
  if (Array.isArray(d) || col.repeat !== 1) throw new TesseraError(`${file}: column '${col.name}' (TFORM ${col.tform}) is not a scalar numeric column`);
  const n = (d as ArrayLike<number | bigint>).length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Number((d as ArrayLike<number | bigint>)[i]!);
  if (col.nulls) for (let i = 0; i < n; i++) if (col.nulls[i]) out[i] = NaN;
  return out;
}

function toBigInt(col: FitsColumn, file: string): BigInt64Array {
  const d = col.data;
  if (Array.isArray(d) || col.repeat !== 1) throw new TesseraError(`${file}: column '${col.name}' (TFORM ${col.tform}) is not a scalar integer column`);
  if (d instanceof BigInt64Array) return d;
  const a = d as ArrayLike<number | bigint>;
  const out = new BigInt64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    out[i] = typeof v === 'bigint' ? v : Number.isFinite(v) ? BigInt(Math.round(v)) : -1n;
  }
  return out;
}

async function* readCsvInput(file: string, chunkRows: number): AsyncGenerator<Chunk> {
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let header: string[] | null = null;
  let idx: Array<{ spec: (typeof REFCAT_COLUMNS)[number]; col: number }> = [];
  let cols = new Map<string, Float64Array>();
  let sid: BigInt64Array | undefined;
  let n = 0, row0 = 0, line = 0;
  const start = (): void => {
    cols = new Map();
    for (const e of idx) if (e.spec.kind !== 'int64') cols.set(e.spec.name, new Float64Array(chunkRows));
    sid = idx.some((e) => e.spec.kind === 'int64') ? new BigInt64Array(chunkRows) : undefined;
    n = 0;
  };
  const finish = (): Chunk => {
    const c = new Map<string, Float64Array>();
    for (const [k, v] of cols) c.set(k, v.subarray(0, n));
    return { n, cols: c, sourceId: sid?.subarray(0, n), file, row0 };
  };
  for await (const raw of rl) {
    line++;
    const s = raw.trim();
    if (s === '' || s.startsWith('#')) continue;
    const fields = s.split(',');
    if (!header) {
      header = fields.map((f) => f.trim().replace(/^"|"$/g, ''));
      const present = lowerMap(header);
      checkRequired(file, present);
      const pos = new Map(header.map((h, i) => [h.toLowerCase(), i]));
      idx = REFCAT_COLUMNS.filter((c) => pos.has(c.name)).map((spec) => ({ spec, col: pos.get(spec.name)! }));
      start();
      continue;
    }
    if (fields.length !== header.length) throw new TesseraError(`${file}: line ${line} has ${fields.length} fields, the header has ${header.length}`);
    for (const e of idx) {
      const f = fields[e.col]!.trim();
      if (e.spec.kind === 'int64') {
        try { sid![n] = f === '' ? -1n : BigInt(f); } catch { throw new TesseraError(`${file}: line ${line}: ${e.spec.name} '${f}' is not an integer`); }
      } else {
        const v = f === '' || f.toLowerCase() === 'nan' || f.toLowerCase() === 'null' ? NaN : Number(f);
        if (Number.isNaN(v) && f !== '' && !/^(nan|null)$/i.test(f)) throw new TesseraError(`${file}: line ${line}: ${e.spec.name} '${f}' is not a number`);
        cols.get(e.spec.name)![n] = v;
      }
    }
    n++;
    if (n === chunkRows) {
      yield finish();
      row0 += n;
      start();
    }
  }
  if (!header) throw new TesseraError(`${file}: empty CSV file (expected a header line with Gaia column names)`);
  if (n > 0) yield finish();
}

async function* readParquetInput(file: string, chunkRows: number): AsyncGenerator<Chunk> {
  const hp = await import('hyparquet');
  const buf = await hp.asyncBufferFromFile(file);
  let meta;
  try {
    meta = await hp.parquetMetadataAsync(buf);
  } catch (e) {
    throw new TesseraError(`${file}: not a readable Parquet file (${(e as Error).message})`);
  }
  const names = hp.parquetSchema(meta).children.map((c) => c.element.name);
  const present = lowerMap(names);
  checkRequired(file, present);
  const want = REFCAT_COLUMNS.filter((c) => present.has(c.name));
  const total = Number(meta.num_rows);
  for (let s = 0; s < total; s += chunkRows) {
    const e = Math.min(total, s + chunkRows);
    const n = e - s;
    const cols = new Map<string, Float64Array>();
    let sid: BigInt64Array | undefined;
    for (const c of want) if (c.kind === 'int64') sid = new BigInt64Array(n).fill(-1n); else cols.set(c.name, new Float64Array(n).fill(NaN));
    const byActual = new Map(want.map((c) => [present.get(c.name)!, c]));
    await hp.parquetRead({
      file: buf,
      metadata: meta,
      columns: [...byActual.keys()],
      rowStart: s,
      rowEnd: e,
      onChunk(ch: { columnName: string; columnData: ArrayLike<unknown>; rowStart: number; rowEnd: number }) {
        const spec = byActual.get(ch.columnName);
        if (!spec) return;
        const a = Math.max(s, ch.rowStart), b = Math.min(e, ch.rowEnd);
        for (let r = a; r < b; r++) {
          const v = ch.columnData[r - ch.rowStart];
          if (spec.kind === 'int64') sid![r - s] = v === null || v === undefined ? -1n : BigInt(v as number | bigint);
          else cols.get(spec.name)![r - s] = v === null || v === undefined ? NaN : Number(v);
        }
      },
    });
    yield { n, cols, sourceId: sid, file, row0: s };
  }
}

function inputChunks(file: string, chunkRows: number): AsyncIterable<Chunk> | Iterable<Chunk> {
  if (!existsSync(file)) throw new TesseraError(`${file}: no such file`);
  const lower = file.toLowerCase();
  if (/\.(fits|fit|fts)(\.gz)?$/.test(lower)) return readFitsInput(file);
  if (/\.csv(\.gz)?$/.test(lower)) {
    if (lower.endsWith('.gz')) throw new TesseraError(`${file}: gzipped CSV is not supported; gunzip it first`);
    return readCsvInput(file, chunkRows);
  }
  if (/\.(parquet|pq)$/.test(lower)) return readParquetInput(file, chunkRows);
  throw new TesseraError(`${file}: unknown input type (expected .fits, .csv or .parquet)`);
}

/* ------------------------------------------------------------------ build */

function pixelFile(dir: string, nside: number, pix: number): string {
  return join(dir, `nest${nside}`, `pix-${pix}.fits`);
}

/** Build a HEALPix-partitioned reference catalog in outDir from FITS/CSV/Parquet inputs. */
export async function buildRefcat(inputs: string[], outDir: string, opts: BuildOptions = {}): Promise<RefcatManifest> {
  const nside = opts.nside ?? 32;
  if (!(Number.isInteger(nside) && nside >= 1 && nside <= 8192 && (nside & (nside - 1)) === 0)) throw new TesseraError(`refcat: --nside must be a power of 2 from 1 to 8192, got ${nside}`);
  if (inputs.length === 0) throw new TesseraError('refcat build: no input files');
  if (existsSync(join(outDir, MANIFEST))) throw new TesseraError(`${outDir}: already holds a reference catalog (${MANIFEST}); build into a new directory`);
  const defaultRefEpoch = opts.defaultRefEpoch ?? 2016.0;
  const chunkRows = opts.chunkRows ?? 200000;
  const h = healpix(nside);
  // A failed build removes the output directory when it created it (no empty or half-written
  // catalog directory is left behind); a directory that existed before is only cleaned of the spill.
  const createdOut = !existsSync(outDir);
  mkdirSync(outDir, { recursive: true });
  const spill = join(outDir, `.build-${process.pid}`);
  rmSync(spill, { recursive: true, force: true });
  mkdirSync(spill, { recursive: true });
  const counts = new Map<number, number>();
  let ok = false;
  try {
    for (const file of inputs) {
      for await (const ch of inputChunks(file, chunkRows)) spillChunk(ch, h, spill, counts, defaultRefEpoch);
    }
    const pixels: Record<string, number> = {};
    let nrows = 0;
    const sorted = [...counts.keys()].sort((a, b) => a - b);
    for (const pix of sorted) {
      const table = readSpill(join(spill, `${pix}.bin`));
      writePixel(pixelFile(outDir, nside, pix), table, nside, pix);
      pixels[String(pix)] = table.nrows;
      nrows += table.nrows;
    }
    let covered: 'all' | number[];
    if (opts.coverage === 'all') covered = 'all';
    else {
      const set = new Set(sorted);
      for (const [ra, dec, r] of opts.coverCones ?? []) for (const p of h.queryDiscRaDec(ra, dec, r, { nest: true, inclusive: true })) set.add(p);
      covered = [...set].sort((a, b) => a - b);
    }
    const manifest: RefcatManifest = {
      format: REFCAT_FORMAT,
      version: 1,
      nside,
      scheme: 'nested',
      columns: REFCAT_COLUMNS.map((c) => ({ name: c.name, unit: c.unit })),
      pixels,
      covered,
      nrows,
      defaultRefEpoch,
      inputs: inputs.map((f) => basename(f)),
      created: new Date().toISOString(),
    };
    writeFileAtomic(join(outDir, MANIFEST), JSON.stringify(manifest, null, 1) + '\n');
    ok = true;
    return manifest;
  } finally {
    rmSync(spill, { recursive: true, force: true });
    if (!ok && createdOut) rmSync(outDir, { recursive: true, force: true });
  }
}

function spillChunk(ch: Chunk, h: ReturnType<typeof healpix>, spill: string, counts: Map<number, number>, defaultRefEpoch: number): void {
  const ra = ch.cols.get('ra')!, dec = ch.cols.get('dec')!;
  const n = ch.n;
  const pix = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const d = dec[i]!, r = ra[i]!;
    if (!(d >= -90 && d <= 90) || !Number.isFinite(r)) throw new TesseraError(`${ch.file}: row ${ch.row0 + i + 1}: invalid position ra=${r}, dec=${d}`);
    pix[i] = h.ang2pixRaDec(((r % 360) + 360) % 360, d, true);
  }
  // group rows by pixel: counting sort
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => pix[a]! - pix[b]!);
  const colsArr = NUMERIC_COLS.map((c) => ch.cols.get(c.name));
  const refIdx = NUMERIC_COLS.findIndex((c) => c.name === 'ref_epoch');
  let k = 0;
  while (k < n) {
    const p = pix[order[k]!]!;
    let e = k;
    while (e < n && pix[order[e]!] === p) e++;
    const buf = new ArrayBuffer((e - k) * ROW_BYTES);
    const dv = new DataView(buf);
    for (let j = k; j < e; j++) {
      const i = order[j]!;
      const o = (j - k) * ROW_BYTES;
      dv.setBigInt64(o, ch.sourceId ? ch.sourceId[i]! : -1n, true);
      for (let c = 0; c < NUMERIC_COLS.length; c++) {
        const col = colsArr[c];
        let v = col ? col[i]! : NaN;
        if (c === refIdx && !Number.isFinite(v)) v = defaultRefEpoch;
        dv.setFloat64(o + 8 + 8 * c, v, true);
      }
    }
    appendFileSync(join(spill, `${p}.bin`), new Uint8Array(buf));
    counts.set(p, (counts.get(p) ?? 0) + (e - k));
    k = e;
  }
}

function readSpill(path: string): RefcatTable {
  const bytes = readFileSync(path);
  const n = bytes.length / ROW_BYTES;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const source_id = new BigInt64Array(n);
  const columns: Record<string, Float64Array | Float32Array> = {};
  for (const c of NUMERIC_COLS) columns[c.name] = emptyColumn(c.kind, n);
  const arrs = NUMERIC_COLS.map((c) => columns[c.name]!);
  for (let i = 0; i < n; i++) {
    const o = i * ROW_BYTES;
    source_id[i] = dv.getBigInt64(o, true);
    for (let c = 0; c < arrs.length; c++) arrs[c]![i] = dv.getFloat64(o + 8 + 8 * c, true);
  }
  return { nrows: n, source_id, columns };
}

function writePixel(path: string, t: RefcatTable, nside: number, pix: number): void {
  const header = new Header();
  header.set('HPXNSIDE', nside, 'HEALPix nside of the partition');
  header.set('HPXPIX', pix, 'HEALPix pixel (NESTED)');
  header.set('HPXORDER', 'NESTED', 'HEALPix ordering');
  mkdirSync(join(path, '..'), { recursive: true });
  writeFits(path, [{ kind: 'bintable', extname: 'REFCAT', header, nrows: t.nrows, columns: tableColumns(t) }]);
}

/** FITS columns (with units) of a reference table. */
export function tableColumns(t: RefcatTable): Array<{ name: string; data: BigInt64Array | Float64Array | Float32Array; unit?: string }> {
  const out: Array<{ name: string; data: BigInt64Array | Float64Array | Float32Array; unit?: string }> = [];
  for (const c of REFCAT_COLUMNS) {
    const data = c.kind === 'int64' ? t.source_id : t.columns[c.name];
    if (data) out.push({ name: c.name, data, unit: c.unit || undefined });
  }
  if (t.epoch !== undefined && !t.columns['ref_epoch']) out.push({ name: 'epoch', data: new Float64Array(t.nrows).fill(t.epoch), unit: 'yr' });
  return out;
}

/* ------------------------------------------------------------------ query */

export interface QueryOptions {
  /** propagate positions to this Julian epoch (e.g. 2024.5) */
  epoch?: number;
}

export class Refcat {
  readonly dir: string;
  readonly manifest: RefcatManifest;
  private readonly coveredSet: Set<number> | null;

  private constructor(dir: string, m: RefcatManifest) {
    this.dir = dir;
    this.manifest = m;
    this.coveredSet = m.covered === 'all' ? null : new Set(m.covered);
  }

  static open(dir: string): Refcat {
    const p = join(dir, MANIFEST);
    if (!existsSync(p)) {
      const hint = existsSync(dir) && statSync(dir).isDirectory() ? ` (it holds: ${readdirSync(dir).slice(0, 8).join(', ') || 'nothing'})` : '';
      throw new TesseraError(`${dir}: not a reference catalog directory: no ${MANIFEST}${hint}; build one with 'tessera refcat build'`);
    }
    let m: RefcatManifest;
    try {
      m = JSON.parse(readFileSync(p, 'utf8')) as RefcatManifest;
    } catch (e) {
      throw new TesseraError(`${p}: unreadable manifest (${(e as Error).message})`);
    }
    if (m.format !== REFCAT_FORMAT || m.version !== 1 || !Number.isInteger(m.nside)) throw new TesseraError(`${p}: not a Tessera reference-catalog manifest (format '${String(m.format)}', version ${String(m.version)})`);
    return new Refcat(dir, m);
  }

  get nside(): number {
    return this.manifest.nside;
  }

  isCovered(pix: number): boolean {
    return this.coveredSet === null || this.coveredSet.has(pix);
  }

  /** Read one partition (empty table when the pixel is covered but has no rows). */
  readPixel(pix: number): RefcatTable {
    const count = this.manifest.pixels[String(pix)];
    if (!count) return emptyTable();
    const path = pixelFile(this.dir, this.nside, pix);
    if (!existsSync(path)) throw new TesseraError(`${path}: partition file listed in the manifest (${count} rows) is missing`);
    const r = FitsReader.open(path);
    try {
      const t = r.readTable('REFCAT');
      const out = emptyTable(t.nrows);
      out.source_id = toBigInt(t.column('source_id'), path);
      for (const c of REFCAT_COLUMNS) {
        if (c.kind === 'int64') continue;
        const d = t.column(c.name).data;
        out.columns[c.name] = c.kind === 'f32' ? Float32Array.from(d as ArrayLike<number>) : Float64Array.from(d as ArrayLike<number>);
      }
      return out;
    } finally {
      r.close();
    }
  }

  /** Rows within radiusDeg of (ra, dec), optionally propagated to an epoch. */
  queryCone(raDeg: number, decDeg: number, radiusDeg: number, opts: QueryOptions = {}): RefcatTable {
    if (!(decDeg >= -90 && decDeg <= 90) || !Number.isFinite(raDeg)) throw new TesseraError(`refcat query: bad cone centre (${raDeg}, ${decDeg})`);
    if (!(radiusDeg > 0 && radiusDeg <= 180)) throw new TesseraError(`refcat query: cone radius must be in (0, 180] degrees, got ${radiusDeg}`);
    const h = healpix(this.nside);
    const pixels = h.queryDiscRaDec(raDeg, decDeg, radiusDeg, { nest: true, inclusive: true, fact: 8 });
    const c = radecToVec(raDeg, decDeg);
    const cosr = Math.cos((radiusDeg * Math.PI) / 180);
    this.checkCoverage(pixels, (p) => pixelTouchesCone(h, p, c, radiusDeg), `cone RA=${raDeg} Dec=${decDeg} radius=${radiusDeg}°`);
    // select by position at the catalog epoch, with a margin for proper motion when propagating
    const margin = opts.epoch !== undefined ? 0.01 : 0; // 36″ covers 0.5″/yr over 70 yr
    const cosSel = Math.cos((Math.min(180, radiusDeg + margin) * Math.PI) / 180);
    let out = this.collect(pixels, (x, y, z) => x * c[0] + y * c[1] + z * c[2] >= cosSel);
    if (opts.epoch !== undefined) {
      out = this.propagate(out, opts.epoch);
      if (margin > 0) out = filterRows(out, (ra, dec) => dot(radecToVec(ra, dec), c) >= cosr);
    }
    return out;
  }

  /** Rows inside a spherical polygon (e.g. a CCD footprint), optionally propagated to an epoch. */
  queryPolygon(ra: ArrayLike<number>, dec: ArrayLike<number>, opts: QueryOptions = {}): RefcatTable {
    const poly = new SphericalPolygon(ra, dec);
    const h = healpix(this.nside);
    // the enclosing cap around the vertex centroid
    let r = 0;
    for (const v of poly.verts) r = Math.max(r, Math.acos(Math.min(1, dot(v, poly.centre))));
    const [cra, cdec] = vecToRadec(poly.centre);
    const rdeg = (r * 180) / Math.PI * (1 + 1e-9) + 1e-9;
    const pixels = h.queryDiscRaDec(cra, cdec, rdeg, { nest: true, inclusive: true, fact: 8 }).filter((p) => pixelTouchesPolygon(h, p, poly));
    this.checkCoverage(pixels, () => true, `polygon around RA=${cra.toFixed(5)} Dec=${cdec.toFixed(5)}`);
    let out = this.collect(pixels, (x, y, z) => poly.containsVec([x, y, z]));
    if (opts.epoch !== undefined) out = this.propagate(out, opts.epoch);
    return out;
  }

  /**
   * Rows on an image: the footprint of a WCS over width×height pixels (FITS convention: the
   * outer pixel edges 0.5 … width+0.5), grown by marginArcsec on every side (in pixels at the
   * central pixel scale). Edges are great circles between the corners: fine for a TAN(-like) CCD.
   */
  queryWcs(wcs: { pixToSkyOne(x: number, y: number, origin?: 0 | 1): [number, number] }, width: number, height: number, opts: QueryOptions & { marginArcsec?: number } = {}): RefcatTable {
    let mpx = 0;
    if (opts.marginArcsec) {
      const [x0, y0] = [(width + 1) / 2, (height + 1) / 2];
      const [r0, d0] = wcs.pixToSkyOne(x0, y0, 1);
      const [r1, d1] = wcs.pixToSkyOne(x0 + 1, y0, 1);
      const [r2, d2] = wcs.pixToSkyOne(x0, y0 + 1, 1);
      const scale = Math.sqrt(separationDeg(r0, d0, r1, d1) * separationDeg(r0, d0, r2, d2)) * 3600;
      mpx = opts.marginArcsec / scale;
    }
    const lo = 0.5 - mpx, hx = width + 0.5 + mpx, hy = height + 0.5 + mpx;
    const pts = [[lo, lo], [hx, lo], [hx, hy], [lo, hy]].map(([x, y]) => wcs.pixToSkyOne(x!, y!, 1));
    return this.queryPolygon(pts.map((p) => p[0]), pts.map((p) => p[1]), opts);
  }

  private checkCoverage(pixels: number[], touches: (p: number) => boolean, what: string): void {
    if (this.coveredSet === null) return;
    const missing = pixels.filter((p) => !this.coveredSet!.has(p) && touches(p));
    if (missing.length) {
      const list = missing.length > 12 ? `${missing.slice(0, 12).join(', ')} … (${missing.length} in all)` : missing.join(', ');
      throw new RefcatCoverageError(
        `${this.dir}: the reference catalog does not cover the ${what}: HEALPix nside=${this.nside} NESTED pixel${missing.length > 1 ? 's' : ''} ${list} ${missing.length > 1 ? 'have' : 'has'} no partition (the catalog covers ${this.coveredSet.size} pixels)`,
        missing,
        this.nside,
      );
    }
  }

  private collect(pixels: number[], keep: (x: number, y: number, z: number) => boolean): RefcatTable {
    const parts: RefcatTable[] = [];
    for (const p of pixels) {
      if (!this.manifest.pixels[String(p)]) continue;
      const t = this.readPixel(p);
      parts.push(filterRows(t, (ra, dec) => {
        const v = radecToVec(ra, dec);
        return keep(v[0], v[1], v[2]);
      }));
    }
    return concatTables(parts);
  }

  private propagate(t: RefcatTable, epoch: number): RefcatTable {
    const c = t.columns;
    propagateColumns(
      { ra: c['ra'] as Float64Array, dec: c['dec'] as Float64Array, pmra: c['pmra'], pmdec: c['pmdec'], ref_epoch: c['ref_epoch'], ra_error: c['ra_error'], dec_error: c['dec_error'], pmra_error: c['pmra_error'], pmdec_error: c['pmdec_error'] },
      epoch,
      this.manifest.defaultRefEpoch,
    );
    t.epoch = epoch;
    return t;
  }
}

function pixelTouchesCone(h: ReturnType<typeof healpix>, p: number, c: readonly number[], radiusDeg: number): boolean {
  const [cra, cdec] = vecToRadec(c);
  if (h.ang2pixRaDec(cra, cdec, true) === p) return true;
  // distance from the cone centre to the pixel boundary (16 great-circle arcs per side)
  const r = (radiusDeg * Math.PI) / 180;
  const b = h.boundaries(p, true, 16);
  for (let i = 0; i < b.length; i++) if (pointArcDistance(c, b[i]!, b[(i + 1) % b.length]!) <= r) return true;
  return false;
}

/** Angular distance (radians) from unit vector c to the minor great-circle arc a→b. */
function pointArcDistance(c: readonly number[], a: readonly number[], b: readonly number[]): number {
  const n = [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];
  const nn = Math.hypot(n[0]!, n[1]!, n[2]!);
  const ang = (u: readonly number[], v: readonly number[]) => Math.acos(Math.max(-1, Math.min(1, dot(u, v))));
  if (nn > 0) {
    const s = dot(c, n) / nn;
    // foot of the perpendicular: c minus its component along the normal
    const f = [c[0]! - (s * n[0]!) / nn, c[1]! - (s * n[1]!) / nn, c[2]! - (s * n[2]!) / nn];
    const cross1 = [a[1]! * f[2]! - a[2]! * f[1]!, a[2]! * f[0]! - a[0]! * f[2]!, a[0]! * f[1]! - a[1]! * f[0]!];
    const cross2 = [f[1]! * b[2]! - f[2]! * b[1]!, f[2]! * b[0]! - f[0]! * b[2]!, f[0]! * b[1]! - f[1]! * b[0]!];
    if (dot(cross1, n) >= 0 && dot(cross2, n) >= 0) return Math.asin(Math.min(1, Math.abs(s)));
  }
  return Math.min(ang(c, a), ang(c, b));
}

function pixelTouchesPolygon(h: ReturnType<typeof healpix>, p: number, poly: SphericalPolygon): boolean {
  for (let i = 0; i < poly.ra.length; i++) if (h.ang2pixRaDec(poly.ra[i]!, poly.dec[i]!, true) === p) return true;
  const b = h.boundaries(p, true, 16);
  for (const v of b) if (poly.containsVec(v)) return true;
  const ras: number[] = [], decs: number[] = [];
  for (const v of b) { const [r, d] = vecToRadec(v); ras.push(r); decs.push(d); }
  return new SphericalPolygon(ras, decs).overlaps(poly);
}

export function emptyTable(n = 0): RefcatTable {
  const columns: Record<string, Float64Array | Float32Array> = {};
  for (const c of REFCAT_COLUMNS) if (c.kind !== 'int64') columns[c.name] = emptyColumn(c.kind, n);
  return { nrows: n, source_id: new BigInt64Array(n), columns };
}

function filterRows(t: RefcatTable, keep: (ra: number, dec: number) => boolean): RefcatTable {
  const ra = t.columns['ra']!, dec = t.columns['dec']!;
  const idx: number[] = [];
  for (let i = 0; i < t.nrows; i++) if (keep(ra[i]!, dec[i]!)) idx.push(i);
  if (idx.length === t.nrows) return t;
  const out = emptyTable(idx.length);
  out.epoch = t.epoch;
  for (let k = 0; k < idx.length; k++) out.source_id[k] = t.source_id[idx[k]!]!;
  for (const name of Object.keys(t.columns)) {
    const src = t.columns[name]!, dst = out.columns[name]!;
    for (let k = 0; k < idx.length; k++) dst[k] = src[idx[k]!]!;
  }
  return out;
}

function concatTables(parts: RefcatTable[]): RefcatTable {
  const n = parts.reduce((s, p) => s + p.nrows, 0);
  const out = emptyTable(n);
  let o = 0;
  for (const p of parts) {
    out.source_id.set(p.source_id, o);
    for (const name of Object.keys(out.columns)) out.columns[name]!.set(p.columns[name]!, o);
    o += p.nrows;
  }
  return out;
}

/** Write query results as a FITS binary table (EXTNAME REFCAT). */
export function writeRefcatFits(path: string, t: RefcatTable): void {
  const header = new Header();
  if (t.epoch !== undefined) header.set('EPOCH', t.epoch, 'positions propagated to this Julian epoch');
  writeFits(path, [{ kind: 'bintable', extname: 'REFCAT', header, nrows: t.nrows, columns: tableColumns(t) }]);
}

/** Query results as CSV text (header line, NaN as empty). */
export function refcatCsv(t: RefcatTable): string {
  const cols = tableColumns(t);
  const lines = [cols.map((c) => c.name).join(',')];
  for (let i = 0; i < t.nrows; i++) {
    const f: string[] = [];
    for (const c of cols) {
      const v = c.data[i]!;
      if (typeof v === 'bigint') f.push(v.toString());
      else if (!Number.isFinite(v)) f.push('');
      else if (c.name === 'ra' || c.name === 'dec') f.push(v.toFixed(10));
      else f.push(String(c.data instanceof Float32Array ? Number(v.toPrecision(7)) : v));
    }
    lines.push(f.join(','));
  }
  return lines.join('\n') + '\n';
}
