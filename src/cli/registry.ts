import { readdirSync } from 'node:fs';
import type { CommandSpec } from './args.js';

/**
 * Every room of the command line is one module in ./commands/, named for the command's first
 * word (`commands/fits.ts` holds `fits info`, `fits header`, ...), exporting
 * `commands: CommandSpec[]`. Rooms are found by listing the folder and loaded lazily, so
 * `tessera fits info` never loads the database drivers, and adding a room touches no shared file.
 */
const dir = new URL('./commands/', import.meta.url);

export const rooms: Record<string, () => Promise<{ commands: CommandSpec[] }>> = Object.fromEntries(
  readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => [f.slice(0, -3), () => import(new URL(f, dir).href) as Promise<{ commands: CommandSpec[] }>]),
);
