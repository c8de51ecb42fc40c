/**
 * Whole-file compression and decompression, like fpack and funpack: every image HDU with data is
 * tile-compressed (a primary image goes into the first extension, marked ZSIMPLE, behind an
 * empty primary HDU); tables and already-compressed HDUs are copied unchanged. Decompression
 * restores the images, a ZSIMPLE one back into the primary HDU.
 */
import { BLOCK, Header, type Card } from '../header.js';
import { FitsReader } from '../reader.js';
import { bytesPerPixel, encodePixels, swapInPlace } from '../pixels.js';
import { addSums, onesSum, setChecksums } from '../checksum.js';
import { AtomicFile, writeAtomicStream, writeFileAtomic, type AtomicOutput } from '../../util/atomic.js';
import { TesseraError, where as fmtWhere } from '../../util/errors.js';
import { assembleCompressed, compressTiles, planCompression, tileRowRuns, type CompressionPlan, type TileRun } from './write.js';
import { CodecPool } from './pool.js';
import { availableParallelism } from 'node:os';
import { decodeImageInto, imageHeaderOf, isCompressedImage } from './index.js';
import type { PixelArray } from '../pixels.js';
import type { CompressOptions } from './types.js';

export interface FileOptions {
  /**
   * CHECKSUM/DATASUM: 'auto' (default) recomputes them on the HDUs that had them, true on every
   * HDU, false drops stale ones (a copied HDU whose header bytes did not change keeps its own).
   */
  checksum?: boolean | 'auto';
}

export interface HduReport {
  index: number;
  extname?: string;
  action: 'compressed' | 'decompressed' | 'copied';
  inBytes: number;
  outBytes: number;
}

function pad(n: number): Uint8Array {
  const r = n % BLOCK;
  return new Uint8Array(r === 0 ? 0 : BLOCK - r);
}

function emptyPrimary(): Header {
  const cards: Card[] = [
    { key: 'SIMPLE', value: true, comment: 'file does conform to FITS standard' },
    { key: 'BITPIX', value: 8, comment: 'number of bits per data pixel' },
    { key: 'NAXIS', value: 0, comment: 'number of data axes' },
    { key: 'EXTEND', value: true, comment: 'FITS dataset may contain extensions' },
  ];
  return new Header(cards, '<primary>');
}

const HAD_SUMS = (h: Header): boolean => h.has('CHECKSUM') || h.has('DATASUM');

class Out {
  chunks: Uint8Array[] = [];
  total = 0;
  constructor(private readonly checksum: boolean | 'auto') {}
  /** Append an HDU; `hadSums` says whether the input HDU carried checksums. */
  hdu(header: Header, data: Uint8Array, hadSums: boolean): number {
    const body = data.length ? [data, pad(data.length)] : [];
    if (this.checksum === true || (this.checksum === 'auto' && hadSums)) {
      setChecksums(header, body);
    } else {
      header.delete('CHECKSUM');
      header.delete('DATASUM');
    }
    const hb = header.toBytes();
    this.chunks.push(hb, ...body);
    const n = hb.length + body.reduce((a, b) => a + b.length, 0);
    this.total += n;
    return n;
  }
  /** Append an HDU byte for byte. */
  raw(headerBytes: Uint8Array, data: Uint8Array): number {
    const body = data.length ? [data, pad(data.length)] : [];
    this.chunks.push(headerBytes, ...body);
    const n = headerBytes.length + body.reduce((a, b) => a + b.length, 0);
    this.total += n;
    return n;
  }
}

function copyHdu(r: FitsReader, i: number, out: Out, checksum: boolean | 'auto'): number {
  const info = r.hdu(i);
  const data = r.readRawData(i);
  if (checksum === true) return out.hdu(info.header.clone(), data, true);
  return out.raw(r.headerBytes(i), data);
}

/** One image HDU to compress: its tiles are compressed in runs of tile rows, then assembled. */
export interface CompressJob {
  hdu: number;
  plan: CompressionPlan;
  /** The options with this HDU's dither seed (a worker rebuilds the same plan from them). */
  opts: CompressOptions;
}

