/**
 * Bad input: each case gives ONE TesseraError naming the file, the HDU and what is wrong; and a
 * seeded fuzz test (mutated bytes, truncations, scribbled header cards) that never sees any
 * other exception or a hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FitsReader } from '../../src/fits/reader.js';
import { TesseraError } from '../../src/util/errors.js';
import { rng as mulberry32, tempDir } from '../helpers.js';
import { compressedBytes, fixture, imagesFits } from './truth.js';

const dir = tempDir();

function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** Run fn and return the TesseraError message (fails on success or another exception). */
function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof TesseraError, `expected a TesseraError, got ${(e as Error)?.stack ?? e}`);
    return e.message;
  }
  assert.fail('expected an error');
}

/** Replace the value of a header card (first occurrence after `from`) in raw bytes. */
function setCard(bytes: Buffer, key: string, value: string, from = 0): Buffer {
  const out = Buffer.from(bytes);
  for (let o = from; o + 80 <= out.length; o += 80) {
    if (out.toString('latin1', o, o + 8).trimEnd() === key) {
      out.write(`${key.padEnd(8)}= ${value.padStart(20)}`.padEnd(80), o, 'latin1');
      return out;
    }
  }
  throw new Error(`no card ${key}`);
}

const images = () => readFileSync(imagesFits());
const table = () => readFileSync(fixture('table.fits'));

test('truncated in a data unit: names the HDU, the sizes and the likely cause', () => {
  const b = images();
  const p = file('trunc.fits', b.subarray(0, 2880 * 8 + 10));
  const m = message(() => FitsReader.open(p));
  assert.match(m, /trunc\.fits\[HDU 4 'I64'\]: data unit needs 280 bytes \(BITPIX=64, NAXIS1=7, NAXIS2=5, PCOUNT=0\) but the file ends 10 bytes after the header: truncated file or wrong NAXISn/);
});

