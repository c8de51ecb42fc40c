/**
 * The `diff` stage of a transient campaign, per search CCD (DES-GW SEdiff / LSST
 * imageDifferenceDriver): choose the template among the calibrated template candidates (same
 * band, overlap, ≥ minSeparationDays apart, quality from the calexp headers: src/templates
 * selectTemplates), warp it onto the search CCD (src/templates Lanczos-3, flux-conserving, with
 * variance and mask), PSF-match and subtract (src/diffim Alard–Lupton with decorrelation), detect
 * diaSources (matched filter), score them (shipped real/bogus model) and write into the
 * repository layout:
 *
 *   diff/<band>/<expnum>/diff-<expnum>-<ccd>.fits.fz      IMAGE (WCS, MAGZERO, KSUM, template
 *                                                          keywords), VARIANCE, MASK, PSF (of D)
 *   diaSrc/<band>/<expnum>/diaSrc-<expnum>-<ccd>.fits     DIASRC table (tessera diff columns)
 *   diaSrc/<band>/<expnum>/stamps-<expnum>-<ccd>.fits     SEARCH, TEMPLATE, DIFF 51×51×n cubes
 */
import { existsSync } from 'node:fs';
import { FitsReader } from '../../fits/reader.js';
import { Header } from '../../fits/header.js';
import { writeFits, type ColumnInput, type HduInput } from '../../fits/writer.js';
import { Wcs } from '../../wcs/wcs.js';
import { psfFromHdu, psfToHdu } from '../../psf/io.js';
import { PsfModel } from '../../psf/model.js';
import type { PsfLike } from '../../detect/psf-like.js';
import { subtractImages, type DiffInput } from '../../diffim/subtract.js';
import { detectDiaSources, type DiaSource } from '../../diffim/dia.js';
import { defaultRbModel, scoreSources } from '../../diffim/rb.js';
import { warpMaskedImage } from '../../templates/warp.js';
import { selectTemplates, type CcdRecord } from '../../templates/select.js';
import { productLayout } from '../../products/layout.js';
import { Refcat } from '../../calib/refcat/store.js';
import { mjdToJulianEpoch } from '../../calib/refcat/epoch.js';
import { TesseraError } from '../../util/errors.js';
import { TESSERA_VERSION } from '../../util/version.js';
import type { Repository } from '../repo.js';
import type { CcdRef, DiffParams } from './params.js';

export const calexpPath = (repo: Repository, c: CcdRef) => repo.path('calexp', { band: c.band, expnum: c.expnum, ccd: c.ccd });
export const srcPath = (repo: Repository, c: CcdRef) => repo.path('src', { band: c.band, expnum: c.expnum, ccd: c.ccd });
export const diffPath = (repo: Repository, c: CcdRef) => repo.path('diff', { band: c.band, expnum: c.expnum, ccd: c.ccd });
export const diaSrcPath = (repo: Repository, c: CcdRef) => repo.path('diaSrc', { band: c.band, expnum: c.expnum, ccd: c.ccd });
export const stampsPath = (repo: Repository, c: CcdRef) => productLayout(repo.root).stampsFits({ band: c.band, expnum: c.expnum, ccd: c.ccd });

export interface Calexp {
  path: string;
  header: Header;
  wcs: Wcs;
  img: DiffInput;
}

function numKey(h: Header, k: string): number {
  const v = h.get(k);
  return typeof v === 'number' ? v : NaN;
}

/** Header (and WCS) of a calexp's IMAGE HDU only. */
export function readCalexpHeader(path: string): { header: Header; wcs: Wcs; width: number; height: number } {
  if (!existsSync(path)) throw new TesseraError(`${path}: calibrated image missing (did its calibrate task succeed?)`);
  const r = FitsReader.open(path);
  try {
    const h = r.imageHeader('IMAGE');
    return { header: h, wcs: Wcs.fromHeader(h, `${path}[IMAGE]`), width: h.optionalNumber('NAXIS1') ?? 0, height: h.optionalNumber('NAXIS2') ?? 0 };
  } finally {
    r.close();
  }
}

