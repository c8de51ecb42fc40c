/**
 * Parquet output of product tables (hyparquet-writer): doubles with NaN are written as NULL so
 * that SQL aggregates skip them; 64-bit ids as INT64; text as UTF-8 strings.
 */
import { parquetWriteBuffer } from 'hyparquet-writer';
import { writeFileAtomic } from '../util/atomic.js';
import { concatTables, readTableFits, type ProductTable } from './tables.js';

/** Encode a table as Parquet bytes (deterministic for the same table). */
export function encodeParquet(t: ProductTable): Uint8Array {
  const columnData = t.columns.map(({ def, data }) => {
    if (def.type === 'str') return { name: def.name, data: (data as string[]).slice(0, t.nrows), type: 'STRING' as const };
    if (def.type === 'i8') return { name: def.name, data: BigInt64Array.from((data as Float64Array).subarray(0, t.nrows), (v) => BigInt(v)), type: 'INT64' as const };
    if (def.type === 'i4') return { name: def.name, data: (data as Int32Array).subarray(0, t.nrows), type: 'INT32' as const };
    const d = data as Float64Array;
    const arr: (number | null)[] = new Array(t.nrows);
    for (let i = 0; i < t.nrows; i++) { const v = d[i]!; arr[i] = Number.isFinite(v) ? v : null; }
    return { name: def.name, data: arr, type: 'DOUBLE' as const };
  });
  return new Uint8Array(parquetWriteBuffer({ columnData }));
}

/** Write a table as a Parquet file, atomically. */
export function writeParquet(path: string, t: ProductTable): void {
  writeFileAtomic(path, encodeParquet(t));
}

/** Merge per-unit FITS tables (sorted by path for a deterministic row order) into one Parquet file. Returns the row count. */
export function mergeFitsToParquet(name: string, fitsPaths: string[], out: string): number {
  const parts = [...fitsPaths].sort().map((p) => readTableFits(p));
  const t = concatTables(name, parts);
  writeParquet(out, t);
  return t.nrows;
}
