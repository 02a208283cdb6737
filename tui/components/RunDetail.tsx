/**
 * One run in full: where it stands, its config where it differs across the sweep (a run's params
 * are exactly its departures from the sweep's base), its summary and error, per-layer probe
 * metrics as a table over depth, every other logged metric as a braille chart (a metric and its
 * val_ twin on one chart), and the tail of its train.log.
 * Taller than the terminal as often as not: it scrolls (j/k), so it is built as a list of lines.
 */
import { Box, Text } from 'ink';
import type { ReactElement } from 'react';
import type { RunDetail as Detail } from '../source.js';
import { chartGroups, detailCurves, type Curves } from '../state/curves.js';
import { layerProfile } from '../state/layers.js';
import { parseObject, parseSummary, showValue } from '../state/parse.js';
import type { SweepMetric } from '../state/run_facts.js';
import type { RunView } from '../state/runs.js';
import { cut, duration, value } from '../format.js';
import { chartLines } from './Chart.js';
import { PaneTitle } from './PaneTitle.js';
import { STATE_COLOR, useColor, useColorOn } from './theme.js';

/** Props of RunDetail: the run as the table has it, its fetched detail, the sweep's context, the box and scroll. */
export interface RunDetailProps {
  readonly runId: string;
  /** The run's row, as the table has it (absent when the run left the snapshot). */
  readonly run: RunView | null;
  readonly metric: SweepMetric;
  /** Parameter paths that vary across the sweep. */
  readonly varying: readonly string[];
  readonly detail: Detail | null;
  readonly error: string | null;
  /** The curves the events carried (sampled), drawn while the detail's own lines are not there. */
  readonly sampled: Curves;
  readonly width: number;
  readonly height: number;
  /** Lines scrolled past. */
  readonly scroll: number;
}

/** Plot rows of each chart. */
const CHART_ROWS = 6;

function heading(text: string, key: string): ReactElement {
  return (
    <Text key={key} bold wrap="truncate">
      {text}
    </Text>
  );
}

function plain(text: string, key: string): ReactElement {
  return (
    <Text key={key} wrap="truncate">
      {text}
    </Text>
  );
}

/** The dotted path's value in the config, where it has one. */
function atPath(config: Record<string, unknown>, path: string): unknown {
  let v: unknown = config;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** The detail view: every line built, then the window `scroll` lines down shown. */
export function RunDetail(props: RunDetailProps) {
  const { runId, run, detail, error, width, height, scroll } = props;
  const color = useColor();
  const colorOn = useColorOn();
  const status = detail?.run ?? null;
  const state = run?.state ?? status?.state ?? '';
  const lines: ReactElement[] = [];

  const facts = [
    `attempt ${run?.attempt ?? status?.attempt ?? '-'}`,
    `agent ${run?.agent || status?.agent_id || '-'}`,
    `time ${duration(run?.durationMs ?? null)}`,
    `step ${run?.step ?? '-'}${run?.totalSteps ? `/${run.totalSteps}` : ''}`,
  ];
  lines.push(
    <Text key="state" wrap="truncate">
      <Text color={color(STATE_COLOR[state])} bold>
        {state || 'unknown'}
      </Text>
      {`  ${facts.join('  ')}`}
    </Text>,
  );
  if (error) lines.push(plain(`detail unavailable: ${error}`, 'fetch-error'));
  else if (!detail) lines.push(plain('loading…', 'loading'));

  // The swept values: where this run departs from the sweep's base.
  const params = parseObject(status?.params_json);
  const config = parseObject(detail?.config_json);
  // The resolved config's value at each swept path (what the run really ran with); the table's until it arrives.
  const swept: [string, string][] = Object.keys(params).length
    ? Object.keys(params).map((k) => [k, showValue(atPath(config, k) ?? params[k])])
    : Object.entries(run?.params ?? {});
  lines.push(heading(`config${props.varying.length ? '  (* differs across the sweep)' : ''}`, 'config'));
  if (swept.length === 0) lines.push(plain('  (no swept values)', 'config-none'));
  for (const [k, v] of swept) lines.push(plain(`  ${props.varying.includes(k) ? '*' : ' '} ${k} = ${v}`, `config-${k}`));

  const summary = parseSummary(status?.summary_json);
  if (summary) {
    const best = Object.entries(summary.best)
      .slice(0, 6)
      .map(([k, v]) => `${k} ${value(v)}`);
    lines.push(heading('summary', 'summary'));
    lines.push(plain(`  ${summary.status}  steps ${summary.steps ?? '-'}  wall ${duration(summary.wallTime === null ? null : summary.wallTime * 1000)}`, 'summary-1'));
    if (best.length) lines.push(plain(`  best  ${best.join('  ')}`, 'summary-best'));
  }
  const err = status?.error || summary?.error || run?.error || '';
  if (err) {
    // An early-stopped run's "error" is why the sweep's early termination stopped it.
    lines.push(heading(status?.state === 'early_stopped' ? 'stopped early' : 'error', 'error'));
    err.split('\n').slice(0, 8).forEach((l, i) => lines.push(plain(`  ${l}`, `error-${i}`)));
  }

  const lineCurves: Curves = detail ? detailCurves(detail) : new Map();
  const curves = lineCurves.size > 0 ? lineCurves : props.sampled;
  if (curves !== lineCurves && curves.size > 0) lines.push(plain('curves sampled from the live feed (the full lines come with RunDetail)', 'sampled'));
  const profile = detail ? layerProfile(detail.metric_lines) : null;
  if (profile) {
    // Per-layer probe metrics read best as a profile over depth; each would otherwise be a chart.
    const cell = 10;
    lines.push(heading(`layers (probe, step ${profile.step})`, 'layers'));
    lines.push(plain(cut(`  ${'layer'.padStart(5)}${profile.families.map((f) => f.padStart(cell)).join('')}`, width), 'layers-head'));
    for (const { layer, values } of profile.rows) {
      const cells = profile.families.map((f) => (values[f] === undefined ? '' : value(values[f])).padStart(cell)).join('');
      lines.push(plain(cut(`  ${String(layer).padStart(5)}${cells}`, width), `layer-${layer}`));
    }
  }
  for (const group of chartGroups([...curves.keys()].filter((m) => !profile?.keys.has(m)))) {
    const key = group.join('+');
    lines.push(heading(group.join(' · '), `h-${key}`));
    const series = group.map((m) => ({ label: m, points: curves.get(m)! }));
    lines.push(...chartLines({ series, width: Math.min(width, 120), height: CHART_ROWS, color: colorOn }, key));
  }

  const log = detail?.log_tail ?? [];
  if (log.length) {
    lines.push(heading(`train.log (last ${log.length} lines)`, 'log'));
    log.forEach((l, i) => lines.push(plain(cut(l, width), `log-${i}`)));
  } else if (detail) lines.push(plain('train.log: nothing yet (it arrives with the run folder)', 'log-none'));

  const room = Math.max(1, height - 1);
  const top = Math.max(0, Math.min(scroll, lines.length - room));
  const where = lines.length > room ? `lines ${top + 1}-${Math.min(lines.length, top + room)} of ${lines.length}  j/k scroll` : '';
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <PaneTitle title={`run ${runId}`} detail={[where, 'esc back'].filter(Boolean).join('  ')} focused width={width} />
      {lines.slice(top, top + room)}
    </Box>
  );
}
