/**
 * What a dashboard has learnt from its source, and the pure reducer that learns it: the latest
 * Status snapshot as it came, plus what only the event stream tells (when each run started and
 * finished, its step and metric curves, each agent's heartbeats and health). Everything shown is
 * derived from this by the selectors beside it (sweeps.ts, agents.ts, runs.ts) at a given time.
 *
 * Times from the coordinator (event times, heartbeats) stay on its clock; `clockOffset` says how
 * far the local clock is ahead of it, so ages and rates are right when the two machines disagree.
 */
import { BOOKKEEPING_KEYS } from '../../lib/metric_goal.js';
import type { ConnectionState, DashEvent, StatusSnapshot } from '../source.js';
import type { HostHealth__Output } from '../../proto/generated/dlphys/HostHealth.js';
import { num, parseHealth, parseObject, timeMs } from './parse.js';
import { EMPTY_SERIES, pushPoint, type Series } from './series.js';

/** Metric curves kept per run (a line may log dozens of fields; the sweep's metric comes first). */
export const MAX_METRICS_PER_RUN = 16;
/** run_finished events kept for the runs/min rate (only the recent ones matter). */
export const MAX_FINISHES = 5000;

/** What the events said about one run (its current attempt). */
export interface RunTrack {
  readonly attempt: number;
  /** Coordinator ms of run_started (this attempt); null before it. */
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly step: number | null;
  readonly latest: Readonly<Record<string, number>>;
  readonly min: Readonly<Record<string, number>>;
  readonly max: Readonly<Record<string, number>>;
  readonly series: Readonly<Record<string, Series>>;
}

/** What the events said about one agent. */
export interface AgentTrack {
  /** Coordinator ms of its last few heartbeats (distinct, oldest first): their spacing is its period. */
  readonly beats: readonly number[];
  /** The health of its latest agent_health event, if any. */
  readonly health: HostHealth__Output | null;
}

/** A run_finished event, for the rate of finishing runs. */
export interface Finish {
  readonly time: number;
  readonly sweep: string;
  readonly runId: string;
  readonly state: string;
}

/** Everything the source has said, as the reducer keeps it (immutable: each action makes a new one). */
export interface DashData {
  readonly connection: ConnectionState;
  readonly status: StatusSnapshot | null;
  /** Id of the last event taken: events at or below it are duplicates (a replay after a reconnect). */
  readonly lastEventId: number;
  readonly runs: ReadonlyMap<string, RunTrack>;
  readonly agents: ReadonlyMap<string, AgentTrack>;
  readonly finishes: readonly Finish[];
  /** First run_started per sweep (coordinator ms): where its rate's window may start. */
  readonly sweepStart: Readonly<Record<string, number>>;
  /** Local ms minus coordinator ms, at least (the smallest gap seen between receiving and stamping); null before any. */
  readonly clockOffset: number | null;
}

/** What a source's sink turns into; `at` is the local time it arrived. */
export type DashAction =
  | { readonly type: 'status'; readonly snapshot: StatusSnapshot; readonly at: number }
  | { readonly type: 'events'; readonly events: readonly DashEvent[]; readonly at: number }
  | { readonly type: 'connection'; readonly state: ConnectionState };

/** Before the source has said anything. */
export const INITIAL_DATA: DashData = {
  connection: { state: 'connecting' },
  status: null,
  lastEventId: 0,
  runs: new Map(),
  agents: new Map(),
  finishes: [],
  sweepStart: {},
  clockOffset: null,
};

const NEW_RUN: RunTrack = { attempt: 0, startedAt: null, finishedAt: null, step: null, latest: {}, min: {}, max: {}, series: {} };
const NEW_AGENT: AgentTrack = { beats: [], health: null };
const MAX_BEATS = 6;

/** The coordinator's time now, by the local clock and the offset learnt. */
export function coordinatorNow(data: DashData, localNow: number): number {
  return localNow - (data.clockOffset ?? 0);
}

function offsetWith(offset: number | null, at: number, stamped: number | null): number | null {
  if (stamped === null) return offset;
  const gap = at - stamped;
  return offset === null || gap < offset ? gap : offset;
}

function withBeat(a: AgentTrack, t: number): AgentTrack {
  if (a.beats.includes(t)) return a;
  const beats = [...a.beats, t].sort((x, y) => x - y).slice(-MAX_BEATS);
  return { ...a, beats };
}

/** A run's track at `attempt`: a later attempt starts afresh (the run trains again from step 0). */
function atAttempt(t: RunTrack, attempt: number | null): RunTrack | null {
  if (attempt === null || attempt === t.attempt) return t;
  if (attempt > t.attempt) return { ...NEW_RUN, attempt };
  return null; // an older attempt's event, replayed late: it says nothing about the current one
}

