import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FitsReader } from '../../src/fits/reader.js';
import type { PixelArray } from '../../src/fits/pixels.js';
import { bytesOf, decode, fixture, truth, type Encoded } from './truth.js';

type Want = Encoded | { bools: boolean[] } | { strings: string[] } | { vla: ({ str: string } | Encoded)[] };

function checkColumn(table: string, name: string, got: unknown, want: Want): void {
  const what = `${table}.${name}`;
  if ('bools' in want) {
    assert.deepEqual(got, want.bools, what);
  } else if ('strings' in want) {
    assert.deepEqual(got, want.strings.map((s) => s.replace(/ +$/, '')), what);
  } else if ('vla' in want) {
    const rows = got as (PixelArray | string)[];
    assert.equal(rows.length, want.vla.length, what);
    want.vla.forEach((w, r) => {
      if ('str' in w) assert.equal(rows[r], w.str, `${what} row ${r}`);
      else assert.ok(bytesOf(rows[r] as PixelArray).equals(bytesOf(decode(w))), `${what} row ${r}`);
    });
  } else if (want.dtype.startsWith('complex')) {
    const arr = got as Float32Array | Float64Array;
    assert.equal(arr instanceof Float32Array ? 'complex64' : 'complex128', want.dtype, what);
    assert.ok(bytesOf(arr).equals(Buffer.from(want.b64, 'base64')), `${what} bit for bit`);
  } else {
    const exp = decode(want);
    const arr = got as PixelArray;
    if (exp.constructor === arr.constructor) {
      assert.ok(bytesOf(arr).equals(bytesOf(exp)), `${what} bit for bit`);
    } else {
      // TZERO=-128 on a B column: astropy gives float64 values, we give Int8Array (same values).
      assert.deepEqual([...arr].map(Number), [...exp].map(Number), `${what} values`);
    }
  }
}

test('binary table: every TFORM, repeat counts, unsigned via TZERO, TDIM, VLA P and Q equal astropy', () => {
  const f = FitsReader.open(fixture('table.fits'));
  for (const [ext, cols] of Object.entries(truth['table.fits'] as Record<string, Record<string, Want>>)) {
    const t = f.readTable(ext);
    assert.equal(t.nrows, 6);
    for (const [name, want] of Object.entries(cols)) checkColumn(ext, name, t.column(name).data, want);
  }
  const t = f.readTable('CATALOG');
  assert.equal(t.column('flux').unit, 'nanomaggy');
  assert.deepEqual(t.column('matrix').dim, [2, 3]);
  assert.equal(t.column('vlaj').vla, 'P');
  assert.equal(t.column('vlad').vla, 'Q');
  assert.equal(t.column('bits').repeat, 11);
  assert.deepEqual([...t.column('nullint').nulls!], [0, 1, 0, 0, 1, 0]);
  assert.equal(t.column('nullint').tnull, -999);
  assert.ok(t.column('u16').data instanceof Uint16Array);
  assert.ok(t.column('u64').data instanceof BigUint64Array);
  assert.throws(() => t.column('nope'), /no column 'nope' \(columns: flag, flags3, bits/);
  const s = f.readTable('SCALED');
  assert.ok(s.column('sI').data instanceof Float64Array, 'TSCAL/TZERO give float64 as in astropy');
  assert.ok(s.column('i8').data instanceof Int8Array);
  f.close();
});

test('ASCII table columns equal astropy (strings, I, F, E, D)', () => {
  const f = FitsReader.open(fixture('ascii.fits'));
  assert.equal(f.hdus[1]!.type, 'table');
  const t = f.readTable('STARS');
  for (const [name, want] of Object.entries(truth['ascii.fits'] as Record<string, Want>)) checkColumn('STARS', name, t.column(name).data, want);
  f.close();
});

test('readRawData returns the data unit as stored (table + heap)', () => {
  const f = FitsReader.open(fixture('table.fits'));
  const h = f.hdu('CATALOG');
  const raw = f.readRawData('CATALOG');
  assert.equal(raw.length, h.dataBytes);
  assert.equal(h.dataBytes, h.header.number('NAXIS1') * h.header.number('NAXIS2') + h.header.number('PCOUNT'));
  f.close();
});

test('ASCII table nulls (TNULL and blank fields), implied decimals, D exponents, TSCAL/TZERO', async () => {
  const { Header } = await import('../../src/fits/header.js');
  const { decodeTable } = await import('../../src/fits/table.js');
  const h = new Header([], 'a.fits[HDU 1]');
  const set = (k: string, v: string | number) => h.set(k, v);
  set('XTENSION', 'TABLE'); set('BITPIX', 8); set('NAXIS', 2); set('NAXIS1', 24); set('NAXIS2', 3);
  set('PCOUNT', 0); set('GCOUNT', 1); set('TFIELDS', 3);
  set('TTYPE1', 'N'); set('TFORM1', 'I5'); set('TBCOL1', 1); set('TNULL1', '-99');
  set('TTYPE2', 'X'); set('TFORM2', 'F8.2'); set('TBCOL2', 7);
  set('TTYPE3', 'Y'); set('TFORM3', 'D9.2'); set('TBCOL3', 16); set('TSCAL3', 2); set('TZERO3', 1);
  const row = (n: string, x: string, y: string) => `${n.padStart(5)} ${x.padStart(8)} ${y.padStart(9)}`;
  const rows = [row('12', '1234', '1.5D+01'), row('-99', '-1.25', ''), row('', '3.5', '-2.0E-1')];
  const data = Buffer.from(rows.join(''), 'latin1');
  const t = decodeTable(h, data, true);
  assert.deepEqual([...t.column('N').data as Int32Array], [12, 0, 0]);
  assert.deepEqual([...t.column('N').nulls!], [0, 1, 1]);
  const x = t.column('X').data as Float64Array;
  assert.equal(x[0], 12.34, 'implied decimal point of F8.2');
  assert.equal(x[1], -1.25);
  assert.equal(x[2], 3.5);
  const y = t.column('Y').data as Float64Array;
  assert.equal(y[0], 31);
  assert.ok(Number.isNaN(y[1]!));
  assert.equal(y[2], 2 * -0.2 + 1);
  assert.deepEqual([...t.column('Y').nulls!], [0, 1, 0]);
  // A bad number is one error naming the row and column.
  const bad = Buffer.from(row('12', '12.x4', '1.5D+01').padEnd(72), 'latin1');
  assert.throws(() => decodeTable(h, bad, true), /a\.fits\[HDU 1\]: row 1 column X: cannot read '12\.x4' as F8\.2/);
});

test('zero-width columns (0A, 0J) read as empty values', async () => {
  const { encodeFits } = await import('../../src/fits/writer.js');
  const f = FitsReader.fromBytes(Buffer.concat(encodeFits([{ kind: 'bintable', nrows: 2, columns: [
    { name: 'e', data: new Int32Array(0), tform: '0J' },
    { name: 'x', data: new Float32Array([1, 2]) },
  ] }])), 'z.fits');
  const t = f.readTable(1);
  assert.equal(t.column('e').data.length, 0);
  assert.deepEqual([...t.column('x').data as Float32Array], [1, 2]);
});
