/**
 * The sweeps: per sweep a progress bar of its runs by state, how many are done, the rate they
 * finish at, the time left, the counts, and the best run by the sweep's metric.
 */
import { Box, Text } from 'ink';
import type { SweepView } from '../state/sweeps.js';
import { cut, duration, fit, value } from '../format.js';
import { windowAround } from './layout.js';
import { PaneTitle } from './PaneTitle.js';
import { ProgressBar } from './ProgressBar.js';
import { STATE_COLOR, useColor } from './theme.js';

/** Props of SweepsPane: the sweeps, the selected one, the box. */
export interface SweepsPaneProps {
  readonly sweeps: readonly SweepView[];
  /** The sweep whose runs are shown. */
  readonly selected: string | null;
  readonly focused: boolean;
  readonly width: number;
  /** Rows, title included; each sweep takes two. */
  readonly height: number;
}

const COUNTED = ['completed', 'running', 'leased', 'queued', 'failed', 'diverged', 'cancelled', 'early_stopped'];

function stats(s: SweepView): string {
  const parts: string[] = [];
  if (!s.done) {
    parts.push(s.runsPerMin === null ? '-/min' : `${s.runsPerMin.toFixed(1)}/min`);
    parts.push(`ETA ${duration(s.etaMs)}`);
  } else parts.push('done');
  return parts.join('  ');
}

function SweepLines({ s, selected, width }: { readonly s: SweepView; readonly selected: boolean; readonly width: number }) {
  const color = useColor();
  const finished = (s.counts.completed ?? 0) + (s.counts.diverged ?? 0) + (s.counts.failed ?? 0) + (s.counts.cancelled ?? 0) + (s.counts.early_stopped ?? 0);
  const tally = `${finished}/${s.total}`;
  const right = `${tally}  ${stats(s)}`;
  const name = fit(s.name, Math.min(18, Math.max(6, Math.floor(width / 5))));
  const barWidth = Math.max(4, width - name.length - right.length - 6);
  const best = s.best ? `best ${s.metric.name} ${value(s.best.value)} (${s.best.name})` : `best ${s.metric.name} -`;
  const counts = COUNTED.filter((st) => (s.counts[st] ?? 0) > 0);
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text bold={selected}>{`${selected ? '›' : ' '} ${name} `}</Text>
        <ProgressBar counts={s.counts} width={barWidth} />
        {` ${right}`}
      </Text>
      <Text wrap="truncate">
        {'   '}
        {counts.map((st) => (
          <Text key={st} color={color(STATE_COLOR[st])}>{`${st} ${s.counts[st]}  `}</Text>
        ))}
        {s.warning ? <Text color={color('yellow')}>{cut(`⚠ ${s.warning}`, width)}</Text> : cut(best, width)}
      </Text>
    </Box>
  );
}

/** The sweeps pane, as many sweeps as fit around the selected one. */
export function SweepsPane({ sweeps, selected, focused, width, height }: SweepsPaneProps) {
  const per = 2;
  const fits = Math.max(1, Math.floor((height - 1) / per));
  const at = Math.max(0, sweeps.findIndex((s) => s.name === selected));
  const { start, end } = windowAround(sweeps.length, at, fits);
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <PaneTitle title="sweeps" detail={sweeps.length > fits ? `${start + 1}-${end} of ${sweeps.length}` : `${sweeps.length}`} focused={focused} width={width} />
      {sweeps.length === 0 ? <Text dimColor>   no sweep yet</Text> : null}
      {sweeps.slice(start, end).map((s) => (
        <SweepLines key={s.name} s={s} selected={s.name === selected} width={width} />
      ))}
    </Box>
  );
}
