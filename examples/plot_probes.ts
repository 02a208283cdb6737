/**
 * The figures of the three probe examples, from their run folders, with the mean-field theory
 * (lib/theory) drawn beside the measurements. Vega-Lite specs rendered to SVG in Node (vega's
 * headless renderer), and to PNG with resvg where it is installed (a dev dependency).
 *
 *   node --import tsx examples/plot_probes.ts eoc_tanh   runs/eoc_tanh   docs/eoc_tanh
 *   node --import tsx examples/plot_probes.ts ntk_width  runs/ntk_width  docs/ntk_width
 *   node --import tsx examples/plot_probes.ts relu_depth runs/relu_depth docs/relu_depth
 *
 * Each writes OUT_PREFIX*.svg (and .png). A stopgap until `dlphys scan --plot` draws plots.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { UsageError } from '../lib/errors.js';
import { mergeProbeRows, readProbeRows, type ProbeRow } from '../lib/scan/probe_rows.js';
import { isRunFolder, readRun, type RunRecord } from '../lib/scan/read_run.js';
import { chi1, criticalSigmaW2, qMap, qStar, type MeanField } from '../lib/theory/index.js';

type Row = Record<string, number | string>;

/** Every run folder under dir that reads, with its probe rows (split "probe") from metrics.jsonl. */
function runs(dir: string): { run: RunRecord; probes: ProbeRow[] }[] {
  if (!fs.existsSync(dir)) throw new UsageError(`${dir} does not exist; run the example's sweep first (see README.md, "Examples that reproduce known pictures")`);
  const out: { run: RunRecord; probes: ProbeRow[] }[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const folder = path.join(dir, name);
    if (!isRunFolder(folder)) continue;
    const run = readRun(folder);
    if (run.kind === 'run') out.push({ run, probes: readProbeRows(folder) });
  }
  if (out.length === 0) throw new UsageError(`no run folders under ${dir}; run the example's sweep first (see README.md)`);
  return out;
}

function at(config: Record<string, unknown>, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), config);
}

function hiddenDepth(config: Record<string, unknown>): number {
  const depth = at(config, 'model.kwargs.depth');
  if (typeof depth === 'number') return depth;
  return ((at(config, 'model.kwargs.widths') as number[] | undefined)?.length ?? 2) - 2;
}

