/**
 * A `tessera worker` process that knows the transient campaign's task kinds: registers them
 * (./stages.ts), then runs the ordinary worker command with the given arguments.
 *   node dist/src/pipeline/transient/worker-main.js REPO [worker options]
 */
import './stages.js';
import { runCli } from '../../cli/main.js';

process.exitCode = await runCli(['worker', ...process.argv.slice(2)]);
