/**
 * The parameter values of a sweep's runs, whatever the runs execute (dlphys's trainer or a
 * program): grid order and random draws as wandb/sweeps makes them (grid_search.py, params.py),
 * and the run names they get. Shared by native and program sweeps (lib/sweep/expand.ts,
 * lib/sweep/program_sweep.ts).
 */
import { configPathProblem } from '../config.js';
import { UsageError } from '../errors.js';
import { Rng } from '../rng.js';
import { gridDropsMax, gridValues, normalizeParameter, sample, type Parameter } from './distributions.js';
import { parseSweepSpec, type ParameterSpec, type SweepSpec } from './spec.js';

/** More runs than this in one sweep is almost surely a mistake (int_uniform over a huge range, say). */
export const MAX_RUNS = 100_000;

/** One parameter of the file, nested blocks flattened: `keys` is its place in W&B's nested run config, `path` their dotted join. */
export interface FlatParameter {
  path: string;
  keys: string[];
  spec: ParameterSpec;
}

/**
 * Nested `parameters` blocks become one entry each, in file order; a dotted path given twice is an
 * error. `configPaths`: names must be dotted config paths (a native sweep's); a program sweep's
 * names are whatever its program reads.
 */
export function flattenParameters(
  parameters: Record<string, ParameterSpec>,
  source: string,
  configPaths: boolean,
  prefix: string[] = [],
  seen = new Set<string>(),
): FlatParameter[] {
  const out: FlatParameter[] = [];
  for (const [key, spec] of Object.entries(parameters)) {
    const keys = [...prefix, key];
    const p = keys.join('.');
    if (spec.parameters !== undefined) {
      const other = Object.keys(spec).filter((k) => k !== 'parameters');
      if (other.length) {
        throw new UsageError(
          `${source}: parameter "${p}": a block with nested "parameters" takes nothing else (found "${other[0]}"); move it into a parameter of its own`,
        );
      }
      if (Object.keys(spec.parameters).length === 0) {
        throw new UsageError(`${source}: parameter "${p}": nested "parameters" is empty; give at least one parameter or remove the block`);
      }
      out.push(...flattenParameters(spec.parameters, source, configPaths, keys, seen));
      continue;
    }
    const problem = configPaths ? configPathProblem(p) : null;
    if (problem) throw new UsageError(`${source}: parameter "${p}": ${problem}`);
    if (seen.has(p)) throw new UsageError(`${source}: parameter "${p}" is given twice; keep one`);
    seen.add(p);
    out.push({ path: p, keys, spec });
  }
  return out;
}

/** A stored spec's parameters as its search sees them: flattened in file order, their distributions known. */
export function sweepParameters(spec: unknown, source: string): { sweep: SweepSpec; flat: FlatParameter[]; params: Parameter[] } {
  const sweep = parseSweepSpec(spec, source);
  const flat = flattenParameters(sweep.parameters, source, sweep.base !== undefined);
  return { sweep, flat, params: normalizeAll(flat, source) };
}

