/** Child process for the multi-process claim test: claim+finish until empty, print the ids. */
import { openStore } from '../../src/engine/store/index.js';

const [url, worker, limit] = process.argv.slice(2) as [string, string, string];
const s = await openStore(url);
const ids: number[] = [];
for (;;) {
  const got = await s.claim({ worker, host: 'h', leaseSeconds: 60, limit: Number(limit) });
  if (!got.length) break;
  ids.push(...got.map((t) => t.id));
  await s.finish(got.map((t) => ({ id: t.id, leaseId: t.leaseId, outcome: { ok: true } })));
}
await s.close();
process.stdout.write(JSON.stringify(ids));
