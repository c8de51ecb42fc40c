import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Header } from '../../src/fits/header.js';
import { HeaderText, Wcs } from '../../src/wcs/index.js';
import { TesseraError } from '../../src/util/errors.js';
import { headerFiles, readFixture } from './fixtures.js';

function grid(w: Wcs, n = 15): { x: Float64Array; y: Float64Array } {
  const [W, H] = w.naxis ?? [2000, 2000];
  const x = new Float64Array(n * n);
  const y = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    x[i * n + j] = 0.5 + (W * i) / (n - 1);
    y[i * n + j] = 0.5 + (H * j) / (n - 1);
  }
  return { x, y };
}

function assertSameTransform(a: Wcs, b: Wcs, what: string): void {
  const { x, y } = grid(a);
  const sa = a.pixToSky(x, y);
  const sb = b.pixToSky(x, y);
  assert.deepEqual(sb.ra, sa.ra, `${what}: RA differs`);
  assert.deepEqual(sb.dec, sa.dec, `${what}: Dec differs`);
  const ok = Array.from(sa.dec, (d) => Number.isFinite(d));
  const ra = sa.ra.filter((_, i) => ok[i]);
  const dec = sa.dec.filter((_, i) => ok[i]);
  assert.deepEqual(b.skyToPix(ra, dec), a.skyToPix(ra, dec), `${what}: sky→pixel differs`);
}

for (const name of headerFiles()) {
  test(`${name}: read → toHeaderText → read gives the identical transform`, () => {
    const w = Wcs.fromHeader(HeaderText.parse(readFixture(name).text, name), name);
    const text = w.toHeaderText();
    for (const line of text.split('\n').filter((l) => l)) assert.equal(line.length, 80);
    const w2 = Wcs.fromHeader(HeaderText.parse(text, 'written'), 'written');
    assertSameTransform(w, w2, name);
  });

  test(`${name}: write into a FITS Header, serialise, parse, read: identical transform`, () => {
    const w = Wcs.fromHeader(HeaderText.parse(readFixture(name).text, name), name);
    const h = new Header();
    h.set('SIMPLE', true);
    h.set('BITPIX', 8);
    h.set('NAXIS', 0);
    // Stale keywords from an older WCS must not survive (PC would take precedence over CD).
    h.set('PC1_1', 0.5);
    h.set('CDELT1', 3);
    h.set('A_7_0', 1);
    h.set('PV1_39', 2);
    w.toHeader(h);
    const back = Header.parse(h.toBytes(), 'roundtrip').header;
    assert.equal(back.get('PC1_1'), undefined);
    const w2 = Wcs.fromHeader(back, 'roundtrip');
    assertSameTransform(w, w2, name);
  });
}

test('SCAMP TAN + PVi_j is read as TPV: identical to the same header with CTYPE RA---TPV', () => {
  const text = readFixture('scamp_tanpv.head').text;
  const a = Wcs.fromHeader(HeaderText.parse(text));
  const b = Wcs.fromHeader(HeaderText.parse(text.replace("'RA---TAN'", "'RA---TPV'").replace("'DEC--TAN'", "'DEC--TPV'")));
  assert.equal(a.distortion, 'tpv');
  assertSameTransform(a, b, 'TAN+PV vs TPV');
  assert.match(a.toHeaderText(), /CTYPE1  = 'RA---TPV'/);
});

test('SIP without AP/BP inverts by iteration alone to < 1e-6 px over and beyond the image', () => {
  const text = readFixture('hst_sip.head').text.split('\n').filter((l) => !/^(AP|BP)_/.test(l)).join('\n');
  const w = Wcs.fromHeader(HeaderText.parse(text));
  assert.equal(w.sip!.hasInverse, false);
  const n = 20000;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < n; i++) {
    x[i] = -200 + 4500 * rnd();
    y[i] = -200 + 2450 * rnd();
  }
  const sky = w.pixToSky(x, y);
  const p = w.skyToPix(sky.ra, sky.dec);
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(p.x[i]! - x[i]!), Math.abs(p.y[i]! - y[i]!));
  assert.ok(worst < 1e-6, `worst round trip ${worst} px`);
});

