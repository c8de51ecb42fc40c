/**
 * Calibration benchmark: one simulated DECam CCD (2048×4096, src/sim: Moffat+wing PSF varying
 * over the focal plane, stars and galaxies, cosmic rays, header WCS off by tens of arcsec, a
 * Gaia-like reference catalog). `tessera calibrate` of that CCD (background, detection and
 * measurement, PSF model, PSF photometry, astrometric solution with pattern matching, zero
 * point, outputs written) against the DES-GW chain it replaces: source-extractor (LDAC with
 * VIGNETs) → PSFEx → SCAMP (pattern matching, TPV degree 3, reference catalog as an LDAC FILE).
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { fmt, have, havePython, timeBest, timeCommandBest, type BenchModule } from './harness.js';
import { simulateSurvey } from '../src/sim/index.js';
import { decamPreset } from '../src/sim/survey.js';
import { buildRefcat } from '../src/calib/refcat/index.js';
import { FitsReader } from '../src/fits/reader.js';
import { Wcs } from '../src/wcs/wcs.js';
import { runCcdTask, type CcdTask } from '../src/pipeline/calibrate/task.js';

const here = dirname(fileURLToPath(import.meta.url));
/** CCDs in the exposure calibrated by one process pinned to one core. */
const NEXP_CCD = 4;
const tesseraBin = join(here, '..', '..', 'bin', 'tessera.js');

/** Python (astropy) helper: the CCD as plain FITS for the peers, and the reference catalog as LDAC. */
const PREP_PY = String.raw`
import sys, numpy as np
from astropy.io import fits
ooi, oow, gaia, outdir, extname, mjd = sys.argv[1:7]
mjd = float(mjd)
h = fits.open(ooi)[extname]
fits.PrimaryHDU(h.data.astype(np.float32), h.header).writeto(outdir + '/img.fits', overwrite=True)
w = fits.open(oow)[extname]
fits.PrimaryHDU(w.data.astype(np.float32), w.header).writeto(outdir + '/wgt.fits', overwrite=True)
g = fits.open(gaia)[1].data
epoch = 2000.0 + (mjd - 51544.5) / 365.25
dt = epoch - g['ref_epoch']
pmra = np.nan_to_num(g['pmra']); pmdec = np.nan_to_num(g['pmdec'])
dec = g['dec'] + pmdec * dt / 3.6e6
ra = g['ra'] + pmra * dt / 3.6e6 / np.cos(np.radians(g['dec']))
# SCAMP LDAC reference: an (empty) LDAC_IMHEAD and LDAC_OBJECTS with the ASTREF* keys' columns.
head = fits.Header(); head['NAXIS'] = 0
card = np.array([head.tostring()], dtype='S%d' % len(head.tostring()))
imhead = fits.BinTableHDU.from_columns([fits.Column(name='Field Header Card', format='%dA' % len(card[0]), array=card)])
imhead.header['EXTNAME'] = 'LDAC_IMHEAD'; imhead.header['TDIM1'] = '(80, %d)' % (len(card[0]) // 80)
n = len(ra)
cols = [fits.Column(name='X_WORLD', format='1D', unit='deg', array=ra),
        fits.Column(name='Y_WORLD', format='1D', unit='deg', array=dec),
        fits.Column(name='ERRA_WORLD', format='1E', unit='deg', array=np.full(n, 1e-6, np.float32)),
        fits.Column(name='ERRB_WORLD', format='1E', unit='deg', array=np.full(n, 1e-6, np.float32)),
        fits.Column(name='ERRTHETA_WORLD', format='1E', unit='deg', array=np.zeros(n, np.float32)),
        fits.Column(name='MAG', format='1E', unit='mag', array=g['phot_g_mean_mag'].astype(np.float32)),
        fits.Column(name='MAGERR', format='1E', unit='mag', array=np.full(n, 0.01, np.float32)),
        fits.Column(name='OBSDATE', format='1D', unit='yr', array=np.full(n, epoch))]
obj = fits.BinTableHDU.from_columns(cols); obj.header['EXTNAME'] = 'LDAC_OBJECTS'
fits.HDUList([fits.PrimaryHDU(), imhead, obj]).writeto(outdir + '/ref.ldac', overwrite=True)
`;

