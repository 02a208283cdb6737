import path from 'node:path';
import { Command } from 'commander';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../write_file_atomic.js';
import { collect, oneOf, positiveInt } from './flags.js';
import type { Goal } from '../scan/read_run.js';
import { FORMATS, formatTable, type Format } from '../scan/format.js';
import { scanRuns } from '../scan/scan.js';
import { formatWandbCsv, wandbTable } from '../scan/wandb_csv.js';
import { PLOT_TYPES, type PlotType } from '../scan/plot.js';
import { plotSpec } from '../scan/plot_data.js';
import { THEORIES, type Theory } from '../scan/plot_theory.js';
import { plotFormat, writePlot, writeSpec } from '../scan/plot_render.js';

/** Where the command writes; tests may hand their own. */
export interface ScanIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIo: ScanIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

interface ScanFlags {
  metric?: string;
  goal?: Goal;
  all?: boolean;
  format?: ScanFormat;
  groupBy?: string[];
  where?: string[];
  top?: number;
  output?: string;
  plot?: string;
  plotType?: PlotType;
  vega?: string;
  x?: string;
  y?: string;
  logX?: boolean;
  logY?: boolean;
  theory?: Theory;
  step?: number | 'first' | 'last';
}

// wandb-csv is chosen by name only: a .csv file name means the plain table.
const SCAN_FORMATS = [...FORMATS, 'wandb-csv'] as const;
type ScanFormat = (typeof SCAN_FORMATS)[number];

// The sweep file's words (W&B's) as well as the short forms, so a goal can be copied from either.
const GOALS = ['min', 'max', 'minimize', 'maximize'] as const;

