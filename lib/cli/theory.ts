import { Command } from 'commander';
import { UsageError } from '../errors.js';
import { formatNumber } from '../format_number.js';
import { FORMATS, formatCsv, formatJson, formatText, type Format } from '../scan/format.js';
import type { Row } from '../scan/scan.js';
import type { Activation } from '../models/layers.js';
import { THEORY_ACTIVATIONS, isActivation } from '../theory/activations.js';
import { chi1, criticalPoint, cStar, depthScales, qStar, type CriticalPoint, type MeanField } from '../theory/mean_field.js';
import { nonNegative, nonNegativeInt, oneOf, positiveInt } from './flags.js';
import { configReport } from './theory_config.js';

/** Where the command writes; tests may hand their own. */
export interface TheoryIo {
  stdout(text: string): void;
}

const processIo: TheoryIo = { stdout: (text) => process.stdout.write(text) };

interface TheoryFlags {
  activation?: string;
  sigmaB2: number;
  sigmaW2?: number[];
  format: Format;
  step: number;
  nProbe?: number;
}

const COLUMNS = ['sigma_w2', 'q_star', 'c_star', 'chi1', 'xi_q', 'xi_c', 'phase'] as const;
const DEFAULT_RANGE = '0.5:4:0.25';
/** |χ1 − 1| below this is called critical. */
const CRITICAL_TOLERANCE = 1e-6;
/** More rows than this is a typo in the range, not a table anyone reads. */
const MAX_ROWS = 10_000;

export function theoryCommand(io: TheoryIo = processIo): Command {
  return (
    new Command('theory')
      .description(
        'Mean-field predictions for deep fully connected networks at initialisation (Poole et al. 2016; Schoenholz et al. 2017): the critical sigma_w2, then per sigma_w2 the fixed points q* and c*, chi1 and the depth scales.',
      )
      .argument('[config-or-run]', "an experiment config or a run folder: per-layer predictions for its network, beside its probes' measurements")
      .option('-a, --activation <name>', `the activation: ${THEORY_ACTIVATIONS.join(', ')}`)
      .option('--sigma-b2 <v>', 'bias variance sigma_b^2 (>= 0)', nonNegative('--sigma-b2'), 0)
      .option('--sigma-w2 <values>', `weight variances: a comma list (1,1.5,2) or START:STOP:STEP, STOP included (default ${DEFAULT_RANGE})`, parseSigmaW2)
      .option('-f, --format <format>', 'table, csv or json', oneOf('--format', FORMATS), 'table')
      .option('--step <n>', "with a run folder: the probe step whose measurements to show (0 = at initialisation)", nonNegativeInt('--step'), 0)
      .option('--n-probe <n>', "with a config: probe inputs to predict for (default: its preact_stats or criticality n_probe, else 64)", positiveInt('--n-probe'))
      .addHelpText(
        'after',
        `
Columns: sigma_w2; q_star, the fixed point of the variance map reached from q = 1
(inf when it grows without bound); c_star, the stable correlation fixed point at q*;
chi1 = sigma_w2 E[phi'(h)^2] at q* (c_star is - where every correlation is a fixed point, e.g. q* = 0); xi_q and xi_c, the depth scales in layers
(inf at criticality); phase: ordered (chi1 < 1), chaotic (chi1 > 1) or critical.
JSON: {"critical": {...}, "rows": [...]}, with inf as the string "Infinity".

With CONFIG or a RUN folder (model mlp): one row per layer with the prediction for that
network fed its probe inputs (the same draw as its probes: same seed, same n) — q_l, the
mean second moment of the pre-activations; c_l, the mean cosine similarity of distinct inputs;
chi1_l, the per-unit gain of the Jacobian into the next layer — and, for a run folder, what
preact_stats and criticality measured there (q_l<k>, c_l<k>, chi1_l<k> of metrics.jsonl).

Examples:
  $ dlphys theory --activation tanh --sigma-b2 0.05
  $ dlphys theory examples/mlp.json
  $ dlphys theory runs/eoc_tanh/r013 --step 0
  $ dlphys theory --activation relu --sigma-w2 1,2,3 --format csv
  $ dlphys theory --activation erf --sigma-b2 0.1 --sigma-w2 1:3:0.1 --format json`,
      )
      .action(async (target: string | undefined, flags: TheoryFlags, command: Command) => {
        const fromCli = (k: string) => command.getOptionValueSource(k) === 'cli';
        if (target === undefined) {
          const given = ['step', 'nProbe'].find(fromCli);
          if (given) throw new UsageError(`--${given === 'step' ? 'step' : 'n-probe'} is for a config or run folder (dlphys theory CONFIG_OR_RUN), not for the --activation table; drop it`);
        }
        if (target !== undefined) {
          const given = ['activation', 'sigmaB2', 'sigmaW2'].filter(fromCli);
          if (given.length > 0) {
            throw new UsageError(`--${given[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for the activation table; with a config or run folder the network's own activation and init apply (drop the flag)`);
          }
          io.stdout(await configReport(target, { step: flags.step, format: flags.format, ...(flags.nProbe !== undefined ? { nProbe: flags.nProbe } : {}) }));
          return;
        }
        if (flags.activation === undefined) throw new UsageError(`--activation is required (one of ${THEORY_ACTIVATIONS.join(', ')}), or give a config or run folder`);
        if (!isActivation(flags.activation)) {
          throw new UsageError(`--activation must be one of ${THEORY_ACTIVATIONS.join(', ')} (got "${flags.activation}")`);
        }
        io.stdout(activationReport(flags.activation, flags.sigmaB2, flags.sigmaW2 ?? parseSigmaW2(DEFAULT_RANGE), flags.format));
      })
  );
}

