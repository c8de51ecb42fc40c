/**
 * Sky geometry side by side with the Python peers, on the same generated data:
 *  - cross-match of 1M × 1M random rows in a 3°×3° field: Tessera's zone index (nearest at any
 *    distance, the semantics of astropy's match_coordinates_sky, and nearest within 1″) vs
 *    astropy.coordinates.match_coordinates_sky (KD-tree), timed inside Python around the call;
 *  - ang2pix of 1M points (nside 2^14, RING and NESTED) vs healpy.ang2pix, timed inside Python.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fmt, havePython, timeBest, type BenchModule } from './harness.js';
import { matchNearest } from '../src/sky/match.js';
import { Healpix } from '../src/sky/healpix.js';

const N = 1_000_000;

function field(seed: number, n: number): [Float64Array, Float64Array] {
  let s = seed >>> 0;
  const r = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  const ra = new Float64Array(n), dec = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    dec[i] = -31.5 + 3 * r();
    ra[i] = 150 + (3 * r() - 1.5) / Math.cos((dec[i]! * Math.PI) / 180);
  }
  return [ra, dec];
}

function python(script: string, dir: string): string {
  const r = spawnSync('/usr/bin/python3', ['-c', script, dir], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr.slice(-800)}`);
  return r.stdout;
}

export default {
  name: 'sky',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-sky-'));
    try {
      const [ra1, dec1] = field(1, N);
      const [ra2, dec2] = field(2, N);
      for (const [name, a] of [['ra1', ra1], ['dec1', dec1], ['ra2', ra2], ['dec2', dec2]] as const) writeFileSync(join(dir, `${name}.bin`), a);

      /* ---- cross-match ---- */
      let nearestAll = matchNearest(ra1, dec1, ra2, dec2, Infinity);
      const tAll = await timeBest(() => { nearestAll = matchNearest(ra1, dec1, ra2, dec2, Infinity); }, 2);
      let within = matchNearest(ra1, dec1, ra2, dec2, 1);
      const t1 = await timeBest(() => { within = matchNearest(ra1, dec1, ra2, dec2, 1); }, 2);
      let nWithin = 0;
      for (let i = 0; i < N; i++) if (within.index[i]! >= 0) nWithin++;
      writeFileSync(join(dir, 'ours.bin'), nearestAll.index);

      let matchRows: string[];
      if (havePython('astropy', 'numpy')) {
        const out = python(`
import sys, time, numpy as np
import astropy.units as u
from astropy.coordinates import SkyCoord, match_coordinates_sky
d = sys.argv[1]
ld = lambda n: np.fromfile(d + '/' + n + '.bin')
c1 = SkyCoord(ld('ra1') * u.deg, ld('dec1') * u.deg); c2 = SkyCoord(ld('ra2') * u.deg, ld('dec2') * u.deg)
best = 1e9
for k in range(2):
    t = time.perf_counter(); idx, sep, _ = match_coordinates_sky(c1, c2); best = min(best, time.perf_counter() - t)
ours = np.fromfile(d + '/ours.bin', dtype=np.int32)
print(best, np.mean(ours == idx))
`, dir).trim().split(/\s+/);
        const tPy = Number(out[0]), agree = Number(out[1]);
        matchRows = [
          `| nearest neighbour, any distance (match_coordinates_sky semantics) | ${fmt.s(tAll)} | ${fmt.s(tPy)} | ${fmt.ratio(tAll, tPy)} |`,
          `| nearest within 1″ (${(100 * nWithin / N).toFixed(1)}% matched) | ${fmt.s(t1)} | ${fmt.s(tPy)} | ${fmt.ratio(t1, tPy)} |`,
          '',
          `Same nearest neighbour as astropy for ${(100 * agree).toFixed(4)}% of the rows (the rest are exact distance ties or differ below 1e-10″).`,
        ];
      } else {
        matchRows = [
          `| nearest neighbour, any distance | ${fmt.s(tAll)} | n/a | n/a |`,
          `| nearest within 1″ | ${fmt.s(t1)} | n/a | n/a |`,
          '',
          'python3-astropy not installed: no peer figure.',
        ];
      }

      /* ---- ang2pix ---- */
      const nside = 16384;
      const h = new Healpix(nside);
      const th = new Float64Array(N), ph = new Float64Array(N);
      for (let i = 0; i < N; i++) { th[i] = Math.PI / 2 - (dec1[i]! * Math.PI) / 180; ph[i] = (ra1[i]! * Math.PI) / 180; }
      // all-sky points as well (the field above is small)
      const [ras, decs] = [new Float64Array(N), new Float64Array(N)];
      let s = 7;
      for (let i = 0; i < N; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        ras[i] = (s / 2 ** 32) * 2 * Math.PI;
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        decs[i] = Math.acos(2 * (s / 2 ** 32) - 1);
      }
      writeFileSync(join(dir, 'th.bin'), decs);
      writeFileSync(join(dir, 'ph.bin'), ras);
      const outR = new Float64Array(N), outN = new Float64Array(N);
      const tRing = await timeBest(() => { for (let i = 0; i < N; i++) outR[i] = h.ang2pix(decs[i]!, ras[i]!, false); }, 3);
      const tNest = await timeBest(() => { for (let i = 0; i < N; i++) outN[i] = h.ang2pix(decs[i]!, ras[i]!, true); }, 3);
      writeFileSync(join(dir, 'pr.bin'), outR);
      writeFileSync(join(dir, 'pn.bin'), outN);
      let hpRows: string[];
      if (havePython('healpy', 'numpy')) {
        const out = python(`
import sys, time, numpy as np, healpy as hp
d = sys.argv[1]
th = np.fromfile(d + '/th.bin'); ph = np.fromfile(d + '/ph.bin')
res = []
for nest, f in ((False, 'pr'), (True, 'pn')):
    best = 1e9
    for k in range(3):
        t = time.perf_counter(); p = hp.ang2pix(${nside}, th, ph, nest=nest); best = min(best, time.perf_counter() - t)
    ours = np.fromfile(d + '/' + f + '.bin')
    res += [best, int(np.sum(ours != p))]
print(*res)
`, dir).trim().split(/\s+/).map(Number);
        hpRows = [
          `| ang2pix RING, 1M points, nside ${nside} | ${fmt.s(tRing)} | ${fmt.s(out[0]!)} | ${fmt.ratio(tRing, out[0]!)} |`,
          `| ang2pix NESTED, 1M points, nside ${nside} | ${fmt.s(tNest)} | ${fmt.s(out[2]!)} | ${fmt.ratio(tNest, out[2]!)} |`,
          '',
          `Pixel numbers differing from healpy: ${out[1]} (RING), ${out[3]} (NESTED) of ${N}.`,
        ];
      } else {
        hpRows = [`| ang2pix RING | ${fmt.s(tRing)} | n/a | n/a |`, `| ang2pix NESTED | ${fmt.s(tNest)} | n/a | n/a |`, '', 'python3-healpy not installed: no peer figure.'];
      }

      return [
        {
          title: 'Sky: cross-match 1M × 1M (vs astropy match_coordinates_sky)',
          body: [
            `Two catalogs of ${N.toLocaleString('en')} random positions in a 3°×3° field at Dec −30 (same files for both). Tessera: \`matchNearest\` (zone index, index build included), one process, one thread. astropy 5.2: \`match_coordinates_sky\` (KD-tree build included), timed inside Python around the call. Best of 2.`,
            '',
            '| match | Tessera | astropy | ratio |',
            '|---|---|---|---|',
            ...matchRows,
          ].join('\n'),
        },
        {
          title: 'Sky: HEALPix ang2pix (vs healpy)',
          body: [
            `${N.toLocaleString('en')} uniform all-sky points; healpy 1.16 timed inside Python (vectorised C++), Tessera a plain loop over \`Healpix.ang2pix\`. Best of 3.`,
            '',
            '| operation | Tessera | healpy | ratio |',
            '|---|---|---|---|',
            ...hpRows,
          ].join('\n'),
        },
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
} satisfies BenchModule;
