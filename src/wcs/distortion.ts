/**
 * Distortion polynomials:
 *  - SIP (Shupe et al. 2005): in PIXEL offsets from CRPIX, before the CD matrix:
 *      u' = u + Σ A_p_q u^p v^q,  v' = v + Σ B_p_q u^p v^q   (forward, pixel → sky)
 *      u  = U + Σ AP_p_q U^p V^q, v  = V + Σ BP_p_q U^p V^q  (approximate inverse, optional)
 *  - TPV (FITS WCS registry): on intermediate world coordinates (ξ, η) in DEGREES after CD:
 *      ξ' = Σ_j PV1_j · T_j(ξ, η),  η' = Σ_j PV2_j · T_j(η, ξ)   j = 0..39
 *    with T_j the monomials of total degree ≤ 7 and the radial terms r, r³, r⁵, r⁷
 *    (j = 3, 11, 23, 39; r = √(ξ²+η²)). Note the swapped arguments for axis 2.
 *    Missing PVi_j are zero, as in wcslib.
 */

/** Exponents (a of ξ, b of η, c of r) of TPV term j, for axis 1. */
export const TPV_TERMS: readonly (readonly [number, number, number])[] = (() => {
  const t: [number, number, number][] = [];
  for (let d = 0; d <= 7; d++) {
    for (let a = d; a >= 0; a--) t.push([a, d - a, 0]);
    if (d % 2 === 1) t.push([0, 0, d]);
  }
  return t;
})();

/** Highest total degree of TPV term j (radial terms count as their power). */
export function tpvTermDegree(j: number): number {
  const [a, b, c] = TPV_TERMS[j]!;
  return a + b + c;
}

/** SIP coefficients, as matrices m[p][q] (p + q ≤ order). */
export interface SipCoefficients {
  a: number[][];
  b: number[][];
  ap?: number[][];
  bp?: number[][];
}

export function matrixOrder(m: number[][] | undefined): number {
  let o = 0;
  m?.forEach((row, p) => row.forEach((c, q) => { if (c) o = Math.max(o, p + q); }));
  return o;
}


/**
 * Two polynomials P1, P2 in (x, y) with optional radial factors r^e (r = √(x²+y²)), evaluated
 * together: the common engine of SIP and TPV. The evaluators are generated once per WCS as
 * straight-line code with the coefficients as literals (no loops or table look-ups per point);
 * only numbers enter the generated source.
 */
type PolyTerm = { a: number; b: number; e: number; c: number };
type EvalFn = (x: number, y: number, out: Float64Array) => void;

function lit(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`non-finite polynomial coefficient ${v}`);
  return `(${String(v)})`;
}

function monomial(a: number, b: number): string {
  const f: string[] = [];
  if (a > 0) f.push(`x${a}`);
  if (b > 0) f.push(`y${b}`);
  return f.length ? f.join('*') : '1';
}

function buildEvaluators(t1: PolyTerm[], t2: PolyTerm[]): { evalFn: EvalFn; jacFn: EvalFn } {
  const all = [...t1, ...t2];
  const deg = all.reduce((m, t) => Math.max(m, t.a, t.b), 1);
  const radialExps = [...new Set(all.filter((t) => t.e > 0).map((t) => t.e))];
  const pre: string[] = ['const x1 = x, y1 = y;'];
  for (let k = 2; k <= deg; k++) pre.push(`const x${k} = x${k - 1} * x, y${k} = y${k - 1} * y;`);
  if (radialExps.length) {
    pre.push('const r2 = x * x + y * y; const r1 = Math.sqrt(r2);');
    const maxE = Math.max(...radialExps);
    for (let e = 3; e <= maxE; e += 2) pre.push(`const r${e} = r${e - 2} * r2;`);
    // d r^e/dx = e·r^(e−2)·x; for e = 1 that is x/r (0 at the origin).
    pre.push('const rinv = r1 > 0 ? 1 / r1 : 0;');
  }
  const sum = (terms: PolyTerm[]) => terms.map((t) => `${lit(t.c)}*${t.e ? `r${t.e}` : monomial(t.a, t.b)}`).join(' + ') || '0';
  const dsum = (terms: PolyTerm[], wrt: 'x' | 'y') => {
    const parts: string[] = [];
    for (const t of terms) {
      if (t.e) {
        const re = t.e === 1 ? 'rinv' : t.e === 3 ? 'r1' : `r${t.e - 2}`;
        parts.push(`${lit(t.c * t.e)}*${re}*${wrt}`);
        continue;
      }
      const p = wrt === 'x' ? t.a : t.b;
      if (p === 0) continue;
      const m = wrt === 'x' ? monomial(t.a - 1, t.b) : monomial(t.a, t.b - 1);
      parts.push(`${lit(t.c * p)}*${m}`);
    }
    return parts.join(' + ') || '0';
  };
  const body = pre.join('\n');
  const evalSrc = `${body}\nout[0] = ${sum(t1)};\nout[1] = ${sum(t2)};`;
  const jacSrc = `${body}\nout[0] = ${sum(t1)};\nout[1] = ${sum(t2)};\nout[2] = ${dsum(t1, 'x')};\nout[3] = ${dsum(t1, 'y')};\nout[4] = ${dsum(t2, 'x')};\nout[5] = ${dsum(t2, 'y')};`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const evalFn = new Function('x', 'y', 'out', evalSrc) as EvalFn;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const jacFn = new Function('x', 'y', 'out', jacSrc) as EvalFn;
  return { evalFn, jacFn };
}

