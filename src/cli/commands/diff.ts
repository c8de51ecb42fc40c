import { existsSync } from 'node:fs';
import { boolOpt, intOpt, numberOpt, positional, stringOpt, type CommandSpec } from '../args.js';
import { FitsReader, type HduInfo } from '../../fits/reader.js';
import { writeFits, type ColumnInput, type HduInput } from '../../fits/writer.js';
import { Header } from '../../fits/header.js';
import { parseFileHdu } from '../../fits/filehdu.js';
import { Wcs } from '../../wcs/wcs.js';
import { psfFromHdu } from '../../psf/io.js';
import type { PsfLike } from '../../detect/psf-like.js';
import { TesseraError, UsageError } from '../../util/errors.js';
import { TESSERA_VERSION } from '../../util/version.js';
import { availableParallelism } from 'node:os';
import { subtractImagesParallel, type DiffInput } from '../../diffim/subtract.js';
import { warpTemplate } from '../../diffim/warp.js';
import { detectDiaSources, StampPsf, type DiaSource } from '../../diffim/dia.js';
import { zogySubtract } from '../../diffim/zogy.js';
import { findStars } from '../../diffim/subtract.js';
import { coefAt } from '../../diffim/al/fit.js';
import { kernelImage } from '../../diffim/al/basis.js';
import { defaultRbModel, scoreSources, trainRealBogus } from '../../diffim/rb.js';
import { writeFileAtomic } from '../../util/atomic.js';

interface Loaded { img: DiffInput; header: Header; where: string; wcs?: Wcs }

function describe(path: string, h: HduInfo): string {
  return h.extname ? `${path}[${h.index} '${h.extname}']` : `${path}[${h.index}]`;
}

/** Image HDU (given, or EXTNAME IMAGE, or the first 2-D image) plus VARIANCE / MASK / PSF HDUs of the same file. */
function load(spec: string, what: string): Loaded {
  const { path, hdu } = parseFileHdu(spec);
  if (!existsSync(path)) throw new TesseraError(`${path}: no such file (${what})`);
  const r = FitsReader.open(path);
  try {
    const find = (name: string) => r.hdus.find((h) => h.extname?.toUpperCase() === name);
    let sel: number | string | undefined = hdu;
    if (sel === undefined) {
      sel = find('IMAGE')?.index;
      if (sel === undefined) for (const h of r.hdus) {
        if (h.type === 'compressed-image' || (h.type === 'image' && (h.header.optionalNumber('NAXIS') ?? 0) >= 2)) { sel = h.index; break; }
      }
      if (sel === undefined) throw new TesseraError(`${path}: no 2-D image HDU (${what})`);
    }
    const info = r.hdu(sel);
    const where = describe(path, info);
    if (info.type !== 'image' && info.type !== 'compressed-image') throw new TesseraError(`${where}: HDU is a table, not an image (${what})`);
    const read = (s: number | string, label: string) => {
      const im = r.readImage(s);
      const shape = im.shape.filter((n, i) => i < 2 || n !== 1);
      if (shape.length !== 2) throw new TesseraError(`${describe(path, r.hdu(s))}: expected a 2-D ${label}, got ${im.shape.join('×') || 'no data'}`);
      return { data: im.data instanceof Float32Array ? im.data : Float32Array.from(im.data as ArrayLike<number>, Number), w: shape[0]!, h: shape[1]!, header: im.header };
    };
    const main = read(sel, what);
    const img: DiffInput = { width: main.w, height: main.h, image: main.data };
    const vh = find('VARIANCE'), mh = find('MASK'), ph = find('PSF');
    if (vh && vh.index !== info.index) {
      const v = read(vh.index, 'variance plane');
      if (v.w !== main.w || v.h !== main.h) throw new TesseraError(`${describe(path, vh)}: VARIANCE is ${v.w}×${v.h}, the image is ${main.w}×${main.h}`);
      img.variance = v.data;
    }
    if (mh && mh.index !== info.index) {
      const m = read(mh.index, 'mask plane');
      if (m.w !== main.w || m.h !== main.h) throw new TesseraError(`${describe(path, mh)}: MASK is ${m.w}×${m.h}, the image is ${main.w}×${main.h}`);
      img.mask = Uint32Array.from(m.data, (v) => (v === v ? v >>> 0 : 0));
    }
    if (ph) {
      const p = r.readImage(ph.index);
      img.psf = psfFromHdu(p.header, p.data as ArrayLike<number>, p.shape, describe(path, ph)) as PsfLike;
    }
    const num = (k: string) => { const v = main.header.get(k); return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined; };
    img.gain = num('GAIN');
    img.saturation = num('SATURATE');
    const wcs = main.header.get('CTYPE1') !== undefined ? Wcs.fromHeader(main.header, where) : undefined;
    return { img, header: main.header, where, wcs };
  } finally {
    r.close();
  }
}

