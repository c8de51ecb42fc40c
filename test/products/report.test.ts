import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { inflateSync } from 'node:zlib';
import { associateRegionToFiles, forcedToFile, mergeCampaign, readDiaSrcFits, readDiffExposure, readObjectPositions } from '../../src/pipeline/transient/assoc-stage.js';
import { datasetPath } from '../../src/pipeline/layout.js';
import { crc32 } from '../../src/products/png.js';
import { productLayout } from '../../src/products/layout.js';
import { separationDeg } from '../../src/sky/sphere.js';
import { cli, tempDir } from '../helpers.js';
import { NMGY, ZP, writeCampaign } from './campaign.js';

/** Minimal PNG decoder check: signature, chunk CRCs, IHDR, inflate, filter bytes; returns RGB/grey rows unfiltered. */
function decodePng(buf: Uint8Array): { width: number; height: number; channels: number; pixels: Uint8Array } {
  assert.deepEqual([...buf.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let o = 8, width = 0, height = 0, channels = 0;
  const idat: Uint8Array[] = [];
  let end = false;
  while (o < buf.length) {
    const len = dv.getUint32(o), type = String.fromCharCode(...buf.subarray(o + 4, o + 8));
    assert.equal(dv.getUint32(o + 8 + len), crc32(buf, o + 4, o + 8 + len), `CRC of ${type}`);
    if (type === 'IHDR') { width = dv.getUint32(o + 8); height = dv.getUint32(o + 12); assert.equal(buf[o + 16], 8); channels = ({ 0: 1, 2: 3, 6: 4 } as Record<number, number>)[buf[o + 17]!]!; }
    if (type === 'IDAT') idat.push(buf.subarray(o + 8, o + 8 + len));
    if (type === 'IEND') end = true;
    o += 12 + len;
  }
  assert.ok(end && width > 0 && channels > 0);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  assert.equal(raw.length, height * (stride + 1));
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    assert.ok(f === 0 || f === 1, `filter ${f}`);
    for (let i = 0; i < stride; i++) {
      const v = raw[y * (stride + 1) + 1 + i]!;
      px[y * stride + i] = f === 1 && i >= channels ? (v + px[y * stride + i - channels]!) & 0xff : v;
    }
  }
  return { width, height, channels, pixels: px };
}

test('campaign: associate + forced + merge + report + lightcurve on a simulated campaign with truth', async () => {
  const root = tempDir();
  const c = writeCampaign(root);
  const L = productLayout(root);
  const tables = c.epochs.map((ep) => readDiaSrcFits(datasetPath(root, 'diaSrc', ep), { ...ep, zeroPoint: ZP }));
  const assoc = associateRegionToFiles(L, c.region, tables);
  // each truth object is one diaObject
  const truthObj = c.truth.map((t) => {
    let best = -1, bd = Infinity;
    for (let k = 0; k < assoc.objects.n; k++) { const d = separationDeg(t.ra, t.dec, assoc.objects.ra[k]!, assoc.objects.dec[k]!) * 3600; if (d < bd) { bd = d; best = k; } }
    assert.ok(bd < 0.2, `${t.name} recovered (${bd}″)`);
    return assoc.objects.diaObjectId[best]!;
  });
  assert.equal(new Set(truthObj).size, c.truth.length);
  const objs = readObjectPositions([L.diaObjectFits(c.region)]);
  assert.equal(objs.n, assoc.objects.n);
  const pulls: number[] = [];
  for (const [e, ep] of c.epochs.entries()) {
    const exp = readDiffExposure(datasetPath(root, 'diff', ep));
    const f = forcedToFile(L, exp, objs, { imageType: 'diff', mjd: ep.mjd, band: ep.band, expnum: ep.expnum, ccd: ep.ccd });
    assert.equal(f.n, objs.n, 'every diaObject measured on every image covering it, detected or not');
    for (const [k, t] of c.truth.entries()) {
      const j = [...f.diaObjectId].indexOf(truthObj[k]!);
      pulls.push((f.psfFlux[j]! - t.flux(e) * NMGY) / f.psfFluxErr[j]!);
    }
  }
  const m = pulls.reduce((a, b) => a + b, 0) / pulls.length;
  const sd = Math.sqrt(pulls.reduce((a, b) => a + (b - m) ** 2, 0) / (pulls.length - 1));
  assert.ok(Math.abs(m) < 0.3 && Math.abs(sd - 1) < 0.25, `pulls mean ${m} sd ${sd} (n=${pulls.length}; forced at the associated mean position)`);
  const counts = mergeCampaign(root);
  assert.equal(counts.diaObject, assoc.objects.n);
  assert.equal(counts.forcedSource, assoc.objects.n * c.epochs.length);
  // QA tables from the calexp and diff headers
  const qa = await cli(['query', root, 'SELECT c.expnum, c.depth, c.ksum, c.nDiaSources, e.nCcd FROM ccd c JOIN exposure e USING (expnum) ORDER BY c.expnum', '--json']);
  assert.equal(qa.code, 0, qa.stderr);
  const qrows = JSON.parse(qa.stdout) as { expnum: number; depth: number; ksum: number; nDiaSources: number; nCcd: number }[];
  assert.equal(qrows.length, c.epochs.length);
  assert.deepEqual(qrows.map((r) => r.expnum), c.epochs.map((e) => e.expnum));
  assert.ok(qrows.every((r, e) => Math.abs(r.depth - (23.5 - 0.1 * e)) < 1e-9 && r.ksum === 1 && r.nCcd === 1 && r.nDiaSources === tables[e]!.n));

  // report: the transients are candidates; spurious single detections are not
  const out = join(root, 'r.html');
  const rep = await cli(['report', root, '-o', out]);
  assert.equal(rep.code, 0, rep.stderr);
  const html = readFileSync(out, 'utf8');
  const cands = JSON.parse(readFileSync(L.candidates('json'), 'utf8')) as { diaObjectId: number; trend: string; host: string; nDetections: number }[];
  const ids = new Set(cands.map((x) => x.diaObjectId));
  for (const [k, t] of c.truth.entries()) {
    if (t.kind !== 'transient') continue;
    assert.ok(ids.has(truthObj[k]!), `${t.name} is a candidate`);
    assert.ok(html.includes(`id="obj${truthObj[k]}"`), `${t.name} has a section in the report`);
    const cand = cands.find((x) => x.diaObjectId === truthObj[k])!;
    assert.equal(cand.host, 'hostless');
    assert.ok(['rise-fade', 'fading', 'rising'].includes(cand.trend), `${t.name} trend ${cand.trend}`);
  }
  for (const [k, t] of c.truth.entries()) if (t.kind === 'variable' && ids.has(truthObj[k]!)) assert.equal(cands.find((x) => x.diaObjectId === truthObj[k])!.host, 'nuclear');
  const spuriousIds = assoc.objects.diaObjectId.filter((_, k) => !truthObj.includes(assoc.objects.diaObjectId[k]!));
  for (const id of spuriousIds) assert.ok(!ids.has(id), 'spurious detection is not a candidate');
  const uris = html.match(/data:image\/png;base64,[A-Za-z0-9+/=]+/g) ?? [];
  assert.ok(uris.length >= 3 * 6, `stamps inline (${uris.length})`);
  const st = decodePng(Buffer.from(uris[0]!.split(',')[1]!, 'base64'));
  assert.equal(st.width, 153); assert.equal(st.channels, 1);
  assert.ok(html.includes('<svg'));
  assert.ok(html.includes('<h2>Exposures</h2>') && html.includes(`<td>${c.epochs[0]!.expnum}</td>`), 'exposure QA table in the report');
  assert.match(readFileSync(L.candidates('csv'), 'utf8'), /^rank,diaObjectId,ra,dec,score/);

  // lightcurve: table, CSV and PNG
  const id = truthObj[3]!;
  const png = join(root, 'lc.png');
  let lc = await cli(['lightcurve', root, String(id), '--png', png, '--csv']);
  assert.equal(lc.code, 0, lc.stderr);
  const lines = lc.stdout.trim().split('\n');
  assert.equal(lines.length, 1 + c.epochs.length);
  assert.ok(lines.slice(1).some((l) => l.endsWith(',1')), 'detected epochs marked');
  const img = decodePng(readFileSync(png));
  assert.equal(img.channels, 3);
  assert.ok(img.width >= 600 && img.height >= 300);
  let coloured = 0;
  for (let i = 0; i < img.pixels.length; i += 3) if (img.pixels[i] !== img.pixels[i + 1] || img.pixels[i + 1] !== img.pixels[i + 2]) coloured++;
  assert.ok(coloured > 200, 'band-coloured points drawn');
  lc = await cli(['lightcurve', root, String(id)]);
  assert.match(lc.stdout, new RegExp(`^diaObject ${id}`));
  lc = await cli(['lightcurve', root, '12345']);
  assert.equal(lc.code, 1);
  assert.match(lc.stderr, /no diaObject 12345/);
  assert.equal((await cli(['lightcurve', root, 'abc'])).code, 2);
});
