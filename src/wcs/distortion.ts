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

/** A 2-D polynomial Σ c_k x^p_k y^q_k over its nonzero terms, evaluated with its derivatives. */
export class Poly2 {
  readonly p: Int32Array;
  readonly q: Int32Array;
  readonly c: Float64Array;
  readonly order: number;
  private readonly xp: Float64Array;
  private readonly yp: Float64Array;

  constructor(terms: { p: number; q: number; c: number }[]) {
    const nz = terms.filter((t) => t.c !== 0);
    this.p = Int32Array.from(nz.map((t) => t.p));
    this.q = Int32Array.from(nz.map((t) => t.q));
    this.c = Float64Array.from(nz.map((t) => t.c));
    this.order = nz.reduce((m, t) => Math.max(m, t.p, t.q), 0);
    this.xp = new Float64Array(this.order + 2);
    this.yp = new Float64Array(this.order + 2);
  }

  get size(): number {
    return this.c.length;
  }

  private powers(x: number, y: number): void {
    const xp = this.xp;
    const yp = this.yp;
    xp[0] = 1;
    yp[0] = 1;
    for (let k = 1; k <= this.order; k++) {
      xp[k] = xp[k - 1]! * x;
      yp[k] = yp[k - 1]! * y;
    }
  }

  value(x: number, y: number): number {
    const n = this.c.length;
    if (n === 0) return 0;
    this.powers(x, y);
    let s = 0;
    for (let k = 0; k < n; k++) s += this.c[k]! * this.xp[this.p[k]!]! * this.yp[this.q[k]!]!;
    return s;
  }

  /** Value and the two partial derivatives into out[0..2]. */
  valueGrad(x: number, y: number, out: Float64Array): void {
    const n = this.c.length;
    let s = 0;
    let dx = 0;
    let dy = 0;
    if (n > 0) {
      this.powers(x, y);
      const xp = this.xp;
      const yp = this.yp;
      for (let k = 0; k < n; k++) {
        const p = this.p[k]!;
        const q = this.q[k]!;
        const c = this.c[k]!;
        s += c * xp[p]! * yp[q]!;
        if (p > 0) dx += c * p * xp[p - 1]! * yp[q]!;
        if (q > 0) dy += c * q * xp[p]! * yp[q - 1]!;
      }
    }
    out[0] = s;
    out[1] = dx;
    out[2] = dy;
  }
}

/** SIP coefficients, as matrices m[p][q] (p + q ≤ order). */
export interface SipCoefficients {
  a: number[][];
  b: number[][];
  ap?: number[][];
  bp?: number[][];
}

function polyFromMatrix(m: number[][]): Poly2 {
  const terms: { p: number; q: number; c: number }[] = [];
  m.forEach((row, p) => row.forEach((c, q) => { if (c) terms.push({ p, q, c }); }));
  return new Poly2(terms);
}

export function matrixOrder(m: number[][] | undefined): number {
  let o = 0;
  m?.forEach((row, p) => row.forEach((c, q) => { if (c) o = Math.max(o, p + q); }));
  return o;
}

export class Sip {
  readonly coeffs: SipCoefficients;
  readonly aOrder: number;
  readonly bOrder: number;
  readonly apOrder: number;
  readonly bpOrder: number;
  private readonly fa: Poly2;
  private readonly fb: Poly2;
  private readonly fap: Poly2 | undefined;
  private readonly fbp: Poly2 | undefined;
  private readonly ga = new Float64Array(3);
  private readonly gb = new Float64Array(3);

  constructor(c: SipCoefficients, orders?: { a?: number; b?: number; ap?: number; bp?: number }) {
    this.coeffs = c;
    this.aOrder = orders?.a ?? matrixOrder(c.a);
    this.bOrder = orders?.b ?? matrixOrder(c.b);
    this.apOrder = c.ap ? orders?.ap ?? matrixOrder(c.ap) : 0;
    this.bpOrder = c.bp ? orders?.bp ?? matrixOrder(c.bp) : 0;
    this.fa = polyFromMatrix(c.a);
    this.fb = polyFromMatrix(c.b);
    this.fap = c.ap ? polyFromMatrix(c.ap) : undefined;
    this.fbp = c.bp ? polyFromMatrix(c.bp) : undefined;
  }