/** Reference stars (RA/DEC or ALPHA_J2000/DELTA_J2000 columns of a FITS table) in 0-based science pixels. */
function loadRefStars(spec: string, wcs: Wcs | undefined, width: number, height: number): { x: Float64Array; y: Float64Array } {
  if (!wcs) throw new UsageError('--refcat needs a science image with a celestial WCS');
  const { path, hdu } = parseFileHdu(spec);
  if (!existsSync(path)) throw new TesseraError(`${path}: no such file (reference catalog)`);
  const r = FitsReader.open(path);
  try {
    const sel = hdu ?? r.hdus.find((h) => h.type === 'bintable')?.index;
    if (sel === undefined) throw new TesseraError(`${path}: no binary table HDU (reference catalog)`);
    const t = r.readTable(sel);
    const names = t.columns.map((c) => c.name.toUpperCase());
    const pair = [['RA', 'DEC'], ['ALPHA_J2000', 'DELTA_J2000'], ['RA_ICRS', 'DE_ICRS']].find(([a, b]) => names.includes(a!) && names.includes(b!));
    if (!pair) throw new TesseraError(`${path}[${sel}]: reference catalog needs RA/DEC or ALPHA_J2000/DELTA_J2000 columns (has ${names.slice(0, 12).join(', ')})`);
    const ra = Float64Array.from(t.column(pair[0]!).data as ArrayLike<number>, Number), dec = Float64Array.from(t.column(pair[1]!).data as ArrayLike<number>, Number);
    const p = wcs.skyToPix(ra, dec, 0);
    const xs: number[] = [], ys: number[] = [];
    for (let i = 0; i < ra.length; i++) { const x = p.x[i]!, y = p.y[i]!; if (x > -50 && y > -50 && x < width + 50 && y < height + 50) { xs.push(x); ys.push(y); } }
    return { x: Float64Array.from(xs), y: Float64Array.from(ys) };
  } finally {
    r.close();
  }
}

function sameGrid(a: Header, b: Header): boolean {
  for (const k of ['CTYPE1', 'CTYPE2', 'CRVAL1', 'CRVAL2', 'CRPIX1', 'CRPIX2', 'CD1_1', 'CD1_2', 'CD2_1', 'CD2_2']) if (a.get(k) !== b.get(k)) return false;
  return true;
}

function cube(planes: Float32Array[], size: number): Float32Array {
  const out = new Float32Array(planes.length * size * size);
  planes.forEach((p, i) => out.set(p, i * size * size));
  return out;
}

