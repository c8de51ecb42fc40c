/**
 * Checking a FITS file the way `fitsverify` does, within what Tessera reads: the structure
 * (headers, sizes, mandatory keywords in order), every value parses, every data unit decodes
 * (images, tile-compressed images, tables with their heaps), and CHECKSUM/DATASUM when present.
 */
import { TesseraError } from '../util/errors.js';
import { FitsReader, type HduInfo } from './reader.js';
import type { ChecksumResult } from './checksum.js';

export interface HduReport {
  index: number;
  extname?: string;
  type: string;
  sums: ChecksumResult;
  problems: string[];
}

export interface VerifyReport {
  path: string;
  /** Problems that stopped the file from being read at all (structure). */
  fileProblems: string[];
  hdus: HduReport[];
  ok: boolean;
}

function mandatoryOrder(h: HduInfo): string[] {
  const hd = h.header;
  const keys = hd.cards.map((c) => c.key.toUpperCase());
  const want: string[] = [h.index === 0 ? 'SIMPLE' : 'XTENSION', 'BITPIX', 'NAXIS'];
  const naxis = hd.optionalNumber('NAXIS') ?? 0;
  for (let i = 1; i <= naxis; i++) want.push(`NAXIS${i}`);
  if (h.index > 0) want.push('PCOUNT', 'GCOUNT');
  if (h.type === 'bintable' || h.type === 'table' || h.type === 'compressed-image') want.push('TFIELDS');
  const problems: string[] = [];
  for (let i = 0; i < want.length; i++) {
    if (keys[i] !== want[i]) {
      problems.push(`mandatory keyword ${want[i]} should be card ${i + 1}${keys.includes(want[i]!) ? ` (found as card ${keys.indexOf(want[i]!) + 1})` : ' (missing)'}`);
      break;
    }
  }
  return problems;
}

export function verifyFile(path: string): VerifyReport {
  const report: VerifyReport = { path, fileProblems: [], hdus: [], ok: true };
  let f: FitsReader;
  try {
    f = FitsReader.open(path);
  } catch (e) {
    if (!(e instanceof TesseraError)) throw e;
    report.fileProblems.push(e.message);
    report.ok = false;
    return report;
  }
  for (const w of f.warnings) report.fileProblems.push(w);
  if (f.warnings.length) report.ok = false;
  try {
    for (const h of f.hdus) {
      const r: HduReport = { index: h.index, type: h.type, sums: { checksum: 'absent', datasum: 'absent', computedDatasum: '' }, problems: [] };
      if (h.extname) r.extname = h.extname;
      r.problems.push(...mandatoryOrder(h));
      for (const c of h.header.cards) if (c.malformed) r.problems.push(`keyword ${c.key}: cannot parse the value ${JSON.stringify(String(c.value))}`);
      try {
        if (h.type === 'image' || h.type === 'compressed-image') f.readImage(h.index);
        else f.readTable(h.index);
      } catch (e) {
        if (!(e instanceof TesseraError)) throw e;
        r.problems.push(e.message.replace(`${h.header.where}: `, ''));
      }
      r.sums = f.checksums(h.index);
      if (r.sums.checksum === 'bad') r.problems.push('CHECKSUM does not verify (header or data changed)');
      if (r.sums.datasum === 'bad') r.problems.push(`DATASUM ${String(h.header.get('DATASUM'))} does not match the data (computed ${r.sums.computedDatasum})`);
      if (r.problems.length) report.ok = false;
      report.hdus.push(r);
    }
  } finally {
    f.close();
  }
  return report;
}