async function write(spec: vl.TopLevelSpec, file: string): Promise<void> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.svg`, svg);
  try {
    const { Resvg } = await import('@resvg/resvg-js');
    fs.writeFileSync(`${file}.png`, new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 2 } }).render().asPng());
  } catch {
    // PNG is a convenience; the SVG is the figure.
  }
  process.stdout.write(`wrote ${file}.svg\n`);
}

/** Mean of chi1_l<k> over the deepest half of the hidden-to-hidden maps at step 0: χ1 once q_l has settled near q*. */
function deepChi1(row: Row): number | null {
  const ks = Object.keys(row)
    .map((k) => /^chi1_l(\d+)$/.exec(k)?.[1])
    .filter((k): k is string => k !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  const hidden = ks.slice(0, -1);
  const deep = hidden.slice(Math.floor(hidden.length / 2));
  if (deep.length === 0) return null;
  return deep.reduce((s, k) => s + Number(row[`chi1_l${k}`]), 0) / deep.length;
}

async function eocTanh(dir: string, out: string): Promise<void> {
  const all = runs(dir);
  const sb2 = Number(at(all[0]!.run.config, 'init.kwargs.sigma_b2') ?? 0);
  const critical = criticalSigmaW2('tanh', sb2);
  const cells = all.map(({ run }) => ({
    sigma_w2: Number(at(run.config, 'init.kwargs.sigma_w2')),
    depth: hiddenDepth(run.config),
    val_acc: run.final.val_acc ?? 0,
  }));
  // Each cell spans halfway to its neighbours on a true σ_w² axis, so the critical line sits where theory puts it.
  const xs = [...new Set(cells.map((c) => c.sigma_w2))].sort((a, b) => a - b);
  const edge = (i: number) => (i <= 0 ? xs[0]! - (xs[1]! - xs[0]!) / 2 : i >= xs.length ? xs.at(-1)! + (xs.at(-1)! - xs.at(-2)!) / 2 : (xs[i - 1]! + xs[i]!) / 2);
  const spans = cells.map((c) => ({ ...c, x0: edge(xs.indexOf(c.sigma_w2)), x1: edge(xs.indexOf(c.sigma_w2) + 1) }));
  await write(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: `Trainability of deep tanh networks (σ_b² = ${sb2})`, subtitle: `final validation accuracy; dashed: χ1 = 1 at σ_w² = ${critical.toFixed(3)} (lib/theory)` },
      width: 420,
      height: 260,
      layer: [
        {
          data: { values: spans },
          mark: 'rect',
          encoding: {
            x: { field: 'x0', type: 'quantitative', title: 'σ_w²', scale: { domain: [edge(0), edge(xs.length)], nice: false } },
            x2: { field: 'x1' },
            y: { field: 'depth', type: 'ordinal', title: 'hidden layers', sort: 'descending' },
            color: { field: 'val_acc', type: 'quantitative', title: 'val acc', scale: { scheme: 'viridis', domain: [0, 1] } },
            tooltip: [{ field: 'sigma_w2' }, { field: 'depth' }, { field: 'val_acc', format: '.3f' }],
          },
        },
        { data: { values: [{ x: critical }] }, mark: { type: 'rule', strokeDash: [6, 4], color: 'white', size: 2 }, encoding: { x: { field: 'x', type: 'quantitative' } } },
      ],
    },
    `${out}_trainability`,
  );
  // χ1 measured at initialisation beside the theory curve.
  const measured = all.flatMap(({ run, probes }) => {
    const row = mergeProbeRows(probes, 0);
    const value = row ? deepChi1(row) : null;
    return value === null ? [] : [{ sigma_w2: Number(at(run.config, 'init.kwargs.sigma_w2')), depth: hiddenDepth(run.config), chi1: value }];
  });
  const theory = Array.from({ length: 61 }, (_, i) => {
    const mf: MeanField = { activation: 'tanh', sigma_w2: 0.75 + (i * 3.5) / 60, sigma_b2: sb2 };
    return { sigma_w2: mf.sigma_w2, chi1: chi1(mf, qStar(mf)) };
  });
  await write(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: 'χ1 of deep layers at initialisation: measured (points) and mean-field theory (line)', subtitle: `tanh, σ_b² = ${sb2}; χ1 = 1 at σ_w² = ${critical.toFixed(3)}` },
      width: 420,
      height: 260,
      layer: [
        { data: { values: theory }, mark: { type: 'line', color: 'black' }, encoding: { x: { field: 'sigma_w2', type: 'quantitative', title: 'σ_w²' }, y: { field: 'chi1', type: 'quantitative', title: 'χ1' } } },
        { data: { values: [{ y: 1 }] }, mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, encoding: { y: { field: 'y', type: 'quantitative' } } },
        { data: { values: [{ x: critical }] }, mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, encoding: { x: { field: 'x', type: 'quantitative' } } },
        {
          data: { values: measured },
          mark: { type: 'point', filled: true, size: 50 },
          encoding: { x: { field: 'sigma_w2', type: 'quantitative' }, y: { field: 'chi1', type: 'quantitative' }, color: { field: 'depth', type: 'ordinal', title: 'hidden layers' } },
        },
      ],
    },
    `${out}_chi1`,
  );
}

async function ntkWidth(dir: string, out: string): Promise<void> {
  const points = runs(dir).flatMap(({ run, probes }) => {
    // Each probe writes its own row: merge those of the last probe step.
    const last = mergeProbeRows(probes, Math.max(...probes.map((p) => p.step)));
    if (!last || typeof last.ntk_dist !== 'number') return [];
    const width = Number(at(run.config, 'model.kwargs.width'));
    return [
      { width, metric: 'ntk_dist', value: last.ntk_dist, seed: run.config.seed },
      { width, metric: 'ntk_rel_change', value: Number(last.ntk_rel_change), seed: run.config.seed },
      ...(typeof last.fli === 'number' ? [{ width, metric: 'fli', value: last.fli, seed: run.config.seed }] : []),
    ];
  });
  await write(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: 'Wider is lazier: NTK and feature change after training vs width', subtitle: 'NTK parametrization, same data, steps and learning rate; points = seeds, line = mean' },
      width: 420,
      height: 280,
      data: { values: points },
      encoding: {
        x: { field: 'width', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'hidden width' },
        y: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: 'after training' },
        color: { field: 'metric', type: 'nominal', title: null },
      },
      layer: [{ mark: { type: 'point', opacity: 0.6 } }, { mark: 'line', encoding: { y: { aggregate: 'mean', field: 'value' } } }],
    },
    out,
  );
}

async function reluDepth(dir: string, out: string): Promise<void> {
  const rows: Row[] = [];
  // Per σ_w²: the seeds' q_1, and the deepest hidden layer (the 10-unit readout is left out: its
  // q averages over 10 units only).
  const first = new Map<number, number[]>();
  let depth = 0;
  for (const { run, probes } of runs(dir)) {
    const row = mergeProbeRows(probes, 0);
    if (!row) continue;
    const sw2 = Number(at(run.config, 'init.kwargs.sigma_w2'));
    depth = hiddenDepth(run.config);
    first.set(sw2, [...(first.get(sw2) ?? []), Number(row.q_l1)]);
    for (const [k, v] of Object.entries(row)) {
      const layer = Number(/^q_l(\d+)$/.exec(k)?.[1]);
      if (layer >= 1 && layer <= depth) rows.push({ layer, q: Number(v), sigma_w2: `σ_w² = ${sw2}`, kind: 'measured' });
    }
  }
  for (const [sw2, q1s] of first) {
    // The variance map of lib/theory from the seeds' mean q_1 on (for relu, q_{l+1} = σ_w² q_l / 2).
    const mf: MeanField = { activation: 'relu', sigma_w2: sw2, sigma_b2: 0 };
    let q = q1s.reduce((a, b) => a + b, 0) / q1s.length;
    for (let l = 1; l <= depth; l++, q = qMap(mf, q)) rows.push({ layer: l, q, sigma_w2: `σ_w² = ${sw2}`, kind: 'theory' });
  }
  await write(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: 'ReLU pre-activation second moment q_l vs depth at initialisation', subtitle: 'points: measured (preact_stats); lines: mean-field q_{l+1} = σ_w² q_l / 2' },
      width: 420,
      height: 280,
      data: { values: rows },
      encoding: {
        x: { field: 'layer', type: 'quantitative', title: 'layer' },
        y: { field: 'q', type: 'quantitative', scale: { type: 'log' }, title: 'q_l' },
        color: { field: 'sigma_w2', type: 'nominal', title: null },
      },
      layer: [
        { transform: [{ filter: "datum.kind === 'theory'" }], mark: { type: 'line', strokeDash: [4, 3] } },
        { transform: [{ filter: "datum.kind === 'measured'" }], mark: { type: 'point', filled: true } },
      ],
    },
    out,
  );
}

const [which, dir, out] = process.argv.slice(2);
const figures: Record<string, (dir: string, out: string) => Promise<void>> = { eoc_tanh: eocTanh, ntk_width: ntkWidth, relu_depth: reluDepth };
if (!which || !dir || !out || !figures[which]) {
  process.stderr.write(`usage: node --import tsx examples/plot_probes.ts ${Object.keys(figures).join('|')} RUNS_DIR OUT_PREFIX\n`);
  process.exitCode = 2;
} else {
  try {
    await figures[which]!(dir, out);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`plot_probes: ${err.message}\n`);
    process.exitCode = 2;
  }
}