export function scanCommand(io: ScanIo = processIo): Command {
  return new Command('scan')
    .description(
      'Gather the run folders under DIR (searched recursively) into one table: the config values that differ across runs, then the final and best value of each metric.',
    )
    .argument('<dir>', 'a folder of run folders, e.g. runs/<sweep>')
    .option('-m, --metric <name>', 'show only this metric (final.NAME and best.NAME), best runs first')
    .option(
      '--goal <goal>',
      'min or max (or the sweep file\'s minimize / maximize): what "best" means for --metric (default: max if the name contains "acc", else min)',
      (value: string): Goal => (oneOf('--goal', GOALS)(value) === 'maximize' || value === 'max' ? 'max' : 'min'),
    )
    .option(
      '-a, --all',
      'show every config value, not only those that differ across runs, per-layer probe metrics (q_l1, ...), and with --group-by every statistic in the text table',
    )
    .option(
      '-f, --format <format>',
      'table, csv, json or wandb-csv (W&B\'s runs-table export, see below); default: from the --output extension, else table',
      oneOf('--format', SCAN_FORMATS),
    )
    .option('-g, --group-by <keys...>', 'one row per value of these config keys (or status): count, and mean, std, min, max and 95% interval of each metric')
    .option(
      '-w, --where <expr>',
      'keep only runs where KEY=VALUE (also !=, <, >, <=, >=; repeat: all must hold); KEY is a column or any config key. Quote it: \'lr<0.1\'',
      collect,
    )
    .option('-t, --top <k>', 'keep the K best runs (with --group-by: groups) by --metric', positiveInt('--top'))
    .option('-o, --output <file>', 'write to FILE instead of standard output')
    .option('--plot <file>', 'draw a plot (see --plot-type) to FILE.svg or FILE.png instead of the table')
    .option('--plot-type <type>', 'curves (default), scatter, heatmap or layers', oneOf('--plot-type', PLOT_TYPES))
    .option('--vega <file>', 'write the plot\'s Vega-Lite spec (JSON) to FILE instead of rendering it')
    .option('--x <key>', 'the plot\'s x: step, epoch or time for curves (default step); a config key for scatter and heatmap')
    .option('--y <key>', 'the heatmap\'s y: a config key')
    .option('--theory <name>', 'heatmap: draw the mean-field chi1 = 1 boundary over sigma_w2 x depth or sigma_w2 x sigma_b2 (chi1)', oneOf('--theory', THEORIES))
    .option('--step <n>', "layers: the probe step drawn, first (default: at initialisation), last, or a step number", probeStepFlag)
    .option('--log-x', 'logarithmic x axis (curves, scatter, heatmap, layers)')
    .option('--log-y', 'logarithmic y axis (curves and layers: the band becomes x/÷ the geometric std; scatter, heatmap)')
    .addHelpText(
      'after',
      `
Columns: run (its path under DIR), status, steps, config values as dotted keys
(optimizer.kwargs.lr; arrays as JSON), then final.M and best.M for each metric M
(best = max for names containing "acc", min otherwise), and why, when a sweep
stopped a run early. Without summary.json a run is "running" (its process is
alive on this host), "crashed" (it is not) or "incomplete" (started on another
host). Unreadable folders are reported on stderr and skipped.

With --group-by: the keys, count (runs in the group), then for each metric
column C: C.mean, C.std (sample, n-1; empty for one run), C.count (runs with a
value), C.min, C.max, C.ci95_low and C.ci95_high (the 95% interval of the mean,
mean -/+ t(0.975, n-1)*std/sqrt(n)). The text table shows mean, std and count
(--all: every statistic); CSV and JSON always hold all of them.

--where KEY OP VALUE, OP one of = != < > <= >=: numbers compare as numbers, other
values as strings (status=completed, model.kwargs.activation=tanh); VALUE may be
JSON (=true, =null). KEY: run, status, steps, why, a config key (shown or not),
final.M or best.M. A run without KEY fails every OP but !=. Filtering comes first,
then grouping, then --top (which needs --metric; runs or groups without a value
of it are not kept).

--format wandb-csv writes what W&B's "Export as CSV" of a runs table holds, for
notebooks written for that file: Name, State (completed -> finished, failed,
diverged -> crashed, stopped -> killed; without summary.json running, or crashed
if its process here is gone), Notes ("-"), User and Tags (empty), Created (start,
ISO 8601), Runtime (whole seconds), Sweep (the run's sweep folder), the config
values as the sweep file names them (those that differ; all with --all), the last
value of every metric, then _runtime and _step. Every field is quoted. --metric
only orders the rows; --where and --top apply, --group-by does not.

Examples:
  $ dlphys scan runs/lr-sweep
  $ dlphys scan runs/lr-sweep --metric val_acc
  $ dlphys scan runs/lr-sweep --metric val_loss --goal min --format csv > lr.csv
  $ dlphys scan runs/depth-width --group-by model.kwargs.depth --metric val_loss
  $ dlphys scan runs/lr-sweep --where status=completed --where 'optimizer.kwargs.lr<=0.1'
  $ dlphys scan runs/lr-sweep --where model.kwargs.activation!=relu --metric val_acc --top 5
  $ dlphys scan runs/seeds --group-by optimizer.kwargs.lr --metric val_loss --top 3 --all
  $ dlphys scan runs --all --output all-runs.json
  $ dlphys scan runs/my-sweep --format wandb-csv --output wandb_export.csv

Plots (Vega-Lite rendered to SVG or PNG; hover a mark in the SVG for its values); --where applies:
  curves   --metric M [--x step|epoch|time] [--group-by P] [--log-y]: a line per run from
           metrics.jsonl; grouped, the mean per group with a band of +/-1 std across its runs
  scatter  --x P --metric M [--log-x] [--log-y]: a point per run, M its final value (best.M: best)
  heatmap  --x P1 --y P2 --metric final.M|best.M [--theory chi1]: a cell per (P1, P2), coloured by
           the mean over its runs; --theory chi1 draws the mean-field chi1 = 1 boundary (sigma_w2
           against depth or sigma_b2, at the runs' activation and sigma_b2)
  layers   --metric q [--group-by P] [--step N|first|last]: q_l1, q_l2, ... of each run's probe step
           (default the first: at initialisation) against layer
  $ dlphys scan runs/lr-sweep --plot loss.svg --metric val_loss --log-y
  $ dlphys scan runs/seeds --plot acc.png --metric val_acc --group-by optimizer.kwargs.lr
  $ dlphys scan runs/lr-sweep --plot lr.svg --plot-type scatter --x optimizer.kwargs.lr --log-x --metric best.val_acc
  $ dlphys scan runs/eoc --plot eoc.svg --plot-type heatmap --x init.kwargs.sigma_w2 --y model.kwargs.depth --metric final.val_acc --theory chi1
  $ dlphys scan runs/eoc --plot q.svg --plot-type layers --metric q --vega q.json`,
    )
    .action(async (dir: string, flags: ScanFlags) => {
      if (flags.plot !== undefined || flags.vega !== undefined) {
        await plot(dir, flags, io);
        return;
      }
      for (const flag of ['plotType', 'x', 'y', 'logX', 'logY', 'theory', 'step'] as const) {
        if (flags[flag] !== undefined) throw new UsageError(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to plots: add --plot FILE.svg (or --vega FILE.json)`);
      }
      if (flags.goal !== undefined && flags.metric === undefined) {
        throw new UsageError('--goal needs --metric (the metric whose best value orders the runs)');
      }
      const format = flags.format ?? formatFromPath(flags.output) ?? 'table';
      if (format === 'wandb-csv' && flags.groupBy !== undefined) {
        throw new UsageError('--group-by does not apply to --format wandb-csv (W&B\'s export has one row per run); use --format csv');
      }
      const table = scanRuns(dir, { metric: flags.metric, goal: flags.goal, all: flags.all, groupBy: flags.groupBy, where: flags.where, top: flags.top });

      for (const e of table.errors) io.stderr(`dlphys: skipped ${e.path}: ${e.message}\n`);
      for (const w of table.warnings) io.stderr(`dlphys: warning: ${w}\n`);
      if (table.runs.length === 0) {
        io.stderr(`dlphys: no run folders under ${dir} (a run folder holds config.json or metrics.jsonl)\n`);
        // A table of nothing says nothing; CSV and JSON stay parseable for scripts.
        if (format === 'table') return;
      }

      const text =
        format === 'wandb-csv'
          ? formatWandbCsv(wandbTable(table.runs, { dir, all: flags.all }))
          : formatTable(format === 'table' ? { columns: table.textColumns, rows: table.rows } : table, format);
      if (flags.output === undefined) {
        io.stdout(text);
        return;
      }
      writeFileAtomic(flags.output, text);
      io.stderr(`dlphys: wrote ${table.rows.length} row${table.rows.length === 1 ? '' : 's'} to ${flags.output}\n`);
    });
}

/** `--plot` / `--vega`: a plot of the runs --where keeps, instead of the table. */
async function plot(dir: string, flags: ScanFlags, io: ScanIo): Promise<void> {
  if (flags.plot !== undefined) plotFormat(flags.plot);
  if (flags.vega !== undefined && path.extname(flags.vega).toLowerCase() !== '.json') {
    throw new UsageError(`--vega ${flags.vega}: the spec is JSON, so the file name must end in .json (for a picture use --plot FILE.svg or FILE.png)`);
  }
  for (const flag of ['format', 'output', 'top'] as const) {
    if (flags[flag] !== undefined) throw new UsageError(`--${flag} applies to the table, not to --plot; leave it out`);
  }
  const table = scanRuns(dir, { where: flags.where, all: true });
  if (table.runs.length === 0 && flags.where?.length) {
    const all = scanRuns(dir, { all: true }).runs.length;
    if (all > 0) throw new UsageError(`--where ${flags.where.join(' --where ')} kept 0 of the ${all} runs under ${dir}; loosen it`);
  }
  for (const e of table.errors) io.stderr(`dlphys: skipped ${e.path}: ${e.message}\n`);
  for (const w of table.warnings) io.stderr(`dlphys: warning: ${w}\n`);
  const spec = plotSpec(dir, table.runs, {
    type: flags.plotType ?? 'curves',
    metric: flags.metric,
    x: flags.x,
    y: flags.y,
    groupBy: flags.groupBy,
    goal: flags.goal,
    logX: flags.logX,
    logY: flags.logY,
    theory: flags.theory,
    step: flags.step,
  });
  if (flags.vega !== undefined) {
    writeSpec(spec, flags.vega);
    io.stderr(`dlphys: wrote the Vega-Lite spec to ${flags.vega}\n`);
  }
  if (flags.plot !== undefined) {
    await writePlot(spec, flags.plot);
    io.stderr(`dlphys: wrote ${flags.plot}\n`);
  }
}

/** --step: first, last, or a step number. */
function probeStepFlag(value: string): number | 'first' | 'last' {
  if (value === 'first' || value === 'last') return value;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--step ${value}: give first, last or a step number (0 is initialisation)`);
  return n;
}

function formatFromPath(file: string | undefined): Format | undefined {
  const ext = file === undefined ? '' : path.extname(file).slice(1).toLowerCase();
  if (ext === 'csv' || ext === 'json') return ext;
  return undefined;
}

