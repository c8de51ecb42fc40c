import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FitsReader } from '../../src/fits/reader.js';
import { bytesOf, decode, fixture, imagesFits, truth, type Encoded } from './truth.js';

const CLASS: Record<string, string> = {
  uint8: 'Uint8Array', int8: 'Int8Array', int16: 'Int16Array', uint16: 'Uint16Array', int32: 'Int32Array',
  uint32: 'Uint32Array', int64: 'BigInt64Array', uint64: 'BigUint64Array', float32: 'Float32Array', float64: 'Float64Array',
};

function checkAll(f: FitsReader): void {
  const want = truth['images.fits'] as { extname: string; data: Encoded | null }[];
  assert.equal(f.hdus.length, want.length);
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const img = f.readImage(i);
    if (w.data === null) {
      assert.equal(img.data.length, 0, `HDU ${i} is empty`);
      continue;
    }
    assert.equal(f.hdus[i]!.extname, w.extname);
    assert.equal(img.data.constructor.name, CLASS[w.data.dtype], `${w.extname}: type`);
    assert.deepEqual([...img.shape].reverse(), w.data.shape, `${w.extname}: shape`);
    assert.ok(bytesOf(img.data).equals(bytesOf(decode(w.data))), `${w.extname}: pixels equal astropy's bit for bit`);
  }
}

test('every BITPIX, BSCALE/BZERO, unsigned, BLANK and a cube read bit for bit as astropy does', () => {
  const f = FitsReader.open(imagesFits());
  try { checkAll(f); } finally { f.close(); }
});

test('.fits.gz is read the same (whole-file gzip, from a path and from bytes)', () => {
  const f = FitsReader.open(fixture('images.fits.gz'));
  checkAll(f);
  f.close();
  checkAll(FitsReader.fromBytes(readFileSync(fixture('images.fits.gz')), 'images.fits.gz'));
});

test('sections (row ranges and boxes, also on a cube) equal astropy .section', () => {
  const f = FitsReader.open(imagesFits());
  const s = truth['images.fits.sections'] as Record<string, Encoded>;
  const a = f.readImage('I16', { box: { x0: 2, x1: 6, y0: 1, y1: 4 } });
  assert.deepEqual(a.shape, [4, 3]);
  assert.ok(bytesOf(a.data).equals(bytesOf(decode(s['I16[1:4,2:6]']!))));
  const b = f.readImage('scaled16', { rows: [2, 5] });
  assert.deepEqual(b.shape, [7, 3]);
  assert.ok(bytesOf(b.data).equals(bytesOf(decode(s['SCALED16[2:5,:]']!))));
  const c = f.readImage('CUBE', { box: { x0: 2, x1: 5, y0: 1, y1: 3 } });
  assert.deepEqual(c.shape, [3, 2, 4]);
  assert.ok(bytesOf(c.data).equals(bytesOf(decode(s['CUBE[:,1:3,2:5]']!))));
  f.close();
});

test('raw: true returns the stored integers', () => {
  const f = FitsReader.open(imagesFits());
  const raw = f.readImage('SCALED16', { raw: true });
  assert.ok(raw.data instanceof Int16Array);
  const plain = f.readImage('I16');
  assert.deepEqual([...raw.data as Int16Array], [...plain.data as Int16Array]);
  const u = f.readImage('U16', { raw: true });
  assert.ok(u.data instanceof Int16Array);
  f.close();
});

test('HDU selection by index, EXTNAME (any case) or numeric string; clear errors otherwise', () => {
  const f = FitsReader.open(imagesFits());
  assert.equal(f.hdu('f32').index, 5);
  assert.equal(f.hdu('5').extname, 'F32');
  assert.throws(() => f.hdu('NOPE'), /no HDU with EXTNAME 'NOPE' \(EXTNAMEs: U8, I16/);
  assert.throws(() => f.hdu(99), /no HDU 99 \(the file has 17: 0\.\.16\)/);
  assert.throws(() => f.readImage('F32', { rows: [3, 9] }), /section .* is not inside the 7×5 image/);
  f.close();
});
