/**
 * Tile compression side by side with cfitsio's fpack/funpack on a 2048×4096 float32 CCD
 * (sky + read noise + ~1300 stars, generated here): whole-file compress (RICE_1, q = 4,
 * SUBTRACTIVE_DITHER_1, row tiles — fpack's defaults) and decompress, ours in-process and as a
 * `tessera` process (start-up included), the peers as processes.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fmt, have, type BenchModule } from './harness.js';
import { writeFits } from '../src/fits/writer.js';
import { FitsReader } from '../src/fits/reader.js';
import { compressFile, decompressFile } from '../src/fits/compress/file.js';
import { writeFileAtomic } from '../src/util/atomic.js';

const NX = 2048;
const NY = 4096;
const SIGMA = 32;

/** A realistic CCD: 1000 ADU sky with a gentle gradient, Gaussian noise σ = 32, 1300 stars. */
function ccd(): Float32Array {
  let s = 12345;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  const img = new Float32Array(NX * NY);
  for (let i = 0; i < img.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(rnd()));
    const t = 2 * Math.PI * rnd();
    const y = Math.floor(i / NX);
    const sky = 1000 + 0.01 * y;
    img[i] = sky + SIGMA * r * Math.cos(t);
    img[i + 1] = sky + SIGMA * r * Math.sin(t);
  }
  const sig = 1.8;
  for (let k = 0; k < 1300; k++) {
    const x0 = rnd() * NX;
    const y0 = rnd() * NY;
    const flux = 200 * Math.exp(rnd() * 7); // 200 .. 2e5 ADU
    const norm = flux / (2 * Math.PI * sig * sig);
    for (let y = Math.max(0, Math.floor(y0 - 8)); y < Math.min(NY, y0 + 9); y++) {
      for (let x = Math.max(0, Math.floor(x0 - 8)); x < Math.min(NX, x0 + 9); x++) {
        img[y * NX + x] += norm * Math.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sig * sig));
      }
    }
  }
  return img;
}

const here = dirname(fileURLToPath(import.meta.url));
const REPEAT = 5;
/** Runs for the other algorithms (keeps the section near two minutes). */
const MORE = 3;

interface Timing {
  wall: number;
  cpu: number;
}

/** Best wall time and best CPU time (user + system) of fn in this process, after a warm-up. */
async function inProcess(fn: () => unknown, repeat = REPEAT): Promise<Timing> {
  await fn();
  let wall = Infinity;
  let cpu = Infinity;
  for (let i = 0; i < repeat; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await fn();
    wall = Math.min(wall, Number(process.hrtime.bigint() - t0) / 1e9);
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6);
  }
  return { wall, cpu };
}

