import { readFileSync } from 'node:fs';
import type { CommandIO, CommandSpec, ParsedArgs } from '../args.js';
import { intOpt, positional } from '../args.js';
import { TesseraError, UsageError } from '../../util/errors.js';
import { FitsReader } from '../../fits/reader.js';
import { parseFileHdu } from '../../fits/filehdu.js';
import { HeaderText, Wcs } from '../../wcs/index.js';

/**
 * The WCS of FILE[HDU]. A FITS file (plain, .fz, .gz): the named HDU, or else the first HDU
 * whose (image) header has CTYPE1. Any other file is read as header text (a SCAMP `.head`).
 */
export function loadWcs(spec: string): Wcs {
  const { path, hdu } = parseFileHdu(spec);
  const head = readFileSync(path).subarray(0, 6).toString('latin1');
  const isFits = head.startsWith('SIMPLE') || head.charCodeAt(0) === 0x1f;
  if (!isFits) {
    if (hdu !== undefined) throw new UsageError(`${path} is a header text file; it has no HDUs to select with [${hdu}]`);
    return Wcs.fromHeader(HeaderText.parse(readFileSync(path, 'utf8'), path), path);
  }
  const r = FitsReader.open(path);
  try {
    if (hdu !== undefined) {
      const info = r.hdu(hdu);
      const h = r.imageHeader(hdu);
      return Wcs.fromHeader(h, `${path}[${hdu}]${info.extname && info.extname !== hdu ? ` '${info.extname}'` : ''}`);
    }
    for (let i = 0; i < r.hdus.length; i++) {
      const h = r.imageHeader(i);
      if (h.get('CTYPE1') !== undefined) return Wcs.fromHeader(h, `${path}[${i}]`);
    }
    throw new TesseraError(`${path}: no HDU has a WCS (CTYPE1)`);
  } finally {
    r.close();
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Pairs of numbers from text, one pair per line; blank lines and # comments skipped. */
export function parsePairs(text: string, what: [string, string]): { a: Float64Array; b: Float64Array } {
  const lines = text.split('\n');
  const a = new Float64Array(lines.length);
  const b = new Float64Array(lines.length);
  let n = 0;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    const hash = line.indexOf('#');
    if (hash >= 0) line = line.slice(0, hash);
    line = line.trim();
    if (line === '') continue;
    const tok = line.split(/[\s,]+/);
    const u = Number(tok[0]);
    const v = Number(tok[1]);
    if (tok.length !== 2 || !Number.isFinite(u) || !Number.isFinite(v)) {
      throw new TesseraError(`stdin line ${i + 1}: expected two numbers (${what[0]} ${what[1]}), got '${line.length > 60 ? line.slice(0, 60) + '…' : line}'`);
    }
    a[n] = u;
    b[n] = v;
    n++;
  }
  return { a: a.subarray(0, n), b: b.subarray(0, n) };
}

async function writeLines(io: CommandIO, a: Float64Array, b: Float64Array, decimals: number): Promise<void> {
  const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(decimals) : 'nan');
  const CHUNK = 8192;
  for (let i = 0; i < a.length; i += CHUNK) {
    const end = Math.min(a.length, i + CHUNK);
    let s = '';
    for (let k = i; k < end; k++) s += `${fmt(a[k]!)} ${fmt(b[k]!)}\n`;
    if (!io.stdout.write(s)) await new Promise<void>((res) => io.stdout.once('drain', () => res()));
  }
}

function origin(args: ParsedArgs): 0 | 1 {
  const o = intOpt(args, 'origin') ?? 1;
  if (o !== 0 && o !== 1) throw new UsageError(`--origin must be 0 or 1, got ${o}`);
  return o;
}

const DETAILS = `FILE is a FITS file (.fits, .fits.fz, .fits.gz) with an optional HDU by index or EXTNAME,
e.g. exposure.fits.fz[N4] or image.fits[1]; without [HDU] the first HDU with a WCS is used.
A non-FITS file is read as header text (one card per line, like a SCAMP .head file).
Input lines hold two numbers separated by spaces, tabs or a comma; blank lines and text after
'#' are skipped. Output has one line per input pair: degrees with 12 decimals (4 µas), pixels
with 10; points that do not project
are printed as 'nan nan'. Pixels follow the FITS convention (first pixel centre = 1,1) unless
--origin 0 is given. Supported: TAN, SIN, ARC, ZEA, STG, CAR, AIT; SIP (TAN-SIP) and TPV
(also SCAMP's TAN + PVi_j) distortions. RADESYS FK5 (J2000) is treated as ICRS.`;

const ORIGIN_OPT = { name: 'origin', type: 'string' as const, valueName: '0|1', description: 'pixel convention: 1 = FITS (first pixel centre 1,1), 0 = zero-based', default: '1' };

export const commands: CommandSpec[] = [
  {
    name: 'wcs pix2sky',
    summary: 'pixel → RA/Dec for pairs read from stdin (like xy2sky)',
    usage: 'FILE[HDU] < pixels.txt',
    options: [ORIGIN_OPT],
    details: DETAILS,
    async run(args, io) {
      const wcs = loadWcs(positional(args, 0, 'FILE[HDU]', 'wcs pix2sky'));
      const o = origin(args);
      const { a, b } = parsePairs(await readAll(io.stdin), ['x', 'y']);
      const s = wcs.pixToSky(a, b, o);
      await writeLines(io, s.ra, s.dec, 12);
    },
  },
  {
    name: 'wcs sky2pix',
    summary: 'RA/Dec (degrees) → pixel for pairs read from stdin (like sky2xy)',
    usage: 'FILE[HDU] < radec.txt',
    options: [ORIGIN_OPT],
    details: DETAILS,
    async run(args, io) {
      const wcs = loadWcs(positional(args, 0, 'FILE[HDU]', 'wcs sky2pix'));
      const o = origin(args);
      const { a, b } = parsePairs(await readAll(io.stdin), ['ra', 'dec']);
      const p = wcs.skyToPix(a, b, o);
      await writeLines(io, p.x, p.y, 10);
    },
  },
];
