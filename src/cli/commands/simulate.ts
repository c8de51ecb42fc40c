import { existsSync, readFileSync, rmSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import type { CommandSpec } from '../args.js';
import { boolOpt, intOpt, numberList, numberOpt, stringOpt } from '../args.js';
import { TesseraError, UsageError } from '../../util/errors.js';
import { decamPreset, parseBands, simulateSurvey, smallCamera, smallPreset, type SurveyConfig } from '../../sim/index.js';

/**
 * Remove the files a previous simulation in `dir` listed in its manifest.json (exposures, truth,
 * refcat, the manifest itself), so that a new run does not leave stale exposures beside its own.
 * Nothing outside `dir` and nothing the manifest does not name is touched.
 */
function removePreviousSimulation(dir: string): void {
  const path = join(dir, 'manifest.json');
  let m: { tessera?: unknown; exposures?: { image?: unknown; weight?: unknown; mask?: unknown }[]; refcat?: unknown; truth?: Record<string, unknown> };
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as typeof m;
  } catch (e) {
    throw new TesseraError(`${path}: cannot read the previous simulation's manifest (${(e as Error).message}); remove ${dir} by hand`);
  }
  if (m.tessera !== 'simulation') throw new TesseraError(`${path}: not a Tessera simulation manifest; remove ${dir} by hand or choose another directory`);
  const files: unknown[] = [m.refcat, ...Object.values(m.truth ?? {})];
  for (const e of m.exposures ?? []) files.push(e.image, e.weight, e.mask);
  for (const f of files) {
    if (typeof f !== 'string' || isAbsolute(f) || normalize(f).startsWith('..')) continue;
    rmSync(join(dir, f), { force: true });
  }
  rmSync(path, { force: true });
}

function parseRanges(s: string, name: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new UsageError(`--${name}: expected numbers or ranges like 1-10, got '${part}'`);
    const a = Number(m[1]), b = m[2] ? Number(m[2]) : a;
    if (b < a) throw new UsageError(`--${name}: empty range '${part}'`);
    for (let k = a; k <= b; k++) out.push(k);
  }
  return out;
}

