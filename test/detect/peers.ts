/**
 * Running the peer tools on a FITS image for side-by-side comparisons (tests and benchmark):
 * SEP 1.2 through Debian's python3, and source-extractor with a configuration equivalent to
 * tessera detect's defaults (64/3 background, 1.5σ, minarea 5, default.conv, 32 levels / 0.005,
 * CLEAN 1.0, AUTO 2.5/3.5).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { FitsReader } from '../../src/fits/reader.js';

export const PYTHON = '/usr/bin/python3';

export function havePythonSep(): boolean {
  return existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import sep, astropy, numpy'], { stdio: 'ignore' }).status === 0;
}

export function haveSextractor(): boolean {
  return spawnSync('sh', ['-c', 'command -v source-extractor'], { stdio: 'ignore' }).status === 0;
}

export interface PeerCatalog {
  /** 0-based pixel positions (isophotal barycentre). */
  x: Float64Array;
  y: Float64Array;
  /** Aperture flux (diameter given), AUTO flux and its error. */
  flux: Float64Array;
  auto: Float64Array;
  autoErr: Float64Array;
  /** Background map values at the sample points asked for. */
  backSamples: Float64Array;
  /** Seconds for background + extraction (SEP: measured inside Python). */
  seconds: number;
  /** CPU seconds (this process) of the best run (SEP only). */
  cpuSeconds?: number;
  /** Every catalog column by name (source-extractor only). */
  columns?: Record<string, Float64Array>;
}

const SEP_SCRIPT = `
import sys, json, time
import numpy as np, sep
from astropy.io import fits
path, diam, samples, mode = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
data = fits.getdata(path).astype(np.float32)
data = data.byteswap().newbyteorder() if data.dtype.byteorder == '>' else data
data = np.ascontiguousarray(data)
best = 1e9
bestcpu = 1e9
for rep in range(3 if mode == 'bench' else 1):
    t0 = time.perf_counter()
    c0 = time.process_time()
    bkg = sep.Background(data, bw=64, bh=64, fw=3, fh=3)
    sub = data - bkg
    objs = sep.extract(sub, 1.5, err=bkg.globalrms, minarea=5, deblend_nthresh=32, deblend_cont=0.005, clean=True, clean_param=1.0)
    best = min(best, time.perf_counter() - t0)
    bestcpu = min(bestcpu, time.process_time() - c0)
x, y = objs['x'], objs['y']
flux, _, _ = sep.sum_circle(sub, x, y, diam / 2, err=bkg.globalrms, subpix=0)
kr, _ = sep.kron_radius(sub, x, y, objs['a'], objs['b'], objs['theta'], 6.0)
kf = np.maximum(2.5 * kr, 3.5)
auto, autoerr, _ = sep.sum_ellipse(sub, x, y, objs['a'], objs['b'], objs['theta'], kf, err=bkg.globalrms, subpix=5)
back = bkg.back()
bs = [float(back[int(s[1]), int(s[0])]) for s in samples]
print(json.dumps({'x': x.tolist(), 'y': y.tolist(), 'flux': flux.tolist(), 'auto': auto.tolist(), 'autoErr': autoerr.tolist(), 'back': bs, 'seconds': best, 'cpu': bestcpu}))
`;

/** Run SEP on a FITS image (primary HDU). samples: 0-based [x, y] points where to read the background. */
export function runSep(path: string, diameter: number, samples: [number, number][], mode: 'test' | 'bench' = 'test'): PeerCatalog {
  const r = spawnSync(PYTHON, ['-c', SEP_SCRIPT, path, String(diameter), JSON.stringify(samples), mode], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`SEP failed: ${r.stderr.slice(-1000)}`);
  const j = JSON.parse(r.stdout) as Record<string, number[] | number>;
  const f = (k: string) => Float64Array.from(j[k] as number[]);
  return { x: f('x'), y: f('y'), flux: f('flux'), auto: f('auto'), autoErr: f('autoErr'), backSamples: f('back'), seconds: j.seconds as number, cpuSeconds: j.cpu as number };
}

