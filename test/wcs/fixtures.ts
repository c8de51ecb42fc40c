import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/fixtures/wcs in the source tree (tests run from dist/test/wcs). */
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'wcs');

export interface Expected {
  header: string;
  x: number[];
  y: number[];
  ra: (number | null)[];
  dec: (number | null)[];
}

export function headerFiles(): string[] {
  return readdirSync(FIXTURES).filter((f) => f.endsWith('.head')).sort();
}

export function readFixture(name: string): { text: string; expected: Expected } {
  const text = readFileSync(join(FIXTURES, name), 'utf8');
  const expected = JSON.parse(readFileSync(join(FIXTURES, name.replace(/\.head$/, '.expected.json')), 'utf8')) as Expected;
  return { text, expected };
}

/** Angular separation in milliarcseconds (haversine; exact at small separations). */
export function sepMas(ra1: number, dec1: number, ra2: number, dec2: number): number {
  const d = Math.PI / 180;
  const s = Math.sin(((dec2 - dec1) * d) / 2) ** 2 + Math.cos(dec1 * d) * Math.cos(dec2 * d) * Math.sin(((ra2 - ra1) * d) / 2) ** 2;
  return 2 * Math.asin(Math.min(1, Math.sqrt(s))) / d * 3.6e6;
}
