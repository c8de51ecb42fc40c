/**
 * Side by side with reproject (python3-reproject): the same star field warped from a TPV grid
 * onto a rotated, rescaled grid; star fluxes against the truth. Skipped when reproject is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PYTHON, tempDir } from '../helpers.js';
import { writeFits } from '../../src/fits/writer.js';
import { Header } from '../../src/fits/header.js';
import { warpMaskedImage } from '../../src/templates/warp.js';
import { aperture, distortedWcs, renderStars, rotatedWcs, starGrid } from './simfield.js';

const haveReproject = spawnSync(PYTHON, ['-c', 'import reproject, astropy, numpy'], { stdio: 'ignore' }).status === 0;

const SCRIPT = `
import sys, warnings, numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from reproject import reproject_interp, reproject_adaptive
warnings.simplefilter('ignore')
d = sys.argv[1]
hdu = fits.open(d + '/a.fits')[0]
th = fits.Header.fromstring(open(d + '/b.hdr').read(), sep='\\n')
shape = (th['NAXIS2'], th['NAXIS1'])
w_out = WCS(th)
data = hdu.data.astype(np.float64)
r1, _ = reproject_interp((data, WCS(hdu.header)), w_out, shape_out=shape, order='bicubic')
r2, _ = reproject_adaptive((data, WCS(hdu.header)), w_out, shape_out=shape, conserve_flux=True)
np.asarray(r1, dtype='<f4').tofile(d + '/interp.f4')
np.asarray(r2, dtype='<f4').tofile(d + '/adaptive.f4')
`;

test('warp vs reproject: star fluxes after warping a TPV field (reproject_interp bicubic, reproject_adaptive)', (t) => {
  if (!haveReproject) { t.skip('python3-reproject not installed'); return; }
  const RA = 52.5, DEC = -27.8, WA = 640, HA = 720, WB = 330, HB = 400;
  const A = distortedWcs(RA, DEC, WA, HA, 0.26);
  const B = rotatedWcs(RA + 0.002, DEC - 0.0015, WB, HB, 0.31, 30);
  const stars = starGrid(B, WB, HB, 36, 25, [2e3, 2e5]);
  const imgA = renderStars(A, WA, HA, stars, 0.55);
  const dir = tempDir('tessera-reproject-');
  const h = new Header([], 'A');
  A.toHeader(h);
  writeFits(join(dir, 'a.fits'), [{ kind: 'image', header: h, data: imgA, shape: [WA, HA] }]);
  writeFileSync(join(dir, 'b.hdr'), `NAXIS   = 2\nNAXIS1  = ${WB}\nNAXIS2  = ${HB}\n` + B.toHeaderText());
  const run = spawnSync(PYTHON, ['-c', SCRIPT, dir], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const load = (f: string) => new Float32Array(new Uint8Array(readFileSync(join(dir, f))).buffer);
  // reproject_interp returns surface brightness (value per input pixel): scale by the pixel-area ratio
  const area = (0.31 / 0.26) ** 2;
  const interp = load('interp.f4').map((v) => v * area), adaptive = load('adaptive.f4');
  const ours = warpMaskedImage({ width: WA, height: HA, image: imgA }, A, B, WB, HB).image;
  const err = (img: Float32Array) => {
    let worst = 0;
    for (const s of stars) {
      const p = B.skyToPix([s.ra], [s.dec], 0);
      const a = aperture(img, WB, HB, p.x[0]!, p.y[0]!, 11);
      worst = Math.max(worst, Math.abs(a.flux / s.flux - 1));
    }
    return worst;
  };
  const eOurs = err(ours), eInterp = err(interp), eAdaptive = err(adaptive);
  t.diagnostic(`worst star flux error: Tessera ${(eOurs * 100).toFixed(3)}%, reproject_interp bicubic ${(eInterp * 100).toFixed(3)}%, reproject_adaptive ${(eAdaptive * 100).toFixed(3)}%`);
  assert.ok(eOurs < 0.005, `Tessera ${eOurs}`);
  // the same WCS on both sides: the flux-conserving reproject_adaptive agrees; reproject_interp
  // (surface brightness, scaled here by the nominal area ratio) misses the TPV area distortion
  assert.ok(eAdaptive < 0.01, `reproject_adaptive ${eAdaptive}`);
  assert.ok(eInterp < 0.05, `reproject_interp ${eInterp}`);
  assert.ok(eOurs <= eAdaptive + 1e-3, 'Tessera at least as accurate as reproject_adaptive');
});
