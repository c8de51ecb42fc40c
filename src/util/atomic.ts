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
 * A file that either exists complete or not at all: bytes go to a temporary name in the same
 * directory; finish() fsyncs, renames and fsyncs the directory; abort() removes the temporary.
 * A crash or an error mid-write (a full disk) leaves the previous file, if any, untouched.
 * For output produced over time (results arriving from workers); writeAtomicStream wraps it.
 */
export class AtomicFile implements AtomicOutput {
  private fd: number;
  private readonly tmp: string;
  offset = 0;
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.tmp = join(dirname(path), `.tmp-${basename(path)}-${process.pid}-${randomBytes(4).toString('hex')}`);
    this.fd = openSync(this.tmp, 'w');
  }
  write(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off, this.offset + off);
    this.offset += bytes.length;
  }
  writeAt(bytes: Uint8Array, at: number): void {
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off, at + off);
  }
  finish(): void {
    try {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = -1;
      renameSync(this.tmp, this.path);
    } catch (e) {
      this.abort();
      throw e;
    }
    // fsync the directory so the rename itself survives a power loss.
    try {
      const dfd = openSync(dirname(this.path), 'r');
      try { fsyncSync(dfd); } finally { closeSync(dfd); }
    } catch { /* some filesystems refuse fsync on directories */ }
  }
  abort(): void {
    if (this.fd >= 0) { try { closeSync(this.fd); } catch { /* closed */ } this.fd = -1; }
    try { unlinkSync(this.tmp); } catch { /* already gone */ }
  }
}

/** Write a file atomically from a producer that writes it piece by piece (see AtomicFile). */
export function writeAtomicStream(path: string, produce: (out: AtomicOutput) => void): void {
  const file = new AtomicFile(path);
  try {
    produce(file);
  } catch (e) {
    file.abort();
    throw e;
  }
  file.finish();
}

/** writeAtomicStream for data already in memory. */
export function writeFileAtomic(path: string, data: Uint8Array | string | readonly Uint8Array[]): void {
  const chunks = typeof data === 'string' ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;
  writeAtomicStream(path, (out) => {
    for (const chunk of chunks) out.write(chunk);
  });
}