for (const name of ['decam_tpv.head', 'scamp_tanpv.head', 'hst_sip.head']) {
  test(`${name}: sky→pixel round trip < 1e-6 px for 20000 random points incl. 10% margin outside the image`, () => {
    const w = Wcs.fromHeader(HeaderText.parse(readFixture(name).text));
    const [W, H] = w.naxis!;
    const n = 20000;
    const x = new Float64Array(n);
    const y = new Float64Array(n);
    let s = 777;
    const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let i = 0; i < n; i++) {
      x[i] = -0.1 * W + 1.2 * W * rnd();
      y[i] = -0.1 * H + 1.2 * H * rnd();
    }
    // origin 0 input: the same points shifted by one pixel give the same sky.
    const sky = w.pixToSky(x, y, 1);
    const sky0 = w.pixToSky(x.map((v) => v - 1), y.map((v) => v - 1), 0);
    assert.deepEqual(sky0, sky);
    const p = w.skyToPix(sky.ra, sky.dec, 1);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(p.x[i]! - x[i]!), Math.abs(p.y[i]! - y[i]!));
    assert.ok(worst < 1e-6, `worst round trip ${worst} px`);
  });
}

test('TPV far from the tangent point (ξ up to 4°) still inverts to < 1e-6 px', () => {
  const text = readFixture('decam_tpv.head').text.replace(/CRPIX1  = .*$/m, `CRPIX1  = ${(-50000).toFixed(1).padStart(20)}`);
  const w = Wcs.fromHeader(HeaderText.parse(text));
  assert.equal(w.crpix[0], -50000);
  const x = new Float64Array(2000);
  const y = new Float64Array(2000);
  for (let i = 0; i < 2000; i++) {
    x[i] = ((i * 7919) % 2046) + 0.5;
    y[i] = ((i * 104729) % 4094) + 0.5;
  }
  const s = w.pixToSky(x, y);
  const p = w.skyToPix(s.ra, s.dec);
  let worst = 0;
  for (let i = 0; i < 2000; i++) worst = Math.max(worst, Math.abs(p.x[i]! - x[i]!), Math.abs(p.y[i]! - y[i]!));
  assert.ok(worst < 1e-6, `worst ${worst} px`);
});

test('linear part: CROTA2 + CDELT, PC + CDELT and CD describe the same WCS; PC takes precedence over CD', () => {
  const base = "CTYPE1 = 'RA---TAN'\nCTYPE2 = 'DEC--TAN'\nCRPIX1 = 100\nCRPIX2 = 200\nCRVAL1 = 10\nCRVAL2 = 40\n";
  const rho = (25 * Math.PI) / 180;
  const c1 = -2e-4;
  const c2 = 3e-4;
  const crota = Wcs.fromHeader(HeaderText.parse(`${base}CDELT1 = ${c1}\nCDELT2 = ${c2}\nCROTA2 = 25\n`));
  const cd = [c1 * Math.cos(rho), -c2 * Math.sin(rho), c1 * Math.sin(rho), c2 * Math.cos(rho)];
  const viaCd = Wcs.fromHeader(HeaderText.parse(`${base}CD1_1 = ${cd[0]}\nCD1_2 = ${cd[1]}\nCD2_1 = ${cd[2]}\nCD2_2 = ${cd[3]}\n`));
  const pc = Wcs.fromHeader(HeaderText.parse(`${base}CDELT1 = ${c1}\nCDELT2 = ${c2}\nPC1_1 = ${Math.cos(rho)}\nPC1_2 = ${(-c2 / c1) * Math.sin(rho)}\nPC2_1 = ${(c1 / c2) * Math.sin(rho)}\nPC2_2 = ${Math.cos(rho)}\nCD1_1 = 1\n`));
  const pts = [[1, 1], [100, 200], [512, 37]];
  for (const [x, y] of pts) {
    const a = crota.pixToSkyOne(x!, y!);
    const b = viaCd.pixToSkyOne(x!, y!);
    const c = pc.pixToSkyOne(x!, y!);
    for (const other of [b, c]) {
      assert.ok(Math.abs(a[0] - other[0]) < 1e-12 && Math.abs(a[1] - other[1]) < 1e-12, `${a} vs ${other}`);
    }
  }
  assert.deepEqual(crota.pixToSkyOne(100, 200), [10, 40]);
});

