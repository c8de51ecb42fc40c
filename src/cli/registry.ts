import type { CommandSpec } from './args.js';

/**
 * Every room of the command line, loaded lazily so that `tessera fits info` does not pay for
 * loading the database drivers. Each module exports `commands: CommandSpec[]`.
 * To add a room: one line here, one file beside this one.
 */
export const rooms: Record<string, () => Promise<{ commands: CommandSpec[] }>> = {
  version: () => import('./version.js'),
};
