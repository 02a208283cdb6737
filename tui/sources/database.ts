/**
 * A DashSource fed by a coordinator's database file, opened read-only (`dlphys dash runs/dlphys.db`):
 * the sweeps of a coordinator that is running elsewhere on a shared disk, or of one that has
 * finished. SQLite in WAL mode lets a reader in while the coordinator writes; this source never
 * writes (better-sqlite3 `readonly`), so it cannot disturb it.
 *
 * Events are the coordinator's own event log (table `events`, coordinator/events.ts), read after
 * the last id delivered: exactly what Watch would stream. Snapshots are built from the tables as
 * Status builds them (coordinator/store/queries.ts), with one difference: every sweep's runs are
 * listed, finished sweeps too, since a file is usually opened to look at results. Agents' host
 * health is the latest each agent's heartbeats carried (agents.health_json).
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import type { AgentStatus__Output } from '../../proto/generated/dlphys/AgentStatus.js';
import type { RunStatus__Output } from '../../proto/generated/dlphys/RunStatus.js';
import { RUN_STATES, HELD_STATES, sqlList } from '../../coordinator/run_states.js';
import { SCHEMA_VERSION } from '../../coordinator/schema.js';
import { stamp } from '../../lib/log.js';
import type { DashEvent, DashSink, DashSource, RunDetail, StatusSnapshot } from '../source.js';
import { tailLines } from '../../lib/run/log_tail.js';
import type { HostHealth__Output } from '../../proto/generated/dlphys/HostHealth.js';
import type { HostHealthData } from '../../proto/host_health.js';

export interface DatabaseSourceOptions {
  /** Between reads of the event log. @default 1000 */
  readonly pollMs?: number;
  /** Where the coordinator lands run folders (for a run's log tail). @default the database's folder */
  readonly runsDir?: string;
  /** The coordinator's --lease-ttl in ms: an agent silent for twice this is shown lost. @default 30000 */
  readonly leaseTtlMs?: number;
  /** Events read per query. @default 1000 */
  readonly pageSize?: number;
}

interface RawEvent {
  id: number;
  time: number;
  type: string;
  sweep: string | null;
  run_id: string | null;
  agent_id: string | null;
  data_json: string | null;
}

const iso = (ms: number | null): string => (ms === null ? '' : stamp('iso', ms));