/** The FITS shape [NAXIS1, NAXIS2, ...] of an image header. */
function shapeOf(h: Header): number[] {
  const n = h.integer('NAXIS');
  const shape: number[] = [];
  for (let k = 1; k <= n; k++) shape.push(h.integer(`NAXIS${k}`));
  return shape;
}

/** The plan for compressing image HDU `hdu` of `r` with `opts` (which carry its dither seed). */
export function planHdu(r: FitsReader, hdu: number, opts: CompressOptions): CompressionPlan {
  const info = r.hdu(hdu);
  return planCompression(info.header, shapeOf(info.header), opts, fmtWhere(r.path, hdu, info.extname), true);
}

/** Read and compress one run of tile rows of an image HDU (in the main thread or a worker). */
export function compressRun(r: FitsReader, plan: CompressionPlan, hdu: number, run: { t0: number; t1: number; y0: number; y1: number }): TileRun {
  const img = plan.shape.length === 2 ? r.readImage(hdu, { raw: true, rows: [run.y0, run.y1] }) : r.readImage(hdu, { raw: true });
  return compressTiles(plan, img.data, run.t0, run.t1, plan.shape.length === 2 ? run.y0 : 0);
}

/**
 * fpack's walk through a file: yields each image HDU to compress and receives its compressed
 * table; returns the output chunks and a report. The driver decides who compresses the tiles.
 */
function* compressSteps(r: FitsReader, opts: CompressOptions & FileOptions): Generator<CompressJob, { chunks: Uint8Array[]; report: HduReport[] }, { header: Header; bytes: Uint8Array }> {
  const checksum = opts.checksum ?? 'auto';
  const out = new Out(checksum);
  const report: HduReport[] = [];
  const baseSeed = opts.ditherSeed;
  for (const info of r.hdus) {
    const i = info.index;
    const inBytes = info.dataOffset - info.headerOffset + Math.ceil(info.dataBytes / BLOCK) * BLOCK;
    const isImage = info.type === 'image' && info.dataBytes > 0 && (info.header.optionalNumber('NAXIS') ?? 0) > 0;
    if (!isImage) {
      if (i === 0 && info.type === 'image') {
        // empty primary: copy, making sure extensions are allowed
        const h = info.header.clone();
        if (h.get('EXTEND') !== true) {
          h.set('EXTEND', true, 'FITS dataset may contain extensions');
          report.push({ index: i, action: 'copied', inBytes, outBytes: out.hdu(h, new Uint8Array(0), HAD_SUMS(info.header)) });
          continue;
        }
      }
      report.push({ index: i, extname: info.extname, action: 'copied', inBytes, outBytes: copyHdu(r, i, out, checksum) });
      continue;
    }
    // as cfitsio: a clock-based ZDITHER0 offset by the HDU number, unless one was given
    const seed = baseSeed ?? ((Math.floor(Date.now() / 1000) + i) % 10000) + 1;
    const jobOpts: CompressOptions = { ...opts, ditherSeed: seed };
    delete (jobOpts as FileOptions).checksum;
    const c = yield { hdu: i, plan: planHdu(r, i, jobOpts), opts: jobOpts };
    let outBytes = 0;
    if (i === 0) outBytes += out.hdu(emptyPrimary(), new Uint8Array(0), false);
    outBytes += out.hdu(c.header, c.bytes, HAD_SUMS(info.header));
    report.push({ index: i, extname: info.extname, action: 'compressed', inBytes, outBytes });
  }
  return { chunks: out.chunks, report };
}

/** fpack: compress every image HDU of an open file; returns the output chunks and a report. */
export function compressFits(r: FitsReader, opts: CompressOptions & FileOptions = {}): { chunks: Uint8Array[]; report: HduReport[] } {
  const steps = compressSteps(r, opts);
  let step = steps.next();
  while (!step.done) {
    const { hdu, plan } = step.value;
    const whole = { t0: 0, t1: plan.grid.ntiles, y0: 0, y1: plan.shape[1] ?? 1 };
    step = steps.next(assembleCompressed(plan, [compressRun(r, plan, hdu, whole)]));
  }
  return step.value;
}

