/**
 * The event log (table `events`): what Watch replays and streams. It is compacted as it grows,
 * by one rule:
 *
 *   An event of a superseding type ({@link SUPERSEDING}: `metrics` keyed by run, `agent_health`
 *   keyed by agent) supersedes every earlier event of the same type and key (a run's metrics of
 *   any attempt; an agent's health); a superseded event is deleted in the transaction that
 *   inserts its successor. Every other event is kept.
 *
 * So the log holds every lifecycle event plus at most one metrics event per run and one health
 * event per agent, and a watcher replaying from any since_id gets a consistent picture: every
 * lifecycle event after it, and the latest metrics of each run and health of each agent (when
 * that is after it). Each insert deletes at most the one event it supersedes (found through a
 * partial index), so compaction costs O(1) per insert. A metrics event carries what a dashboard
 * needs, not whole lines: {@link compactMetrics}.
 */
import type Database from 'better-sqlite3';
import { stamp } from '../lib/log.js';

/** An event, shaped like the proto's Event (time ISO; absent fields ''). */
export interface EventRow {
  id: number;
  time: string;
  type: string;
  sweep: string;
  run_id: string;
  agent_id: string;
  data_json: string;
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

/** At most this many numeric fields of a metrics line are kept in its event. */
export const MAX_EVENT_METRICS = 32;
/** Longer metric names and splits are left out of the event (the line itself is stored whole). */
export const MAX_EVENT_KEY = 64;

/**
 * The compact form of a metrics line for its event: `split` (a short string) and the line's
 * finite numeric fields (step, epoch, time, loss, ...), at most {@link MAX_EVENT_METRICS} of
 * them, names at most {@link MAX_EVENT_KEY} characters; anything else (strings, nested values)
 * is left out. An ordinary line comes out unchanged; `dropped` counts what was left out.
 */
export function compactMetrics(value: unknown): Record<string, number | string> | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const out: Record<string, number | string> = {};
  let kept = 0;
  let dropped = 0;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k === 'split' && typeof v === 'string' && v.length <= MAX_EVENT_KEY) out.split = v;
    else if (typeof v === 'number' && Number.isFinite(v) && k.length <= MAX_EVENT_KEY && kept < MAX_EVENT_METRICS) {
      out[k] = v;
      kept++;
    } else dropped++;
  }
  if (dropped > 0) out.dropped = dropped;
  return out;
}

/**
 * Event types of which only the latest per key is kept, and the column that is their key. Both
 * are frequent (a metrics event per batch of lines, a health event per agent every few seconds)
 * and only their latest value matters to a watcher; each has a partial index (schema.ts).
 */
export const SUPERSEDING: Readonly<Record<string, 'run_id' | 'agent_id'>> = { metrics: 'run_id', agent_health: 'agent_id' };

/** Prepared statements over `events`; the store calls them inside its transactions. */
export class EventLog {
  private readonly s;

  constructor(db: Database.Database) {
    this.s = {
      insert: db.prepare('INSERT INTO events (time, type, sweep, run_id, agent_id, data_json) VALUES (?, ?, ?, ?, ?, ?)'),
      // One pair of statements per type, the type written into the SQL: a partial index
      // (WHERE type = 'metrics') is used only when the query names the type literally.
      supersede: new Map(
        Object.entries(SUPERSEDING).map(([type, column]) => [type, db.prepare<[string, number]>(`DELETE FROM events WHERE type = '${type}' AND ${column} = ? AND id < ?`)]),
      ),
      latestOf: new Map(
        Object.entries(SUPERSEDING).map(([type, column]) => [
          type,
          db.prepare<[string], RawEvent>(`SELECT * FROM events WHERE type = '${type}' AND ${column} = ? ORDER BY id DESC LIMIT 1`),
        ]),
      ),
      since: db.prepare<[number, number], RawEvent>(SINCE_SQL),
    };
  }

  /** Inserts an event (compacting: see the file's comment) and returns it as a row. */
  append(time: number, type: string, f: { sweep?: string | null; runId?: string | null; agentId?: string | null; dataJson: string | null }): EventRow {
    const info = this.s.insert.run(time, type, f.sweep ?? null, f.runId ?? null, f.agentId ?? null, f.dataJson);
    const id = Number(info.lastInsertRowid);
    const keyColumn = SUPERSEDING[type];
    const key = keyColumn === 'run_id' ? f.runId : keyColumn === 'agent_id' ? f.agentId : null;
    if (key) this.s.supersede.get(type)!.run(key, id);
    return { id, time: stamp('iso', time), type, sweep: f.sweep ?? '', run_id: f.runId ?? '', agent_id: f.agentId ?? '', data_json: f.dataJson ?? '' };
  }

  /**
   * The one event kept of a superseding type for a key (a run's metrics, an agent's health), with
   * its time in ms; undefined when there is none.
   */
  latest(type: string, key: string): { id: number; timeMs: number; dataJson: string } | undefined {
    const statement = this.s.latestOf.get(type);
    if (!statement) throw new Error(`events: ${type} is not a superseding type`);
    const e = statement.get(key);
    return e ? { id: e.id, timeMs: e.time, dataJson: e.data_json ?? '' } : undefined;
  }

  /** Events with an id above `id`, oldest first, at most `limit`: one page of a replay. */
  since(id: number, limit: number): EventRow[] {
    return this.s.since.all(id, limit).map(eventRow);
  }
}

const SINCE_SQL = 'SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?';

/** A stored event as a row. */
function eventRow(e: RawEvent): EventRow {
  return { id: e.id, time: stamp('iso', e.time), type: e.type, sweep: e.sweep ?? '', run_id: e.run_id ?? '', agent_id: e.agent_id ?? '', data_json: e.data_json ?? '' };
}

/**
 * The events after `id` (at most `limit`, oldest first) read through any connection to the
 * database, a read-only one too (tui/sources/database.ts): what EventLog.since gives.
 */
export function readEventsSince(db: Database.Database, id: number, limit: number): EventRow[] {
  return db.prepare<[number, number], RawEvent>(SINCE_SQL).all(id, limit).map(eventRow);
}
