/**
 * Files of the templates room: reading a calibrated CCD (as `tessera calibrate` writes it:
 * IMAGE with WCS and MAGZERO, VARIANCE, MASK, PSF HDUs) as a coadd input, the coadd grids of
 * patches and bricks, and writing a coadd as a tile-compressed FITS file with IMAGE, VARIANCE,
 * MASK, NEXP and PSF HDUs.
 */
import { existsSync } from 'node:fs';
import { FitsReader, type HduInfo } from '../fits/reader.js';
import { writeFits, type HduInput } from '../fits/writer.js';
import { Header } from '../fits/header.js';
import { parseFileHdu } from '../fits/filehdu.js';
import { MaskBits } from '../image/masked-image.js';
import { psfFromHdu, psfToHdu } from '../psf/io.js';
import { Wcs } from '../wcs/wcs.js';
import { brickByName, brickWcs } from '../sky/bricks.js';
import { dc2SkyMap, type RingsSkyMap } from '../sky/skymap.js';
import { TesseraError } from '../util/errors.js';
import { TESSERA_VERSION } from '../util/version.js';
import type { Coadd, CoaddInput } from './coadd.js';

function describe(path: string, h: HduInfo): string {
  return h.extname ? `${path}[${h.index} '${h.extname}']` : `${path}[${h.index}]`;
}

/**
 * A calibrated CCD as a coadd input: `FILE` (EXTNAME IMAGE, else the first 2-D image) or
 * `FILE[HDU]`; VARIANCE, MASK and PSF HDUs of the same file when present. The image header must
 * hold a celestial WCS and MAGZERO.
 */
export function readCalexp(spec: string): CoaddInput {
  const { path, hdu } = parseFileHdu(spec);
  if (!existsSync(path)) throw new TesseraError(`${path}: no such file`);
  const r = FitsReader.open(path);
  try {
    const find = (name: string) => r.hdus.find((h) => h.extname?.trim().toUpperCase() === name);
    let sel: number | string | undefined = hdu;
    if (sel === undefined) {
      sel = find('IMAGE')?.index;
      if (sel === undefined) for (const h of r.hdus) {
        if (h.type === 'compressed-image' || (h.type === 'image' && (h.header.optionalNumber('NAXIS') ?? 0) >= 2)) { sel = h.index; break; }
      }
      if (sel === undefined) throw new TesseraError(`${path}: no 2-D image HDU`);
    }
    const info = r.hdu(sel);
    const where = describe(path, info);
    if (info.type !== 'image' && info.type !== 'compressed-image') throw new TesseraError(`${where}: HDU is a table, not an image`);
    const read = (s: number, label: string) => {
      const im = r.readImage(s);
      const shape = im.shape.filter((n, i) => i < 2 || n !== 1);
      if (shape.length !== 2) throw new TesseraError(`${describe(path, r.hdu(s))}: expected a 2-D ${label}, got ${im.shape.join('×') || 'no data'}`);
      return { data: im.data instanceof Float32Array ? im.data : Float32Array.from(im.data as ArrayLike<number>, Number), w: shape[0]!, h: shape[1]!, header: im.header };
    };
    const main = read(info.index, 'image');
    if (main.header.get('CTYPE1') === undefined) throw new TesseraError(`${where}: no WCS (keyword CTYPE1 is missing)`);
    const wcs = Wcs.fromHeader(main.header, where);
    const zp = main.header.get('MAGZERO');
    if (typeof zp !== 'number' || !Number.isFinite(zp)) throw new TesseraError(`${where}: keyword MAGZERO ${zp === undefined ? 'is missing' : 'is not a number'} (the zero point is needed to scale the input)`);
    const out: CoaddInput = { image: { width: main.w, height: main.h, image: main.data }, wcs, magzero: zp, id: where };
    const vh = find('VARIANCE'), mh = find('MASK'), ph = find('PSF');
    if (vh && vh.index !== info.index) {
      const v = read(vh.index, 'variance plane');
      if (v.w !== main.w || v.h !== main.h) throw new TesseraError(`${describe(path, vh)}: VARIANCE is ${v.w}×${v.h}, the image is ${main.w}×${main.h}`);
      out.image.variance = v.data;
    }
    if (mh && mh.index !== info.index) {
      const m = read(mh.index, 'mask plane');
      if (m.w !== main.w || m.h !== main.h) throw new TesseraError(`${describe(path, mh)}: MASK is ${m.w}×${m.h}, the image is ${main.w}×${main.h}`);
      out.image.mask = Uint32Array.from(m.data, (v) => (v === v ? v >>> 0 : MaskBits.NO_DATA));
    }
    if (ph) {
      const p = r.readImage(ph.index);
      out.psf = psfFromHdu(p.header, p.data as ArrayLike<number>, p.shape, describe(path, ph));
    }
    return out;
  } finally {
    r.close();
  }
}

