/**
 * A braille chart (tui/chart/braille.ts) as terminal lines: each curve in its colour, a legend
 * line above. Without colour the curves look alike, so each curve's last point carries its
 * number from the legend instead.
 */
import { Text } from 'ink';
import type { ReactElement } from 'react';
import { brailleChart, type ChartSeries } from '../chart/braille.js';
import { cut } from '../format.js';
import { SERIES_COLORS } from './theme.js';

/** What chartLines draws: the curves, the size, and whether in colour. */
export interface ChartProps {
  readonly series: readonly ChartSeries[];
  readonly width: number;
  /** Rows of the plot; the axis, the x labels and the legend add three. */
  readonly height: number;
  readonly color: boolean;
  /** Colours by series index. @default SERIES_COLORS */
  readonly colors?: readonly string[];
  readonly logY?: boolean;
}

/** Where each series' last finite point falls, as [row, col] of the plot cells. */
function ends(series: readonly ChartSeries[], owners: number[][]): Map<string, number> {
  const out = new Map<string, number>();
  // The rightmost cell each series owns stands in for its last point.
  series.forEach((_, i) => {
    let best: [number, number] | null = null;
    owners.forEach((row, r) =>
      row.forEach((o, c) => {
        if (o === i && (best === null || c > best[1])) best = [r, c];
      }),
    );
    if (best) out.set(`${best[0]},${best[1]}`, i);
  });
  return out;
}

/** The chart's lines, one element each, keyed from `key` (so a caller can put them in a scrolled list). */
export function chartLines({ series, width, height, color, colors = SERIES_COLORS, logY }: ChartProps, key: string): ReactElement[] {
  const chart = brailleChart(series, { width, height, logY });
  const legend = series.map((s, i) => (
    <Text key={i} color={color ? colors[i % colors.length] : undefined}>
      {`${color ? '━━' : `[${i + 1}]`} ${s.label}  `}
    </Text>
  ));
  const marks = color || series.length < 2 ? new Map<string, number>() : ends(series, chart.owners);
  const lines: ReactElement[] = [
    <Text key={`${key}-legend`} wrap="truncate">
      {legend}
    </Text>,
  ];
  chart.lines.forEach((line, r) => {
    const owners = chart.owners[r];
    if (!owners) {
      lines.push(
        <Text key={`${key}-${r}`} wrap="truncate">
          {cut(line, width)}
        </Text>,
      );
      return;
    }
    const cells = [...line.slice(chart.plotStart)];
    const spans: ReactElement[] = [];
    if (color) {
      // Runs of cells with the same owner become one span of its colour.
      for (let from = 0, c = 1; c <= cells.length; c++) {
        if (c < cells.length && owners[c] === owners[from]) continue;
        const owner = owners[from]!;
        spans.push(
          <Text key={from} color={owner >= 0 ? colors[owner % colors.length] : undefined}>
            {cells.slice(from, c).join('')}
          </Text>,
        );
        from = c;
      }
    } else {
      cells.forEach((_, c) => {
        const mark = marks.get(`${r},${c}`);
        if (mark !== undefined) cells[c] = String((mark + 1) % 10);
      });
      spans.push(<Text key="plot">{cells.join('')}</Text>);
    }
    lines.push(
      <Text key={`${key}-${r}`} wrap="truncate">
        <Text dimColor>{line.slice(0, chart.plotStart)}</Text>
        {spans}
      </Text>,
    );
  });
  return lines;
}
