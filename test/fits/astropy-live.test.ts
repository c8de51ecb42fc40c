/**
 * Live comparison: files written by OUR writer are read by astropy (Debian's python3) and must
 * give exactly our values: every image type, a binary table with every TFORM (VLA P and Q),
 * long strings, HIERARCH cards, and checksums astropy verifies. Skipped with a message when
 * python3-astropy is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { writeFits, type ColumnInput, type HduInput } from '../../src/fits/writer.js';
import { FitsReader } from '../../src/fits/reader.js';
import { Header } from '../../src/fits/header.js';
import type { PixelArray } from '../../src/fits/pixels.js';
import { PYTHON, tempDir } from '../helpers.js';
import { bytesOf, decode, type Encoded } from './truth.js';

const haveAstropy = spawnSync(PYTHON, ['-c', 'import astropy.io.fits, numpy'], { stdio: 'ignore' }).status === 0;

const READER = String.raw`
import base64, json, sys, warnings
import numpy as np
from astropy.io import fits
warnings.simplefilter('error')   # a checksum mismatch or a non-standard card is a failure
def enc(a):
    a = np.ascontiguousarray(a)
    le = a.astype(a.dtype.newbyteorder('<'))
    return {'dtype': le.dtype.name, 'shape': list(a.shape), 'b64': base64.b64encode(le.tobytes()).decode()}
def col(c):
    if c.dtype == object:
        out = []
        for v in c:
            a = np.asarray(v)
            if a.dtype.kind in 'SU':
                out.append({'str': a.tobytes().decode('utf-32-le' if a.dtype.kind == 'U' else 'latin1').replace('\x00', '')})
            elif a.dtype.kind == 'b':
                out.append({'bools': a.tolist()})
            else:
                out.append(enc(a))
        return {'vla': out}
    if c.dtype.kind in 'SU':
        return {'strings': [x if isinstance(x, str) else x.decode() for x in np.asarray(c).ravel().tolist()]}
    if c.dtype.kind == 'b':
        return {'bools': np.asarray(c).ravel().tolist()}
    return enc(np.asarray(c))
res = []
with fits.open(sys.argv[1], checksum=True) as f:
    f.verify('exception')
    for h in f:
        d = {'name': h.name, 'cards': [[c.keyword, str(c.value)] for c in h.header.cards]}
        if isinstance(h, fits.CompImageHDU):
            d['data'] = enc(h.data)
        elif isinstance(h, fits.BinTableHDU):
            d['columns'] = {c.name: col(h.data[c.name]) for c in h.columns}
        elif h.data is not None:
            d['data'] = enc(h.data)
        res.append(d)
print(json.dumps(res))
`;

interface AstropyHdu { name: string; cards: [string, string][]; data?: Encoded; columns?: Record<string, unknown> }

function astropyRead(path: string): AstropyHdu[] {
  const r = spawnSync(PYTHON, ['-c', READER, path], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `astropy could not read ${path}:\n${r.stderr}`);
  return JSON.parse(r.stdout) as AstropyHdu[];
}

test('astropy reads our images (every BITPIX, unsigned, cube) and headers identically', (t) => {
  if (!haveAstropy) { t.skip('python3-astropy not installed (/usr/bin/python3 cannot import astropy)'); return; }
  const n = 5 * 4 * 3;
  const arrays: PixelArray[] = [
    Uint8Array.from({ length: n }, (_, i) => (i * 37) & 255),
    Int8Array.from({ length: n }, (_, i) => ((i * 37) & 255) - 128),
    Int16Array.from({ length: n }, (_, i) => i * 1000 - 30000),
    Uint16Array.from({ length: n }, (_, i) => i * 1000),
    Int32Array.from({ length: n }, (_, i) => (i - 30) * 70000000),
    Uint32Array.from({ length: n }, (_, i) => i * 70000000),
    BigInt64Array.from({ length: n }, (_, i) => BigInt(i - 30) * 300000000000000000n),
    Float32Array.from({ length: n }, (_, i) => (i === 7 ? NaN : Math.fround(Math.exp(i / 3) - 40))),
    Float64Array.from({ length: n }, (_, i) => (i === 9 ? Infinity : Math.tan(i) * 1e-200)),
  ];
  const h = new Header();
  h.set('OBJECT', "NGC 1234 'core'", 'target');
  h.set('LONGSTR', 'abcdefghij '.repeat(20).trim(), 'a long value that needs CONTINUE cards');
  h.set('ESO DET CHIP NAME', 'CCD-1', 'hierarch');
  h.set('EXPTIME', 90.5);
  h.set('BIGNUM', 9007199254740993n);
  h.add({ key: 'HISTORY', comment: 'written by tessera' });
  const hdus: HduInput[] = arrays.map((data, i) => ({ kind: 'image', data, shape: [5, 4, 3], extname: `E${i}`, header: h }));
  const path = join(tempDir(), 'ours.fits');
  writeFits(path, hdus, { checksum: true });
  const got = astropyRead(path);
  assert.equal(got.length, arrays.length);
  arrays.forEach((a, i) => {
    const g = got[i]!;
    assert.equal(g.name, `E${i}`);
    assert.deepEqual(g.data!.shape, [3, 4, 5]);
    const theirs = decode(g.data!);
    assert.equal(theirs.constructor, a.constructor, `E${i}: astropy's dtype ${g.data!.dtype}`);
    assert.ok(bytesOf(theirs).equals(bytesOf(a)), `E${i}: pixels identical`);
    const cards = new Map(g.cards);
    assert.equal(cards.get('OBJECT'), "NGC 1234 'core'");
    assert.equal(cards.get('LONGSTR'), 'abcdefghij '.repeat(20).trim());
    assert.equal(cards.get('ESO DET CHIP NAME'), 'CCD-1');
    assert.equal(cards.get('BIGNUM'), '9007199254740993');
  });
});

test('astropy reads our binary tables (every TFORM, VLA P/Q, TDIM, unsigned) identically', (t) => {
  if (!haveAstropy) { t.skip('python3-astropy not installed (/usr/bin/python3 cannot import astropy)'); return; }
  const nrows = 4;
  const columns: ColumnInput[] = [
    { name: 'L', data: [true, false, true, true] },
    { name: 'X', data: [true, false, true, false, true, true, true, false, false, true, false, false], tform: '3X' },
    { name: 'B', data: new Uint8Array([0, 1, 200, 255]) },
    { name: 'I', data: new Int16Array([-32768, -1, 0, 32767]) },
    { name: 'J', data: new Int32Array([-2147483648, 0, 5, 2147483647]) },
    { name: 'K', data: new BigInt64Array([-(2n ** 63n), 0n, 5n, 2n ** 63n - 1n]) },
    { name: 'A', data: ['one', 'two words', '', 'x'] },
    { name: 'E', data: new Float32Array([1.5, NaN, -0, 3.4e38]), unit: 'mag' },
    { name: 'D', data: new Float64Array([Math.PI, -Infinity, 1e-300, 0]) },
    { name: 'C', data: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]), tform: 'C' },
    { name: 'M', data: new Float64Array([1, -2, 3, -4, 5, -6, 7, -8]), tform: 'M' },
    { name: 'U16', data: new Uint16Array([0, 1, 40000, 65535]) },
    { name: 'U32', data: new Uint32Array([0, 1, 3000000000, 4294967295]) },
    { name: 'MAT', data: new Float64Array(24).map((_, i) => i / 7), dim: [3, 2] },
    { name: 'PJ', data: [new Int32Array([1, 2, 3]), new Int32Array([]), new Int32Array([-4]), new Int32Array([5, 6])] },
    { name: 'QD', data: [new Float64Array([0.5]), new Float64Array([1, 2, 3]), new Float64Array([]), new Float64Array([9])], tform: 'QD' },
    { name: 'PE', data: [new Float32Array([]), new Float32Array([1.25]), new Float32Array([2, 3]), new Float32Array([4])] },
    { name: 'PA', data: ['a', 'bcd', '', 'efgh ij'], tform: 'PA' },
  ];
  const path = join(tempDir(), 'table.fits');
  writeFits(path, [{ kind: 'bintable', extname: 'CAT', nrows, columns }], { checksum: true });
  const got = astropyRead(path);
  const cols = got[1]!.columns as Record<string, { bools?: boolean[]; strings?: string[]; vla?: unknown[] } & Partial<Encoded>>;
  for (const c of columns) {
    const g = cols[c.name]!;
    if (g.bools) assert.deepEqual(g.bools, c.data, c.name);
    else if (g.strings) assert.deepEqual(g.strings, c.data, c.name);
    else if (g.vla) {
      (c.data as unknown[]).forEach((v, r) => {
        const w = g.vla![r] as { str?: string } & Encoded;
        if (typeof v === 'string') assert.equal(w.str, v, `${c.name} row ${r}`);
        else assert.ok(bytesOf(decode(w)).equals(bytesOf(v as PixelArray)), `${c.name} row ${r}`);
      });
    } else if (g.dtype!.startsWith('complex')) {
      assert.ok(Buffer.from(g.b64!, 'base64').equals(bytesOf(c.data as PixelArray)), c.name);
    } else {
      const theirs = decode(g as Encoded);
      assert.equal(theirs.constructor, (c.data as PixelArray).constructor, `${c.name}: astropy dtype ${g.dtype}`);
      assert.ok(bytesOf(theirs).equals(bytesOf(c.data as PixelArray)), c.name);
    }
  }
  assert.deepEqual(cols['MAT']!.shape, [4, 2, 3]);
});

test('astropy reads our tile-compressed HDUs (written through writeFits) as we do', (t) => {
  if (!haveAstropy) { t.skip('python3-astropy not installed (/usr/bin/python3 cannot import astropy)'); return; }
  const nx = 50;
  const ny = 30;
  const ints = Int32Array.from({ length: nx * ny }, (_, i) => ((i * 7919) % 100003) - 50000);
  const u16 = Uint16Array.from({ length: nx * ny }, (_, i) => (i * 613) % 65536);
  const floats = Float32Array.from({ length: nx * ny }, (_, i) => (i % 97 === 0 ? NaN : 1000 + 30 * Math.cos(i) + ((i * 13) % 11)));
  const path = join(tempDir(), 'ours.fits.fz');
  writeFits(path, [
    { kind: 'image', extname: 'RICEI', data: ints, shape: [nx, ny], compress: { type: 'RICE_1' } },
    { kind: 'image', extname: 'RICEU', data: u16, shape: [nx, ny], compress: { type: 'RICE_1' } },
    { kind: 'image', extname: 'RICEF', data: floats, shape: [nx, ny], compress: { type: 'RICE_1', quantizeLevel: 4, ditherSeed: 42 } },
    { kind: 'image', extname: 'GZ2', data: floats, shape: [nx, ny], compress: { type: 'GZIP_2', quantizeLevel: 8, dither: 'SUBTRACTIVE_DITHER_2', tile: [10, 10] } },
  ], { checksum: true });
  const got = astropyRead(path);
  const ours = FitsReader.open(path);
  for (const name of ['RICEI', 'RICEU', 'RICEF', 'GZ2']) {
    const g = got.find((x) => x.name === name)!;
    const mine = ours.readImage(name).data;
    const theirs = decode(g.data!);
    assert.equal(theirs.constructor, mine.constructor, `${name}: astropy dtype ${g.data!.dtype}`);
    if (mine instanceof Float32Array) {
      // astropy 5.2 ignores ZBLANK on reading (null pixels come back as large negative numbers,
      // see test/fixtures/fits/compressed/make_fixtures.py); every other pixel is bit-identical.
      const a = new Uint32Array(mine.buffer, mine.byteOffset, mine.length);
      const b = new Uint32Array(theirs.buffer, theirs.byteOffset, theirs.length);
      let nan = 0;
      for (let k = 0; k < a.length; k++) {
        if (Number.isNaN(mine[k]!)) { nan++; assert.ok(Number.isNaN(floats[k]!), `${name}[${k}]: NaN only where the input was NaN`); continue; }
        assert.equal(a[k], b[k], `${name}[${k}]: ${mine[k]} vs astropy ${(theirs as Float32Array)[k]}`);
      }
      assert.equal(nan, floats.filter((v) => Number.isNaN(v)).length);
    } else {
      assert.ok(bytesOf(theirs).equals(bytesOf(mine)), `${name}: astropy's pixels equal ours bit for bit`);
    }
  }
  assert.ok(bytesOf(ours.readImage('RICEI').data).equals(bytesOf(ints)));
  ours.close();
});
