/**
 * The simulated sky: a Gaia-like star catalog (with proper motions and a few periodic
 * variables), Sérsic galaxies, SN-like transients (in hosts, nuclear, hostless) and asteroids.
 * Everything is generated once per survey from the seed and kept in typed columns so the
 * catalog can be shared with render workers.
 */

import { BANDS, type Band, gMinusRp, starBandMag } from './bands.js';
import { CcdGeometry } from './geometry.js';
import { Rng } from './rng.js';
import { searchWindow, type SurveyPlan } from './survey.js';

export const REF_EPOCH_YR = 2016.0;
/** MJD of the Gaia DR3 reference epoch J2016.0. */
export const REF_EPOCH_MJD = 57388.5;

export interface StarColumns {
  n: number;
  id: Float64Array;
  /** Position at REF_EPOCH (deg) and proper motion (mas/yr; pmra includes cos δ). */
  ra: Float64Array; dec: Float64Array; pmra: Float64Array; pmdec: Float64Array;
  /** True Gaia magnitudes. */
  g: Float64Array; bp: Float64Array; rp: Float64Array;
  /** Mean AB magnitudes in g, r, i, z (from the Gaia→DECam polynomials). */
  mag: Record<Band, Float64Array>;
  /** Periodic variability: peak-to-peak amplitude (mag; 0 = constant), period (d), phase. */
  varAmp: Float64Array; varPeriod: Float64Array; varPhase: Float64Array;
}

export interface GalaxyColumns {
  n: number;
  id: Float64Array;
  ra: Float64Array; dec: Float64Array;
  mag: Record<Band, Float64Array>;
  /** Sérsic index (1 or 4), half-light radius along the major axis (arcsec), axis ratio, PA (deg E of N). */
  sersic: Uint8Array; reArcsec: Float64Array; q: Float64Array; pa: Float64Array;
}

export const TRANSIENT_HOSTED = 0, TRANSIENT_NUCLEAR = 1, TRANSIENT_HOSTLESS = 2;

export interface TransientColumns {
  n: number;
  id: Float64Array;
  ra: Float64Array; dec: Float64Array;
  /** Host galaxy id (−1 hostless), kind (0 hosted, 1 nuclear, 2 hostless), offset from the host centre (arcsec). */
  hostId: Float64Array; kind: Uint8Array; offsetArcsec: Float64Array;
  /** Bazin light curve: peak MJD, peak r magnitude, rise and fall times (d). */
  peakMjd: Float64Array; peakMag: Float64Array; tauRise: Float64Array; tauFall: Float64Array;
  /** Per-band peak colour (mag relative to r) and colour slope (mag per 30 d after peak). */
  color: Record<Band, Float64Array>; colorSlope: Record<Band, Float64Array>;
}

export interface AsteroidColumns {
  n: number;
  id: Float64Array;
  /** Position at mjd0 and rates (deg/day; RA rate is on-sky, i.e. includes cos δ). */
  ra0: Float64Array; dec0: Float64Array; mjd0: Float64Array; rateRa: Float64Array; rateDec: Float64Array;
  mag: Record<Band, Float64Array>;
}

export interface SkyCatalog {
  centreRa: number; centreDec: number; radiusDeg: number;
  stars: StarColumns; galaxies: GalaxyColumns; transients: TransientColumns; asteroids: AsteroidColumns;
}

function bandCols(n: number): Record<Band, Float64Array> {
  return { g: new Float64Array(n), r: new Float64Array(n), i: new Float64Array(n), z: new Float64Array(n) };
}

const D2R = Math.PI / 180;

/** Uniform random point in a spherical cap of radius R (deg) around (ra0, dec0). */
function pointInCap(rng: Rng, ra0: number, dec0: number, R: number): [number, number] {
  const cosR = Math.cos(R * D2R);
  const ct = 1 - rng.uniform() * (1 - cosR);
  const st = Math.sqrt(1 - ct * ct);
  const phi = 2 * Math.PI * rng.uniform();
  // point around the pole, then rotate pole → (ra0, dec0)
  const x = st * Math.cos(phi), y = st * Math.sin(phi), z = ct;
  const a = ra0 * D2R, d = dec0 * D2R;
  // basis: centre c, east e, north n
  const cx = Math.cos(d) * Math.cos(a), cy = Math.cos(d) * Math.sin(a), cz = Math.sin(d);
  const ex = -Math.sin(a), ey = Math.cos(a);
  const nx = -Math.sin(d) * Math.cos(a), ny = -Math.sin(d) * Math.sin(a), nz = Math.cos(d);
  const X = z * cx + x * ex + y * nx, Y = z * cy + x * ey + y * ny, Z = z * cz + y * nz;
  let ra = Math.atan2(Y, X) / D2R;
  if (ra < 0) ra += 360;
  return [ra, Math.asin(Math.max(-1, Math.min(1, Z))) / D2R];
}

