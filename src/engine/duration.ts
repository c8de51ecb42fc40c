import { UsageError } from '../util/errors.js';

/** `HH:MM:SS`, `MM:SS`, `D-HH:MM:SS` (Slurm's forms) or plain seconds → seconds. */
export function parseDuration(s: string, what = 'walltime'): number {
  const t = s.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const m = /^(?:(\d+)-)?(\d+):(\d{1,2})(?::(\d{1,2}))?$/.exec(t);
  if (!m) throw new UsageError(`${what}: expected HH:MM:SS, D-HH:MM:SS or seconds, got '${s}'`);
  const days = Number(m[1] ?? 0);
  const [a, b, c] = [Number(m[2]), Number(m[3]), m[4] !== undefined ? Number(m[4]) : undefined];
  // HH:MM:SS, or MM:SS when only two fields (Slurm: "minutes:seconds").
  return days * 86400 + (c !== undefined ? a * 3600 + b * 60 + c : a * 60 + b);
}

/** Seconds → `HH:MM:SS` (hours may exceed 24). */
export function formatDuration(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}
