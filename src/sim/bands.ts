/**
 * Photometric bands of the simulated camera, Gaia-like stellar magnitudes and the relation
 * between them.
 *
 * Stars are drawn in Gaia G and BP−RP; their true DECam-band AB magnitudes come from the
 * Legacy Surveys' Gaia→DECam polynomials (src/calib/colorterms.ts — the same table the
 * calibration uses), so the photometric zero point of every simulated exposure is exactly
 * defined against the reference catalog.
 */

import { gaiaColorCorrection } from '../calib/colorterms.js';

export type Band = 'g' | 'r' | 'i' | 'z';
export const BANDS: readonly Band[] = ['g', 'r', 'i', 'z'];

export interface BandInfo {
  band: Band;
  /** DECam long FILTER keyword value. */
  filter: string;
  /** AB magnitude giving 1 e−/s at airmass 1 through a CCD of throughput 1 (DECam-like). */
  zp0: number;
  /** Dark-sky brightness (AB mag/arcsec²). */
  sky0: number;
  /** Atmospheric extinction (mag/airmass). */
  kExt: number;
  /** Seeing FWHM relative to r (∝ λ^−0.2). */
  seeingFactor: number;
}

/** Nominal DECam values (legacypipe decam.py zp0/sky0 scale; extinction from DES). */
export const BAND_INFO: Readonly<Record<Band, BandInfo>> = {
  g: { band: 'g', filter: 'g DECam SDSS c0001 4720.0 1520.0', zp0: 26.61, sky0: 22.04, kExt: 0.17, seeingFactor: 1.06 },
  r: { band: 'r', filter: 'r DECam SDSS c0002 6415.0 1480.0', zp0: 26.82, sky0: 20.91, kExt: 0.10, seeingFactor: 1.0 },
  i: { band: 'i', filter: 'i DECam SDSS c0003 7835.0 1470.0', zp0: 26.76, sky0: 20.00, kExt: 0.07, seeingFactor: 0.96 },
  z: { band: 'z', filter: 'z DECam SDSS c0004 9260.0 1520.0', zp0: 26.48, sky0: 18.78, kExt: 0.06, seeingFactor: 0.93 },
};

export function parseBands(s: string): Band[] {
  const out: Band[] = [];
  for (const ch of s.replace(/[,\s]/g, '')) {
    if (!(ch in BAND_INFO)) throw new Error(`unknown band '${ch}' (known: g, r, i, z)`);
    if (out.includes(ch as Band)) throw new Error(`band '${ch}' given twice`);
    out.push(ch as Band);
  }
  return out;
}

/** True DECam-band AB magnitude of a star with Gaia G and BP−RP (the calibration's relation). */
export function starBandMag(band: Band, gMag: number, bpRp: number): number {
  return gMag + gaiaColorCorrection(band, bpRp);
}

/**
 * Gaia G − RP as a function of BP − RP (an approximation of the main-sequence locus, good to
 * ~0.03 mag), used to give each star consistent G, BP and RP.
 */
export function gMinusRp(bpRp: number): number {
  return 0.6 * bpRp - 0.07 * bpRp * bpRp;
}

/** Gaia-like 1σ uncertainties (DR3-like, as a function of G). */
export function gaiaErrors(g: number): { posMas: number; pmMasYr: number; gMag: number; bpRpMag: number } {
  // Position: ~0.02 mas at G<15 rising to ~0.5 mas at G=20 (DR3 figures).
  const f = Math.pow(10, 0.4 * (Math.max(g, 13) - 15));
  const posMas = 0.02 * Math.sqrt(1 + 0.9 * f * f * 0.045);
  const pmMasYr = posMas * 1.1;
  const faint = Math.pow(10, 0.4 * (g - 20));
  const gMag = 0.0003 + 0.006 * faint;
  const bpRpMag = 0.001 + 0.06 * faint;
  return { posMas, pmMasYr, gMag, bpRpMag };
}
