/**
 * A columnar source catalog: one typed array per column, SExtractor column names and units.
 * Vector columns (FLUX_APER, FLUXERR_APER) hold `repeat` values per row, row-major.
 * Pixel coordinates in the catalog are FITS 1-based (X_IMAGE = 1 at the centre of the first pixel).
 */
export type ColumnData = Float64Array | Float32Array | Int32Array;

export interface CatalogColumn {
  name: string;
  data: ColumnData;
  /** Values per row (1 for scalars). */
  repeat: number;
  unit?: string;
  description: string;
}

export class SourceCatalog {
  readonly columns: CatalogColumn[] = [];
  private readonly byName = new Map<string, CatalogColumn>();
  constructor(readonly length: number) {}

  add(name: string, data: ColumnData, description: string, unit?: string, repeat = 1): this {
    if (data.length !== this.length * repeat) throw new RangeError(`catalog column ${name}: ${data.length} values for ${this.length} rows × ${repeat}`);
    const col: CatalogColumn = { name, data, repeat, unit, description };
    const prev = this.byName.get(name);
    if (prev) this.columns[this.columns.indexOf(prev)] = col;
    else this.columns.push(col);
    this.byName.set(name, col);
    return this;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The values of a column (throws if absent). */
  get(name: string): ColumnData {
    const c = this.byName.get(name);
    if (!c) throw new RangeError(`catalog has no column ${name}`);
    return c.data;
  }

  column(name: string): CatalogColumn | undefined {
    return this.byName.get(name);
  }

  /** One row as a plain object (vector columns as arrays), for printing and tests. */
  row(i: number): Record<string, number | number[]> {
    const out: Record<string, number | number[]> = {};
    for (const c of this.columns) {
      out[c.name] = c.repeat === 1 ? c.data[i]! : Array.from(c.data.subarray(i * c.repeat, (i + 1) * c.repeat));
    }
    return out;
  }
}