  get hasInverse(): boolean {
    return this.fap !== undefined && this.fbp !== undefined;
  }

  /** (u, v) pixel offsets from CRPIX → distorted (u', v'). */
  forward(u: number, v: number, out: Float64Array): void {
    out[0] = u + this.fa.value(u, v);
    out[1] = v + this.fb.value(u, v);
  }

  /**
   * Invert the forward polynomial: find (u, v) with forward(u, v) = (U, V). Starts from AP/BP
   * when present and always refines with Newton steps on the forward polynomial.
   */
  inverse(U: number, V: number, out: Float64Array, tolPix = 1e-10, maxIter = 50): void {
    let u = U;
    let v = V;
    if (this.fap && this.fbp) {
      u = U + this.fap.value(U, V);
      v = V + this.fbp.value(U, V);
    }
    const ga = this.ga;
    const gb = this.gb;
    for (let it = 0; it < maxIter; it++) {
      this.fa.valueGrad(u, v, ga);
      this.fb.valueGrad(u, v, gb);
      const ru = u + ga[0]! - U;
      const rv = v + gb[0]! - V;
      const j11 = 1 + ga[1]!;
      const j12 = ga[2]!;
      const j21 = gb[1]!;
      const j22 = 1 + gb[2]!;
      const det = j11 * j22 - j12 * j21;
      if (det === 0 || !Number.isFinite(det)) { u = NaN; v = NaN; break; }
      const du = (j22 * ru - j12 * rv) / det;
      const dv = (j11 * rv - j21 * ru) / det;
      u -= du;
      v -= dv;
      if (Math.abs(du) + Math.abs(dv) < tolPix) break;
      if (it === maxIter - 1) { u = NaN; v = NaN; }
    }
    out[0] = u;
    out[1] = v;
  }
}

/** TPV: PV1_j and PV2_j, j = 0..39 (zero when absent). */
export class Tpv {
  readonly pv1: Float64Array;
  readonly pv2: Float64Array;
  /** Highest term index in use + 1, per axis. */
  private readonly n1: number;
  private readonly n2: number;
  private readonly maxDeg: number;
  private readonly hasRadial: boolean;
  private readonly xp = new Float64Array(8);
  private readonly yp = new Float64Array(8);
  private readonly g1 = new Float64Array(3);
  private readonly g2 = new Float64Array(3);

  constructor(pv1: ArrayLike<number>, pv2: ArrayLike<number>) {
    this.pv1 = new Float64Array(40);
    this.pv2 = new Float64Array(40);
    for (let j = 0; j < Math.min(40, pv1.length); j++) this.pv1[j] = pv1[j] ?? 0;
    for (let j = 0; j < Math.min(40, pv2.length); j++) this.pv2[j] = pv2[j] ?? 0;
    let n1 = 0;
    let n2 = 0;
    let deg = 1;
    let radial = false;
    for (let j = 0; j < 40; j++) {
      if (this.pv1[j] !== 0) n1 = j + 1;
      if (this.pv2[j] !== 0) n2 = j + 1;
      if (this.pv1[j] !== 0 || this.pv2[j] !== 0) {
        deg = Math.max(deg, tpvTermDegree(j));
        if (TPV_TERMS[j]![2] > 0) radial = true;
      }
    }
    this.n1 = n1;
    this.n2 = n2;
    this.maxDeg = deg;
    this.hasRadial = radial;
  }

