/**
 * PLIO_1: IRAF pixel-list line lists (integer masks, values 0 .. 2^24), decode only.
 *
 * A line list is a sequence of 16-bit words: a header (old form: 3 words with the length in
 * word 3; new form: word 2 = header length, words 4–5 = list length), then instructions with a
 * 4-bit opcode and 12-bit data:
 *   0 ZN  data zeros            4 HN  data pixels of the current value
 *   1 SH  value = next·4096 + data (two words)
 *   2 IH  value += data         3 DH  value -= data
 *   5 PN  data−1 zeros then one pixel of the current value
 *   6 IS  value += data, one pixel     7 DS  value -= data, one pixel
 */
import { CodecError } from './types.js';

/** Decode a line list (big-endian 16-bit words in `src`) into npix pixels of `out`. */
export function plioDecode(src: Uint8Array, npix: number, out: Int32Array): void {
  const nwords = src.length >> 1;
  const word = (i: number): number => {
    // i is 0-based
    const v = (src[2 * i]! << 8) | src[2 * i + 1]!;
    return v >= 32768 ? v - 65536 : v;
  };
  if (nwords < 3) throw new CodecError(`PLIO: line list of ${nwords} words is too short`);
  let lllen: number;
  let first: number; // 0-based index of the first instruction
  if (word(2) > 0) {
    lllen = word(2);
    first = 3;
  } else {
    if (nwords < 5) throw new CodecError(`PLIO: line list of ${nwords} words is too short`);
    lllen = (word(4) << 15) + word(3);
    first = word(1);
  }
  if (lllen > nwords) throw new CodecError(`PLIO: line list claims ${lllen} words but holds ${nwords}`);
  if (first < 0) throw new CodecError(`PLIO: bad header length ${first}`);
  let op = 0; // next output pixel (0-based)
  let x1 = 1; // current input position, 1-based as in IRAF
  let pv = 1;
  const xe = npix;
  for (let ip = first; ip < lllen && x1 <= xe; ip++) {
    const w = word(ip);
    if (w < 0) throw new CodecError(`PLIO: invalid instruction word ${w} at word ${ip + 1}`);
    const opcode = w >> 12;
    const data = w & 4095;
    switch (opcode) {
      case 0:
      case 4:
      case 5: {
        const x2 = x1 + data - 1;
        const i2 = x2 < xe ? x2 : xe;
        const np = i2 - x1 + 1;
        if (np > 0) {
          const top = op + np;
          if (opcode === 4) out.fill(pv, op, top);
          else {
            out.fill(0, op, top);
            if (opcode === 5 && i2 === x2) out[top - 1] = pv;
          }
          op = top;
        }
        x1 = x2 + 1;
        break;
      }
      case 1:
        if (ip + 1 >= lllen) throw new CodecError('PLIO: line list ends inside a set-value instruction');
        pv = (word(ip + 1) << 12) + data;
        ip++;
        break;
      case 2: pv += data; break;
      case 3: pv -= data; break;
      case 6:
      case 7:
        pv += opcode === 6 ? data : -data;
        if (x1 <= xe) out[op++] = pv;
        x1++;
        break;
      default:
        throw new CodecError(`PLIO: unknown opcode ${opcode} at word ${ip + 1}`);
    }
  }
  if (op < npix) out.fill(0, op, npix);
}