function diaColumns(dia: DiaSource[], wcs: Wcs | undefined, header: Header): ColumnInput[] {
  const n = dia.length;
  const X = Float64Array.from(dia, (s) => s.x + 1), Y = Float64Array.from(dia, (s) => s.y + 1);
  const cols: ColumnInput[] = [
    { name: 'NUMBER', data: Int32Array.from({ length: n }, (_, i) => i + 1), tform: '1J' },
    { name: 'X_IMAGE', data: X, tform: '1D', unit: 'pixel' },
    { name: 'Y_IMAGE', data: Y, tform: '1D', unit: 'pixel' },
  ];
  if (wcs) {
    const sky = wcs.pixToSky(X, Y, 1);
    cols.push({ name: 'ALPHA_J2000', data: Float64Array.from(sky.ra), tform: '1D', unit: 'deg' });
    cols.push({ name: 'DELTA_J2000', data: Float64Array.from(sky.dec), tform: '1D', unit: 'deg' });
  }
  cols.push({ name: 'FLUX_PSF', data: Float64Array.from(dia, (s) => s.flux), tform: '1D', unit: 'count' });
  cols.push({ name: 'FLUXERR_PSF', data: Float64Array.from(dia, (s) => s.fluxErr), tform: '1D', unit: 'count' });
  cols.push({ name: 'SNR', data: Float64Array.from(dia, (s) => s.snr), tform: '1D' });
  const zp = header.get('MAGZERO');
  if (typeof zp === 'number' && Number.isFinite(zp)) {
    cols.push({ name: 'MAG_PSF', data: Float64Array.from(dia, (s) => (s.flux > 0 ? zp - 2.5 * Math.log10(s.flux) : NaN)), tform: '1D', unit: 'mag' });
    cols.push({ name: 'MAGERR_PSF', data: Float64Array.from(dia, (s) => (s.flux > 0 ? (1.0857362047581294 * s.fluxErr) / s.flux : NaN)), tform: '1D', unit: 'mag' });
  }
  cols.push({ name: 'RB_SCORE', data: Float64Array.from(dia, (s) => s.rbScore), tform: '1D' });
  cols.push({ name: 'FLAGS', data: Int32Array.from(dia, (s) => s.flags), tform: '1J' });
  cols.push({ name: 'DIPOLE_FLUX_POS', data: Float64Array.from(dia, (s) => s.dipolePos), tform: '1D', unit: 'count' });
  cols.push({ name: 'DIPOLE_FLUX_NEG', data: Float64Array.from(dia, (s) => s.dipoleNeg), tform: '1D', unit: 'count' });
  cols.push({ name: 'DIST_TEMPLATE', data: Float64Array.from(dia, (s) => (Number.isFinite(s.distTemplate) ? s.distTemplate : -1)), tform: '1D', unit: 'pixel' });
  cols.push({ name: 'DIST_REF', data: Float64Array.from(dia, (s) => (Number.isFinite(s.distRef) ? s.distRef : -1)), tform: '1D', unit: 'pixel' });
  return cols;
}

/** 51×51 cut-outs per diaSource as one cube per plane, plus the positions. */
function writeStamps(path: string, dia: DiaSource[], planes: [string, Float32Array][], width: number, height: number, cols: ColumnInput[]): void {
  const S = 51, hs = 25, n = dia.length;
  const cut = (plane: Float32Array, s: { x: number; y: number }) => {
    const o = new Float32Array(S * S).fill(NaN);
    const x0 = Math.round(s.x) - hs, y0 = Math.round(s.y) - hs;
    for (let j = 0; j < S; j++) { const yy = y0 + j; if (yy < 0 || yy >= height) continue; for (let i = 0; i < S; i++) { const xx = x0 + i; if (xx >= 0 && xx < width) o[j * S + i] = plane[yy * width + xx]!; } }
    return o;
  };
  const hdus: HduInput[] = [{ kind: 'image', data: null, shape: [] }];
  for (const [name, plane] of planes) hdus.push({ kind: 'image', extname: name, data: cube(dia.map((s) => cut(plane, s)), S), shape: [S, S, n] });
  hdus.push({ kind: 'bintable', extname: 'DIASRC', columns: cols.slice(0, 3), nrows: n });
  writeFits(path, hdus);
}

