/**
 * GZIP_1 and GZIP_2 tile codecs: the tile's big-endian pixel bytes, gzipped (GZIP_2 first
 * shuffles the bytes: all most-significant bytes of the tile, then the next, ...).
 */
import { gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { CodecError } from './types.js';

/** Byte shuffle of `width`-byte elements (GZIP_2): element i byte k → k·n + i. */
export function shuffleBytes(src: Uint8Array, width: number): Uint8Array {
  if (width === 1) return src;
  const n = src.length / width;
  const out = new Uint8Array(src.length);
  for (let k = 0; k < width; k++) {
    const base = k * n;
    for (let i = 0, j = k; i < n; i++, j += width) out[base + i] = src[j]!;
  }
  return out;
}

export function unshuffleBytes(src: Uint8Array, width: number): Uint8Array {
  if (width === 1) return src;
  const n = src.length / width;
  const out = new Uint8Array(src.length);
  for (let k = 0; k < width; k++) {
    const base = k * n;
    for (let i = 0, j = k; i < n; i++, j += width) out[j] = src[base + i]!;
  }
  return out;
}

export function gzipEncode(bigEndianBytes: Uint8Array, width: number, shuffle: boolean, level = 6): Uint8Array {
  const src = shuffle ? shuffleBytes(bigEndianBytes, width) : bigEndianBytes;
  return new Uint8Array(gzipSync(src, { level }));
}

/**
 * Gunzip a tile; `maxBytes` bounds the output (a corrupt or hostile tile cannot inflate beyond
 * what the tile can hold). Accepts gzip or bare zlib streams.
 */
export function gzipDecode(src: Uint8Array, maxBytes: number): Uint8Array {
  const opts = { maxOutputLength: Math.max(1, maxBytes) };
  try {
    if (src.length >= 2 && src[0] === 0x1f && src[1] === 0x8b) return new Uint8Array(gunzipSync(src, opts));
    return new Uint8Array(inflateSync(src, opts));
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    if (/maxOutputLength|Cannot create a Buffer larger|buffer.*larger/i.test(msg)) {
      throw new CodecError(`gzip: tile inflates beyond its ${maxBytes} bytes`);
    }
    throw new CodecError(`gzip: ${msg}`);
  }
}
