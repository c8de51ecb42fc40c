import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync, mkdirSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Where an atomic write's bytes go while they are produced. */
export interface AtomicOutput {
  /** Bytes written so far (the offset of the next write). */
  readonly offset: number;
  write(bytes: Uint8Array): void;
  /** Overwrite bytes already written at `at` (a header completed after its data, say). */
  writeAt(bytes: Uint8Array, at: number): void;
}

/**
 * Write a file so that it either exists complete or not at all: `produce` writes to a temporary
 * name in the same directory, then fsync, rename, fsync of the directory. A crash or an error
 * mid-write (a full disk) leaves the previous file, if any, untouched and no temporary behind.
 */
export function writeAtomicStream(path: string, produce: (out: AtomicOutput) => void): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.tmp-${basename(path)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fd = openSync(tmp, 'w');
  const out = {
    offset: 0,
    write(bytes: Uint8Array): void {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off, out.offset + off);
      out.offset += bytes.length;
    },
    writeAt(bytes: Uint8Array, at: number): void {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off, at + off);
    },
  };
  let closed = false;
  try {
    produce(out);
    fsyncSync(fd);
    closeSync(fd);
    closed = true;
    renameSync(tmp, path);
  } catch (e) {
    if (!closed) try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  // fsync the directory so the rename itself survives a power loss.
  try {
    const dfd = openSync(dir, 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* some filesystems refuse fsync on directories */ }
}

/** writeAtomicStream for data already in memory. */
export function writeFileAtomic(path: string, data: Uint8Array | string | readonly Uint8Array[]): void {
  const chunks = typeof data === 'string' ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;
  writeAtomicStream(path, (out) => {
    for (const chunk of chunks) out.write(chunk);
  });
}
