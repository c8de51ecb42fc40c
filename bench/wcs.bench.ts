/**
 * WCS: pixel→sky and sky→pixel of 1M points through a DECam-like TPV header and an
 * ACS-like SIP header, against astropy (wcslib) all_pix2world / all_world2pix, timed inside
 * Python so that process start-up is not counted.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, havePython, timeBest, type BenchModule } from './harness.js';
import { HeaderText, Wcs } from '../src/wcs/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', '..', 'test', 'fixtures', 'wcs');
const N = 1_000_000;

const PY = `
import sys, time, json, warnings, numpy as np
from astropy.io import fits
from astropy.wcs import WCS
head, xyfile, rdfile, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
h = fits.Header.fromstring(open(head).read(), sep='\\n')
if h['CTYPE1'] == 'RA---TAN' and 'PV1_1' in h:
    h['CTYPE1'] = 'RA---TPV'; h['CTYPE2'] = 'DEC--TPV'
with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    w = WCS(h)
xy = np.fromfile(xyfile, dtype='<f8').reshape(2, n)
rd = np.fromfile(rdfile, dtype='<f8').reshape(2, n)
def best(f, k=3):
    f(); t = 1e9
    for _ in range(k):
        t0 = time.perf_counter(); f(); t = min(t, time.perf_counter() - t0)
    return t
tp = best(lambda: w.all_pix2world(xy[0], xy[1], 1))
ts = best(lambda: w.all_world2pix(rd[0], rd[1], 1, tolerance=1e-6, maxiter=50))
ra, dec = w.all_pix2world(xy[0], xy[1], 1)
x, y = w.all_world2pix(rd[0], rd[1], 1, tolerance=1e-6, maxiter=50)
dra = (ra - rd[0] + 180) % 360 - 180
sep = np.hypot(dra * np.cos(np.radians(dec)), dec - rd[1]) * 3.6e6
print(json.dumps({'pix2sky': tp, 'sky2pix': ts, 'maxSepMas': float(np.nanmax(sep)), 'maxPix': float(np.nanmax(np.abs(np.concatenate([x - xy[0], y - xy[1]]))))}))
`;

function points(w: Wcs): { x: Float64Array; y: Float64Array } {
  const [W, H] = w.naxis!;
  const x = new Float64Array(N);
  const y = new Float64Array(N);
  let s = 42;
  for (let i = 0; i < N; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = 0.5 + (W * s) / 4294967296;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    y[i] = 0.5 + (H * s) / 4294967296;
  }
  return { x, y };
}

export default {
  name: 'wcs',
  async run() {
    const py = havePython('astropy.wcs', 'numpy');
    const rows: string[] = [];
    const notes: string[] = [];
    const tmp = mkdtempSync(join(tmpdir(), 'tessera-bench-wcs-'));
    try {
      for (const [file, label] of [['decam_tpv.head', 'DECam-like TPV (3rd order)'], ['hst_sip.head', 'ACS-like TAN-SIP (order 4, AP/BP)']] as const) {
        const headPath = join(fixtures, file);
        const w = Wcs.fromHeader(HeaderText.parse(readFileSync(headPath, 'utf8'), file), file);
        const { x, y } = points(w);
        const tP = await timeBest(() => w.pixToSky(x, y, 1));
        const sky = w.pixToSky(x, y, 1);
        const tS = await timeBest(() => w.skyToPix(sky.ra, sky.dec, 1));
        let peer: { pix2sky: number; sky2pix: number; maxSepMas: number; maxPix: number } | undefined;
        if (py) {
          const xyFile = join(tmp, 'xy.f8');
          const rdFile = join(tmp, 'rd.f8');
          const xy = new Float64Array(2 * N);
          xy.set(x, 0);
          xy.set(y, N);
          const rd = new Float64Array(2 * N);
          rd.set(sky.ra, 0);
          rd.set(sky.dec, N);
          writeFileSync(xyFile, new Uint8Array(xy.buffer));
          writeFileSync(rdFile, new Uint8Array(rd.buffer));
          const r = spawnSync('/usr/bin/python3', ['-c', PY, headPath, xyFile, rdFile, String(N)], { encoding: 'utf8', maxBuffer: 1 << 20 });
          if (r.status !== 0) throw new Error(`astropy benchmark failed: ${r.stderr.slice(-800)}`);
          peer = JSON.parse(r.stdout.trim().split('\n').pop()!);
        }
        rows.push(`| ${label} | pix→sky | ${fmt.s(tP)} | ${peer ? fmt.s(peer.pix2sky) : 'n/a'} | ${peer ? fmt.ratio(tP, peer.pix2sky) : 'n/a'} |`);
        rows.push(`| ${label} | sky→pix | ${fmt.s(tS)} | ${peer ? fmt.s(peer.sky2pix) : 'n/a'} | ${peer ? fmt.ratio(tS, peer.sky2pix) : 'n/a'} |`);
        if (peer) notes.push(`${label}: largest difference from astropy ${peer.maxSepMas.toExponential(2)} mas (pix→sky), ${peer.maxPix.toExponential(2)} px (astropy's sky→pix at tolerance 1e-6 px vs the original pixels).`);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    const body = [
      `1,000,000 random points over the CCD (FITS pixels), one thread, best of 3. Tessera: \`Wcs.pixToSky\` / \`Wcs.skyToPix\` (Float64Array in and out; inverse by Newton iteration to 1e-10 px). Peer: astropy ${py ? '' : '(NOT INSTALLED: no peer figures) '}\`all_pix2world\` / \`all_world2pix(tolerance=1e-6)\` on numpy arrays, timed inside Python. Ratio = Tessera / astropy (below 1 is faster).`,
      '',
      '| header | direction | Tessera | astropy | ratio |',
      '|---|---|---|---|---|',
      ...rows,
      '',
      ...notes.map((n) => `- ${n}`),
    ].join('\n');
    return [{ title: 'WCS: pixel ↔ sky, 1M points', body }];
  },
} satisfies BenchModule;
