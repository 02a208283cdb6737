/**
 * The coordinator's SQLite schema, versioned. `PRAGMA user_version` holds the version of the
 * schema a database file is at; MIGRATIONS[i] takes it from version i to i + 1, each in one
 * transaction, when the file is opened. A database newer than this code is refused rather than
 * guessed at. Times are integers, milliseconds since the epoch.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../lib/errors.js';
import { ACTIVE_STATES, RUN_STATES, TERMINAL_STATES, type RunState } from './run_states.js';

export interface Migration {
  /** The version the database is at after this migration. */
  version: number;
  description: string;
  sql: string;
  /**
   * It rebuilds a table others refer to (SQLite cannot change a CHECK in place): foreign keys are
   * off while it runs, and checked before it commits (SQLite's documented 12-step procedure).
   */
  rebuilds?: boolean;
}

export { ACTIVE_STATES, RUN_STATES, TERMINAL_STATES, type RunState };

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'sweeps, runs, attempts, agents, metrics, events',
    sql: `
      CREATE TABLE sweeps (
        name        TEXT PRIMARY KEY,
        spec_json   TEXT NOT NULL,
        spec_hash   TEXT NOT NULL,
        method      TEXT NOT NULL,
        metric_name TEXT,
        metric_goal TEXT,
        created_at  INTEGER NOT NULL
      );

      -- id is "<sweep>/<name>". attempt counts leases (0 = never leased); retry_base is the
      -- attempt number at the last retry: lost attempts above it count toward max_attempts.
      CREATE TABLE runs (
        id               TEXT PRIMARY KEY,
        sweep            TEXT NOT NULL REFERENCES sweeps(name),
        idx              INTEGER NOT NULL,
        name             TEXT NOT NULL,
        params_json      TEXT NOT NULL,
        config_json      TEXT NOT NULL,
        state            TEXT NOT NULL CHECK (state IN ('queued','leased','running','completed','diverged','failed','cancelled')),
        attempt          INTEGER NOT NULL DEFAULT 0,
        agent_id         TEXT,
        lease_expires_at INTEGER,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        retry_base       INTEGER NOT NULL DEFAULT 0,
        summary_json     TEXT,
        error            TEXT,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        started_at       INTEGER,
        ended_at         INTEGER,
        UNIQUE (sweep, name)
      );
      CREATE INDEX runs_state_sweep_idx ON runs (state, sweep, idx);
      CREATE INDEX runs_sweep_idx ON runs (sweep, idx);
      CREATE INDEX runs_agent ON runs (agent_id) WHERE agent_id IS NOT NULL;

      -- One row per lease. outcome: NULL while held; completed | diverged | stopped | failed |
      -- handback (the agent's report) | lost (the lease expired). acked_seq: every metric row
      -- 1..acked_seq of this attempt is stored.
      CREATE TABLE attempts (
        run_id     TEXT NOT NULL REFERENCES runs(id),
        attempt    INTEGER NOT NULL,
        agent_id   TEXT NOT NULL,
        leased_at  INTEGER NOT NULL,
        started_at INTEGER,
        ended_at   INTEGER,
        outcome    TEXT,
        error      TEXT,
        acked_seq  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, attempt)
      );

      -- lost_at: set when an agent_lost event was recorded, cleared by its next heartbeat.
      CREATE TABLE agents (
        id             TEXT PRIMARY KEY,
        host           TEXT NOT NULL,
        gpus_json      TEXT NOT NULL,
        slots          INTEGER NOT NULL,
        version        TEXT NOT NULL,
        backend        TEXT NOT NULL,
        registered_at  INTEGER NOT NULL,
        last_heartbeat INTEGER NOT NULL,
        lost_at        INTEGER
      );

      -- One metrics.jsonl line per row (no foreign key: ingestion is the hot path, and rows are
      -- only written after the fencing check on their run).
      CREATE TABLE metrics (
        run_id  TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        seq     INTEGER NOT NULL,
        step    INTEGER,
        split   TEXT,
        line    TEXT NOT NULL,
        PRIMARY KEY (run_id, attempt, seq)
      ) WITHOUT ROWID;

      CREATE TABLE events (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        time      INTEGER NOT NULL,
        type      TEXT NOT NULL,
        sweep     TEXT,
        run_id    TEXT,
        agent_id  TEXT,
        data_json TEXT
      );
    `,
  },
  {
    version: 2,
    description: 'agent secrets, goodbyes and quarantine; idempotent leases; landed folders',
    sql: `
      -- secret_hash: SHA-256 (hex) of the secret Register handed the agent. left_at: the agent
      -- said goodbye. quarantined_until / quarantine_level: an agent that lost runs repeatedly
      -- gets no lease until then; each new quarantine doubles the period.
      ALTER TABLE agents ADD COLUMN secret_hash TEXT;
      ALTER TABLE agents ADD COLUMN left_at INTEGER;
      ALTER TABLE agents ADD COLUMN quarantined_until INTEGER;
      ALTER TABLE agents ADD COLUMN quarantine_level INTEGER NOT NULL DEFAULT 0;

      -- lease_request: the agent's request id of the Lease that made this attempt (a repeated
      -- request answers the same attempts). landed_*: the attempt's run folder landed whole.
      ALTER TABLE attempts ADD COLUMN lease_request TEXT;
      ALTER TABLE attempts ADD COLUMN landed_at INTEGER;
      ALTER TABLE attempts ADD COLUMN landed_files INTEGER;
      ALTER TABLE attempts ADD COLUMN landed_bytes INTEGER;
      CREATE INDEX attempts_lease_request ON attempts (agent_id, lease_request) WHERE lease_request IS NOT NULL;
      CREATE INDEX attempts_lost ON attempts (agent_id, ended_at) WHERE outcome = 'lost';
    `,
  },
  {
    version: 3,
    description: 'a compacted event log: one metrics event per run (coordinator/events.ts)',
    sql: `
      -- Finds the metrics event a new one supersedes; then the one-time compaction of a log
      -- written before the rule.
      CREATE INDEX events_metrics_run ON events (run_id, id) WHERE type = 'metrics';
      DELETE FROM events WHERE type = 'metrics'
        AND id NOT IN (SELECT max(id) FROM events WHERE type = 'metrics' GROUP BY run_id);
    `,
  },
  {
    version: 4,
    description: "agents' latest host health; one agent_health event per agent (coordinator/events.ts)",
    sql: `
      -- health_json: the latest HostHealth a heartbeat of the agent carried, as JSON with plain
      -- numbers (proto/host_health.ts); NULL until one did. Only the latest is kept, no history.
      ALTER TABLE agents ADD COLUMN health_json TEXT;
      -- Finds the agent_health event a new one supersedes, and the one a heartbeat compares with.
      CREATE INDEX events_agent_health ON events (agent_id, id) WHERE type = 'agent_health';
    `,
  },
  {
    version: 5,
    description: 'program sweeps (their kind, job template and code snapshots), sweeps made on demand, early termination',
    rebuilds: true,
    sql: `
      -- The early_stopped state, and why a run was stopped early (coordinator/store/early_stop.ts):
      -- runs rebuilt with the new CHECK, their rows and indexes as they were.
      CREATE TABLE runs_new (
        id               TEXT PRIMARY KEY,
        sweep            TEXT NOT NULL REFERENCES sweeps(name),
        idx              INTEGER NOT NULL,
        name             TEXT NOT NULL,
        params_json      TEXT NOT NULL,
        config_json      TEXT NOT NULL,
        state            TEXT NOT NULL CHECK (state IN ('queued','leased','running','completed','diverged','failed','cancelled','early_stopped')),
        attempt          INTEGER NOT NULL DEFAULT 0,
        agent_id         TEXT,
        lease_expires_at INTEGER,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        retry_base       INTEGER NOT NULL DEFAULT 0,
        summary_json     TEXT,
        error            TEXT,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        started_at       INTEGER,
        ended_at         INTEGER,
        stop_reason      TEXT,
        UNIQUE (sweep, name)
      );
      INSERT INTO runs_new (id, sweep, idx, name, params_json, config_json, state, attempt, agent_id, lease_expires_at,
          cancel_requested, retry_base, summary_json, error, created_at, updated_at, started_at, ended_at)
        SELECT id, sweep, idx, name, params_json, config_json, state, attempt, agent_id, lease_expires_at,
          cancel_requested, retry_base, summary_json, error, created_at, updated_at, started_at, ended_at FROM runs;
      DROP TABLE runs;
      ALTER TABLE runs_new RENAME TO runs;
      CREATE INDEX runs_state_sweep_idx ON runs (state, sweep, idx);
      CREATE INDEX runs_sweep_idx ON runs (sweep, idx);
      CREATE INDEX runs_agent ON runs (agent_id) WHERE agent_id IS NOT NULL;
      -- Each attempt's values of its sweep's metric, in the order logged (i from 0): the
      -- iterations early termination counts. Only for sweeps with early_terminate.
      CREATE TABLE metric_values (
        run_id  TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        i       INTEGER NOT NULL,
        value   REAL NOT NULL,
        PRIMARY KEY (run_id, attempt, i)
      ) WITHOUT ROWID;

      -- native: dlphys's trainer runs it from its base; program: each run executes the sweep's own
      -- program (lib/sweep/program_sweep.ts). Agents without a tensor backend lease only these.
      ALTER TABLE sweeps ADD COLUMN kind TEXT NOT NULL DEFAULT 'native' CHECK (kind IN ('native','program'));
      ALTER TABLE sweeps ADD COLUMN code_hash TEXT;
      -- 1: open-ended (random without run_cap): runs are made as agents ask, until cancelled
      -- (coordinator/store/proposals.ts). template_json: a program sweep's job without params.
      ALTER TABLE sweeps ADD COLUMN open INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE sweeps ADD COLUMN template_json TEXT;
      -- What status and the dashboard say about the sweep as a whole, set once: a sweep metric its
      -- runs do not log (coordinator/store/metric_check.ts), an open-ended sweep closed because
      -- its runs keep failing (proposals.ts).
      ALTER TABLE sweeps ADD COLUMN warning TEXT;
      -- Why the sweep makes and hands out no more runs though some were left: its metric.target
      -- was reached (coordinator/store/metric_check.ts). Its running runs finish.
      ALTER TABLE sweeps ADD COLUMN finished_reason TEXT;
      -- Content-addressed (sha256 of the content, lib/sweep/code_snapshot.ts): two sweeps of the
      -- same folder share one row.
      CREATE TABLE code_snapshots (
        hash       TEXT PRIMARY KEY,
        archive    BLOB NOT NULL,
        files      INTEGER NOT NULL,
        bytes      INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 6,
    description: 'SLURM job arrays of agents the coordinator submitted, their tasks, and the job each agent runs in',
    sql: `
      -- One sbatch submission (coordinator/slurm/): a job array of agents for a sweep.
      -- active: the coordinator polls squeue for it; ended: every task has left the queue.
      CREATE TABLE slurm_jobs (
        job_id       TEXT PRIMARY KEY,
        sweep        TEXT NOT NULL REFERENCES sweeps(name),
        array_size   INTEGER NOT NULL,
        script       TEXT NOT NULL,
        submitted_at INTEGER NOT NULL,
        active       INTEGER NOT NULL DEFAULT 1,
        error        TEXT
      );
      -- What squeue (or sacct) last said of each array task.
      CREATE TABLE slurm_tasks (
        job_id     TEXT NOT NULL REFERENCES slurm_jobs(job_id),
        task_id    TEXT NOT NULL,
        state      TEXT NOT NULL,
        reason     TEXT NOT NULL DEFAULT '',
        node       TEXT NOT NULL DEFAULT '',
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (job_id, task_id)
      ) WITHOUT ROWID;
      -- "<array job>_<task>" of an agent started by SLURM (its Register says), else NULL.
      ALTER TABLE agents ADD COLUMN slurm_job TEXT;
    `,
  },
];

/** The version this code writes and understands. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings `db` up to SCHEMA_VERSION, one transaction per migration (BEGIN IMMEDIATE, and the
 * version is read again inside it, so two processes opening the same file do not both migrate).
 * Returns the version the database was at before.
 */
export function migrate(db: Database.Database, file = 'the database'): number {
  const before = schemaVersion(db);
  if (before > SCHEMA_VERSION) {
    throw new UsageError(
      `${file} has schema version ${before}, newer than this dlphys understands (${SCHEMA_VERSION}); upgrade dlphys or use another --db`,
    );
  }
  for (const m of MIGRATIONS) {
    if (schemaVersion(db) >= m.version) continue;
    // A pragma that cannot change inside a transaction: set around it.
    const foreignKeys = db.pragma('foreign_keys', { simple: true }) as number;
    if (m.rebuilds) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        if (schemaVersion(db) >= m.version) return;
        db.exec(m.sql);
        if (m.rebuilds && (db.pragma('foreign_key_check') as unknown[]).length > 0) throw new Error(`migration ${m.version} broke a foreign key`);
        db.pragma(`user_version = ${m.version}`);
      }).immediate();
    } finally {
      if (m.rebuilds) db.pragma(`foreign_keys = ${foreignKeys ? 'ON' : 'OFF'}`);
    }
  }
  return before;
}

/**
 * Opens (creating it and its folder if needed) a coordinator database: WAL journal,
 * synchronous=FULL (a committed transaction is on disk before the call returns, so whatever the
 * coordinator acknowledged survives a kill or a power cut), a 5 s busy timeout, foreign keys on,
 * and the schema migrated to SCHEMA_VERSION.
 */
export function openDatabase(file: string): Database.Database {
  let db: Database.Database;
  try {
    if (file !== ':memory:') {
      if (fs.existsSync(file) && fs.statSync(file).isDirectory()) {
        throw new UsageError(`--db ${file} is a directory; give a file path such as ${path.join(file, 'dlphys.db')}`);
      }
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    }
    db = new Database(file);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw cannotOpen(file, err);
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    migrate(db, file);
    return db;
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_NOTADB') {
      throw new UsageError(`${file} is not a SQLite database; pass --db with a dlphys database file or a new path`);
    }
    // A read-only folder lets SQLite open an existing file but not create its WAL beside it.
    if (/^SQLITE_(CANTOPEN|READONLY|PERM)/.test((err as { code?: string }).code ?? '')) throw cannotOpen(file, err);
    throw err;
  }
}

/** The file system said no (permissions, a missing or read-only folder): the user picks another path. */
function cannotOpen(file: string, err: unknown): UsageError {
  const e = err as NodeJS.ErrnoException;
  const why = e.code && !e.code.startsWith('SQLITE_') ? e.code : e.message;
  return new UsageError(`cannot open --db ${file}: ${why}; choose a --db in a folder you can write`);
}
