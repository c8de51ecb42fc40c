/**
 * Columnar tables of the transient path (one typed array per column, row i across all of them).
 * Column meanings and units are listed in the README ("Transients") and in src/products/schema.ts.
 */

/** diaSources as association consumes them (any order; association sorts them itself). */
export interface DiaSourceTable {
  n: number;
  /** Unique integer id (< 2^53), see `makeDiaSourceId`. */
  diaSourceId: Float64Array;
  ra: Float64Array;
  dec: Float64Array;
  /** Optional 1σ positional errors in arcsec along RA·cos(Dec) and Dec (weights for the mean position). */
  raErrArcsec?: Float64Array;
  decErrArcsec?: Float64Array;
  mjd: Float64Array;
  /** Exposure (visit) number. */
  expnum: Int32Array;
  ccd: Int32Array;
  /** Band name per row ('g', 'r', …). */
  band: string[];
  /** PSF flux and error in nanomaggies (calibrated with the CCD's zero point). */
  psfFlux: Float64Array;
  psfFluxErr: Float64Array;
  /** Signed S/N of the detection on the difference image. */
  snr: Float64Array;
  /** Real/bogus score 0–1 (NaN when unknown). */
  rbScore: Float64Array;
  flags: Int32Array;
  /** Pixel position on the CCD, FITS convention. */
  x: Float64Array;
  y: Float64Array;
  /** Distance (arcsec) to the nearest template source (Infinity/NaN when none). */
  distTemplateArcsec: Float64Array;
}

/** diaSource id from exposure number, CCD number and row in that CCD's table (all < limits). */
export function makeDiaSourceId(expnum: number, ccd: number, row: number): number {
  return (expnum * 100 + ccd) * 1_000_000 + row;
}

/** An empty diaSource table with room for n rows. */
export function allocDiaSources(n: number, withPosErr = false): DiaSourceTable {
  return {
    n,
    diaSourceId: new Float64Array(n), ra: new Float64Array(n), dec: new Float64Array(n),
    ...(withPosErr ? { raErrArcsec: new Float64Array(n), decErrArcsec: new Float64Array(n) } : {}),
    mjd: new Float64Array(n), expnum: new Int32Array(n), ccd: new Int32Array(n), band: new Array<string>(n).fill(''),
    psfFlux: new Float64Array(n), psfFluxErr: new Float64Array(n), snr: new Float64Array(n),
    rbScore: new Float64Array(n).fill(NaN), flags: new Int32Array(n), x: new Float64Array(n), y: new Float64Array(n),
    distTemplateArcsec: new Float64Array(n).fill(NaN),
  };
}

/** Rows `idx` of a diaSource table, as a new table. */
export function selectDiaSources(t: DiaSourceTable, idx: ArrayLike<number>): DiaSourceTable {
  const n = idx.length;
  const out = allocDiaSources(n, !!t.raErrArcsec);
  for (let k = 0; k < n; k++) {
    const i = idx[k]!;
    out.diaSourceId[k] = t.diaSourceId[i]!; out.ra[k] = t.ra[i]!; out.dec[k] = t.dec[i]!;
    if (t.raErrArcsec && out.raErrArcsec) { out.raErrArcsec[k] = t.raErrArcsec[i]!; out.decErrArcsec![k] = t.decErrArcsec![i]!; }
    out.mjd[k] = t.mjd[i]!; out.expnum[k] = t.expnum[i]!; out.ccd[k] = t.ccd[i]!; out.band[k] = t.band[i]!;
    out.psfFlux[k] = t.psfFlux[i]!; out.psfFluxErr[k] = t.psfFluxErr[i]!; out.snr[k] = t.snr[i]!;
    out.rbScore[k] = t.rbScore[i]!; out.flags[k] = t.flags[i]!; out.x[k] = t.x[i]!; out.y[k] = t.y[i]!;
    out.distTemplateArcsec[k] = t.distTemplateArcsec[i]!;
  }
  return out;
}

/** Concatenate diaSource tables. */
export function concatDiaSources(parts: DiaSourceTable[]): DiaSourceTable {
  const n = parts.reduce((a, p) => a + p.n, 0);
  const withErr = parts.length > 0 && parts.every((p) => !!p.raErrArcsec);
  const out = allocDiaSources(n, withErr);
  let o = 0;
  for (const p of parts) {
    out.diaSourceId.set(p.diaSourceId.subarray(0, p.n), o); out.ra.set(p.ra.subarray(0, p.n), o); out.dec.set(p.dec.subarray(0, p.n), o);
    if (withErr) { out.raErrArcsec!.set(p.raErrArcsec!.subarray(0, p.n), o); out.decErrArcsec!.set(p.decErrArcsec!.subarray(0, p.n), o); }
    out.mjd.set(p.mjd.subarray(0, p.n), o); out.expnum.set(p.expnum.subarray(0, p.n), o); out.ccd.set(p.ccd.subarray(0, p.n), o);
    for (let i = 0; i < p.n; i++) out.band[o + i] = p.band[i]!;
    out.psfFlux.set(p.psfFlux.subarray(0, p.n), o); out.psfFluxErr.set(p.psfFluxErr.subarray(0, p.n), o); out.snr.set(p.snr.subarray(0, p.n), o);
    out.rbScore.set(p.rbScore.subarray(0, p.n), o); out.flags.set(p.flags.subarray(0, p.n), o);
    out.x.set(p.x.subarray(0, p.n), o); out.y.set(p.y.subarray(0, p.n), o); out.distTemplateArcsec.set(p.distTemplateArcsec.subarray(0, p.n), o);
    o += p.n;
  }
  return out;
}
