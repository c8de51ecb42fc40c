/**
 * `tessera fits compress` and `tessera fits decompress`: fpack/funpack for whole files.
 */
import { boolOpt, intOpt, numberOpt, positional, stringOpt, type CommandSpec, type ParsedArgs } from './args.js';
import { UsageError } from '../util/errors.js';
import { compressFileThreaded, decompressFileThreaded, type FileOptions, type HduReport } from '../fits/compress/file.js';
import type { CompressOptions, CompressionType, DitherMethod } from '../fits/compress/types.js';

const TYPES: Record<string, CompressionType> = {
  rice: 'RICE_1', rice_1: 'RICE_1', gzip1: 'GZIP_1', gzip: 'GZIP_1', gzip_1: 'GZIP_1', gzip2: 'GZIP_2', gzip_2: 'GZIP_2',
  hcompress: 'HCOMPRESS_1', hcompress_1: 'HCOMPRESS_1', none: 'NOCOMPRESS', nocompress: 'NOCOMPRESS',
};
const DITHERS: Record<string, DitherMethod> = {
  '1': 'SUBTRACTIVE_DITHER_1', '2': 'SUBTRACTIVE_DITHER_2', none: 'NO_DITHER', '0': 'NO_DITHER',
  subtractive_dither_1: 'SUBTRACTIVE_DITHER_1', subtractive_dither_2: 'SUBTRACTIVE_DITHER_2', no_dither: 'NO_DITHER',
};

function checksumOpt(args: ParsedArgs): FileOptions['checksum'] {
  if (boolOpt(args, 'checksum') && boolOpt(args, 'no-checksum')) throw new UsageError('--checksum and --no-checksum exclude each other');
  return boolOpt(args, 'checksum') ? true : boolOpt(args, 'no-checksum') ? false : 'auto';
}

/** Parse the compression options of `tessera fits compress`. */
export function compressOptionsFrom(args: ParsedArgs): CompressOptions {
  const opts: CompressOptions = {};
  const t = stringOpt(args, 'type');
  if (t !== undefined) {
    const type = TYPES[t.toLowerCase()];
    if (!type) throw new UsageError(`--type: expected rice, gzip1, gzip2, hcompress or none, got '${t}'`);
    opts.type = type;
  }
  const q = numberOpt(args, 'q');
  if (q !== undefined) {
    if (q === 0) throw new UsageError('-q 0: use --lossless (with --type gzip1 or gzip2) for lossless floating-point compression');
    opts.quantizeLevel = q;
  }
  const d = stringOpt(args, 'dither');
  if (d !== undefined) {
    const dm = DITHERS[d.toLowerCase()];
    if (!dm) throw new UsageError(`--dither: expected 1, 2 or none, got '${d}'`);
    opts.dither = dm;
  }
  const seed = intOpt(args, 'seed');
  if (seed !== undefined) {
    if (seed < 1 || seed > 10000) throw new UsageError(`--seed: expected 1..10000, got ${seed}`);
    opts.ditherSeed = seed;
  }
  const tile = stringOpt(args, 'tile');
  if (tile !== undefined) {
    const parts = tile.toLowerCase().split(/[x,]/).map((s) => Number(s.trim()));
    if (!parts.length || parts.some((n) => !Number.isInteger(n) || n < 1)) {
      throw new UsageError(`--tile: expected sizes like 2048x16 or 100,100,1, got '${tile}'`);
    }
    opts.tile = parts;
  }
  const hs = numberOpt(args, 'hscale');
  if (hs !== undefined) opts.hcompressScale = hs;
  if (boolOpt(args, 'hsmooth')) opts.hcompressSmooth = true;
  if (boolOpt(args, 'lossless')) opts.lossless = true;
  return opts;
}

function threadsOpt(args: ParsedArgs): number | undefined {
  const n = intOpt(args, 'threads');
  if (n !== undefined && n < 1) throw new UsageError(`--threads: expected a positive integer, got ${n}`);
  return n;
}

function summary(report: HduReport[], io: { stdout: NodeJS.WritableStream }, verbose: boolean): void {
  if (!verbose) return;
  for (const r of report) {
    const name = r.extname ? ` '${r.extname}'` : '';
    const ratio = r.action === 'compressed' && r.outBytes ? ` (ratio ${(r.inBytes / r.outBytes).toFixed(2)})` : '';
    io.stdout.write(`HDU ${r.index}${name}: ${r.action}, ${r.inBytes} → ${r.outBytes} bytes${ratio}\n`);
  }
}

