/**
 * The header access the WCS needs, and a small reader/writer for header TEXT: 80-column cards
 * or one card per line, as in SCAMP `.head` files and in test fixtures. Any object with
 * `get(key)` works as input (the FITS `Header` class does); writing goes through any object
 * with `set(key, value, comment)`.
 */
import { TesseraError } from '../util/errors.js';

export interface HeaderLike {
  get(key: string): unknown;
}

export interface HeaderSink {
  set(key: string, value: string | number | boolean, comment?: string): unknown;
}

export type CardValue = string | number | boolean;

export interface WcsCard {
  key: string;
  value: CardValue;
  comment?: string;
}

/** A number from a header, or undefined when the keyword is absent; wrong type → TesseraError. */
export function headerNumber(h: HeaderLike, key: string, where: string): number | undefined {
  const v = h.get(key);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TesseraError(`${where}: keyword ${key} is not a finite number`);
    return v;
  }
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.trim().replace(/[dD]/, 'E'));
    if (Number.isFinite(n)) return n;
  }
  throw new TesseraError(`${where}: keyword ${key} should be a number, found ${JSON.stringify(typeof v === 'object' ? String(v) : v)}`);
}

export function headerString(h: HeaderLike, key: string, where: string): string | undefined {
  const v = h.get(key);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  throw new TesseraError(`${where}: keyword ${key} should be a string, found ${String(v)}`);
}

/** Format a number so that reading it back gives the same double, in FITS syntax. */
export function formatFitsNumber(v: number, integer = false): string {
  if (integer && Number.isInteger(v)) return String(v);
  if (!Number.isFinite(v)) throw new TesseraError(`cannot write non-finite value ${v} into a FITS header`);
  let s = String(v).toUpperCase();
  if (!s.includes('.') && !s.includes('E')) s += '.0';
  else if (!s.includes('.')) s = s.replace('E', '.0E');
  return s;
}

/** One header card as text (80 columns when it fits; a longer value/comment is cut at 80). */
export function formatCard(key: string, value: CardValue, comment?: string): string {
  let v: string;
  if (typeof value === 'boolean') v = (value ? 'T' : 'F').padStart(20);
  else if (typeof value === 'number') v = formatFitsNumber(value, /_ORDER$|^WCSAXES$|^NAXIS/.test(key)).padStart(20);
  else v = `'${value.replace(/'/g, "''").padEnd(8)}'`.padEnd(20);
  let card = `${key.padEnd(8)}= ${v}`;
  if (comment) card += ` / ${comment}`;
  return card.length > 80 ? card.slice(0, 80) : card.padEnd(80);
}

/**
 * Header cards read from text. Keeps order; `get` returns the LAST value of a keyword
 * (as FITS readers do for repeated WCS keywords). COMMENT/HISTORY/blank cards are kept as text.
 */
export class HeaderText implements HeaderLike, HeaderSink {
  readonly cards: { key: string; value?: CardValue; comment?: string; raw?: string }[] = [];
  private readonly index = new Map<string, number>();

  get(key: string): unknown {
    const i = this.index.get(key.toUpperCase());
    return i === undefined ? undefined : this.cards[i]!.value;
  }

  has(key: string): boolean {
    return this.index.has(key.toUpperCase());
  }

  set(key: string, value: CardValue, comment?: string): void {
    const k = key.toUpperCase();
    const i = this.index.get(k);
    if (i !== undefined) this.cards[i] = { key: k, value, comment: comment ?? this.cards[i]!.comment };
    else {
      this.index.set(k, this.cards.length);
      this.cards.push({ key: k, value, comment });
    }
  }

  delete(key: string): void {
    const k = key.toUpperCase();
    const i = this.index.get(k);
    if (i === undefined) return;
    this.cards.splice(i, 1);
    this.index.clear();
    this.cards.forEach((c, j) => { if (c.value !== undefined) this.index.set(c.key, j); });
  }

  keys(): string[] {
    return this.cards.filter((c) => c.value !== undefined).map((c) => c.key);
  }

  /** Text of 80-column cards, one per line, ending with END. */
  toText(): string {
    const lines = this.cards.map((c) => (c.value === undefined ? (c.raw ?? c.key).padEnd(80).slice(0, 80) : formatCard(c.key, c.value, c.comment)));
    lines.push('END'.padEnd(80));
    return lines.join('\n') + '\n';
  }

  /**
   * Parse header text: lines of one card each (80 columns or shorter), or one long line of
   * concatenated 80-character cards (a raw FITS header block). Stops at END.
   */
  static parse(text: string, where = '<header text>'): HeaderText {
    const h = new HeaderText();
    let lines = text.split(/\r?\n/);
    if (lines.length <= 2 && text.length > 160 && text.replace(/\r?\n/g, '').length % 80 === 0) {
      const flat = text.replace(/\r?\n/g, '');
      lines = [];
      for (let i = 0; i < flat.length; i += 80) lines.push(flat.slice(i, i + 80));
    }
    for (let n = 0; n < lines.length; n++) {
      const line = lines[n]!.replace(/\s+$/, '');
      if (line === '') continue;
      const key8 = line.slice(0, 8).trim().toUpperCase();
      if (key8 === 'END' && line.trim() === 'END') break;
      if (key8 === 'COMMENT' || key8 === 'HISTORY' || key8 === '' || key8 === 'CONTINUE' || key8 === 'HIERARCH') {
        h.cards.push({ key: key8, raw: line });
        continue;
      }
      const eq = line.indexOf('=');
      if (eq < 0 || eq > 8 && line.slice(0, eq).trim().includes(' ')) {
        h.cards.push({ key: key8, raw: line });
        continue;
      }
      const key = line.slice(0, eq).trim().toUpperCase();
      const { value, comment } = parseValue(line.slice(eq + 1), `${where}: line ${n + 1} (${key})`);
      if (value === undefined) continue;
      h.set(key, value, comment);
    }
    return h;
  }
}

function parseValue(s: string, where: string): { value?: CardValue; comment?: string } {
  const t = s.trimStart();
  if (t.startsWith("'")) {
    let out = '';
    let i = 1;
    for (;;) {
      const j = t.indexOf("'", i);
      if (j < 0) throw new TesseraError(`${where}: unterminated string value`);
      out += t.slice(i, j);
      if (t[j + 1] === "'") { out += "'"; i = j + 2; continue; }
      i = j + 1;
      break;
    }
    const rest = t.slice(i);
    const slash = rest.indexOf('/');
    return { value: out.replace(/\s+$/, ''), comment: slash >= 0 ? rest.slice(slash + 1).trim() : undefined };
  }
  const slash = t.indexOf('/');
  const body = (slash >= 0 ? t.slice(0, slash) : t).trim();
  const comment = slash >= 0 ? t.slice(slash + 1).trim() : undefined;
  if (body === '') return { comment };
  if (body === 'T') return { value: true, comment };
  if (body === 'F') return { value: false, comment };
  const n = Number(body.replace(/[dD]/, 'E'));
  if (!Number.isFinite(n)) throw new TesseraError(`${where}: cannot read value '${body}'`);
  return { value: n, comment };
}