/** Threads that share the work of the threaded file functions: the main one plus workers. */
export interface ThreadOptions {
  /**
   * Threads in all (1 = no workers). Default: 1 for files with fewer than two CCDs' worth of
   * image pixels (a worker's start-up and its own JIT warm-up cost about what it would save),
   * else the available cores, at most 4.
   */
  threads?: number;
}

/** Image pixels below which the default is one thread: two 2048×4096 CCDs. */
const THREADED_MIN_PIXELS = 2 * 2048 * 4096;

function threadCount(opts: ThreadOptions, r: FitsReader, compressed: boolean): number {
  if (opts.threads !== undefined) {
    const n = opts.threads;
    if (!Number.isInteger(n) || n < 1) throw new TesseraError(`threads: expected a positive integer, got ${n}`);
    return n;
  }
  let pixels = 0;
  for (const info of r.hdus) {
    const h = info.header;
    if (compressed ? !isCompressedImage(h) : info.type !== 'image' || info.dataBytes === 0) continue;
    const n = h.optionalNumber(compressed ? 'ZNAXIS' : 'NAXIS') ?? 0;
    let p = n > 0 ? 1 : 0;
    for (let k = 1; k <= n; k++) p *= h.optionalNumber(`${compressed ? 'Z' : ''}NAXIS${k}`) ?? 0;
    pixels += p;
  }
  return pixels < THREADED_MIN_PIXELS ? 1 : Math.min(4, availableParallelism());
}

/** Runs of tile rows per image and thread: small enough to balance a worker that starts late. */
const RUNS_PER_THREAD = 8;

/**
 * compressFile with the tiles of each image shared between this thread and worker threads
 * (each compresses whole runs of tile rows; the output is byte for byte the same as
 * compressFile's).
 */
export async function compressFileThreaded(inPath: string, outPath: string, opts: CompressOptions & FileOptions & ThreadOptions = {}): Promise<HduReport[]> {
  const { threads: _t, ...rest } = opts;
  return withThreads(inPath, opts, false, () => compressFile(inPath, outPath, rest), async (r, pool, threads) => {
    const steps = compressSteps(r, rest);
    let step = steps.next();
    while (!step.done) {
      const { hdu, plan, opts: jobOpts } = step.value;
      const runs = tileRowRuns(plan, threads * RUNS_PER_THREAD);
      const results = await pool.run<TileRun>({ kind: 'compress', path: inPath, hdu, opts: jobOpts, runs }, runs.length, (k) => compressRun(r, plan, hdu, runs[k]!));
      step = steps.next(assembleCompressed(plan, results));
    }
    writeFileAtomic(outPath, step.value.chunks);
    return step.value.report;
  });
}

/**
 * Open IN and choose the threads: with one, close it and run `single` (the plain function);
 * otherwise run `threaded` with the open file and a pool of workers, closing both after.
 */
async function withThreads<T>(
  inPath: string,
  opts: ThreadOptions,
  compressed: boolean,
  single: () => T,
  threaded: (r: FitsReader, pool: CodecPool, threads: number) => Promise<T>,
): Promise<T> {
  const r = FitsReader.open(inPath);
  let threads: number;
  try {
    threads = threadCount(opts, r, compressed);
  } catch (e) {
    r.close();
    throw e;
  }
  if (threads === 1) {
    r.close();
    return single();
  }
  const pool = new CodecPool(threads - 1);
  try {
    return await threaded(r, pool, threads);
  } finally {
    r.close();
    await pool.close();
  }
}

