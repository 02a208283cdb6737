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
import { status, statusRow } from '../../coordinator/store/queries.js';
import type { RunRow } from '../../coordinator/store/types.js';
import { SCHEMA_VERSION } from '../../coordinator/schema.js';
import { readEventsSince } from '../../coordinator/events.js';
import { slurmJobToWire } from '../../coordinator/status_wire.js';
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

  /** Status as the coordinator builds it (coordinator/store/queries.ts), with every sweep's runs. */
  function snapshot(db: Database.Database): StatusSnapshot {
    const report = status({ db, now: Date.now }, undefined, leaseTtlMs, { allRuns: true });
    const agents = report.agents.map((a) => ({ ...a, health: a.health ? healthOutput(a.health) : null }));
    return { sweeps: report.sweeps, agents, runs: report.runs, coordinator: null, slurm_jobs: report.slurmJobs.map(slurmJobToWire) };
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
        for (;;) {
          const page = readEventsSince(db, lastId, pageSize);
          // The wire's event id is an int64, which the contract's loader gives as a string.
          for (const e of page) events.push({ ...e, id: String(e.id) });
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
    const row = db.prepare<[string], RunRow>('SELECT * FROM runs WHERE id = ?').get(runId);
    if (!row) throw new Error(`no run ${runId} in ${file}`);
    const lost = db.prepare<[string], number>(`SELECT count(*) FROM attempts WHERE run_id = ? AND outcome = 'lost'`).pluck().get(row.id)!;
    const lines = db.prepare<[string, number], string>('SELECT line FROM metrics WHERE run_id = ? AND attempt = ? ORDER BY seq').pluck().all(row.id, row.attempt);
    return { run: statusRow(row, lost), config_json: row.config_json, metric_lines: lines };
  }

  return { label: file, start, runDetail };
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