export class PolyPair {
  /** out = [P1(x, y), P2(x, y)]. */
  readonly eval: EvalFn;
  /** out = [P1, P2, ∂P1/∂x, ∂P1/∂y, ∂P2/∂x, ∂P2/∂y]. */
  readonly evalJacobian: EvalFn;

  constructor(t1: PolyTerm[], t2: PolyTerm[]) {
    const f = buildEvaluators(t1.filter((t) => t.c !== 0), t2.filter((t) => t.c !== 0));
    this.eval = f.evalFn;
    this.evalJacobian = f.jacFn;
  }

  /**
   * Solve (P1, P2)(x, y) = (X, Y) by Newton's method from (x0, y0); stops when the step is
   * below tol (same units as x, y). NaN when it does not converge.
   */
  solve(X: number, Y: number, x0: number, y0: number, tol: number, maxIter: number, out: Float64Array, jac: Float64Array): void {
    let x = x0;
    let y = y0;
    let ok = false;
    let last = Infinity;
    const f = this.evalJacobian;
    for (let it = 0; it < maxIter; it++) {
      f(x, y, jac);
      const rx = jac[0]! - X;
      const ry = jac[1]! - Y;
      const j11 = jac[2]!;
      const j12 = jac[3]!;
      const j21 = jac[4]!;
      const j22 = jac[5]!;
      const det = j11 * j22 - j12 * j21;
      if (det === 0 || !Number.isFinite(det)) break;
      const dx = (j22 * rx - j12 * ry) / det;
      const dy = (j11 * ry - j21 * rx) / det;
      x -= dx;
      y -= dy;
      last = Math.abs(dx) + Math.abs(dy);
      // Converged: the step is below tol, or at the rounding level of the coordinates.
      if (last < tol || last < 4e-16 * (Math.abs(x) + Math.abs(y))) { ok = true; break; }
    }
    if (!ok && last < 1e3 * tol) ok = true;
    out[0] = ok ? x : NaN;
    out[1] = ok ? y : NaN;
  }
}

function sipTerms(m: number[][] | undefined, identity: [number, number] | undefined): PolyTerm[] {
  const t: PolyTerm[] = [];
  if (identity) t.push({ a: identity[0], b: identity[1], e: 0, c: 1 });
  m?.forEach((row, p) => row.forEach((c, q) => {
    if (!c) return;
    const same = identity && p === identity[0] && q === identity[1];
    if (same) t[0]!.c += c;
    else t.push({ a: p, b: q, e: 0, c });
  }));
  return t;
}

export class Sip {
  readonly coeffs: SipCoefficients;
  readonly aOrder: number;
  readonly bOrder: number;
  readonly apOrder: number;
  readonly bpOrder: number;
  /** (u + A, v + B) */
  private readonly fwd: PolyPair;
  /** (U + AP, V + BP) */
  private readonly inv: PolyPair | undefined;
  private readonly t2 = new Float64Array(2);
  private readonly jac = new Float64Array(6);

