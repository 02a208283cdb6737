/**
 * What a sweep parameter means, as W&B defines it (wandb/sweeps, src/sweeps/params.py): sampling
 * for random search, and the list of values for grid search.
 */
import { UsageError } from '../errors.js';
import type { Rng } from '../rng.js';
import { canonicalJson } from './canonical_json.js';
import type { ParameterSpec } from './spec.js';

export const DISTRIBUTIONS = [
  'constant',
  'categorical',
  'int_uniform',
  'uniform',
  'q_uniform',
  'log_uniform',
  'log_uniform_values',
  'q_log_uniform',
  'q_log_uniform_values',
  'inv_log_uniform',
  'inv_log_uniform_values',
  'normal',
  'q_normal',
  'log_normal',
  'q_log_normal',
] as const;
export type Distribution = (typeof DISTRIBUTIONS)[number];

/** The distributions grid search can enumerate (as W&B: categorical, constant, int_uniform, q_uniform). */
export const GRID_DISTRIBUTIONS: readonly Distribution[] = ['constant', 'categorical', 'int_uniform', 'q_uniform'];

/** A parameter with its distribution known and its defaults filled in. */
export interface Parameter extends Omit<ParameterSpec, 'distribution' | 'a' | 'b' | 'parameters'> {
  /** Dotted path into the experiment config. */
  path: string;
  distribution: Distribution;
  /** A likely mistake that is still a valid spec (bounds that look like values), for the sweep's warnings. */
  warning?: string;
}

/** W&B's distributions whose min and max are natural-log exponents: they draw e^u. */
const LOG_EXPONENT_BOUNDS: ReadonlySet<Distribution> = new Set(['log_uniform', 'q_log_uniform', 'inv_log_uniform']);

/** Which keys each distribution takes, beside `distribution`; `required` must be given. */
const KEYS: Record<Distribution, { required: string[]; optional: string[] }> = {
  constant: { required: ['value'], optional: [] },
  categorical: { required: ['values'], optional: ['probabilities'] },
  int_uniform: { required: ['min', 'max'], optional: [] },
  uniform: { required: ['min', 'max'], optional: [] },
  q_uniform: { required: ['min', 'max'], optional: ['q'] },
  log_uniform: { required: ['min', 'max'], optional: [] },
  log_uniform_values: { required: ['min', 'max'], optional: [] },
  q_log_uniform: { required: ['min', 'max'], optional: ['q'] },
  q_log_uniform_values: { required: ['min', 'max'], optional: ['q'] },
  inv_log_uniform: { required: ['min', 'max'], optional: [] },
  inv_log_uniform_values: { required: ['min', 'max'], optional: [] },
  normal: { required: [], optional: ['mu', 'sigma'] },
  q_normal: { required: [], optional: ['mu', 'sigma', 'q'] },
  log_normal: { required: [], optional: ['mu', 'sigma'] },
  q_log_normal: { required: [], optional: ['mu', 'sigma', 'q'] },
};

/** Distributions whose min/max are values (not logs) and so must be positive. */
const POSITIVE_BOUNDS: ReadonlySet<Distribution> = new Set(['log_uniform_values', 'q_log_uniform_values', 'inv_log_uniform_values']);

/**
 * Infers the distribution when none is given, as W&B does (`values` -> categorical, `value` ->
 * constant, integer min/max -> int_uniform, other min/max -> uniform), checks that the keys fit
 * it, and fills W&B's defaults (mu 0, sigma 1, q 1). Errors: `parameter "<path>": ... (fix)`.
 */
