/** Small dense linear algebra for the WCS fits. */
import { TesseraError } from '../util/errors.js';

/**
 * Least squares min ‖A·x − b‖ for several right-hand sides by Householder QR (no normal
 * equations, so polynomial bases stay well conditioned). A is n×m row-major and is not
 * modified. Throws a TesseraError naming `what` when A is rank deficient.
 */
export function leastSquares(A: Float64Array, n: number, m: number, rhs: Float64Array[], what: string): Float64Array[] {
  if (n < m) throw new TesseraError(`${what}: ${n} equations for ${m} unknowns`);
  // The loops are small functions of their own: called a few times per fit, one big function
  // was TurboFan-compiled (and on-stack replaced) again and again in a fresh process.
  // Column-major copy.
  const Q = new Float64Array(n * m);
  transposeInto(A, Q, n, m);
  const B: Float64Array[] = [];
  for (let r = 0; r < rhs.length; r++) B.push(Float64Array.from(rhs[r]!));
  const diag = new Float64Array(m);
  let maxNorm = 0;
  for (let j = 0; j < m; j++) maxNorm = Math.max(maxNorm, Math.sqrt(sumSquares(Q, j * n, n)));
  for (let k = 0; k < m; k++) {
    const col = k * n;
    const norm = Math.sqrt(sumSquares(Q, col + k, n - k));
    if (norm <= 1e-12 * maxNorm) throw new TesseraError(`${what}: the equations are degenerate (positions collinear or too concentrated for this model)`);
    const alpha = Q[col + k]! > 0 ? -norm : norm;
    // v = x - alpha e1, stored in place; diag keeps R_kk.
    Q[col + k] = Q[col + k]! - alpha;
    const vnorm2 = sumSquares(Q, col + k, n - k);
    diag[k] = alpha;
    if (vnorm2 === 0) continue;
    for (let j = k + 1; j < m; j++) reflect(Q, col + k, Q, j * n + k, n - k, vnorm2);
    for (let r = 0; r < B.length; r++) reflect(Q, col + k, B[r]!, k, n - k, vnorm2);
  }
  // Back substitution with R (upper triangle above the diagonal in Q, diagonal in diag).
  const out: Float64Array[] = [];
  for (let r = 0; r < B.length; r++) out.push(backSubstitute(Q, diag, B[r]!, n, m));
  return out;
}

function transposeInto(A: Float64Array, Q: Float64Array, n: number, m: number): void {
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) Q[j * n + i] = A[i * m + j]!;
}

/** Σ a[o + i]², i = 0..len−1, in that order. */
function sumSquares(a: Float64Array, o: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i++) s += a[o + i]! ** 2;
  return s;
}

/** Householder reflection of y[yo ..] by v = q[qo ..] (|v|² = vnorm2), len elements. */
function reflect(q: Float64Array, qo: number, y: Float64Array, yo: number, len: number, vnorm2: number): void {
  let d = 0;
  for (let i = 0; i < len; i++) d += q[qo + i]! * y[yo + i]!;
  const f = (2 * d) / vnorm2;
  for (let i = 0; i < len; i++) y[yo + i] = y[yo + i]! - f * q[qo + i]!;
}

function backSubstitute(Q: Float64Array, diag: Float64Array, b: Float64Array, n: number, m: number): Float64Array {
  const x = new Float64Array(m);
  for (let k = m - 1; k >= 0; k--) {
    let s = b[k]!;
    for (let j = k + 1; j < m; j++) s -= Q[j * n + k]! * x[j]!;
    x[k] = s / diag[k]!;
  }
  return x;
}