  constructor(c: SipCoefficients, orders?: { a?: number; b?: number; ap?: number; bp?: number }) {
    this.coeffs = c;
    this.aOrder = orders?.a ?? matrixOrder(c.a);
    this.bOrder = orders?.b ?? matrixOrder(c.b);
    this.apOrder = c.ap ? orders?.ap ?? matrixOrder(c.ap) : 0;
    this.bpOrder = c.bp ? orders?.bp ?? matrixOrder(c.bp) : 0;
    this.fwd = new PolyPair(sipTerms(c.a, [1, 0]), sipTerms(c.b, [0, 1]));
    this.inv = c.ap && c.bp ? new PolyPair(sipTerms(c.ap, [1, 0]), sipTerms(c.bp, [0, 1])) : undefined;
  }

  get hasInverse(): boolean {
    return this.inv !== undefined;
  }

  /** (u, v) pixel offsets from CRPIX → distorted (u', v'). */
  forward(u: number, v: number, out: Float64Array): void {
    this.fwd.eval(u, v, out);
  }

  /**
   * Invert the forward polynomial: find (u, v) with forward(u, v) = (U, V). Starts from AP/BP
   * when present and always refines with Newton steps on the forward polynomial.
   */
  inverse(U: number, V: number, out: Float64Array, tolPix = 1e-10, maxIter = 50): void {
    let u = U;
    let v = V;
    if (this.inv) {
      this.inv.eval(U, V, this.t2);
      u = this.t2[0]!;
      v = this.t2[1]!;
    }
    this.fwd.solve(U, V, u, v, tolPix, maxIter, out, this.jac);
  }
}

/** TPV: PV1_j and PV2_j, j = 0..39 (zero when absent). */
export class Tpv {
  readonly pv1: Float64Array;
  readonly pv2: Float64Array;
  private readonly poly: PolyPair;
  private readonly jac = new Float64Array(6);

  constructor(pv1: ArrayLike<number>, pv2: ArrayLike<number>) {
    this.pv1 = new Float64Array(40);
    this.pv2 = new Float64Array(40);
    for (let j = 0; j < Math.min(40, pv1.length); j++) this.pv1[j] = pv1[j] ?? 0;
    for (let j = 0; j < Math.min(40, pv2.length); j++) this.pv2[j] = pv2[j] ?? 0;
    const t1: { a: number; b: number; e: number; c: number }[] = [];
    const t2: { a: number; b: number; e: number; c: number }[] = [];
    for (let j = 0; j < 40; j++) {
      const [a, b, e] = TPV_TERMS[j]!;
      t1.push({ a, b, e, c: this.pv1[j]! });
      // Axis 2 is the same series in (η, ξ): swap the exponents to evaluate it in (ξ, η).
      t2.push({ a: b, b: a, e, c: this.pv2[j]! });
    }
    this.poly = new PolyPair(t1, t2);
  }

  /** (ξ, η) degrees → (ξ', η') degrees. */
  forward(xi: number, eta: number, out: Float64Array): void {
    this.poly.eval(xi, eta, out);
  }

  /** Forward value and Jacobian: out = [ξ', η', dξ'/dξ, dξ'/dη, dη'/dξ, dη'/dη]. */
  forwardJacobian(xi: number, eta: number, out: Float64Array): void {
    this.poly.evalJacobian(xi, eta, out);
  }

  /**
   * Solve forward(ξ, η) = (X, Y) by Newton's method, starting from the inverse of the linear
   * part. tolDeg is the step size at which to stop.
   */
  inverse(X: number, Y: number, out: Float64Array, tolDeg: number, maxIter = 50): void {
    // Linear start: [PV1_1 PV1_2; PV2_2 PV2_1] (ξ, η) = (X - PV1_0, Y - PV2_0)
    const a11 = this.pv1[1]!;
    const a12 = this.pv1[2]!;
    const a21 = this.pv2[2]!;
    const a22 = this.pv2[1]!;
    const det0 = a11 * a22 - a12 * a21;
    let xi = X;
    let eta = Y;
    if (det0 !== 0) {
      const bx = X - this.pv1[0]!;
      const by = Y - this.pv2[0]!;
      xi = (a22 * bx - a12 * by) / det0;
      eta = (a11 * by - a21 * bx) / det0;
    }
    this.poly.solve(X, Y, xi, eta, tolDeg, maxIter, out, this.jac);
  }
}
