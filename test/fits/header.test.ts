import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Header, parseCard, type FitsValue } from '../../src/fits/header.js';
import { parseFileHdu } from '../../src/fits/filehdu.js';
import { TesseraError } from '../../src/util/errors.js';
import { fixture, truth } from './truth.js';

type JV = { bool: boolean } | { re: number; im: number } | { int: string } | { float: string } | { str: string } | { none: true };

function expected(v: JV): FitsValue {
  if ('bool' in v) return v.bool;
  if ('re' in v) return { re: v.re, im: v.im };
  if ('int' in v) return Number.isSafeInteger(Number(v.int)) ? Number(v.int) : BigInt(v.int);
  if ('float' in v) return Number(v.float);
  if ('str' in v) return v.str;
  return null;
}

test('header.fits parses to the same keywords, values and comments as astropy', () => {
  const { header, byteLength } = Header.parse(readFileSync(fixture('header.fits')), 'header.fits');
  assert.equal(byteLength, 2880);
  const want = truth['header.fits'] as { key: string; value: JV; comment: string }[];
  assert.equal(header.cards.length, want.length);
  want.forEach((w, i) => {
    const c = header.cards[i]!;
    assert.equal(c.key, w.key, `card ${i}`);
    if (w.key === 'COMMENT' || w.key === 'HISTORY') {
      assert.equal(c.comment, (w.value as { str: string }).str);
      return;
    }
    assert.deepEqual(c.value, expected(w.value), w.key);
    assert.equal(c.comment ?? '', w.comment, `${w.key} comment`);
  });
  assert.match(header.string('LONGSTR'), /^This is a long string .* some more words$/);
  assert.equal(header.get('hierarch eso det chip name'), 'CCD-42');
  assert.equal(header.get('ESO TEL AIRM START'), 1.234);
  assert.equal(header.get('BIGINT'), 123456789012345678n);
  assert.deepEqual(header.getAll('HISTORY'), ['first history', 'second history']);
});