export const commands: CommandSpec[] = [
  {
    name: 'simulate',
    summary: 'simulate a survey: DECam-CP-like exposures (image, weight, mask) with truth tables and a Gaia-like reference catalog',
    usage: '-o DIR [--camera decam|small] [--bands gri] [--epochs T,S | --exposures N] [--seed S] [options]',
    options: [
      { name: 'out', short: 'o', type: 'string', valueName: 'DIR', description: 'output directory (required)' },
      { name: 'camera', type: 'string', valueName: 'NAME', description: 'decam (62 CCDs of 2048×4096) or small', default: 'small' },
      { name: 'bands', type: 'string', valueName: 'BANDS', description: 'bands, from g r i z (e.g. gri)' },
      { name: 'epochs', type: 'string', valueName: 'T,S', description: 'template and search epochs; one exposure per band each (small: 2,3; decam: 1,1)' },
      { name: 'exposures', type: 'string', valueName: 'N', description: 'total number of exposures instead of --epochs (first ~40% of epochs are templates)' },
      { name: 'seed', type: 'string', valueName: 'S', description: 'random seed (same seed → identical files)', default: '1' },
      { name: 'ccds', type: 'string', valueName: 'N|LIST', description: 'small: number of CCDs (1-16); decam: CCDNUMs to render, e.g. 35 or 28-35,1' },
      { name: 'size', type: 'string', valueName: 'WxH', description: 'small camera: CCD size in pixels', default: '1024x1024' },
      { name: 'field', type: 'string', valueName: 'RA,DEC', description: 'field centre in degrees', default: '150.1,2.2' },
      { name: 'tiles', type: 'string', valueName: 'NXxNY', description: 'tile the sky with NX×NY pointings around the field centre (every epoch visits every tile)' },
      { name: 'tile-step', type: 'string', valueName: 'DEG', description: 'spacing of the tiles (default 1.5 × the camera field radius)' },
      { name: 'exptime', type: 'string', valueName: 'SEC', description: 'exposure time (s)', default: '90' },
      { name: 'seeing', type: 'string', valueName: 'ARCSEC', description: 'median seeing FWHM in r', default: '1.0' },
      { name: 'transients', type: 'string', valueName: 'N', description: 'number of SN-like transients (small: 12, decam: 60)' },
      { name: 'transient-mags', type: 'string', valueName: 'LO,HI', description: 'range of the transients\' peak r magnitudes', default: '19.5,22.5' },
      { name: 'asteroids', type: 'string', valueName: 'N', description: 'number of moving objects (the first fast, the others slow)', default: '2' },
      { name: 'stars', type: 'string', valueName: 'PER_DEG2', description: 'stars per deg² brighter than G = 20 (small: 12000, decam: 2000)' },
      { name: 'galaxies', type: 'string', valueName: 'PER_DEG2', description: 'galaxies per deg² to r = 24 (small: 40000, decam: 30000)' },
      { name: 'jobs', short: 'j', type: 'string', valueName: 'N', description: 'worker threads (0 = render in the main thread)', default: '2' },
      { name: 'quiet', short: 'q', type: 'boolean', description: 'print only the summary' },
      { name: 'overwrite', type: 'boolean', description: 'DIR holds an earlier simulation: remove its files first (otherwise an error)' },
    ],
    details: `
Writes, under DIR: manifest.json; exposures/c4d_YYMMDD_hhmmss_{ooi,oow,ood}_<band>_v1.fits.fz per
exposure (image in ADU with sky, inverse variance, data-quality mask; one HDU per CCD, EXTNAME =
CCD name, header WCS with the telescope's pointing error); refcat/gaia.fits (Gaia-like reference
catalog with errors); truth/sources.fits, truth/ccds.fits (true WCS, zero points, PSF per CCD) and
truth/epochs.fits (true position, flux and magnitude of every source on every CCD).
Mask bits: 1 bad pixel/column, 2 saturated, 8 cosmic ray, 64 bleed trail, 1024 satellite trail.`,
    async run(args, io) {
      const out = stringOpt(args, 'out');
      if (!out) throw new UsageError('simulate: an output directory is needed (-o DIR)');
      const camera = stringOpt(args, 'camera') ?? 'small';
      if (camera !== 'decam' && camera !== 'small') throw new UsageError(`--camera: expected decam or small, got '${camera}'`);
      const seed = stringOpt(args, 'seed') ?? '1';
      const seedValue: number | string = /^\d+$/.test(seed) ? Number(seed) : seed;
      const field = numberList(args, 'field') ?? [150.1, 2.2];
      if (field.length !== 2 || Math.abs(field[1]!) > 90) throw new UsageError('--field: expected RA,DEC in degrees');
      let bands;
      try {
        bands = stringOpt(args, 'bands') ? parseBands(stringOpt(args, 'bands')!) : undefined;
      } catch (e) {
        throw new UsageError(`--bands: ${(e as Error).message}`);
      }
      if (bands && !bands.length) throw new UsageError('--bands: no band given');
      const opts = { seed: seedValue, fieldRaDeg: field[0]!, fieldDecDeg: field[1]!, bands };
      let cfg: SurveyConfig;
      if (camera === 'small') {
        cfg = smallPreset(opts);
        const size = (stringOpt(args, 'size') ?? '1024x1024').toLowerCase().split('x').map(Number);
        if (size.length !== 2 || !size.every((v) => Number.isInteger(v) && v >= 64 && v <= 8192)) throw new UsageError('--size: expected WxH, each 64..8192, e.g. 1024x1024');
        const nccdS = stringOpt(args, 'ccds');
        const nccd = nccdS === undefined ? 2 : Number(nccdS);
        if (!Number.isInteger(nccd) || nccd < 1 || nccd > 16) throw new UsageError(`--ccds: the small camera takes a number of CCDs 1..16, got '${nccdS}'`);
        cfg.camera = smallCamera({ nccd, width: size[0], height: size[1] });
      } else {
        cfg = decamPreset(opts);
        const list = stringOpt(args, 'ccds');
        if (list) {
          const nums = parseRanges(list, 'ccds');
          for (const n of nums) if (n < 1 || n > 62) throw new UsageError(`--ccds: DECam CCDNUM is 1..62, got ${n}`);
          cfg.ccdnums = [...new Set(nums)].sort((a, b) => a - b);
        }
      }
      const tilesS = stringOpt(args, 'tiles');
      if (tilesS) {
        const t = tilesS.toLowerCase().split('x').map(Number);
        if (t.length !== 2 || !t.every((v) => Number.isInteger(v) && v >= 1 && v <= 20)) throw new UsageError('--tiles: expected NXxNY, e.g. 3x2');
        const step = numberOpt(args, 'tile-step') ?? 1.5 * cfg.camera.fieldRadiusDeg;
        if (!(step > 0 && step < 20)) throw new UsageError('--tile-step: expected degrees in (0, 20)');
        cfg.tiling = { nx: t[0]!, ny: t[1]!, stepDeg: step };
      } else if (stringOpt(args, 'tile-step')) {
        throw new UsageError('--tile-step needs --tiles');
      }
      const epochs = stringOpt(args, 'epochs');
      const nexp = intOpt(args, 'exposures');
      if (epochs && nexp !== undefined) throw new UsageError('give either --epochs or --exposures, not both');
      if (epochs) {
        const e = epochs.split(',').map((s) => Number(s.trim()));
        if (e.length !== 2 || !e.every((v) => Number.isInteger(v) && v >= 0) || e[0]! + e[1]! < 1) throw new UsageError('--epochs: expected T,S (template and search epochs), e.g. 2,3');
        cfg.templateEpochs = e[0]!; cfg.searchEpochs = e[1]!;
      } else if (nexp !== undefined) {
        if (nexp < 1) throw new UsageError('--exposures: expected a positive integer');
        const nEpoch = Math.ceil(nexp / cfg.bands.length / ((cfg.tiling?.nx ?? 1) * (cfg.tiling?.ny ?? 1)));
        cfg.templateEpochs = nEpoch > 1 ? Math.max(1, Math.floor(0.4 * nEpoch)) : 0;
        cfg.searchEpochs = nEpoch - cfg.templateEpochs;
        cfg.maxExposures = nexp;
      }
      const exptime = numberOpt(args, 'exptime');
      if (exptime !== undefined) { if (!(exptime > 0)) throw new UsageError('--exptime: expected seconds > 0'); cfg.exptime = exptime; }
      const seeing = numberOpt(args, 'seeing');
      if (seeing !== undefined) { if (!(seeing >= 0.4 && seeing <= 5)) throw new UsageError('--seeing: expected 0.4..5 arcsec'); cfg.seeingArcsec = seeing; }
      const tr = intOpt(args, 'transients');
      if (tr !== undefined) { if (tr < 0) throw new UsageError('--transients: expected ≥ 0'); cfg.sources.transients = tr; }
      const tm = numberList(args, 'transient-mags');
      if (tm) {
        if (tm.length !== 2 || !(tm[0]! <= tm[1]!) || tm[0]! < 10 || tm[1]! > 30) throw new UsageError('--transient-mags: expected LO,HI magnitudes, e.g. 20,24');
        cfg.sources.transientPeakMag = [tm[0]!, tm[1]!];
      }
      const na = intOpt(args, 'asteroids');
      if (na !== undefined) { if (na < 0 || na > 1000) throw new UsageError('--asteroids: expected 0..1000'); cfg.sources.asteroids = na; }
      const st = numberOpt(args, 'stars');
      if (st !== undefined) { if (st < 0) throw new UsageError('--stars: expected ≥ 0'); cfg.sources.starsPerDeg2 = st; }
      const ga = numberOpt(args, 'galaxies');
      if (ga !== undefined) { if (ga < 0) throw new UsageError('--galaxies: expected ≥ 0'); cfg.sources.galaxiesPerDeg2 = ga; }
      const jobs = intOpt(args, 'jobs') ?? 2;
      if (jobs < 0 || jobs > 64) throw new UsageError('--jobs: expected 0..64');
      const quiet = args.options.quiet === true;
      if (existsSync(join(out, 'manifest.json'))) {
        if (!boolOpt(args, 'overwrite')) throw new TesseraError(`${out}: already holds a simulation (manifest.json); choose a new directory, or pass --overwrite to replace it`);
        removePreviousSimulation(out);
      }
      const res = await simulateSurvey(cfg, { outDir: out, jobs, onProgress: quiet ? undefined : (m) => io.stdout.write(m + '\n') });
      const m = res.manifest;
      io.stdout.write(`wrote ${m.exposures.length} exposures × ${m.exposures[0]?.ccds.length ?? 0} CCDs (${camera}, bands ${m.bands.join('')}, seed ${m.seed}) to ${out} in ${(res.timing.wallMs / 1000).toFixed(1)} s\n`);
      io.stdout.write(`truth: ${m.counts.stars} stars, ${m.counts.galaxies} galaxies, ${m.counts.transients} transients, ${m.counts.variables} variables, ${m.counts.asteroids} asteroids; refcat ${m.counts.refcat} stars\n`);
      return 0;
    },
  },
];