export function normalizeParameter(path: string, spec: ParameterSpec): Parameter {
  const fail = (message: string): never => {
    throw new UsageError(`parameter "${path}": ${message}`);
  };
  const given = Object.keys(spec).filter((k) => (spec as Record<string, unknown>)[k] !== undefined || k === 'value');
  const has = (k: string) => given.includes(k);

  let distribution: Distribution;
  const named = spec.distribution;
  if (named === undefined) {
    if (has('value') && has('values')) fail('give either "value" (a constant) or "values" (a list), not both');
    if (has('values')) distribution = 'categorical';
    else if (has('value')) distribution = 'constant';
    else if (has('min') && has('max')) distribution = Number.isInteger(spec.min) && Number.isInteger(spec.max) ? 'int_uniform' : 'uniform';
    else if (has('min') || has('max')) return fail(`give both "min" and "max" (only "${has('min') ? 'min' : 'max'}" is set)`);
    else return fail('cannot tell its distribution; give "values": [...], "value": ..., "min" and "max", or a "distribution"');
  } else if (named === 'categorical_w_probabilities') {
    // W&B's schema name for a categorical with probabilities.
    if (!has('probabilities')) fail('distribution categorical_w_probabilities needs "probabilities"');
    distribution = 'categorical';
  } else if (named === 'beta' || named === 'q_beta') {
    return fail(`distribution ${named} is not supported here; supported: ${DISTRIBUTIONS.join(', ')}`);
  } else if ((DISTRIBUTIONS as readonly string[]).includes(named)) {
    distribution = named as Distribution;
  } else {
    return fail(`unknown distribution "${named}"; supported: ${DISTRIBUTIONS.join(', ')}`);
  }

  const { required, optional } = KEYS[distribution];
  for (const key of given) {
    if (key === 'distribution') continue;
    if (!required.includes(key) && !optional.includes(key)) {
      const takes = [...required, ...optional];
      fail(`"${key}" does not apply to distribution ${distribution} (it takes ${takes.length ? takes.join(', ') : 'no other keys'})`);
    }
  }
  const missing = required.filter((k) => !has(k));
  if (missing.length) fail(`distribution ${distribution} needs ${missing.map((k) => `"${k}"`).join(' and ')}`);

  const out: Parameter = { path, distribution };
  if (distribution === 'constant') out.value = spec.value;
  if (distribution === 'categorical') {
    const values = spec.values!;
    if (values.length === 0) fail('"values" is empty; list at least one value');
    out.values = values;
    if (spec.probabilities !== undefined) {
      const p = spec.probabilities;
      if (p.length !== values.length) {
        fail(`"probabilities" has ${p.length} entries but "values" has ${values.length}; give one probability per value`);
      }
      const sum = p.reduce((a, b) => a + b, 0);
      if (Math.abs(sum - 1) > 1e-6) fail(`"probabilities" sum to ${sum}, not 1; make them sum to 1`);
      out.probabilities = p;
    }
  }
  if (required.includes('min')) {
    const min = spec.min!;
    const max = spec.max!;
    if (min > max) fail(`min ${min} is greater than max ${max}; swap them`);
    if (distribution === 'int_uniform' && !(Number.isInteger(min) && Number.isInteger(max))) {
      fail(`int_uniform needs integer min and max (got ${min}, ${max}); use distribution "uniform" for a real range`);
    }
    if (POSITIVE_BOUNDS.has(distribution) && min <= 0) {
      fail(`${distribution} takes min and max as values (not logs), so min must be > 0 (got ${min}); use distribution log_uniform for bounds given as natural logs`);
    }
    if (LOG_EXPONENT_BOUNDS.has(distribution)) {
      // W&B's log_uniform draws e^u, u in [min, max]: bounds are natural-log exponents.
      const extreme = distribution === 'inv_log_uniform' ? -min : max;
      const drawn = Math.exp(extreme);
      if (!Number.isFinite(drawn) || drawn === 0) {
        fail(
          `${distribution} takes natural-log exponents, and ${distribution === 'inv_log_uniform' ? `min ${min}` : `max ${max}`} draws e^${extreme} = ${drawn}; give the bounds as logs (ln 0.001 = -6.908), or use ${distribution}_values for min and max as values`,
        );
      }
      if (min > 0 && min < 1) {
        out.warning =
          `parameter "${path}": ${distribution} takes natural-log exponents, so min ${min} and max ${max} draw from e^${min} to e^${max} ` +
          `(${tidy(Math.exp(min))} to ${tidy(Math.exp(max))}); for values from ${min} to ${max} use ${distribution}_values`;
      }
    }
    out.min = min;
    out.max = max;
  }
  if (optional.includes('mu')) {
    out.mu = spec.mu ?? 0;
    out.sigma = spec.sigma ?? 1;
  }
  if (optional.includes('q')) out.q = spec.q ?? 1;
  return out;
}

/** round(x / q) * q without float noise: an integer for integer q, else tidied to 12 digits. */
export function quantize(x: number, q: number): number {
  const r = Math.round(x / q) * q;
  return tidy(Number.isInteger(q) ? Math.round(r) : r);
}

function tidy(x: number): number {
  const t = Number.parseFloat(x.toPrecision(12));
  return t === 0 ? 0 : t; // no -0
}