/** Best wall and CPU time of a command (CPU from /usr/bin/time when present), after a warm-up. */
function asProcess(cmd: string, args: string[], repeat = REPEAT): Timing {
  const timeBin = existsSync('/usr/bin/time');
  let wall = Infinity;
  let cpu = Infinity;
  for (let i = 0; i < repeat + 1; i++) {
    const argv = timeBin ? ['-f', '%U %S', cmd, ...args] : args;
    const t0 = process.hrtime.bigint();
    const r = spawnSync(timeBin ? '/usr/bin/time' : cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr?.toString().slice(-500)}`);
    if (i === 0) continue;
    wall = Math.min(wall, dt);
    if (timeBin) {
      const m = /([\d.]+) ([\d.]+)\s*$/.exec(r.stderr.toString());
      if (m) cpu = Math.min(cpu, Number(m[1]) + Number(m[2]));
    }
  }
  return { wall, cpu };
}
const tessera = join(here, '..', '..', 'bin', 'tessera.js');
/** Threads of the threaded rows: what the command uses by default on this machine. */
const THREADS = Math.min(4, availableParallelism());
/** CCDs in the multi-extension exposure file. */
const NCCD = 8;

function rmsError(a: Float32Array, b: Float32Array): { rms: number; max: number } {
  let s = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
    if (Math.abs(d) > m) m = Math.abs(d);
  }
  return { rms: Math.sqrt(s / a.length), max: m };
}

export default {
  name: 'fits-compress',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-fz-'));
    try {
      const img = ccd();
      const src = join(dir, 'ccd.fits');
      writeFits(src, [{ kind: 'image', data: null, shape: [] }, { kind: 'image', data: img, shape: [NX, NY], extname: 'CCD' }]);
      const rawMB = statSync(src).size / 1e6;
      const oursFz = join(dir, 'ours.fits.fz');
      const peerFz = join(dir, 'fpack.fits.fz');
      const oursOut = join(dir, 'ours.fits');
      const peerOut = join(dir, 'funpack.fits');
      const rows: string[][] = [];
      const peers = have('fpack') && have('funpack');

      // compress
      const cIn = await inProcess(() => compressFile(src, oursFz, { ditherSeed: 1 }));
      const cProc = asProcess('node', [tessera, 'fits', 'compress', src, oursFz, '--seed', '1', '--threads', '1']);
      const cProcT = asProcess('node', [tessera, 'fits', 'compress', src, oursFz, '--seed', '1', '--threads', String(THREADS)]);
      const cPeer = peers ? asProcess('sh', ['-c', `rm -f ${peerFz} && exec fpack -O ${peerFz} ${src}`]) : undefined;
      const oursMB = statSync(oursFz).size / 1e6;
      const peerMB = peers ? statSync(peerFz).size / 1e6 : NaN;

      // decompress: the same input (fpack's file) for both
      const input = peers ? peerFz : oursFz;
      const dIn = await inProcess(() => decompressFile(input, oursOut));
      const dProc = asProcess('node', [tessera, 'fits', 'decompress', input, oursOut, '--threads', '1']);
      const dProcT = asProcess('node', [tessera, 'fits', 'decompress', input, oursOut, '--threads', String(THREADS)]);
      const dPeer = peers ? asProcess('sh', ['-c', `rm -f ${peerOut} && exec funpack -O ${peerOut} ${input}`]) : undefined;
      // decode only (no file written), one HDU
      const r = FitsReader.open(input);
      const dec = await inProcess(() => r.readImage(1));
      r.close();

      const t = (x: Timing | undefined): string => (x ? `${fmt.s(x.wall)} (cpu ${fmt.s(x.cpu)})` : 'n/a');
      const ratio = (x: Timing, y: Timing | undefined): string =>
        y ? `${fmt.ratio(x.wall, y.wall)} (cpu ${Number.isFinite(x.cpu) && Number.isFinite(y.cpu) ? fmt.ratio(x.cpu, y.cpu) : 'n/a'})` : 'n/a';
      rows.push(['compress (whole file)', t(cIn), t(cProc), t(cProcT), t(cPeer), ratio(cIn, cPeer), ratio(cProc, cPeer), ratio(cProcT, cPeer)]);
      rows.push(['decompress (whole file)', t(dIn), t(dProc), t(dProcT), t(dPeer), ratio(dIn, dPeer), ratio(dProc, dPeer), ratio(dProcT, dPeer)]);
      rows.push(['decode one HDU in memory', t(dec), '', '', '', '', '', '']);
      // fixed costs of a process: Node itself, and Node + loading the fits commands
      const nodeStart = asProcess('node', ['-e', '0']);
      const cliStart = asProcess('node', [tessera, 'fits', 'info', input]);
      // the durability we pay and funpack does not: the same bytes written with and without
      // the fsync + rename of an atomic write
      const outBytes = readFileSync(oursOut);
      const plain = await inProcess(() => writeFileSync(join(dir, 'plain.fits'), outBytes));
      const atomic = await inProcess(() => writeFileAtomic(join(dir, 'atomic.fits'), outBytes));

      // fidelity: our restored pixels vs the original, and vs funpack's reading of the same file
      const back = FitsReader.open(oursOut).readImage(1).data as Float32Array;
      const errOurs = rmsError(FitsReader.open(decompressAndPath(oursFz, join(dir, 'own.fits'))).readImage(1).data as Float32Array, img);
      let agree = 'n/a';
      if (peers) {
        const theirs = FitsReader.open(peerOut).readImage(1).data as Float32Array;
        let same = 0;
        for (let i = 0; i < back.length; i++) if (Object.is(back[i], theirs[i])) same++;
        agree = `${same === back.length ? 'all' : same} of ${back.length} pixels bit-identical`;
      }

      // a multi-extension exposure file: NCCD CCDs, where a process's fixed start-up is shared
      // (the threaded rows are what the commands do by default on such a file)
      const expo = join(dir, 'exposure.fits');
      writeFits(expo, [{ kind: 'image', data: null, shape: [] }, ...Array.from({ length: NCCD }, (_, k) => ({ kind: 'image' as const, data: img, shape: [NX, NY], extname: `CCD${k + 1}` }))]);
      const expoFz = join(dir, 'exposure.fits.fz');
      const expoPeerFz = join(dir, 'exposure-fpack.fits.fz');
      const expoOut = join(dir, 'exposure-out.fits');
      const ec1 = asProcess('node', [tessera, 'fits', 'compress', expo, expoFz, '--seed', '1', '--threads', '1'], 2);
      const ecT = asProcess('node', [tessera, 'fits', 'compress', expo, expoFz, '--seed', '1', '--threads', String(THREADS)], 2);
      const ecPeer = peers ? asProcess('sh', ['-c', `rm -f ${expoPeerFz} && exec fpack -O ${expoPeerFz} ${expo}`], 2) : undefined;
      const expoIn = peers ? expoPeerFz : expoFz;
      const ed1 = asProcess('node', [tessera, 'fits', 'decompress', expoIn, expoOut, '--threads', '1'], 2);
      const edT = asProcess('node', [tessera, 'fits', 'decompress', expoIn, expoOut, '--threads', String(THREADS)], 2);
      const edPeer = peers ? asProcess('sh', ['-c', `rm -f ${expoOut}.p && exec funpack -O ${expoOut}.p ${expoIn}`], 2) : undefined;
      rmSync(expo);
      const exposure = `
A multi-extension exposure file, ${NCCD} such CCDs (${(NCCD * rawMB).toFixed(0)} MB), as processes (best of 2):

| operation | Tessera, 1 thread | Tessera, ${THREADS} threads | cfitsio | ratio, 1 thread | ratio, ${THREADS} threads |
|---|---|---|---|---|---|
| compress (fpack) | ${t(ec1)} | ${t(ecT)} | ${t(ecPeer)} | ${ratio(ec1, ecPeer)} | ${ratio(ecT, ecPeer)} |
| decompress (funpack) | ${t(ed1)} | ${t(edT)} | ${t(edPeer)} | ${ratio(ed1, edPeer)} | ${ratio(edT, edPeer)} |
`;

      const table = [
        `| operation | Tessera in-process | Tessera process, 1 thread | Tessera process, ${THREADS} threads | cfitsio (fpack/funpack) | ratio in-process | ratio process, 1 thread | ratio process, ${THREADS} threads |`,
        '|---|---|---|---|---|---|---|---|',
        ...rows.map((r) => `| ${r.join(' | ')} |`),
      ].join('\n');
      const body = `${table}

Fixed costs in these process figures: Node start-up alone (\`node -e 0\`) ${t(nodeStart)}; start-up
plus loading the fits commands (\`tessera fits info\` on the compressed file) ${t(cliStart)}.
Writing the ${(outBytes.length / 1e6).toFixed(1)} MB decompressed file: plain \`writeFileSync\` ${t(plain)},
atomic (temporary file + fsync + rename, what Tessera does) ${t(atomic)}; fpack/funpack do not
fsync. fpack/funpack are single-threaded; so are Tessera's in-process and "1 thread" figures.
\`tessera fits compress|decompress --threads N\` shares each image's tiles between the main thread
and worker threads, with byte-identical output; by default it does so (with the cores, here
${THREADS}) only for files of two CCDs or more: on a single CCD a worker's start-up and its own JIT
warm-up cost about what it saves.
${exposure}

Input: ${NX}×${NY} float32 CCD (${rawMB.toFixed(1)} MB; sky 1000 ADU, σ = ${SIGMA} ADU, 1300 stars), RICE_1, q = 4,
SUBTRACTIVE_DITHER_1, row tiles (fpack's defaults). Wall and CPU (user + system) times are the
best of ${REPEAT} runs each and include reading and writing the files (page cache; ours fsyncs its
output); "process" runs \`node bin/tessera.js\` (Node start-up and loading of the CLI included);
peers from Debian's libcfitsio-bin${peers ? '' : ' (not installed: peer columns empty)'}. On a
shared machine the CPU ratios are the steadier figure.
Decompression reads ${peers ? "fpack's" : 'our'} file in both tools.

| | Tessera | fpack |
|---|---|---|
| compressed size | ${oursMB.toFixed(2)} MB (ratio ${(rawMB / oursMB).toFixed(2)}) | ${peers ? `${peerMB.toFixed(2)} MB (ratio ${(rawMB / peerMB).toFixed(2)})` : 'n/a'} |
| rms / max error of the restored pixels | ${errOurs.rms.toFixed(2)} / ${errOurs.max.toFixed(2)} ADU | (σ/4/√12 = ${(SIGMA / 4 / Math.sqrt(12)).toFixed(2)} expected) |

Our decompression of fpack's file vs funpack's: ${agree}.`;
      // other algorithms and an integer (raw uint16) CCD, in-process against the peer processes
      const more: string[] = [];
      if (peers) {
        const u16 = new Uint16Array(NX * NY);
        for (let i = 0; i < u16.length; i++) u16[i] = Math.max(0, Math.min(65535, Math.round((img[i]! - 1000) / 4 + 1200)));
        const usrc = join(dir, 'u16.fits');
        writeFits(usrc, [{ kind: 'image', data: null, shape: [] }, { kind: 'image', data: u16, shape: [NX, NY], extname: 'RAW' }]);
        const cases: [string, string, Parameters<typeof compressFile>[2], string[], string[]][] = [
          ['uint16 raw CCD, RICE_1 (lossless)', usrc, {}, [], []],
          ['float32 CCD, HCOMPRESS_1 q = 4 (16-row tiles)', src, { type: 'HCOMPRESS_1', ditherSeed: 1 }, ['-h'], ['--type', 'hcompress', '--seed', '1']],
          ['float32 CCD, GZIP_2 q = 4', src, { type: 'GZIP_2', ditherSeed: 1 }, ['-g2'], ['--type', 'gzip2', '--seed', '1']],
        ];
        for (const [label, file, opts, flags, cliFlags] of cases) {
          const oz = join(dir, 'm.fz');
          const pz = join(dir, 'mp.fz');
          const c1 = await inProcess(() => compressFile(file, oz, opts), MORE);
          const c1p = asProcess('node', [tessera, 'fits', 'compress', file, oz, ...cliFlags], MORE);
          const c2 = asProcess('sh', ['-c', `rm -f ${pz} && exec fpack ${flags.join(' ')} -O ${pz} ${file}`], MORE);
          const d1 = await inProcess(() => decompressFile(pz, join(dir, 'm.fits')), MORE);
          const d1p = asProcess('node', [tessera, 'fits', 'decompress', pz, join(dir, 'm.fits')], MORE);
          const d2 = asProcess('sh', ['-c', `rm -f ${join(dir, 'mp.fits')} && exec funpack -O ${join(dir, 'mp.fits')} ${pz}`], MORE);
          more.push(`| ${label} | compress | ${t(c1)} | ${t(c1p)} | ${t(c2)} | ${ratio(c1, c2)} | ${ratio(c1p, c2)} | ${(statSync(oz).size / 1e6).toFixed(2)} / ${(statSync(pz).size / 1e6).toFixed(2)} MB |`);
          more.push(`| | decompress | ${t(d1)} | ${t(d1p)} | ${t(d2)} | ${ratio(d1, d2)} | ${ratio(d1p, d2)} | |`);
        }
      }
      const body2 = more.length
        ? `| data, algorithm | operation | Tessera in-process | Tessera process | fpack / funpack | ratio in-process | ratio process | size Tessera / fpack |
|---|---|---|---|---|---|---|---|
${more.join('\n')}

Same CCD; the uint16 image is the float one scaled to raw counts. Decompression reads fpack's file.
Wall and CPU (user + system) times, best of ${MORE}, as in the table above; the process runs use
the default (one thread for a file of one CCD).`
        : 'fpack/funpack not installed.';
      return [
        { title: 'FITS tile compression (RICE_1 float32 CCD) vs fpack/funpack', body },
        { title: 'FITS tile compression: other algorithms and integer data', body: body2 },
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
} satisfies BenchModule;

function decompressAndPath(fz: string, out: string): string {
  decompressFile(fz, out);
  return out;
}

