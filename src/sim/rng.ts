/**
 * Seeded pseudo-random numbers for the simulator.
 *
 * xoshiro128** (Blackman & Vigna) on 32-bit integers, seeded from a string key hashed with
 * cyrb128, so every independent piece of a survey (the star catalog, exposure 5's CCD 12 noise,
 * ...) has its own stream: `new Rng(seed, 'noise', expnum, ccdnum)`. The same key always gives
 * the same numbers, whatever order CCDs are rendered in and whichever worker renders them.
 */

function cyrb128(str: string): [number, number, number, number] {
  let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4; h2 ^= h1; h3 ^= h1; h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

const INV32 = 1 / 4294967296;

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare = 0;
  private hasSpare = false;

  constructor(seed: number | string, ...keys: (string | number)[]) {
    const [a, b, c, d] = cyrb128([String(seed), ...keys.map(String)].join('\u0001'));
    this.s0 = a; this.s1 = b; this.s2 = c; this.s3 = d;
    if ((a | b | c | d) === 0) this.s0 = 1;
    for (let i = 0; i < 8; i++) this.nextU32();
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    const s1 = this.s1;
    const result = Math.imul(((Math.imul(s1, 5) << 7) | (Math.imul(s1, 5) >>> 25)), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5, lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [0, 1) with 32 random bits (fast; for pixel noise). */
  uniform32(): number {
    return this.nextU32() * INV32;
  }

  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal deviate (Marsaglia polar method). */
  normal(): number {
    if (this.hasSpare) { this.hasSpare = false; return this.spare; }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.uniform32() - 1;
      v = 2 * this.uniform32() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt(-2 * Math.log(s) / s);
    this.spare = v * f;
    this.hasSpare = true;
    return u * f;
  }

  gauss(mean: number, sigma: number): number {
    return mean + sigma * this.normal();
  }

  /** Poisson deviate: exact (multiplication method) below 30, normal approximation above. */
  poisson(lambda: number): number {
    if (!(lambda > 0)) return 0;
    if (lambda < 30) {
      const L = Math.exp(-lambda);
      let k = 0, p = 1;
      do { k++; p *= this.uniform32(); } while (p > L);
      return k - 1;
    }
    return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * this.normal()));
  }

  /** Exponential deviate with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.uniform());
  }

  bool(p: number): boolean {
    return this.uniform() < p;
  }

  pick<T>(arr: readonly T[]): T {
    return arr[this.int(arr.length)]!;
  }

  /** Fill `out` with standard normal deviates (fast path for pixel noise). */
  fillNormal(out: Float32Array | Float64Array): void {
    const n = out.length;
    let i = 0;
    while (i < n) {
      let u: number, v: number, s: number;
      do {
        u = 2 * this.uniform32() - 1;
        v = 2 * this.uniform32() - 1;
        s = u * u + v * v;
      } while (s >= 1 || s === 0);
      const f = Math.sqrt(-2 * Math.log(s) / s);
      out[i++] = u * f;
      if (i < n) out[i++] = v * f;
    }
  }
}

/** A stable 32-bit hash of a key (for per-object parameters that must not depend on draw order). */
export function hash32(...keys: (string | number)[]): number {
  return cyrb128(keys.map(String).join('\u0001'))[0];
}
