/** Small dense linear algebra for the WCS fits. */
import { TesseraError } from '../util/errors.js';

/**
 * Least squares min ‖A·x − b‖ for several right-hand sides by Householder QR (no normal
 * equations, so polynomial bases stay well conditioned). A is n×m row-major and is not
 * modified. Throws a TesseraError naming `what` when A is rank deficient.
 */
export function leastSquares(A: Float64Array, n: number, m: number, rhs: Float64Array[], what: string): Float64Array[] {
  if (n < m) throw new TesseraError(`${what}: ${n} equations for ${m} unknowns`);
  // Column-major copy.
  const Q = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) Q[j * n + i] = A[i * m + j]!;
  const B = rhs.map((b) => Float64Array.from(b));
  const diag = new Float64Array(m);
  let maxNorm = 0;
  for (let j = 0; j < m; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += Q[j * n + i]! ** 2;
    maxNorm = Math.max(maxNorm, Math.sqrt(s));
  }
  for (let k = 0; k < m; k++) {
    const col = k * n;
    let norm = 0;
    for (let i = k; i < n; i++) norm += Q[col + i]! ** 2;
    norm = Math.sqrt(norm);
    if (norm <= 1e-12 * maxNorm) throw new TesseraError(`${what}: the equations are degenerate (positions collinear or too concentrated for this model)`);
    const alpha = Q[col + k]! > 0 ? -norm : norm;
    // v = x - alpha e1, stored in place; diag keeps R_kk.
    Q[col + k] = Q[col + k]! - alpha;
    let vnorm2 = 0;
    for (let i = k; i < n; i++) vnorm2 += Q[col + i]! ** 2;
    diag[k] = alpha;
    if (vnorm2 === 0) continue;
    for (let j = k + 1; j < m; j++) {
      const cj = j * n;
      let d = 0;
      for (let i = k; i < n; i++) d += Q[col + i]! * Q[cj + i]!;
      const f = (2 * d) / vnorm2;
      for (let i = k; i < n; i++) Q[cj + i] = Q[cj + i]! - f * Q[col + i]!;
    }
    for (const b of B) {
      let d = 0;
      for (let i = k; i < n; i++) d += Q[col + i]! * b[i]!;
      const f = (2 * d) / vnorm2;
      for (let i = k; i < n; i++) b[i] = b[i]! - f * Q[col + i]!;
    }
  }
  // Back substitution with R (upper triangle above the diagonal in Q, diagonal in diag).
  return B.map((b) => {
    const x = new Float64Array(m);
    for (let k = m - 1; k >= 0; k--) {
      let s = b[k]!;
      for (let j = k + 1; j < m; j++) s -= Q[j * n + k]! * x[j]!;
      x[k] = s / diag[k]!;
    }
    return x;
  });
}
