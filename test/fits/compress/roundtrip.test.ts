/**
 * Our compression → our decompression: lossless types exact, floats within step/2 with NaNs and
 * exact zeros kept; tile shapes; corrupt tiles; whole files (fpack/funpack-like commands).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { Header } from '../../../src/fits/header.js';
import { FitsReader } from '../../../src/fits/reader.js';
import { writeFits } from '../../../src/fits/writer.js';
import { compressImage, decompressImage, imageHeaderOf, isCompressedImage } from '../../../src/fits/compress/index.js';
import { compressCommands } from '../../../src/cli/fits-compress.js';
import { riceEncode } from '../../../src/fits/compress/rice.js';
import { parseCommandArgs } from '../../../src/cli/args.js';
import type { CompressOptions, PixelArray } from '../../../src/fits/compress/types.js';
import { TesseraError } from '../../../src/util/errors.js';
import { tempDir } from '../../helpers.js';
import { PassThrough, Readable } from 'node:stream';
import { lcg, gauss, skyImage } from './sky.js';

function imageHeader(bitpix: number, shape: number[], extra: [string, number][] = []): Header {
  const h = new Header([], 'test');
  h.set('XTENSION', 'IMAGE');
  h.set('BITPIX', bitpix);
  h.set('NAXIS', shape.length);
  shape.forEach((n, i) => h.set(`NAXIS${i + 1}`, n));
  h.set('PCOUNT', 0);
  h.set('GCOUNT', 1);
  for (const [k, v] of extra) h.set(k, v);
  h.set('EXTNAME', 'SCI');
  h.set('OBSERVER', 'round trip');
  return h;
}

function roundTrip(h: Header, data: PixelArray, shape: number[], opts: CompressOptions) {
  const c = compressImage(h, data, shape, opts, 'test');
  assert.ok(isCompressedImage(c.header));
  assert.equal(c.header.integer('NAXIS1') * c.header.integer('NAXIS2') + c.header.integer('PCOUNT'), c.bytes.length);
  return { c, d: decompressImage(c.header, c.bytes, 'test') };
}

test('lossless integer round trips: every type, algorithm and tile shape', () => {
  const rnd = lcg(2);
  const shape = [37, 23];
  const n = shape[0]! * shape[1]!;
  const i16 = new Int16Array(n).map(() => Math.round(500 * gauss(rnd)));
  i16[0] = -32768; i16[1] = 32767;
  const i32 = new Int32Array(n).map(() => Math.round(1e6 * gauss(rnd)));
  i32[0] = -2147483648; i32[1] = 2147483647;
  const u8 = new Uint8Array(n).map(() => Math.floor(256 * rnd()));
  const u16 = new Uint16Array(n).map(() => Math.floor(65536 * rnd()));
  const u32 = new Uint32Array(n).map(() => Math.floor(2 ** 32 * rnd()));
  const cases: [number, PixelArray, [string, number][]][] = [
    [16, i16, []], [32, i32, []], [8, u8, []], [16, u16, [['BSCALE', 1], ['BZERO', 32768]]], [32, u32, [['BSCALE', 1], ['BZERO', 2147483648]]],
  ];
  for (const [bitpix, data, extra] of cases) {
    for (const type of ['RICE_1', 'GZIP_1', 'GZIP_2', 'NOCOMPRESS'] as const) {
      for (const tile of [undefined, [10, 4], [37, 23], [1, 1]]) {
        const { d } = roundTrip(imageHeader(bitpix, shape, extra), data, shape, { type, tile });
        assert.equal(d.data.constructor, data.constructor, `${type} ${bitpix}`);
        assert.deepEqual(d.data, data, `${type} BITPIX ${bitpix} tile ${tile}`);
        assert.deepEqual(d.shape, shape);
        assert.equal(d.header.string('OBSERVER'), 'round trip');
        assert.equal(d.header.string('EXTNAME'), 'SCI');
      }
    }
  }
});

test('HCOMPRESS_1 round trips: lossless integers exact for odd tile sizes; lossy within scale', () => {
  const rnd = lcg(13);
  for (const [nx, ny, tile] of [[37, 23, [37, 23]], [50, 36, [50, 12]], [64, 20, [16, 5]], [9, 40, [9, 16]]] as [number, number, number[]][]) {
    const n = nx * ny;
    const i16 = new Int16Array(n).map(() => Math.round(300 * gauss(rnd)));
    i16[0] = -32768; i16[1] = 32767;
    const i32 = new Int32Array(n).map(() => Math.round(1e6 * gauss(rnd)));
    i32[0] = -2147483648; i32[1] = 2147483647;
    for (const [bitpix, data] of [[16, i16], [32, i32]] as const) {
      const { c, d } = roundTrip(imageHeader(bitpix, [nx, ny]), data, [nx, ny], { type: 'HCOMPRESS_1', tile });
      assert.equal(c.header.string('ZCMPTYPE'), 'HCOMPRESS_1');
      assert.deepEqual(d.data, data, `BITPIX ${bitpix} ${nx}×${ny} tile ${tile}`);
    }
  }
  // lossy: absolute scale 8 keeps every pixel within a few times the scale
  const f = skyImage(64, 32, 14);
  const ints = new Int16Array(f.length).map((_, i) => Math.round(f[i]!));
  const { d } = roundTrip(imageHeader(16, [64, 32]), ints, [64, 32], { type: 'HCOMPRESS_1', hcompressScale: -8 });
  let maxErr = 0;
  for (let i = 0; i < ints.length; i++) maxErr = Math.max(maxErr, Math.abs((d.data as Int16Array)[i]! - ints[i]!));
  assert.ok(maxErr > 0 && maxErr <= 4 * 8, `max error ${maxErr}`);
  assert.throws(() => compressImage(imageHeader(16, [64, 3]), new Int16Array(192), [64, 3], { type: 'HCOMPRESS_1' }, 't'), /at least 4/);
});

test('float quantization round trips: error ≤ step/2, NaN kept, exact zeros with DITHER_2', () => {
  const shape = [120, 40];
  const f = skyImage(120, 40, 3);
  f[5] = NaN; f[500] = NaN; f[1000] = 0; f[1001] = 0;
  const f64 = Float64Array.from(f);
  for (const type of ['RICE_1', 'GZIP_1', 'GZIP_2'] as const) {
    for (const dither of ['NO_DITHER', 'SUBTRACTIVE_DITHER_1', 'SUBTRACTIVE_DITHER_2'] as const) {
      for (const [bitpix, data] of [[-32, f], [-64, f64]] as const) {
        const { c, d } = roundTrip(imageHeader(bitpix, shape), data, shape, { type, dither, ditherSeed: 17, quantizeLevel: 4 });
        assert.equal(c.header.string('ZQUANTIZ'), dither);
        assert.equal(c.header.integer('ZBLANK'), -2147483647);
        const out = d.data as Float32Array | Float64Array;
        assert.equal(out.constructor, data.constructor);
        // per-tile steps are in the ZSCALE column; tiles are rows here
        const table = c.bytes;
        const rowLen = c.header.integer('NAXIS1');
        const dv = new DataView(table.buffer, table.byteOffset);
        const scaleOff = rowLen - 16;
        for (let y = 0; y < 40; y++) {
          const step = dv.getFloat64(y * rowLen + scaleOff, false);
          // σ/4 = 2.5, estimated from one 120-pixel row (stars included)
          assert.ok(step > 1.5 && step < 4.5, `step ${step} ≈ σ/4 = 2.5`);
          for (let x = 0; x < 120; x++) {
            const i = y * 120 + x;
            if (Number.isNaN(data[i]!)) { assert.ok(Number.isNaN(out[i]!), `NaN at ${i}`); continue; }
            if (data[i] === 0 && dither === 'SUBTRACTIVE_DITHER_2') { assert.equal(out[i], 0); continue; }
            // float32 rounding of large values adds at most an ulp
            assert.ok(Math.abs(out[i]! - data[i]!) <= step / 2 + Math.abs(data[i]!) * 2 ** -23, `${type} ${dither} pixel ${i}: ${out[i]} vs ${data[i]}`);
          }
        }
      }
    }
  }
});

test('absolute quantization step (q < 0), constant tiles go to GZIP_COMPRESSED_DATA, lossless floats', () => {
  const shape = [64, 8];
  const f = skyImage(64, 8, 4);
  for (let x = 0; x < 64; x++) f[3 * 64 + x] = 42.5; // a constant row
  const { d } = roundTrip(imageHeader(-32, shape), f, shape, { quantizeLevel: -0.25, ditherSeed: 1 });
  const out = d.data as Float32Array;
  for (let i = 0; i < f.length; i++) assert.ok(Math.abs(out[i]! - f[i]!) <= 0.125 + 1e-3);
  // relative q: a constant row has no noise, cannot be quantized, and is stored losslessly
  const r = roundTrip(imageHeader(-32, shape), f, shape, { ditherSeed: 1 });
  assert.ok(r.c.header.cards.some((k) => k.value === 'GZIP_COMPRESSED_DATA'));
  for (let x = 0; x < 64; x++) assert.equal((r.d.data as Float32Array)[3 * 64 + x], 42.5);
  for (const type of ['GZIP_1', 'GZIP_2', 'NOCOMPRESS'] as const) {
    const r = roundTrip(imageHeader(-32, shape), f, shape, { type, lossless: true });
    assert.equal(r.c.header.string('ZQUANTIZ'), 'NONE');
    assert.deepEqual(r.d.data, f);
  }
  assert.throws(() => compressImage(imageHeader(-32, shape), f, shape, { type: 'RICE_1', lossless: true }, 'x.fits'), TesseraError);
});

test('3-D images with 3-D tiles and row ranges', () => {
  const shape = [30, 20, 4];
  const f = skyImage(30, 80, 6);
  const { d } = roundTrip(imageHeader(-32, shape), f, shape, { tile: [8, 6, 3], ditherSeed: 3 });
  assert.deepEqual(d.shape, shape);
  const c = compressImage(imageHeader(-32, shape), f, shape, { tile: [8, 6, 3], ditherSeed: 3 }, 't');
  const part = decompressImage(c.header, c.bytes, 't', [5, 9]);
  assert.deepEqual(part.shape, [30, 4, 4]);
  const whole = d.data as Float32Array;
  const p = part.data as Float32Array;
  for (let z = 0; z < 4; z++) for (let y = 5; y < 9; y++) for (let x = 0; x < 30; x++) {
    assert.equal(p[(z * 4 + (y - 5)) * 30 + x], whole[(z * 20 + y) * 30 + x]);
  }
});

test('image header reconstruction: ZHECKSUM/ZDATASUM, primary (ZSIMPLE), table keywords dropped', () => {
  const h = new Header([], 'p');
  h.set('SIMPLE', true); h.set('BITPIX', 16); h.set('NAXIS', 2); h.set('NAXIS1', 5); h.set('NAXIS2', 3); h.set('EXTEND', true);
  h.set('OBJECT', 'M31'); h.set('CHECKSUM', 'abcdefghijklmnop'); h.set('DATASUM', '1234');
  h.add({ key: 'HISTORY', comment: 'made by a test' });
  const data = new Int16Array(15).map((_, i) => i * 7 - 50);
  const c = compressImage(h, data, [5, 3], {}, 'p');
  assert.equal(c.header.get('ZSIMPLE'), true);
  assert.equal(c.header.get('ZHECKSUM'), 'abcdefghijklmnop');
  assert.equal(c.header.get('CHECKSUM'), undefined);
  const ih = imageHeaderOf(c.header);
  assert.deepEqual(ih.cards.slice(0, 6).map((k) => k.key), ['SIMPLE', 'BITPIX', 'NAXIS', 'NAXIS1', 'NAXIS2', 'EXTEND']);
  assert.equal(ih.get('OBJECT'), 'M31');
  assert.equal(ih.get('CHECKSUM'), 'abcdefghijklmnop');
  assert.equal(ih.get('DATASUM'), '1234');
  assert.deepEqual(ih.getAll('HISTORY'), ['made by a test']);
  for (const k of ['ZIMAGE', 'ZCMPTYPE', 'TFORM1', 'TTYPE1', 'ZNAME1', 'ZVAL1', 'ZTILE1', 'TFIELDS', 'PCOUNT']) assert.equal(ih.has(k), false, k);
});

test('corrupt tiles give one TesseraError naming the file and the tile', () => {
  const shape = [50, 10];
  const f = skyImage(50, 10, 8);
  const c = compressImage(imageHeader(-32, shape), f, shape, { ditherSeed: 5 }, 'bad.fits[1]');
  const rowLen = c.header.integer('NAXIS1');
  const heap = c.header.integer('NAXIS2') * rowLen;
  // point tile 4's descriptor outside the heap
  const b1 = c.bytes.slice();
  new DataView(b1.buffer).setInt32(3 * rowLen + 4, 1e6, false);
  assert.throws(() => decompressImage(c.header, b1, 'bad.fits[1]'), (e: Error) => e instanceof TesseraError && /bad\.fits\[1\].*tile 4/.test(e.message));
  // garbage in the heap: every tile either decodes or fails with a message naming its tile
  const rnd = lcg(12);
  for (let k = 0; k < 200; k++) {
    const b = c.bytes.slice();
    for (let j = 0; j < 5; j++) b[heap + Math.floor(rnd() * (b.length - heap))] = Math.floor(rnd() * 256);
    try {
      decompressImage(c.header, b, 'bad.fits[1]');
    } catch (e) {
      assert.ok(e instanceof TesseraError, `${(e as Error).name}: ${(e as Error).message}`);
      assert.match((e as Error).message, /bad\.fits\[1\]: compressed tile \d+ is corrupt/);
    }
  }
  // wrong ZCMPTYPE, wrong row count
  const h2 = c.header.clone();
  h2.set('ZCMPTYPE', 'LZW_9');
  assert.throws(() => decompressImage(h2, c.bytes, 'bad.fits[1]'), /ZCMPTYPE = 'LZW_9'/);
  const h4 = c.header.clone();
  h4.set('ZNAXIS1', 2e9);
  h4.set('ZTILE1', 2e9);
  assert.throws(() => decompressImage(h4, c.bytes, 'bad.fits[1]'), (e: Error) => e instanceof TesseraError && /too large/.test(e.message));
  const h3 = c.header.clone();
  h3.set('ZNAXIS2', 11);
  assert.throws(() => decompressImage(h3, c.bytes, 'bad.fits[1]'), /11 tiles|rows/);
});

async function run(name: string, argv: string[]): Promise<{ code: number | void; stdout: string }> {
  const spec = compressCommands.find((c) => c.name === name)!;
  const out = new PassThrough();
  let stdout = '';
  out.on('data', (d) => (stdout += d));
  const code = await spec.run(parseCommandArgs(argv, spec), { stdout: out, stderr: new PassThrough(), stdin: Readable.from(['']) });
  return { code, stdout };
}

test('fits compress / decompress commands: whole files, primary image, tables copied', async () => {
  const dir = tempDir();
  const src = join(dir, 'in.fits');
  const prim = skyImage(64, 32, 21);
  const ext = new Uint16Array(40 * 30).map((_, i) => (i * 997) % 65536);
  const cat = new Float64Array([1.5, 2.5, 3.5]);
  writeFits(src, [
    { kind: 'image', data: prim, shape: [64, 32] },
    { kind: 'image', data: ext, shape: [40, 30], extname: 'MASK' },
    { kind: 'bintable', extname: 'CAT', nrows: 3, columns: [{ name: 'FLUX', data: cat }] },
  ], { checksum: true });
  const fz = join(dir, 'out.fits.fz');
  const r1 = await run('fits compress', [src, fz, '--seed', '99', '-v']);
  assert.equal(r1.code, 0);
  assert.match(r1.stdout, /HDU 0: compressed/);
  const zr = FitsReader.open(fz);
  assert.equal(zr.hdus.length, 4);
  assert.equal(zr.hdus[0]!.dataBytes, 0);
  assert.equal(zr.hdus[1]!.type, 'compressed-image');
  assert.equal(zr.hdus[1]!.header.get('ZSIMPLE'), true);
  assert.equal(zr.hdus[2]!.type, 'compressed-image');
  assert.equal(zr.hdus[3]!.type, 'bintable');
  for (const i of [1, 2, 3]) assert.equal(zr.checksums(i).checksum, 'ok', `checksum HDU ${i}`);
  const zscale = zr.readTable(1).columns.find((c) => c.name === 'ZSCALE')!.data as Float64Array;
  zr.close();
  const back = join(dir, 'back.fits');
  assert.equal((await run('fits decompress', [fz, back])).code, 0);
  const br = FitsReader.open(back);
  assert.equal(br.hdus.length, 3);
  const p = br.readImage(0);
  assert.deepEqual(p.shape, [64, 32]);
  const pd = p.data as Float32Array;
  // error ≤ step/2, the step of each row tile being in ZSCALE
  for (let i = 0; i < prim.length; i++) assert.ok(Math.abs(pd[i]! - prim[i]!) <= zscale[Math.floor(i / 64)]! / 2 + 1e-3, `pixel ${i}`);
  assert.deepEqual(br.readImage(1).data, ext);
  assert.equal(br.hdu(1).extname, 'MASK');
  assert.deepEqual(br.readTable(2).columns[0]!.data, cat);
  for (const i of [0, 1, 2]) assert.equal(br.checksums(i).checksum, 'ok', `checksum HDU ${i} after decompress`);
  br.close();
  // a second compression of the compressed file copies the compressed HDUs unchanged
  const fz2 = join(dir, 'again.fits.fz');
  await run('fits compress', [fz, fz2]);
  assert.deepEqual(readFileSync(fz2).subarray(2880), readFileSync(fz).subarray(2880));
});

test('fits compress options: type, tile, dither and errors', async () => {
  const dir = tempDir();
  const src = join(dir, 'in.fits');
  writeFits(src, [{ kind: 'image', data: null, shape: [] }, { kind: 'image', data: skyImage(50, 20, 2), shape: [50, 20] }]);
  const out = join(dir, 'o.fz');
  await run('fits compress', [src, out, '--type', 'gzip2', '--tile', '25x5', '--dither', '2', '-q', '8', '--seed', '3']);
  const h = FitsReader.open(out).hdu(1).header;
  assert.equal(h.string('ZCMPTYPE'), 'GZIP_2');
  assert.equal(h.integer('ZTILE1'), 25);
  assert.equal(h.integer('ZTILE2'), 5);
  assert.equal(h.string('ZQUANTIZ'), 'SUBTRACTIVE_DITHER_2');
  assert.equal(h.integer('ZDITHER0'), 3);
  await assert.rejects(run('fits compress', [src, out, '--type', 'lzw']), /--type/);
  await assert.rejects(run('fits compress', [src, out, '--tile', '0x3']), /--tile/);
  await assert.rejects(run('fits compress', [src, out, '--seed', '10001']), /--seed/);
  await assert.rejects(run('fits compress', [src]), /missing output/);
  writeFileSync(join(dir, 'trunc.fits'), readFileSync(src).subarray(0, 4000));
  await assert.rejects(run('fits compress', [join(dir, 'trunc.fits'), out]), TesseraError);
});

test('writeFits(..., { compress }) and FitsReader.readImage round trip through this module', () => {
  const dir = tempDir();
  const path = join(dir, 'w.fits.fz');
  const u16 = new Uint16Array(60 * 20).map((_, i) => (i * 331) % 65536);
  const f = skyImage(60, 20, 40);
  writeFits(path, [
    { kind: 'image', data: u16, shape: [60, 20], extname: 'MASK', compress: { type: 'RICE_1' } },
    { kind: 'image', data: f, shape: [60, 20], extname: 'SCI', compress: { type: 'GZIP_2', ditherSeed: 4 } },
  ]);
  const r = FitsReader.open(path);
  assert.equal(r.hdu('MASK').type, 'compressed-image');
  assert.deepEqual(r.readImage('MASK').data, u16);
  const back = r.readImage('SCI').data as Float32Array;
  const zscale = r.readTable('SCI').columns.find((c) => c.name === 'ZSCALE')!.data as Float64Array;
  for (let i = 0; i < f.length; i++) assert.ok(Math.abs(back[i]! - f[i]!) <= zscale[Math.floor(i / 60)]! / 2 + 1e-3, `pixel ${i}`);
  assert.deepEqual(r.readImage('MASK', { box: { x0: 5, y0: 3, x1: 17, y1: 9 } }).shape, [12, 6]);
  r.close();
});

test('64-bit integers (GZIP) round trip exactly beyond 2^53, signed and unsigned', () => {
  const n = 30 * 7;
  const i64 = new BigInt64Array(n).map((_, i) => BigInt(i) * 123456789012345n - 9000000000000000000n);
  i64[0] = -9223372036854775808n; i64[1] = 9223372036854775807n;
  const u64 = new BigUint64Array(n).map((_, i) => BigInt(i) * 87654321098765431n);
  u64[0] = 18446744073709551615n;
  for (const type of ['GZIP_1', 'GZIP_2', 'NOCOMPRESS'] as const) {
    for (const tile of [undefined, [7, 3]]) {
      const a = roundTrip(imageHeader(64, [30, 7]), i64, [30, 7], { type, tile });
      assert.deepEqual(a.d.data, i64);
      const b = roundTrip(imageHeader(64, [30, 7], [['BSCALE', 1], ['BZERO', 9223372036854775808]]), u64, [30, 7], { type, tile });
      assert.deepEqual(b.d.data, u64);
    }
  }
  assert.throws(() => compressImage(imageHeader(64, [30, 7]), i64, [30, 7], { type: 'RICE_1' }, 't'), /64-bit/);
});

/** A hand-built one-column compressed table: Rice tiles of the given integers, header cards as given. */
function handBuilt(tiles: Int32Array[], bytepix: number, block: number, cards: [string, string | number | boolean][]): { h: Header; bytes: Uint8Array } {
  const enc = tiles.map((t) => riceEncode(t, t.length, bytepix, block));
  const heap = enc.reduce((a, e) => a + e.length, 0);
  const bytes = new Uint8Array(8 * tiles.length + heap);
  const dv = new DataView(bytes.buffer);
  let off = 0;
  enc.forEach((e, i) => {
    dv.setInt32(8 * i, e.length, false);
    dv.setInt32(8 * i + 4, off, false);
    bytes.set(e, 8 * tiles.length + off);
    off += e.length;
  });
  const h = new Header([], 'hand.fits[1]');
  for (const [k, v] of [['XTENSION', 'BINTABLE'], ['BITPIX', 8], ['NAXIS', 2], ['NAXIS1', 8], ['NAXIS2', tiles.length], ['PCOUNT', heap],
    ['GCOUNT', 1], ['TFIELDS', 1], ['TTYPE1', 'COMPRESSED_DATA'], ['TFORM1', '1PB'], ['ZIMAGE', true], ...cards] as [string, string | number | boolean][]) h.set(k, v);
  return { h, bytes };
}

