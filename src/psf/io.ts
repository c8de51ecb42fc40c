/**
 * PSF models as a FITS image HDU `PSF` (EXTNAME PSF): a cube NAXIS1 = NAXIS2 = basis size,
 * NAXIS3 = number of polynomial terms, plane k holding the basis coefficients of term k — the
 * same layout as PSFEx's PSF_MASK — with PSFEx-style keywords:
 *
 *   POLNAXIS = 2, POLNAME1 = 'X_IMAGE', POLNAME2 = 'Y_IMAGE', POLZERO1/2, POLSCAL1/2 (FITS pixel
 *   convention, X = (X_IMAGE − POLZERO1) / POLSCAL1), POLDEG = degree, PSF_SAMP (basis step in
 *   pixels), PSF_FWHM (pixels), PSFFRAC (flux fraction inside the grid = 1 / aperture correction).
 *
 * The cards/data pair is written by the caller with src/fits (an image HDU); this module only
 * converts, so it has no file I/O of its own.
 */
import { TesseraError } from '../util/errors.js';
import { PsfModel, nPolyTerms } from './model.js';

export interface PsfHduCard {
  key: string;
  value: string | number | boolean;
  comment?: string;
}

export interface PsfHdu {
  extname: 'PSF';
  /** [NAXIS1, NAXIS2, NAXIS3]. */
  shape: [number, number, number];
  data: Float32Array;
  cards: PsfHduCard[];
}

/** Keyword lookup, as provided by src/fits Header.get or any plain record. */
export type KeywordSource = { get(key: string): unknown } | Record<string, unknown>;

function lookup(src: KeywordSource, key: string): unknown {
  if (typeof (src as { get?: unknown }).get === 'function') return (src as { get(key: string): unknown }).get(key);
  return (src as Record<string, unknown>)[key];
}

export function psfToHdu(model: PsfModel): PsfHdu {
  const n = model.size;
  const nT = model.nTerms;
  const data = new Float32Array(model.coeffs.length);
  for (let i = 0; i < data.length; i++) data[i] = model.coeffs[i]!;
  return {
    extname: 'PSF',
    shape: [n, n, nT],
    data,
    cards: [
      { key: 'EXTNAME', value: 'PSF' },
      { key: 'PSFTYPE', value: 'PIXEL', comment: 'pixel basis with polynomial spatial variation' },
      { key: 'POLNAXIS', value: 2, comment: 'number of context parameters' },
      { key: 'POLGRP1', value: 1 },
      { key: 'POLNAME1', value: 'X_IMAGE' },
      { key: 'POLZERO1', value: model.polZero[0] + 1, comment: 'FITS pixel convention' },
      { key: 'POLSCAL1', value: model.polScale[0] },
      { key: 'POLGRP2', value: 1 },
      { key: 'POLNAME2', value: 'Y_IMAGE' },
      { key: 'POLZERO2', value: model.polZero[1] + 1, comment: 'FITS pixel convention' },
      { key: 'POLSCAL2', value: model.polScale[1] },
      { key: 'POLNGRP', value: 1 },
      { key: 'POLDEG1', value: model.degree, comment: 'polynomial degree' },
      { key: 'POLDEG', value: model.degree, comment: 'polynomial degree' },
      { key: 'PSF_SAMP', value: model.sampling, comment: 'basis step (image pixels)' },
      { key: 'PSF_FWHM', value: model.fwhmPix, comment: 'FWHM (pixels) at the field centre' },
      { key: 'PSFFRAC', value: model.fluxFraction, comment: 'flux fraction inside the grid' },
    ],
  };
}

export function psfFromHdu(header: KeywordSource, data: ArrayLike<number>, shape: readonly number[], where = 'PSF HDU'): PsfModel {
  const num = (k: string, dflt?: number): number => {
    const v = lookup(header, k);
    if (v === undefined || v === null) {
      if (dflt !== undefined) return dflt;
      throw new TesseraError(`${where}: keyword ${k} is missing`);
    }
    const x = typeof v === 'bigint' ? Number(v) : v;
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new TesseraError(`${where}: keyword ${k} must be a number, got ${String(v)}`);
    return x;
  };
  const degree = num('POLDEG', num('POLDEG1', 0));
  const [n1, n2, n3] = [shape[0] ?? 0, shape[1] ?? 0, shape[2] ?? 1];
  if (n1 !== n2 || n1 % 2 !== 1) throw new TesseraError(`${where}: PSF basis must be square with an odd size, got ${n1}×${n2}`);
  if (n3 !== nPolyTerms(degree)) throw new TesseraError(`${where}: NAXIS3 = ${n3} does not match POLDEG = ${degree} (${nPolyTerms(degree)} terms)`);
  if (data.length !== n1 * n2 * n3) throw new TesseraError(`${where}: data has ${data.length} values, expected ${n1 * n2 * n3}`);
  return new PsfModel({
    size: n1,
    sampling: num('PSF_SAMP'),
    degree,
    polZero: [num('POLZERO1') - 1, num('POLZERO2') - 1],
    polScale: [num('POLSCAL1'), num('POLSCAL2')],
    coeffs: Float64Array.from(data),
    fwhmPix: num('PSF_FWHM', NaN) || undefined,
    fluxFraction: num('PSFFRAC', 1),
  });
}