/** One draw of the parameter, as W&B's random search draws it. */
export function sample(p: Parameter, rng: Rng): unknown {
  const u = (lo: number, hi: number) => lo + (hi - lo) * rng.uniform();
  const min = p.min!;
  const max = p.max!;
  const mu = p.mu!;
  const sigma = p.sigma!;
  const q = p.q!;
  switch (p.distribution) {
    case 'constant':
      return p.value;
    case 'categorical': {
      const values = p.values!;
      if (!p.probabilities) return values[rng.int(values.length)];
      const x = rng.uniform();
      let acc = 0;
      for (let i = 0; i < values.length; i++) {
        acc += p.probabilities[i]!;
        if (x < acc) return values[i];
      }
      // Rounding left the sum a hair under 1: the last value with any weight.
      for (let i = values.length - 1; i >= 0; i--) if (p.probabilities[i]! > 0) return values[i];
      return values[values.length - 1];
    }
    case 'int_uniform':
      return min + rng.int(max - min + 1);
    case 'uniform':
      return u(min, max);
    case 'q_uniform':
      return quantize(u(min, max), q);
    case 'log_uniform':
      // min and max are natural logs of the bounds.
      return Math.exp(u(min, max));
    case 'log_uniform_values':
      return Math.exp(u(Math.log(min), Math.log(max)));
    case 'q_log_uniform':
      return quantize(Math.exp(u(min, max)), q);
    case 'q_log_uniform_values':
      return quantize(Math.exp(u(Math.log(min), Math.log(max))), q);
    case 'inv_log_uniform':
      // X = exp(-U(min, max)): log(1/X) is uniform on [min, max].
      return Math.exp(-u(min, max));
    case 'inv_log_uniform_values':
      // W&B: 1/X is log-uniform between 1/max and 1/min (so X lies in [min, max]).
      return Math.exp(-u(-Math.log(max), -Math.log(min)));
    case 'normal':
      return mu + sigma * rng.normal();
    case 'q_normal':
      return quantize(mu + sigma * rng.normal(), q);
    case 'log_normal':
      return Math.exp(mu + sigma * rng.normal());
    case 'q_log_normal':
      return quantize(Math.exp(mu + sigma * rng.normal()), q);
  }
}

/** Grid search refuses more values than this for one parameter (a typo like max 1e9). */
export const MAX_GRID_VALUES = 10_000;

/**
 * The values grid search enumerates, as W&B does: values, [value], min..max for int_uniform, and
 * for q_uniform min, min+q, ... below max (numpy.arange(min, max, q): max itself is excluded).
 * A continuous distribution, or a categorical with probabilities, is a UsageError saying why.
 */
export function gridValues(p: Parameter): unknown[] {
  const fail = (message: string): never => {
    throw new UsageError(`parameter "${p.path}": ${message}`);
  };
  switch (p.distribution) {
    case 'constant':
      return [p.value];
    case 'categorical':
      if (p.probabilities) fail('grid search enumerates values and takes no "probabilities"; drop them, or use method random');
      return distinctValues(p.values!);
    case 'int_uniform': {
      const n = p.max! - p.min! + 1;
      if (n > MAX_GRID_VALUES) fail(`int_uniform ${p.min}..${p.max} gives ${n} grid values, more than ${MAX_GRID_VALUES}; narrow the range or use method random`);
      return Array.from({ length: n }, (_, i) => p.min! + i);
    }
    case 'q_uniform': {
      const { min, max, q } = p as Required<Pick<Parameter, 'min' | 'max' | 'q'>>;
      // Like numpy.arange: ceil((max - min) / q) points, with a tolerance for float noise.
      const steps = (max - min) / q;
      const n = Math.max(0, Math.ceil(steps - 1e-9));
      if (n === 0) fail(`q_uniform from min ${min} to max ${max} has no grid values (max is excluded, as in W&B); raise max`);
      if (n > MAX_GRID_VALUES) fail(`q_uniform gives ${n} grid values, more than ${MAX_GRID_VALUES}; raise q or narrow the range`);
      return Array.from({ length: n }, (_, i) => {
        const x = min + i * q;
        return Number.isInteger(min) && Number.isInteger(q) ? x : tidy(x);
      });
    }
    default:
      throw new UsageError(
        `grid search enumerates values; parameter ${p.path} has continuous distribution ${p.distribution} — give "values", or use method random`,
      );
  }
}

/** True when q_uniform's max falls on the grid but is left out (W&B's arange excludes it). */
export function gridDropsMax(p: Parameter): boolean {
  if (p.distribution !== 'q_uniform') return false;
  const steps = (p.max! - p.min!) / p.q!;
  return steps > 0 && Math.abs(steps - Math.round(steps)) < 1e-9;
}

/**
 * The values in first-seen order, each once: values equal by content count once, objects
 * whatever their key order (a JSON value is its canonical, sorted-key JSON). W&B's grid does the
 * same (wandb/sweeps grid_search.py hashes each value's sorted-key YAML and skips a combination
 * it has already proposed), so `["relu", "tanh", "relu"]` is two grid points, not three.
 */
export function distinctValues(values: readonly unknown[]): unknown[] {
  const seen = new Set<string>();
  return values.filter((v) => {
    const key = canonicalJson(v);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