test('write → parse round trip keeps every card (CONTINUE, HIERARCH, quotes, 64-bit, complex)', () => {
  const h = new Header([], 'x');
  h.set('SIMPLE', true, 'standard');
  h.set('INT', -42);
  h.set('BIG', -9223372036854775808n);
  h.set('FLT', 6.02214076e23, 'Avogadro');
  h.set('TINY', -1.5e-300);
  h.set('THIRD', 1 / 3);
  h.set('NEGZERO', -0);
  h.set('HUGE', 1e20);
  h.set('Q', "O'Brien's");
  h.set('EMPTYSTR', '');
  h.set('LEAD', '  leading kept');
  h.set('CPLX', { re: -1.25, im: 3e-5 });
  h.set('NOVAL', null, 'undefined value');
  h.set('LONG', "quote ' and more ".repeat(12), 'a long comment that also needs to be carried along on the continuation cards of this keyword');
  h.set('A VERY LONG KEYWORD NAME', 7.5, 'hierarch');
  h.add({ key: 'COMMENT', comment: 'c'.repeat(150) });
  h.add({ key: '', comment: 'blank-key commentary' });
  const bytes = h.toBytes();
  assert.equal(bytes.length % 2880, 0);
  const text = Buffer.from(bytes).toString('latin1');
  for (let i = 0; i < text.length; i += 80) assert.match(text.slice(i, i + 80), /^[\x20-\x7e]{80}$/);
  assert.match(text, /HIERARCH A VERY LONG KEYWORD NAME = 7.5/);
  assert.match(text, /CONTINUE  '/);
  const back = Header.parse(bytes, 'y').header;
  for (const k of ['HUGE', 'SIMPLE', 'INT', 'BIG', 'FLT', 'TINY', 'THIRD', 'Q', 'EMPTYSTR', 'LEAD', 'CPLX', 'NOVAL', 'LONG', 'A VERY LONG KEYWORD NAME']) {
    assert.deepEqual(back.get(k), h.get(k), k);
  }
  assert.ok(Object.is(back.get('NEGZERO'), -0));
  assert.equal(back.comment('LONG'), h.comment('LONG'));
  assert.equal(back.getAll('COMMENT').join(''), 'c'.repeat(150));
  assert.deepEqual(back.getAll(''), ['blank-key commentary']);
});

test('typed accessors give one clear error naming the HDU and keyword', () => {
  const h = Header.parse(Buffer.from(
    ['SIMPLE  =                    T', "NAXIS1  = 'abc'", 'NAXIS2  =                  12x', 'EXPTIME =                 30.5', 'END'].map((s) => s.padEnd(80)).join('').padEnd(2880),
  ), 'f.fits[HDU 0]').header;
  assert.throws(() => h.number('NAXIS1'), (e: unknown) => e instanceof TesseraError && e.message === "f.fits[HDU 0]: keyword NAXIS1: expected a number, got 'abc'");
  assert.throws(() => h.integer('NAXIS2'), /f\.fits\[HDU 0\]: keyword NAXIS2: expected a number, got '12x'/);
  assert.throws(() => h.number('GAIN'), /f\.fits\[HDU 0\]: missing required keyword GAIN/);
  assert.throws(() => h.integer('EXPTIME'), /expected an integer, got 30.5/);
  assert.equal(h.optionalNumber('GAIN'), undefined);
  assert.equal(h.bool('SIMPLE'), true);
  assert.equal(h.bool('MISSING', false), false);
  assert.throws(() => h.string('EXPTIME'), /expected a string, got 30.5/);
});

test('set replaces the first occurrence, delete removes all, clone is deep', () => {
  const h = new Header();
  h.set('A', 1, 'first');
  h.add({ key: 'A', value: 2 });
  h.set('a', 10);
  assert.deepEqual(h.getAll('A'), [10, 2]);
  assert.equal(h.comment('A'), 'first');
  const c = h.clone();
  c.set('A', 99);
  assert.equal(h.get('A'), 10);
  h.delete('A');
  assert.equal(h.has('A'), false);
  h.set('HISTORY', 'step 1');
  h.set('history', 'step 2');
  assert.deepEqual(h.getAll('HISTORY'), ['step 1', 'step 2']);
});

test('a header without END is one clear error; D exponents and lower-case logicals', () => {
  const cards = (xs: string[]) => Buffer.from(xs.map((s) => s.padEnd(80)).join('').padEnd(2880));
  assert.throws(() => Header.parse(cards(['SIMPLE  =                    T']), 'g.fits[HDU 0]'), /g\.fits\[HDU 0\]: header has no END card/);
  const h = Header.parse(cards(['D       =             1.5D+03 / fortran', 'END']), 'z').header;
  assert.equal(h.get('D'), 1500);
  assert.equal(h.comment('D'), 'fortran');
  assert.equal(parseCard("X       = 'unterminated").malformed, true);
  assert.equal(parseCard('HISTORY   indented text').comment, '  indented text');
});

test('parseFileHdu: FILE, FILE[index], FILE[EXTNAME]', () => {
  assert.deepEqual(parseFileHdu('a.fits'), { path: 'a.fits' });
  assert.deepEqual(parseFileHdu('a.fits[3]'), { path: 'a.fits', hdu: 3 });
  assert.deepEqual(parseFileHdu('dir/x.fits.fz[N4]'), { path: 'dir/x.fits.fz', hdu: 'N4' });
  assert.throws(() => parseFileHdu('a.fits[]'), /expected FILE\[HDU\]/);
  assert.throws(() => parseFileHdu('a.fits[1'), /expected FILE or FILE\[HDU\]/);
});

test('control bytes in a header are an error naming card and column; Latin-1 comments are read', () => {
  const cards = (xs: string[]) => Buffer.from(xs.map((s) => s.padEnd(80)).join('').padEnd(2880), 'latin1');
  const h = Header.parse(cards(['TEMP    =                 12.5 / ambient temperature in \u00b0C', 'END']), 'z').header;
  assert.equal(h.get('TEMP'), 12.5);
  assert.equal(h.comment('TEMP'), 'ambient temperature in \u00b0C');
  const bad = cards(['SIMPLE  =                    T', 'NAXIS   =                    0', 'END']);
  bad[80 + 20] = 0x01;
  assert.throws(() => Header.parse(bad, 'c.fits[HDU 0]'), /c\.fits\[HDU 0\]: header card 2 contains the byte 0x01 at column 21/);
});
