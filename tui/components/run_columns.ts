/**
 * The runs table's columns for a width: run, state, one per varying parameter, step, the sweep's
 * metric (latest and best), a sparkline of it, time and agent. Each is as wide as its content
 * up to a cap; when the terminal is narrower, the least needed columns go first (agent, curve,
 * time, best), then parameters shrink, then the last ones go.
 */
import type { SortKey } from '../state/run_table.js';
import type { RunView, RunsView } from '../state/runs.js';
import { sparkline } from '../chart/sparkline.js';
import { cut, duration, value } from '../format.js';

/** A column of the runs table: its sort key, title, width, alignment and cell text. */
export interface Column {
  readonly key: SortKey | 'curve';
  readonly title: string;
  readonly width: number;
  readonly right: boolean;
  readonly cell: (row: RunView) => string;
}

/** Columns before the first one: the cursor mark and the compare mark. */
export const MARK_WIDTH = 2;
/** The sparkline's least width (a longer metric name widens it a little). */
const CURVE_WIDTH = 12;

function widthOf(title: string, cells: readonly string[], cap: number, min = 3): number {
  return Math.max(min, Math.min(cap, Math.max(title.length, ...cells.map((c) => c.length))));
}

/** Short titles for parameter paths: the last part, or more parts where two would read the same. */
export function paramTitles(paths: readonly string[]): string[] {
  const parts = paths.map((p) => p.split('.'));
  const take = parts.map(() => 1);
  for (let round = 0; round < 4; round++) {
    const titles = parts.map((p, i) => p.slice(-take[i]!).join('.'));
    let clash = false;
    titles.forEach((t, i) => {
      if (titles.indexOf(t) !== i || titles.lastIndexOf(t) !== i) {
        take[i]!++;
        clash = true;
      }
    });
    if (!clash) return titles;
  }
  return [...paths];
}

function stepCell(r: RunView): string {
  if (r.step === null) return r.totalSteps === null ? '-' : `-/${r.totalSteps}`;
  return r.totalSteps === null ? String(r.step) : `${r.step}/${r.totalSteps}`;
}

/** The columns that fit in `width`, sized to `rows`. */
export function runColumns(view: RunsView, rows: readonly RunView[], width: number): Column[] {
  const make = (key: Column['key'], title: string, cell: (r: RunView) => string, cap: number, right = false, min = 3): Column => ({
    key,
    title,
    cell,
    right,
    width: widthOf(title, rows.map(cell), cap, min),
  });
  const titles = paramTitles(view.varying);
  const curveTitle = `curve ${view.curveMetric}`;
  const curveWidth = Math.max(CURVE_WIDTH, Math.min(16, curveTitle.length));
  const params = view.varying.map((p, i) => make(`param:${p}`, titles[i]!, (r) => r.params[p] ?? '', 12, true));
  let cols: Column[] = [
    make('run', 'run', (r) => r.name, 24, false, 6),
    make('state', 'state', (r) => r.state, 9),
    ...params,
    make('step', 'step', stepCell, 13, true),
    make('latest', view.metric.name, (r) => value(r.latest), 9, true),
    make('best', 'best', (r) => value(r.best), 9, true),
    { key: 'curve', title: cut(curveTitle, curveWidth), width: curveWidth, right: false, cell: (r) => sparkline(r.curve, curveWidth) },
    make('time', 'time', (r) => duration(r.durationMs), 7, true),
    make('agent', 'agent', (r) => r.agent || '-', 14),
  ];
  const total = () => MARK_WIDTH + cols.reduce((a, c) => a + c.width + 1, 0);
  for (const drop of ['agent', 'curve', 'time', 'best']) {
    if (total() <= width) return cols;
    cols = cols.filter((c) => c.key !== drop);
  }
  cols = cols.map((c) => (c.key.startsWith('param:') ? { ...c, width: Math.min(c.width, 7) } : c.key === 'run' ? { ...c, width: Math.min(c.width, 14) } : c));
  while (total() > width && cols.length > 2) {
    // The last parameter goes first; then whatever is rightmost.
    const lastParam = cols.map((c) => c.key.startsWith('param:')).lastIndexOf(true);
    cols.splice(lastParam >= 0 ? lastParam : cols.length - 1, 1);
  }
  return cols;
}