/** ZOGY mode of tessera diff: D, S_corr, diaSources from S_corr peaks. */
function runZogy(io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }, sci: Loaded, tpl: Loaded, template: DiffInput, out: string, srcOut: string | undefined, stampOut: string | undefined, thresh: number, astrom: number): number {
  const st = findStars(template);
  const z = zogySubtract(sci.img, template, { stars: st.centres, sigmaX: astrom, sigmaY: astrom });
  const { width, height } = sci.img;
  const h = sci.header.clone();
  for (const k of ['EXTNAME', 'CHECKSUM', 'DATASUM']) h.delete(k);
  h.set('ORIGIN', `tessera ${TESSERA_VERSION}`, 'tessera diff');
  h.set('MODE', 'ZOGY', 'subtraction method (Zackay, Ofek & Gal-Yam 2016)');
  h.set('KSUM', z.fluxRatio, 'science/template flux ratio F_n/F_r');
  h.set('ZOGY_FD', z.FD, 'flux normalisation F_D of D before rescaling');
  h.set('SIGMA_N', z.sigmaN, 'science background noise');
  h.set('SIGMA_R', z.sigmaR, 'template background noise');
  h.set('ASTRMS', astrom, '[pixel] astrometric rms used in S_corr');
  h.set('RESIDRMS', z.residRms, 'clipped rms of D/sqrt(VAR) (1 = noise)');
  h.set('FWHMSCI', z.fwhmSci, '[pixel] science PSF FWHM');
  h.set('FWHMTMP', z.fwhmTmpl, '[pixel] template PSF FWHM');
  writeFits(out, [
    { kind: 'image', data: null, shape: [] },
    { kind: 'image', extname: 'IMAGE', header: h, data: z.diff.image, shape: [width, height], compress: { type: 'RICE_1' } },
    { kind: 'image', extname: 'VARIANCE', data: z.diff.variance!, shape: [width, height], compress: { type: 'RICE_1' } },
    { kind: 'image', extname: 'MASK', data: Int32Array.from(z.diff.mask!), shape: [width, height], compress: { type: 'RICE_1' } },
    { kind: 'image', extname: 'SCORR', data: z.Scorr, shape: [width, height], compress: { type: 'RICE_1' } },
    { kind: 'image', extname: 'PSF_D', data: z.psfD.data, shape: [z.psfD.size, z.psfD.size] },
  ]);
  let nDia = -1;
  if (srcOut || stampOut) {
    const psf = new StampPsf(z.psfD.data, z.psfD.size, Math.max(z.fwhmSci, z.fwhmTmpl));
    const dia = detectDiaSources(z.diff, psf, { thresh, fwhmPix: Math.max(z.fwhmSci, z.fwhmTmpl), templateSources: st.sources, maps: { snr: z.Scorr, flux: z.flux } });
    nDia = dia.length;
    const dh = new Header();
    dh.set('THRESH', thresh, 'S_corr threshold');
    dh.set('MODE', 'ZOGY');
    dh.set('RBMODEL', 'NONE', 'the real/bogus model is trained on AL features: RB_SCORE NaN');
    const cols = diaColumns(dia, sci.wcs, sci.header);
    if (srcOut) writeFits(srcOut, [{ kind: 'image', data: null, shape: [] }, { kind: 'bintable', extname: 'DIASRC', header: dh, columns: cols, nrows: dia.length }]);
    if (stampOut) {
      // matched template in science counts: science − D (D carries the science-count scale)
      const matched = Float32Array.from(sci.img.image, (v, i) => v - z.diff.image[i]!);
      writeStamps(stampOut, dia, [['SEARCH', sci.img.image], ['TEMPLATE', matched], ['DIFF', z.diff.image]], width, height, cols);
    }
  }
  for (const note of z.notes) io.stderr.write(`note: ${note}\n`);
  io.stdout.write(`${sci.where} - ${tpl.where}: ZOGY, flux ratio ${z.fluxRatio.toFixed(5)}, F_D ${z.FD.toPrecision(5)}, resid rms ${z.residRms.toFixed(3)}${nDia >= 0 ? `, ${nDia} diaSources` : ''} -> ${out}\n`);
  return 0;
}