/** Offset a position by (dEast, dNorth) arcsec (small offsets). */
export function offsetArcsec(ra: number, dec: number, dE: number, dN: number): [number, number] {
  const dDec = dN / 3600;
  const dRa = dE / 3600 / Math.cos(dec * D2R);
  let r = ra + dRa;
  if (r < 0) r += 360; else if (r >= 360) r -= 360;
  return [r, dec + dDec];
}

/** Draw from dN/dm ∝ 10^(slope·m) on [m1, m2]. */
function drawPowerLaw(rng: Rng, slope: number, m1: number, m2: number): number {
  const a = Math.pow(10, slope * m1), b = Math.pow(10, slope * m2);
  return Math.log10(a + rng.uniform() * (b - a)) / slope;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** Radius (deg) of the cap around the field centre that contains every exposure's focal plane. */
function coverRadius(plan: SurveyPlan): number {
  const c = plan.config;
  let maxSep = 0;
  for (const e of plan.exposures) {
    const dra = (e.pointing.raDeg - c.fieldRaDeg) * Math.cos(c.fieldDecDeg * D2R);
    const ddec = e.pointing.decDeg - c.fieldDecDeg;
    maxSep = Math.max(maxSep, Math.hypot(dra, ddec));
  }
  return maxSep + c.camera.fieldRadiusDeg * 1.08 + 30 / 3600;
}

/** A random pixel position inside the footprint of a random search exposure, as sky coordinates. */
function footprintPoint(rng: Rng, plan: SurveyPlan, marginPx: number): [number, number] {
  const searches = plan.exposures.filter((e) => e.role === 'search');
  const pool = searches.length ? searches : plan.exposures;
  const exp = pool[rng.int(pool.length)]!;
  const cam = plan.config.camera;
  const ccds = plan.config.ccdnums ? cam.ccds.filter((c) => plan.config.ccdnums!.includes(c.ccdnum)) : cam.ccds;
  const ccd = ccds[rng.int(ccds.length)]!;
  const g = new CcdGeometry(cam, ccd, exp.pointing);
  const i = marginPx + rng.uniform() * (ccd.width - 2 * marginPx);
  const j = marginPx + rng.uniform() * (ccd.height - 2 * marginPx);
  return g.pixToSky(i, j);
}

/** For each (ra, dec): is it on a CCD of `geoms`, at least marginPx inside? */
function inFootprint(geoms: CcdGeometry[], ra: ArrayLike<number>, dec: ArrayLike<number>, marginPx: number): boolean[] {
  const out = new Array<boolean>(ra.length).fill(false);
  for (const g of geoms) {
    const { x, y } = g.skyToPix(ra, dec);
    for (let k = 0; k < ra.length; k++) {
      if (x[k]! >= marginPx && x[k]! <= g.ccd.width - 1 - marginPx && y[k]! >= marginPx && y[k]! <= g.ccd.height - 1 - marginPx) out[k] = true;
    }
  }
  return out;
}

export function generateCatalog(plan: SurveyPlan): SkyCatalog {
  const cfg = plan.config, src = cfg.sources;
  const R = coverRadius(plan);
  const area = 2 * Math.PI * (1 - Math.cos(R * D2R)) * (180 / Math.PI) ** 2;
  const ra0 = cfg.fieldRaDeg, dec0 = cfg.fieldDecDeg;

  /* ---- stars ---- */
  const rs = new Rng(cfg.seed, 'stars');
  const slope = 0.3;
  const [G1, G2] = src.starGRange;
  const nStar = Math.round(src.starsPerDeg2 * area * (Math.pow(10, slope * G2) - Math.pow(10, slope * G1))
    / Math.max(1e-30, Math.pow(10, slope * 20) - Math.pow(10, slope * Math.min(G1, 19.9))));
  const stars: StarColumns = {
    n: nStar, id: new Float64Array(nStar), ra: new Float64Array(nStar), dec: new Float64Array(nStar),
    pmra: new Float64Array(nStar), pmdec: new Float64Array(nStar),
    g: new Float64Array(nStar), bp: new Float64Array(nStar), rp: new Float64Array(nStar), mag: bandCols(nStar),
    varAmp: new Float64Array(nStar), varPeriod: new Float64Array(nStar), varPhase: new Float64Array(nStar),
  };
  for (let k = 0; k < nStar; k++) {
    const [ra, dec] = pointInCap(rs, ra0, dec0, R);
    const G = drawPowerLaw(rs, slope, G1, G2);
    // colour: blue (turn-off) and red (M dwarf) populations, redder at faint magnitudes
    const pRed = clamp(0.15 + 0.07 * (G - 16), 0.1, 0.65);
    let c: number;
    const u = rs.uniform();
    if (u < 0.03) c = rs.gauss(0.1, 0.2);
    else if (u < 0.03 + pRed) c = rs.gauss(2.3, 0.5);
    else c = rs.gauss(0.95, 0.2);
    c = clamp(c, -0.3, 3.9);
    const rp = G - gMinusRp(c);
    stars.id[k] = k + 1;
    stars.ra[k] = ra; stars.dec[k] = dec;
    const fast = rs.bool(0.05);
    const s = fast ? 25 : 5;
    stars.pmra[k] = rs.gauss(-2, s); stars.pmdec[k] = rs.gauss(-4, s);
    stars.g[k] = G; stars.rp[k] = rp; stars.bp[k] = rp + c;
    for (const b of BANDS) stars.mag[b][k] = starBandMag(b, G, c);
  }
  // periodic variables among 15 < G < 21
  const candidates: number[] = [];
  for (let k = 0; k < nStar; k++) if (stars.g[k]! > 15 && stars.g[k]! < 21) candidates.push(k);
  const rv = new Rng(cfg.seed, 'variables');
  for (let v = 0; v < Math.min(src.variables, candidates.length); v++) {
    const pick = candidates.splice(rv.int(candidates.length), 1)[0]!;
    stars.varAmp[pick] = rv.range(0.2, 0.9);
    stars.varPeriod[pick] = Math.exp(rv.range(Math.log(0.3), Math.log(8)));
    stars.varPhase[pick] = rv.uniform();
  }

  /* ---- galaxies ---- */
  const rg = new Rng(cfg.seed, 'galaxies');
  const nGal = Math.round(src.galaxiesPerDeg2 * area);
  const [r1, r2] = src.galaxyRRange;
  const galaxies: GalaxyColumns = {
    n: nGal, id: new Float64Array(nGal), ra: new Float64Array(nGal), dec: new Float64Array(nGal), mag: bandCols(nGal),
    sersic: new Uint8Array(nGal), reArcsec: new Float64Array(nGal), q: new Float64Array(nGal), pa: new Float64Array(nGal),
  };
  for (let k = 0; k < nGal; k++) {
    const [ra, dec] = pointInCap(rg, ra0, dec0, R);
    const r = drawPowerLaw(rg, 0.35, r1, r2);
    const dev = rg.bool(0.3);
    const gr = dev ? rg.gauss(1.2, 0.15) : rg.gauss(0.55, 0.2);
    const ri = dev ? rg.gauss(0.45, 0.08) : rg.gauss(0.3, 0.1);
    const iz = dev ? rg.gauss(0.3, 0.06) : rg.gauss(0.15, 0.08);
    galaxies.id[k] = 1_000_000 + k + 1;
    galaxies.ra[k] = ra; galaxies.dec[k] = dec;
    galaxies.mag.r[k] = r; galaxies.mag.g[k] = r + gr; galaxies.mag.i[k] = r - ri; galaxies.mag.z[k] = r - ri - iz;
    galaxies.sersic[k] = dev ? 4 : 1;
    const reMed = 0.9 * Math.pow(10, -0.12 * (r - 21)) * (dev ? 0.7 : 1);
    galaxies.reArcsec[k] = clamp(reMed * Math.exp(0.4 * rg.normal()), 0.15, 8);
    galaxies.q[k] = dev ? rg.range(0.5, 1) : rg.range(0.25, 1);
    galaxies.pa[k] = rg.range(0, 180);
  }

  /* ---- transients ---- */
  const rt = new Rng(cfg.seed, 'transients');
  const nT = src.transients;
  const transients: TransientColumns = {
    n: nT, id: new Float64Array(nT), ra: new Float64Array(nT), dec: new Float64Array(nT),
    hostId: new Float64Array(nT), kind: new Uint8Array(nT), offsetArcsec: new Float64Array(nT),
    peakMjd: new Float64Array(nT), peakMag: new Float64Array(nT), tauRise: new Float64Array(nT), tauFall: new Float64Array(nT),
    color: bandCols(nT), colorSlope: bandCols(nT),
  };
  const ccdsUsed = cfg.ccdnums ? cfg.camera.ccds.filter((c) => cfg.ccdnums!.includes(c.ccdnum)) : cfg.camera.ccds;
  const searchExps = plan.exposures.filter((e) => e.role === 'search');
  const tileExps = [...new Map((searchExps.length ? searchExps : plan.exposures).map((e) => [e.tile, e])).values()];
  const geoms = tileExps.flatMap((e) => ccdsUsed.map((c) => new CcdGeometry(cfg.camera, c, e.pointing)));
  // Host candidates: 18 < r < 22.5 galaxies; each transient draws candidates until one lies
  // in the search footprint (60 px from the CCD edges).
  const hostCand: number[] = [];
  for (let k = 0; k < nGal; k++) {
    const r = galaxies.mag.r[k]!;
    if (r >= 18 && r <= 22.5) hostCand.push(k);
  }
  const drawHost = (): number => {
    for (let tries = 0; tries < 500 && hostCand.length; tries++) {
      const k = hostCand[rt.int(hostCand.length)]!;
      if (inFootprint(geoms, [galaxies.ra[k]!], [galaxies.dec[k]!], 60)[0]) return k;
    }
    return -1;
  };
  const [w0, w1] = searchWindow(plan);
  for (let t = 0; t < nT; t++) {
    transients.id[t] = 2_000_000 + t + 1;
    const u = rt.uniform();
    let kind = u < 0.7 ? TRANSIENT_HOSTED : u < 0.85 ? TRANSIENT_NUCLEAR : TRANSIENT_HOSTLESS;
    const h = kind === TRANSIENT_HOSTLESS ? -1 : drawHost();
    if (h < 0) kind = TRANSIENT_HOSTLESS;
    let ra: number, dec: number, host = -1, off = 0;
    if (kind === TRANSIENT_HOSTLESS) {
      [ra, dec] = footprintPoint(rt, plan, 60);
    } else {
      host = galaxies.id[h]!;
      if (kind === TRANSIENT_NUCLEAR) {
        off = 0;
        [ra, dec] = [galaxies.ra[h]!, galaxies.dec[h]!];
      } else {
        // offset drawn from the host's light: radius ~ Gamma(2) in units of the scale length
        const re = galaxies.reArcsec[h]!, q = galaxies.q[h]!, pa = galaxies.pa[h]! * D2R;
        const rad = re / 1.678 * (rt.exponential(1) + rt.exponential(1));
        const ang = rt.range(0, 2 * Math.PI);
        const a = rad * Math.cos(ang), b = rad * q * Math.sin(ang); // along major, minor
        const dN = a * Math.cos(pa) - b * Math.sin(pa), dE = a * Math.sin(pa) + b * Math.cos(pa);
        off = Math.hypot(dN, dE);
        [ra, dec] = offsetArcsec(galaxies.ra[h]!, galaxies.dec[h]!, dE, dN);
      }
    }
    transients.ra[t] = ra; transients.dec[t] = dec; transients.hostId[t] = host; transients.kind[t] = kind;
    transients.offsetArcsec[t] = off;
    transients.peakMjd[t] = rt.range(w0 - 8, w1 + 2);
    const [pm0, pm1] = src.transientPeakMag ?? [19.5, 22.5];
    transients.peakMag[t] = rt.range(pm0, pm1);
    transients.tauRise[t] = rt.range(2, 5);
    transients.tauFall[t] = rt.range(15, 40);
    const gr = rt.gauss(0.0, 0.1);
    transients.color.g[t] = gr; transients.color.r[t] = 0; transients.color.i[t] = rt.gauss(0.1, 0.08); transients.color.z[t] = rt.gauss(0.2, 0.1);
    transients.colorSlope.g[t] = 0.6; transients.colorSlope.r[t] = 0; transients.colorSlope.i[t] = -0.1; transients.colorSlope.z[t] = -0.15;
  }

  /* ---- asteroids ---- */
  const ra_ = new Rng(cfg.seed, 'asteroids');
  const nA = src.asteroids;
  const asteroids: AsteroidColumns = {
    n: nA, id: new Float64Array(nA), ra0: new Float64Array(nA), dec0: new Float64Array(nA), mjd0: new Float64Array(nA),
    rateRa: new Float64Array(nA), rateDec: new Float64Array(nA), mag: bandCols(nA),
  };
  const searchMjds = plan.exposures.filter((e) => e.role === 'search').map((e) => e.mjd);
  for (let a = 0; a < nA; a++) {
    asteroids.id[a] = 3_000_000 + a + 1;
    // anchor each asteroid inside the footprint at the time of one search exposure
    const mjd0 = searchMjds.length ? searchMjds[a % searchMjds.length]! : plan.exposures[0]!.mjd;
    const [ra, dec] = footprintPoint(ra_, plan, 100);
    // first: main-belt speed (~0.25°/d); others slow (outer solar system, ~0.01°/d)
    const rate = a === 0 ? ra_.range(0.15, 0.3) : ra_.range(0.005, 0.015);
    const dir = ra_.range(0, 2 * Math.PI);
    asteroids.ra0[a] = ra; asteroids.dec0[a] = dec; asteroids.mjd0[a] = mjd0;
    asteroids.rateRa[a] = rate * Math.cos(dir); asteroids.rateDec[a] = rate * Math.sin(dir);
    const r = ra_.range(19.5, 21.0);
    asteroids.mag.r[a] = r; asteroids.mag.g[a] = r + 0.55; asteroids.mag.i[a] = r - 0.18; asteroids.mag.z[a] = r - 0.22;
  }

  return { centreRa: ra0, centreDec: dec0, radiusDeg: R, stars, galaxies, transients, asteroids };
}

/* ---------------- time-dependent quantities ---------------- */

/** Star magnitude in a band at an MJD (variability included). */
export function starMagAt(stars: StarColumns, k: number, band: Band, mjd: number): number {
  const m = stars.mag[band][k]!;
  const amp = stars.varAmp[k]!;
  if (amp === 0) return m;
  return m + 0.5 * amp * Math.sin(2 * Math.PI * ((mjd - 60000) / stars.varPeriod[k]! + stars.varPhase[k]!));
}

/** Star position at an MJD (proper motion from REF_EPOCH, small-angle). */
export function starPosAt(stars: StarColumns, k: number, mjd: number): [number, number] {
  const dt = (mjd - REF_EPOCH_MJD) / 365.25;
  const dec = stars.dec[k]! + stars.pmdec[k]! * dt / 3.6e6;
  const ra = stars.ra[k]! + stars.pmra[k]! * dt / 3.6e6 / Math.cos(stars.dec[k]! * D2R);
  return [ra, dec];
}

/**
 * Transient flux relative to its peak (Bazin function, normalised to 1 at peak) at an MJD.
 * Zero more than 10 rise times before the peak.
 */
export function transientRelFlux(tr: TransientColumns, k: number, mjd: number): number {
  const tr_ = tr.tauRise[k]!, tf = tr.tauFall[k]!;
  const xPk = tr_ * Math.log(tf / tr_ - 1);
  const x = mjd - tr.peakMjd[k]! + xPk;
  if (x < xPk - 10 * tr_) return 0;
  const B = (z: number) => Math.exp(-z / tf) / (1 + Math.exp(-z / tr_));
  return B(x) / B(xPk);
}

/** Transient AB magnitude in a band at an MJD (Infinity when not yet exploded). */
export function transientMagAt(tr: TransientColumns, k: number, band: Band, mjd: number): number {
  const f = transientRelFlux(tr, k, mjd);
  if (!(f > 0)) return Infinity;
  const after = Math.max(0, mjd - tr.peakMjd[k]!) / 30;
  return tr.peakMag[k]! + tr.color[band][k]! + tr.colorSlope[band][k]! * after - 2.5 * Math.log10(f);
}

/** Asteroid position at an MJD (linear motion on the sky). */
export function asteroidPosAt(ast: AsteroidColumns, k: number, mjd: number): [number, number] {
  const dt = mjd - ast.mjd0[k]!;
  const dec = ast.dec0[k]! + ast.rateDec[k]! * dt;
  const ra = ast.ra0[k]! + ast.rateRa[k]! * dt / Math.cos(ast.dec0[k]! * D2R);
  return [ra, dec];
}
