/**
 * Marked runs side by side: one metric's curves overlaid on one chart, a colour each (a number
 * each without colour), with a legend; ← → pick the metric.
 */
import { Box, Text } from 'ink';
import type { Points } from '../state/curves.js';
import { chartLines } from './Chart.js';
import { PaneTitle } from './PaneTitle.js';
import { useColorOn } from './theme.js';

/** One compared run: its name and the chosen metric's curve. */
export interface CompareRun {
  readonly id: string;
  readonly name: string;
  /** The metric's curve; empty while it is being fetched or when the run never logged it. */
  readonly points: Points;
}

/** Props of Compare: the runs, the metric shown and those it can switch to, the box. */
export interface CompareProps {
  readonly runs: readonly CompareRun[];
  readonly metric: string;
  /** Every metric the runs logged (← → cycle through them). */
  readonly metrics: readonly string[];
  /** Runs whose curves are still being fetched. */
  readonly loading: number;
  readonly width: number;
  readonly height: number;
}

/** The compare view: one chart, every marked run on it. */
export function Compare({ runs, metric, metrics, loading, width, height }: CompareProps) {
  const colorOn = useColorOn();
  const i = metrics.indexOf(metric);
  const which = metrics.length > 1 ? `metric ${i + 1}/${metrics.length} (← →)` : '';
  const series = runs.map((r) => ({ label: r.points.length ? r.name : `${r.name} (no ${metric})`, points: r.points }));
  // The title, the legend, the axis and its labels, and the status line below.
  const plotRows = Math.max(3, height - 5);
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <PaneTitle title={`compare ${metric}`} detail={[`${runs.length} runs`, which, 'esc back'].filter(Boolean).join('  ')} focused width={width} />
      {chartLines({ series, width, height: plotRows, color: colorOn }, 'compare')}
      <Text dimColor>{loading ? `fetching ${loading} run${loading > 1 ? 's' : ''}…` : ' '}</Text>
    </Box>
  );
}