export interface CoaddGrid {
  name: string;
  wcs: Wcs;
  width: number;
  height: number;
}

/**
 * The grid of an LSST DC2 rings-skymap patch (its outer box): `TRACT,X,Y` or `TRACT,SEQ`
 * (sequential patch index nx·y + x).
 */
export function patchGrid(spec: string, skymap: RingsSkyMap = dc2SkyMap()): CoaddGrid {
  const parts = spec.split(',').map((s) => s.trim());
  if (!(parts.length === 2 || parts.length === 3) || parts.some((p) => !/^\d+$/.test(p))) {
    throw new TesseraError(`patch '${spec}': expected TRACT,X,Y or TRACT,SEQ (non-negative integers)`);
  }
  const nums = parts.map(Number);
  if (nums[0]! >= skymap.numTracts) throw new TesseraError(`patch '${spec}': tract ${nums[0]} is not in the skymap (0–${skymap.numTracts - 1})`);
  const tract = skymap.tract(nums[0]!);
  const patch = nums.length === 3 ? tract.patch(nums[1]!, nums[2]!) : tract.patch(nums[1]!);
  return { name: `tract ${tract.id} patch ${patch.name}`, wcs: patch.wcs(), width: patch.outer.width, height: patch.outer.height };
}

/**
 * The grid of a Legacy Surveys brick: its TAN grid (default 3600 × 3600 px of 0.262″), or a
 * width × height grid of the given scale centred on the brick.
 */
export function brickGrid(name: string, width = 3600, height = width, pixscaleArcsec = 0.262): CoaddGrid {
  const b = brickByName(name);
  return { name: `brick ${b.brickname}`, wcs: brickWcs(b, width, height, pixscaleArcsec), width, height };
}

/**
 * The pixel grid of an existing image (`FILE` or `FILE[HDU]`, EXTNAME IMAGE by default): its
 * WCS and size — e.g. a search CCD, to warp and stack its templates onto its own pixels.
 */
export function imageGrid(spec: string): CoaddGrid {
  const { path, hdu } = parseFileHdu(spec);
  if (!existsSync(path)) throw new TesseraError(`${path}: no such file`);
  const r = FitsReader.open(path);
  try {
    let sel: number | string | undefined = hdu ?? r.hdus.find((h) => h.extname?.trim().toUpperCase() === 'IMAGE')?.index;
    if (sel === undefined) for (const h of r.hdus) {
      if (h.type === 'compressed-image' || (h.type === 'image' && (h.header.optionalNumber('NAXIS') ?? 0) >= 2)) { sel = h.index; break; }
    }
    if (sel === undefined) throw new TesseraError(`${path}: no 2-D image HDU`);
    const info = r.hdu(sel);
    const where = describe(path, info);
    if (info.type !== 'image' && info.type !== 'compressed-image') throw new TesseraError(`${where}: HDU is a table, not an image`);
    const h = r.imageHeader(info.index);
    const w = h.optionalNumber('NAXIS1'), ht = h.optionalNumber('NAXIS2');
    if (!(w !== undefined && ht !== undefined && w > 0 && ht > 0)) throw new TesseraError(`${where}: not a 2-D image (NAXIS1/NAXIS2)`);
    if (h.get('CTYPE1') === undefined) throw new TesseraError(`${where}: no WCS (keyword CTYPE1 is missing)`);
    return { name: `grid of ${where}`, wcs: Wcs.fromHeader(h, where), width: w, height: ht };
  } finally {
    r.close();
  }
}