/** Runs `fn`, putting the sweep file in front of a UsageError's message. */
export function withSource<T>(source: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${source}: ${err.message}`);
    throw err;
  }
}

/** The parameters with their distributions known (normalizeParameter), errors naming the file. */
export function normalizeAll(flat: FlatParameter[], source: string): Parameter[] {
  return flat.map(({ path, spec }) => withSource(source, () => normalizeParameter(path, spec)));
}

/** Runs of an open-ended sweep (random without run_cap) named with this many digits at least: r0000. */
const OPEN_NAME_DIGITS = 4;

/**
 * Whether runs are made as agents ask rather than up front: bayes search (each run proposed from
 * the results so far, up to run_cap if any), and W&B's random search without run_cap (until the
 * sweep is cancelled).
 */
export function isOpenEnded(sweep: SweepSpec): boolean {
  return sweep.method === 'bayes' || (sweep.method === 'random' && sweep.run_cap === undefined);
}

/** A slice of a sweep's runs: indices `from` to `from + count - 1`. */
export interface RunWindow {
  from: number;
  count: number;
}

/**
 * The values of every run, in order (one array per run, one value per parameter), and the run
 * names `r000`, `r001`, ... Grid: the cartesian product, the first parameter varying slowest, cut
 * at run_cap; random: run_cap draws from the sweep's seed, or for an open-ended sweep (no run_cap)
 * the runs of `window` (none without one): run i's values are the i-th draw of the seed's stream
 * whichever window asks, so runs made later, by a restarted coordinator, are the same runs.
 * Warnings (a grid cut by run_cap, q_uniform leaving out max, bounds that look like values) are
 * pushed to `warnings`. Throws a UsageError for too many runs and any draw that is not a finite
 * number (JSON cannot hold it: it would reach the run as null).
 */
export function assignRuns(
  sweep: SweepSpec,
  params: Parameter[],
  source: string,
  warnings: string[],
  window?: RunWindow,
  /** The values of runs a search method proposed (bayes), numbered from `from`. */
  proposed?: { from: number; values: unknown[][] },
): { values: unknown[][]; names: string[]; first: number } {
  const fail = (message: string): never => {
    throw new UsageError(`${source}: ${message}`);
  };
  let values: unknown[][];
  let first = 0;
  if (proposed) {
    first = proposed.from;
    values = proposed.values;
  } else if (isOpenEnded(sweep)) {
    // Random draws: an open-ended random search's runs, and the first runs of a bayes search.
    first = window?.from ?? 0;
    const count = window?.count ?? 0;
    if (first + count > MAX_RUNS) fail(`an open-ended sweep makes at most ${MAX_RUNS} runs; cancel it, or set run_cap`);
    const rng = new Rng(sweep.seed, 'sweep');
    for (let i = 0; i < first; i++) for (const p of params) sample(p, rng);
    values = Array.from({ length: count }, () => params.map((p) => sample(p, rng)));
  } else if (sweep.method === 'grid') {
    const lists = params.map((p) => {
      const list = withSource(source, () => gridValues(p));
      if (gridDropsMax(p)) {
        warnings.push(
          `parameter ${p.path}: q_uniform in a grid takes min, min+q, ... below max, as W&B does; max ${p.max} itself is not a run (raise max past it to include it)`,
        );
      }
      return list;
    });
    const total = lists.reduce((n, l) => n * l.length, 1);
    const count = Math.min(total, sweep.run_cap ?? Infinity);
    if (count > MAX_RUNS) fail(`the grid has ${total} runs, more than ${MAX_RUNS}; narrow it or set run_cap`);
    if (count < total) warnings.push(`run_cap ${sweep.run_cap} keeps the first ${count} of the grid's ${total} runs`);
    values = Array.from({ length: count }, (_, index) => gridPoint(lists, index));
  } else {
    const count = sweep.run_cap!;
    if (count > MAX_RUNS) fail(`run_cap ${count} is more than ${MAX_RUNS} runs; lower it`);
    const rng = new Rng(sweep.seed, 'sweep');
    values = Array.from({ length: count }, () => params.map((p) => sample(p, rng)));
  }
  for (const p of params) if (p.warning) warnings.push(p.warning);
  const width = isOpenEnded(sweep) ? OPEN_NAME_DIGITS : Math.max(3, String(values.length - 1).length);
  const names = values.map((_, i) => `r${String(first + i).padStart(width, '0')}`);
  values.forEach((row, index) =>
    row.forEach((v, j) => {
      if (typeof v === 'number' && !Number.isFinite(v)) {
        fail(`run ${names[index]}: parameter "${params[j]!.path}" (${params[j]!.distribution}) drew ${v}, which no config can hold; narrow its range`);
      }
    }),
  );
  return { values, names, first };
}

/** Grid point `index` of the cartesian product; the first list varies slowest. */
function gridPoint(lists: unknown[][], index: number): unknown[] {
  const point = new Array<unknown>(lists.length);
  for (let i = lists.length - 1; i >= 0; i--) {
    const list = lists[i]!;
    point[i] = list[index % list.length];
    index = Math.floor(index / list.length);
  }
  return point;
}
