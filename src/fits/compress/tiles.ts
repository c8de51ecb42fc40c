/**
 * Tile geometry of an N-dimensional image (axis 1 fastest, as FITS): the tiles in table-row
 * order, and copying a tile between a contiguous tile buffer and the image.
 */

export interface TileGrid {
  /** Image size per axis, axis 1 first. */
  size: number[];
  /** Tile size per axis (clipped at the image edge for the last tile of an axis). */
  tile: number[];
  /** Number of tiles along each axis. */
  count: number[];
  ntiles: number;
  maxTileLength: number;
}

export function tileGrid(size: number[], tile: number[]): TileGrid {
  const count = size.map((n, i) => Math.ceil(n / tile[i]!));
  let ntiles = 1;
  let maxTileLength = 1;
  for (let i = 0; i < size.length; i++) {
    ntiles *= count[i]!;
    maxTileLength *= Math.min(tile[i]!, size[i]!);
  }
  return { size, tile, count, ntiles, maxTileLength };
}

/** First pixel (0-based) and extent of tile t along every axis. */
export function tileBox(g: TileGrid, t: number, start: number[], extent: number[]): number {
  let rest = t;
  let len = 1;
  for (let i = 0; i < g.size.length; i++) {
    const c = rest % g.count[i]!;
    rest = Math.floor(rest / g.count[i]!);
    const s = c * g.tile[i]!;
    start[i] = s;
    extent[i] = Math.min(g.tile[i]!, g.size[i]! - s);
    len *= extent[i]!;
  }
  return len;
}

type Arr = { [i: number]: number | bigint; length: number };

/**
 * Copy between a tile buffer (its own pixels, axis 1 fastest) and an image region. The image
 * may be a slab: `imgSize` is its size per axis and `imgOrigin` the image pixel of its first
 * element (only axis 2 is offset in practice: a row range). Lines outside the slab are skipped.
 */
export function copyTile(
  toImage: boolean,
  tileBuf: Arr,
  image: Arr,
  start: number[],
  extent: number[],
  imgSize: number[],
  imgOrigin: number[],
): void {
  const nd = start.length;
  const w = extent[0]!;
  const stride: number[] = new Array(nd);
  stride[0] = 1;
  for (let i = 1; i < nd; i++) stride[i] = stride[i - 1]! * imgSize[i - 1]!;
  const idx: number[] = new Array(nd).fill(0);
  let lines = 1;
  for (let i = 1; i < nd; i++) lines *= extent[i]!;
  let src = 0;
  // same typed-array kind on both sides: copy whole lines with set()
  const fast =
    ArrayBuffer.isView(tileBuf) && ArrayBuffer.isView(image) && tileBuf.constructor === image.constructor;
  for (let l = 0; l < lines; l++) {
    let off = start[0]! - imgOrigin[0]!;
    let inside = true;
    for (let i = 1; i < nd; i++) {
      const p = start[i]! + idx[i]! - imgOrigin[i]!;
      if (p < 0 || p >= imgSize[i]!) { inside = false; break; }
      off += p * stride[i]!;
    }
    if (inside) {
      if (fast) {
        const t = tileBuf as unknown as Float64Array;
        const im = image as unknown as Float64Array;
        if (toImage) im.set(t.subarray(src, src + w), off);
        else t.set(im.subarray(off, off + w), src);
      } else if (toImage) {
        for (let x = 0; x < w; x++) image[off + x] = tileBuf[src + x]!;
      } else {
        for (let x = 0; x < w; x++) tileBuf[src + x] = image[off + x]!;
      }
    }
    src += w;
    for (let i = 1; i < nd; i++) {
      if (++idx[i]! < extent[i]!) break;
      idx[i] = 0;
    }
  }
}