/** A calexp's IMAGE, VARIANCE, MASK and PSF. */
export function readCalexp(path: string): Calexp {
  if (!existsSync(path)) throw new TesseraError(`${path}: calibrated image missing (did its calibrate task succeed?)`);
  const r = FitsReader.open(path);
  try {
    const im = r.readImage('IMAGE');
    const [w, h] = im.shape as [number, number];
    const v = r.readImage('VARIANCE');
    const m = r.readImage('MASK');
    const p = r.readImage('PSF');
    const psf = psfFromHdu(p.header, p.data as ArrayLike<number>, p.shape, `${path}[PSF]`);
    const img: DiffInput = {
      width: w, height: h,
      image: im.data instanceof Float32Array ? im.data : Float32Array.from(im.data as ArrayLike<number>),
      variance: v.data instanceof Float32Array ? v.data : Float32Array.from(v.data as ArrayLike<number>),
      mask: Uint32Array.from(m.data as ArrayLike<number>),
      psf: psf as unknown as PsfLike,
    };
    const sat = numKey(im.header, 'SATURATE'), gain = numKey(im.header, 'GAIN');
    if (sat > 0) img.saturation = sat;
    if (gain > 0) img.gain = gain;
    return { path, header: im.header, wcs: Wcs.fromHeader(im.header, `${path}[IMAGE]`), img };
  } finally {
    r.close();
  }
}

/** Template-selection record of a calibrated CCD (quality from its calexp header). */
export function calexpRecord(c: CcdRef, path: string): CcdRecord {
  const { header: h, wcs, width, height } = readCalexpHeader(path);
  const footprint = [[0.5, 0.5], [width + 0.5, 0.5], [width + 0.5, height + 0.5], [0.5, height + 0.5]].map(([x, y]) => wcs.pixToSkyOne(x!, y!) as [number, number]);
  const zp = numKey(h, 'MAGZERO');
  return {
    expnum: c.expnum, ccdName: c.ccdName, ccdNum: c.ccd, band: c.band, mjd: c.mjd, footprint,
    fwhmArcsec: numKey(h, 'FWHM'), depth: numKey(h, 'DEPTH'), zp, zpOk: Number.isFinite(zp),
    sky: numKey(h, 'SKYLEVEL'), exptime: numKey(h, 'EXPTIME'), path,
  };
}

/** A constant PixelPSF model from a centred stamp (the difference image's PSF), for the PSF HDU. */
function stampPsfModel(stamp: Float32Array, size: number, width: number, height: number, fwhmPix: number): PsfModel | undefined {
  if (size % 2 !== 1) return undefined;
  let s = 0;
  for (let i = 0; i < stamp.length; i++) s += stamp[i]!;
  if (!(s > 0)) return undefined;
  const coeffs = new Float64Array(size * size);
  for (let i = 0; i < coeffs.length; i++) coeffs[i] = stamp[i]! / s;
  return new PsfModel({ size, sampling: 1, degree: 0, polZero: [(width - 1) / 2, (height - 1) / 2], polScale: [width, height], coeffs, fwhmPix, fluxFraction: 1 });
}

function cube(planes: Float32Array[], size: number): Float32Array {
  const out = new Float32Array(planes.length * size * size);
  planes.forEach((p, i) => out.set(p, i * size * size));
  return out;
}

export interface DiffStageResult {
  template: CcdRef;
  /** Every template used: the first, then those that filled pixels it left undefined. */
  templates: CcdRef[];
  nDiaSources: number;
  ksum: number;
  residRms: number;
  coverage: number;
  seconds: Record<string, number>;
}

