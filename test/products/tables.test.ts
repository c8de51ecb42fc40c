import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { associate } from '../../src/assoc/associate.js';
import { patchRegion } from '../../src/assoc/region.js';
import { productLayout } from '../../src/products/layout.js';
import { mergeFitsToParquet } from '../../src/products/parquet.js';
import { diaObjectTable, diaSourceTable, readTableFits, writeTableFits, column } from '../../src/products/tables.js';
import { cli, tempDir } from '../helpers.js';
import { simulateStream } from '../assoc/synth.js';

const TRACT = 4849;
const sim = simulateStream({ seed: 21, tract: TRACT, x0: 23500, x1: 24500, y0: 23500, y1: 24500, nObjects: 300, epochs: 6, sigmaArcsec: 0.05, pDet: 0.9, spurious: 20, bands: ['g', 'r', 'i'] });
const regions = [[5, 5], [6, 5], [5, 6], [6, 6]].map(([x, y]) => patchRegion(TRACT, x!, y!));

function writeCampaign(root: string): void {
  const L = productLayout(root);
  for (const region of regions) {
    const r = associate(sim.sources, region);
    writeTableFits(L.diaObjectFits(region), diaObjectTable(r.objects, region.name), { REGION: region.name });
    writeTableFits(L.diaSourceFits(region), diaSourceTable(r), { REGION: region.name });
  }
  mergeFitsToParquet('diaObject', regions.map((g) => L.diaObjectFits(g)), L.table('diaObject'));
  mergeFitsToParquet('diaSource', regions.map((g) => L.diaSourceFits(g)), L.table('diaSource'));
}

test('tables: FITS per region round-trip, byte-identical rerun, Parquet merged and queried with DuckDB', async () => {
  const a = tempDir(), b = tempDir();
  writeCampaign(a);
  writeCampaign(b);
  const L = productLayout(a), M = productLayout(b);
  for (const g of regions) {
    assert.ok(readFileSync(L.diaObjectFits(g)).equals(readFileSync(M.diaObjectFits(g))), 'diaObject FITS byte-identical on rerun');
    assert.ok(readFileSync(L.diaSourceFits(g)).equals(readFileSync(M.diaSourceFits(g))));
  }
  assert.ok(readFileSync(L.table('diaObject')).equals(readFileSync(M.table('diaObject'))), 'Parquet byte-identical on rerun');
  // FITS round trip
  const r0 = associate(sim.sources, regions[0]!);
  const t = readTableFits(L.diaObjectFits(regions[0]!));
  assert.equal(t.name, 'diaObject');
  assert.equal(t.nrows, r0.objects.n);
  assert.deepEqual(column(t, 'diaObjectId'), r0.objects.diaObjectId);
  assert.deepEqual(column(t, 'g_psfFluxMean'), r0.objects.bandStats.get('g')!.mean);
  assert.deepEqual(column(t, 'region'), new Array(r0.objects.n).fill(regions[0]!.name));

  const total = regions.reduce((s, g) => s + associate(sim.sources, g).objects.n, 0);
  let q = await cli(['query', a, 'SELECT count(*) AS n, count(DISTINCT diaObjectId) AS u FROM diaObject']);
  assert.equal(q.code, 0, q.stderr);
  assert.match(q.stdout, new RegExp(`^\\s*n\\s+u\\n[- ]+\\n\\s*${total}\\s+${total}\\n\\(1 row\\)`));
  q = await cli(['query', a, 'SELECT s.diaObjectId, count(*) AS k, any_value(o.nDiaSources) AS nd FROM diaSource s JOIN diaObject o USING (diaObjectId) GROUP BY 1 HAVING k <> nd', '--json']);
  assert.equal(q.code, 0, q.stderr);
  assert.deepEqual(JSON.parse(q.stdout), [], 'every object has as many diaSources as nDiaSources');
  q = await cli(['query', a, "SELECT diaObjectId, ra, g_psfFluxMean FROM diaObject ORDER BY diaObjectId LIMIT 2", '--csv']);
  const lines = q.stdout.trim().split('\n');
  assert.equal(lines[0], 'diaObjectId,ra,g_psfFluxMean');
  assert.equal(lines.length, 3);
  const sorted = [...column(t, 'diaObjectId') as Float64Array].sort((x, y) => x - y);
  assert.equal(Number(lines[1]!.split(',')[0]), Math.min(sorted[0]!, ...regions.slice(1).map((g) => associate(sim.sources, g).objects.diaObjectId[0]!)));
  // NaN is NULL in Parquet: objects never seen in i have NULL i_psfFluxMean, and i_nDiaSources = 0
  q = await cli(['query', a, 'SELECT count(*) FROM diaObject WHERE i_psfFluxMean IS NULL AND i_nDiaSources <> 0', '--json']);
  assert.deepEqual(Object.values(JSON.parse(q.stdout)[0]), [0]);
  // errors: bad SQL, no tables
  q = await cli(['query', a, 'SELECT nope FROM diaObject']);
  assert.equal(q.code, 1);
  assert.match(q.stderr, /query failed.*nope/);
  q = await cli(['query', tempDir(), 'SELECT 1']);
  assert.equal(q.code, 1);
  assert.match(q.stderr, /no campaign tables/);
  assert.equal((await cli(['query', a])).code, 2);
  assert.ok(join(a, 'tables', 'diaObject.parquet') === L.table('diaObject'));
});