export const commands: CommandSpec[] = [
  {
    name: 'diff',
    summary: 'difference imaging (like HOTPANTS): warp, PSF-match, subtract, decorrelate, detect',
    usage: 'SCIENCE[HDU] TEMPLATE[HDU] -o DIFF.fits.fz [options]',
    options: [
      { name: 'output', short: 'o', type: 'string', valueName: 'DIFF.fits.fz', description: 'output difference image (HDUs IMAGE, VARIANCE, MASK, KERNEL, KERNEL_SOLUTION)' },
      { name: 'sources', type: 'string', valueName: 'DIASRC.fits', description: 'write the diaSource table' },
      { name: 'stamps', type: 'string', valueName: 'STAMPS.fits', description: 'write 51×51 search/template/difference cut-outs per diaSource' },
      { name: 'mode', type: 'string', valueName: 'al|zogy', description: 'subtraction method: Alard–Lupton or ZOGY', default: 'al' },
      { name: 'kernel-order', type: 'string', valueName: 'N', description: 'spatial polynomial order of the kernel', default: '2' },
      { name: 'bg-order', type: 'string', valueName: 'N', description: 'polynomial order of the differential background', default: '1' },
      { name: 'convolve', type: 'string', valueName: 'auto|template|science|preconvolve', description: 'which image to convolve (auto: the sharper one; preconvolve: science ⋆ its PSF, template matched to it, IMAGE is a score image)', default: 'auto' },
      { name: 'no-decorrelate', type: 'boolean', description: 'skip the DMTN-021 noise decorrelation' },
      { name: 'thresh', type: 'string', valueName: 'SIGMA', description: 'diaSource detection threshold (matched-filter S/N; S_corr in ZOGY mode)', default: '5' },
      { name: 'refcat', type: 'string', valueName: 'CAT.fits', description: 'reference catalog (RA/DEC columns): DIST_REF of each diaSource' },
      { name: 'threads', type: 'string', valueName: 'N', description: 'worker threads for the convolution (default: 2 when the machine has them and the image has ≥ 4 Mpix)' },
      { name: 'astrom-rms', type: 'string', valueName: 'PIX', description: 'ZOGY: astrometric registration rms per axis (pixels) for S_corr', default: '0.05' },
    ],
    details: `
Both images are calibrated CCD images with a celestial WCS; the template is warped onto the science
pixel grid (Lanczos-3, flux-conserving) unless both share the same grid. HDUs named VARIANCE, MASK
and PSF in the same file (as tessera calibrate writes calexp files) are used; a missing variance
is estimated from the background RMS (plus Poisson noise with header GAIN), a missing PSF width is
measured from stars. The difference image is in science-image counts (positive = brighter now),
NaN where undefined (edges within the kernel half-width, masked or missing input).
Header keywords: KSUM (science/template flux ratio), KSUMERR, CHI2DOF (stamps), NSTAMPS,
RESIDRMS (clipped rms of D/sqrt(VAR)), CONVOLVE (TEMPLATE|SCIENCE), MODE, DECORREL.
diaSource columns: X_IMAGE, Y_IMAGE (FITS pixels on the science image), ALPHA_J2000, DELTA_J2000,
FLUX_PSF, FLUXERR_PSF (science counts), SNR (signed), MAG_PSF/MAGERR_PSF (with MAGZERO), FLAGS
(1 masked pixel, 2 edge, 4 dipole, 8 CR/bad), DIPOLE_FLUX_POS/NEG, DIST_TEMPLATE (pixels to the
nearest template source), DIST_REF (pixels to the nearest --refcat star, −1 without), RB_SCORE (0–1, higher = more likely real; from the shipped model
data/rb-model.json, see tessera diff train-rb; header RBTHR99 is the cut keeping 99% of simulated reals).`,
    async run(args, io) {
      const sSpec = positional(args, 0, 'SCIENCE', 'diff');
      const tSpec = positional(args, 1, 'TEMPLATE', 'diff');
      const out = stringOpt(args, 'output');
      if (!out) throw new UsageError('diff: missing -o DIFF.fits.fz (see --help)');
      const mode = stringOpt(args, 'mode') ?? 'al';
      if (mode !== 'al' && mode !== 'zogy') throw new UsageError(`--mode must be al or zogy, got '${mode}'`);
      const conv = stringOpt(args, 'convolve') ?? 'auto';
      if (conv !== 'auto' && conv !== 'template' && conv !== 'science' && conv !== 'preconvolve') throw new UsageError(`--convolve must be auto, template, science or preconvolve, got '${conv}'`);
      const kOrder = intOpt(args, 'kernel-order') ?? 2, bOrder = intOpt(args, 'bg-order') ?? 1;
      if (kOrder < 0 || kOrder > 4) throw new UsageError('--kernel-order must be 0..4');
      if (bOrder < 0 || bOrder > 4) throw new UsageError('--bg-order must be 0..4');
      const thresh = numberOpt(args, 'thresh') ?? 5;
      if (!(thresh > 0)) throw new UsageError('--thresh must be positive');
      const sci = load(sSpec, 'science image');
      const tpl = load(tSpec, 'template');
      const { width, height } = sci.img;
      let template = tpl.img;
      if (sci.wcs && tpl.wcs) {
        if (!(tpl.img.width === width && tpl.img.height === height && sameGrid(sci.header, tpl.header))) {
          const w = warpTemplate(tpl.img, tpl.wcs, sci.wcs, width, height);
          if (w.coverage === 0) throw new TesseraError(`${tpl.where} does not overlap ${sci.where}: no science pixel maps inside the template (check the WCS of both)`);
          template = w;
        }
      } else if (tpl.img.width !== width || tpl.img.height !== height) {
        throw new TesseraError(`${!sci.wcs ? sci.where : tpl.where}: no celestial WCS (CTYPE1 missing), and the images differ in size (${width}×${height} vs ${tpl.img.width}×${tpl.img.height}): cannot align`);
      }
      if (mode === 'zogy') return runZogy(io, sci, tpl, template, out, stringOpt(args, 'sources'), stringOpt(args, 'stamps'), thresh, numberOpt(args, 'astrom-rms') ?? 0.05);
      const threads = intOpt(args, 'threads') ?? (width * height >= 4e6 ? Math.min(2, availableParallelism()) : 1);
      if (threads < 1 || threads > 64) throw new UsageError('--threads must be 1..64');
      const res = await subtractImagesParallel(sci.img, template, {
        kernelOrder: kOrder, bgOrder: bOrder, convolve: conv, decorrelate: !boolOpt(args, 'no-decorrelate'),
        scienceName: sci.where, templateName: tpl.where,
      }, threads);
      const sol = res.solution;
      const h = sci.header.clone();
      for (const k of ['EXTNAME', 'CHECKSUM', 'DATASUM']) h.delete(k);
      h.set('ORIGIN', `tessera ${TESSERA_VERSION}`, 'tessera diff');
      h.set('MODE', 'AL', 'subtraction method (Alard-Lupton)');
      h.set('CONVOLVE', res.preconvolved ? 'PRECONV' : res.convolved.toUpperCase(), res.preconvolved ? 'template matched to the PSF-correlated science' : 'image convolved by the kernel');
      if (res.preconvolved) h.set('SCOREIMG', true, 'IMAGE is a matched-filter score: S/N = IMAGE/sqrt(VAR)');
      h.set('KSUM', res.ksum, 'science/template flux ratio (kernel sum)');
      h.set('KSUMERR', res.ksumErr, 'error of KSUM from the stamp scatter');
      h.set('CHI2DOF', res.chi2Dof, 'mean chi2/dof of the used stamps');
      h.set('NSTAMPS', sol.nUsed, 'stamps used in the kernel solution');
      h.set('NSTAMPC', sol.stamps.length, 'stamp candidates');
      h.set('RESIDRMS', res.residRms, 'clipped rms of D/sqrt(VAR) (1 = noise)');
      h.set('KORDER', sol.kernelOrder, 'kernel spatial order');
      h.set('BGORDER', sol.bgOrder, 'background order');
      h.set('KHW', sol.basis.spec.hw, '[pixel] kernel half-width');
      h.set('DECORREL', res.decorrelated, 'DMTN-021 decorrelation applied');
      h.set('FWHMSCI', res.fwhmSci, '[pixel] science PSF FWHM');
      h.set('FWHMTMP', res.fwhmTmpl, '[pixel] template PSF FWHM');
      h.set('SCIENCE', sSpec.slice(-68), 'science image');
      h.set('TEMPLATE', tSpec.slice(-68), 'template image');
      // kernel images at 3 × 3 positions
      const kpos: [number, number][] = [];
      for (const fy of [0.1, 0.5, 0.9]) for (const fx of [0.1, 0.5, 0.9]) kpos.push([fx * (width - 1), fy * (height - 1)]);
      const size = sol.basis.size;
      const kimgs = kpos.map(([x, y]) => Float32Array.from(kernelImage(sol.basis, coefAt(sol, x, y))));
      const kh = new Header();
      kpos.forEach(([x, y], i) => { kh.set(`KX${i + 1}`, x + 1, `[pixel] FITS x of kernel plane ${i + 1}`); kh.set(`KY${i + 1}`, y + 1, `[pixel] FITS y of kernel plane ${i + 1}`); });
      const nb = sol.basis.n;
      const basisCols: ColumnInput[] = [
        { name: 'BASIS', data: Int32Array.from({ length: nb }, (_, k) => k), tform: '1J' },
        { name: 'SUM', data: Float64Array.from(sol.basis.sums), tform: '1D' },
        { name: 'COEF', data: Float64Array.from({ length: nb * 15 }, (_, i) => { const k = Math.floor(i / 15), m = i % 15; return m < sol.coef[k]!.length ? sol.coef[k]![m]! : 0; }), tform: '15D' },
      ];
      const sh = new Header();
      sol.basis.spec.sigmas.forEach((s, i) => { sh.set(`SIGMA${i + 1}`, s, '[pixel] basis Gaussian sigma'); sh.set(`DEGREE${i + 1}`, sol.basis.spec.degrees[i]!, 'polynomial degree'); });
      sh.set('KHW', sol.basis.spec.hw, '[pixel] kernel half-width');
      sh.set('KORDER', sol.kernelOrder, 'spatial order (terms 1,X,Y,X2,XY,Y2,...)');
      sh.set('XNORM', `X=(x-1-${sol.cx})/${sol.sx}`, 'x is the FITS pixel');
      sh.set('YNORM', `Y=(y-1-${sol.cy})/${sol.sy}`, 'y is the FITS pixel');
      sol.bgCoef.forEach((c, i) => sh.set(`BGCOEF${i + 1}`, c, 'differential background term'));
      const hdus: HduInput[] = [
        { kind: 'image', data: null, shape: [] },
        { kind: 'image', extname: 'IMAGE', header: h, data: res.diff.image, shape: [width, height], compress: { type: 'RICE_1' } },
        { kind: 'image', extname: 'VARIANCE', data: res.diff.variance!, shape: [width, height], compress: { type: 'RICE_1' } },
        { kind: 'image', extname: 'MASK', data: Int32Array.from(res.diff.mask!), shape: [width, height], compress: { type: 'RICE_1' } },
        { kind: 'image', extname: 'KERNEL', header: kh, data: cube(kimgs, size), shape: [size, size, kimgs.length] },
        { kind: 'bintable', extname: 'KERNEL_SOLUTION', header: sh, columns: basisCols, nrows: nb },
      ];
      writeFits(out, hdus);
      const srcOut = stringOpt(args, 'sources'), stampOut = stringOpt(args, 'stamps');
      let nDia = -1;
      if (srcOut || stampOut) {
        const refStars = stringOpt(args, 'refcat') ? loadRefStars(stringOpt(args, 'refcat')!, sci.wcs, width, height) : undefined;
        // a pre-convolved (score) image is already matched-filtered: peaks on its S/N map
        const dia = detectDiaSources(res.diff, res.psf, { thresh, fwhmPix: res.diffPsf.fwhmPix, templateSources: res.templateSources, matchedTemplate: res.matchedTemplate, refStars, ...(res.score ? { maps: res.score } : {}) });
        nDia = dia.length;
        const rb = defaultRbModel();
        if (rb) scoreSources(rb, dia);
        const n = dia.length;
        const cols = diaColumns(dia, sci.wcs, sci.header);
        const dh = new Header();
        dh.set('THRESH', thresh, 'matched-filter S/N threshold');
        dh.set('KSUM', res.ksum, 'science/template flux ratio');
        dh.set('RBMODEL', rb ? `gbdt seed ${rb.meta.seed}` : 'NONE', rb ? 'real/bogus model (data/rb-model.json)' : 'no real/bogus model: RB_SCORE is NaN');
        if (rb) dh.set('RBTHR99', Number(rb.meta.threshold99), 'RB_SCORE keeping 99% of simulated reals');
        if (srcOut) writeFits(srcOut, [{ kind: 'image', data: null, shape: [] }, { kind: 'bintable', extname: 'DIASRC', header: dh, columns: cols, nrows: n }]);
        if (stampOut) writeStamps(stampOut, dia, [['SEARCH', sci.img.image], ['TEMPLATE', res.matchedTemplate], ['DIFF', res.diff.image]], width, height, cols);
      }
      io.stdout.write(`${sci.where} - ${tpl.where}: KSUM ${res.ksum.toFixed(5)} ± ${res.ksumErr.toFixed(5)}, ${sol.nUsed} stamps, chi2/dof ${res.chi2Dof.toFixed(3)}, resid rms ${res.residRms.toFixed(3)}, convolved ${res.convolved}${nDia >= 0 ? `, ${nDia} diaSources` : ''} -> ${out}\n`);
      for (const note of res.notes) io.stderr.write(`note: ${note}\n`);
      return 0;
    },
  },
  {
    name: 'diff train-rb',
    summary: 'train the real/bogus model (gradient-boosted trees) on simulated detections',
    usage: '-o data/rb-model.json [--seed N] [--pairs N]',
    options: [
      { name: 'output', short: 'o', type: 'string', valueName: 'MODEL.json', description: 'output model file (required)' },
      { name: 'seed', type: 'string', valueName: 'N', description: 'simulation seed (same seed, same model)', default: '1' },
      { name: 'pairs', type: 'string', valueName: 'N', description: 'simulated 1024×1024 training pairs (one half as many more are held out)', default: '16' },
    ],
    details: `
Simulates science/template pairs with injected transients, supernovae on galaxies and variable
stars that fade or brighten (real) and artefacts (cosmic rays, a bad column, misregistered stars
that leave dipoles, stars with a wrong PSF) and noise peaks (bogus), with a reference catalog of
the brighter stars (one pair in four without, as when --refcat is not given), runs the
subtraction and detection on each, and trains gradient-boosted trees on the diaSource feature
vectors. Prints, on held-out pairs, the fraction of bogus detections removed at the score cut
that keeps 99% of the real ones.`,
    run(args, io) {
      const out = stringOpt(args, 'output');
      if (!out) throw new UsageError('diff train-rb: missing -o MODEL.json');
      const seed = intOpt(args, 'seed') ?? 1, pairs = intOpt(args, 'pairs') ?? 16;
      if (pairs < 2) throw new UsageError('--pairs must be at least 2');
      const rep = trainRealBogus(seed, pairs, Math.max(1, Math.round(pairs / 2)), 1024, (s) => io.stderr.write(`${s}\n`));
      writeFileAtomic(out, JSON.stringify(rep.model) + '\n');
      io.stdout.write(`trained on ${rep.nTrain} detections, held out ${rep.nTest}: at 99% retention of real transients (score ≥ ${rep.threshold99.toFixed(4)}), ${(100 * rep.bogusRemoved99).toFixed(1)}% of artefacts removed -> ${out}\n`);
      for (const [k, v] of Object.entries(rep.perKind)) io.stdout.write(`  ${k}: ${v.n} held-out, ${v.removed} below the cut\n`);
      return 0;
    },
  },
];
