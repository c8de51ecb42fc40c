/**
 * The end-to-end demo (tessera demo --size small): wall time per CCD-epoch of the transient
 * campaign and the time per stage, read from the task store's timings.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { BenchModule } from './harness.js';
import { runDemo } from '../src/pipeline/transient/demo.js';
import { DEMO_SIZES } from '../src/pipeline/transient/config.js';

export default {
  name: 'demo',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-demo-'));
    const workers = Math.min(2, cpus().length);
    const sink = new PassThrough();
    sink.resume();
    let r;
    try {
      r = await runDemo({ dir: join(dir, 'demo'), size: 'small', workers, seed: 1, quiet: true }, { stdout: sink, stderr: sink });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const s = DEMO_SIZES.small;
    const run = r.phases.run ?? NaN;
    const nSearch = s.nccd * s.searchEpochs;
    const rows = [
      '| stage | tasks | mean time per task | sum of task times | wall span (first start → last finish) |',
      '|---|---|---|---|---|',
      ...r.timings.map((k) => `| ${k.kind} | ${k.succeeded}/${k.tasks} | ${(k.taskSeconds / Math.max(1, k.tasks)).toFixed(2)} s | ${k.taskSeconds.toFixed(1)} s | ${k.spanSeconds.toFixed(1)} s |`),
    ];
    const ev = r.evaluation;
    const body = [
      `\`tessera demo --size small --workers ${workers}\`: ${s.nccd} CCDs of ${s.width}×${s.height}, ${s.templateEpochs} template + ${s.searchEpochs} search epochs (${r.ccdEpochs} CCD-epochs, ${nSearch} of them searched), ${s.transients} simulated transients; ${workers} worker processes on the local engine (SQLite).`,
      '',
      `| phase | wall time |`,
      `|---|---|`,
      ...Object.entries(r.phases).map(([k, v]) => `| ${k} | ${v.toFixed(1)} s |`),
      `| **campaign per CCD-epoch** (run ÷ ${r.ccdEpochs}) | **${(run / r.ccdEpochs).toFixed(2)} s** |`,
      '',
      ...rows,
      '',
      ev
        ? `Against truth: ${ev.brightRecovered}/${ev.bright} transients brighter than the 5σ depth recovered as diaObjects, ${ev.falseCandidates} false candidates of ${ev.candidates}, forced flux/truth median ${ev.fluxRatioMedian.toFixed(3)}, pulls median ${ev.pullMedian.toFixed(2)} width ${ev.pullWidth.toFixed(2)} (${ev.pulls.length} measurements), ${ev.duplicateObjects} duplicate diaObjects across patches.`
        : `The campaign had ${r.failed} failed task(s).`,
    ].join('\n');
    return [{ title: 'End-to-end demo (tessera demo --size small)', body }];
  },
} satisfies BenchModule;
