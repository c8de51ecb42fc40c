/**
 * One CCD of `tessera calibrate` with file I/O: read the CCD (image, optional weight and mask
 * HDUs with the same EXTNAME), query the reference catalog, run calibrateCcd, and write
 *
 *   OUT/<EXPNUM>/<CCDNAME>/calexp.fits.fz   IMAGE (sky-subtracted, calibrated WCS and MAGZERO,
 *                                           MAGZERR, FWHM, SKYLEVEL, DEPTH, ASTRRMS, NASTRSTR...),
 *                                           VARIANCE, MASK, PSF
 *   OUT/<EXPNUM>/<CCDNAME>/src.fits         source catalog (SExtractor column names + MAG_PSF...)
 *
 * Every failure becomes a QA row whose `flags` start with "FAILED:" and say why; the error never
 * escapes, so one bad CCD does not stop the others.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { TesseraError } from '../../util/errors.js';
import { TESSERA_VERSION } from '../../util/version.js';
import { FitsReader } from '../../fits/reader.js';
import { Header } from '../../fits/header.js';
import { writeFits, type ColumnInput, type HduInput } from '../../fits/writer.js';
import { Wcs } from '../../wcs/wcs.js';
import { MaskBits } from '../../image/masked-image.js';
import { Refcat } from '../../calib/refcat/index.js';
import { psfToHdu } from '../../psf/io.js';
import { calibrateCcd, type CalibrateConfig, type CcdQa, type RefQuery } from './ccd.js';

export interface CcdTask {
  image: string;
  weight?: string;
  mask?: string;
  /** HDU index in the image file. */
  hdu: number;
  refcat: string;
  outDir: string;
  config?: CalibrateConfig;
}

export interface CcdTaskResult {
  qa: CcdQa;
  ok: boolean;
  seconds: number;
  /** Wall time per step (seconds): read, the calibrateCcd steps, write. */
  timings?: Record<string, number>;
  /** CPU seconds per step: read, the calibrateCcd steps, write. */
  cpu?: Record<string, number>;
}

/** DECam CP data-quality bits → Tessera mask bits (2 = saturated, 4 = interpolated, others bad). */
export function cpMaskToTessera(m: ArrayLike<number>, n: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let s = 0; s < n; s += CHUNK) convertRange(m, undefined, undefined, out, s, Math.min(n, s + CHUNK));
  return out;
}

/** Pixels per call of convertRange. */
const CHUNK = 16384;

/**
 * Pixels [s, e): out = the Tessera bits of the CP mask (cpMaskToTessera; 0 without a mask) and,
 * with a weight plane, variance = 1/weight, or variance 0 and the BAD bit for a pixel without data
 * (weight ≤ 0 or NaN, or a variance beyond float32). `variance` may be the weight plane itself.
 */
function convertRange(raw: ArrayLike<number> | undefined, wd: ArrayLike<number> | undefined, variance: Float32Array | undefined,
  out: Uint32Array, s: number, e: number): void {
  for (let i = s; i < e; i++) {
    let o = 0;
    if (raw !== undefined) {
      const v = raw[i]!;
      if (v !== 0) o = cpBits(v);
    }
    if (wd !== undefined) {
      const v = wd[i]!;
      const q = v > 0 ? Math.fround(1 / v) : Infinity;
      if (q < Infinity) variance![i] = q;
      else { o |= MaskBits.BAD; variance![i] = 0; }
    }
    out[i] = o;
  }
}

/** Tessera mask bits of one nonzero DECam CP data-quality value. */
function cpBits(v: number): number {
  let o = 0;
  if (v & 2) o |= MaskBits.SAT;
  if (v & 4) o |= MaskBits.INTRP;
  if (v & 8) o |= MaskBits.CR;
  if (v & ~(2 | 4 | 8)) o |= MaskBits.BAD;
  return o;
}

