/**
 * The dashboard's drawing primitives, pure: braille line charts (dots where the curve is, axes and
 * labels, owners for colouring), sparklines, bounded metric series, progress bar cells.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { brailleChar, brailleChart } from '../tui/chart/braille.js';
import { bucketMeans, sparkline } from '../tui/chart/sparkline.js';
import { barCells } from '../tui/components/bar.js';
import { EMPTY_SERIES, pushPoint, seriesValues, type Series } from '../tui/state/series.js';

/** The plot cells of a chart (labels and axis cut off), blank braille as spaces. */
function plot(lines: string[], start: number, rows: number): string[] {
  return lines.slice(0, rows).map((l) => l.slice(start));
}

test('a braille character has exactly the dots asked for', () => {
  assert.equal(brailleChar(0), ' ');
  assert.equal(brailleChar(0xff), '⣿');
  assert.equal(brailleChar(0x01 | 0x08), '⠉'); // the top row of both columns
  assert.equal(brailleChar(0x40 | 0x80), '⣀'); // the bottom row
});

test('a rising line goes from the bottom-left dot to the top-right dot, connected', () => {
  const chart = brailleChart([{ label: 'up', points: [[0, 0], [1, 1]] }], { width: 12, height: 2 });
  assert.equal(chart.lines.length, 4, 'two plot rows, the axis, the x labels');
  const cells = plot(chart.lines, chart.plotStart, 2);
  const cols = cells[0]!.length;
  // The top-right cell holds the last point's dot, the bottom-left one the first point's.
  assert.ok((cells[0]!.codePointAt(cols - 1)! - 0x2800) & 0x08, 'top right dot of the last cell');
  assert.ok((cells[1]!.codePointAt(0)! - 0x2800) & 0x40, 'bottom left dot of the first cell');
  // Connected: every column has a dot in one of the rows.
  for (let c = 0; c < cols; c++) assert.ok(cells[0]![c] !== ' ' || cells[1]![c] !== ' ', `column ${c} has a dot`);
  assert.deepEqual(chart.yRange, [0, 1]);
  assert.deepEqual(chart.xRange, [0, 1]);
});

test('y labels mark the top and bottom rows, the x range is under the axis', () => {
  const chart = brailleChart([{ label: 'loss', points: [[10, 2.5], [20, 1], [500, 0.25]] }], { width: 40, height: 5 });
  assert.match(chart.lines[0]!, /^ *2\.5┤/);
  assert.match(chart.lines[4]!, /^ *0\.25┤/);
  assert.match(chart.lines[2]!, /^ *1\.38┤/, 'the middle row is labelled with the middle value');
  assert.match(chart.lines[5]!, /^ +└─+$/);
  assert.match(chart.lines[6]!, /^ +10 +500$/);
  for (const line of chart.lines.slice(0, 5)) assert.equal([...line].length, 40, 'every row is the chart width');
});

test('a flat series is drawn across the middle, not on an edge', () => {
  const chart = brailleChart([{ label: 'lr', points: [[0, 0.01], [100, 0.01]] }], { width: 20, height: 3 });
  const cells = plot(chart.lines, chart.plotStart, 3);
  assert.equal(cells[0]!.trim(), '');
  assert.equal(cells[2]!.trim(), '');
  assert.notEqual(cells[1]!.trim(), '');
});

test('a NaN breaks the line, and a chart of nothing finite is empty but keeps its shape', () => {
  const broken = brailleChart([{ label: 'loss', points: [[0, 1], [1, 2], [2, NaN], [3, 1], [4, 2]] }], { width: 30, height: 2 });
  assert.equal(broken.xRange![1], 4, 'the x range ends at the last finite point');
  const empty = brailleChart([{ label: 'loss', points: [[0, NaN]] }], { width: 30, height: 3 });
  assert.equal(empty.yRange, null);
  assert.equal(empty.lines.length, 5);
  assert.ok(empty.lines.slice(0, 3).every((l) => l.slice(empty.plotStart).trim() === ''));
});

