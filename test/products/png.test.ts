import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Canvas } from '../../src/products/png.js';

/** The lit pixels of one character drawn at scale 1. */
function glyph(ch: string): string {
  const cv = new Canvas(6, 7);
  cv.text(0, 0, ch, [0, 0, 0], 1);
  let s = '';
  for (let i = 0; i < 6 * 7; i++) s += cv.px[3 * i] === 0 ? '#' : '.';
  return s;
}

test('plot font: band names keep their case (r is not R), every letter has a glyph of its own', () => {
  const star = glyph('*');
  for (const b of 'ugrizy') {
    assert.notEqual(glyph(b), glyph(b.toUpperCase()), `${b} vs ${b.toUpperCase()}`);
    assert.notEqual(glyph(b), star, `${b} has a glyph`);
  }
  const lower = [...'abcdefghijklmnopqrstuvwxyz'].map(glyph);
  assert.equal(new Set(lower).size, 26, 'lower-case glyphs are distinct');
  for (const g of lower) assert.ok(g.includes('#') && g !== star);
});
