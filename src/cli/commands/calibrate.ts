import type { CommandSpec } from '../args.js';
import { intOpt, listOpt, numberOpt, positional, stringOpt } from '../args.js';
import { UsageError } from '../../util/errors.js';
import { calibrateExposure } from '../../pipeline/calibrate/exposure.js';
import type { AstromModel } from '../../calib/astrometry.js';

export const commands: CommandSpec[] = [
  {
    name: 'calibrate',
    summary: 'single-epoch calibration of an exposure, CCD by CCD: detect, PSF, astrometry, zero point',
    usage: 'EXPOSURE.fits.fz --refcat DIR -o OUT [--ccd 1,2,...] [--weight W.fits.fz] [--mask M.fits.fz] [--jobs N]',
    options: [
      { name: 'refcat', type: 'string', description: "reference catalog directory ('tessera refcat build')", valueName: 'DIR' },
      { name: 'output', short: 'o', type: 'string', description: 'output directory', valueName: 'OUT' },
      { name: 'ccd', type: 'string', description: 'CCDs to calibrate: CCDNUM or EXTNAME, comma-separated (default all)', valueName: 'LIST' },
      { name: 'weight', type: 'string', description: 'inverse-variance MEF (CP oow), HDUs matched by EXTNAME', valueName: 'FILE' },
      { name: 'mask', type: 'string', description: 'data-quality mask MEF (CP ood), HDUs matched by EXTNAME', valueName: 'FILE' },
      { name: 'jobs', short: 'j', type: 'string', description: 'CCDs in parallel (worker threads; default: number of cores)', valueName: 'N' },
      { name: 'thresh', type: 'string', description: 'detection threshold (σ)', default: '1.5', valueName: 'SIGMA' },
      { name: 'astrom-model', type: 'string', description: "astrometric model: tpv, tan-sip or tan", default: 'tpv', valueName: 'MODEL' },
      { name: 'astrom-order', type: 'string', description: 'distortion order (TPV/SIP)', default: '3', valueName: 'N' },
      { name: 'psf-degree', type: 'string', description: 'polynomial degree of the PSF variation', default: '2', valueName: 'N' },
      { name: 'zp-mode', type: 'string', description: "reference magnitudes: 'colorterm' (Gaia→DECam polynomials) or 'G' (Gaia G, BLISS-like)", default: 'colorterm', valueName: 'MODE' },
      { name: 'max-offset', type: 'string', description: 'largest header-WCS pointing error searched (arcsec)', default: '120', valueName: 'ARCSEC' },
    ],
    details: `Outputs, per CCD:
  OUT/<EXPNUM>/<CCDNAME>/calexp.fits.fz  HDUs IMAGE (sky-subtracted, calibrated WCS; MAGZERO,
      MAGZERR, FWHM [arcsec], SKYLEVEL, DEPTH [5σ PSF mag], ASTRRMS [arcsec], NASTRSTR), VARIANCE,
      MASK, PSF (PSFEx-like pixel basis; POLDEG, POLZERO1/2, POLSCAL1/2, PSF_SAMP, PSF_FWHM)
  OUT/<EXPNUM>/<CCDNAME>/src.fits        source catalog (SExtractor column names) with
      ALPHA_J2000/DELTA_J2000 from the calibrated WCS, FLUX_PSF, MAG_PSF, MAG_AUTO
and OUT/qa.csv, one row per CCD: expnum, ccd, band, mjd, zp, zp_err, seeing, sky, depth,
astrom_rms, n_stars, flags. mag = MAGZERO − 2.5·log10(counts). A CCD that cannot be calibrated
(no usable pixels, too few stars, no astrometric match, reference catalog region missing) gets
a row whose flags start with FAILED: and the reason; the other CCDs still finish, and the
command exits 1 if any CCD failed.`,
    async run(args, io) {
      const image = positional(args, 0, 'EXPOSURE', 'calibrate');
      const refcat = stringOpt(args, 'refcat');
      if (!refcat) throw new UsageError('calibrate: give the reference catalog with --refcat DIR');
      const out = stringOpt(args, 'output');
      if (!out) throw new UsageError('calibrate: give the output directory with -o OUT');
      const model = stringOpt(args, 'astrom-model') ?? 'tpv';
      if (!['tpv', 'tan-sip', 'tan'].includes(model)) throw new UsageError(`--astrom-model must be tpv, tan-sip or tan, got '${model}'`);
      const zpMode = stringOpt(args, 'zp-mode') ?? 'colorterm';
      if (zpMode !== 'colorterm' && zpMode !== 'G') throw new UsageError(`--zp-mode must be 'colorterm' or 'G', got '${zpMode}'`);
      const jobs = intOpt(args, 'jobs');
      if (jobs !== undefined && jobs < 1) throw new UsageError('--jobs must be at least 1');
      const res = await calibrateExposure({
        image, refcat, outDir: out,
        weight: stringOpt(args, 'weight'), mask: stringOpt(args, 'mask'),
        ccds: listOpt(args, 'ccd'), jobs,
        config: {
          threshSigma: numberOpt(args, 'thresh'),
          astromModel: model as AstromModel,
          astromOrder: intOpt(args, 'astrom-order'),
          psfDegree: intOpt(args, 'psf-degree'),
          colorMode: zpMode,
          maxOffsetArcsec: numberOpt(args, 'max-offset'),
        },
        onCcd: (r) => {
          const q = r.qa;
          io.stderr.write(r.ok
            ? `calibrate: ${q.expnum} ${q.ccd}: zp ${q.zp.toFixed(3)}±${q.zpErr.toFixed(3)}, seeing ${q.seeingArcsec.toFixed(2)}″, depth ${q.depth.toFixed(2)}, astrom ${(q.astromRmsArcsec * 1000).toFixed(0)} mas / ${q.nAstromStars} stars (${r.seconds.toFixed(2)} s)\n`
            : `calibrate: ${Number.isFinite(q.expnum) ? q.expnum + ' ' : ''}${q.ccd}: ${q.flags}\n`);
        },
      });
      io.stderr.write(`calibrate: ${res.rows.length - res.nFailed}/${res.rows.length} CCDs calibrated; exposure zero point ${Number.isFinite(res.exposureZp) ? res.exposureZp.toFixed(3) : 'n/a'}${res.outliers.length ? `; ZP outliers: ${res.outliers.join(', ')}` : ''} → ${out}\n`);
      return res.nFailed > 0 ? 1 : 0;
    },
  },
];