test('where two curves are drawn, each cell is owned by the series drawn last in it', () => {
  const chart = brailleChart(
    [
      { label: 'loss', points: [[0, 0], [10, 0]] },
      { label: 'val_loss', points: [[0, 1], [10, 1]] },
    ],
    { width: 20, height: 4 },
  );
  const owners = chart.owners;
  assert.ok(owners[0]!.every((o) => o === 1), 'the top row is val_loss');
  assert.ok(owners[3]!.every((o) => o === 0), 'the bottom row is loss');
  assert.ok(owners[1]!.every((o) => o === -1), 'nothing between');
});

test('logY spreads decades evenly and is ignored when a value is not positive', () => {
  const log = brailleChart([{ label: 'loss', points: [[0, 100], [1, 10], [2, 1]] }], { width: 20, height: 3, logY: true });
  assert.match(log.lines[1]!, /^ *10┤/);
  const lin = brailleChart([{ label: 'x', points: [[0, -1], [1, 10]] }], { width: 20, height: 3, logY: true });
  assert.deepEqual(lin.yRange, [-1, 10]);
});

test('a sparkline is exactly its width, lowest to highest block, newest value last', () => {
  assert.equal(sparkline([1, 2, 3, 4, 5, 6, 7, 8], 8), '▁▂▃▄▅▆▇█');
  assert.equal(sparkline([8, 1], 6), '    █▁', 'a short series is padded on the left');
  assert.equal(sparkline([5, 5, 5], 3), '▄▄▄', 'a flat series sits in the middle');
  assert.equal(sparkline([1, NaN, 2], 3), '▁ █', 'a non-finite value is a gap');
  assert.equal(sparkline([], 4), '    ');
  assert.equal(sparkline([1, 2], 0), '');
});

test('a long series is squeezed into the sparkline by bucket means, not cut', () => {
  assert.deepEqual(bucketMeans([1, 3, 5, 7, 9, 11], 3), [2, 6, 10]);
  const line = sparkline(Array.from({ length: 1000 }, (_, i) => i), 10);
  assert.equal(line.length, 10);
  assert.equal(line[0], '▁');
  assert.equal(line[9], '█');
});

test('a series keeps at most its bound, spans the whole run evenly, and ends at the newest sample', () => {
  let s: Series = EMPTY_SERIES;
  for (let step = 1; step <= 1000; step++) s = pushPoint(s, step, step * 2, 16);
  assert.ok(s.points.length <= 16 && s.points.length >= 8, `${s.points.length} points`);
  assert.deepEqual(s.points.at(-1), [1000, 2000], 'the newest sample is the last point');
  const steps = s.points.map((p) => p[0]);
  assert.ok(steps[0]! <= 1000 / 8, 'the series still starts near the beginning');
  const gaps = steps.slice(1).map((x, i) => x - steps[i]!);
  assert.ok(Math.max(...gaps.slice(0, -1)) === Math.min(...gaps.slice(0, -1)), `even spacing: ${gaps.join(',')}`);
  assert.deepEqual(seriesValues(s), s.points.map((p) => p[1]));
});

test('a short series keeps every sample', () => {
  let s: Series = EMPTY_SERIES;
  for (let step = 0; step < 5; step++) s = pushPoint(s, step, step);
  assert.deepEqual(seriesValues(s), [0, 1, 2, 3, 4]);
});

test('progress bar cells add up to the width, in proportion, and a lone failure still shows', () => {
  const cells = barCells({ completed: 50, running: 10, leased: 2, queued: 38 }, 20);
  assert.equal(Object.values(cells).reduce((a, b) => a + b, 0), 20);
  assert.deepEqual(cells, { completed: 10, diverged: 0, failed: 0, cancelled: 0, running: 2, queued: 8 });
  const one = barCells({ completed: 998, failed: 1, queued: 1 }, 10);
  assert.equal(one.failed, 1);
  assert.equal(one.queued, 1);
  assert.equal(one.completed, 8);
  assert.deepEqual(Object.values(barCells({}, 10)), [0, 0, 0, 0, 0, 0]);
});
