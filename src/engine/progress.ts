import type { CountRow } from './types.js';
import { formatDuration } from './duration.js';

interface KindProgress {
  kind: string;
  total: number;
  done: number;
  running: number;
  failed: number;
  waiting: number;
  pending: number;
  cancelled: number;
}

/** Fold count rows into per-kind totals (optionally only some kinds). */
export function perKind(rows: readonly CountRow[], kinds?: readonly string[]): KindProgress[] {
  const m = new Map<string, KindProgress>();
  for (const r of rows) {
    if (kinds && kinds.length && !kinds.includes(r.kind)) continue;
    let k = m.get(r.kind);
    if (!k) m.set(r.kind, (k = { kind: r.kind, total: 0, done: 0, running: 0, failed: 0, waiting: 0, pending: 0, cancelled: 0 }));
    k.total += r.n;
    if (r.state === 'SUCCEEDED') k.done += r.n;
    else if (r.state === 'RUNNING') k.running += r.n;
    else if (r.state === 'FAILED') k.failed += r.n;
    else if (r.state === 'WAITING') k.waiting += r.n;
    else if (r.state === 'PENDING') k.pending += r.n;
    else k.cancelled += r.n;
  }
  return [...m.values()].sort((a, b) => a.kind.localeCompare(b.kind));
}

/**
 * Progress of a campaign on a stream: per kind done/running/failed of total, rate (tasks/s over
 * the last minute) and ETA. On a TTY the table is redrawn in place; otherwise plain lines.
 */
export class ProgressDisplay {
  private history: { t: number; done: Map<string, number> }[] = [];
  private lastLines = 0;
  private lastPlain = 0;

  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean }, private readonly plainEverySeconds = 10) {}

  render(rows: readonly CountRow[], kinds?: readonly string[], final = false): string[] {
    const t = Date.now() / 1000;
    const ks = perKind(rows, kinds);
    this.history.push({ t, done: new Map(ks.map((k) => [k.kind, k.done + k.failed])) });
    while (this.history.length > 2 && t - this.history[0]!.t > 60) this.history.shift();
    const first = this.history[0]!;
    const dt = t - first.t;
    const lines: string[] = [];
    let allDone = 0;
    let allTotal = 0;
    for (const k of ks) {
      const finished = k.done + k.failed;
      const rate = dt > 0 ? (finished - (first.done.get(k.kind) ?? 0)) / dt : 0;
      const left = k.total - finished - k.cancelled;
      const eta = left === 0 ? 'done' : rate > 0 ? `ETA ${formatDuration(left / rate)}` : 'ETA --';
      allDone += finished;
      allTotal += k.total - k.cancelled;
      lines.push(
        `${k.kind.padEnd(14)} ${String(k.done).padStart(8)}/${String(k.total).padEnd(8)} running ${String(k.running).padStart(4)}  failed ${String(k.failed).padStart(5)}  waiting ${String(k.waiting).padStart(7)}  ${rate.toFixed(1).padStart(8)}/s  ${eta}`,
      );
    }
    const pct = allTotal ? ((100 * allDone) / allTotal).toFixed(1) : '100.0';
    lines.unshift(`[tessera] ${new Date().toISOString().slice(11, 19)}  ${allDone}/${allTotal} finished (${pct}%)`);
    if (this.out.isTTY && !final) {
      if (this.lastLines) this.out.write(`\x1b[${this.lastLines}A\x1b[J`);
      this.out.write(lines.join('\n') + '\n');
      this.lastLines = lines.length;
    } else if (final || t - this.lastPlain >= this.plainEverySeconds) {
      if (this.out.isTTY && this.lastLines) this.out.write(`\x1b[${this.lastLines}A\x1b[J`);
      this.lastLines = 0;
      this.lastPlain = t;
      this.out.write(lines.join('\n') + '\n');
    }
    return lines;
  }
}
