/**
 * The binary table that carries a tile-compressed image: just enough column handling for it
 * (descriptors of the heap, scalar per-tile columns), on top of the raw bytes of the data unit.
 */
import { TesseraError } from '../../util/errors.js';
import type { Header } from '../header.js';

export interface TileColumn {
  name: string;
  /** Byte offset of the field inside a row. */
  offset: number;
  /** TFORM letter of the element type (for P/Q: the heap element type). */
  type: string;
  /** 'P' or 'Q' for a variable-length array descriptor, '' for a fixed field. */
  descriptor: '' | 'P' | 'Q';
  repeat: number;
}

const WIDTH: Record<string, number> = { L: 1, B: 1, I: 2, J: 4, K: 8, A: 1, E: 4, D: 8, C: 8, M: 16, P: 8, Q: 16 };

export function elementWidth(type: string): number {
  return WIDTH[type] ?? 0;
}

/** Parse the TFORMn of the table; returns the columns by upper-case TTYPE name. */
export function tileColumns(h: Header, where: string): { columns: Map<string, TileColumn>; rowLength: number } {
  const tfields = h.optionalNumber('TFIELDS') ?? 0;
  const columns = new Map<string, TileColumn>();
  let offset = 0;
  for (let i = 1; i <= tfields; i++) {
    const form = (h.optionalString(`TFORM${i}`) ?? '').trim().toUpperCase();
    const m = /^(\d*)([LXBIJKAEDCMPQ])([LXBIJKAEDCM]?)(\(\s*\d*\s*\))?/.exec(form);
    if (!m) throw new TesseraError(`${where}: TFORM${i} = '${form}' is not a binary table format`);
    const repeat = m[1] === '' ? 1 : Number(m[1]);
    const letter = m[2]!;
    let width: number;
    let col: TileColumn;
    const name = (h.optionalString(`TTYPE${i}`) ?? '').trim().toUpperCase();
    if (letter === 'P' || letter === 'Q') {
      if (!m[3]) throw new TesseraError(`${where}: TFORM${i} = '${form}' lacks the element type of the array`);
      width = repeat > 0 ? (letter === 'P' ? 8 : 16) : 0;
      col = { name, offset, type: m[3], descriptor: letter, repeat };
    } else if (letter === 'X') {
      width = Math.ceil(repeat / 8);
      col = { name, offset, type: 'X', descriptor: '', repeat };
    } else {
      width = repeat * WIDTH[letter]!;
      col = { name, offset, type: letter, descriptor: '', repeat };
    }
    if (name && !columns.has(name)) columns.set(name, col);
    offset += width;
  }
  return { columns, rowLength: offset };
}

/** Reads per-row values and heap arrays of the tile table held in `data` (table then heap). */
export class TileTable {
  readonly view: DataView;
  readonly heapStart: number;
  constructor(
    readonly data: Uint8Array,
    readonly rowLength: number,
    readonly nrows: number,
    theap: number,
    readonly where: string,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.heapStart = theap;
    if (rowLength * nrows > data.length) {
      throw new TesseraError(`${where}: the table (${nrows} rows of ${rowLength} bytes) runs past the end of the data unit (${data.length} bytes)`);
    }
  }

  /** Element count and heap byte offset (from heap start) of a descriptor. */
  descriptor(col: TileColumn, row: number): { count: number; offset: number } {
    const p = row * this.rowLength + col.offset;
    if (col.descriptor === 'P') {
      return { count: this.view.getInt32(p, false), offset: this.view.getInt32(p + 4, false) };
    }
    const count = Number(this.view.getBigInt64(p, false));
    const offset = Number(this.view.getBigInt64(p + 8, false));
    return { count, offset };
  }

  /** The bytes of a heap array (a view, no copy). */
  heapBytes(col: TileColumn, row: number, tile: number): Uint8Array {
    const { count, offset } = this.descriptor(col, row);
    const w = elementWidth(col.type) || 1;
    const start = this.heapStart + offset;
    const len = count * w;
    if (count < 0 || offset < 0 || start + len > this.data.length || !Number.isSafeInteger(len)) {
      throw new TesseraError(
        `${this.where}: tile ${tile}: column ${col.name} points to ${count} elements at heap offset ${offset}, outside the heap (${this.data.length - this.heapStart} bytes)`,
      );
    }
    return this.data.subarray(start, start + len);
  }

  /** A scalar numeric field (the first element). */
  scalar(col: TileColumn, row: number): number {
    const p = row * this.rowLength + col.offset;
    const v = this.view;
    switch (col.type) {
      case 'B': return v.getUint8(p);
      case 'I': return v.getInt16(p, false);
      case 'J': return v.getInt32(p, false);
      case 'K': return Number(v.getBigInt64(p, false));
      case 'E': return v.getFloat32(p, false);
      case 'D': return v.getFloat64(p, false);
      default:
        throw new TesseraError(`${this.where}: column ${col.name} has type ${col.type}, expected a number`);
    }
  }
}
