/**
 * FITS headers: 80-character cards, parsed into typed values and written back as standard cards.
 *
 * Lookups are case-insensitive on the keyword and keep order and duplicates. HIERARCH cards are
 * stored under their full name without the `HIERARCH ` prefix (`ESO DET CHIP ID`); lookups accept
 * either spelling. Long strings spread over `CONTINUE` cards are joined on reading and split on
 * writing. A value that cannot be parsed is kept as its raw text with `malformed: true`, so that
 * reading an unrelated keyword still works and asking for it as a number gives a clear error.
 */
import { TesseraError } from '../util/errors.js';

export type FitsValue = string | number | bigint | boolean | { re: number; im: number } | null;

export interface Card {
  key: string;
  /** undefined: commentary card (COMMENT, HISTORY, blank key, or no value indicator); null: value indicator but no value. */
  value?: FitsValue;
  comment?: string;
  /** The value field could not be parsed; `value` holds its raw text. */
  malformed?: boolean;
}

export const BLOCK = 2880;
const CARD = 80;
const COMMENTARY = new Set(['COMMENT', 'HISTORY', '', 'END']);

/** Normalise a keyword for lookup: upper case, trimmed, without a leading "HIERARCH ". */
function norm(key: string): string {
  let k = key.trim().toUpperCase();
  if (k.startsWith('HIERARCH ')) k = k.slice(9).trim();
  return k;
}

/**
 * Each card's normalised key, remembered on the card (a non-enumerable symbol property, invisible
 * to spreads, JSON and deep equality) together with the key it was computed from, since cards are
 * plain mutable objects.
 */
const NORM = Symbol('tessera.fits.normKey');
interface NormCached { [NORM]?: { key: string; norm: string } }
function cardNorm(c: Card): string {
  const e = (c as NormCached)[NORM];
  if (e !== undefined && e.key === c.key) return e.norm;
  const n = norm(c.key);
  if (!Object.isExtensible(c)) return n;
  Object.defineProperty(c, NORM, { value: { key: c.key, norm: n }, writable: true, configurable: true, enumerable: false });
  return n;
}

function describe(v: FitsValue | undefined): string {
  if (v === undefined) return 'no value';
  if (v === null) return 'an empty value';
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'object') return `(${v.re}, ${v.im})`;
  return String(v);
}

/* ---------------------------------------------------------------- value parsing */

const INT_RE = /^[-+]?\d+$/;
const FLOAT_RE = /^[-+]?(\d+\.?\d*|\.\d+)([EeDd][-+]?\d+)?$/;

function parseNumber(s: string): number | bigint | undefined {
  if (INT_RE.test(s)) {
    const n = Number(s);
    if (Number.isSafeInteger(n)) return n;
    return BigInt(s);
  }
  if (FLOAT_RE.test(s)) return Number(s.replace(/[Dd]/, 'E'));
  return undefined;
}

/**
 * Parse the value field (text after "= ") into value and comment. Returns malformed=true when
 * the value cannot be understood.
 */
function parseValueField(text: string): { value: FitsValue; comment?: string; malformed?: boolean } {
  let i = 0;
  const n = text.length;
  while (i < n && text[i] === ' ') i++;
  if (i >= n) return { value: null };
  if (text[i] === '/') return { value: null, comment: text.slice(i + 1).trim() || undefined };
  if (text[i] === "'") {
    let s = '';
    let j = i + 1;
    let closed = false;
    while (j < n) {
      const c = text[j]!;
      if (c === "'") {
        if (text[j + 1] === "'") {
          s += "'";
          j += 2;
          continue;
        }
        closed = true;
        j++;
        break;
      }
      s += c;
      j++;
    }
    if (!closed) return { value: text.slice(i).trimEnd(), malformed: true };
    const rest = text.slice(j);
    const slash = rest.indexOf('/');
    const comment = slash >= 0 ? rest.slice(slash + 1).trim() : undefined;
    const junk = (slash >= 0 ? rest.slice(0, slash) : rest).trim();
    // Trailing spaces in a string are not significant; leading ones are.
    return { value: s.replace(/ +$/, ''), comment: comment || undefined, malformed: junk.length > 0 || undefined };
  }
  // Non-string: the value runs to a '/' (or the end).
  let slash = -1;
  if (text[i] === '(') {
    const close = text.indexOf(')', i);
    slash = text.indexOf('/', close >= 0 ? close : i);
  } else {
    slash = text.indexOf('/', i);
  }
  const raw = (slash >= 0 ? text.slice(i, slash) : text.slice(i)).trim();
  const comment = slash >= 0 ? text.slice(slash + 1).trim() || undefined : undefined;
  if (raw === 'T') return { value: true, comment };
  if (raw === 'F') return { value: false, comment };
  if (raw === '') return { value: null, comment };
  if (raw.startsWith('(') && raw.endsWith(')')) {
    const parts = raw.slice(1, -1).split(',');
    if (parts.length === 2) {
      const re = parseNumber(parts[0]!.trim());
      const im = parseNumber(parts[1]!.trim());
      if (re !== undefined && im !== undefined) return { value: { re: Number(re), im: Number(im) }, comment };
    }
    return { value: raw, comment, malformed: true };
  }
  const num = parseNumber(raw);
  if (num !== undefined) return { value: num, comment };
  return { value: raw, comment, malformed: true };
}

