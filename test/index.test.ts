import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tessera from '../src/index.js';

test('the library entry exposes every room with its main entry points', () => {
  assert.equal(typeof tessera.fits.FitsReader.open, 'function');
  assert.equal(typeof tessera.fits.writeFits, 'function');
  assert.equal(typeof tessera.wcs.Wcs.fromHeader, 'function');
  assert.equal(typeof tessera.detect.detectSources, 'function');
  assert.equal(typeof tessera.calib.solveAstrometry, 'function');
  assert.equal(typeof tessera.assoc.associate, 'function');
  assert.equal(typeof tessera.products.writeParquet, 'function');
  assert.equal(typeof tessera.sim.simulateSurvey, 'function');
  assert.equal(typeof tessera.engine, 'object');
  assert.equal(typeof tessera.pipeline, 'object');
  // A value through the public API: the brick containing (135.2, 19.25) is 1351p192.
  assert.equal(tessera.sky.brickForPosition(135.2, 19.25).brickname, '1351p192');
});
