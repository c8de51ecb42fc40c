/**
 * Errors that reach a user. A TesseraError is a user's mistake or bad data: the CLI prints its
 * message alone (no stack) and exits 1. A UsageError is a malformed command line: exit 2.
 * Anything else is a bug and is printed with its stack.
 */
export class TesseraError extends Error {
  override name = 'TesseraError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class UsageError extends TesseraError {
  override name = 'UsageError';
}

/** Prefix a message with where it happened: "file.fits[HDU 3 'N4']: message". */
export function where(file: string | undefined, hdu?: number | string, extname?: string): string {
  let s = file ?? '<memory>';
  if (hdu !== undefined) s += extname ? `[HDU ${hdu} '${extname}']` : `[HDU ${hdu}]`;
  return s;
}
