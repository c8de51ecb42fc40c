/** The campaign engine: durable task store, workers, launchers. Knows nothing of astronomy. */
export * from './types.js';
export * from './store/index.js';
export { Worker, stopOnSignals, type Executor, type TaskContext, type WorkerOptions, type WorkerSummary } from './worker.js';
export { runCommand, taskLogPath, COMMAND_KIND, type CommandParams } from './command.js';
export { afterFailure, backoffSeconds, isScienceFailure } from './retry.js';
export { parseDuration, formatDuration } from './duration.js';
export { slurmScript, sbatchSubmit, type SlurmLaunch } from './slurm.js';
export { ProgressDisplay, perKind } from './progress.js';
