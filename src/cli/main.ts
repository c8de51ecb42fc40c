import { formatHelp, parseCommandArgs, type CommandIO, type CommandSpec } from './args.js';
import { rooms } from './registry.js';
import { TesseraError, UsageError } from '../util/errors.js';

async function loadAll(): Promise<CommandSpec[]> {
  const all: CommandSpec[] = [];
  for (const load of Object.values(rooms)) all.push(...(await load()).commands);
  return all;
}

/** Longest command whose words prefix argv ("queue status" before "queue"). */
function findCommand(all: CommandSpec[], argv: readonly string[]): { spec: CommandSpec; rest: string[] } | undefined {
  let best: { spec: CommandSpec; rest: string[] } | undefined;
  for (const spec of all) {
    const words = spec.name.split(' ');
    if (words.every((w, i) => argv[i] === w) && (!best || words.length > best.spec.name.split(' ').length)) {
      best = { spec, rest: argv.slice(words.length) };
    }
  }
  return best;
}

function overview(all: CommandSpec[]): string {
  const lines = ['tessera — survey image processing', '', 'usage: tessera COMMAND [ARGS] (tessera COMMAND --help for each)', '', 'commands:'];
  for (const c of [...all].sort((a, b) => a.name.localeCompare(b.name))) lines.push(`  ${c.name.padEnd(22)} ${c.summary}`);
  return lines.join('\n') + '\n';
}

/** Messages often start with the command's own name ("sky brick: missing RA"); say it once. */
function withoutPrefix(message: string, name: string): string {
  for (const prefix of [`tessera ${name}: `, `${name}: `]) if (message.startsWith(prefix)) return message.slice(prefix.length);
  return message;
}

/** Run one command line; returns the exit code (0 ok, 1 failure, 2 usage error). */
export async function runCli(argv: readonly string[], io: CommandIO = process): Promise<number> {
  let all: CommandSpec[];
  const first = argv[0];
  // Load only the room named by the first word when it is one; everything for help.
  if (first && rooms[first]) all = (await rooms[first]!()).commands;
  else all = await loadAll();
  if (argv.length === 0 || first === '--help' || first === '-h' || first === 'help') {
    io.stdout.write(overview(argv.length === 0 || first !== 'help' ? all : await loadAll()));
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(all, argv);
  if (!found) {
    const group = all.filter((c) => c.name.split(' ')[0] === first);
    if (group.length) {
      const asksHelp = argv[1] === '--help' || argv[1] === '-h' || argv[1] === 'help';
      const lines = [`tessera ${first} — commands:`, ...group.map((c) => `  ${c.name.padEnd(22)} ${c.summary}`), '', `tessera ${first} SUBCOMMAND --help describes one.`];
      if (asksHelp) {
        io.stdout.write(lines.join('\n') + '\n');
        return 0;
      }
      io.stderr.write(`tessera ${first}: ${argv[1] === undefined ? 'missing subcommand' : `unknown subcommand '${argv[1]}'`}\n${lines.join('\n')}\n`);
    } else {
      io.stderr.write(`tessera: unknown command '${first}' (see tessera --help)\n`);
    }
    return 2;
  }
  const { spec, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(formatHelp(spec));
    return 0;
  }
  try {
    const args = parseCommandArgs(rest, spec);
    const code = await spec.run(args, io);
    return typeof code === 'number' ? code : 0;
  } catch (e) {
    if (e instanceof TesseraError) {
      io.stderr.write(`tessera ${spec.name}: ${withoutPrefix(e.message, spec.name)}\n`);
      return e instanceof UsageError ? 2 : 1;
    }
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && err.path) {
      // Filesystem errors are the user's (missing file, permissions): one line, no stack.
      io.stderr.write(`tessera ${spec.name}: ${err.path}: ${err.message.replace(/^[A-Z]+: /, '')}\n`);
      return 1;
    }
    io.stderr.write(`tessera ${spec.name}: internal error: ${err?.stack ?? String(e)}\n`);
    return 1;
  }
}
