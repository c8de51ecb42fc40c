import { intOpt, numberOpt, stringOpt, boolOpt, numberList, type CommandSpec } from '../args.js';
import { coaddImages, type CoaddOptions } from '../../templates/coadd.js';
import { brickGrid, imageGrid, patchGrid, readCalexp, writeCoadd, type CoaddGrid } from '../../templates/io.js';
import { UsageError } from '../../util/errors.js';

export const commands: CommandSpec[] = [
  {
    name: 'coadd',
    summary: 'coadd calibrated CCDs onto a patch or brick grid (a template for difference imaging)',
    usage: '--patch TRACT,X,Y | --brick NAME | --onto IMAGE[HDU]  CALEXP[HDU]... -o OUT.fits.fz',
    options: [
      { name: 'output', short: 'o', type: 'string', valueName: 'OUT', description: 'output coadd file (.fits.fz: tile-compressed)' },
      { name: 'patch', type: 'string', valueName: 'TRACT,X,Y', description: 'DC2 rings-skymap patch (outer box): TRACT,X,Y or TRACT,SEQ' },
      { name: 'brick', type: 'string', valueName: 'NAME', description: 'Legacy Surveys brick (e.g. 1501p022): its 3600×3600 0.262″ grid' },
      { name: 'onto', type: 'string', valueName: 'IMAGE[HDU]', description: 'the pixel grid (WCS and size) of an image, e.g. a search CCD: its templates warped and stacked onto it' },
      { name: 'size', type: 'string', valueName: 'W[,H]', description: 'with --brick: grid size in pixels centred on the brick (default 3600)' },
      { name: 'pixscale', type: 'string', valueName: 'ARCSEC', description: 'with --brick: pixel scale (default 0.262)' },
      { name: 'magzero', type: 'string', valueName: 'ZP', description: 'output zero point (default 22.5: nanomaggies)' },
      { name: 'weighting', type: 'string', valueName: 'image|pixel', description: 'one inverse-variance weight per input (default) or per pixel' },
      { name: 'no-clip', type: 'boolean', description: 'no outlier rejection (default: reject positive outliers where ≥ 3 inputs)' },
      { name: 'nsigma', type: 'string', valueName: 'N', description: 'clipping threshold in σ of the input pixel (default 5)' },
      { name: 'homogenize', type: 'string', valueName: 'FWHM_ARCSEC', description: 'convolve every input to a Gaussian PSF of this FWHM before stacking' },
      { name: 'psf-grid', type: 'string', valueName: 'N', description: 'coadd PSF evaluated on N × N positions (default 5)' },
      { name: 'psf-degree', type: 'string', valueName: 'D', description: 'polynomial degree of the coadd PSF model (default 2)' },
      { name: 'no-compress', type: 'boolean', description: 'write plain (uncompressed) image HDUs' },
    ],
    details:
      'Each CALEXP needs a celestial WCS and MAGZERO in its image header; VARIANCE, MASK and PSF HDUs of the same file are used when present ' +
      '(the noise is estimated from the pixels when VARIANCE is absent). Inputs are warped with Lanczos-3 (flux-conserving), scaled to the ' +
      'output zero point, and averaged with inverse-variance weights. The output has IMAGE (WCS, MAGZERO), VARIANCE, MASK, NEXP and PSF HDUs.',
    run(args, io) {
      const out = stringOpt(args, 'output');
      if (!out) throw new UsageError('coadd: give the output file with -o OUT.fits.fz');
      const patch = stringOpt(args, 'patch'), brick = stringOpt(args, 'brick'), onto = stringOpt(args, 'onto');
      if ([patch, brick, onto].filter((v) => v !== undefined).length !== 1) throw new UsageError('coadd: give exactly one of --patch TRACT,X,Y, --brick NAME or --onto IMAGE');
      if (args.positionals.length === 0) throw new UsageError('coadd: give at least one CALEXP file');
      let grid: CoaddGrid;
      if (patch !== undefined || onto !== undefined) {
        if (stringOpt(args, 'size') !== undefined || stringOpt(args, 'pixscale') !== undefined) throw new UsageError('coadd: --size and --pixscale apply to --brick only');
        grid = patch !== undefined ? patchGrid(patch) : imageGrid(onto!);
      } else {
        const size = numberList(args, 'size') ?? [3600];
        if (size.length > 2 || size.some((v) => !(Number.isInteger(v) && v > 0 && v <= 20000))) throw new UsageError(`--size: expected W or W,H (positive integers ≤ 20000), got '${stringOpt(args, 'size')}'`);
        const ps = numberOpt(args, 'pixscale') ?? 0.262;
        if (!(ps > 0)) throw new UsageError(`--pixscale: expected a positive number of arcseconds, got ${ps}`);
        grid = brickGrid(brick!, size[0]!, size[1] ?? size[0]!, ps);
      }
      const weighting = stringOpt(args, 'weighting') ?? 'image';
      if (weighting !== 'image' && weighting !== 'pixel') throw new UsageError(`--weighting: expected image or pixel, got '${weighting}'`);
      const opts: CoaddOptions = { weighting };
      const zp = numberOpt(args, 'magzero');
      if (zp !== undefined) opts.magzero = zp;
      if (boolOpt(args, 'no-clip')) opts.clip = false;
      else { const ns = numberOpt(args, 'nsigma'); if (ns !== undefined) { if (!(ns > 0)) throw new UsageError('--nsigma: expected a positive number'); opts.clip = { nsigma: ns }; } }
      const hom = numberOpt(args, 'homogenize');
      if (hom !== undefined) {
        if (!(hom > 0)) throw new UsageError('--homogenize: expected a positive FWHM in arcseconds');
        opts.homogenize = { fwhmPix: hom / grid.wcs.pixelScaleArcsec((grid.width + 1) / 2, (grid.height + 1) / 2) };
      }
      const n = intOpt(args, 'psf-grid'), d = intOpt(args, 'psf-degree');
      if (n !== undefined && !(n >= 1 && n <= 50)) throw new UsageError('--psf-grid: expected an integer 1–50');
      if (d !== undefined && !(d >= 0 && d <= 6)) throw new UsageError('--psf-degree: expected an integer 0–6');
      opts.psf = { nx: n, ny: n, degree: d };
      const t0 = process.hrtime.bigint();
      const inputs = args.positionals.map((p) => readCalexp(p));
      const c = coaddImages(inputs, grid.wcs, grid.width, grid.height, opts);
      writeCoadd(out, c, {
        compress: !boolOpt(args, 'no-compress'),
        extra: [{ key: 'COADDGRD', value: grid.name, comment: 'coadd grid' }],
      });
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      let covered = 0;
      for (let i = 0; i < c.nexp.length; i++) if (c.nexp[i]! > 0) covered++;
      const lines = [`${grid.name}: ${grid.width}×${grid.height} px, ${c.inputs.length} of ${inputs.length} inputs overlap, ${(100 * covered / c.nexp.length).toFixed(1)}% covered, MAGZERO ${c.magzero}`];
      for (const inp of c.inputs) lines.push(`  ${inp.id}: MAGZERO ${inp.magzero}, scale ${inp.scale.toPrecision(5)}, weight ${inp.weight.toPrecision(4)}, ${inp.pixels} px${Number.isFinite(inp.fwhmPix) ? `, FWHM ${inp.fwhmPix.toFixed(2)} px` : ''}`);
      if (c.psf) lines.push(`coadd PSF: FWHM ${c.psf.fwhmPix.toFixed(2)} px at the centre (degree ${c.psf.degree})`);
      lines.push(`${c.rejected} input pixels rejected by clipping; wrote ${out} in ${secs.toFixed(2)} s`);
      io.stdout.write(lines.join('\n') + '\n');
      return 0;
    },
  },
];
