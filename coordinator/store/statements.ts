/** Every prepared statement of the store, made once per open database. */
import type Database from 'better-sqlite3';
import type { RunRow } from './types.js';
import { ACTIVE_STATES, HELD_STATES, sqlList } from '../run_states.js';

export function prepareStatements(db: Database.Database) {
  return {
    getSweep: db.prepare<[string], { name: string; spec_hash: string }>('SELECT name, spec_hash FROM sweeps WHERE name = ?'),
    insertSweep: db.prepare(
      `INSERT INTO sweeps (name, spec_json, spec_hash, method, metric_name, metric_goal, created_at, kind, code_hash, open, template_json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    openSweeps: db.prepare<[], { name: string; kind: 'native' | 'program'; spec_json: string; template_json: string | null; runs: number; queued: number }>(
      `SELECT s.name, s.kind, s.spec_json, s.template_json,
         (SELECT count(*) FROM runs r WHERE r.sweep = s.name) AS runs,
         (SELECT count(*) FROM runs r WHERE r.sweep = s.name AND r.state = 'queued') AS queued
       FROM sweeps s WHERE s.open = 1 ORDER BY s.created_at, s.rowid`,
    ),
    outcomesOf: db.prepare<[string], { failed: number; succeeded: number }>(
      `SELECT count(*) FILTER (WHERE state = 'failed') AS failed, count(*) FILTER (WHERE state IN ('completed', 'diverged')) AS succeeded FROM runs WHERE sweep = ?`,
    ),
    historyOf: db.prepare<[string], { params_json: string; state: string; summary_json: string | null }>(
      'SELECT params_json, state, summary_json FROM runs WHERE sweep = ? ORDER BY idx',
    ),
    metricValueCount: db.prepare<[string, number], number>('SELECT count(*) FROM metric_values WHERE run_id = ? AND attempt = ?').pluck(),
    insertMetricValue: db.prepare('INSERT OR IGNORE INTO metric_values (run_id, attempt, i, value) VALUES (?, ?, ?, ?)'),
    metricValuesOf: db.prepare<[string, number], number>('SELECT value FROM metric_values WHERE run_id = ? AND attempt = ? ORDER BY i').pluck(),
    // Every run's current attempt: the value at iteration i (0-based) of those that reached it.
    metricValuesAt: db
      .prepare<[string, number], number>(
        'SELECT v.value FROM runs r JOIN metric_values v ON v.run_id = r.id AND v.attempt = r.attempt WHERE r.sweep = ? AND v.i = ?',
      )
      .pluck(),
    clearStopReason: db.prepare('UPDATE runs SET stop_reason = NULL WHERE id = ?'),
    setStopReason: db.prepare('UPDATE runs SET stop_reason = ?, cancel_requested = 1, updated_at = ? WHERE id = ?'),
    closeSweep: db.prepare('UPDATE sweeps SET open = 0 WHERE name = ? AND open = 1'),
    sweepMetricOf: db.prepare<[string], { metric_name: string | null; metric_goal: string | null; warning: string | null; spec_json: string; finished_reason: string | null }>(
      'SELECT metric_name, metric_goal, warning, spec_json, finished_reason FROM sweeps WHERE name = ?',
    ),
    finishSweep: db.prepare('UPDATE sweeps SET finished_reason = ?, open = 0 WHERE name = ? AND finished_reason IS NULL'),
    queuedIdsOf: db.prepare<[string], string>(`SELECT id FROM runs WHERE sweep = ? AND state = 'queued'`).pluck(),
    setWarning: db.prepare('UPDATE sweeps SET warning = ? WHERE name = ? AND warning IS NULL'),
    hasCode: db.prepare<[string], number>('SELECT count(*) FROM code_snapshots WHERE hash = ?').pluck(),
    insertCode: db.prepare('INSERT OR IGNORE INTO code_snapshots (hash, archive, files, bytes, created_at) VALUES (?, ?, ?, ?, ?)'),
    getCode: db.prepare<[string], Buffer>('SELECT archive FROM code_snapshots WHERE hash = ?').pluck(),
    insertRun: db.prepare(
      `INSERT INTO runs (id, sweep, idx, name, params_json, config_json, state, attempt, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)`,
    ),
    countRuns: db.prepare<[string], number>('SELECT count(*) FROM runs WHERE sweep = ?').pluck(),
    getRun: db.prepare<[string], RunRow>('SELECT * FROM runs WHERE id = ?'),
    upsertAgent: db.prepare(
      `INSERT INTO agents (id, host, gpus_json, slots, version, backend, slurm_job, registered_at, last_heartbeat, lost_at)
       VALUES (@id, @host, @gpus_json, @slots, @version, @backend, @slurm_job, @now, @now, NULL)
       ON CONFLICT (id) DO UPDATE SET host = excluded.host, gpus_json = excluded.gpus_json, slots = excluded.slots,
         version = excluded.version, backend = excluded.backend, slurm_job = excluded.slurm_job, registered_at = excluded.registered_at,
         last_heartbeat = excluded.last_heartbeat, lost_at = NULL, left_at = NULL`,
    ),
    leaveAgent: db.prepare('UPDATE agents SET left_at = ? WHERE id = ? AND left_at IS NULL'),
    getAgent: db.prepare<
      [string],
      { id: string; secret_hash: string | null; last_heartbeat: number; left_at: number | null; quarantined_until: number | null; quarantine_level: number }
    >('SELECT id, secret_hash, last_heartbeat, left_at, quarantined_until, quarantine_level FROM agents WHERE id = ?'),
    setSecret: db.prepare('UPDATE agents SET secret_hash = ? WHERE id = ?'),
    heldBy: db.prepare<[string], number>(`SELECT count(*) FROM runs WHERE agent_id = ? AND state IN ${sqlList(HELD_STATES)}`).pluck(),
    quarantine: db.prepare('UPDATE agents SET quarantined_until = ?, quarantine_level = ? WHERE id = ?'),
    lossTimes: db
      .prepare<[string, number], number>(`SELECT ended_at FROM attempts WHERE agent_id = ? AND outcome = 'lost' AND ended_at > ? ORDER BY ended_at`)
      .pluck(),
    otherLiveAgents: db
      .prepare<[string, number, number], number>(
        `SELECT count(*) FROM agents WHERE id != ? AND left_at IS NULL AND last_heartbeat >= ?
           AND (quarantined_until IS NULL OR quarantined_until <= ?)`,
      )
      .pluck(),
    attemptOf: db.prepare<[string, number], { agent_id: string; outcome: string | null; ended_at: number | null; landed_at: number | null }>(
      'SELECT agent_id, outcome, ended_at, landed_at FROM attempts WHERE run_id = ? AND attempt = ?',
    ),
    attemptsOfRequest: db.prepare<[string, string], { run_id: string; attempt: number }>(
      'SELECT run_id, attempt FROM attempts WHERE agent_id = ? AND lease_request = ? ORDER BY rowid',
    ),
    setLanded: db.prepare('UPDATE attempts SET landed_at = ?, landed_files = ?, landed_bytes = ? WHERE run_id = ? AND attempt = ?'),
    touchAgent: db.prepare('UPDATE agents SET last_heartbeat = ?, lost_at = NULL WHERE id = ?'),
    setHealth: db.prepare('UPDATE agents SET health_json = ? WHERE id = ?'),
    // A kind ('native' | 'program'), twice, for an agent that can run only that; '' for any.
    sweepsWithQueued: db
      .prepare<[string, string], string>(
        `SELECT s.name FROM sweeps s WHERE EXISTS (SELECT 1 FROM runs r WHERE r.state = 'queued' AND r.sweep = s.name)
           AND (? = '' OR s.kind = ?)
         ORDER BY s.created_at, s.rowid`,
      )
      .pluck(),
    queuedOf: db.prepare<[string, number], Pick<RunRow, 'id' | 'attempt' | 'sweep' | 'name' | 'config_json'>>(
      `SELECT id, attempt, sweep, name, config_json FROM runs WHERE state = 'queued' AND sweep = ? ORDER BY idx LIMIT ?`,
    ),
    leaseRun: db.prepare(
      `UPDATE runs SET state = 'leased', attempt = ?, agent_id = ?, lease_expires_at = ?, cancel_requested = 0, stop_reason = NULL,
         summary_json = NULL, error = NULL, started_at = NULL, ended_at = NULL, updated_at = ? WHERE id = ?`,
    ),
    insertAttempt: db.prepare('INSERT INTO attempts (run_id, attempt, agent_id, leased_at, lease_request) VALUES (?, ?, ?, ?, ?)'),
    startRun: db.prepare(`UPDATE runs SET state = 'running', started_at = ?, updated_at = ? WHERE id = ?`),
    startAttempt: db.prepare('UPDATE attempts SET started_at = ? WHERE run_id = ? AND attempt = ?'),
    extendLease: db.prepare('UPDATE runs SET lease_expires_at = ? WHERE id = ?'),
    insertMetric: db.prepare('INSERT OR IGNORE INTO metrics (run_id, attempt, seq, step, split, line) VALUES (?, ?, ?, ?, ?, ?)'),
    ackedSeq: db.prepare<[string, number], number>('SELECT acked_seq FROM attempts WHERE run_id = ? AND attempt = ?').pluck(),
    seqsAfter: db
      .prepare<[string, number, number], number>('SELECT seq FROM metrics WHERE run_id = ? AND attempt = ? AND seq > ? ORDER BY seq')
      .pluck(),
    setAcked: db.prepare('UPDATE attempts SET acked_seq = ? WHERE run_id = ? AND attempt = ?'),
    endAttempt: db.prepare('UPDATE attempts SET ended_at = ?, outcome = ?, error = ? WHERE run_id = ? AND attempt = ?'),
    finish: db.prepare(
      `UPDATE runs SET state = ?, summary_json = ?, error = ?, ended_at = ?, lease_expires_at = NULL, updated_at = ? WHERE id = ?`,
    ),
    requeue: db.prepare(
      `UPDATE runs SET state = 'queued', agent_id = NULL, lease_expires_at = NULL, started_at = NULL, stop_reason = NULL, updated_at = ? WHERE id = ?`,
    ),
    expired: db.prepare<[number], RunRow>(`SELECT * FROM runs WHERE state IN ${sqlList(HELD_STATES)} AND lease_expires_at < ? ORDER BY id`),
    lostSinceRetry: db
      .prepare<[string, number], number>(`SELECT count(*) FROM attempts WHERE run_id = ? AND outcome = 'lost' AND attempt > ?`)
      .pluck(),
    silentAgents: db
      .prepare<[number], string>('SELECT id FROM agents WHERE lost_at IS NULL AND left_at IS NULL AND last_heartbeat < ? ORDER BY id')
      .pluck(),
    markAgentLost: db.prepare('UPDATE agents SET lost_at = ? WHERE id = ?'),
    runsOfSweep: db.prepare<[string], RunRow>('SELECT * FROM runs WHERE sweep = ? ORDER BY idx'),
    cancelNow: db.prepare(`UPDATE runs SET state = 'cancelled', ended_at = ?, updated_at = ? WHERE id = ?`),
    requestCancel: db.prepare('UPDATE runs SET cancel_requested = 1, updated_at = ? WHERE id = ?'),
    retryRun: db.prepare(
      `UPDATE runs SET state = 'queued', error = NULL, summary_json = NULL, cancel_requested = 0, stop_reason = NULL, retry_base = attempt,
         agent_id = NULL, lease_expires_at = NULL, started_at = NULL, ended_at = NULL, updated_at = ? WHERE id = ?`,
    ),
    // An open-ended sweep is unfinished until it is cancelled, whatever its runs.
    unfinished: db
      .prepare<[], number>(`SELECT (SELECT count(*) FROM runs WHERE state IN ${sqlList(ACTIVE_STATES)}) + (SELECT count(*) FROM sweeps WHERE open = 1)`)
      .pluck(),
    unfinishedOf: db
      .prepare<[string, string], number>(
        `SELECT (SELECT count(*) FROM runs WHERE sweep = ? AND state IN ${sqlList(ACTIVE_STATES)}) + (SELECT count(*) FROM sweeps WHERE name = ? AND open = 1)`,
      )
      .pluck(),
    metricLines: db.prepare<[string, number], string>('SELECT line FROM metrics WHERE run_id = ? AND attempt = ? ORDER BY seq').pluck(),
    metricLinesNewestFirst: db
      .prepare<[string, number, number], string>('SELECT line FROM metrics WHERE run_id = ? AND attempt = ? ORDER BY seq DESC LIMIT ?')
      .pluck(),
    lostAttemptsOf: db.prepare<[string], number>(`SELECT count(*) FROM attempts WHERE run_id = ? AND outcome = 'lost'`).pluck(),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