export const compressCommands: CommandSpec[] = [
  {
    name: 'fits compress',
    summary: 'tile-compress every image HDU of a FITS file (like fpack)',
    usage: 'IN OUT',
    options: [
      { name: 'type', short: 't', type: 'string', valueName: 'ALG', description: 'rice, gzip1, gzip2, hcompress or none', default: 'rice' },
      { name: 'q', short: 'q', type: 'string', valueName: 'Q', description: 'float quantization: step = noise/Q; a negative Q is the absolute step', default: '4' },
      { name: 'dither', type: 'string', valueName: 'D', description: 'float quantization dither: 1 (SUBTRACTIVE_DITHER_1), 2 (keeps exact zeros) or none', default: '1' },
      { name: 'seed', type: 'string', valueName: 'N', description: 'dither seed ZDITHER0, 1..10000 (default from the clock, as fpack)' },
      { name: 'tile', type: 'string', valueName: 'WxH', description: 'tile shape, e.g. 2048x16 (default: one row per tile; 16 rows for hcompress)' },
      { name: 'hscale', type: 'string', valueName: 'S', description: 'HCOMPRESS scale: > 0 times the tile noise, < 0 absolute; 0 = lossless', default: '0' },
      { name: 'hsmooth', type: 'boolean', description: 'HCOMPRESS: ask readers to smooth lossy tiles (ZVAL2 SMOOTH = 1)' },
      { name: 'lossless', type: 'boolean', description: 'floats without quantization (needs --type gzip1, gzip2 or none)' },
      { name: 'checksum', type: 'boolean', description: 'write CHECKSUM/DATASUM on every HDU' },
      { name: 'no-checksum', type: 'boolean', description: 'drop CHECKSUM/DATASUM (default: recompute on HDUs that had them)' },
      { name: 'threads', short: 'j', type: 'string', valueName: 'N', description: 'threads sharing the tiles of each image (default: 1 below two CCDs of image pixels, else the cores, at most 4; the output is the same for any N)' },
      { name: 'verbose', short: 'v', type: 'boolean', description: 'print each HDU and its compression ratio' },
    ],
    details: `
The primary HDU stays without data (a primary image moves to the first extension, ZSIMPLE = T);
every image extension is compressed; tables and already-compressed HDUs are copied. Headers are
kept. Integers are compressed losslessly; floats are quantized to noise/Q per tile (noise from
the median absolute 2nd/3rd/5th-order differences, as cfitsio) with subtractive dithering,
exactly as fpack's defaults: RICE_1, q = 4, SUBTRACTIVE_DITHER_1, row tiles. HCOMPRESS_1 uses
2-D tiles (default NAXIS1 × 16, as fpack; at least 4×4). Output is read by funpack, astropy and
cfitsio. PLIO_1 is read (decompress) but not written.`,
    async run(args, io) {
      const input = positional(args, 0, 'input file IN', 'fits compress');
      const output = positional(args, 1, 'output file OUT', 'fits compress');
      if (args.positionals.length > 2) throw new UsageError(`fits compress: expected IN OUT, got ${args.positionals.length} arguments`);
      const opts = compressOptionsFrom(args);
      const report = await compressFileThreaded(input, output, { ...opts, checksum: checksumOpt(args), threads: threadsOpt(args) });
      summary(report, io, boolOpt(args, 'verbose'));
      return 0;
    },
  },
  {
    name: 'fits decompress',
    summary: 'restore every tile-compressed image HDU of a FITS file (like funpack)',
    usage: 'IN OUT',
    options: [
      { name: 'checksum', type: 'boolean', description: 'write CHECKSUM/DATASUM on every HDU' },
      { name: 'no-checksum', type: 'boolean', description: 'drop CHECKSUM/DATASUM (default: recompute on HDUs that had them)' },
      { name: 'threads', short: 'j', type: 'string', valueName: 'N', description: 'threads sharing the tiles of each image (default: 1 below two CCDs of image pixels, else the cores, at most 4; the output is the same for any N)' },
      { name: 'verbose', short: 'v', type: 'boolean', description: 'print each HDU' },
    ],
    details: `
Reads RICE_1 (and RICE_ONE), GZIP_1, GZIP_2, HCOMPRESS_1 (with SMOOTH), PLIO_1 and NOCOMPRESS
tiles of any shape, dithered or not, with the GZIP_COMPRESSED_DATA and UNCOMPRESSED_DATA
fallbacks. A compressed primary image (ZSIMPLE) becomes the primary HDU again; tables are copied.`,
    async run(args, io) {
      const input = positional(args, 0, 'input file IN', 'fits decompress');
      const output = positional(args, 1, 'output file OUT', 'fits decompress');
      if (args.positionals.length > 2) throw new UsageError(`fits decompress: expected IN OUT, got ${args.positionals.length} arguments`);
      const report = await decompressFileThreaded(input, output, { checksum: checksumOpt(args), threads: threadsOpt(args) });
      summary(report, io, boolOpt(args, 'verbose'));
      return 0;
    },
  },
];
