#!/usr/bin/env node
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';

// On one core (a batch slot of one CPU, or `taskset -c 0`), V8's background compiler threads only
// take turns with the main thread: compiling hot functions in place costs less (~0.2 s of CPU on a
// calibrate of one CCD). Set before any of our modules is loaded.
if (availableParallelism() === 1) {
  setFlagsFromString('--no-concurrent-recompilation');
  setFlagsFromString('--no-concurrent-osr');
}
const { runCli } = await import('../dist/src/cli/main.js');

// `tessera ... | head` closes our stdout early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

process.exitCode = await runCli(process.argv.slice(2));