/** Run the diff stage of one search CCD, writing its three outputs. */
export function runDiffStage(repo: Repository, p: DiffParams, log: (s: string) => void = () => undefined): DiffStageResult {
  const t0 = performance.now();
  const lap = (() => { let t = t0; return () => { const n = performance.now(); const d = (n - t) / 1000; t = n; return d; }; })();
  const seconds: Record<string, number> = {};
  const s = p.search;
  const sciPath = calexpPath(repo, s);
  const sciRec = calexpRecord(s, sciPath);
  const recs: CcdRecord[] = [];
  const refOf = new Map<string, CcdRef>();
  for (const t of p.templates) {
    const path = calexpPath(repo, t);
    if (!existsSync(path)) { log(`template candidate ${t.expnum}/${t.ccdName}: no calexp (calibration failed), skipped`); continue; }
    const rec = calexpRecord(t, path);
    recs.push(rec);
    refOf.set(`${t.expnum}/${t.ccd}`, t);
  }
  const sel = selectTemplates(sciRec, recs, { minSeparationDays: p.minSeparationDays });
  for (const r of sel.rejected) log(`template candidate ${r.record.expnum}/${r.record.ccdName}: rejected (${r.reason})`);
  const best = sel.cover[0] ?? sel.candidates[0];
  if (!best) throw new TesseraError(`diff ${s.expnum}/${s.ccdName}: no usable template among ${p.templates.length} candidate CCD(s) (${sel.rejected.map((r) => `${r.record.expnum}/${r.record.ccdName}: ${r.reason}`).join('; ') || 'none overlaps'})`);
  const tRef = refOf.get(`${best.record.expnum}/${best.record.ccdNum}`)!;
  log(`template ${tRef.expnum}/${tRef.ccdName} (MJD ${tRef.mjd.toFixed(3)}, FWHM ${best.record.fwhmArcsec.toFixed(2)}″, depth ${best.record.depth.toFixed(2)}, overlap ${(best.overlapFraction * 100).toFixed(1)}%) of ${sel.candidates.length} candidate(s)`);
  seconds.select = lap();

  const sci = readCalexp(sciPath);
  seconds.read = lap();
  const { width, height } = sci.img;
  const subtractWith = (ref: CcdRef) => {
    const tpl = readCalexp(calexpPath(repo, ref));
    const warped = warpMaskedImage(tpl.img, tpl.wcs, sci.wcs, width, height);
    if (warped.coverage === 0) throw new TesseraError(`diff ${s.expnum}/${s.ccdName}: template ${ref.expnum}/${ref.ccdName} does not overlap after warping (check both WCS)`);
    const template: DiffInput = { width, height, image: warped.image, variance: warped.variance, mask: warped.mask, psf: tpl.img.psf, saturation: tpl.img.saturation, gain: tpl.img.gain };
    const r = subtractImages(sci.img, template, { decorrelate: true, scienceName: sciPath, templateName: tpl.path });
    return { ref, res: r, coverage: warped.coverage, header: tpl.header };
  };
  const first = subtractWith(tRef);
  const res = first.res;
  seconds.subtract = lap();
  // Where the best template leaves the search CCD uncovered (dithers, CCD gaps), the next
  // templates of the cover set fill in: their difference images are used for the pixels that the
  // earlier ones leave undefined (detection then uses the first one's PSF).
  const used: CcdRef[] = [tRef];
  const finiteFraction = (a: Float32Array) => { let k = 0; for (let i = 0; i < a.length; i++) if (a[i] === a[i]) k++; return k / a.length; };
  let coverage = finiteFraction(res.diff.image);
  for (const c of sel.cover.slice(1, 3)) {
    if (coverage >= 0.995) break;
    const ref = refOf.get(`${c.record.expnum}/${c.record.ccdNum}`)!;
    let more;
    try {
      more = subtractWith(ref);
    } catch (e) {
      if (!(e instanceof TesseraError)) throw e;
      log(`extra template ${ref.expnum}/${ref.ccdName} not used: ${e.message}`);
      continue;
    }
    const D = res.diff.image, V = res.diff.variance!, M = res.diff.mask!, T = res.matchedTemplate;
    const D2 = more.res.diff.image, V2 = more.res.diff.variance!, M2 = more.res.diff.mask!, T2 = more.res.matchedTemplate;
    let filled = 0;
    for (let i = 0; i < D.length; i++) {
      if (D[i] === D[i] || D2[i] !== D2[i]) continue;
      D[i] = D2[i]!; V[i] = V2[i]!; M[i] = M2[i]!; T[i] = T2[i]!; filled++;
    }
    if (filled) used.push(ref);
    log(`extra template ${ref.expnum}/${ref.ccdName}: filled ${((100 * filled) / D.length).toFixed(1)}% of the CCD (KSUM ${more.res.ksum.toFixed(4)}, resid rms ${more.res.residRms.toFixed(3)})`);
    coverage = finiteFraction(D);
  }
  seconds.extraTemplates = lap();
  // Reference-catalog stars on the CCD (0-based pixels, positions at the search epoch) for DIST_REF.
  let refStars: { x: Float64Array; y: Float64Array } | undefined;
  if (p.refcat) {
    try {
      const t = Refcat.open(p.refcat).queryWcs(sci.wcs, width, height, { marginArcsec: 10, epoch: mjdToJulianEpoch(s.mjd) });
      const px = sci.wcs.skyToPix(t.columns['ra']!, t.columns['dec']!, 0);
      refStars = { x: Float64Array.from(px.x), y: Float64Array.from(px.y) };
    } catch (e) {
      if (!(e instanceof TesseraError)) throw e;
      log(`reference catalog not used for DIST_REF: ${e.message}`);
    }
  }
  const dia: DiaSource[] = detectDiaSources(res.diff, res.psf, { thresh: p.threshold, fwhmPix: res.diffPsf.fwhmPix, templateSources: res.templateSources, matchedTemplate: res.matchedTemplate, refStars });
  const rb = defaultRbModel();
  if (rb) scoreSources(rb, dia);
  seconds.detect = lap();

  // Zero point of PSF fluxes on D: the calexp's zero point is for total fluxes (PSF flux × APCORR),
  // so the aperture correction is folded into the zero point the diff products carry. With the
  // template convolved, D = S − K⊗T is on the science scale with the science PSF (⊗φ): the
  // science's PSF zero point. With the science convolved, D = (K⊗S − T)/k_c (k_c = kernel sum =
  // 1/KSUM) has the template's PSF and is the template's PSF-flux scale times KSUM: its zero point
  // is the template's PSF zero point + 2.5 log10 KSUM. (Using the science's would carry the
  // kernel's flux-ratio error, a few per cent when the kernel misses the PSF wings.)
  const zp = numKey(sci.header, 'MAGZERO');
  const apcorr = numKey(sci.header, 'APCORR');
  const psfZp = (h: Header) => { const z = numKey(h, 'MAGZERO'), a = numKey(h, 'APCORR'); return z - (a > 0 ? 2.5 * Math.log10(a) : 0); };
  const zpTmplPsf = psfZp(first.header);
  const zpPsf = res.convolved === 'science' && Number.isFinite(zpTmplPsf) && res.ksum > 0
    ? zpTmplPsf + 2.5 * Math.log10(res.ksum)
    : zp - (apcorr > 0 ? 2.5 * Math.log10(apcorr) : 0);

  // Difference image.
  const h = new Header([], 'IMAGE');
  for (const c of sci.header.cards) {
    const k = c.key.trim().toUpperCase();
    if (c.value === undefined || k === 'EXTNAME' || k === 'CHECKSUM' || k === 'DATASUM' || k === '') continue;
    h.add({ ...c });
  }
  h.set('ORIGIN', `tessera ${TESSERA_VERSION}`, 'transient campaign diff stage');
  h.set('MODE', 'AL', 'subtraction method (Alard-Lupton)');
  h.set('CONVOLVE', res.convolved.toUpperCase(), 'image convolved by the kernel');
  h.set('KSUM', res.ksum, 'science/template flux ratio (kernel sum)');
  h.set('KSUMERR', res.ksumErr, 'error of KSUM');
  h.set('CHI2DOF', res.chi2Dof, 'mean chi2/dof of the used stamps');
  h.set('RESIDRMS', res.residRms, 'clipped rms of D/sqrt(VAR) (1 = noise)');
  h.set('DECORREL', res.decorrelated, 'DMTN-021 decorrelation applied');
  h.set('MAGZERO', zpPsf, res.convolved === 'science' ? 'AB zp of D PSF fluxes: tmpl PSF zp+2.5lg KSUM' : 'AB zero point of PSF fluxes on D (MAGZCAL - 2.5 log10 APCORR)');
  h.set('MAGZCAL', zp, 'AB zero point of the search calexp');
  h.set('TMPLEXP', tRef.expnum, 'template exposure');
  h.set('TMPLCCD', tRef.ccd, 'template CCD number');
  h.set('TMPLMJD', tRef.mjd, 'template MJD-OBS');
  h.set('TMPLCOV', coverage, 'fraction of the CCD with a defined difference');
  h.set('NTMPLUSE', used.length, 'templates used (the first one, then gap fillers)');
  used.slice(1).forEach((u, i) => h.set(`TMPLEXP${i + 2}`, u.expnum, `template ${i + 2} (fills pixels the first leaves undefined)`));
  h.set('NTMPLCAN', sel.candidates.length, 'template candidates passing the cuts');
  const mask = new Int32Array(res.diff.mask!.length);
  for (let i = 0; i < mask.length; i++) mask[i] = res.diff.mask![i]! | 0;
  const hdus: HduInput[] = [
    { kind: 'image', data: null, shape: [] },
    { kind: 'image', extname: 'IMAGE', header: h, data: res.diff.image, shape: [width, height], compress: { type: 'RICE_1' } },
    { kind: 'image', extname: 'VARIANCE', data: res.diff.variance!, shape: [width, height], compress: { type: 'RICE_1' } },
    { kind: 'image', extname: 'MASK', data: mask, shape: [width, height], compress: { type: 'RICE_1' } },
  ];
  const dpsf = stampPsfModel(res.diffPsf.data, res.diffPsf.size, width, height, res.diffPsf.fwhmPix);
  if (dpsf) {
    const ph = psfToHdu(dpsf);
    const hh = new Header([], 'PSF');
    for (const c of ph.cards) if (c.key !== 'EXTNAME') hh.set(c.key, c.value, c.comment);
    hdus.push({ kind: 'image', extname: 'PSF', header: hh, data: ph.data, shape: ph.shape });
  }

  // diaSource table (columns as tessera diff --sources) and stamps.
  const n = dia.length;
  const X = Float64Array.from(dia, (d) => d.x + 1), Y = Float64Array.from(dia, (d) => d.y + 1);
  const sky = sci.wcs.pixToSky(X, Y, 1);
  const cols: ColumnInput[] = [
    { name: 'NUMBER', data: Int32Array.from({ length: n }, (_, i) => i + 1), tform: '1J' },
    { name: 'X_IMAGE', data: X, tform: '1D', unit: 'pixel' },
    { name: 'Y_IMAGE', data: Y, tform: '1D', unit: 'pixel' },
    { name: 'ALPHA_J2000', data: Float64Array.from(sky.ra), tform: '1D', unit: 'deg' },
    { name: 'DELTA_J2000', data: Float64Array.from(sky.dec), tform: '1D', unit: 'deg' },
    { name: 'FLUX_PSF', data: Float64Array.from(dia, (d) => d.flux), tform: '1D', unit: 'count' },
    { name: 'FLUXERR_PSF', data: Float64Array.from(dia, (d) => d.fluxErr), tform: '1D', unit: 'count' },
    { name: 'SNR', data: Float64Array.from(dia, (d) => d.snr), tform: '1D' },
    { name: 'MAG_PSF', data: Float64Array.from(dia, (d) => (d.flux > 0 ? zpPsf - 2.5 * Math.log10(d.flux) : NaN)), tform: '1D', unit: 'mag' },
    { name: 'RB_SCORE', data: Float64Array.from(dia, (d) => d.rbScore), tform: '1D' },
    { name: 'FLAGS', data: Int32Array.from(dia, (d) => d.flags), tform: '1J' },
    { name: 'DIPOLE_FLUX_POS', data: Float64Array.from(dia, (d) => d.dipolePos), tform: '1D', unit: 'count' },
    { name: 'DIPOLE_FLUX_NEG', data: Float64Array.from(dia, (d) => d.dipoleNeg), tform: '1D', unit: 'count' },
    { name: 'DIST_TEMPLATE', data: Float64Array.from(dia, (d) => (Number.isFinite(d.distTemplate) ? d.distTemplate : -1)), tform: '1D', unit: 'pixel' },
    { name: 'DIST_REF', data: Float64Array.from(dia, (d) => (Number.isFinite(d.distRef) ? d.distRef : -1)), tform: '1D', unit: 'pixel' },
  ];
  const dh = new Header();
  dh.set('EXPNUM', s.expnum); dh.set('CCDNUM', s.ccd); dh.set('BAND', s.band); dh.set('MJD-OBS', s.mjd);
  dh.set('MAGZERO', zpPsf, 'AB zero point of FLUX_PSF (calexp MAGZERO - 2.5 log10 APCORR)');
  dh.set('THRESH', p.threshold, 'matched-filter S/N threshold');
  dh.set('KSUM', res.ksum, 'science/template flux ratio');
  dh.set('TMPLEXP', tRef.expnum, 'template exposure');
  dh.set('RBMODEL', rb ? `gbdt seed ${rb.meta.seed}` : 'NONE', rb ? 'real/bogus model (data/rb-model.json)' : 'no real/bogus model: RB_SCORE is NaN');
  const S = 51, hs = 25;
  const cut = (plane: Float32Array, d: DiaSource) => {
    const o = new Float32Array(S * S).fill(NaN);
    const x0 = Math.round(d.x) - hs, y0 = Math.round(d.y) - hs;
    for (let j = 0; j < S; j++) {
      const yy = y0 + j;
      if (yy < 0 || yy >= height) continue;
      for (let i = 0; i < S; i++) { const xx = x0 + i; if (xx >= 0 && xx < width) o[j * S + i] = plane[yy * width + xx]!; }
    }
    return o;
  };
  const stampHdus: HduInput[] = [{ kind: 'image', data: null, shape: [] }];
  for (const [name, plane] of [['SEARCH', sci.img.image], ['TEMPLATE', res.matchedTemplate], ['DIFF', res.diff.image]] as const) {
    stampHdus.push({ kind: 'image', extname: name, data: cube(dia.map((d) => cut(plane, d)), S), shape: [S, S, n] });
  }
  stampHdus.push({ kind: 'bintable', extname: 'DIASRC', columns: cols.slice(0, 5), nrows: n });
  // Stamps and table first, the image last: the image is the output whose presence marks the task
  // done only together with the others (all three are declared outputs).
  writeFits(stampsPath(repo, s), stampHdus);
  writeFits(diaSrcPath(repo, s), [{ kind: 'image', data: null, shape: [] }, { kind: 'bintable', extname: 'DIASRC', header: dh, columns: cols, nrows: n }]);
  writeFits(diffPath(repo, s), hdus);
  seconds.write = lap();
  log(`KSUM ${res.ksum.toFixed(4)}, resid rms ${res.residRms.toFixed(3)}, ${res.solution.nUsed} stamps, convolved ${res.convolved}, ${n} diaSources; times ${Object.entries(seconds).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ')}`);
  return { template: tRef, templates: used, nDiaSources: n, ksum: res.ksum, residRms: res.residRms, coverage, seconds };
}
