import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { UsageError } from '../lib/errors.js';
import { plotSpec, type PlotRequest } from '../lib/scan/plot_data.js';
import { plotView } from '../lib/scan/plot_render.js';
import { curveBands } from '../lib/scan/plot_bands.js';
import { scanRuns } from '../lib/scan/scan.js';
import { runCli, tempDir, writeJson, writeText } from './helpers.js';

interface RunSpec {
  name: string;
  lr: number;
  depth: number;
  seed: number;
}

/** A run folder: config, train rows at steps 10..50 with loss falling by lr, a summary, and a probe row with q_l1..q_l3. */
function writeRun(root: string, { name, lr, depth, seed }: RunSpec): void {
  const dir = path.join(root, name);
  writeJson(path.join(dir, 'config.json'), { name, seed, optimizer: { name: 'sgd', kwargs: { lr } }, model: { name: 'mlp', kwargs: { depth } } });
  const rows: Record<string, unknown>[] = [];
  for (let i = 1; i <= 5; i++) {
    const loss = 1 / (1 + lr * i * 10) + seed * 0.01;
    rows.push({ step: i * 10, epoch: i, time: i * 0.5, split: 'train', loss });
    rows.push({ step: i * 10, epoch: i, time: i * 0.5 + 0.1, split: 'val', val_acc: 1 - loss });
  }
  rows.push({ step: 50, epoch: 5, time: 3, split: 'probe', q_l1: 1 + lr, q_l2: 0.9 + lr, q_l3: 0.8 + lr });
  writeText(path.join(dir, 'metrics.jsonl'), rows.map((r) => JSON.stringify(r) + '\n').join(''));
  const last = rows.at(-2) as { val_acc: number };
  writeJson(path.join(dir, 'summary.json'), { name, status: 'completed', steps: 50, final: { loss: 1 - last.val_acc, val_acc: last.val_acc }, best: { val_acc: last.val_acc }, wall_time: 3 });
}

function sweep(runs: RunSpec[]): string {
  const root = tempDir('dlphys-plot-');
  for (const run of runs) writeRun(root, run);
  return root;
}

function spec(dir: string, request: PlotRequest): TopLevelSpec {
  return plotSpec(dir, scanRuns(dir, { all: true }).runs, request);
}

interface SceneNode {
  marktype?: string;
  role?: string;
  items?: SceneNode[];
}

/** Items of data marks (not axes or legends) of `marktype` in the rendered scenegraph. */
async function markItems(s: TopLevelSpec, marktype: string): Promise<number> {
  const view = plotView(s);
  await view.runAsync();
  let count = 0;
  const visit = (node: SceneNode, inLegendOrAxis: boolean) => {
    const guide = inLegendOrAxis || (node.role !== undefined && /axis|legend|title/.test(node.role));
    if (node.marktype === marktype && node.role === 'mark' && !guide) {
      // A line or area mark draws one path, whatever its item count.
      count += marktype === 'line' || marktype === 'area' ? (node.items?.length ? 1 : 0) : (node.items?.length ?? 0);
    }
    for (const item of node.items ?? []) visit(item, guide);
  };
  visit((view.scenegraph() as unknown as { root: SceneNode }).root, false);
  view.finalize();
  return count;
}

const threeRuns: RunSpec[] = [0.01, 0.1, 1].map((lr, i) => ({ name: `lr${lr}`, lr, depth: 2, seed: i }));

