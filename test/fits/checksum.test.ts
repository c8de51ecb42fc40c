import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FitsReader } from '../../src/fits/reader.js';
import { encodeFits } from '../../src/fits/writer.js';
import { encodeChecksum, onesSum, addSums } from '../../src/fits/checksum.js';
import { fixture, truth } from './truth.js';

test('the checksum of astropy-written checksum.fits verifies, and our computed DATASUM matches', () => {
  const f = FitsReader.open(fixture('checksum.fits'));
  const want = truth['checksum.fits'] as { CHECKSUM: string; DATASUM: string }[];
  f.hdus.forEach((h, i) => {
    const r = f.checksums(i);
    assert.equal(r.checksum, 'ok', `HDU ${i} CHECKSUM`);
    assert.equal(r.datasum, 'ok', `HDU ${i} DATASUM`);
    assert.equal(r.computedDatasum, want[i]!.DATASUM);
    assert.equal(h.header.get('CHECKSUM'), want[i]!.CHECKSUM);
  });
  f.close();
});

test('our CHECKSUM/DATASUM on write equal what astropy writes for the same bytes', () => {
  const f = FitsReader.open(fixture('checksum.fits'));
  const img = f.readImage(0);
  const t = f.readTable(1);
  const chunks = encodeFits([
    { kind: 'image', data: img.data, shape: img.shape },
    { kind: 'bintable', extname: 'T', nrows: t.nrows, columns: [{ name: 'a', data: t.column('a').data as Int32Array }] },
  ], { checksum: true });
  const back = FitsReader.fromBytes(Buffer.concat(chunks), 'ours.fits');
  const want = truth['checksum.fits'] as { CHECKSUM: string; DATASUM: string }[];
  back.hdus.forEach((h, i) => {
    assert.deepEqual(back.checksums(i), { checksum: 'ok', datasum: 'ok', computedDatasum: want[i]!.DATASUM });
    assert.equal(h.header.get('DATASUM'), want[i]!.DATASUM);
  });
  f.close();
});

test('a flipped byte in data or header is detected', () => {
  const bytes = Buffer.from(readFileSync(fixture('checksum.fits')));
  const d = Buffer.from(bytes);
  d[2880 + 10] ^= 0x01;
  const r = FitsReader.fromBytes(d, 'd.fits').checksums(0);
  assert.equal(r.datasum, 'bad');
  assert.equal(r.checksum, 'bad');
  const h = Buffer.from(bytes);
  const pos = h.indexOf('BITPIX');
  h[pos + 70] = 0x41; // inside the blank comment area of the BITPIX card
  const r2 = FitsReader.fromBytes(h, 'h.fits').checksums(0);
  assert.equal(r2.datasum, 'ok');
  assert.equal(r2.checksum, 'bad');
});

test('ones-complement sum with end-around carry; ASCII encoding of the complement', () => {
  // The sum of 0xFFFFFFFF and 1 wraps to 1 (end-around carry).
  assert.equal(addSums(0xffffffff, 1), 1);
  assert.equal(onesSum(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2])), 2);
  // Encoding of the complement of 0 is all ones → "...". A header+data sum of −0 decodes as ok.
  assert.equal(encodeChecksum(0xffffffff), '0000000000000000');
  assert.match(encodeChecksum(123456789), /^[0-9A-Za-z]{16}$/);
});

test('the sum of chunks equals the sum of their concatenation (words straddling chunks)', async () => {
  const { onesSumChunks } = await import('../../src/fits/checksum.js');
  const all = new Uint8Array(103).map((_, i) => (i * 151 + 7) & 255);
  const padded = new Uint8Array(104);
  padded.set(all);
  const whole = onesSum(padded);
  assert.equal(onesSumChunks([all.subarray(0, 5), all.subarray(5, 6), all.subarray(6, 50), all.subarray(50)]), whole);
  assert.equal(onesSumChunks([all]), whole);
});
