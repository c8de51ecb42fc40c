import { UsageError } from '../util/errors.js';

/** One option of a command: `--name VALUE` (string), `--name` (boolean), optionally `-x`. */
export interface OptionSpec {
  name: string;
  short?: string;
  type: 'string' | 'boolean';
  /** May be given more than once; values are collected in order. */
  multiple?: boolean;
  description: string;
  default?: string | boolean;
  valueName?: string;
}

export interface CommandSpec {
  /** e.g. "fits info" */
  name: string;
  summary: string;
  /** e.g. "FILE [OUT]" */
  usage: string;
  options?: OptionSpec[];
  /** Longer text printed by --help after the options. */
  details?: string;
  run(args: ParsedArgs, io: CommandIO): Promise<number | void> | number | void;
}

export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
}

export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | boolean | string[] | undefined>;
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/**
 * Parse argv against a command's options. Our own parser (not util.parseArgs) because
 * astronomers type negative numbers as positionals (`tessera sky brick 10.5 -30.2`).
 */
export function parseCommandArgs(argv: readonly string[], spec: CommandSpec): ParsedArgs {
  const opts = spec.options ?? [];
  const byName = new Map(opts.map((o) => [o.name, o]));
  const byShort = new Map(opts.filter((o) => o.short).map((o) => [o.short!, o]));
  const options: ParsedArgs['options'] = {};
  const positionals: string[] = [];
  for (const o of opts) if (o.default !== undefined) options[o.name] = o.default;

  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let opt: OptionSpec | undefined;
    let inline: string | undefined;
    if (tok.startsWith('--')) {
      const eq = tok.indexOf('=');
      const name = eq >= 0 ? tok.slice(2, eq) : tok.slice(2);
      inline = eq >= 0 ? tok.slice(eq + 1) : undefined;
      opt = byName.get(name);
      if (!opt) throw new UsageError(`${spec.name}: unknown option --${name} (see --help)`);
    } else if (tok.startsWith('-') && tok.length > 1 && !NUMBER.test(tok)) {
      opt = byShort.get(tok.slice(1));
      if (!opt) throw new UsageError(`${spec.name}: unknown option ${tok} (see --help)`);
    } else {
      positionals.push(tok);
      continue;
    }
    let value: string | boolean;
    if (opt.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`${spec.name}: option --${opt.name} takes no value`);
      value = true;
    } else if (inline !== undefined) {
      value = inline;
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`${spec.name}: option --${opt.name} needs a value`);
      value = next;
      i++;
    }
    if (opt.multiple) {
      const prev = options[opt.name];
      options[opt.name] = [...(Array.isArray(prev) ? prev : []), String(value)];
    } else {
      options[opt.name] = value;
    }
  }
  return { positionals, options };
}

export function formatHelp(spec: CommandSpec): string {
  const lines = [`tessera ${spec.name} — ${spec.summary}`, '', `usage: tessera ${spec.name} ${spec.usage}`.trimEnd()];
  const opts = spec.options ?? [];
  if (opts.length) {
    lines.push('', 'options:');
    for (const o of opts) {
      const flag = `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.type === 'string' ? ` ${o.valueName ?? 'VALUE'}` : ''}`;
      const def = o.default !== undefined && o.default !== false ? ` (default: ${o.default})` : '';
      lines.push(`  ${flag.padEnd(28)} ${o.description}${def}`);
    }
  }
  lines.push(`  ${'-h, --help'.padEnd(28)} show this help`);
  if (spec.details) lines.push('', spec.details.trim());
  return lines.join('\n') + '\n';
}

/* Typed accessors, each failing with a usage error that names the option. */

export function stringOpt(args: ParsedArgs, name: string): string | undefined {
  const v = args.options[name];
  if (v === undefined || typeof v === 'boolean') return undefined;
  return Array.isArray(v) ? v[v.length - 1] : v;
}

export function numberOpt(args: ParsedArgs, name: string): number | undefined {
  const s = stringOpt(args, name);
  if (s === undefined) return undefined;
  const v = Number(s);
  if (!Number.isFinite(v)) throw new UsageError(`--${name}: expected a number, got '${s}'`);
  return v;
}

export function intOpt(args: ParsedArgs, name: string): number | undefined {
  const v = numberOpt(args, name);
  if (v !== undefined && !Number.isInteger(v)) throw new UsageError(`--${name}: expected an integer, got '${v}'`);
  return v;
}

export function boolOpt(args: ParsedArgs, name: string): boolean {
  return args.options[name] === true;
}

export function listOpt(args: ParsedArgs, name: string): string[] | undefined {
  const v = args.options[name];
  if (v === undefined || typeof v === 'boolean') return undefined;
  const all = Array.isArray(v) ? v : [v];
  return all.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
}

export function numberList(args: ParsedArgs, name: string): number[] | undefined {
  return listOpt(args, name)?.map((s) => {
    const v = Number(s);
    if (!Number.isFinite(v)) throw new UsageError(`--${name}: expected numbers, got '${s}'`);
    return v;
  });
}

export function positional(args: ParsedArgs, index: number, what: string, command: string): string {
  const v = args.positionals[index];
  if (v === undefined) throw new UsageError(`${command}: missing ${what} (see --help)`);
  return v;
}

export function positionalNumber(args: ParsedArgs, index: number, what: string, command: string): number {
  const s = positional(args, index, what, command);
  const v = Number(s);
  if (!Number.isFinite(v)) throw new UsageError(`${command}: ${what} must be a number, got '${s}'`);
  return v;
}