const SEX_PARAMS = ['NUMBER', 'X_IMAGE', 'Y_IMAGE', 'XWIN_IMAGE', 'YWIN_IMAGE', 'ERRAWIN_IMAGE', 'ERRBWIN_IMAGE', 'ERRTHETAWIN_IMAGE',
  'FLUX_AUTO', 'FLUXERR_AUTO', 'FLUX_APER(1)', 'FLUXERR_APER(1)', 'FLUX_RADIUS', 'ELONGATION', 'SNR_WIN', 'FLAGS', 'FLAGS_WEIGHT', 'VIGNET(35,35)'];

function peerFiles(dir: string, gain: number, saturate: number): { sex: string; psfex: string } {
  writeFileSync(join(dir, 'chain.param'), SEX_PARAMS.join('\n') + '\n');
  const sex = join(dir, 'chain.sex');
  writeFileSync(sex, [
    `CATALOG_NAME ${join(dir, 'cat.ldac')}`, 'CATALOG_TYPE FITS_LDAC', `PARAMETERS_NAME ${join(dir, 'chain.param')}`,
    'DETECT_TYPE CCD', 'DETECT_MINAREA 5', 'DETECT_THRESH 1.5', 'ANALYSIS_THRESH 1.5',
    'FILTER Y', 'FILTER_NAME /usr/share/source-extractor/default.conv',
    'DEBLEND_NTHRESH 32', 'DEBLEND_MINCONT 0.005', 'CLEAN Y', 'CLEAN_PARAM 1.0', 'MASK_TYPE CORRECT',
    `WEIGHT_TYPE MAP_WEIGHT`, `WEIGHT_IMAGE ${join(dir, 'wgt.fits')}`,
    'PHOT_APERTURES 12', 'PHOT_AUTOPARAMS 2.5,3.5', 'PHOT_FLUXFRAC 0.5', `SATUR_LEVEL ${saturate}`, `GAIN ${gain}`,
    'PIXEL_SCALE 0', 'SEEING_FWHM 1.0', 'STARNNW_NAME /usr/share/source-extractor/default.nnw',
    'BACK_SIZE 128', 'BACK_FILTERSIZE 3', 'BACKPHOTO_TYPE GLOBAL', 'CHECKIMAGE_TYPE NONE',
    'MEMORY_OBJSTACK 30000', 'MEMORY_PIXSTACK 3000000', 'MEMORY_BUFSIZE 1024', 'VERBOSE_TYPE QUIET', 'NTHREADS 1', 'WRITE_XML N',
  ].join('\n') + '\n');
  const psfex = join(dir, 'chain.psfex');
  writeFileSync(psfex, readFileSync('/usr/share/psfex/default.psfex', 'utf8'));
  return { sex, psfex };
}

const PSFEX_ARGS = (dir: string, conf: string) => [join(dir, 'cat.ldac'), '-c', conf, '-PSF_DIR', dir, '-CHECKPLOT_TYPE', 'NONE', '-CHECKIMAGE_TYPE', 'NONE', '-WRITE_XML', 'N', '-NTHREADS', '1', '-VERBOSE_TYPE', 'QUIET'];
const SCAMP_ARGS = (dir: string) => [join(dir, 'cat.ldac'), '-ASTREF_CATALOG', 'FILE', '-ASTREFCAT_NAME', join(dir, 'ref.ldac'),
  '-ASTREF_BAND', 'DEFAULT', '-MATCH', 'Y', '-DISTORT_DEGREES', '3', '-POSITION_MAXERR', '2.0', '-POSANGLE_MAXERR', '2.0', '-PIXSCALE_MAXERR', '1.05',
  '-SOLVE_PHOTOM', 'N', '-CHECKPLOT_TYPE', 'NONE', '-WRITE_XML', 'N', '-NTHREADS', '1', '-VERBOSE_TYPE', 'QUIET', '-SN_THRESHOLDS', '10,100'];

