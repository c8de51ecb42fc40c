import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FitsReader } from '../../src/fits/reader.js';
import { encodeFits, writeFits, type ColumnInput } from '../../src/fits/writer.js';
import { Header } from '../../src/fits/header.js';
import type { PixelArray } from '../../src/fits/pixels.js';
import { tempDir } from '../helpers.js';
import { bytesOf, imagesFits } from './truth.js';

function roundTrip(hdus: Parameters<typeof encodeFits>[0], opts?: { checksum?: boolean }): FitsReader {
  const bytes = Buffer.concat(encodeFits(hdus, opts));
  assert.equal(bytes.length % 2880, 0, 'file is a multiple of 2880 bytes');
  return FitsReader.fromBytes(bytes, 'mem.fits');
}

test('images of every type round-trip exactly, with their types (unsigned via BZERO)', () => {
  const n = 6 * 4;
  const arrays: PixelArray[] = [
    Uint8Array.from({ length: n }, (_, i) => i * 10),
    Int8Array.from({ length: n }, (_, i) => i * 10 - 128),
    Int16Array.from({ length: n }, (_, i) => i * 2000 - 32768),
    Uint16Array.from({ length: n }, (_, i) => i * 2800),
    Int32Array.from({ length: n }, (_, i) => (i - 12) * 178956970),
    Uint32Array.from({ length: n }, (_, i) => i * 178956970),
    BigInt64Array.from({ length: n }, (_, i) => BigInt(i - 12) * 768614336404564650n),
    BigUint64Array.from({ length: n }, (_, i) => BigInt(i) * 768614336404564650n),
    Float32Array.from({ length: n }, (_, i) => (i === 3 ? NaN : Math.sin(i) * 1e5)),
    Float64Array.from({ length: n }, (_, i) => (i === 3 ? -Infinity : Math.cos(i) * 1e-300)),
  ];
  const f = roundTrip(arrays.map((data, i) => ({ kind: 'image', data, shape: [6, 4], extname: `A${i}` })));
  assert.equal(f.hdus.length, arrays.length);
  arrays.forEach((a, i) => {
    const img = f.readImage(i);
    assert.equal(img.data.constructor, a.constructor, a.constructor.name);
    assert.ok(bytesOf(img.data).equals(bytesOf(a)), `${a.constructor.name} bit for bit`);
    assert.deepEqual(img.shape, [6, 4]);
  });
  assert.equal(f.hdu('A3').header.get('BZERO'), 32768);
});

test('the first HDU is the primary image; a table first gets an empty primary; EXTNAMEs kept', () => {
  const f = roundTrip([
    { kind: 'bintable', extname: 'CAT', nrows: 2, columns: [{ name: 'x', data: new Float64Array([1, 2]) }] },
    { kind: 'image', extname: 'SCI', data: new Float32Array(12), shape: [3, 2, 2] },
  ]);
  assert.deepEqual(f.hdus.map((h) => [h.type, h.extname ?? null]), [['image', null], ['bintable', 'CAT'], ['image', 'SCI']]);
  assert.equal(f.hdus[0]!.header.get('SIMPLE'), true);
  assert.equal(f.hdus[0]!.header.get('EXTEND'), true);
  assert.deepEqual(f.readImage('SCI').shape, [3, 2, 2]);
});

test("user headers are kept except structural keywords, which the writer sets itself", () => {
  const h = new Header();
  h.set('BITPIX', 16);
  h.set('NAXIS1', 999);
  h.set('BSCALE', 3);
  h.set('OBJECT', 'M 31', 'target');
  h.set('LONGSTR', 'x'.repeat(200));
  h.set('ESO DET CHIP NAME', 'CCD-42');
  h.add({ key: 'HISTORY', comment: 'made by a test' });
  const f = roundTrip([{ kind: 'image', header: h, data: new Float32Array([1, 2, 3]), shape: [3] }]);
  const r = f.hdus[0]!.header;
  assert.equal(r.get('BITPIX'), -32);
  assert.equal(r.get('NAXIS1'), 3);
  assert.equal(r.has('BSCALE'), false);
  assert.equal(r.get('OBJECT'), 'M 31');
  assert.equal(r.get('LONGSTR'), 'x'.repeat(200));
  assert.equal(r.get('HIERARCH ESO DET CHIP NAME'), 'CCD-42');
  assert.deepEqual(r.getAll('HISTORY'), ['made by a test']);
  assert.deepEqual([...f.readImage(0).data], [1, 2, 3]);
});

