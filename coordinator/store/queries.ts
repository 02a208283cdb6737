/**
 * Reading the store: status (domain rows, see types.ts: the server maps them to the wire), the
 * counts of unfinished runs, a run's row and its stored metric lines.
 */
import { slurmJobs } from './slurm.js';
import type Database from 'better-sqlite3';
import { NotFoundError } from '../errors.js';
import { iso, type StoreCore } from './core.js';
import { ACTIVE_STATES, HELD_STATES, RUN_STATES, sqlList } from '../run_states.js';
import type { AgentRow, HostHealthData, RunDetail, RunRow, RunStatusRow, StatusReport, SweepRow } from './types.js';

/** A run's row as status shows it; `lostAttempts` counted by the caller, `lastMetrics` the latest stored row of a held run ('' otherwise). */
export function statusRow(r: RunRow, lostAttempts: number, lastMetrics = ''): RunStatusRow {
  return {
    id: r.id,
    sweep: r.sweep,
    name: r.name,
    state: r.state,
    attempt: r.attempt,
    agent_id: r.agent_id ?? '',
    params_json: r.params_json,
    summary_json: r.summary_json ?? '',
    error: r.error ?? '',
    updated_at: iso(r.updated_at),
    lost_attempts: lostAttempts,
    last_metrics_json: lastMetrics,
  };
}

/** A stored health_json; null for none, or for one that does not parse (never stored so, but status must not fail on it). */
function parseHealth(json: string | null): HostHealthData | null {
  if (!json) return null;
  try {
    return JSON.parse(json) as HostHealthData;
  } catch {
    return null;
  }
}

/** What status reads: the store's own connection, or a read-only one (tui/sources/database.ts). */
export interface StatusSource {
  readonly db: Database.Database;
  /** Epoch ms. */
  readonly now: () => number;
}

/**
 * See Store.status. Without a sweep it lists the runs of sweeps with unfinished runs, or with
 * `allRuns` every sweep's runs (a database opened to look at results).
 */
export function status(core: StatusSource, sweep: string | undefined, leaseTtlMs: number, options: { allRuns?: boolean } = {}): StatusReport {
  const { db } = core;
  const read = db.transaction(() => {
    if (sweep && !db.prepare('SELECT 1 FROM sweeps WHERE name = ?').get(sweep)) throw new NotFoundError(`no sweep named ${sweep}`);
    const args: unknown[] = sweep ? [sweep] : [];
    const sweepRows = db
      .prepare<unknown[], { name: string; created_at: number; metric_name: string | null; metric_goal: string | null; warning: string | null; finished_reason: string | null }>(
        `SELECT name, created_at, metric_name, metric_goal, warning, finished_reason FROM sweeps ${sweep ? 'WHERE name = ?' : ''} ORDER BY created_at, rowid`,
      )
      .all(...args);
    const counts = db
      .prepare<unknown[], { sweep: string; state: string; n: number }>(
        `SELECT sweep, state, count(*) AS n FROM runs ${sweep ? 'WHERE sweep = ?' : ''} GROUP BY sweep, state`,
      )
      .all(...args);
    const bySweep = new Map<string, Record<string, number>>();
    for (const c of counts) {
      let m = bySweep.get(c.sweep);
      if (!m) bySweep.set(c.sweep, (m = Object.fromEntries(RUN_STATES.map((s) => [s, 0]))));
      m[c.state] = c.n;
    }
    const sweeps: SweepRow[] = sweepRows.map((s) => {
      const states = bySweep.get(s.name) ?? Object.fromEntries(RUN_STATES.map((st) => [st, 0]));
      return {
        name: s.name,
        created_at: iso(s.created_at),
        total: Object.values(states).reduce((a, b) => a + b, 0),
        states,
        metric: s.metric_name ?? '',
        goal: s.metric_goal ?? '',
        warning: s.warning ?? '',
        finished_reason: s.finished_reason ?? '',
      };
    });
    const now = core.now();
    const running = new Map(
      db
        .prepare<[], { agent_id: string; n: number }>(
          `SELECT agent_id, count(*) AS n FROM runs WHERE state IN ${sqlList(HELD_STATES)} AND agent_id IS NOT NULL GROUP BY agent_id`,
        )
        .all()
        .map((r) => [r.agent_id, r.n]),
    );
    const agents: AgentRow[] = db
      .prepare<
        [],
        {
          id: string;
          host: string;
          gpus_json: string;
          slots: number;
          last_heartbeat: number;
          left_at: number | null;
          quarantined_until: number | null;
          lost_runs: number;
          health_json: string | null;
          slurm_job: string | null;
        }
      >(
        // A database from before SLURM jobs (schema 5), read by the dashboard, has no slurm_job.
        `SELECT a.id, a.host, a.gpus_json, a.slots, a.last_heartbeat, a.left_at, a.quarantined_until, a.health_json,
           ${hasColumn(db, 'agents', 'slurm_job') ? 'a.slurm_job' : 'NULL AS slurm_job'},
           (SELECT count(*) FROM attempts t WHERE t.agent_id = a.id AND t.outcome = 'lost') AS lost_runs
         FROM agents a ORDER BY a.registered_at, a.id`,
      )
      .all()
      .map((a) => {
        const alive = a.left_at === null && now - a.last_heartbeat <= 2 * leaseTtlMs;
        const quarantined = alive && a.quarantined_until !== null && a.quarantined_until > now;
        return {
          id: a.id,
          host: a.host,
          gpus: JSON.parse(a.gpus_json) as string[],
          slots: a.slots,
          last_heartbeat: iso(a.last_heartbeat),
          alive,
          running: running.get(a.id) ?? 0,
          state: a.left_at !== null ? 'left' : !alive ? 'lost' : quarantined ? 'quarantined' : 'alive',
          quarantined_until: quarantined ? iso(a.quarantined_until) : '',
          lost_runs: a.lost_runs,
          health: parseHealth(a.health_json),
          slurm_job: a.slurm_job ?? '',
        };
      });
    const runRows = sweep
      ? db.prepare<[string], RunRow>('SELECT * FROM runs WHERE sweep = ? ORDER BY idx').all(sweep)
      : db
          .prepare<[], RunRow>(
            `SELECT r.* FROM runs r JOIN sweeps s ON s.name = r.sweep
             ${options.allRuns ? '' : `WHERE EXISTS (SELECT 1 FROM runs u WHERE u.sweep = r.sweep AND u.state IN ${sqlList(ACTIVE_STATES)})`}
             ORDER BY s.created_at, s.rowid, r.idx`,
          )
          .all();
    const lostAttempts = db.prepare<[string], number>(`SELECT count(*) FROM attempts WHERE run_id = ? AND outcome = 'lost'`).pluck();
    // Only runs in progress: what status shows of them while they train (one index lookup each).
    const lastLine = db.prepare<[string, number], string>('SELECT line FROM metrics WHERE run_id = ? AND attempt = ? ORDER BY seq DESC LIMIT 1').pluck();
    const held = new Set<string>(HELD_STATES);
    const runs: RunStatusRow[] = runRows.map((r) => statusRow(r, lostAttempts.get(r.id)!, held.has(r.state) ? (lastLine.get(r.id, r.attempt) ?? '') : ''));
    return { sweeps, agents, runs, slurmJobs: slurmJobs(core, sweep) };
  });
  return read.deferred();
}

