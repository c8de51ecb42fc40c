import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PYTHON, tempDir } from '../helpers.js';
import { PROJECTIONS, Wcs, type WcsParams } from '../../src/wcs/index.js';
import { sepMas } from './fixtures.js';

const haveAstropy = spawnSync(PYTHON, ['-c', 'import astropy.wcs, numpy'], { stdio: 'ignore' }).status === 0;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}

/** A random WCS: projection, reference point, rotation/skew/flip, and for TAN a SIP or TPV distortion. */
function randomWcs(r: () => number, k: number): { params: WcsParams; size: [number, number] } {
  const proj = k % 2 === 0 ? 'TAN' : PROJECTIONS[1 + ((k >> 1) % (PROJECTIONS.length - 1))]!;
  const kind = (k >> 1) % 3; // TAN: plain, SIP, TPV
  const wide = proj !== 'TAN';
  const scale = wide ? 0.02 + 0.2 * r() : (0.05 + 0.5 * r()) / 3600;
  const rot = 2 * Math.PI * r();
  const skew = 1 + 0.02 * (r() - 0.5);
  const flip = r() < 0.8 ? -1 : 1;
  const cd: [number, number, number, number] = [flip * scale * Math.cos(rot), -scale * Math.sin(rot) * skew, flip * scale * Math.sin(rot), scale * Math.cos(rot)];
  const size: [number, number] = wide ? [200 + Math.floor(200 * r()), 150 + Math.floor(150 * r())] : [1000 + Math.floor(3000 * r()), 1000 + Math.floor(3000 * r())];
  const dec = k % 9 === 0 ? 89.5 * (r() < 0.5 ? 1 : -1) : -85 + 170 * r();
  const p: WcsParams = {
    crval: [360 * r(), dec],
    crpix: [size[0] * r(), size[1] * r()],
    cd,
    projection: proj,
    naxis: size,
  };
  if (proj === 'SIN' && r() < 0.5) p.sinSlant = [0.1 * (r() - 0.5), 0.1 * (r() - 0.5)];
  if (proj === 'TAN' && kind === 1) {
    const order = 2 + (k % 4);
    const a: number[][] = [];
    const b: number[][] = [];
    const R = Math.max(...size);
    for (let i = 0; i <= order; i++) {
      a.push([]);
      b.push([]);
      for (let j = 0; i + j <= order; j++) {
        const amp = i + j >= 2 ? (5 * (r() - 0.5)) / R ** (i + j - 1) : 0;
        a[i]!.push(amp);
        b[i]!.push((5 * (r() - 0.5)) / R ** (i + j - 1) * (i + j >= 2 ? 1 : 0));
      }
    }
    p.sip = { a, b };
  } else if (proj === 'TAN' && kind === 2) {
    const pv1 = new Array(40).fill(0);
    const pv2 = new Array(40).fill(0);
    const half = (Math.max(...size) * scale) / 2; // degrees
    const degs = [0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7];
    for (let j = 0; j < 40; j++) {
      if (r() < 0.3 && j > 2) continue;
      const d = degs[j]!;
      const amp = j === 0 ? 1e-5 : d === 1 ? 1e-3 : 2e-3 * half / half ** d;
      pv1[j] = (r() - 0.5) * amp;
      pv2[j] = (r() - 0.5) * amp;
    }
    pv1[1] += 1;
    pv2[1] += 1;
    p.tpv = { pv1, pv2 };
  }
  if (proj !== 'TAN' && proj !== 'CAR' && proj !== 'AIT' && r() < 0.5) p.lonpole = 150 + 60 * r();
  return { params: p, size };
}

const SCRIPT = `
import json, sys, warnings, numpy as np
from astropy.io import fits
from astropy.wcs import WCS
d = sys.argv[1]
cases = json.load(open(d + '/cases.json'))
out = []
for c in cases:
    h = fits.Header.fromstring(open(d + '/' + c['file']).read(), sep='\\n')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        w = WCS(h)
        ra, dec = w.all_pix2world(np.array(c['x']), np.array(c['y']), 1)
    out.append({'ra': [None if not np.isfinite(v) else float(v) for v in ra], 'dec': [None if not np.isfinite(v) else float(v) for v in dec]})
json.dump(out, open(d + '/astropy.json', 'w'))
`;

test('live: random WCSs written by toHeader agree with astropy all_pix2world to < 1 mas', { skip: haveAstropy ? false : 'python3-astropy not installed' }, () => {
  const dir = tempDir();
  const r = rng(2024);
  const cases: { file: string; x: number[]; y: number[] }[] = [];
  const wcss: Wcs[] = [];
  for (let k = 0; k < 60; k++) {
    const { params, size } = randomWcs(r, k);
    const w = new Wcs(params);
    wcss.push(w);
    const file = `w${k}.head`;
    writeFileSync(join(dir, file), w.toHeaderText());
    const x: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < 60; i++) {
      x.push(0.5 + size[0] * r());
      y.push(0.5 + size[1] * r());
    }
    x.push(0.5, size[0] + 0.5, 0.5, size[0] + 0.5);
    y.push(0.5, 0.5, size[1] + 0.5, size[1] + 0.5);
    cases.push({ file, x, y });
  }
  writeFileSync(join(dir, 'cases.json'), JSON.stringify(cases));
  const run = spawnSync(PYTHON, ['-c', SCRIPT, dir], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const got = JSON.parse(readFileSync(join(dir, 'astropy.json'), 'utf8')) as { ra: (number | null)[]; dec: (number | null)[] }[];
  let compared = 0;
  for (let k = 0; k < cases.length; k++) {
    const c = cases[k]!;
    const ours = wcss[k]!.pixToSky(c.x, c.y);
    for (let i = 0; i < c.x.length; i++) {
      const ra = got[k]!.ra[i];
      const dec = got[k]!.dec[i];
      if (ra === null || dec === null) {
        assert.ok(Number.isNaN(ours.dec[i]), `case ${k} (${wcss[k]!.projection.code}): astropy gives no position at (${c.x[i]}, ${c.y[i]}) but we do`);
        continue;
      }
      const d = sepMas(ours.ra[i]!, ours.dec[i]!, ra, dec);
      assert.ok(d < 1, `case ${k} (${wcss[k]!.projection.code}, ${wcss[k]!.distortion}): ${d} mas at (${c.x[i]}, ${c.y[i]})\n${wcss[k]!.toHeaderText()}`);
      compared++;
    }
  }
  const kinds = new Set(wcss.map((w) => `${w.projection.code}/${w.distortion}`));
  assert.equal(kinds.size, 9, [...kinds].join(' '));
  assert.ok(compared > 3000, `only ${compared} points compared`);
});
