/**
 * Early termination of a sweep's runs on their live metrics: W&B's `early_terminate` with
 * `type: hyperband` (its band rule, as wandb/sweeps hyperband_stopping.py applies it) and
 * `type: asha` (asynchronous successive halving, the rungs of Ray Tune's AsyncHyperBandScheduler,
 * Li et al. 2020). A run's iterations are its logged values of the sweep metric (W&B's meaning):
 * iteration k is the k-th value it logged. Pure: the coordinator's store feeds it histories.
 */
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { formatNumber } from '../format_number.js';

const hyperbandSchema = z.strictObject({
  type: z.literal('hyperband'),
  min_iter: z.int().min(1).optional(),
  max_iter: z.int().min(1).optional(),
  s: z.number().positive().optional(),
  eta: z.number().gt(1).default(3),
  // W&B's schema default: the strict condition (the value at the band), which stops more runs.
  strict: z.boolean().default(true),
});
const ashaSchema = z.strictObject({
  type: z.literal('asha'),
  grace_period: z.int().min(1).default(1),
  reduction_factor: z.number().gt(1).default(4),
  max_t: z.int().min(1).default(100),
});

export type HyperbandConfig = z.output<typeof hyperbandSchema>;
export type AshaConfig = z.output<typeof ashaSchema>;
export type EarlyTerminate = HyperbandConfig | AshaConfig;

/** Why a run is stopped: the band (or rung) it reached, its value there, and the cut it missed. */
export interface StopDecision {
  rule: 'hyperband' | 'asha';
  band: number;
  value: number;
  cut: number;
}

/**
 * Checks a sweep's `early_terminate` block; a UsageError (one line) names what is wrong and the fix.
 * Hyperband needs `min_iter`, or `max_iter` with `s`, and gives at least one band.
 */
export function parseEarlyTerminate(raw: unknown, source: string): EarlyTerminate {
  const fail = (message: string): never => {
    throw new UsageError(`${source}: early_terminate: ${message}`);
  };
  const type = (raw as { type?: unknown } | null)?.type;
  if (type === undefined) fail('missing "type": hyperband (W&B\'s) or asha');
  if (type !== 'hyperband' && type !== 'asha') fail(`type ${JSON.stringify(type)} is not one dlphys applies; use "hyperband" (W&B's) or "asha"`);
  const parsed = (type === 'hyperband' ? hyperbandSchema : ashaSchema).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') fail(`unknown key "${issue.keys[0]}" for ${type}`);
    if (issue.code === 'too_small') fail(`"${key}" must be ${issue.inclusive ? 'at least' : 'more than'} ${String(issue.minimum)}`);
    fail(`"${key}" must be ${key === 'strict' ? 'true or false' : ['min_iter', 'max_iter', 'grace_period', 'max_t'].includes(key) ? 'a whole number' : 'a number'}`);
  }
  const config = parsed.data!;
  if (config.type === 'hyperband') {
    if (config.min_iter === undefined && (config.max_iter === undefined || config.s === undefined)) fail('hyperband needs min_iter, or max_iter with s');
    if (hyperbandBands(config).length === 0) fail('these give no band (max_iter / eta is below 1); increase max_iter or lower eta');
  }
  return config;
}

/**
 * Hyperband's bands, in iterations: from `max_iter` and `s`, max_iter/eta, max_iter/eta², ... (s
 * of them, while at least 1, as integers, ascending); from `min_iter`, min_iter·eta^k.
 * Source: wandb/sweeps hyperband_stopping.py.
 */
export function hyperbandBands(config: HyperbandConfig): number[] {
  const bands: number[] = [];
  if (config.max_iter !== undefined && config.s !== undefined) {
    let band = config.max_iter;
    for (let i = 0; i < config.s; i++) {
      band /= config.eta;
      if (band < 1) break;
      bands.push(Math.trunc(band));
    }
    return bands.sort((a, b) => a - b);
  }
  let band = config.min_iter!;
  for (let i = 0; i < 100 && band < Number.MAX_SAFE_INTEGER; i++) {
    bands.push(Math.trunc(band));
    band *= config.eta;
  }
  return bands;
}

