/** Deterministic test images for the compression tests (not a test file). */

export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
export function gauss(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
}

/** A sky-like image: background + noise + a few stars. */
export function skyImage(nx: number, ny: number, seed = 1, sigma = 10): Float32Array {
  const rnd = lcg(seed);
  const f = new Float32Array(nx * ny);
  const stars = Array.from({ length: 8 }, () => [rnd() * nx, rnd() * ny, 2000 + 20000 * rnd()] as const);
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      let v = 1000 + sigma * gauss(rnd);
      for (const [sx, sy, fl] of stars) v += (fl / 14) * Math.exp(-((x - sx) ** 2 + (y - sy) ** 2) / 4.5);
      f[y * nx + x] = v;
    }
  }
  return f;
}