/** The HDUs of a coadd file: IMAGE (WCS, MAGZERO), VARIANCE, MASK, NEXP, PSF (when modelled). */
export function coaddHdus(c: Coadd, extra: { key: string; value: string | number | boolean; comment?: string }[] = [], compress = true): HduInput[] {
  const ih = new Header([], 'IMAGE');
  c.wcs.toHeader(ih);
  ih.set('MAGZERO', c.magzero, 'AB zero point: mag = MAGZERO - 2.5 log10(value)');
  ih.set('BUNIT', c.magzero === 22.5 ? 'nanomaggy' : 'count', c.magzero === 22.5 ? 'per pixel' : `per pixel at MAGZERO = ${c.magzero}`);
  ih.set('NINPUTS', c.inputs.length, 'input images');
  ih.set('NREJECT', c.rejected, 'input pixels rejected by clipping');
  ih.set('WRPKERN', 'LANCZOS3', 'warp interpolation kernel');
  ih.set('WRPVARF', Number(c.varianceFactor.toFixed(4)), 'mean sum w^2 of warps: noise is correlated');
  if (c.psf) ih.set('PSF_FWHM', Number(c.psf.fwhmPix.toFixed(4)), '[px] coadd PSF FWHM at the centre');
  ih.set('SOFTWARE', `tessera ${TESSERA_VERSION}`);
  for (const e of extra) ih.set(e.key, e.value, e.comment);
  c.inputs.forEach((inp, k) => {
    ih.set('HISTORY', `input ${k + 1}: ${inp.id} MAGZERO=${inp.magzero} scale=${inp.scale.toPrecision(6)} weight=${inp.weight.toPrecision(6)} npix=${inp.pixels}`);
  });
  const vh = new Header([], 'VARIANCE');
  c.wcs.toHeader(vh);
  vh.set('BUNIT', 'value**2', 'per pixel; warped noise is correlated between pixels');
  const mh = new Header([], 'MASK');
  for (const [name, bit] of Object.entries(MaskBits)) mh.set(`MP_${name}`.slice(0, 8), bit, `mask bit ${name}`);
  const nh = new Header([], 'NEXP');
  c.wcs.toHeader(nh);
  nh.set('COMMENT', 'number of inputs used at each pixel (after masking and clipping)');
  let maxMask = 0;
  for (let i = 0; i < c.mask.length; i++) if (c.mask[i]! > maxMask) maxMask = c.mask[i]!;
  const mask = maxMask < 65536 ? Uint16Array.from(c.mask) : Int32Array.from(c.mask, (v) => v | 0);
  const lossy = compress ? { type: 'RICE_1' as const, quantizeLevel: 16, dither: 'SUBTRACTIVE_DITHER_2' as const } : undefined;
  const lossless = compress ? { type: 'RICE_1' as const } : undefined;
  const shape = [c.width, c.height];
  const hdus: HduInput[] = [
    { kind: 'image', extname: 'IMAGE', header: ih, data: c.image, shape, compress: lossy },
    { kind: 'image', extname: 'VARIANCE', header: vh, data: c.variance, shape, compress: lossy },
    { kind: 'image', extname: 'MASK', header: mh, data: mask, shape, compress: lossless },
    { kind: 'image', extname: 'NEXP', header: nh, data: c.nexp, shape, compress: lossless },
  ];
  if (c.psf) {
    const p = psfToHdu(c.psf);
    const ph = new Header([], 'PSF');
    for (const card of p.cards) if (card.key !== 'EXTNAME') ph.set(card.key, card.value, card.comment);
    ph.set('COMMENT', 'coadd PSF: weighted sum of the warped input PSFs, polynomial fit over the grid');
    hdus.push({ kind: 'image', extname: 'PSF', header: ph, data: p.data, shape: p.shape });
  }
  return hdus;
}

/** Write a coadd (atomically) as FILE.fits.fz (tile-compressed; `compress: false` for plain images). */
export function writeCoadd(path: string, c: Coadd, opts: { extra?: { key: string; value: string | number | boolean; comment?: string }[]; compress?: boolean } = {}): void {
  writeFits(path, coaddHdus(c, opts.extra ?? [], opts.compress ?? true));
}
