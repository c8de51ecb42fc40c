import type { CommandSpec } from '../args.js';
import { TESSERA_VERSION } from '../../util/version.js';

export const commands: CommandSpec[] = [
  {
    name: 'version',
    summary: 'print the Tessera version',
    usage: '',
    run(_args, io) {
      io.stdout.write(`tessera ${TESSERA_VERSION}\n`);
    },
  },
];