/** funpack: decompress every tile-compressed image HDU of an open file. */
export function decompressFits(r: FitsReader, opts: FileOptions = {}): { chunks: Uint8Array[]; report: HduReport[] } {
  const sink = new MemoryOutput();
  const report: HduReport[] = [];
  const steps = decompressSteps(r, opts, sink, report);
  let step = steps.next();
  while (!step.done) {
    const job = step.value;
    // the whole image in one piece (decompressFile decodes it in runs of rows)
    const d = decodeRun(decodeSource(r, job.hdu), job, { y0: 0, y1: 0 });
    sink.write(d.bytes);
    step = steps.next({ datasum: d.sum, nbytes: d.bytes.length });
  }
  return { chunks: sink.chunks, report };
}

/** Output kept in memory, for decompressFits: writeAt replaces a piece written before. */
class MemoryOutput implements AtomicOutput {
  readonly chunks: Uint8Array[] = [];
  private readonly starts: number[] = [];
  offset = 0;
  write(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.starts.push(this.offset);
    this.chunks.push(bytes);
    this.offset += bytes.length;
  }
  writeAt(bytes: Uint8Array, at: number): void {
    const k = this.starts.indexOf(at);
    if (k < 0 || this.chunks[k]!.length !== bytes.length) throw new Error('MemoryOutput: writeAt must replace one whole piece (internal error)');
    this.chunks[k] = bytes;
  }
}

/** Whether decoded pixels are stored as BITPIX says (then a byte swap gives the data unit). */
function isNatural(bitpix: number, a: PixelArray): boolean {
  return (bitpix === -32 && a instanceof Float32Array) || (bitpix === -64 && a instanceof Float64Array) ||
    (bitpix === 8 && a instanceof Uint8Array) || (bitpix === 16 && a instanceof Int16Array) ||
    (bitpix === 32 && a instanceof Int32Array) || (bitpix === 64 && a instanceof BigInt64Array);
}

/** A ZSIMPLE image right after an empty primary becomes the primary again. */
function restoresPrimary(r: FitsReader): boolean {
  const first = r.hdus[1];
  return r.hdus[0]!.type === 'image' && r.hdus[0]!.dataBytes === 0 && first !== undefined && first.type === 'compressed-image' && first.header.get('ZSIMPLE') === true;
}

/** A restored image header as the primary HDU or as an IMAGE extension. */
function placed(h: Header, isPrimary: boolean): Header {
  if (!isPrimary && h.has('SIMPLE')) return asExtension(h);
  if (isPrimary && !h.has('SIMPLE')) return asPrimary(h);
  return h;
}

function asExtension(h: Header): Header {
  const cards: Card[] = [{ key: 'XTENSION', value: 'IMAGE', comment: 'image extension' }];
  const rest = h.cards.filter((c) => !['SIMPLE', 'EXTEND'].includes(c.key.toUpperCase()));
  const naxis = h.integer('NAXIS');
  // XTENSION, BITPIX, NAXIS, NAXISn, PCOUNT, GCOUNT, then the rest
  const struct = rest.slice(0, 2 + naxis);
  cards.push(...struct, { key: 'PCOUNT', value: 0, comment: 'number of parameters' }, { key: 'GCOUNT', value: 1, comment: 'number of groups' });
  cards.push(...rest.slice(2 + naxis));
  return new Header(cards, h.where);
}

function asPrimary(h: Header): Header {
  const rest = h.cards.filter((c) => !['XTENSION', 'PCOUNT', 'GCOUNT'].includes(c.key.toUpperCase()));
  const naxis = h.integer('NAXIS');
  const cards: Card[] = [{ key: 'SIMPLE', value: true, comment: 'conforms to FITS standard' }, ...rest.slice(0, 2 + naxis)];
  cards.push({ key: 'EXTEND', value: true, comment: 'FITS dataset may contain extensions' }, ...rest.slice(2 + naxis).filter((c) => c.key.toUpperCase() !== 'EXTEND'));
  return new Header(cards, h.where);
}

/** Compress IN to OUT (written atomically). */
export function compressFile(inPath: string, outPath: string, opts: CompressOptions & FileOptions = {}): HduReport[] {
  const r = FitsReader.open(inPath);
  try {
    const { chunks, report } = compressFits(r, opts);
    writeFileAtomic(outPath, chunks);
    return report;
  } finally {
    r.close();
  }
}

