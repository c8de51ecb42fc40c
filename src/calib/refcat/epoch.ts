/**
 * Proper-motion propagation. pmra includes cos(dec) (Gaia's μα*), pmdec is μδ, both in mas/yr;
 * epochs in Julian years. The motion is applied as a vector in the tangent plane at the star and
 * the result renormalised onto the sphere, so it stays exact-in-direction at the poles and across
 * RA 0/360 (parallax and radial velocity are ignored: < 1 mas for decades for almost all stars).
 */

const D2R = Math.PI / 180;
const MAS = Math.PI / 180 / 3600 / 1000;

/**
 * Propagate one position from refEpoch to epoch. Rows without a proper motion (NaN) keep their
 * position. Returns [ra, dec] in degrees, ra in [0, 360).
 */
export function propagatePosition(raDeg: number, decDeg: number, pmraMasYr: number, pmdecMasYr: number, refEpoch: number, epoch: number): [number, number] {
  const dt = epoch - refEpoch;
  if (!Number.isFinite(pmraMasYr) || !Number.isFinite(pmdecMasYr) || !Number.isFinite(dt) || dt === 0) return [raDeg, decDeg];
  const a = raDeg * D2R, d = decDeg * D2R;
  const ca = Math.cos(a), sa = Math.sin(a), cd = Math.cos(d), sd = Math.sin(d);
  // position and local east/north unit vectors
  const px = cd * ca, py = cd * sa, pz = sd;
  const ex = -sa, ey = ca;
  const nx = -sd * ca, ny = -sd * sa, nz = cd;
  const mua = pmraMasYr * MAS * dt, mud = pmdecMasYr * MAS * dt;
  // move along the great circle by the angle |μ|·dt in the direction of (μα*, μδ)
  const ang = Math.hypot(mua, mud);
  if (ang === 0) return [raDeg, decDeg];
  const ux = (mua * ex + mud * nx) / ang, uy = (mua * ey + mud * ny) / ang, uz = (mud * nz) / ang;
  const c = Math.cos(ang), s = Math.sin(ang);
  const x = c * px + s * ux, y = c * py + s * uy, z = c * pz + s * uz;
  let ra = Math.atan2(y, x) / D2R;
  if (ra < 0) ra += 360;
  if (ra >= 360) ra -= 360;
  return [ra, Math.atan2(z, Math.hypot(x, y)) / D2R];
}

/** Propagate columns in place to `epoch`; position errors (mas) grow with the proper-motion errors. */
export function propagateColumns(
  cols: { ra: Float64Array; dec: Float64Array; pmra?: ArrayLike<number>; pmdec?: ArrayLike<number>; ref_epoch?: ArrayLike<number>; ra_error?: Float32Array | Float64Array; dec_error?: Float32Array | Float64Array; pmra_error?: ArrayLike<number>; pmdec_error?: ArrayLike<number> },
  epoch: number,
  defaultRefEpoch: number,
): void {
  const n = cols.ra.length;
  for (let i = 0; i < n; i++) {
    const ref = cols.ref_epoch && Number.isFinite(cols.ref_epoch[i]!) ? cols.ref_epoch[i]! : defaultRefEpoch;
    const pmra = cols.pmra ? cols.pmra[i]! : NaN, pmdec = cols.pmdec ? cols.pmdec[i]! : NaN;
    const [r, d] = propagatePosition(cols.ra[i]!, cols.dec[i]!, pmra, pmdec, ref, epoch);
    cols.ra[i] = r;
    cols.dec[i] = d;
    const dt = epoch - ref;
    if (Number.isFinite(pmra) && dt !== 0) {
      if (cols.ra_error && cols.pmra_error && Number.isFinite(cols.pmra_error[i]!)) cols.ra_error[i] = Math.hypot(cols.ra_error[i]!, dt * cols.pmra_error[i]!);
      if (cols.dec_error && cols.pmdec_error && Number.isFinite(cols.pmdec_error[i]!)) cols.dec_error[i] = Math.hypot(cols.dec_error[i]!, dt * cols.pmdec_error[i]!);
    }
  }
}

/** Julian epoch of an MJD (J2000.0 = MJD 51544.5). */
export function mjdToJulianEpoch(mjd: number): number {
  return 2000 + (mjd - 51544.5) / 365.25;
}