test('programmatic constructors: TAN, SIP and TPV; CRPIX maps to CRVAL; scale, footprint', () => {
  const s = 0.263 / 3600;
  const tan = Wcs.tan({ crval: [150, 2], crpix: [1024.5, 2048.5], cd: [[-s, 0], [0, s]], naxis: [2048, 4096] });
  assert.deepEqual(tan.pixToSkyOne(1024.5, 2048.5), [150, 2]);
  // A cut-out starting at pixel (101, 51): its (1, 1) is the parent's (101, 51).
  assert.deepEqual(tan.shifted(100, 50).pixToSkyOne(1, 1), tan.pixToSkyOne(101, 51));
  assert.ok(Math.abs(tan.pixelScaleArcsec() - 0.263) < 1e-9);
  const fp = tan.footprint();
  assert.equal(fp.corners.length, 4);
  assert.equal(fp.edgeMidpoints.length, 4);
  // East is left for a CD1_1 < 0 image: corner (0.5, 0.5) has the larger RA.
  assert.ok(fp.corners[0]![0] > fp.corners[1]![0]);
  assert.ok(Math.abs(fp.center[0] - 150) < 1e-9 && Math.abs(fp.center[1] - 2) < 1e-9);
  // width ≈ 2048 px · 0.263″
  const dRa = (fp.corners[0]![0] - fp.corners[1]![0]) * Math.cos((fp.corners[0]![1] * Math.PI) / 180) * 3600;
  assert.ok(Math.abs(dRa - 2048 * 0.263) < 0.01, `${dRa}`);

  const sip = Wcs.sip({ crval: [150, 2], crpix: [1024.5, 2048.5], cd: [-s, 0, 0, s], a: [[0, 0, 1e-6], [0, 2e-6], [0]], b: [[0, 0, -1e-6], [3e-6, 0], [1e-6]] });
  const u = 1000;
  const v = -500;
  const [ra, dec] = sip.pixToSkyOne(1024.5 + u, 2048.5 + v);
  const uu = u + 1e-6 * v * v + 2e-6 * u * v;
  const vv = v - 1e-6 * v * v + 3e-6 * u + 1e-6 * u * u;
  const [ra2, dec2] = tan.pixToSkyOne(1024.5 + uu, 2048.5 + vv);
  assert.ok(Math.abs(ra - ra2) < 1e-12 && Math.abs(dec - dec2) < 1e-12);

  // TPV with only the identity linear terms equals TAN; a radial r³ term moves points radially.
  const ident = Wcs.tpv({ crval: [150, 2], crpix: [1024.5, 2048.5], cd: [-s, 0, 0, s], pv1: [0, 1], pv2: [0, 1] });
  const q = ident.pixToSkyOne(10, 20);
  const q0 = tan.pixToSkyOne(10, 20);
  assert.ok(Math.abs(q[0] - q0[0]) < 1e-12 && Math.abs(q[1] - q0[1]) < 1e-12);
  const pv1 = new Array(12).fill(0);
  const pv2 = new Array(12).fill(0);
  pv1[1] = 1; pv2[1] = 1; pv1[11] = 0.05; pv2[11] = 0.05;
  const rad = Wcs.tpv({ crval: [150, 2], crpix: [1024.5, 2048.5], cd: [-s, 0, 0, s], pv1, pv2 });
  const [xi, eta] = [-s * (10 - 1024.5), s * (20 - 2048.5)];
  const r = Math.hypot(xi, eta);
  const [ex, ey] = tan.pixToSkyOne(10, 20);
  const [gx, gy] = Wcs.tan({ crval: [150, 2], crpix: [0, 0], cd: [1, 0, 0, 1] }).skyToPixOne(...rad.pixToSkyOne(10, 20));
  assert.ok(Math.abs(gx - (xi + 0.05 * r ** 3)) < 1e-13 && Math.abs(gy - (eta + 0.05 * r ** 3)) < 1e-13);
  assert.ok(Number.isFinite(ex) && Number.isFinite(ey));
});