/** Bytes of decoded image per run of rows (a band decoded, byte-swapped, summed and written at once). */
const BAND_BYTES = 1 << 21;

/** One tile-compressed image HDU to decode: runs of whole tile rows, written in order. */
export interface DecodeJob {
  hdu: number;
  bitpix: number;
  withSums: boolean;
  /** Row ranges [y0, y1) (the whole image, y0 = y1 = 0, for an image that is not 2-D). */
  runs: { y0: number; y1: number }[];
}

/** The compressed table of a job's HDU, read once for all its runs. */
export interface DecodeSource {
  header: Header;
  data: Uint8Array;
  where: string;
}

export function decodeSource(r: FitsReader, hdu: number): DecodeSource {
  const info = r.hdu(hdu);
  return { header: info.header, data: r.readRawData(hdu), where: fmtWhere(r.path, hdu, info.extname) };
}

/**
 * Decode one run of rows to the big-endian bytes of the data unit and their ones' complement
 * sum. `into`: a buffer to decode into when it fits (the bytes are then a view on it).
 */
export function decodeRun(src: DecodeSource, job: DecodeJob, run: { y0: number; y1: number }, into?: PixelArray): { bytes: Uint8Array; sum: number; pixels: PixelArray } {
  const whole = run.y0 === run.y1;
  const img = decodeImageInto(src.header, src.data, src.where, whole ? undefined : [run.y0, run.y1], true, into);
  const a = img.data;
  let bytes: Uint8Array;
  if (isNatural(job.bitpix, a)) {
    bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    swapInPlace(bytes, bytesPerPixel(job.bitpix));
  } else {
    bytes = encodePixels(a, job.bitpix, src.where);
  }
  return { bytes, sum: job.withSums ? onesSum(bytes) : 0, pixels: a };
}

/**
 * funpack's walk through a file, writing to `f`: HDUs that are not compressed images are copied;
 * for each compressed image the header goes out (with placeholder sums, rewritten in place
 * once the data are summed: its length does not depend on their values) and the image is
 * yielded to the driver, which writes its data unit and hands back the sum and length.
 */
function* decompressSteps(r: FitsReader, opts: FileOptions, f: AtomicOutput, report: HduReport[]): Generator<DecodeJob, void, { datasum: number; nbytes: number }> {
  const checksum = opts.checksum ?? 'auto';
  const out = new Out(checksum);
  const flush = (): void => {
    for (const c of out.chunks) f.write(c);
    out.chunks = [];
  };
  const restorePrimary = restoresPrimary(r);
  for (const info of r.hdus) {
    const i = info.index;
    const inBytes = info.dataOffset - info.headerOffset + Math.ceil(info.dataBytes / BLOCK) * BLOCK;
    if (i === 0 && restorePrimary) {
      report.push({ index: i, action: 'copied', inBytes, outBytes: 0 });
      continue;
    }
    if (!isCompressedImage(info.header)) {
      report.push({ index: i, extname: info.extname, action: 'copied', inBytes, outBytes: copyHdu(r, i, out, checksum) });
      flush();
      continue;
    }
    const h = placed(imageHeaderOf(info.header), i === 1 && restorePrimary);
    const hadSums = HAD_SUMS(info.header) || info.header.has('ZHECKSUM') || info.header.has('ZDATASUM');
    const withSums = checksum === true || (checksum === 'auto' && hadSums);
    const bitpix = h.integer('BITPIX');
    const size = bytesPerPixel(bitpix);
    const naxis = h.integer('NAXIS');
    const nx = naxis >= 1 ? h.integer('NAXIS1') : 0;
    const ny = naxis >= 2 ? h.integer('NAXIS2') : 1;
    const tileRows = Math.max(1, info.header.optionalNumber('ZTILE2') ?? 1);
    // runs of whole tile rows (a multiple of 4 rows keeps them whole 32-bit words for the sums)
    const lcm = tileRows % 4 === 0 ? tileRows : tileRows % 2 === 0 ? tileRows * 2 : tileRows * 4;
    const rowsPer = Math.max(lcm, Math.floor(BAND_BYTES / Math.max(1, nx * size) / lcm) * lcm);
    const runs: { y0: number; y1: number }[] = [];
    if (naxis !== 2) runs.push({ y0: 0, y1: 0 });
    else for (let y = 0; y < ny; y += rowsPer) runs.push({ y0: y, y1: Math.min(ny, y + rowsPer) });
    if (withSums) setChecksums(h, { datasum: 0 });
    else { h.delete('CHECKSUM'); h.delete('DATASUM'); }
    const headerAt = f.offset;
    const hb0 = h.toBytes();
    f.write(hb0);
    const { datasum, nbytes } = yield { hdu: i, bitpix, withSums, runs };
    const padding = pad(nbytes);
    f.write(padding);
    if (withSums) {
      setChecksums(h, { datasum });
      const hb = h.toBytes();
      if (hb.length !== hb0.length) throw new Error('decompressFile: header length changed with its checksums (internal error)');
      f.writeAt(hb, headerAt);
    }
    report.push({ index: i, extname: info.extname, action: 'decompressed', inBytes, outBytes: hb0.length + nbytes + padding.length });
  }
}