/** Runs not finished across all sweeps: queued, leased or running. */
export function unfinished(core: StoreCore): number {
  return core.s.unfinished.get()!;
}

/** See Store.sweepDone. */
export function sweepDone(core: StoreCore, name: string): boolean {
  if (!core.s.getSweep.get(name)) throw new NotFoundError(`no sweep named ${name}`);
  return core.s.unfinishedOf.get(name, name) === 0;
}

/** The run's row; NotFoundError when there is no such run. */
export function runRow(core: StoreCore, runId: string): RunRow {
  const row = core.s.getRun.get(runId);
  if (!row) throw new NotFoundError(`no run ${runId}`);
  return row;
}

/** The stored metrics.jsonl lines of the run's current attempt, in seq order. */
export function metricsOf(core: StoreCore, runId: string): string[] {
  const row = runRow(core, runId);
  return core.s.metricLines.all(row.id, row.attempt);
}

/** See Store.runDetail. */
export function runDetail(core: StoreCore, runId: string, maxLines: number, maxBytes: number): RunDetail {
  const read = core.db.transaction((): RunDetail => {
    const row = runRow(core, runId);
    // Newest first, so a cap keeps the end of a long run (what its chart shows last).
    const lines: string[] = [];
    let bytes = 0;
    for (const line of core.s.metricLinesNewestFirst.iterate(row.id, row.attempt, Math.max(0, maxLines))) {
      bytes += Buffer.byteLength(line);
      if (bytes > maxBytes) break;
      lines.push(line);
    }
    return { run: statusRow(row, core.s.lostAttemptsOf.get(row.id)!), configJson: row.config_json, metricLines: lines.reverse() };
  });
  // Deferred: a read, consistent across its statements, taking no write lock.
  return read.deferred();
}

/** `table` has `column` (a database file older than this code, opened read-only, may not). */
function hasColumn(db: Database.Database, table: string, column: string): boolean {
  return db.prepare(`SELECT 1 FROM pragma_table_info('${table}') WHERE name = ?`).get(column) !== undefined;
}