/** CPU seconds (user + system) of one run of a command, via /usr/bin/time; NaN when unavailable. */
function cpuOf(cmd: string, args: string[], cwd?: string): number {
  if (!existsSync('/usr/bin/time')) return NaN;
  const r = spawnSync('/usr/bin/time', ['-f', 'CPU %U %S', cmd, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const m = /CPU ([\d.]+) ([\d.]+)/.exec(r.stderr ?? '');
  return r.status === 0 && m ? Number(m[1]) + Number(m[2]) : NaN;
}

/** rms (arcsec) of a WCS against the truth over a grid on the CCD. */
function rmsVs(w: Wcs, truth: Wcs, W: number, H: number): number {
  let s = 0, n = 0;
  for (let j = 0; j <= 8; j++) for (let i = 0; i <= 4; i++) {
    const x = 1 + (i * (W - 1)) / 4, y = 1 + (j * (H - 1)) / 8;
    const [a, d] = w.pixToSkyOne(x, y), [ta, td] = truth.pixToSkyOne(x, y);
    s += ((a - ta) * Math.cos((td * Math.PI) / 180)) ** 2 + (d - td) ** 2; n++;
  }
  return Math.sqrt(s / n) * 3600;
}

/** SCAMP's .head (TAN + PV) as a TPV WCS (SCAMP writes CTYPE RA---TAN with PV terms). */
function scampWcs(headPath: string, W: number, H: number): Wcs | undefined {
  if (!existsSync(headPath)) return undefined;
  const rec: Record<string, number | string> = {};
  for (const line of readFileSync(headPath, 'latin1').split('\n')) {
    const m = /^([A-Z0-9_-]{1,8})\s*=\s*('([^']*)'|[^/]+)/.exec(line);
    if (!m) continue;
    rec[m[1]!.trim()] = m[3] !== undefined ? m[3].trim() : Number(m[2]!.trim());
  }
  const pv1 = new Array(40).fill(0), pv2 = new Array(40).fill(0);
  for (let j = 0; j < 40; j++) { if (typeof rec[`PV1_${j}`] === 'number') pv1[j] = rec[`PV1_${j}`]; if (typeof rec[`PV2_${j}`] === 'number') pv2[j] = rec[`PV2_${j}`]; }
  return Wcs.tpv({ crval: [rec['CRVAL1'] as number, rec['CRVAL2'] as number], crpix: [rec['CRPIX1'] as number, rec['CRPIX2'] as number],
    cd: [rec['CD1_1'] as number, rec['CD1_2'] as number, rec['CD2_1'] as number, rec['CD2_2'] as number], pv1, pv2, naxis: [W, H] });
}

export default {
  name: 'calibrate',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-calibrate-'));
    try {
      const cfg = decamPreset({ seed: 3, bands: ['r'] });
      cfg.templateEpochs = 1; cfg.searchEpochs = 0; cfg.ccdnums = [35];
      cfg.sources = { ...cfg.sources, starsPerDeg2: 8000 };
      const sim = await simulateSurvey(cfg, { outDir: join(dir, 'sim'), jobs: 0 });
      const e = sim.manifest.exposures[0]!;
      const ccdName = e.ccds[0]!;
      const ooi = join(dir, 'sim', e.image), oow = join(dir, 'sim', e.weight), ood = join(dir, 'sim', e.mask);
      const gaia = join(dir, 'sim', sim.manifest.refcat);
      await buildRefcat([gaia], join(dir, 'refcat'));
      // Truth WCS of the CCD.
      const tr = FitsReader.open(join(dir, 'sim', sim.manifest.truth.ccds));
      const t = tr.readTable('CCDS');
      tr.close();
      const col = (c: string, n: number) => Array.from((t.column(c).data as Float64Array).subarray(0, n));
      const truth = Wcs.tpv({ crval: col('crval', 2) as [number, number], crpix: col('crpix', 2) as [number, number], cd: col('cd', 4) as [number, number, number, number], pv1: col('pv1', 12), pv2: col('pv2', 12) });
      const zpTrue = col('zp_adu', 1)[0]!;
      const W = 2048, H = 4096;

      // Tessera: the whole command in a fresh process (start-up, JIT, reading .fz, writing outputs).
      const out = join(dir, 'out');
      const cliArgs = [tesseraBin, 'calibrate', ooi, '--weight', oow, '--mask', ood, '--refcat', join(dir, 'refcat'), '-o', out, '--ccd', ccdName, '--jobs', '1'];
      const tCli = timeCommandBest(process.execPath, cliArgs, 2);
      const cCli = cpuOf(process.execPath, cliArgs);
      // The same pinned to ONE core (taskset -c 0): V8's compiler and GC helper threads then share
      // that core with the main thread; the issue's target is < 2 s wall here.
      const pin = have('taskset');
      const tPin = pin ? timeCommandBest('taskset', ['-c', '0', process.execPath, ...cliArgs], 2) : NaN;
      const cPin = pin ? cpuOf('taskset', ['-c', '0', process.execPath, ...cliArgs]) : NaN;
      // An exposure of NEXP_CCD CCDs in one process pinned to one core (--jobs 1): the start-up and
      // JIT warm-up are paid once, as when calibrating a whole DECam exposure.
      let expoRow = '';
      if (pin) {
        const cfg4 = decamPreset({ seed: 3, bands: ['r'] });
        cfg4.templateEpochs = 1; cfg4.searchEpochs = 0; cfg4.ccdnums = [35, 28, 29, 36].slice(0, NEXP_CCD);
        cfg4.sources = { ...cfg4.sources, starsPerDeg2: 8000 };
        const sim4 = await simulateSurvey(cfg4, { outDir: join(dir, 'sim4'), jobs: 0 });
        const e4 = sim4.manifest.exposures[0]!;
        const args4 = [tesseraBin, 'calibrate', join(dir, 'sim4', e4.image), '--weight', join(dir, 'sim4', e4.weight), '--mask', join(dir, 'sim4', e4.mask), '--refcat', join(dir, 'refcat'), '-o', join(dir, 'out4'), '--jobs', '1'];
        const t4 = timeCommandBest('taskset', ['-c', '0', process.execPath, ...args4], 2);
        const c4 = cpuOf('taskset', ['-c', '0', process.execPath, ...args4]);
        expoRow = `| tessera calibrate of a ${NEXP_CCD}-CCD exposure (process, one core, \`--jobs 1\`) | the same per CCD, start-up and JIT warm-up paid once: total ${fmt.s(t4)} wall | ${fmt.s(t4 / NEXP_CCD)} per CCD | ${Number.isFinite(c4) ? fmt.s(c4 / NEXP_CCD) : 'n/a'} per CCD | |`;
      }
      // In-process, warm (what a worker pays per CCD after its first one).
      const task: CcdTask = { image: ooi, weight: oow, mask: ood, hdu: 1, refcat: join(dir, 'refcat'), outDir: out };
      let last = runCcdTask(task);
      const tWarm = await timeBest(() => { last = runCcdTask(task); }, 2);
      const c0 = process.cpuUsage();
      last = runCcdTask(task);
      const cpu = process.cpuUsage(c0);
      const q = last.qa;
      if (!last.ok) throw new Error(`tessera calibrate failed on the benchmark CCD: ${q.flags}`);
      const rd = FitsReader.open(join(out, String(e.expnum), ccdName, 'calexp.fits.fz'));
      const ours = Wcs.fromHeader(rd.imageHeader('IMAGE'));
      rd.close();
      const ourRms = rmsVs(ours, truth, W, H);
      const steps = last.timings ?? {};
      const stepCpu = last.cpu ?? {};
      const stepText = Object.entries(steps).map(([k, v]) => `${k} ${fmt.s(v)}${stepCpu[k] !== undefined ? ` (CPU ${fmt.s(stepCpu[k]!)})` : ''}`).join(', ');

      const cs = (v: number) => (Number.isFinite(v) ? fmt.s(v) : 'n/a');
      const rows: string[] = ['| tool | what is timed | wall (one core) | CPU (user+sys) | tessera / peer |', '|---|---|---|---|---|'];
      rows.push(`| tessera calibrate (process) | read .fz + weight + mask, background, detect + measure, PSF, PSF photometry + SPREAD_MODEL, astrometry (pattern match, TPV-3), zero point, write calexp.fits.fz + src.fits + qa.csv | ${fmt.s(tCli)} | ${cs(cCli)} | |`);
      if (pin) rows.push(`| tessera calibrate (process, one core: \`taskset -c 0\`) | the same command pinned to CPU 0 (target: < 2 s wall) | ${fmt.s(tPin)} | ${cs(cPin)} | |`);
      if (expoRow) rows.push(expoRow);
      rows.push(`| tessera (in-process, warm) | the same CCD task | ${fmt.s(tWarm)} | ${fmt.s((cpu.user + cpu.system) / 1e6)} | |`);
      let chainNote = '';
      if (have('source-extractor') && have('psfex') && havePython('astropy.io.fits', 'numpy')) {
        const py = spawnSync('/usr/bin/python3', ['-c', PREP_PY, ooi, oow, gaia, dir, ccdName, String(e.mjd)], { encoding: 'utf8' });
        if (py.status !== 0) throw new Error(`bench prep (python) failed: ${py.stderr.slice(-800)}`);
        const { sex, psfex } = peerFiles(dir, 4, 1e9);
        const tSex = timeCommandBest('source-extractor', [join(dir, 'img.fits'), '-c', sex], 2, { cwd: dir });
        const cSex = cpuOf('source-extractor', [join(dir, 'img.fits'), '-c', sex], dir);
        const tPsfex = timeCommandBest('psfex', PSFEX_ARGS(dir, psfex), 2, { cwd: dir });
        const cPsfex = cpuOf('psfex', PSFEX_ARGS(dir, psfex), dir);
        rows.push(`| source-extractor (process) | LDAC catalog with ${SEX_PARAMS.length} parameters incl. VIGNET(35,35), weight map, 1.5σ | ${fmt.s(tSex)} | ${cs(cSex)} | |`);
        rows.push(`| psfex (process) | PSF model, default config (PIXEL_AUTO, degree 2) | ${fmt.s(tPsfex)} | ${cs(cPsfex)} | |`);
        let tScamp = NaN, cScamp = NaN;
        let scampNote = '';
        if (have('scamp')) {
          try {
            tScamp = timeCommandBest('scamp', SCAMP_ARGS(dir), 1, { cwd: dir });
            cScamp = cpuOf('scamp', SCAMP_ARGS(dir), dir);
            const sw = scampWcs(join(dir, 'cat.head'), W, H);
            scampNote = sw ? `TPV-3 solution ${(rmsVs(sw, truth, W, H) * 1000).toFixed(1)} mas rms from the true WCS` : 'no .head written';
            rows.push(`| scamp (process) | pattern matching + TPV degree 3 against the reference LDAC | ${fmt.s(tScamp)} | ${cs(cScamp)} | |`);
          } catch (err) {
            scampNote = `SCAMP not measured: ${(err as Error).message.slice(0, 200)}`;
          }
        } else scampNote = 'SCAMP not installed';
        const chain = tSex + tPsfex + (Number.isFinite(tScamp) ? tScamp : 0);
        const cChain = cSex + cPsfex + (Number.isFinite(cScamp) ? cScamp : 0);
        rows.push(`| **chain** source-extractor + psfex${Number.isFinite(tScamp) ? ' + scamp' : ''} | (no PSF-fitting pass, no zero point) | ${fmt.s(chain)} | ${cs(cChain)} | wall ${fmt.ratio(tCli, chain)} (process), ${fmt.ratio(tWarm, chain)} (warm); CPU ${Number.isFinite(cCli / cChain) ? fmt.ratio(cCli, cChain) : 'n/a'} (process)${pin ? `; one core: wall ${fmt.ratio(tPin, chain)}` : ''} |`);
        chainNote = scampNote;
      } else rows.push('| peer chain | source-extractor, psfex or python3-astropy not installed | | | |');
      const body = `${rows.join('\n')}

CCD: simulated DECam N4 (2048×4096), r band, 1″ seeing, Moffat core + 10% wing PSF varying over the
focal plane, stars (8000/deg²) and galaxies, cosmic rays, bad columns; header WCS with the
simulator's pointing/rotation error. Tessera result on it: ${q.nSources} sources, ${q.nPsfStars} PSF stars,
astrometric fit rms ${(q.astromRmsArcsec * 1000).toFixed(1)} mas over ${q.nAstromStars} stars and
${(ourRms * 1000).toFixed(1)} mas rms from the true WCS; zero point ${q.zp.toFixed(4)} vs truth ${zpTrue.toFixed(4)}
(Δ ${(q.zp - zpTrue).toFixed(4)} mag, ${q.nZpStars} stars); seeing ${q.seeingArcsec.toFixed(3)}″; steps (warm, wall and CPU): ${stepText}.
Peer chain: ${chainNote || 'n/a'}. The peers run as DES-GW ran them (one process each, one thread);
the chain does less than \`tessera calibrate\` (no PSF-fitting SExtractor pass for FLUX_PSF and
SPREAD_MODEL, no zero point, no compressed outputs). Wall: best of 2 (SCAMP: best of 1); CPU: one more run under /usr/bin/time
(less sensitive than wall time to other load on the machine).`;
      return [{ title: 'Calibration: tessera calibrate vs source-extractor + PSFEx + SCAMP (one 2048×4096 CCD)', body }];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
} satisfies BenchModule;