/** Write a source-extractor configuration (equivalent to tessera's defaults) into dir. */
export function writeSextractorConfig(dir: string, diameter: number, params: string[], checkBackground = true): string {
  const conf = join(dir, 'tessera.sex');
  writeFileSync(join(dir, 'tessera.param'), params.join('\n') + '\n');
  writeFileSync(join(dir, 'default.conv'), 'CONV NORM\n# 3x3 all-ground convolution mask with FWHM = 2 pixels.\n1 2 1\n2 4 2\n1 2 1\n');
  writeFileSync(conf, [
    `CATALOG_NAME ${join(dir, 'sex.fits')}`, 'CATALOG_TYPE FITS_1.0', `PARAMETERS_NAME ${join(dir, 'tessera.param')}`,
    'DETECT_TYPE CCD', 'DETECT_MINAREA 5', 'DETECT_THRESH 1.5', 'ANALYSIS_THRESH 1.5',
    'FILTER Y', `FILTER_NAME ${join(dir, 'default.conv')}`,
    'DEBLEND_NTHRESH 32', 'DEBLEND_MINCONT 0.005', 'CLEAN Y', 'CLEAN_PARAM 1.0', 'MASK_TYPE CORRECT',
    `PHOT_APERTURES ${diameter}`, 'PHOT_AUTOPARAMS 2.5,3.5', 'PHOT_FLUXFRAC 0.5', 'SATUR_LEVEL 1e9', 'GAIN 0.0',
    'PIXEL_SCALE 1.0', 'SEEING_FWHM 1.0', `STARNNW_NAME /usr/share/source-extractor/default.nnw`,
    'BACK_SIZE 64', 'BACK_FILTERSIZE 3', 'BACKPHOTO_TYPE GLOBAL',
    checkBackground ? 'CHECKIMAGE_TYPE BACKGROUND' : 'CHECKIMAGE_TYPE NONE', `CHECKIMAGE_NAME ${join(dir, 'sexback.fits')}`,
    'MEMORY_OBJSTACK 30000', 'MEMORY_PIXSTACK 3000000', 'MEMORY_BUFSIZE 1024', 'VERBOSE_TYPE QUIET', 'NTHREADS 1', 'WRITE_XML N',
  ].join('\n') + '\n');
  return conf;
}

export const SEX_PARAMS = ['NUMBER', 'X_IMAGE', 'Y_IMAGE', 'XWIN_IMAGE', 'YWIN_IMAGE', 'FLUX_APER(1)', 'FLUXERR_APER(1)', 'FLUX_AUTO', 'FLUXERR_AUTO',
  'KRON_RADIUS', 'FLUX_RADIUS', 'A_IMAGE', 'B_IMAGE', 'THETA_IMAGE', 'ISOAREA_IMAGE', 'FLUX_MAX', 'FWHM_IMAGE', 'BACKGROUND', 'FLAGS', 'FLUX_ISO'];

/** Run source-extractor on a FITS image and read its catalog (0-based positions). */
export function runSextractor(path: string, dir: string, diameter: number, samples: [number, number][], params = SEX_PARAMS): PeerCatalog {
  const conf = writeSextractorConfig(dir, diameter, params);
  const t0 = process.hrtime.bigint();
  const r = spawnSync('source-extractor', [path, '-c', conf], { encoding: 'utf8', cwd: dir });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`source-extractor failed: ${r.stderr.slice(-1000)}`);
  const rd = FitsReader.open(join(dir, 'sex.fits'));
  const t = rd.readTable(1);
  rd.close();
  const col = (n: string) => { const c = t.columns.find((k) => k.name === n); return c ? Float64Array.from(c.data as ArrayLike<number>, Number) : new Float64Array(t.nrows); };
  const b = FitsReader.open(join(dir, 'sexback.fits'));
  const bi = b.readImage(0);
  b.close();
  const w = bi.shape[0]!;
  const back = Float64Array.from(samples, ([x, y]) => Number((bi.data as Float32Array)[y * w + x]));
  return {
    x: col('X_IMAGE').map((v) => v - 1), y: col('Y_IMAGE').map((v) => v - 1), flux: col('FLUX_APER'), auto: col('FLUX_AUTO'), autoErr: col('FLUXERR_AUTO'),
    backSamples: back, seconds,
    columns: Object.fromEntries(t.columns.map((c) => [c.name, Float64Array.from(c.data as ArrayLike<number>, Number)])),
  };
}