/** Opens `file` read-only; throws (with SQLite's code) when it is missing, not a database, or of a newer schema. */
export function openReadOnly(file: string): Database.Database {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw new Error(`${file} has schema version ${version}, newer than this dlphys understands (${SCHEMA_VERSION})`);
    if (version < 2) throw new Error(`${file} is not a dlphys coordinator database (schema version ${version})`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** The coordinator database `file` as a dashboard source (see the file's comment). */
export function databaseSource(file: string, options: DatabaseSourceOptions = {}): DashSource {
  const runsDir = options.runsDir ?? path.dirname(path.resolve(file));
  const leaseTtlMs = options.leaseTtlMs ?? 30_000;
  const pageSize = options.pageSize ?? 1000;

  function snapshot(db: Database.Database): StatusSnapshot {
    return db
      .transaction((): StatusSnapshot => {
        const sweepRows = db
          .prepare<[], { name: string; created_at: number; metric_name: string | null; metric_goal: string | null }>(
            'SELECT name, created_at, metric_name, metric_goal FROM sweeps ORDER BY created_at, rowid',
          )
          .all();
        const counts = db.prepare<[], { sweep: string; state: string; n: number }>('SELECT sweep, state, count(*) AS n FROM runs GROUP BY sweep, state').all();
        const now = Date.now();
        const held = new Map(
          db
            .prepare<[], { agent_id: string; n: number }>(
              `SELECT agent_id, count(*) AS n FROM runs WHERE state IN ${sqlList(HELD_STATES)} AND agent_id IS NOT NULL GROUP BY agent_id`,
            )
            .all()
            .map((r) => [r.agent_id, r.n]),
        );
        const agents: AgentStatus__Output[] = db
          .prepare<[], { id: string; host: string; gpus_json: string; slots: number; last_heartbeat: number; left_at: number | null; quarantined_until: number | null; lost_runs: number; health_json?: string | null }>(
            // a.*: health_json is there from schema v4 on; an older database has none to show.
            `SELECT a.*,
               (SELECT count(*) FROM attempts t WHERE t.agent_id = a.id AND t.outcome = 'lost') AS lost_runs
             FROM agents a ORDER BY a.registered_at, a.id`,
          )
          .all()
          .map((a) => {
            // The rule of coordinator/store/queries.ts, with the lease TTL this reader was given.
            const alive = a.left_at === null && now - a.last_heartbeat <= 2 * leaseTtlMs;
            const quarantined = alive && a.quarantined_until !== null && a.quarantined_until > now;
            return {
              id: a.id,
              host: a.host,
              gpus: JSON.parse(a.gpus_json) as string[],
              slots: a.slots,
              last_heartbeat: iso(a.last_heartbeat),
              alive,
              running: held.get(a.id) ?? 0,
              state: a.left_at !== null ? 'left' : !alive ? 'lost' : quarantined ? 'quarantined' : 'alive',
              quarantined_until: quarantined ? iso(a.quarantined_until) : '',
              lost_runs: a.lost_runs,
              health: a.health_json ? healthOutput(JSON.parse(a.health_json) as HostHealthData) : null,
            };
          });
        const runs = db
          .prepare<[], { id: string; sweep: string; name: string; state: string; attempt: number; agent_id: string | null; params_json: string; summary_json: string | null; error: string | null; updated_at: number; lost: number }>(
            `SELECT r.id, r.sweep, r.name, r.state, r.attempt, r.agent_id, r.params_json, r.summary_json, r.error, r.updated_at,
               (SELECT count(*) FROM attempts t WHERE t.run_id = r.id AND t.outcome = 'lost') AS lost
             FROM runs r JOIN sweeps s ON s.name = r.sweep ORDER BY s.created_at, s.rowid, r.idx`,
          )
          .all()
          .map(toWireRun);
        const bySweep = new Map<string, Record<string, number>>();
        for (const c of counts) {
          let m = bySweep.get(c.sweep);
          if (!m) bySweep.set(c.sweep, (m = Object.fromEntries(RUN_STATES.map((s) => [s, 0]))));
          m[c.state] = c.n;
        }
        const sweeps = sweepRows.map((s) => {
          const states = bySweep.get(s.name) ?? Object.fromEntries(RUN_STATES.map((st) => [st, 0]));
          return {
            name: s.name,
            created_at: iso(s.created_at),
            total: Object.values(states).reduce((a, b) => a + b, 0),
            states,
            metric: s.metric_name ?? '',
            goal: s.metric_goal ?? '',
          };
        });
        return { sweeps, agents, runs, coordinator: null };
      })
      .deferred();
  }

  function start(sink: DashSink): () => void {
    let db: Database.Database | null = null;
    let lastId = 0;
    let polls = 0;
    let stopped = false;
    let timer: NodeJS.Timeout | null = null;
    let down: string | null = null;
    const pollMs = options.pollMs ?? 1000;

    const poll = () => {
      timer = null;
      if (stopped) return;
      try {
        db ??= openReadOnly(file);
        const events: DashEvent[] = [];
        const since = db.prepare<[number, number], RawEvent>('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?');
        for (;;) {
          const page = since.all(lastId, pageSize);
          for (const e of page) events.push(toWireEvent(e));
          if (page.length) lastId = page[page.length - 1]!.id;
          if (page.length < pageSize) break;
        }
        // State changes are events; heartbeats are not, so agents' liveness is looked at every 5 polls.
        if (polls++ === 0 || events.length > 0 || polls % 5 === 0 || down !== null) sink.status(snapshot(db));
        if (events.length) sink.events(events);
        if (polls === 1 || down !== null) sink.connection({ state: 'live' });
        down = null;
      } catch (err) {
        const reason = `${file}: ${(err as Error).message}`;
        if (down !== reason) sink.connection({ state: 'reconnecting', reason });
        down = reason;
        db?.close();
        db = null;
      }
      timer = setTimeout(poll, pollMs);
    };

    sink.connection({ state: 'connecting' });
    timer = setTimeout(poll, 0);
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      db?.close();
    };
  }

  async function runDetail(runId: string, logLines: number): Promise<RunDetail> {
    // Its own short-lived connection: a detail may be asked for while no start() is watching.
    const db = openReadOnly(file);
    let detail: Omit<RunDetail, 'log_tail'>;
    try {
      detail = detailOf(db, runId);
    } finally {
      db.close();
    }
    // The run id is `<sweep>/<name>`, the landed folder's path under the runs dir.
    return { ...detail, log_tail: await tailLines(path.join(runsDir, ...runId.split('/'), 'train.log'), logLines) };
  }

  function detailOf(db: Database.Database, runId: string): Omit<RunDetail, 'log_tail'> {
    const row = db
      .prepare<[string], { id: string; sweep: string; name: string; state: string; attempt: number; agent_id: string | null; params_json: string; summary_json: string | null; error: string | null; updated_at: number; config_json: string; lost: number }>(
        `SELECT r.*, (SELECT count(*) FROM attempts t WHERE t.run_id = r.id AND t.outcome = 'lost') AS lost FROM runs r WHERE r.id = ?`,
      )
      .get(runId);
    if (!row) throw new Error(`no run ${runId} in ${file}`);
    const lines = db.prepare<[string, number], string>('SELECT line FROM metrics WHERE run_id = ? AND attempt = ? ORDER BY seq').pluck().all(row.id, row.attempt);
    return { run: toWireRun(row), config_json: row.config_json, metric_lines: lines };
  }

  return { label: file, start, runDetail };
}

function toWireRun(r: { id: string; sweep: string; name: string; state: string; attempt: number; agent_id: string | null; params_json: string; summary_json: string | null; error: string | null; updated_at: number; lost: number }): RunStatus__Output {
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
    lost_attempts: r.lost,
  };
}

function toWireEvent(e: RawEvent): DashEvent {
  return { id: String(e.id), time: iso(e.time), type: e.type, sweep: e.sweep ?? '', run_id: e.run_id ?? '', agent_id: e.agent_id ?? '', data_json: e.data_json ?? '' };
}

/** A stored health as a client gets it off the wire: int64 byte counts as decimal strings (proto/load.ts: longs as String). */
function healthOutput(h: HostHealthData): HostHealth__Output {
  return {
    ...h,
    ram_used_bytes: String(h.ram_used_bytes),
    ram_total_bytes: String(h.ram_total_bytes),
    gpus: h.gpus.map((g) => ({ ...g, mem_used_bytes: String(g.mem_used_bytes), mem_total_bytes: String(g.mem_total_bytes) })),
  };
}
