/**
 * Types shared by the tile-compression codecs and the FITS reader/writer.
 */

/** Pixel arrays as the FITS reader returns them (see ../pixels.ts for the scaling rules). */
export type { PixelArray } from '../pixels.js';

export type CompressionType = 'RICE_1' | 'GZIP_1' | 'GZIP_2' | 'HCOMPRESS_1' | 'PLIO_1' | 'NOCOMPRESS';

export type DitherMethod = 'NO_DITHER' | 'SUBTRACTIVE_DITHER_1' | 'SUBTRACTIVE_DITHER_2';

export interface CompressOptions {
  /** Compression algorithm; default RICE_1 (as fpack). */
  type?: CompressionType;
  /**
   * Float quantization: q > 0 gives a step of noise/q per tile (fpack's -q, default 4);
   * q < 0 gives the absolute step |q| (fpack's -q with a negative value).
   */
  quantizeLevel?: number;
  /** Default SUBTRACTIVE_DITHER_1 (as fpack). */
  dither?: DitherMethod;
  /** ZDITHER0 in 1..10000; default from the clock, as fpack. */
  ditherSeed?: number;
  /** Tile shape, fastest axis first; default [NAXIS1, 1, 1, ...] (row tiles, as fpack). */
  tile?: number[];
  /** HCOMPRESS_1 scale (0 = lossless for integers); default 0. */
  hcompressScale?: number;
  /** HCOMPRESS_1: smooth while decompressing (written as ZVAL2 SMOOTH). */
  hcompressSmooth?: boolean;
  /** Floats without quantization: tiles gzipped losslessly (ZQUANTIZ = 'NONE'). */
  lossless?: boolean;
}

/** A failure inside a codec; the tile layer turns it into a TesseraError naming file, HDU and tile. */
export class CodecError extends Error {
  override name = 'CodecError';
}
