import { boolOpt, positional, type CommandSpec } from '../args.js';
import { FitsReader, type HduInfo } from '../../fits/reader.js';
import { parseFileHdu } from '../../fits/filehdu.js';
import { verifyFile } from '../../fits/verify.js';

/** fits compress / fits decompress live with the codecs. */
import { compressCommands } from '../fits-compress.js';

function dims(h: HduInfo): string {
  const hd = h.header;
  if (h.type === 'bintable' || h.type === 'table') {
    return `${hd.get('NAXIS2')} rows × ${hd.get('TFIELDS')} columns`;
  }
  const prefix = h.type === 'compressed-image' ? 'ZNAXIS' : 'NAXIS';
  const n = hd.optionalNumber(prefix) ?? 0;
  if (n === 0) return '(no data)';
  const d: number[] = [];
  for (let i = 1; i <= n; i++) d.push(hd.optionalNumber(`${prefix}${i}`) ?? 0);
  return d.join('×');
}

function hduRow(h: HduInfo): Record<string, string | number | null> {
  const hd = h.header;
  const compressed = h.type === 'compressed-image';
  let compression: string | null = null;
  if (compressed) {
    compression = String(hd.get('ZCMPTYPE') ?? '?').trim();
    const q = hd.get('ZQUANTIZ');
    if (typeof q === 'string' && Number(hd.get('ZBITPIX')) < 0) compression += ` ${q.trim()}`;
  }
  return {
    index: h.index,
    extname: h.extname ?? null,
    type: h.type,
    bitpix: Number(compressed ? hd.get('ZBITPIX') : hd.get('BITPIX')),
    dimensions: dims(h),
    compression,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
  return rows.map((r) => r.map((c, j) => (j === r.length - 1 ? c : c.padEnd(widths[j]!))).join('  ').trimEnd()).join('\n') + '\n';
}

function openFile(path: string): FitsReader {
  return FitsReader.open(path);
}

export const commands: CommandSpec[] = [
  {
    name: 'fits info',
    summary: 'list the HDUs of a FITS file (type, EXTNAME, dimensions, BITPIX, compression)',
    usage: 'FILE',
    options: [{ name: 'json', type: 'boolean', description: 'print a JSON array instead of a table' }],
    details: 'Reads the headers only (the data units are skipped), so it is fast on big multi-extension files.\n' +
      'For tile-compressed HDUs BITPIX and dimensions are those of the image (ZBITPIX, ZNAXISn).',
    run(args, io) {
      const path = positional(args, 0, 'FILE', 'fits info');
      const f = openFile(path);
      try {
        const rows = f.hdus.map(hduRow);
        if (boolOpt(args, 'json')) {
          io.stdout.write(JSON.stringify(rows, null, 1) + '\n');
          return 0;
        }
        io.stdout.write(`${path}: ${rows.length} HDU${rows.length === 1 ? '' : 's'}\n`);
        io.stdout.write(table([
          ['#', 'EXTNAME', 'TYPE', 'BITPIX', 'DIMENSIONS', 'COMPRESSION'],
          ...rows.map((r) => [String(r.index), String(r.extname ?? '-'), String(r.type), String(r.bitpix), String(r.dimensions), String(r.compression ?? '-')]),
        ]));
      } finally {
        f.close();
      }
      return 0;
    },
  },
  {
    name: 'fits header',
    summary: 'print the header cards of one HDU (or of every HDU)',
    usage: 'FILE[HDU]',
    options: [
      { name: 'raw', type: 'boolean', description: 'for a tile-compressed HDU print the stored table header instead of the image header' },
    ],
    details: 'HDU is a 0-based index or an EXTNAME in brackets: x.fits[1], x.fits.fz[N4] (quote the argument in\n' +
      'the shell). Without brackets every HDU is printed, each after a line "# HDU n EXTNAME". Cards are\n' +
      'printed as stored, one 80-character card per line (trailing blanks removed).',
    run(args, io) {
      const spec = positional(args, 0, 'FILE[HDU]', 'fits header');
      const { path, hdu } = parseFileHdu(spec);
      const raw = boolOpt(args, 'raw');
      const f = openFile(path);
      try {
        const one = (h: HduInfo): string => {
          let lines: string[];
          if (h.type === 'compressed-image' && !raw) {
            lines = f.imageHeader(h.index).cardStrings();
            lines.push('END');
          } else {
            const bytes = Buffer.from(f.headerBytes(h.index)).toString('latin1');
            lines = [];
            for (let o = 0; o + 80 <= bytes.length; o += 80) {
              const card = bytes.slice(o, o + 80);
              lines.push(card);
              if (card.startsWith('END     ')) break;
            }
          }
          return lines.map((l) => l.trimEnd()).join('\n') + '\n';
        };
        if (hdu !== undefined) io.stdout.write(one(f.hdu(hdu)));
        else for (const h of f.hdus) io.stdout.write(`# HDU ${h.index}${h.extname ? ` ${h.extname}` : ''}\n${one(h)}`);
      } finally {
        f.close();
      }
      return 0;
    },
  },
  {
    name: 'fits verify',
    summary: 'check the structure, the data units and CHECKSUM/DATASUM of a FITS file',
    usage: 'FILE',
    details: 'Reads every HDU (decoding images, compressed tiles and tables with their heaps), checks the\n' +
      'mandatory keywords and their order, values that do not parse, and CHECKSUM/DATASUM where present.\n' +
      'Prints one line per HDU and exits 1 when anything is wrong, listing every problem.',
    run(args, io) {
      const path = positional(args, 0, 'FILE', 'fits verify');
      const r = verifyFile(path);
      for (const p of r.fileProblems) io.stdout.write(`problem: ${p}\n`);
      let n = r.fileProblems.length;
      for (const h of r.hdus) {
        const name = `HDU ${h.index}${h.extname ? ` '${h.extname}'` : ''} (${h.type})`;
        const sums = `CHECKSUM ${h.sums.checksum}, DATASUM ${h.sums.datasum}`;
        io.stdout.write(`${name}: ${h.problems.length ? 'PROBLEMS' : 'ok'} (${sums})\n`);
        for (const p of h.problems) io.stdout.write(`  problem: ${p}\n`);
        n += h.problems.length;
      }
      io.stdout.write(r.ok ? `${path}: ok\n` : `${path}: ${n} problem${n === 1 ? '' : 's'}\n`);
      return r.ok ? 0 : 1;
    },
  },
  ...compressCommands,
];
