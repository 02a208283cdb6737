import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { TopLevelSpec } from 'vega-lite';
import { UsageError } from '../lib/errors.js';
import { cellEdges } from '../lib/scan/plot.js';
import { plotSpec, type PlotRequest } from '../lib/scan/plot_data.js';
import { plotView } from '../lib/scan/plot_render.js';
import { scanRuns } from '../lib/scan/scan.js';
import { runCli, tempDir, writeJson, writeText } from './helpers.js';

interface EocRun {
  sigma_w2: number;
  depth?: number;
  sigma_b2?: number;
  activation?: string;
}

/** A phase-diagram sweep: one finished run per point, its final val_acc a made-up function of the point. */
function eocSweep(points: EocRun[]): string {
  const root = tempDir('dlphys-theory-plot-');
  points.forEach(({ sigma_w2, depth = 8, sigma_b2 = 0.05, activation = 'tanh' }, i) => {
    const dir = path.join(root, `r${String(i).padStart(3, '0')}`);
    const config = { name: `r${i}`, seed: 0, model: { name: 'mlp', kwargs: { width: 32, depth, activation } }, init: { name: 'gaussian', kwargs: { sigma_w2, sigma_b2 } } };
    writeJson(path.join(dir, 'config.json'), config);
    const acc = 1 / (1 + Math.abs(sigma_w2 - 1.76) * depth * 0.1);
    writeText(path.join(dir, 'metrics.jsonl'), JSON.stringify({ step: 10, epoch: 1, time: 1, split: 'val', val_acc: acc }) + '\n');
    writeJson(path.join(dir, 'summary.json'), { name: `r${i}`, status: 'completed', steps: 10, final: { val_acc: acc }, best: { val_acc: acc }, wall_time: 1 });
  });
  return root;
}

const grid = (ws: number[], others: number[], key: 'depth' | 'sigma_b2'): EocRun[] => ws.flatMap((sigma_w2) => others.map((o) => ({ sigma_w2, [key]: o })));

function spec(dir: string, request: Omit<PlotRequest, 'type'>): TopLevelSpec {
  return plotSpec(dir, scanRuns(dir, { all: true }).runs, { type: 'heatmap', metric: 'final.val_acc', ...request });
}

interface SceneNode {
  marktype?: string;
  name?: string;
  x?: number;
  y?: number;
  role?: string;
  items?: SceneNode[];
}

function findMark(node: SceneNode, name: string): SceneNode | undefined {
  if (node.name === name) return node;
  for (const child of node.items ?? []) {
    const found = findMark(child, name);
    if (found) return found;
  }
  return undefined;
}

/** Critical σ_w² as `dlphys theory --format json` prints it. */
function theoryCritical(activation: string, sigma_b2: number): number {
  const r = runCli(['theory', '--activation', activation, '--sigma-b2', String(sigma_b2), '--format', 'json']);
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { critical: { sigma_w2: number } }).critical.sigma_w2;
}