test('hand-built tables: ZSCALE/ZZERO/ZBLANK keywords, old files without ZQUANTIZ, block size 16, RICE_ONE, unnamed ZVALs', () => {
  const t0 = Int32Array.from([0, 1, 2, 3, -2147483647, 5, 6, 7, 8, 9]);
  const t1 = Int32Array.from([10, 11, 12, 13, 14, 15, 16, 17, 18, -2147483647]);
  const common: [string, string | number | boolean][] = [['ZBITPIX', -32], ['ZNAXIS', 2], ['ZNAXIS1', 10], ['ZNAXIS2', 2], ['ZTILE1', 10], ['ZTILE2', 1],
    ['ZSCALE', 0.5], ['ZZERO', 100], ['ZBLANK', -2147483647]];
  // ZQUANTIZ absent (files before 2009): linear scaling without dither
  const a = handBuilt([t0, t1], 4, 16, [['ZCMPTYPE', 'RICE_ONE'], ['ZNAME1', 'BLOCKSIZE'], ['ZVAL1', 16], ...common]);
  const da = decompressImage(a.h, a.bytes, 'hand.fits[1]').data as Float32Array;
  const want = [...t0, ...t1].map((v) => (v === -2147483647 ? NaN : v * 0.5 + 100));
  assert.deepEqual([...da], want);
  // ZVAL1/ZVAL2 without ZNAMEs: block size then bytes per pixel
  const i16 = [Int32Array.from([5, -3, 7, 32767, -32768, 0, 1, 2]), Int32Array.from([9, 8, 7, 6, 5, 4, 3, 2])];
  const b = handBuilt(i16, 2, 16, [['ZCMPTYPE', 'RICE_1'], ['ZVAL1', 16], ['ZVAL2', 2], ['ZBITPIX', 16], ['ZNAXIS', 2], ['ZNAXIS1', 8], ['ZNAXIS2', 2], ['ZTILE1', 8], ['ZTILE2', 1]]);
  assert.deepEqual([...decompressImage(b.h, b.bytes, 'hand.fits[1]').data as Int16Array], [...i16[0]!, ...i16[1]!]);
  // ZTILEn absent: row tiles by default
  const c = handBuilt(i16, 2, 32, [['ZCMPTYPE', 'RICE_1'], ['ZNAME1', 'BLOCKSIZE'], ['ZVAL1', 32], ['ZNAME2', 'BYTEPIX'], ['ZVAL2', 2], ['ZBITPIX', 16], ['ZNAXIS', 2], ['ZNAXIS1', 8], ['ZNAXIS2', 2]]);
  assert.deepEqual([...decompressImage(c.h, c.bytes, 'hand.fits[1]').data as Int16Array], [...i16[0]!, ...i16[1]!]);
});
