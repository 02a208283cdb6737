/**
 * The event log (table `events`): what Watch replays and streams. It is compacted as it grows,
 * by one rule:
 *
 *   A `metrics` event supersedes every earlier `metrics` event of the same run (of any attempt);
 *   a superseded event is deleted in the transaction that inserts its successor. Every other
 *   event is kept.
 *
 * So the log holds every lifecycle event plus at most one metrics event per run, and a watcher
 * replaying from any since_id gets a consistent picture: every non-metrics event after it, and
 * the latest metrics event of each run (when that is after it). Each insert deletes at most the
 * one event it supersedes (found through a partial index), so compaction costs O(1) per insert.
 * A metrics event carries what a dashboard needs, not whole lines: {@link compactMetrics}.
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

/** Prepared statements over `events`; the store calls them inside its transactions. */
export class EventLog {
  private readonly s;

  constructor(db: Database.Database) {
    this.s = {
      insert: db.prepare('INSERT INTO events (time, type, sweep, run_id, agent_id, data_json) VALUES (?, ?, ?, ?, ?, ?)'),
      supersede: db.prepare(`DELETE FROM events WHERE type = 'metrics' AND run_id = ? AND id < ?`),
      since: db.prepare<[number, number], RawEvent>('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?'),
    };
  }

  /** Inserts an event (compacting: see the file's comment) and returns it as a row. */
  append(time: number, type: string, f: { sweep?: string | null; runId?: string | null; agentId?: string | null; dataJson: string | null }): EventRow {
    const info = this.s.insert.run(time, type, f.sweep ?? null, f.runId ?? null, f.agentId ?? null, f.dataJson);
    const id = Number(info.lastInsertRowid);
    if (type === 'metrics' && f.runId) this.s.supersede.run(f.runId, id);
    return { id, time: stamp('iso', time), type, sweep: f.sweep ?? '', run_id: f.runId ?? '', agent_id: f.agentId ?? '', data_json: f.dataJson ?? '' };
  }

  /** Events with an id above `id`, oldest first, at most `limit`: one page of a replay. */
  since(id: number, limit: number): EventRow[] {
    return this.s.since.all(id, limit).map((e) => ({
      id: e.id,
      time: stamp('iso', e.time),
      type: e.type,
      sweep: e.sweep ?? '',
      run_id: e.run_id ?? '',
      agent_id: e.agent_id ?? '',
      data_json: e.data_json ?? '',
    }));
  }
}
