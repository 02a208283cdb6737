/**
 * The runs of the selected sweep as a table: sorted by a column (`s`, `S`), filtered (`/`), the
 * cursor and the marked runs shown by marks that read without colour too (› and ●).
 */
import { Box, Text } from 'ink';
import type { Sort } from '../state/run_table.js';
import type { RunView, RunsView } from '../state/runs.js';
import { cut, fit } from '../format.js';
import { windowAround } from './layout.js';
import { PaneTitle } from './PaneTitle.js';
import { runColumns, type Column } from './run_columns.js';
import { STATE_COLOR, useColor } from './theme.js';

/** Props of RunsPane: the runs (as shown), the cursor and marks, the sort and filter, the box. */
export interface RunsPaneProps {
  readonly view: RunsView;
  /** The rows to show, sorted and filtered. */
  readonly rows: readonly RunView[];
  readonly cursor: string | null;
  readonly marked: ReadonlySet<string>;
  readonly sort: Sort;
  readonly filter: string;
  /** The filter is being typed. */
  readonly editing: boolean;
  readonly focused: boolean;
  readonly width: number;
  /** Rows, title and header included. */
  readonly height: number;
}

function titleDetail(p: RunsPaneProps): string {
  const total = p.view.rows.length;
  const shown = p.rows.length === total ? `${total}` : `${p.rows.length} of ${total}`;
  const sortCol = p.sort.key.startsWith('param:') ? p.sort.key.slice(6) : p.sort.key === 'latest' ? p.view.metric.name : p.sort.key;
  const sort = `sort ${sortCol} ${p.sort.reverse ? '▼' : '▲'}`;
  const filter = p.editing ? `/${p.filter}▏` : p.filter ? `filter ${p.filter}` : '';
  return [shown, sort, filter].filter(Boolean).join('  ');
}

function Row({ row, cols, cursor, marked }: { readonly row: RunView; readonly cols: readonly Column[]; readonly cursor: boolean; readonly marked: boolean }) {
  const color = useColor();
  return (
    <Text wrap="truncate" bold={cursor} inverse={cursor}>
      {`${cursor ? '›' : ' '}${marked ? '●' : ' '}`}
      {cols.map((c) => {
        const text = `${fit(c.cell(row), c.width, c.right)} `;
        return c.key === 'state' ? (
          <Text key={c.key} color={color(STATE_COLOR[row.state])}>
            {text}
          </Text>
        ) : (
          text
        );
      })}
    </Text>
  );
}

/** The runs pane: a title with counts, sort and filter, the header, the rows around the cursor. */
export function RunsPane(props: RunsPaneProps) {
  const { view, rows, cursor, marked, sort, focused, width, height } = props;
  const cols = runColumns(view, rows, width);
  const room = Math.max(1, height - 2);
  const at = Math.max(0, rows.findIndex((r) => r.id === cursor));
  const { start, end } = windowAround(rows.length, at, room);
  const header = cols.map((c) => {
    const arrow = c.key === sort.key ? (sort.reverse ? '▼' : '▲') : '';
    return fit(cut(c.title, c.width - arrow.length) + arrow, c.width, c.right);
  });
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <PaneTitle title={view.sweep ? `runs of ${view.sweep}` : 'runs'} detail={titleDetail(props)} focused={focused} width={width} />
      <Text wrap="truncate" bold>{`  ${header.join(' ')}`}</Text>
      {rows.length === 0 ? <Text dimColor>{view.rows.length ? '   no run matches the filter' : '   no run yet'}</Text> : null}
      {rows.slice(start, end).map((r) => (
        <Row key={r.id} row={r} cols={cols} cursor={r.id === cursor} marked={marked.has(r.id)} />
      ))}
    </Box>
  );
}