  /** Evaluate one axis polynomial Σ pv[j] T_j(x, y) and its gradient (d/dx, d/dy) into g. */
  private evalAxis(pv: Float64Array, n: number, x: number, y: number, g: Float64Array, grad: boolean): void {
    const xp = this.xp;
    const yp = this.yp;
    let s = 0;
    let dx = 0;
    let dy = 0;
    let r = 0;
    if (this.hasRadial) r = Math.sqrt(x * x + y * y);
    for (let j = 0; j < n; j++) {
      const c = pv[j]!;
      if (c === 0) continue;
      const t = TPV_TERMS[j]!;
      const a = t[0];
      const b = t[1];
      const e = t[2];
      if (e === 0) {
        s += c * xp[a]! * yp[b]!;
        if (grad) {
          if (a > 0) dx += c * a * xp[a - 1]! * yp[b]!;
          if (b > 0) dy += c * b * xp[a]! * yp[b - 1]!;
        }
      } else {
        const re = e === 1 ? r : e === 3 ? r * r * r : e === 5 ? r * r * r * r * r : r * r * r * r * r * r * r;
        s += c * re;
        if (grad && r > 0) {
          // d r^e / dx = e r^(e-2) x
          const k = c * e * (re / (r * r));
          dx += k * x;
          dy += k * y;
        }
      }
    }
    g[0] = s;
    g[1] = dx;
    g[2] = dy;
  }

  private powers(x: number, y: number): void {
    const xp = this.xp;
    const yp = this.yp;
    xp[0] = 1;
    yp[0] = 1;
    for (let k = 1; k <= this.maxDeg; k++) {
      xp[k] = xp[k - 1]! * x;
      yp[k] = yp[k - 1]! * y;
    }
  }

  /** (ξ, η) degrees → (ξ', η') degrees. */
  forward(xi: number, eta: number, out: Float64Array): void {
    this.powers(xi, eta);
    this.evalAxis(this.pv1, this.n1, xi, eta, this.g1, false);
    // Axis 2 takes (η, ξ): swap the power tables by evaluating with the roles exchanged.
    this.swapPowers();
    this.evalAxis(this.pv2, this.n2, eta, xi, this.g2, false);
    out[0] = this.g1[0]!;
    out[1] = this.g2[0]!;
  }

  private swapPowers(): void {
    const xp = this.xp;
    const yp = this.yp;
    for (let k = 0; k <= this.maxDeg; k++) {
      const t = xp[k]!;
      xp[k] = yp[k]!;
      yp[k] = t;
    }
  }

  /** Forward value and Jacobian: out = [ξ', η', dξ'/dξ, dξ'/dη, dη'/dξ, dη'/dη]. */
  forwardJacobian(xi: number, eta: number, out: Float64Array): void {
    this.powers(xi, eta);
    this.evalAxis(this.pv1, this.n1, xi, eta, this.g1, true);
    this.swapPowers();
    this.evalAxis(this.pv2, this.n2, eta, xi, this.g2, true);
    out[0] = this.g1[0]!;
    out[1] = this.g2[0]!;
    out[2] = this.g1[1]!;
    out[3] = this.g1[2]!;
    out[4] = this.g2[2]!; // d/dξ of axis 2: its second argument
    out[5] = this.g2[1]!;
  }

  /**
   * Solve forward(ξ, η) = (X, Y) by Newton's method, starting from the inverse of the linear
   * part. tolDeg is the step size at which to stop.
   */
  inverse(X: number, Y: number, out: Float64Array, tolDeg: number, maxIter = 50, jac = new Float64Array(6)): void {
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
    for (let it = 0; it < maxIter; it++) {
      this.forwardJacobian(xi, eta, jac);
      const rx = jac[0]! - X;
      const ry = jac[1]! - Y;
      const j11 = jac[2]!;
      const j12 = jac[3]!;
      const j21 = jac[4]!;
      const j22 = jac[5]!;
      const det = j11 * j22 - j12 * j21;
      if (det === 0 || !Number.isFinite(det)) { xi = NaN; eta = NaN; break; }
      const dx = (j22 * rx - j12 * ry) / det;
      const dy = (j11 * ry - j21 * rx) / det;
      xi -= dx;
      eta -= dy;
      if (Math.abs(dx) + Math.abs(dy) < tolDeg) break;
      if (it === maxIter - 1) { xi = NaN; eta = NaN; }
    }
    out[0] = xi;
    out[1] = eta;
  }
}