/**
 * Decompress IN to OUT, written atomically (temporary file, fsync, rename) like writeFileAtomic,
 * but streamed: each image is decoded in runs of about 2 MB of rows into one reused buffer,
 * byte-swapped and summed for DATASUM while in cache, and written out. The bytes written are the
 * same as those of decompressFits.
 */
export function decompressFile(inPath: string, outPath: string, opts: FileOptions = {}): HduReport[] {
  const r = FitsReader.open(inPath);
  try {
    const report: HduReport[] = [];
    writeAtomicStream(outPath, (f) => {
      const steps = decompressSteps(r, opts, f, report);
      let step = steps.next();
      let buffer: PixelArray | undefined;
      while (!step.done) {
        const job = step.value;
        const src = decodeSource(r, job.hdu);
        let datasum = 0;
        let nbytes = 0;
        for (const run of job.runs) {
          const d = decodeRun(src, job, run, buffer);
          buffer = d.pixels;
          f.write(d.bytes);
          datasum = addSums(datasum, d.sum);
          nbytes += d.bytes.length;
        }
        step = steps.next({ datasum, nbytes });
      }
    });
    return report;
  } finally {
    r.close();
  }
}

/**
 * decompressFile with the runs of each image shared between this thread and worker threads;
 * the runs are written in order as they complete (the same bytes as decompressFile's).
 */
export async function decompressFileThreaded(inPath: string, outPath: string, opts: FileOptions & ThreadOptions = {}): Promise<HduReport[]> {
  const { threads: _t, ...rest } = opts;
  return withThreads(inPath, opts, true, () => decompressFile(inPath, outPath, rest), async (r, pool) => {
    let f: AtomicFile | undefined = new AtomicFile(outPath);
    try {
      const file = f;
      const report: HduReport[] = [];
      const steps = decompressSteps(r, rest, file, report);
      let step = steps.next();
      while (!step.done) {
        const job = step.value;
        const src = decodeSource(r, job.hdu);
        let datasum = 0;
        let nbytes = 0;
        let next = 0;
        const ready: ({ bytes: Uint8Array; sum: number } | undefined)[] = [];
        const write = (k: number, d: { bytes: Uint8Array; sum: number }): void => {
          ready[k] = d;
          for (let x = ready[next]; x; x = ready[next]) {
            ready[next++] = undefined;
            file.write(x.bytes);
            datasum = addSums(datasum, x.sum);
            nbytes += x.bytes.length;
          }
        };
        await pool.run<{ bytes: Uint8Array; sum: number }>({ kind: 'decompress', path: inPath, job }, job.runs.length, (k) => decodeRun(src, job, job.runs[k]!), write);
        step = steps.next({ datasum, nbytes });
      }
      f.finish();
      f = undefined;
      return report;
    } finally {
      f?.abort();
    }
  });
}