test('bad headers give one clear TesseraError naming the keyword', () => {
  const base = "CRPIX1 = 1\nCRPIX2 = 1\nCRVAL1 = 0\nCRVAL2 = 0\nCD1_1 = 1e-4\nCD2_2 = 1e-4\n";
  const cases: [string, RegExp][] = [
    [base, /CTYPE1\/CTYPE2 missing/],
    [`${base}CTYPE1 = 'RA---ZPN'\nCTYPE2 = 'DEC--ZPN'\n`, /projection 'ZPN' is not supported/],
    [`${base}CTYPE1 = 'RA---TAN-TNX'\nCTYPE2 = 'DEC--TAN-TNX'\n`, /'-TNX' is not supported/],
    [`${base}CTYPE1 = 'DEC--TAN'\nCTYPE2 = 'RA---TAN'\n`, /swapped celestial axes/],
    [`${base}CTYPE1 = 'RA---TAN'\nCTYPE2 = 'DEC--SIN'\n`, /different projections/],
    [`${base}CTYPE1 = 'RA---TAN'\nCTYPE2 = 'DEC--TAN'\nRADESYS = 'FK4'\n`, /frame FK4/],
    [`${base}CTYPE1 = 'RA---TAN'\nCTYPE2 = 'DEC--TAN'\nEQUINOX = 1950.0\n`, /frame FK4/],
    [`${base}CTYPE1 = 'RA---TAN-SIP'\nCTYPE2 = 'DEC--TAN-SIP'\n`, /A_ORDER is missing/],
    [`${base}CTYPE1 = 'RA---TPV'\nCTYPE2 = 'DEC--TPV'\nPV1_5 = 0.01\n`, /TPV linear terms/],
    [`${base}CTYPE1 = 'RA---TPV'\nCTYPE2 = 'DEC--TPV'\nPV1_1 = 1\nPV2_1 = 1\nPV1_40 = 0.1\n`, /PV1_40: TPV has coefficients PV1_0\.\.PV1_39 only/],
    [`${base}CTYPE1 = 'RA---TAN'\nCTYPE2 = 'DEC--TAN'\nPV1_1 = 1\nPV2_1 = 1\nPV2_41 = 0.1\n`, /PV2_41: TPV has coefficients/],
    [`${base}CTYPE1 = 'RA---TAN'\nCTYPE2 = 'DEC--TAN'\nCRVAL1 = 'abc'\n`, /CRVAL1 should be a number/],
    ["CTYPE1 = 'RA---TAN'\nCTYPE2 = 'DEC--TAN'\nCD1_1 = 1\nCD1_2 = 2\nCD2_1 = 2\nCD2_2 = 4\n", /singular/],
    ["CTYPE1 = 'RA---TAN'\nCTYPE2 = 'DEC--TAN'\n", /no linear WCS part/],
    [`${base}CTYPE1 = 'RA---CAR'\nCTYPE2 = 'DEC--CAR'\nCRVAL2 = 60\nLONPOLE = 90\n`, /LONPOLE 90/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => Wcs.fromHeader(HeaderText.parse(text), 'f.fits[HDU 1]'), (e: unknown) => e instanceof TesseraError && re.test(e.message) && e.message.startsWith('f.fits[HDU 1]: '), text);
  }
});

test('points that do not project give NaN (TAN behind the plane, AIT outside the ellipse)', () => {
  const w = Wcs.tan({ crval: [0, 0], crpix: [0, 0], cd: [1, 0, 0, 1] });
  const p = w.skyToPixOne(180, 0);
  assert.ok(Number.isNaN(p[0]) && Number.isNaN(p[1]));
  const ait = new Wcs({ crval: [0, 0], crpix: [0, 0], cd: [1, 0, 0, 1], projection: 'AIT' });
  assert.ok(Number.isNaN(ait.pixToSkyOne(170, 80)[1]));
  assert.ok(Number.isFinite(ait.pixToSkyOne(100, 10)[1]));
});
