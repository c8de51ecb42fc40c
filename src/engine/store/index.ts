export { openStore, type OpenOptions } from './open.js';
export { SqliteTaskStore } from './sqlite.js';
export { PgTaskStore, parsePgUrl } from './postgres.js';
export { ENGINE_SCHEMA_VERSION } from './schema.js';
export { rowToTask, checkState } from './base.js';