/* ---------------------------------------------------------------- value formatting */

function formatFloat(v: number, key: string): string {
  if (!Number.isFinite(v)) throw new TesseraError(`keyword ${key}: cannot write ${v} in a FITS header`);
  let s = Object.is(v, -0) ? '-0' : String(v);
  const e = s.indexOf('e');
  if (e >= 0) {
    let mant = s.slice(0, e);
    let exp = s.slice(e + 1);
    if (!mant.includes('.')) mant += '.0';
    const sign = exp.startsWith('-') ? '-' : '+';
    exp = exp.replace(/^[-+]/, '').padStart(2, '0');
    s = `${mant}E${sign}${exp}`;
  } else if (!s.includes('.')) {
    s += '.0';
  }
  return s;
}

function formatValue(v: FitsValue, key: string): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return (v ? 'T' : 'F').padStart(20);
  if (typeof v === 'bigint') return v.toString().padStart(20);
  // Integers beyond 2^53 are written as floats: read back as numbers (not as 64-bit integers).
  if (typeof v === 'number') return (Number.isSafeInteger(v) && !Object.is(v, -0) ? String(v) : formatFloat(v, key)).padStart(20);
  if (typeof v === 'object') return `(${formatFloat(v.re, key)}, ${formatFloat(v.im, key)})`.padStart(20);
  const q = `'${v.replace(/'/g, "''").padEnd(8)}'`;
  return q.padEnd(20);
}

/** Is this key written as a standard 8-character keyword (otherwise HIERARCH)? */
function isStandardKey(key: string): boolean {
  return /^[A-Z0-9_-]{0,8}$/.test(key);
}

function padCard(s: string): string {
  return s.length >= CARD ? s.slice(0, CARD) : s.padEnd(CARD);
}