test('truncated in a header, and a header without END', () => {
  const b = images();
  assert.match(message(() => FitsReader.open(file('trunc2.fits', b.subarray(0, 2880 * 3 + 400)))), /trunc2\.fits\[HDU 2\]: header starting at byte 8640 has no END card before the end of the file/);
  const noEnd = Buffer.from(b.subarray(0, 2880));
  const e = noEnd.indexOf('END     ');
  noEnd.write('XND', e, 'latin1');
  assert.match(message(() => FitsReader.open(file('noend.fits', noEnd))), /noend\.fits\[HDU 0\]: header starting at byte 0 has no END card/);
  // A primary header without END followed by an extension: say END is missing, not "unexpected bytes".
  const mef = Buffer.from(b);
  const e0 = mef.indexOf('END     ');
  assert.ok(e0 >= 0 && e0 < 2880);
  mef.write('XND', e0, 'latin1');
  assert.match(message(() => FitsReader.open(file('noend-mef.fits', mef))), /noend-mef\.fits\[HDU 0\]: header starting at byte 0 has no END card \(the next extension's XTENSION header starts at byte \d+\)/);
});

test('wrong NAXISn (data would run past the end of the file)', () => {
  const b = setCard(images(), 'NAXIS2', '5000', 2880 * 5);
  assert.match(message(() => FitsReader.open(file('naxis.fits', b))), /naxis\.fits\[HDU \d+ '\w+'\]: data unit needs \d+ bytes \(BITPIX=\d+, NAXIS1=7, NAXIS2=5000, PCOUNT=0\).*truncated file or wrong NAXISn/);
});

test('a bad keyword value', () => {
  const b = setCard(images(), 'NAXIS1', "'seven'", 2880 * 3);
  assert.match(message(() => FitsReader.open(file('badval.fits', b))), /badval\.fits\[HDU 2 'I16'\]: keyword NAXIS1: expected a number, got 'seven'/);
  const c = setCard(images(), 'BITPIX', '12', 2880 * 3);
  assert.match(message(() => FitsReader.open(file('bitpix.fits', c))), /bitpix\.fits\[HDU 2 'I16'\]: keyword BITPIX: expected 8, 16, 32, 64, -32 or -64, got 12/);
});

test('not FITS, empty, junk after the last HDU', () => {
  assert.match(message(() => FitsReader.open(file('text.fits', Buffer.from('hello world\n')))), /text\.fits: not a FITS file/);
  assert.match(message(() => FitsReader.open(file('empty.fits', new Uint8Array(0)))), /empty\.fits: empty file/);
  assert.match(message(() => FitsReader.open(join(dir, 'missing.fits'))), /missing\.fits: cannot open \(no such file\)/);
  const junk = Buffer.concat([readFileSync(fixture('header.fits')), Buffer.alloc(2880, 0x41)]);
  assert.match(message(() => FitsReader.open(file('junk.fits', junk))), /junk\.fits: unexpected bytes after HDU 0 at byte 2880/);
  // Zero padding after the last HDU is tolerated.
  assert.equal(FitsReader.open(file('zeros.fits', Buffer.concat([readFileSync(fixture('header.fits')), Buffer.alloc(5760)]))).hdus.length, 1);
});

test('table errors: unknown TFORM, heap descriptor out of range, widths that disagree with NAXIS1', () => {
  const t = table();
  const hdr2 = t.indexOf("XTENSION= 'BINTABLE'");
  const f1 = file('tform.fits', setCard(t, 'TFORM4', "'Z'", hdr2));
  assert.match(message(() => FitsReader.open(f1).readTable('CATALOG')), /tform\.fits\[HDU 1 'CATALOG'\]: keyword TFORM4: unknown TFORM 'Z'/);
  const f2 = file('width.fits', setCard(t, 'TFORM4', "'2B'", hdr2));
  assert.match(message(() => FitsReader.open(f2).readTable('CATALOG')), /width\.fits\[HDU 1 'CATALOG'\]: the TFORMn widths add up to \d+ bytes per row but NAXIS1 = \d+/);
  // Corrupt the first row's descriptor of the 'vlaj' P column: offset far past the heap.
  const r = FitsReader.open(fixture('table.fits'));
  const info = r.hdu('CATALOG');
  const tab = r.readTable('CATALOG');
  let off = 0;
  const widths: Record<string, number> = {};
  for (const c of tab.columns) {
    const w = c.vla === 'P' ? 8 : c.vla === 'Q' ? 16 : 0;
    widths[c.name] = off;
    off += w || (c.type === 'X' ? Math.ceil(c.repeat / 8) : c.repeat * ({ L: 1, B: 1, I: 2, J: 4, K: 8, A: 1, E: 4, D: 8, C: 8, M: 16 } as Record<string, number>)[c.type]!);
  }
  const bad = Buffer.from(t);
  bad.writeInt32BE(1, info.dataOffset + widths['vlaj']!);
  bad.writeInt32BE(1 << 30, info.dataOffset + widths['vlaj']! + 4);
  r.close();
  assert.match(message(() => FitsReader.open(file('heap.fits', bad)).readTable('CATALOG')), /heap\.fits\[HDU 1 'CATALOG'\]: row 1 column vlaj: heap descriptor \(1 elements at offset 1073741824\) runs outside the heap/);
});

test('a table whose rows run past the end of the file', () => {
  const t = table();
  const hdr2 = t.indexOf("XTENSION= 'BINTABLE'");
  const m = message(() => FitsReader.open(file('rows.fits', setCard(t, 'NAXIS2', '600', hdr2))));
  assert.match(m, /rows\.fits\[HDU 1 'CATALOG'\]: data unit needs \d+ bytes .*NAXIS2=600.*truncated file or wrong NAXISn/);
});

test('a corrupt compressed tile names file, HDU and tile', () => {
  const bytes = compressedBytes('rice_f32_d1.fits');
  const r = FitsReader.fromBytes(bytes, 'rice_f32_d1.fits');
  const h = r.hdus.find((x) => x.type === 'compressed-image')!;
  // Scribble over the heap (after the tile descriptors).
  const heap = h.dataOffset + h.header.number('NAXIS1') * h.header.number('NAXIS2');
  for (let i = heap + 8; i < heap + 64; i++) bytes[i] = 0xff;
  r.close();
  const m = message(() => FitsReader.open(file('tile.fits', bytes)).readImage(h.index));
  assert.match(m, /tile\.fits\[HDU 1\b.*\]: compressed tile \d+ is corrupt/);
});

/* ---------------------------------------------------------------- fuzz */

/** Read everything in a file the way a user would; returns the number of HDUs read. */
function exercise(bytes: Uint8Array): number {
  const f = FitsReader.fromBytes(bytes, 'fuzz.fits');
  for (const h of f.hdus) {
    if (h.type === 'image' || h.type === 'compressed-image') {
      f.readImage(h.index);
      if (h.type === 'compressed-image') f.imageHeader(h.index);
    } else {
      f.readTable(h.index);
    }
    f.checksums(h.index);
  }
  return f.hdus.length;
}

test('fuzz: 400 mutated or truncated files give success or a TesseraError, nothing else, quickly', () => {
  const sources = [
    images(), table(), readFileSync(fixture('ascii.fits')), readFileSync(fixture('header.fits')),
    readFileSync(fixture('checksum.fits')), readFileSync(fixture('images.fits.gz')),
    compressedBytes('rice_i16.fits'), compressedBytes('gzip2_f32.fits'), compressedBytes('rice_f32_d1.fits'),
    compressedBytes('fpack_mef.fits.fz'),
  ];
  for (const s of sources) exercise(s); // every source is valid to begin with
  const rand = mulberry32(20261123);
  const digits = '0123456789 -+.EDT\'';
  let ok = 0;
  let errors = 0;
  const t0 = Date.now();
  for (let it = 0; it < 400; it++) {
    const src = sources[Math.floor(rand() * sources.length)]!;
    let b = Buffer.from(src);
    const kind = Math.floor(rand() * 4);
    if (kind === 0) {
      b = b.subarray(0, Math.floor(rand() * b.length));
    } else if (kind === 1) {
      const n = 1 + Math.floor(rand() * 8);
      for (let k = 0; k < n; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    } else {
      // Scribble digits and signs over the value field of a random card in the first blocks (headers).
      const headerish = Math.min(b.length, 2880 * 4);
      const card = Math.floor(rand() * (headerish / 80));
      const n = 1 + Math.floor(rand() * 6);
      for (let k = 0; k < n; k++) b[card * 80 + 10 + Math.floor(rand() * 20)] = digits.charCodeAt(Math.floor(rand() * digits.length));
    }
    const ti = Date.now();
    try {
      exercise(b);
      ok++;
    } catch (e) {
      if (!(e instanceof TesseraError)) {
        assert.fail(`iteration ${it} (mutation ${kind}): ${(e as Error)?.stack ?? e}`);
      }
      assert.match(e.message, /fuzz\.fits/, `iteration ${it}: error names the file: ${e.message}`);
      errors++;
    }
    assert.ok(Date.now() - ti < 5000, `iteration ${it} took ${Date.now() - ti} ms`);
  }
  assert.equal(ok + errors, 400);
  assert.ok(errors > 50 && ok > 50, `both outcomes occur (ok ${ok}, errors ${errors})`);
  assert.ok(Date.now() - t0 < 60000);
});
