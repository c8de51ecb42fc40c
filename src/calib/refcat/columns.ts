/** The columns a Tessera reference catalog keeps (Gaia DR2/DR3 names and units). */

export type RefcatKind = 'int64' | 'f64' | 'f32';

export interface RefcatColumnSpec {
  name: string;
  kind: RefcatKind;
  unit: string;
  required?: boolean;
}

export const REFCAT_COLUMNS: readonly RefcatColumnSpec[] = [
  { name: 'source_id', kind: 'int64', unit: '' },
  { name: 'ra', kind: 'f64', unit: 'deg', required: true },
  { name: 'dec', kind: 'f64', unit: 'deg', required: true },
  { name: 'ra_error', kind: 'f32', unit: 'mas' },
  { name: 'dec_error', kind: 'f32', unit: 'mas' },
  { name: 'pmra', kind: 'f32', unit: 'mas/yr' },
  { name: 'pmdec', kind: 'f32', unit: 'mas/yr' },
  { name: 'pmra_error', kind: 'f32', unit: 'mas/yr' },
  { name: 'pmdec_error', kind: 'f32', unit: 'mas/yr' },
  { name: 'parallax', kind: 'f32', unit: 'mas' },
  { name: 'parallax_error', kind: 'f32', unit: 'mas' },
  { name: 'ref_epoch', kind: 'f64', unit: 'yr' },
  { name: 'phot_g_mean_mag', kind: 'f32', unit: 'mag' },
  { name: 'phot_bp_mean_mag', kind: 'f32', unit: 'mag' },
  { name: 'phot_rp_mean_mag', kind: 'f32', unit: 'mag' },
  { name: 'phot_g_mean_flux_over_error', kind: 'f32', unit: '' },
  { name: 'phot_bp_mean_flux_over_error', kind: 'f32', unit: '' },
  { name: 'phot_rp_mean_flux_over_error', kind: 'f32', unit: '' },
];

export const REFCAT_COLUMN_NAMES = REFCAT_COLUMNS.map((c) => c.name);

/** Columnar reference-catalog rows: source_id as BigInt64Array (Gaia ids exceed 2^53), the rest numbers. */
export interface RefcatTable {
  nrows: number;
  source_id: BigInt64Array;
  /** Every other column by name (Float64Array for ra, dec, ref_epoch; Float32Array otherwise). */
  columns: Record<string, Float64Array | Float32Array>;
  /** The epoch of ra/dec when propagated (Julian years), else undefined (each row at its ref_epoch). */
  epoch?: number;
}

/** Magnitude error from Gaia's flux-over-error: σ_m = 2.5/ln(10) / (flux/σ_flux). */
export function magErrorFromFluxOverError(foe: ArrayLike<number>): Float32Array {
  const out = new Float32Array(foe.length);
  const k = 2.5 / Math.LN10;
  for (let i = 0; i < foe.length; i++) out[i] = foe[i]! > 0 ? k / foe[i]! : NaN;
  return out;
}

export function emptyColumn(kind: RefcatKind, n: number): Float64Array | Float32Array {
  return kind === 'f32' ? new Float32Array(n) : new Float64Array(n);
}
