import { existsSync } from 'node:fs';
import { boolOpt, intOpt, numberList, numberOpt, positional, stringOpt, type CommandSpec } from '../args.js';
import { FitsReader, type HduInfo } from '../../fits/reader.js';
import { writeFits, type ColumnInput } from '../../fits/writer.js';
import { Header } from '../../fits/header.js';
import { parseFileHdu } from '../../fits/filehdu.js';
import { Wcs } from '../../wcs/wcs.js';
import { psfFromHdu } from '../../psf/io.js';
import { detectSources, type DetectOptions } from '../../detect/detect.js';
import type { PsfLike } from '../../detect/psf-like.js';
import { TesseraError, UsageError } from '../../util/errors.js';
import { TESSERA_VERSION } from '../../util/version.js';

interface Plane { data: Float32Array; width: number; height: number; header: Header; where: string }

function describe(path: string, h: HduInfo): string {
  return h.extname ? `${path}[${h.index} '${h.extname}']` : `${path}[${h.index}]`;
}

/** Read a 2-D image HDU (the first HDU holding an image when none is named) as Float32. */
function readPlane(spec: string, what: string): Plane {
  const { path, hdu } = parseFileHdu(spec);
  if (!existsSync(path)) throw new TesseraError(`${path}: no such file (${what})`);
  const r = FitsReader.open(path);
  try {
    let sel: number | string | undefined = hdu;
    if (sel === undefined) {
      for (const h of r.hdus) {
        if (h.type === 'compressed-image') { sel = h.index; break; }
        if (h.type === 'image' && (h.header.optionalNumber('NAXIS') ?? 0) >= 2) { sel = h.index; break; }
      }
      if (sel === undefined) throw new TesseraError(`${path}: no 2-D image HDU (${what})`);
    }
    const info = r.hdu(sel);
    const where = describe(path, info);
    if (info.type !== 'image' && info.type !== 'compressed-image') throw new TesseraError(`${where}: HDU is a ${info.type === 'table' ? 'ASCII table' : 'binary table'}, not an image (${what})`);
    const img = r.readImage(sel);
    const shape = img.shape.filter((n, i) => i < 2 || n !== 1);
    if (shape.length !== 2) throw new TesseraError(`${where}: expected a 2-D image, got NAXIS = ${img.shape.length} (${img.shape.join('×') || 'no data'}) (${what})`);
    const [width, height] = shape as [number, number];
    const data = img.data instanceof Float32Array ? img.data : Float32Array.from(img.data as ArrayLike<number>, Number);
    return { data, width, height, header: img.header, where };
  } finally {
    r.close();
  }
}

function readPsf(spec: string): PsfLike {
  const { path, hdu } = parseFileHdu(spec);
  if (!existsSync(path)) throw new TesseraError(`${path}: no such file (PSF)`);
  const r = FitsReader.open(path);
  try {
    let sel: number | string | undefined = hdu;
    if (sel === undefined) {
      const named = r.hdus.find((h) => h.extname?.toUpperCase() === 'PSF');
      sel = named ? named.index : r.hdus.find((h) => h.type === 'image' && (h.header.optionalNumber('NAXIS') ?? 0) >= 2)?.index;
      if (sel === undefined) throw new TesseraError(`${path}: no PSF HDU (give FILE[HDU])`);
    }
    const info = r.hdu(sel);
    const img = r.readImage(sel);
    return psfFromHdu(img.header, img.data as ArrayLike<number>, img.shape, describe(path, info));
  } finally {
    r.close();
  }
}