function withMetrics(t: RunTrack, last: Record<string, unknown>): RunTrack {
  const step = num(last.step) ?? t.step;
  const latest = { ...t.latest };
  const min = { ...t.min };
  const max = { ...t.max };
  const series = { ...t.series };
  for (const [k, v] of Object.entries(last)) {
    if (BOOKKEEPING_KEYS.has(k) || k === 'dropped' || typeof v !== 'number') continue;
    if (!(k in series) && Object.keys(series).length >= MAX_METRICS_PER_RUN) continue;
    latest[k] = v;
    if (Number.isFinite(v)) {
      if (!(k in min) || v < min[k]!) min[k] = v;
      if (!(k in max) || v > max[k]!) max[k] = v;
    }
    series[k] = pushPoint(series[k] ?? EMPTY_SERIES, step ?? 0, v);
  }
  return { ...t, step, latest, min, max, series };
}

/** Events after lastEventId, in id order, applied to runs, agents and finishes. */
function applyEvents(data: DashData, events: readonly DashEvent[], at: number): DashData {
  const fresh = events.map((e) => ({ e, id: Number(e.id) })).filter(({ id }) => id > data.lastEventId).sort((a, b) => a.id - b.id);
  if (fresh.length === 0) return data;
  const runs = new Map(data.runs);
  const agents = new Map(data.agents);
  const finishes = [...data.finishes];
  const sweepStart = { ...data.sweepStart };
  let offset = data.clockOffset;
  let lastEventId = data.lastEventId;
  for (const { e, id } of fresh) {
    if (id <= lastEventId) continue; // the same id twice in one batch
    lastEventId = id;
    const time = timeMs(e.time);
    offset = offsetWith(offset, at, time);
    const d = parseObject(e.data_json);
    if (e.run_id) {
      const t = atAttempt(runs.get(e.run_id) ?? NEW_RUN, num(d.attempt));
      if (t === null) continue;
      let next = t;
      switch (e.type) {
        case 'run_started':
          next = { ...t, startedAt: time, finishedAt: null };
          if (time !== null && e.sweep) {
            const first = sweepStart[e.sweep];
            if (first === undefined || time < first) sweepStart[e.sweep] = time;
          }
          break;
        case 'run_finished':
          next = { ...t, finishedAt: time };
          if (time !== null) finishes.push({ time, sweep: e.sweep, runId: e.run_id, state: typeof d.state === 'string' ? d.state : '' });
          break;
        case 'run_requeued':
          next = { ...t, startedAt: null, finishedAt: null };
          break;
        case 'metrics':
          if (d.last && typeof d.last === 'object') next = withMetrics(t, d.last as Record<string, unknown>);
          break;
      }
      runs.set(e.run_id, next);
    } else if (e.agent_id && time !== null && (e.type === 'agent_health' || e.type === 'agent_registered')) {
      let a = withBeat(agents.get(e.agent_id) ?? NEW_AGENT, time);
      if (e.type === 'agent_health') a = { ...a, health: parseHealth(e.data_json) ?? a.health };
      agents.set(e.agent_id, a);
    }
  }
  return {
    ...data,
    lastEventId,
    runs,
    agents,
    finishes: finishes.length > MAX_FINISHES ? finishes.slice(-MAX_FINISHES) : finishes,
    sweepStart,
    clockOffset: offset,
  };
}

/** A snapshot replaces the last one; its heartbeats join the agents' beats (the period is learnt from them). */
function applyStatus(data: DashData, snapshot: StatusSnapshot, at: number): DashData {
  const agents = new Map(data.agents);
  let offset = data.clockOffset;
  for (const a of snapshot.agents) {
    const t = timeMs(a.last_heartbeat);
    if (t === null) continue;
    agents.set(a.id, withBeat(agents.get(a.id) ?? NEW_AGENT, t));
    // A live agent's heartbeat is at most a period old: a bound on the offset (a lost one's is not).
    if (a.state === 'alive' || a.state === 'quarantined') offset = offsetWith(offset, at, t);
  }
  return { ...data, status: snapshot, agents, clockOffset: offset };
}

/** The reducer: pure, so a scripted sequence of actions gives the same data every time. */
export function reduce(data: DashData, action: DashAction): DashData {
  switch (action.type) {
    case 'status':
      return applyStatus(data, action.snapshot, action.at);
    case 'events':
      return applyEvents(data, action.events, action.at);
    case 'connection':
      return { ...data, connection: action.state };
  }
}
