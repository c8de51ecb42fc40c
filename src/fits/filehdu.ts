/**
 * The `FILE[HDU]` syntax of the command line: `a.fits[3]` (0-based index), `x.fits.fz[N4]`
 * (EXTNAME), or a plain path (no HDU given).
 */
import { UsageError } from '../util/errors.js';

export interface FileHdu {
  path: string;
  /** 0-based index, EXTNAME, or undefined when no brackets were given. */
  hdu?: number | string;
}

export function parseFileHdu(spec: string): FileHdu {
  const m = /^(.*)\[([^\[\]]*)\]$/.exec(spec);
  if (!m) {
    if (/[[\]]/.test(spec)) {
      throw new UsageError(`'${spec}': expected FILE or FILE[HDU], e.g. image.fits[1] or image.fits.fz[N4]`);
    }
    return { path: spec };
  }
  const path = m[1]!;
  const sel = m[2]!.trim();
  if (!path || !sel) throw new UsageError(`'${spec}': expected FILE[HDU] with a file name and an HDU index or EXTNAME inside the brackets`);
  return { path, hdu: /^\d+$/.test(sel) ? Number(sel) : sel };
}