describe('scan --plot specs', () => {
  test('curves over three runs draw three lines', async () => {
    const s = spec(sweep(threeRuns), { type: 'curves', metric: 'loss' });
    assert.equal(await markItems(s, 'line'), 3);
    assert.equal(await markItems(s, 'area'), 0);
  });

  test('grouped curves over 3 seeds x 2 groups draw two mean lines and two bands', async () => {
    const runs = [0.1, 1].flatMap((lr) => [0, 1, 2].map((seed) => ({ name: `lr${lr}-s${seed}`, lr, depth: 2, seed })));
    const s = spec(sweep(runs), { type: 'curves', metric: 'val_acc', x: 'epoch', groupBy: ['optimizer.kwargs.lr'] });
    assert.equal(await markItems(s, 'line'), 2);
    assert.equal(await markItems(s, 'area'), 2);
  });

  test('a heatmap over a 3x4 grid has 12 cells, each the mean of its runs', async () => {
    const runs = [0.01, 0.1, 1].flatMap((lr) => [1, 2, 3, 4].flatMap((depth) => [0, 1].map((seed) => ({ name: `lr${lr}-d${depth}-s${seed}`, lr, depth, seed }))));
    const s = spec(sweep(runs), { type: 'heatmap', x: 'optimizer.kwargs.lr', y: 'model.kwargs.depth', metric: 'final.val_acc' });
    assert.equal(await markItems(s, 'rect'), 12);
  });

  test('a scatter plot has one symbol per run', async () => {
    const s = spec(sweep(threeRuns), { type: 'scatter', x: 'optimizer.kwargs.lr', metric: 'best.val_acc', logX: true });
    assert.equal(await markItems(s, 'symbol'), 3);
  });

  test('layers draw one line per run over the layer index', async () => {
    const s = spec(sweep(threeRuns), { type: 'layers', metric: 'q' });
    assert.equal(await markItems(s, 'line'), 3);
    const values = (s.data as { values: { x: number }[] }).values;
    assert.deepEqual([...new Set(values.map((v) => v.x))].sort(), [1, 2, 3]);
  });

  test('missing flags, unknown metrics and unknown keys are usage errors naming the fix', () => {
    const dir = sweep(threeRuns);
    assert.throws(() => spec(dir, { type: 'curves' }), (e: Error) => e instanceof UsageError && /needs --metric/.test(e.message));
    assert.throws(() => spec(dir, { type: 'heatmap', x: 'optimizer.kwargs.lr', metric: 'final.loss' }), /needs --y/);
    assert.throws(() => spec(dir, { type: 'curves', metric: 'nope' }), /--metric nope: no run has this metric \(there are: loss, q_l<1\.\.3>, val_acc\)/);
    assert.throws(() => spec(dir, { type: 'curves', metric: 'val_ac' }), /did you mean val_acc\?/);
    assert.throws(() => spec(dir, { type: 'scatter', x: 'optimizer.kwargs.lr', metric: 'best.q_l1' }), /q_l1 is a probe measurement, which has no best; use final\.q_l1/);
    // A flag the plot type does not read is refused, not ignored.
    assert.throws(() => spec(dir, { type: 'heatmap', x: 'optimizer.kwargs.lr', y: 'model.kwargs.depth', metric: 'loss', groupBy: ['seed'] }), /--group-by does not apply to --plot-type heatmap/);
    assert.throws(() => spec(dir, { type: 'layers', metric: 'q', x: 'optimizer.kwargs.lr' }), /--x does not apply to --plot-type layers/);
    assert.throws(() => spec(dir, { type: 'layers', metric: 'q', step: 7 }), /--step 7: no run has probe rows at that step/);
    assert.throws(() => spec(dir, { type: 'scatter', x: 'nope', metric: 'loss' }), /no run has this config key/);
    assert.throws(() => spec(dir, { type: 'layers', metric: 'chi1' }), /use one of: q/);
  });
});

describe('curve bands and probe steps', () => {
  test('a band on a log axis is geometric: it stays positive where mean - std would not', () => {
    const points = [0.01, 10].map((y, i) => ({ run: `r${i}`, group: 'a', x: 1, y }));
    const [linear] = curveBands(points, false);
    assert.ok(linear!.lo < 0, 'mean - std of 0.01 and 10 is negative');
    const [log] = curveBands(points, true);
    assert.ok(Math.abs(log!.mean - Math.sqrt(0.1)) < 1e-12, `geometric mean ${log!.mean}`);
    assert.ok(log!.lo > 0 && Math.abs(log!.lo * log!.hi - log!.mean ** 2) < 1e-12, `${log!.lo}..${log!.hi}`);
    assert.equal(log!.runs, 2);
  });

  test('grouped curves on a log y axis draw every band and line inside the plot', async () => {
    const runs = [0.1, 1].flatMap((lr) => [0, 1, 2].map((seed) => ({ name: `lr${lr}-s${seed}`, lr, depth: 2, seed })));
    const s = spec(sweep(runs), { type: 'curves', metric: 'loss', groupBy: ['optimizer.kwargs.lr'], logY: true });
    const view = plotView(s);
    await view.runAsync();
    const ys: number[] = [];
    const visit = (node: SceneNode & { y?: number; y2?: number }) => {
      if ((node as { marktype?: string }).marktype === undefined && typeof node.y === 'number') ys.push(node.y, ...(typeof node.y2 === 'number' ? [node.y2] : []));
      for (const child of node.items ?? []) visit(child);
    };
    for (const mark of ['line', 'area']) {
      ys.length = 0;
      const root = (view.scenegraph() as unknown as { root: SceneNode }).root;
      const find = (node: SceneNode): SceneNode[] => [...(node.marktype === mark && node.role === 'mark' ? [node] : []), ...(node.items ?? []).flatMap(find)];
      for (const m of find(root)) visit(m);
      assert.ok(ys.length > 0 && ys.every((y) => Number.isFinite(y) && y >= -0.5 && y <= 300.5), `${mark}: ${ys.join(', ')}`);
    }
  });

  test('layers draw the first probe step (initialisation) by default, --step last or N another', () => {
    const dir = sweep(threeRuns);
    for (const run of threeRuns) fs.appendFileSync(path.join(dir, run.name, 'metrics.jsonl'), JSON.stringify({ step: 0, split: 'probe', q_l1: 7, q_l2: 7, q_l3: 7 }) + '\n');
    const values = (request: Partial<PlotRequest>) => (spec(dir, { type: 'layers', metric: 'q', ...request }).data as { values: { y: number }[] }).values.map((v) => v.y);
    assert.deepEqual(new Set(values({})), new Set([7]));
    assert.equal(spec(dir, { type: 'layers', metric: 'q' }).title, 'q by layer at step 0');
    assert.ok(!values({ step: 'last' }).includes(7));
    assert.deepEqual(values({ step: 50 }), values({ step: 'last' }));
  });

  test('points a log axis cannot show (step 0, a zero loss) are left out and counted in a note', () => {
    const dir = sweep(threeRuns);
    for (const run of threeRuns) fs.appendFileSync(path.join(dir, run.name, 'metrics.jsonl'), JSON.stringify({ step: 0, split: 'train', loss: 0 }) + '\n');
    const s = spec(dir, { type: 'curves', metric: 'loss', logX: true });
    assert.deepEqual(s.title, { text: 'loss by step', subtitle: '3 of 18 points at or below zero left out (--log-x)' });
    assert.ok((s.data as { values: { x: number }[] }).values.every((v) => v.x > 0));
  });

  test('curves take final.M and best.M as the curve of M', () => {
    const dir = sweep(threeRuns);
    assert.deepEqual(spec(dir, { type: 'curves', metric: 'final.val_acc' }).data, spec(dir, { type: 'curves', metric: 'val_acc' }).data);
  });
});

