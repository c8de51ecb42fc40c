/**
 * The simulated Gaia-like reference catalog: the stars of the truth catalog brighter than
 * G ≈ 20.5 (completeness falling from 1 at G = 20 to 0 at G = 21), with Gaia DR3-like errors
 * ADDED to positions, proper motions and magnitudes (the truth is not the catalog), a few
 * two-parameter solutions (no proper motion) and a few stars without BP/RP among the faint.
 * Columns carry Gaia archive names (source_id, ra, dec, ra_error, ... phot_rp_mean_mag).
 */

import type { ColumnInput } from '../fits/writer.js';
import { gaiaErrors } from './bands.js';
import { Rng } from './rng.js';
import { REF_EPOCH_YR, type StarColumns } from './sources.js';

export interface RefcatColumns {
  n: number;
  sourceId: BigInt64Array;
  ra: Float64Array; dec: Float64Array; raError: Float32Array; decError: Float32Array;
  pmra: Float64Array; pmdec: Float64Array; pmraError: Float32Array; pmdecError: Float32Array;
  refEpoch: Float64Array;
  g: Float32Array; bp: Float32Array; rp: Float32Array;
  gFoe: Float32Array; bpFoe: Float32Array; rpFoe: Float32Array;
}

const D2R = Math.PI / 180;

export function makeRefcat(seed: number | string, stars: StarColumns): RefcatColumns {
  const rng = new Rng(seed, 'refcat');
  const keep: number[] = [];
  for (let k = 0; k < stars.n; k++) {
    const G = stars.g[k]!;
    const p = G < 20 ? 1 : G > 21 ? 0 : 21 - G;
    if (rng.uniform() < p) keep.push(k);
  }
  const n = keep.length;
  const c: RefcatColumns = {
    n, sourceId: new BigInt64Array(n), ra: new Float64Array(n), dec: new Float64Array(n),
    raError: new Float32Array(n), decError: new Float32Array(n), pmra: new Float64Array(n), pmdec: new Float64Array(n),
    pmraError: new Float32Array(n), pmdecError: new Float32Array(n), refEpoch: new Float64Array(n).fill(REF_EPOCH_YR),
    g: new Float32Array(n), bp: new Float32Array(n), rp: new Float32Array(n),
    gFoe: new Float32Array(n), bpFoe: new Float32Array(n), rpFoe: new Float32Array(n),
  };
  for (let m = 0; m < n; m++) {
    const k = keep[m]!;
    const G = stars.g[k]!;
    const e = gaiaErrors(G);
    c.sourceId[m] = BigInt(stars.id[k]!);
    const dE = rng.gauss(0, e.posMas), dN = rng.gauss(0, e.posMas);
    c.dec[m] = stars.dec[k]! + dN / 3.6e6;
    c.ra[m] = stars.ra[k]! + dE / 3.6e6 / Math.cos(stars.dec[k]! * D2R);
    c.raError[m] = e.posMas; c.decError[m] = e.posMas;
    if (G > 19 && rng.bool(0.03)) {
      c.pmra[m] = NaN; c.pmdec[m] = NaN; c.pmraError[m] = NaN; c.pmdecError[m] = NaN;
    } else {
      c.pmra[m] = stars.pmra[k]! + rng.gauss(0, e.pmMasYr);
      c.pmdec[m] = stars.pmdec[k]! + rng.gauss(0, e.pmMasYr);
      c.pmraError[m] = e.pmMasYr; c.pmdecError[m] = e.pmMasYr;
    }
    c.g[m] = G + rng.gauss(0, e.gMag);
    c.gFoe[m] = 1.0857 / e.gMag;
    if (G > 19.5 && rng.bool(0.03)) {
      c.bp[m] = NaN; c.rp[m] = NaN; c.bpFoe[m] = NaN; c.rpFoe[m] = NaN;
    } else {
      c.bp[m] = stars.bp[k]! + rng.gauss(0, e.bpRpMag);
      c.rp[m] = stars.rp[k]! + rng.gauss(0, e.bpRpMag);
      c.bpFoe[m] = 1.0857 / e.bpRpMag; c.rpFoe[m] = 1.0857 / e.bpRpMag;
    }
  }
  return c;
}

/** FITS binary-table columns with Gaia archive names and units. */
export function refcatColumns(c: RefcatColumns): ColumnInput[] {
  return [
    { name: 'source_id', data: c.sourceId },
    { name: 'ra', data: c.ra, unit: 'deg' },
    { name: 'dec', data: c.dec, unit: 'deg' },
    { name: 'ra_error', data: c.raError, unit: 'mas' },
    { name: 'dec_error', data: c.decError, unit: 'mas' },
    { name: 'pmra', data: c.pmra, unit: 'mas.yr**-1' },
    { name: 'pmra_error', data: c.pmraError, unit: 'mas.yr**-1' },
    { name: 'pmdec', data: c.pmdec, unit: 'mas.yr**-1' },
    { name: 'pmdec_error', data: c.pmdecError, unit: 'mas.yr**-1' },
    { name: 'ref_epoch', data: c.refEpoch, unit: 'yr' },
    { name: 'phot_g_mean_mag', data: c.g, unit: 'mag' },
    { name: 'phot_g_mean_flux_over_error', data: c.gFoe },
    { name: 'phot_bp_mean_mag', data: c.bp, unit: 'mag' },
    { name: 'phot_bp_mean_flux_over_error', data: c.bpFoe },
    { name: 'phot_rp_mean_mag', data: c.rp, unit: 'mag' },
    { name: 'phot_rp_mean_flux_over_error', data: c.rpFoe },
  ];
}