/**
 * The values of the sweep metric at iteration `i` (1-based) of every run that has logged at least
 * i of them, the run being decided included.
 */
export type ValuesAt = (i: number) => number[];

/** ValuesAt over whole histories (tests, benches). */
export function valuesAtOf(histories: number[][]): ValuesAt {
  return (i) => histories.filter((h) => h.length >= i).map((h) => h[i - 1]!);
}

/**
 * Whether the running run `history` (its metric values in order, finite only) is stopped, given
 * the sweep's values at each iteration (`valuesAt`, the run's own included), as W&B's rule decides: at each
 * band b, the cut is the value at iteration b ranked ⌊n/eta⌋ among the n runs that reached it (best
 * first); a run past band b (its last band) is stopped when its value at b (strict) or its best so
 * far (not strict) is worse than that band's cut. `goal` max negates values, as W&B does.
 */
export function hyperbandStop(config: HyperbandConfig, goal: 'min' | 'max', history: number[], valuesAt: ValuesAt): StopDecision | null {
  const sign = goal === 'max' ? -1 : 1;
  const bands = hyperbandBands(config);
  let band = -1;
  for (const b of bands) if (b <= history.length) band = b;
  if (band === -1) return null;
  const reached = valuesAt(band).map((v) => sign * v);
  reached.sort((a, b) => a - b);
  // W&B: sorted(values)[int(r * len)] with r = 1 / eta, in that floating-point order.
  const cut = reached.length ? reached[Math.trunc((1 / config.eta) * reached.length)]! : Infinity;
  const own = history.map((v) => sign * v);
  let value = own[band - 1]!;
  if (!config.strict) for (const v of own) if (v < value) value = v; // the best so far (no spread: histories are long)
  return value > cut ? { rule: 'hyperband', band, value: sign * value, cut: sign * cut } : null;
}

/** ASHA's rungs: grace_period·rf^k below max_t. */
export function ashaRungs(config: AshaConfig): number[] {
  const rungs: number[] = [];
  for (let t = config.grace_period; t < config.max_t; t *= config.reduction_factor) rungs.push(Math.round(t));
  return rungs;
}

/**
 * ASHA's decision for a run that has just reached a rung: the highest rung among its iterations
 * `since` (exclusive) to its history's length (rows arrive in batches, so one batch may cross a
 * rung without ending on it). Stopped when its value at that rung is worse than the best
 * ⌈n/reduction_factor⌉ of the values every run that reached it recorded there (itself included),
 * as Ray's AsyncHyperBandScheduler keeps the top 1/rf. null when no rung was reached or it survives.
 */
export function ashaStop(config: AshaConfig, goal: 'min' | 'max', history: number[], valuesAt: ValuesAt, since = history.length - 1): StopDecision | null {
  const rung = ashaRungs(config)
    .filter((r) => r > since && r <= history.length)
    .pop();
  if (rung === undefined) return null;
  const sign = goal === 'max' ? -1 : 1;
  const recorded = valuesAt(rung).map((v) => sign * v);
  recorded.sort((a, b) => a - b);
  // Keep the best ⌈n/rf⌉ (at least one): the cut is the worst value kept.
  const keep = Math.max(1, Math.ceil(recorded.length / config.reduction_factor));
  const cut = recorded[keep - 1]!;
  const value = sign * history[rung - 1]!;
  return value > cut ? { rule: 'asha', band: rung, value: sign * value, cut: sign * cut } : null;
}

/** The stop decision for a running run under the sweep's rule; `since`: its history's length before the rows just arrived. */
export function earlyStop(config: EarlyTerminate, goal: 'min' | 'max', history: number[], valuesAt: ValuesAt, since = history.length - 1): StopDecision | null {
  return config.type === 'hyperband' ? hyperbandStop(config, goal, history, valuesAt) : ashaStop(config, goal, history, valuesAt, since);
}

/** A decision as status, scan and the dashboard show it. */
export function describeStop(d: StopDecision, metric: string): string {
  return `early_terminate ${d.rule}: ${metric} ${formatNumber(d.value)} at ${d.rule === 'asha' ? 'rung' : 'band'} ${d.band} is worse than its cut ${formatNumber(d.cut)}`;
}