test('binary tables: every inferred and explicit TFORM round-trips, VLA P and Q, TDIM, TNULL', () => {
  const nrows = 3;
  const columns: ColumnInput[] = [
    { name: 'b', data: new Uint8Array([0, 128, 255]) },
    { name: 'sb', data: new Int8Array([-128, 0, 127]) },
    { name: 'i', data: new Int16Array([-5, 0, 5]), unit: 'adu' },
    { name: 'u', data: new Uint16Array([0, 40000, 65535]) },
    { name: 'j', data: new Int32Array([-7, 0, 7]), tnull: -7 },
    { name: 'uj', data: new Uint32Array([0, 3e9, 4294967295]) },
    { name: 'k', data: new BigInt64Array([-(2n ** 62n), 0n, 2n ** 62n]) },
    { name: 'uk', data: new BigUint64Array([0n, 2n ** 63n, 2n ** 64n - 1n]) },
    { name: 'e', data: new Float32Array([1.5, NaN, -0]) },
    { name: 'd2', data: new Float64Array([1, 2, 3, 4, 5, 6]), dim: [2] },
    { name: 'mat', data: new Float32Array(18).map((_, i) => i), dim: [3, 2] },
    { name: 'asE', data: new Float64Array([0.1, 0.2, 0.3]), tform: 'E' },
    { name: 'plain', data: [0.5, -1, 1e300] },
    { name: 'c', data: new Float32Array([1, -1, 2, -2, 3, -3]), tform: 'C' },
    { name: 'm', data: new Float64Array([1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6]), tform: '2M' },
    { name: 'l', data: [true, false, true] },
    { name: 'l2', data: [true, false, false, true, true, true] },
    { name: 'x', data: [true, false, true, true, false, false, false, false, true, true, false, false, true, false, true, true, true, true, true, true, true, true, false, false, false, false, false, false, true, true], tform: '10X' },
    { name: 's', data: ['alpha', '', 'a b c'] },
    { name: 's2', data: ['ab', 'c', 'def', 'g', '', 'hi'], dim: [3, 2] },
    { name: 'vj', data: [new Int32Array([1, 2, 3]), new Int32Array([]), new Int32Array([4])] },
    { name: 'vd', data: [new Float64Array([0.5]), new Float64Array([1, 2]), new Float64Array([])], tform: 'QD' },
    { name: 'vs', data: ['short', 'a longer string', ''], tform: 'PA' },
    { name: 'vl', data: [[true], [false, true], []], tform: 'PL' },
  ];
  const f = roundTrip([{ kind: 'bintable', extname: 'T', nrows, columns }]);
  const t = f.readTable('T');
  assert.equal(t.nrows, nrows);
  for (const c of columns) {
    const got = t.column(c.name);
    if (c.name === 'asE') {
      assert.deepEqual([...got.data as Float32Array], [...new Float32Array([0.1, 0.2, 0.3])]);
      continue;
    }
    if (c.name === 'plain') {
      assert.ok(got.data instanceof Float64Array);
      assert.deepEqual([...got.data], c.data);
      continue;
    }
    if (c.name.startsWith('v')) {
      const rows = got.data as unknown[];
      (c.data as unknown[]).forEach((v, r) => {
        if (typeof v === 'string' || Array.isArray(v)) assert.deepEqual(rows[r], v, `${c.name} row ${r}`);
        else assert.ok(bytesOf(rows[r] as PixelArray).equals(bytesOf(v as PixelArray)), `${c.name} row ${r}`);
      });
      continue;
    }
    if (Array.isArray(c.data)) assert.deepEqual(got.data, c.data, c.name);
    else {
      assert.equal(got.data.constructor, c.data.constructor, c.name);
      assert.ok(bytesOf(got.data as PixelArray).equals(bytesOf(c.data as PixelArray)), c.name);
    }
  }
  assert.equal(t.column('vd').vla, 'Q');
  assert.equal(t.column('vj').vla, 'P');
  assert.deepEqual(t.column('mat').dim, [3, 2]);
  assert.equal(t.column('mat').repeat, 6);
  assert.equal(t.column('i').unit, 'adu');
  assert.deepEqual([...t.column('j').nulls!], [1, 0, 0]);
  assert.equal(t.column('x').repeat, 10);
});

test('writer errors name the HDU and column', () => {
  assert.throws(() => encodeFits([{ kind: 'image', data: new Float32Array(5), shape: [2, 2] }]), /HDU 0: data has 5 values but shape \[2,2\] needs 4/);
  assert.throws(() => encodeFits([{ kind: 'bintable', nrows: 2, columns: [{ name: 'a', data: new Float32Array(3) }] }]), /HDU 1 column a: 3 values do not fill 2 rows/);
  assert.throws(() => encodeFits([{ kind: 'bintable', nrows: 1, columns: [{ name: 'a', data: new Float32Array(1), tform: 'Z' }] }]), /unknown TFORM 'Z'/);
});