export const commands: CommandSpec[] = [
  {
    name: 'detect',
    summary: 'detect and measure sources (like SExtractor/SEP), write a FITS catalog',
    usage: 'IMAGE[HDU] -o CATALOG.fits [options]',
    options: [
      { name: 'output', short: 'o', type: 'string', valueName: 'CATALOG.fits', description: 'output FITS binary table (required)' },
      { name: 'thresh', type: 'string', valueName: 'SIGMA', description: 'detection threshold in units of the noise (DETECT_THRESH)', default: '1.5' },
      { name: 'minarea', type: 'string', valueName: 'N', description: 'minimum pixels above threshold (DETECT_MINAREA)', default: '5' },
      { name: 'aper', type: 'string', valueName: 'D1,D2,...', description: 'circular aperture DIAMETERS in pixels (PHOT_APERTURES)', default: '6' },
      { name: 'weight', type: 'string', valueName: 'W[HDU]', description: 'inverse-variance weight map (as DECam oow); 0 = no data' },
      { name: 'mask', type: 'string', valueName: 'M[HDU]', description: 'integer mask/data-quality map; pixels ≠ 0 are bad (see --mask-bits)' },
      { name: 'mask-bits', type: 'string', valueName: 'BITS', description: 'only these mask bits make a pixel bad (default: any non-zero value)' },
      { name: 'psf', type: 'string', valueName: 'P[HDU]', description: 'PSF model (tessera PSF HDU): matched filter, FLUX_PSF, SPREAD_MODEL' },
      { name: 'backsize', type: 'string', valueName: 'N', description: 'background mesh size in pixels (BACK_SIZE)', default: '64' },
      { name: 'backfilter', type: 'string', valueName: 'N', description: 'median filter size of the mesh (BACK_FILTERSIZE)', default: '3' },
      { name: 'gain', type: 'string', valueName: 'E/ADU', description: 'gain, adds source Poisson noise to the errors (default: header GAIN, else none; none when the image header says VARSRC = T and a weight map is given)' },
      { name: 'satur', type: 'string', valueName: 'ADU', description: 'saturation level (default: header SATURATE, else none)' },
      { name: 'deblend-nthresh', type: 'string', valueName: 'N', description: 'deblending levels (DEBLEND_NTHRESH)', default: '32' },
      { name: 'deblend-mincont', type: 'string', valueName: 'C', description: 'deblending minimum contrast (DEBLEND_MINCONT)', default: '0.005' },
      { name: 'no-clean', type: 'boolean', description: 'do not CLEAN spurious detections near bright objects' },
      { name: 'filter-fwhm', type: 'string', valueName: 'PIX', description: 'detection filter: Gaussian of this FWHM (default: 3×3 default.conv, or the PSF)' },
      { name: 'no-filter', type: 'boolean', description: 'detect on the unfiltered image' },
      { name: 'check-background', type: 'string', valueName: 'B.fits', description: 'also write the background map (and RMS map as HDU 1)' },
    ],
    details: `
Apertures are DIAMETERS in pixels, as SExtractor's PHOT_APERTURES: --aper 3,5,8 gives FLUX_APER and
FLUXERR_APER vector columns of 3 values, for circles of radius 1.5, 2.5 and 4 px with exact pixel
overlap. Pixel coordinates follow the FITS convention (the centre of the first pixel is 1,1).
Columns: NUMBER, X_IMAGE, Y_IMAGE (isophotal barycentre), XWIN_IMAGE, YWIN_IMAGE and their
ERR*2WIN_IMAGE, moments X2/Y2/XY_IMAGE, A/B/THETA_IMAGE with errors, ISOAREA_IMAGE, FLUX_ISO,
FLUX_MAX, FLUX_APER, FLUX_AUTO, KRON_RADIUS, FLUX_RADIUS, FWHM_IMAGE, BACKGROUND, THRESHOLD, FLAGS
(SExtractor bits: 1 crowded/bad pixels in AUTO, 2 blended, 4 saturated, 8 truncated at the edge,
16 aperture incomplete), IMAFLAGS_ISO; ALPHA_J2000, DELTA_J2000 when the image has a celestial
WCS; FLUX_PSF, FLUXERR_PSF, SPREAD_MODEL, SPREADERR_MODEL with --psf.
Errors come from the weight map when given, else from the background RMS map (plus Poisson
noise with a gain). An image without sources gives an empty table.`,
    run(args, io) {
      const input = positional(args, 0, 'IMAGE', 'detect');
      const out = stringOpt(args, 'output');
      if (!out) throw new UsageError('detect: missing -o CATALOG.fits (see --help)');
      const img = readPlane(input, 'image');
      const { width, height } = img;
      const check = (p: Plane, what: string) => {
        if (p.width !== width || p.height !== height) throw new TesseraError(`${p.where}: ${what} is ${p.width}×${p.height}, the image ${img.where} is ${width}×${height}`);
      };
      let variance: Float32Array | undefined;
      const wspec = stringOpt(args, 'weight');
      if (wspec) {
        const wp = readPlane(wspec, 'weight');
        check(wp, 'weight map');
        variance = new Float32Array(width * height);
        for (let i = 0; i < variance.length; i++) { const w = wp.data[i]!; variance[i] = w > 0 && w < Infinity ? 1 / w : Infinity; }
      }
      let mask: Uint32Array | undefined;
      const mspec = stringOpt(args, 'mask');
      const maskBits = intOpt(args, 'mask-bits');
      if (mspec) {
        const mp = readPlane(mspec, 'mask');
        check(mp, 'mask');
        mask = new Uint32Array(width * height);
        for (let i = 0; i < mask.length; i++) { const v = mp.data[i]!; mask[i] = v === v ? v >>> 0 : 0; }
      }
      const hdrNum = (k: string) => { const v = img.header.get(k); return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined; };
      const aper = numberList(args, 'aper') ?? [6];
      if (aper.some((d) => !(d > 0))) throw new UsageError('--aper: diameters must be positive');
      const thresh = numberOpt(args, 'thresh') ?? 1.5;
      if (!(thresh > 0)) throw new UsageError('--thresh must be positive');
      const minArea = intOpt(args, 'minarea') ?? 5;
      if (minArea < 1) throw new UsageError('--minarea must be at least 1');
      const psf = stringOpt(args, 'psf') ? readPsf(stringOpt(args, 'psf')!) : undefined;
      const opts: DetectOptions = {
        threshSigma: thresh,
        minArea,
        apertures: aper,
        backSize: intOpt(args, 'backsize') ?? 64,
        backFilterSize: intOpt(args, 'backfilter') ?? 3,
        // A variance that already holds the sources' Poisson noise (VARSRC = T, as tessera calibrate
        // writes) must not get it again from the gain.
        gain: numberOpt(args, 'gain') ?? (variance && img.header.get('VARSRC') === true ? 0 : hdrNum('GAIN') ?? 0),
        satLevel: numberOpt(args, 'satur') ?? hdrNum('SATURATE') ?? Infinity,
        deblendNThresh: intOpt(args, 'deblend-nthresh') ?? 32,
        deblendMinCont: numberOpt(args, 'deblend-mincont') ?? 0.005,
        clean: !boolOpt(args, 'no-clean'),
        psf,
        badMask: maskBits ?? 0xffffffff,
      };
      if ((opts.backSize as number) < 1 || (opts.backFilterSize as number) < 1) throw new UsageError('--backsize and --backfilter must be at least 1');
      if (boolOpt(args, 'no-filter')) opts.filterKernel = null;
      else if (numberOpt(args, 'filter-fwhm') !== undefined) {
        const fw = numberOpt(args, 'filter-fwhm')!;
        if (!(fw > 0)) throw new UsageError('--filter-fwhm must be positive');
        opts.filterFwhm = fw;
      }
      let usable = 0;
      for (let i = 0; i < img.data.length; i++) { const v = img.data[i]!; if (v === v && Math.abs(v) < Infinity) { usable++; break; } }
      if (!usable) throw new TesseraError(`${img.where}: every pixel is NaN or infinite: nothing to detect`);
      let res;
      try {
        res = detectSources({ width, height, image: img.data, variance, mask }, opts);
      } catch (e) {
        if (e instanceof RangeError && /no usable pixel/.test(e.message)) throw new TesseraError(`${img.where}: no usable pixel (all NaN, masked or zero weight)`);
        throw e;
      }
      const cat = res.catalog;
      const columns: ColumnInput[] = [];
      for (const c of cat.columns) {
        const data = c.data instanceof Int32Array ? c.data : c.data instanceof Float64Array ? c.data : Float64Array.from(c.data);
        columns.push({ name: c.name, data, tform: `${c.repeat}${data instanceof Int32Array ? 'J' : 'D'}`, unit: c.unit });
        if (c.name === 'Y_IMAGE') {
          // sky positions right after the pixel positions, when the image has a celestial WCS
          let wcs: Wcs | undefined;
          if (img.header.get('CTYPE1') !== undefined) wcs = Wcs.fromHeader(img.header, img.where);
          if (wcs) {
            const sky = wcs.pixToSky(cat.get('XWIN_IMAGE'), cat.get('YWIN_IMAGE'), 1);
            columns.push({ name: 'ALPHA_J2000', data: Float64Array.from(sky.ra), tform: '1D', unit: 'deg' });
            columns.push({ name: 'DELTA_J2000', data: Float64Array.from(sky.dec), tform: '1D', unit: 'deg' });
          }
        }
      }
      const h = new Header();
      h.set('ORIGIN', `tessera ${TESSERA_VERSION}`, 'tessera detect');
      h.set('IMAGE', input.slice(-68), 'input image');
      h.set('DETTHRSH', thresh, '[sigma] detection threshold');
      h.set('MINAREA', minArea, '[pixel] minimum area');
      h.set('BACKSIZE', Number(opts.backSize), '[pixel] background mesh size');
      h.set('BACKFILT', Number(opts.backFilterSize), 'background filter size');
      h.set('SEXBKGND', res.globalBack, 'median background');
      h.set('SEXBKDEV', res.globalRms, 'median background RMS');
      h.set('DBLNTHR', opts.deblendNThresh!, 'deblending levels');
      h.set('DBLMCONT', opts.deblendMinCont!, 'deblending minimum contrast');
      h.set('CLEAN', opts.clean!, 'CLEAN applied');
      h.set('GAIN', opts.gain!, '[e-/ADU] gain used for errors (0: none)');
      aper.forEach((d, i) => h.set(`APERD${i + 1}`, d, `[pixel] diameter of FLUX_APER[${i}]`));
      writeFits(out, [
        { kind: 'image', data: null, shape: [] },
        { kind: 'bintable', extname: 'LDAC_OBJECTS', header: h, columns, nrows: cat.length },
      ]);
      const chk = stringOpt(args, 'check-background');
      if (chk) {
        writeFits(chk, [
          { kind: 'image', data: res.background.back(), shape: [width, height], extname: 'BACKGROUND' },
          { kind: 'image', data: res.background.rms(), shape: [width, height], extname: 'BACKGROUND_RMS' },
        ]);
      }
      io.stdout.write(`${img.where}: ${cat.length} sources (background ${res.globalBack.toPrecision(6)}, rms ${res.globalRms.toPrecision(4)}) -> ${out}\n`);
    },
  },
];
