/**
 * The runs pane's rows for one sweep, derived from DashData at a given time: each run's state,
 * the parameters that vary across the sweep (the only ones worth a column), its step out of its
 * total, the latest and best value of the sweep's metric, a curve for a sparkline, how long it
 * has trained and where.
 */
import { coordinatorNow, type DashData, type RunTrack } from './dash_data.js';
import { parseCached, parseSummary, showValue } from './parse.js';
import { seriesValues } from './series.js';
import { runBest, runDurationMs, runLatest, runTotalSteps, sweepMetric, type SweepMetric, type SweepSteps } from './run_facts.js';

/** A run as the runs table and the detail view show it. */
export interface RunView {
  readonly id: string;
  readonly name: string;
  /** Its place in the sweep (the coordinator's order): the order rows keep when nothing else sorts them. */
  readonly index: number;
  readonly state: string;
  readonly attempt: number;
  readonly agent: string;
  /** Every swept value, by dotted path, as shown in a cell. */
  readonly params: Readonly<Record<string, string>>;
  readonly step: number | null;
  readonly totalSteps: number | null;
  readonly latest: number | null;
  readonly best: number | null;
  /** RunsView.curveMetric over steps, as the events sampled it. */
  readonly curve: readonly number[];
  readonly durationMs: number | null;
  readonly error: string;
  readonly lostAttempts: number;
}

/** The runs of one sweep, with what the table needs to lay them out. */
export interface RunsView {
  readonly sweep: string | null;
  readonly metric: SweepMetric;
  /** Parameter paths whose values differ across the sweep's runs, in the order they first appear. */
  readonly varying: readonly string[];
  /**
   * The metric the curves show: the sweep's, once some run has two values of it, else the loss.
   * A validation metric comes only with eval lines, and an event carries the last line of a batch,
   * which is most often a training line: early on, the loss is the curve that has a shape.
   */
  readonly curveMetric: string;
  readonly rows: readonly RunView[];
}

/** Keys of the runs' params whose values are not all the same (a key some runs lack counts as varying). */
export function varyingParams(params: readonly Readonly<Record<string, unknown>>[]): string[] {
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const p of params) for (const k of Object.keys(p)) if (!seen.has(k) && seen.add(k)) keys.push(k);
  return keys.filter((k) => {
    const values = new Set(params.map((p) => (k in p ? JSON.stringify(p[k]) : '\u0000absent')));
    return values.size > 1;
  });
}

function curveMetricOf(tracks: readonly (RunTrack | undefined)[], metric: string): string {
  return tracks.some((t) => (t?.series[metric]?.points.length ?? 0) >= 2) || !tracks.some((t) => t?.series.loss) ? metric : 'loss';
}

/** The runs of `sweep` (null: of every sweep in the snapshot); `now` is local epoch ms. */
export function runsView(data: DashData, sweep: string | null, now: number, steps: SweepSteps = {}): RunsView {
  const coordNow = coordinatorNow(data, now);
  const status = data.status;
  const metric = sweepMetric(status?.sweeps.find((s) => s.name === sweep));
  const runs = (status?.runs ?? []).filter((r) => sweep === null || r.sweep === sweep);
  const params = runs.map((r) => parseCached(r.params_json));
  // A track of an attempt the snapshot has moved past says nothing about the run now.
  const tracks = runs.map((r) => {
    const t = data.runs.get(r.id);
    return t && t.attempt === r.attempt ? t : undefined;
  });
  const curveMetric = curveMetricOf(tracks, metric.name);
  const rows = runs.map((r, index): RunView => {
    const fresh = tracks[index];
    const summary = parseSummary(r.summary_json);
    const shown: Record<string, string> = {};
    for (const [k, v] of Object.entries(params[index]!)) shown[k] = showValue(v);
    return {
      id: r.id,
      name: r.name,
      index,
      state: r.state,
      attempt: r.attempt,
      agent: r.agent_id,
      params: shown,
      step: fresh?.step ?? (r.state === 'completed' ? (summary?.steps ?? null) : null),
      totalSteps: runTotalSteps(r, summary, steps[r.sweep]),
      latest: runLatest(fresh, summary, metric.name),
      best: runBest(fresh, summary, metric),
      curve: fresh?.series[curveMetric] ? seriesValues(fresh.series[curveMetric]) : [],
      durationMs: runDurationMs(r, fresh, summary, coordNow),
      error: r.error || summary?.error || '',
      lostAttempts: r.lost_attempts,
    };
  });
  return { sweep, metric, varying: varyingParams(params), curveMetric, rows };
}
