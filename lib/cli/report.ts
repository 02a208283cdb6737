import { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { Goal } from '../scan/read_run.js';
import { defaultReportPath, writeReport } from '../report/write_report.js';
import { goalFlag } from './flags.js';

/** Where the command reports what it wrote; tests may hand their own. */
export interface ReportIo {
  stderr(text: string): void;
}

const processIo: ReportIo = { stderr: (text) => process.stderr.write(text) };

interface ReportFlags {
  out?: string;
  metric?: string;
  goal?: Goal;
  title?: string;
}

export function reportCommand(io: ReportIo = processIo): Command {
  return new Command('report')
    .description(
      'Write one self-contained HTML page about the run folders under DIR: the sweep, the best run, plots that fit its parameters, a sortable table of every run, and the failures with their logs.',
    )
    .argument('<dir>', 'a folder of run folders, e.g. runs/<sweep>')
    .option('-o, --out <file>', 'where to write the page, a name ending in .html (default: DIR/report.html)')
    .option('-m, --metric <name>', 'rank runs and draw plots by this metric, its best value (best.M or M) or its last (final.M) (default: the metric of DIR/sweep.json, else a val_ metric, else the first)')
    .option('--goal <goal>', 'min or max (or minimize / maximize): what "best" means for the metric (default: the sweep file\'s, else max for names containing "acc", min otherwise)', goalFlag('--goal'))
    .option('--title <text>', 'the page\'s heading (default: the sweep\'s name, else the folder\'s)')
    .addHelpText(
      'after',
      `
The page needs nothing but a browser: styles, the sorting script and the plots (SVG,
rendered here by vega) are inside it, and it fetches nothing. It shows:
  - the sweep file (DIR/sweep.json, as the coordinator writes it) or, without one, the
    config values that vary across the runs
  - run counts by status, and the best run by the metric with its value and parameters
  - plots that fit: the metric over steps (mean and +/-1 std band over seeds per
    parameter combination when there are at most 12, one band when only seeds vary,
    else per value of the first parameter when it has at most 12, else a line per run,
    at most 200); a heatmap when exactly two non-seed parameters vary (with the
    chi1 = 1 line of mean-field theory over sigma_w2 x depth or sigma_b2); the metric
    against the parameter when exactly one numeric parameter varies; per-layer probe
    families (q_l, chi1_l, c_l) at initialisation (the first probe step), where
    mean-field theory applies
  - scan's table of every run, sortable by any column, the best run highlighted
  - every failed, crashed or diverged run with its error and the end of its train.log
    (the first 50; any more counted by their error)

Examples:
  $ dlphys report runs/eoc_tanh
  $ dlphys report runs/lr-sweep --metric val_loss --out lr-sweep.html
  $ dlphys report runs/seeds --metric final.val_acc --goal max --title "Seeds, lr 0.1"`,
    )
    .action(async (dir: string, flags: ReportFlags) => {
      if (flags.out !== undefined && !/\.html$/i.test(flags.out)) {
        throw new UsageError(`--out ${flags.out}: the page is HTML; give a file name ending in .html (e.g. --out report.html)`);
      }
      const out = flags.out ?? defaultReportPath(dir);
      const { runs, plots } = await writeReport(dir, out, { metric: flags.metric, goal: flags.goal, title: flags.title });
      io.stderr(`dlphys: wrote ${out} (${runs} run${runs === 1 ? '' : 's'}, ${plots} plot${plots === 1 ? '' : 's'})\n`);
    });
}