test('writeFits is atomic and a re-read of images.fits written back is identical data', () => {
  const dir = tempDir();
  const src = FitsReader.open(imagesFits());
  const out = join(dir, 'copy.fits');
  writeFits(out, src.hdus.slice(1).map((h) => {
    const img = src.readImage(h.index);
    return { kind: 'image' as const, header: h.header, data: img.data, shape: img.shape, extname: h.extname };
  }));
  assert.equal(statSync(out).size % 2880, 0);
  const back = FitsReader.open(out);
  for (const h of src.hdus.slice(1)) {
    const a = src.readImage(h.index).data;
    const b = back.readImage(h.extname!).data;
    assert.equal(a.constructor, b.constructor, h.extname);
    assert.ok(bytesOf(a).equals(bytesOf(b)), h.extname);
  }
  assert.ok(readFileSync(out).subarray(0, 9).toString() === 'SIMPLE  =');
  src.close();
  back.close();
});

test('images with compress: options are written as tile-compressed HDUs and read back', () => {
  const nx = 64;
  const ny = 20;
  const ints = Int16Array.from({ length: nx * ny }, (_, i) => ((i * 7919) % 2001) - 1000);
  const floats = Float32Array.from({ length: nx * ny }, (_, i) => 100 + 10 * Math.sin(i * 0.37) + ((i * 31) % 17));
  const h = new Header();
  h.set('CCDNUM', 4);
  const f = roundTrip([
    { kind: 'image', extname: 'I', data: ints, shape: [nx, ny], header: h, compress: { type: 'RICE_1' } },
    { kind: 'image', extname: 'F', data: floats, shape: [nx, ny], compress: { type: 'GZIP_2', quantizeLevel: 4, ditherSeed: 17 } },
    { kind: 'image', extname: 'FL', data: floats, shape: [nx, ny], compress: { type: 'GZIP_1', lossless: true } },
  ], { checksum: true });
  assert.deepEqual(f.hdus.map((x) => x.type), ['image', 'compressed-image', 'compressed-image', 'compressed-image']);
  assert.equal(f.hdus[0]!.header.get('NAXIS'), 0, 'an empty primary comes first');
  const i = f.readImage('I');
  assert.ok(i.data instanceof Int16Array);
  assert.ok(bytesOf(i.data).equals(bytesOf(ints)), 'RICE_1 integers are lossless');
  assert.equal(f.imageHeader('I').get('CCDNUM'), 4);
  assert.equal(i.header.get('BITPIX'), 16);
  const q = f.readImage('F').data as Float32Array;
  let maxErr = 0;
  for (let k = 0; k < q.length; k++) maxErr = Math.max(maxErr, Math.abs(q[k]! - floats[k]!));
  assert.ok(maxErr > 0 && maxErr < 3, `quantized floats within the quantization step (max error ${maxErr})`);
  assert.ok(bytesOf(f.readImage('FL').data).equals(bytesOf(floats)), 'lossless GZIP_1 floats are exact');
  const band = f.readImage('I', { box: { x0: 3, x1: 10, y0: 5, y1: 8 } });
  assert.deepEqual(band.shape, [7, 3]);
  assert.equal((band.data as Int16Array)[0], ints[5 * nx + 3]);
  for (let k = 0; k < f.hdus.length; k++) assert.equal(f.checksums(k).checksum, 'ok', `HDU ${k} checksum`);
});

test('an explicit bitpix converts: floats to -32, integers to wider integers, floats to integers rounded', () => {
  const f = roundTrip([
    { kind: 'image', data: new Float64Array([0.1, 1e10, -2.5]), shape: [3], bitpix: -32 },
    { kind: 'image', data: new Int16Array([-3, 0, 30000]), shape: [3], bitpix: 32 },
    { kind: 'image', data: new Float32Array([1.4, -2.6, 300]), shape: [3], bitpix: 16 },
  ]);
  assert.deepEqual([...f.readImage(0).data as Float32Array], [...Float32Array.from([0.1, 1e10, -2.5])]);
  const b = f.readImage(1).data;
  assert.ok(b instanceof Int32Array);
  assert.deepEqual([...b], [-3, 0, 30000]);
  assert.deepEqual([...f.readImage(2).data as Int16Array], [1, -3, 300]);
  assert.throws(() => encodeFits([{ kind: 'image', data: new Float32Array([1e6]), shape: [1], bitpix: 16 }]), /pixel 0 value 1000000 does not fit BITPIX 16/);
});

test('writeFits errors name the output file and HDU', () => {
  const out = join(tempDir(), 'bad.fits');
  assert.throws(() => writeFits(out, [{ kind: 'bintable', extname: 'CAT', nrows: 2, columns: [{ name: 'flux', data: ['a', 2] as unknown as string[] }] }]),
    /bad\.fits\[HDU 1 'CAT'\] column flux: mixed value types \(expected strings\)/);
});

