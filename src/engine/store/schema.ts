/**
 * The engine's schema, in the two SQL dialects. Version 1. A repository written by a newer
 * Tessera (a higher version in `tessera_schema`) is refused with a clear error.
 */
export const ENGINE_SCHEMA_VERSION = 1;

const common = (id: string, real: string) => `
CREATE TABLE IF NOT EXISTS queues (
  name TEXT PRIMARY KEY,
  paused INTEGER NOT NULL DEFAULT 0,
  created ${real} NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
  id ${id},
  queue TEXT NOT NULL,
  key TEXT NOT NULL,
  kind TEXT NOT NULL,
  params TEXT,
  priority INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL,
  unmet INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  not_before ${real} NOT NULL DEFAULT 0,
  expected_seconds ${real},
  lease_id INTEGER NOT NULL DEFAULT 0,
  lease_expires ${real},
  worker TEXT,
  host TEXT,
  created ${real} NOT NULL,
  started ${real},
  finished ${real},
  seconds ${real},
  exit_code INTEGER,
  signal TEXT,
  error TEXT,
  peak_rss_mb ${real},
  result TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS tasks_key ON tasks(queue, key);
CREATE INDEX IF NOT EXISTS tasks_pending ON tasks(queue, priority DESC, id) WHERE state = 'PENDING';
CREATE INDEX IF NOT EXISTS tasks_running ON tasks(lease_expires) WHERE state = 'RUNNING';
`;

export const SQLITE_SCHEMA = `
CREATE TABLE IF NOT EXISTS tessera_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL);
${common('INTEGER PRIMARY KEY', 'REAL')}
CREATE TABLE IF NOT EXISTS deps (
  dep_id INTEGER NOT NULL,
  task_id INTEGER NOT NULL,
  PRIMARY KEY (dep_id, task_id)
) WITHOUT ROWID;
-- Live counts per (queue, kind, state), kept by triggers in the same transaction as the change.
CREATE TABLE IF NOT EXISTS task_counts (
  queue TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (queue, kind, state)
);
CREATE TRIGGER IF NOT EXISTS tasks_count_update AFTER UPDATE OF state ON tasks
WHEN old.state <> new.state BEGIN
  INSERT INTO task_counts (queue, kind, state, n) VALUES (old.queue, old.kind, old.state, -1)
    ON CONFLICT (queue, kind, state) DO UPDATE SET n = n - 1;
  INSERT INTO task_counts (queue, kind, state, n) VALUES (new.queue, new.kind, new.state, 1)
    ON CONFLICT (queue, kind, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS tasks_count_delete AFTER DELETE ON tasks BEGIN
  UPDATE task_counts SET n = n - 1 WHERE queue = old.queue AND kind = old.kind AND state = old.state;
END;
`;

export const PG_SCHEMA = `
CREATE TABLE IF NOT EXISTS tessera_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL);
${common('SERIAL PRIMARY KEY', 'DOUBLE PRECISION')}
CREATE TABLE IF NOT EXISTS deps (
  dep_id INTEGER NOT NULL,
  task_id INTEGER NOT NULL,
  PRIMARY KEY (dep_id, task_id)
);
-- Count deltas per (queue, kind, state), appended by statement triggers (no hot rows, so
-- concurrent workers never wait on each other here); summed by counts() and compacted there.
CREATE TABLE IF NOT EXISTS task_counts (
  queue TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL
);
CREATE OR REPLACE FUNCTION tessera_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO task_counts (queue, kind, state, n)
  SELECT queue, kind, state, sum(d)::int FROM (
    SELECT queue, kind, state, -1 AS d FROM old_rows
    UNION ALL SELECT queue, kind, state, 1 AS d FROM new_rows) x
  GROUP BY queue, kind, state HAVING sum(d) <> 0;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION tessera_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO task_counts (queue, kind, state, n)
  SELECT queue, kind, state, -count(*)::int FROM old_rows GROUP BY queue, kind, state;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS tasks_count_update ON tasks;
CREATE TRIGGER tasks_count_update AFTER UPDATE ON tasks
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tessera_counts_update();
DROP TRIGGER IF EXISTS tasks_count_delete ON tasks;
CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tessera_counts_delete();
`;