describe('scan --plot-type heatmap --theory chi1', () => {
  test('over sigma_w2 x depth the line is vertical at the critical sigma_w2 that dlphys theory prints', async () => {
    const dir = eocSweep(grid([1, 1.5, 2, 2.5], [4, 12, 24], 'depth'));
    const s = spec(dir, { x: 'init.kwargs.sigma_w2', y: 'model.kwargs.depth', theory: 'chi1' });
    const view = plotView(s);
    await view.runAsync();
    const line = findMark(sceneRoot(view), 'theory0_marks');
    assert.ok(line?.items?.length, 'the theory line is drawn');
    const critical = theoryCritical('tanh', 0.05);
    const xScale = view.scale('x') as (v: number) => number;
    for (const point of line.items) assert.ok(Math.abs(point.x! - xScale(critical)) < 0.01, `line at x=${point.x}, theory at ${xScale(critical)}`);
    // It spans the whole depth axis, between the cells of 1.5 and 2.
    const ys = line.items.map((p) => p.y!);
    assert.equal(Math.max(...ys) - Math.min(...ys), 300);
    assert.ok(xScale(1.5) < point(line).x! && point(line).x! < xScale(2));
    // Still one cell per grid point under the line.
    assert.equal(countRects(sceneRoot(view)), 12);
  });

  test('over sigma_w2 x sigma_b2 the line follows the critical sigma_w2 at each sigma_b2', async () => {
    const dir = eocSweep(grid([1, 1.5, 2, 2.5], [0, 0.1, 0.2], 'sigma_b2'));
    // σ_w² on y this time: the line is drawn in the heatmap's own axes, whichever way round.
    const s = spec(dir, { x: 'init.kwargs.sigma_b2', y: 'init.kwargs.sigma_w2', theory: 'chi1' });
    const view = plotView(s);
    await view.runAsync();
    const line = findMark(sceneRoot(view), 'theory0_marks');
    assert.ok(line?.items && line.items.length > 10);
    const xScale = view.scale('x') as { invert(px: number): number };
    const yScale = view.scale('y') as (v: number) => number;
    for (const b of [0.05, 0.2]) {
      const nearest = line.items.reduce((best, p) => (Math.abs(xScale.invert(p.x!) - b) < Math.abs(xScale.invert(best.x!) - b) ? p : best));
      const bAt = xScale.invert(nearest.x!);
      assert.ok(Math.abs(nearest.y! - yScale(theoryCritical('tanh', Number(bAt.toFixed(6))))) < 0.5, `at sigma_b2 = ${bAt}`);
    }
  });

  test('axes, activations or plot types it does not fit are refused with the fix', () => {
    const dir = eocSweep(grid([1, 2], [4, 8], 'depth'));
    assert.throws(() => spec(dir, { x: 'model.kwargs.depth', y: 'model.kwargs.width', theory: 'chi1' }), (e: Error) => e instanceof UsageError && /make one of --x\/--y the sigma_w2 key/.test(e.message));
    assert.throws(
      () => plotSpec(dir, scanRuns(dir, { all: true }).runs, { type: 'scatter', x: 'init.kwargs.sigma_w2', metric: 'val_acc', theory: 'chi1' }),
      /draws over a heatmap: add --plot-type heatmap/,
    );
    const mixed = eocSweep([{ sigma_w2: 1, activation: 'tanh' }, { sigma_w2: 2, activation: 'relu' }]);
    assert.throws(() => spec(mixed, { x: 'init.kwargs.sigma_w2', y: 'model.kwargs.depth', theory: 'chi1' }), /needs one model\.kwargs\.activation across the runs.*--where/);
  });

  test('the CLI draws it into the SVG, where each cell and the line carry a hover title', () => {
    const dir = eocSweep(grid([1, 1.5, 2], [4, 12, 24, 48], 'depth'));
    const out = path.join(tempDir(), 'eoc.svg');
    const r = runCli(['scan', dir, '--plot', out, '--plot-type', 'heatmap', '--x', 'init.kwargs.sigma_w2', '--y', 'model.kwargs.depth', '--metric', 'val_acc', '--theory', 'chi1', '--log-y']);
    assert.equal(r.status, 0, r.stderr);
    const svg = fs.readFileSync(out, 'utf8');
    const titles = [...svg.matchAll(/<title>([^<]*)<\/title>/g)].map((m) => m[1]!);
    assert.equal(titles.filter((t) => /^init\.kwargs\.sigma_w2: [\d.]+; model\.kwargs\.depth: \d+; mean final\.val_acc: [\d.]+; runs: 1$/.test(t)).length, 12);
    assert.ok(titles.some((t) => t.includes('chi1 = 1 (mean-field theory, tanh, sigma_w2 = 1.7610)')), titles.join('\n'));
    const bare = runCli(['scan', dir, '--theory', 'chi1']);
    assert.equal(bare.status, 2);
    assert.match(bare.stderr, /--theory applies to plots: add --plot FILE\.svg/);
  });
});

describe('heatmap cells on numeric axes', () => {
  test('span midway to their neighbours, geometric midway on a log axis', () => {
    assert.deepEqual([...cellEdges([1, 2, 4, 2], false).entries()], [[1, [0.5, 1.5]], [2, [1.5, 3]], [4, [3, 5]]]);
    const log = cellEdges([1, 4, 16], true);
    for (const [v, [lo, hi]] of log) assert.ok(Math.abs(lo * 2 - v) < 1e-9 && Math.abs(hi / 2 - v) < 1e-9, `${v}: ${lo}..${hi}`);
    assert.deepEqual([...cellEdges([3], false).values()], [[2.5, 3.5]]);
  });
});

function point(line: SceneNode): SceneNode {
  return line.items![0]!;
}

function countRects(node: SceneNode): number {
  return (node.marktype === 'rect' && node.role === 'mark' ? (node.items?.length ?? 0) : 0) + (node.items ?? []).reduce((n, c) => n + countRects(c), 0);
}

function sceneRoot(view: ReturnType<typeof plotView>): SceneNode {
  return (view.scenegraph() as unknown as { root: SceneNode }).root;
}
