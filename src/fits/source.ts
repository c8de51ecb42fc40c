/**
 * Random-access byte sources for FITS files: a file read with positioned reads (nothing is read
 * until asked for), or bytes in memory (small files, decompressed `.fits.gz`).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { TesseraError } from '../util/errors.js';

export interface ByteSource {
  readonly size: number;
  /** Read exactly dst.length bytes at pos into dst (throws a TesseraError past the end). */
  readInto(dst: Uint8Array, pos: number): void;
  /** Up to len bytes at pos (fewer at the end of the source). */
  read(pos: number, len: number): Uint8Array;
  close(): void;
}

export class MemorySource implements ByteSource {
  readonly size: number;
  constructor(readonly bytes: Uint8Array, readonly name: string) {
    this.size = bytes.length;
  }
  readInto(dst: Uint8Array, pos: number): void {
    if (pos < 0 || pos + dst.length > this.size) {
      throw new TesseraError(`${this.name}: read of ${dst.length} bytes at ${pos} runs past the end of the file (${this.size} bytes)`);
    }
    dst.set(this.bytes.subarray(pos, pos + dst.length));
  }
  read(pos: number, len: number): Uint8Array {
    return this.bytes.subarray(pos, Math.min(this.size, pos + len));
  }
  close(): void { /* nothing to release */ }
}

export class FileSource implements ByteSource {
  readonly size: number;
  private fd: number | undefined;
  constructor(readonly name: string) {
    try {
      this.fd = openSync(name, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new TesseraError(`${name}: cannot open (${code === 'ENOENT' ? 'no such file' : code ?? String(e)})`);
    }
    const st = fstatSync(this.fd);
    if (!st.isFile()) {
      closeSync(this.fd);
      this.fd = undefined;
      throw new TesseraError(`${name}: not a regular file`);
    }
    this.size = st.size;
  }
  private handle(): number {
    if (this.fd === undefined) throw new TesseraError(`${this.name}: file already closed`);
    return this.fd;
  }
  readInto(dst: Uint8Array, pos: number): void {
    if (pos < 0 || pos + dst.length > this.size) {
      throw new TesseraError(`${this.name}: read of ${dst.length} bytes at ${pos} runs past the end of the file (${this.size} bytes)`);
    }
    const fd = this.handle();
    let off = 0;
    while (off < dst.length) {
      // readSync caps one call at 2 GB; loop for big reads and short reads.
      const n = readSync(fd, dst, off, Math.min(dst.length - off, 0x40000000), pos + off);
      if (n <= 0) throw new TesseraError(`${this.name}: unexpected end of file at byte ${pos + off}`);
      off += n;
    }
  }
  read(pos: number, len: number): Uint8Array {
    const n = Math.max(0, Math.min(len, this.size - pos));
    const out = new Uint8Array(n);
    if (n) this.readInto(out, pos);
    return out;
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