/** The critical point and one row per σ_w², in the chosen format. */
export function activationReport(activation: Activation, sigma_b2: number, sigmaW2: readonly number[], format: Format): string {
  const critical = criticalPoint(activation, sigma_b2);
  const rows = sigmaW2.map((sigma_w2) => theoryRow({ activation, sigma_w2, sigma_b2 }));
  const table = { columns: COLUMNS, rows };
  switch (format) {
    case 'table':
      return `${criticalLine(critical)}\n${formatText(table)}`;
    case 'csv':
      return formatCsv(table);
    case 'json': {
      // formatJson writes an array of rows with "Infinity" for ±inf; wrap it with the critical point.
      const json = (value: number) => (Number.isFinite(value) ? value : String(value));
      const criticalJson = {
        activation,
        sigma_b2,
        sigma_w2: critical.sigma_w2,
        q_star: json(critical.q_star),
        continuous: critical.continuous,
        ...(critical.continuous ? {} : { chi1_below: critical.chi1_below, chi1_above: critical.chi1_above, q_star_below: json(critical.q_star_below), q_star_above: json(critical.q_star_above) }),
      };
      return JSON.stringify({ critical: criticalJson, rows: JSON.parse(formatJson(table)) as unknown }, null, 2) + '\n';
    }
  }
}

function theoryRow(mf: MeanField): Row {
  const q = qStar(mf);
  const chi = chi1(mf, q);
  const { xi_q, xi_c } = depthScales(mf);
  const phase = Math.abs(chi - 1) <= CRITICAL_TOLERANCE ? 'critical' : chi < 1 ? 'ordered' : 'chaotic';
  const c = cStar(mf);
  // NaN: no single c* (every correlation is a fixed point); the table shows "-".
  return { sigma_w2: mf.sigma_w2, q_star: q, c_star: Number.isNaN(c) ? null : c, chi1: chi, xi_q, xi_c, phase };
}

function criticalLine(p: CriticalPoint): string {
  const w = p.sigma_w2.toFixed(4);
  if (p.continuous) return `critical sigma_w2 = ${w} (chi1 = 1 at q* = ${formatNumber(p.q_star)})`;
  return (
    `critical sigma_w2 = ${w} (no point with chi1 = 1: q* jumps from ${formatNumber(p.q_star_below)} to ${formatNumber(p.q_star_above)} ` +
    `and chi1 from ${formatNumber(p.chi1_below)} to ${formatNumber(p.chi1_above)} there)`
  );
}

/**
 * `--sigma-w2`: a comma list of numbers, or START:STOP:STEP with STOP included (up to rounding).
 * Every value must be a finite number >= 0; a range needs STEP > 0 and STOP >= START.
 */
export function parseSigmaW2(value: string): number[] {
  const fix = `give a comma list like 1,1.5,2 or START:STOP:STEP like ${DEFAULT_RANGE}`;
  const num = (text: string): number => {
    const n = text.trim() === '' ? NaN : Number(text);
    if (!Number.isFinite(n)) throw new UsageError(`--sigma-w2: "${text}" is not a number; ${fix}`);
    if (n < 0) throw new UsageError(`--sigma-w2: ${text} is negative, a variance must be >= 0; ${fix}`);
    return n;
  };
  const parts = value.split(':');
  if (parts.length === 1) return value.split(',').map(num);
  if (parts.length !== 3) throw new UsageError(`--sigma-w2 "${value}" is not a list or a range; ${fix}`);
  const [start, stop] = [num(parts[0]!), num(parts[1]!)];
  const step = Number(parts[2]);
  if (!(Number.isFinite(step) && step > 0)) throw new UsageError(`--sigma-w2: STEP must be a number > 0 (got "${parts[2]}"); ${fix}`);
  if (stop < start) throw new UsageError(`--sigma-w2: STOP ${stop} is below START ${start}; ${fix}`);
  const count = Math.floor((stop - start) / step + 1e-9) + 1;
  if (count > MAX_ROWS) throw new UsageError(`--sigma-w2 "${value}" gives ${count} values (at most ${MAX_ROWS}); use a larger STEP`);
  // start + i·step, rounded to 12 significant digits so that 0.5:4:0.1 prints 0.7, not 0.7000000000000001.
  return Array.from({ length: count }, (_, i) => Number((start + i * step).toPrecision(12)));
}