describe('dlphys scan --plot', () => {
  test('writes an SVG with one line path per run', () => {
    const dir = sweep(threeRuns);
    const out = path.join(tempDir(), 'loss.svg');
    const r = runCli(['scan', dir, '--plot', out, '--metric', 'loss', '--log-y']);
    assert.equal(r.status, 0, r.stderr);
    const svg = fs.readFileSync(out, 'utf8');
    assert.match(svg, /^<svg/);
    assert.equal(svg.match(/<path[^>]*aria-roledescription="line mark"/g)?.length, 3);
  });

  test('a --where that keeps no run, or a --vega file that is not JSON, is one line naming the fix', () => {
    const dir = sweep(threeRuns);
    const none = runCli(['scan', dir, '--plot', path.join(tempDir(), 'x.svg'), '--metric', 'loss', '--where', 'model.kwargs.depth>100']);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /--where model\.kwargs\.depth>100 kept 0 of the 3 runs under .*; loosen it/);
    const out = path.join(tempDir(), 'spec.png');
    const vega = runCli(['scan', dir, '--vega', out, '--metric', 'loss']);
    assert.equal(vega.status, 2);
    assert.match(vega.stderr, /--vega .*spec\.png: the spec is JSON, so the file name must end in \.json/);
    assert.ok(!fs.existsSync(out));
  });

  test('writes a PNG when @resvg/resvg-js is installed', async (t) => {
    try {
      await import('@resvg/resvg-js');
    } catch {
      t.skip('@resvg/resvg-js is not installed');
      return;
    }
    const out = path.join(tempDir(), 'lr.png');
    const r = runCli(['scan', sweep(threeRuns), '--plot', out, '--plot-type', 'scatter', '--x', 'optimizer.kwargs.lr', '--metric', 'val_acc']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual([...fs.readFileSync(out).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });

  test('--vega writes a Vega-Lite spec that compiles', () => {
    const out = path.join(tempDir(), 'q.json');
    const r = runCli(['scan', sweep(threeRuns), '--vega', out, '--plot-type', 'layers', '--metric', 'q', '--group-by', 'model.kwargs.depth']);
    assert.equal(r.status, 0, r.stderr);
    const compiled = vl.compile(JSON.parse(fs.readFileSync(out, 'utf8')) as TopLevelSpec);
    assert.ok(compiled.spec.marks && compiled.spec.marks.length > 0);
  });

  test('a bad extension or a missing --metric is a one-line error', () => {
    const dir = sweep(threeRuns);
    for (const args of [['--plot', 'out.pdf', '--metric', 'loss'], ['--plot', path.join(tempDir(), 'x.svg')]]) {
      const r = runCli(['scan', dir, ...args]);
      assert.equal(r.status, 2);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, args[1] === 'out.pdf' ? /\.svg or \.png/ : /needs --metric/);
    }
  });
});