test('HDUs with the same EXTNAME are told apart by EXTVER (NAME,VER)', () => {
  const mk = (v: number): Header => { const h = new Header(); h.set('EXTVER', v); return h; };
  const f = roundTrip([
    { kind: 'image', data: new Int16Array([1]), shape: [1], extname: 'SCI', header: mk(1) },
    { kind: 'image', data: new Int16Array([2]), shape: [1], extname: 'SCI', header: mk(2) },
  ]);
  assert.equal(f.hdu('SCI').index, 0);
  assert.equal(f.hdu('sci, 2').index, 1);
  assert.deepEqual([...f.readImage('SCI,2').data as Int16Array], [2]);
  assert.throws(() => f.hdu('SCI,3'), /no HDU with EXTNAME 'SCI,3'/);
});

test('big images are written piece by piece: the file equals encodeFits byte for byte (with checksums)', () => {
  const dir = tempDir();
  const f32 = Float32Array.from({ length: 1100 * 1000 }, (_, i) => Math.sin(i) * 1e3);
  const i16 = Int16Array.from({ length: 1001 * 2099 }, (_, i) => (i * 7) % 30000);
  const u16 = Uint16Array.from({ length: 1001 * 2099 }, (_, i) => (i * 13) % 65536);
  const f64 = Float64Array.from({ length: 700 * 1000 }, (_, i) => i / 3);
  const hdus: Parameters<typeof encodeFits>[0] = [
    { kind: 'image', data: f32, shape: [1100, 1000] },
    { kind: 'image', data: i16, shape: [1001, 2099], extname: 'I16' },
    { kind: 'image', data: u16, shape: [1001, 2099], extname: 'U16' },
    { kind: 'image', data: f64, shape: [700, 1000], extname: 'F64', bitpix: -32 },
  ];
  for (const checksum of [false, true]) {
    const out = join(dir, `big-${checksum}.fits`);
    writeFits(out, hdus, { checksum });
    const expect = Buffer.concat(encodeFits(hdus, { checksum }));
    assert.ok(readFileSync(out).equals(expect), `checksum ${checksum}: identical bytes`);
    if (checksum) {
      const f = FitsReader.open(out);
      for (let k = 0; k < 4; k++) assert.deepEqual({ ...f.checksums(k), computedDatasum: '' }, { checksum: 'ok', datasum: 'ok', computedDatasum: '' });
      f.close();
    }
  }
});

test('raw: true on a compressed unsigned-16 HDU returns the stored signed integers', () => {
  const nx = 40, ny = 7;
  const u = new Uint16Array(nx * ny);
  for (let i = 0; i < u.length; i++) u[i] = (i * 997) % 65536;
  const bytes = Buffer.concat(encodeFits([{ kind: 'image', extname: 'U', data: u, shape: [nx, ny], compress: { type: 'RICE_1' } }]));
  const f = FitsReader.fromBytes(bytes, 'u16.fits.fz');
  const phys = f.readImage('U');
  assert.ok(phys.data instanceof Uint16Array);
  assert.deepEqual([...phys.data], [...u]);
  const raw = f.readImage('U', { raw: true });
  assert.ok(raw.data instanceof Int16Array);
  for (let i = 0; i < u.length; i++) assert.equal((raw.data as Int16Array)[i], u[i]! - 32768);
});

test('compressed HDUs written without a dither seed are reproducible: the seed comes from the header, not the clock', () => {
  const img = new Float32Array(300 * 200);
  let s = 7;
  for (let i = 0; i < img.length; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; img[i] = 100 + 10 * (s / 2 ** 32); }
  const hdu = (ccd: string) => {
    const h = new Header([], 'x');
    h.set('CCDNAME', ccd);
    return { kind: 'image' as const, extname: 'IMAGE', header: h, data: img, shape: [300, 200], compress: { type: 'RICE_1' as const, quantizeLevel: 8 } };
  };
  const a = Buffer.from(encodeFits([hdu('N4')]).reduce((x, y) => Buffer.concat([x, y]), Buffer.alloc(0)));
  const b = Buffer.from(encodeFits([hdu('N4')]).reduce((x, y) => Buffer.concat([x, y]), Buffer.alloc(0)));
  assert.ok(a.equals(b), 'the same HDU twice gives the same bytes');
  const seeds = new Set<number>();
  for (const ccd of ['N4', 'S4', 'N5', 'S5', 'N6']) {
    const dir = tempDir();
    const f = join(dir, `${ccd}.fits.fz`);
    writeFits(f, [hdu(ccd)]);
    const r = FitsReader.open(f);
    const z = r.hdu(1).header.integer('ZDITHER0');
    r.close();
    assert.ok(z >= 1 && z <= 10000);
    seeds.add(z);
  }
  assert.ok(seeds.size >= 4, `different CCD headers give different dither seeds: ${[...seeds].join(', ')}`);
});