function num(h: Header, primary: Header | undefined, key: string): number | undefined {
  const v = h.get(key) ?? primary?.get(key);
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

function str(h: Header, primary: Header | undefined, key: string): string | undefined {
  const v = h.get(key) ?? primary?.get(key);
  return typeof v === 'string' ? v.trim() : undefined;
}

/** Band from BAND, else the first word of FILTER ('r DECam SDSS c0002 ...' → 'r'). */
function bandOf(h: Header, primary: Header | undefined, where: string): string {
  const b = str(h, primary, 'BAND');
  if (b) return b;
  const f = str(h, primary, 'FILTER');
  if (f) return f.split(/\s+/)[0]!;
  throw new TesseraError(`${where}: no BAND or FILTER keyword: the band is needed for the zero point`);
}

/** Keywords of the calibrated IMAGE header that must not be copied from the raw header. */
const DROP = /^(CTYPE\d|CUNIT\d|CRPIX\d|CRVAL\d|CD\d_\d|PC\d_\d|CDELT\d|CROTA\d|LONPOLE|LATPOLE|WCSAXES|RADESYS|EQUINOX|PV\d_\d+|A_\d_\d|B_\d_\d|AP_\d_\d|BP_\d_\d|A_ORDER|B_ORDER|AP_ORDER|BP_ORDER|A_DMAX|B_DMAX|BUNIT|EXTNAME)$/;

export function catalogColumns(cat: { columns: { name: string; data: Float64Array | Float32Array | Int32Array; repeat: number; unit?: string }[] }): ColumnInput[] {
  return cat.columns.map((c) => {
    const code = c.data instanceof Int32Array ? 'J' : c.data instanceof Float32Array ? 'E' : 'D';
    return { name: c.name, data: c.data, tform: `${c.repeat}${code}`, unit: c.unit };
  });
}

/** Run one CCD end to end; never throws for bad data (returns a FAILED QA row). */
export function runCcdTask(task: CcdTask): CcdTaskResult {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let expnum = NaN, ccdName = `HDU${task.hdu}`, band = '', mjd = NaN;
  try {
    const rd = FitsReader.open(task.image);
    let img, primary: Header | undefined;
    try {
      primary = rd.hdus[0]?.header;
      img = rd.readImage(task.hdu);
    } finally {
      rd.close();
    }
    const h = img.header;
    const where = `${task.image}[HDU ${task.hdu}]`;
    ccdName = str(h, undefined, 'EXTNAME') ?? str(h, undefined, 'CCDNAME') ?? ccdName;
    expnum = num(h, primary, 'EXPNUM') ?? NaN;
    if (!Number.isFinite(expnum)) throw new TesseraError(`${where}: no EXPNUM keyword`);
    mjd = num(h, primary, 'MJD-OBS') ?? NaN;
    if (!Number.isFinite(mjd)) throw new TesseraError(`${where}: no MJD-OBS keyword (needed for the reference-catalog epoch)`);
    band = bandOf(h, primary, where);
    if (img.shape.length !== 2) throw new TesseraError(`${where}: expected a 2-D image, got NAXIS = ${img.shape.length}`);
    const [width, height] = img.shape as [number, number];
    const image = img.data instanceof Float32Array ? img.data : Float32Array.from(img.data as ArrayLike<number>);
    let variance: Float32Array | undefined;
    let weight: ArrayLike<number> | undefined;
    let mask: Uint32Array | undefined;
    let rawMask16: Int16Array | Uint16Array | undefined;
    let rawMask: ArrayLike<number> | undefined;
    if (task.weight) {
      const wr = FitsReader.open(task.weight);
      try {
        const w = wr.readImage(wr.hdus.find((x) => x.extname?.trim().toUpperCase() === ccdName.toUpperCase())?.index ?? task.hdu);
        if (w.shape[0] !== width || w.shape[1] !== height) throw new TesseraError(`${task.weight}: weight HDU for ${ccdName} is ${w.shape.join('×')}, image is ${width}×${height}`);
        // weight → variance (below) in place when the weight plane is float32 (it is not used again)
        weight = w.data as ArrayLike<number>;
        variance = w.data instanceof Float32Array ? w.data : new Float32Array(width * height);
      } finally {
        wr.close();
      }
    }
    if (task.mask) {
      const mr = FitsReader.open(task.mask);
      try {
        const m = mr.readImage(mr.hdus.find((x) => x.extname?.trim().toUpperCase() === ccdName.toUpperCase())?.index ?? task.hdu);
        if (m.shape[0] !== width || m.shape[1] !== height) throw new TesseraError(`${task.mask}: mask HDU for ${ccdName} is ${m.shape.join('×')}, image is ${width}×${height}`);
        rawMask = m.data as ArrayLike<number>;
        // the raw 16-bit plane is not read after the conversion below: the MASK HDU is written from its memory
        if ((m.data instanceof Int16Array || m.data instanceof Uint16Array) && m.data.length === width * height) rawMask16 = m.data;
      } finally {
        mr.close();
      }
    }
    if (rawMask || variance) {
      // Tessera mask bits from the CP mask, and weight → variance (zero weight → unusable pixel),
      // in one pass, a chunk of pixels per call of a small function.
      mask = new Uint32Array(width * height);
      const n = width * height;
      for (let s = 0; s < n; s += CHUNK) convertRange(rawMask, weight, variance, mask, s, Math.min(n, s + CHUNK));
    }
    const tRead = (performance.now() - t0) / 1000;
    const cRead = process.cpuUsage(c0);
    const headerWcs = Wcs.fromHeader(h, where);
    const refcat = Refcat.open(task.refcat);
    const refQuery: RefQuery = (ra, dec, r, epoch) => {
      const t = refcat.queryCone(ra, dec, r, { epoch });
      const c = t.columns;
      return { ra: c['ra']!, dec: c['dec']!, g: c['phot_g_mean_mag']!, bp: c['phot_bp_mean_mag']!, rp: c['phot_rp_mean_mag']! };
    };
    const res = calibrateCcd({
      image: { width, height, image, variance, mask },
      headerWcs, band, mjd, expnum, ccdName,
      gain: num(h, primary, 'GAIN'), saturate: num(h, primary, 'SATURATE'),
      refQuery,
    }, task.config);

    // Outputs.
    const tW = performance.now();
    const cW = process.cpuUsage();
    const dir = join(task.outDir, String(expnum), ccdName);
    mkdirSync(dir, { recursive: true });
    const ih = new Header([], 'IMAGE');
    for (const c of h.cards) {
      const k = c.key.trim().toUpperCase();
      if (DROP.test(k) || c.value === undefined) continue;
      ih.add({ ...c });
    }
    res.wcs.toHeader(ih);
    for (const k of res.keywords) ih.set(k.key, k.value, k.comment);
    ih.set('BUNIT', 'count', 'sky-subtracted counts');
    ih.set('CALSOFT', `tessera ${TESSERA_VERSION}`, 'calibration software');
    // (a fresh 16 MB plane would cost ~4k page faults; the raw mask's plane is free by now)
    const mask16 = rawMask16 ? new Uint16Array(rawMask16.buffer, rawMask16.byteOffset, width * height) : new Uint16Array(width * height);
    if (res.mask) mask16.set(res.mask);
    else if (rawMask16) mask16.fill(0);
    const vh = new Header([], 'VARIANCE');
    vh.set('BUNIT', 'count**2');
    res.wcs.toHeader(vh);
    const mh = new Header([], 'MASK');
    for (const [name, bit] of Object.entries(MaskBits)) mh.set(`MP_${name}`.slice(0, 8), bit, `mask bit ${name}`);
    const psfHdu = psfToHdu(res.psf);
    const ph = new Header([], 'PSF');
    for (const c of psfHdu.cards) if (c.key !== 'EXTNAME') ph.set(c.key, c.value, c.comment);
    // Quantization with absolute steps known from the calibration (sky σ / 16 for the image,
    // 1/1000 of the median sky variance for the variance): the same precision as fpack's q = 16
    // without its per-tile noise estimate, which would cost more than the rest of the write.
    const imgStep = Number.isFinite(res.qa.skyRms) && res.qa.skyRms > 0 ? res.qa.skyRms / 16 : 0;
    const varStep = Number.isFinite(res.qa.skyRms) && res.qa.skyRms > 0 ? (res.qa.skyRms * res.qa.skyRms) / 1000 : 0;
    const q = (step: number) => ({ type: 'RICE_1' as const, quantizeLevel: step > 0 ? -step : 16, dither: 'SUBTRACTIVE_DITHER_2' as const });
    const hdus: HduInput[] = [
      { kind: 'image', extname: 'IMAGE', header: ih, data: res.image, shape: [width, height], compress: q(imgStep) },
      { kind: 'image', extname: 'VARIANCE', header: vh, data: res.variance, shape: [width, height], compress: q(varStep) },
      { kind: 'image', extname: 'MASK', header: mh, data: mask16, shape: [width, height], compress: { type: 'RICE_1' } },
      { kind: 'image', extname: 'PSF', header: ph, data: psfHdu.data, shape: psfHdu.shape },
    ];
    writeFits(join(dir, 'calexp.fits.fz'), hdus);
    const sh = new Header([], 'SOURCES');
    for (const k of res.keywords) sh.set(k.key, k.value, k.comment);
    sh.set('EXPNUM', expnum); sh.set('CCDNAME', ccdName); sh.set('BAND', band); sh.set('MJD-OBS', mjd);
    writeFits(join(dir, 'src.fits'), [{ kind: 'bintable', extname: 'SOURCES', header: sh, columns: catalogColumns(res.catalog), nrows: res.catalog.length }]);
    const timings = { read: tRead, ...res.timings, write: (performance.now() - tW) / 1000 };
    const cw = process.cpuUsage(cW);
    return { qa: res.qa, ok: true, seconds: (performance.now() - t0) / 1000, timings, cpu: { read: (cRead.user + cRead.system) / 1e6, ...res.cpu, write: (cw.user + cw.system) / 1e6 } };
  } catch (e) {
    if (!(e instanceof TesseraError)) {
      // A bug or an unexpected runtime failure: still confined to this CCD, with its message.
      const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      return { qa: failedQa(expnum, ccdName, band, mjd, `internal error: ${msg}`), ok: false, seconds: (performance.now() - t0) / 1000 };
    }
    return { qa: failedQa(expnum, ccdName, band, mjd, e.message), ok: false, seconds: (performance.now() - t0) / 1000 };
  }
}

export function failedQa(expnum: number, ccd: string, band: string, mjd: number, why: string): CcdQa {
  return {
    expnum, ccd, band, mjd, zp: NaN, zpErr: NaN, seeingArcsec: NaN, sky: NaN, skyRms: NaN, depth: NaN,
    astromRmsArcsec: NaN, nAstromStars: 0, nZpStars: 0, nPsfStars: 0, nSources: 0, apCorr: NaN,
    flags: `FAILED: ${why.replace(/[\r\n]+/g, ' ')}`,
  };
}