/** The cards (each exactly 80 characters) for one header card. */
function cardImages(card: Card): string[] {
  const key = card.key;
  const ukey = key.toUpperCase();
  if (card.value === undefined) {
    // Commentary: split long text over several cards.
    const text = card.comment ?? '';
    const head = ukey === '' ? '        ' : ukey.length <= 8 ? ukey.padEnd(8) : ukey;
    const width = CARD - head.length;
    if (width <= 0) return [padCard(head)];
    const out: string[] = [];
    for (let i = 0; i < Math.max(text.length, 1); i += width) out.push(padCard(head + text.slice(i, i + width)));
    return out;
  }
  const standard = isStandardKey(ukey) && !COMMENTARY.has(ukey);
  const prefix = standard ? `${ukey.padEnd(8)}= ` : `HIERARCH ${key} = `;
  const comment = card.comment;
  if (typeof card.value === 'string') {
    const escaped = card.value.replace(/'/g, "''");
    const one = formatValue(card.value, key);
    if (prefix.length + one.length <= CARD) {
      // Fits on one card; a comment that does not fit is truncated.
      return [padCard(comment ? `${prefix}${one} / ${comment}` : prefix + one)];
    }
    // Long string: split over CONTINUE cards, each piece ending in '&' except the last.
    const out: string[] = [];
    let rest = escaped;
    let first = true;
    while (true) {
      const head = first ? prefix : 'CONTINUE  ';
      const room = CARD - head.length - 3; // quotes and '&'
      if (room < 1) throw new TesseraError(`keyword ${key}: keyword too long for a string value`);
      let piece = rest.slice(0, room);
      // Do not split an escaped quote pair.
      if (piece.length < rest.length) {
        let q = 0;
        for (let i = piece.length - 1; i >= 0 && piece[i] === "'"; i--) q++;
        if (q % 2 === 1) piece = piece.slice(0, -1);
      }
      rest = rest.slice(piece.length);
      if (rest.length === 0) {
        const s = `${head}'${piece}'`;
        if (comment && s.length + 3 + comment.length <= CARD) {
          out.push(padCard(`${s} / ${comment}`));
        } else {
          if (comment) {
            out.push(padCard(`${head}'${piece}&'`));
            // The comment continues on cards of its own, split between words (joined with a blank).
            let c = comment;
            while (c.length) {
              const room = CARD - 10 - 7;
              let cut = c.length;
              if (cut > room) {
                cut = c.lastIndexOf(' ', room);
                if (cut <= 0) cut = room;
              }
              const part = c.slice(0, cut);
              c = c.slice(cut).replace(/^ /, '');
              out.push(padCard(`CONTINUE  '${c.length ? '&' : ''}' / ${part}`));
            }
          } else {
            out.push(padCard(s));
          }
        }
        break;
      }
      out.push(padCard(`${head}'${piece}&'`));
      first = false;
    }
    return out;
  }
  let s = prefix + (standard ? formatValue(card.value, key) : formatValue(card.value, key).trim());
  if (s.length > CARD) throw new TesseraError(`keyword ${key}: value too long for one card`);
  if (comment) s += ` / ${comment}`;
  return [padCard(s)];
}

/* ---------------------------------------------------------------- the Header */

export class Header {
  cards: Card[];
  /** Where this header came from, used as the prefix of error messages: "file.fits[HDU 2 'N4']". */
  where: string;

  constructor(cards: Card[] = [], where = '<header>') {
    this.cards = cards;
    this.where = where;
  }

  /**
   * Parse a header from bytes that start at its first card. byteLength includes the padding to a
   * multiple of 2880. Throws a TesseraError when there is no END card before the bytes end.
   */
  static parse(bytes: Uint8Array, where: string): { header: Header; byteLength: number } {
    const ncards = Math.floor(bytes.length / CARD);
    let end = -1;
    for (let c = 0; c < ncards; c++) {
      const o = c * CARD;
      if (bytes[o] === 0x45 && bytes[o + 1] === 0x4e && bytes[o + 2] === 0x44) {
        let blank = true;
        for (let k = 3; k < 8; k++) if (bytes[o + k] !== 0x20) { blank = false; break; }
        if (blank) { end = c; break; }
      }
    }
    if (end < 0) {
      throw new TesseraError(`${where}: header has no END card (file truncated or not FITS: ${bytes.length} bytes searched)`);
    }
    // Control characters mean a corrupt header; bytes above 0x7e (e.g. a degree sign in a
    // comment, common in real files) are read as Latin-1, except in the keyword.
    for (let i = 0, n = end * CARD; i < n; i++) {
      const code = bytes[i]!;
      if (code < 0x20 || code === 0x7f || (code > 0x7e && i % CARD < 8)) {
        const c = Math.floor(i / CARD);
        throw new TesseraError(`${where}: header card ${c + 1} contains the byte 0x${code.toString(16).padStart(2, '0')} at column ${i - c * CARD + 1} (corrupt header?)`);
      }
    }
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, end * CARD).toString('latin1');
    const cards: Card[] = [];
    for (let c = 0; c < end; c++) {
      const img = text.slice(c * CARD, (c + 1) * CARD);
      const card = parseCard(img);
      if (card.key === 'CONTINUE' && cards.length) {
        const prev = cards[cards.length - 1]!;
        if (typeof prev.value === 'string' && prev.value.endsWith('&') && !prev.malformed) {
          const cont = parseValueField(img.slice(8));
          if (typeof cont.value === 'string' && !cont.malformed) {
            prev.value = prev.value.slice(0, -1) + cont.value;
            if (cont.comment) prev.comment = prev.comment ? `${prev.comment} ${cont.comment}` : cont.comment;
            continue;
          }
        }
      }
      cards.push(card);
    }
    const byteLength = Math.ceil(((end + 1) * CARD) / BLOCK) * BLOCK;
    return { header: new Header(cards, where), byteLength };
  }

  private find(key: string): Card | undefined {
    const k = norm(key);
    for (const c of this.cards) if (c.value !== undefined && cardNorm(c) === k) return c;
    return undefined;
  }

  /** The value of the first card with this keyword (undefined when absent). */
  get(key: string): FitsValue | undefined {
    return this.find(key)?.value;
  }

  getAll(key: string): FitsValue[] {
    const k = norm(key);
    if (k === 'COMMENT' || k === 'HISTORY' || k === '') {
      return this.cards.filter((c) => cardNorm(c) === k).map((c) => c.comment ?? '');
    }
    return this.cards.filter((c) => c.value !== undefined && cardNorm(c) === k).map((c) => c.value!);
  }

  has(key: string): boolean {
    return this.find(key) !== undefined;
  }

  /** The comment of the first card with this keyword. */
  comment(key: string): string | undefined {
    return this.find(key)?.comment;
  }

  /** A required number; throws a TesseraError naming the keyword when absent or not a number. */
  number(key: string): number {
    const v = this.optionalNumber(key);
    if (v === undefined) throw new TesseraError(`${this.where}: missing required keyword ${key.toUpperCase()}`);
    return v;
  }

  optionalNumber(key: string): number | undefined {
    const c = this.find(key);
    if (c === undefined || c.value === null) return undefined;
    const v = c.value;
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    throw new TesseraError(`${this.where}: keyword ${key.toUpperCase()}: expected a number, got ${describe(v)}`);
  }

  /** A required integer (a float with a fractional part, or a string, is an error). */
  integer(key: string): number {
    const v = this.number(key);
    if (!Number.isInteger(v)) throw new TesseraError(`${this.where}: keyword ${key.toUpperCase()}: expected an integer, got ${v}`);
    return v;
  }

  string(key: string): string {
    const v = this.optionalString(key);
    if (v === undefined) throw new TesseraError(`${this.where}: missing required keyword ${key.toUpperCase()}`);
    return v;
  }

  optionalString(key: string): string | undefined {
    const c = this.find(key);
    if (c === undefined || c.value === null) return undefined;
    if (typeof c.value === 'string' && !c.malformed) return c.value;
    throw new TesseraError(`${this.where}: keyword ${key.toUpperCase()}: expected a string, got ${describe(c.value)}`);
  }

  bool(key: string, dflt?: boolean): boolean {
    const c = this.find(key);
    if (c === undefined || c.value === null) {
      if (dflt === undefined) throw new TesseraError(`${this.where}: missing required keyword ${key.toUpperCase()}`);
      return dflt;
    }
    if (typeof c.value === 'boolean') return c.value;
    throw new TesseraError(`${this.where}: keyword ${key.toUpperCase()}: expected T or F, got ${describe(c.value)}`);
  }

  /** Replace the first card with this keyword (keeping its comment unless one is given), else append. */
  set(key: string, value: FitsValue, comment?: string): void {
    const uk = key.trim().toUpperCase();
    if (uk === 'COMMENT' || uk === 'HISTORY') {
      // Commentary keywords have no value: set() adds one more card with the text.
      this.cards.push({ key: uk, comment: value === null ? '' : String(value) });
      return;
    }
    const c = this.find(key);
    if (c) {
      c.value = value;
      delete c.malformed;
      if (comment !== undefined) c.comment = comment;
      return;
    }
    const k = key.trim();
    const card: Card = { key: isStandardKey(k.toUpperCase()) ? k.toUpperCase() : k.replace(/^HIERARCH\s+/i, ''), value };
    if (comment !== undefined) card.comment = comment;
    this.cards.push(card);
  }

  /** Remove every card with this keyword. */
  delete(key: string): void {
    const k = norm(key);
    this.cards = this.cards.filter((c) => cardNorm(c) !== k);
  }

  add(card: Card): void {
    this.cards.push({ ...card });
  }

  clone(): Header {
    return new Header(
      this.cards.map((c) => ({ ...c, value: c.value !== null && typeof c.value === 'object' ? { ...c.value } : c.value })),
      this.where,
    );
  }

  /** The 80-character card images (without END). */
  cardStrings(): string[] {
    const out: string[] = [];
    for (const c of this.cards) {
      if (c.key.toUpperCase() === 'END') continue;
      out.push(...cardImages(c));
    }
    return out;
  }

  /** Standard cards, END, and blank padding to a multiple of 2880 bytes. */
  toBytes(): Uint8Array {
    const lines = this.cardStrings();
    lines.push(padCard('END'));
    const text = lines.join('');
    const len = Math.ceil(text.length / BLOCK) * BLOCK;
    const buf = Buffer.alloc(len, 0x20);
    buf.write(text, 0, 'latin1');
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  }
}

/** Parse one 80-character card image. */
export function parseCard(img: string): Card {
  const head = img.slice(0, 8);
  const key = head.trimEnd();
  if (key === 'HIERARCH') {
    const eq = img.indexOf('=', 8);
    if (eq < 0) return { key, comment: img.slice(8).trimEnd() };
    const hkey = img.slice(9, eq).trim().replace(/\s+/g, ' ');
    const parsed = parseValueField(img.slice(eq + 1));
    const card: Card = { key: hkey, value: parsed.value };
    if (parsed.comment !== undefined) card.comment = parsed.comment;
    if (parsed.malformed) card.malformed = true;
    return card;
  }
  if (COMMENTARY.has(key) || img[8] !== '=' || img[9] !== ' ') {
    if (key === 'CONTINUE') return { key, comment: img.slice(8).trimEnd() };
    const text = img.slice(8).trimEnd();
    return text.length ? { key, comment: text } : { key };
  }
  const parsed = parseValueField(img.slice(10));
  const card: Card = { key, value: parsed.value };
  if (parsed.comment !== undefined) card.comment = parsed.comment;
  if (parsed.malformed) card.malformed = true;
  return card;
}
