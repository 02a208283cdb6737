/**
 * Expands a sweep file into its runs: every run's config resolved and validated up front, so a
 * bad sweep fails before anything is recorded. Pure apart from reading the sweep and base files.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { componentName, declaredKeys, resolveConfigPaths } from '../config_paths.js';
import { configPathProblem, readJsonFile, RUN_NAME, setPath, type ExperimentConfig, type RawConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { resolveConfig } from '../experiment.js';
import { Rng } from '../rng.js';
import { gridDropsMax, gridValues, normalizeParameter, sample, type Parameter } from './distributions.js';
import { callbacks } from '../callbacks/registry.js';
import { closestName } from '../closest_name.js';
import { TRAINER_METRICS } from '../training/callback.js';
import { canonicalJson } from './canonical_json.js';
import { markFloatRanges } from './float_ranges.js';
import { readSweepFile } from './sweep_file.js';
import { parseSweepSpec, type ParameterSpec } from './spec.js';

export interface ExpandedRun {
  index: number;
  name: string;
  /** The swept values of this run, by dotted config path. */
  params: Record<string, unknown>;
  config: ExperimentConfig;
}

export interface ExpandedSweep {
  name: string;
  method: 'grid' | 'random';
  metric: { name: string; goal: 'min' | 'max' } | null;
  /** The sweep as given, with `base` inlined: enough to store and expand again without the files. */
  spec: Record<string, unknown>;
  /** sha256 hex of the canonical (sorted-key) JSON of `spec`. */
  specHash: string;
  runs: ExpandedRun[];
  warnings: string[];
}

/** More runs than this in one sweep is almost surely a mistake (int_uniform over a huge range, say). */
export const MAX_RUNS = 100_000;

/** Reads a sweep file, JSON or YAML (and its base, when that is a path), and expands it. */
export function loadSweep(file: string, options: { name?: string } = {}): ExpandedSweep {
  const { spec, floats } = readSweepFile(file);
  return expandSweep(markFloatRanges(spec, floats), {
    source: file,
    baseDir: path.dirname(path.resolve(file)),
    ...(options.name !== undefined ? { name: options.name } : {}),
  });
}

/**
 * Expands a parsed sweep. `source` names the sweep in errors (the file path), `baseDir` is the
 * sweep file's folder: where a `base` given as a path is looked up, and what relative paths in an
 * inline base or in parameter values resolve against (those in a base file resolve against its
 * own folder); the stored spec and every run's config hold them absolute. `name` overrides the
 * sweep's name.
 */
export function expandSweep(spec: unknown, options: { source: string; baseDir: string; name?: string }): ExpandedSweep {
  const { source } = options;
  const fail = (message: string): never => {
    throw new UsageError(`${source}: ${message}`);
  };
  const sweep = parseSweepSpec(spec, source);
  const warnings: string[] = [];

  // The sweep's name becomes a folder name, like a run's. A name written in the file is a display
  // name (W&B's "name: My sweep"): one that cannot be a folder name gets a slug of it, said once.
  // A --name is an id the user chose, taken as it is.
  const fileName = path.basename(source).replace(/\.(json|ya?ml)$/i, '');
  let name = options.name ?? sweep.name ?? fileName;
  if (options.name === undefined && sweep.name !== undefined && !RUN_NAME.test(name)) {
    const slug = slugify(sweep.name) || slugify(fileName);
    warnings.push(`sweep name "${sweep.name}" is its display name; its id and folder are "${slug}" (choose another with --name)`);
    name = slug;
  }
  if (!RUN_NAME.test(name)) {
    fail(`sweep name "${name}" cannot be a folder name; use letters, digits and . _ = , + - (set "name" in the sweep, or --name)`);
  }

  // Base: inline, or a path relative to the sweep file; stored inlined.
  let baseRaw: RawConfig;
  if (typeof sweep.base === 'string') {
    const file = path.resolve(options.baseDir, sweep.base);
    const loaded = readJsonFile(file, `${source}: base config`);
    if (loaded === null || typeof loaded !== 'object' || Array.isArray(loaded)) {
      return fail(`base config ${file} must be a JSON object with model, data and train`);
    }
    // Paths in a base file are relative to that file, not to the sweep file or an agent's cwd.
    baseRaw = resolveConfigPaths(loaded as RawConfig, path.dirname(file));
  } else {
    baseRaw = resolveConfigPaths(sweep.base, options.baseDir);
  }
  const storedSpec = { ...structuredClone(spec as Record<string, unknown>), base: structuredClone(baseRaw) };
  // A base's sizes may only fit together once a run's parameters are applied: checked per run.
  const baseResolved = resolveConfig(structuredClone(baseRaw), `${source}: base`, { checkSizes: false });

  // Parameters, in file order, nested blocks flattened to dotted paths.
  const flat = flattenParameters(sweep.parameters, '', source);
  flat.forEach(({ path: inner }, i) => {
    const later = flat.slice(i + 1).find(({ path: outer }) => inner.startsWith(`${outer}.`));
    if (later) {
      fail(`parameter "${inner}" is set before "${later.path}", which replaces it; list "${later.path}" first`);
    }
  });
  const params = flat.map(({ path: p, spec: s }) => {
    const param = withSource(source, () => normalizeParameter(p, s));
    checkPath(p, baseResolved, source);
    return param;
  });

  // The parameter values of every run, in order.
  let assignments: unknown[][];
  if (sweep.method === 'grid') {
    const lists = params.map((p) => {
      const values = withSource(source, () => gridValues(p));
      if (gridDropsMax(p)) {
        warnings.push(
          `parameter ${p.path}: q_uniform in a grid takes min, min+q, ... below max, as W&B does; max ${p.max} itself is not a run (raise max past it to include it)`,
        );
      }
      return values;
    });
    const total = lists.reduce((n, l) => n * l.length, 1);
    const count = Math.min(total, sweep.run_cap ?? Infinity);
    if (count > MAX_RUNS) fail(`the grid has ${total} runs, more than ${MAX_RUNS}; narrow it or set run_cap`);
    if (count < total) warnings.push(`run_cap ${sweep.run_cap} keeps the first ${count} of the grid's ${total} runs`);
    assignments = Array.from({ length: count }, (_, index) => gridPoint(lists, index));
  } else {
    if (sweep.run_cap === undefined) fail('method random needs run_cap: how many runs to sample');
    const count = sweep.run_cap!;
    if (count > MAX_RUNS) fail(`run_cap ${count} is more than ${MAX_RUNS} runs; lower it`);
    const rng = new Rng(sweep.seed, 'sweep');
    assignments = Array.from({ length: count }, () => params.map((p) => sample(p, rng)));
  }
  for (const p of params) if (p.warning) warnings.push(p.warning);
  const width = Math.max(3, String(assignments.length - 1).length);
  const nameOf = (index: number) => `r${String(index).padStart(width, '0')}`;
  // A draw that is not a finite number would reach a run's config as null (JSON has no Infinity).
  assignments.forEach((values, index) =>
    values.forEach((v, j) => {
      if (typeof v === 'number' && !Number.isFinite(v)) {
        fail(`run ${nameOf(index)}: parameter "${params[j]!.path}" (${params[j]!.distribution}) drew ${v}, which no config can hold; narrow its range`);
      }
    }),
  );

  if (sweep.early_terminate !== undefined) {
    warnings.push('early_terminate is recorded but not applied: every run trains to the end (use the early_stopping callback in base to stop runs)');
  }
  if (sweep.metric) {
    const unknown = unloggedMetric(sweep.metric.name, baseResolved);
    if (unknown) warnings.push(unknown);
  }
  if (sweep.metric?.target !== undefined) {
    warnings.push(`metric target ${sweep.metric.target} is recorded but not applied: the sweep does not stop when a run reaches it`);
  }

  const runs = assignments.map((values, index): ExpandedRun => {
    const runName = nameOf(index);
    const runSource = `${source} run ${runName}`;
    // A path given as a parameter value was written in the sweep file.
    const raw = resolveConfigPaths(applyParameters(baseRaw, baseResolved, params, values, source), options.baseDir);
    raw.name = runName;
    let config: ExperimentConfig;
    try {
      config = resolveConfig(raw, runSource);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      throw blameParameter(err, runSource, baseRaw, baseResolved, params, values, source);
    }
    const runParams: Record<string, unknown> = {};
    params.forEach((p, i) => (runParams[p.path] = structuredClone(values[i])));
    return { index, name: runName, params: runParams, config };
  });

  const goal = sweep.metric?.goal;
  return {
    name,
    method: sweep.method,
    metric: sweep.metric ? { name: sweep.metric.name, goal: goal === 'maximize' || goal === 'max' ? 'max' : 'min' } : null,
    spec: storedSpec,
    specHash: createHash('sha256').update(canonicalJson(storedSpec)).digest('hex'),
    runs,
    warnings,
  };
}

/** Runs `fn`, putting the sweep file in front of a UsageError's message. */
function withSource<T>(source: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${source}: ${err.message}`);
    throw err;
  }
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

/** Nested `parameters` blocks become dotted paths; a path given twice is an error. */
function flattenParameters(
  parameters: Record<string, ParameterSpec>,
  prefix: string,
  source: string,
  seen = new Set<string>(),
): { path: string; spec: ParameterSpec }[] {
  const out: { path: string; spec: ParameterSpec }[] = [];
  for (const [key, spec] of Object.entries(parameters)) {
    const p = prefix ? `${prefix}.${key}` : key;
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
      out.push(...flattenParameters(spec.parameters, p, source, seen));
      continue;
    }
    const problem = configPathProblem(p);
    if (problem) throw new UsageError(`${source}: parameter "${p}": ${problem}`);
    if (seen.has(p)) throw new UsageError(`${source}: parameter "${p}" is given twice; keep one`);
    seen.add(p);
    out.push({ path: p, spec });
  }
  return out;
}

/**
 * A parameter's path must name something the base config has once its defaults are filled in
 * (or a key the schema declares there, such as an optional kwarg without a default). Stricter
 * than `--set`, which lets the schema catch a new leaf: here a typo fails naming the path.
 */
function checkPath(dotted: string, resolved: ExperimentConfig, source: string): void {
  const parts = dotted.split('.');
  const fail = (message: string): never => {
    throw new UsageError(`${source}: parameter "${dotted}": ${message}`);
  };
  let node: unknown = resolved;
  for (let i = 0; i < parts.length; i++) {
    const key = parts[i]!;
    const parent = parts.slice(0, i);
    const here = parent.length ? `"${parent.join('.')}"` : 'the top level';
    if (Array.isArray(node)) {
      const index = Number(key);
      if (!Number.isInteger(index) || index < 0 || index >= node.length) {
        fail(`"${key}" is not an index of ${here}, an array of length ${node.length} in the base config (use 0..${node.length - 1})`);
      }
      node = node[index];
      continue;
    }
    if (node === null || typeof node !== 'object') {
      fail(`${here} is ${JSON.stringify(node)} in the base config, not an object, so it has no "${key}"; sweep ${here} itself`);
    }
    const obj = node as Record<string, unknown>;
    if (!(key in obj) || obj[key] === undefined) {
      const declared = declaredKeys(parent, resolved);
      if (i === parts.length - 1 && declared.includes(key)) return;
      const has = [...new Set([...Object.keys(obj), ...declared])];
      const owner = parent[parent.length - 1] === 'kwargs' ? componentName(resolved, parent.slice(0, -1)) : undefined;
      fail(
        `"${parts.slice(0, i + 1).join('.')}" is not in the base config; ${here}${owner ? ` (of ${owner})` : ''} has: ` +
          `${has.join(', ') || '(nothing)'} (fix the path, or add it to base)`,
      );
    }
    node = obj[key];
  }
}

/**
 * The base with each parameter set by its path. A parent the raw base leaves to a default
 * (`init`, a component's `kwargs`) is created first: a component as just its resolved name, so
 * its kwargs default as they would have.
 */
function applyParameters(baseRaw: RawConfig, resolved: ExperimentConfig, params: Parameter[], values: unknown[], source: string): RawConfig {
  const raw = structuredClone(baseRaw);
  params.forEach((p, i) => {
    const parts = p.path.split('.');
    let node: unknown = raw;
    let counterpart: unknown = resolved;
    for (const key of parts.slice(0, -1)) {
      if (node === null || typeof node !== 'object') break; // setPath reports it
      const container = node as Record<string, unknown>;
      const ref = counterpart && typeof counterpart === 'object' ? (counterpart as Record<string, unknown>)[key] : undefined;
      if (container[key] === undefined && ref !== null && typeof ref === 'object') {
        const refName = (ref as { name?: unknown }).name;
        container[key] = Array.isArray(ref) ? [] : typeof refName === 'string' ? { name: refName } : {};
      }
      node = container[key];
      counterpart = ref;
    }
    setPath(raw, p.path, structuredClone(values[i]), `${source}: parameter`);
  });
  return raw;
}

/**
 * A run failed to resolve: find the parameter that breaks the base on its own, so the message
 * names it and its value; else name them all (the combination is what fails).
 */
function blameParameter(
  err: UsageError,
  runSource: string,
  baseRaw: RawConfig,
  resolved: ExperimentConfig,
  params: Parameter[],
  values: unknown[],
  source: string,
): UsageError {
  const detail = err.message.startsWith(`${runSource}: `) ? err.message.slice(runSource.length + 2) : err.message;
  for (let i = 0; i < params.length; i++) {
    try {
      resolveConfig(applyParameters(baseRaw, resolved, [params[i]!], [values[i]], source), runSource);
    } catch {
      return new UsageError(
        `${runSource}: parameter "${params[i]!.path}" = ${JSON.stringify(values[i])}: ${detail} (change this parameter's values in the sweep)`,
      );
    }
  }
  const all = params.map((p, i) => `${p.path}=${JSON.stringify(values[i])}`).join(', ');
  return new UsageError(`${runSource} (${all}): ${detail} (these parameter values do not work together; change them in the sweep)`);
}

/**
 * A folder-safe id from a display name: accents dropped, lower case, every run of other
 * characters one `-` ("Test sweep: σ_w² grid" → "test-sweep-w2-grid"); empty when nothing is left.
 */
export function slugify(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * A warning when no run of this base would log `metric` (the trainer's metrics and its callbacks'
 * documented ones, `<k>` patterns included), with the nearest one it does log; null when it
 * would. The sweep still runs: scan and the dashboard rank by a metric that never appears as
 * "no value", which is what this says up front.
 */
function unloggedMetric(metric: string, base: ExperimentConfig): string | null {
  const keys: string[] = [...TRAINER_METRICS];
  for (const spec of base.callbacks) keys.push(...Object.keys(callbacks.describe(spec.name).logs ?? {}));
  const pattern = (key: string) => new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/<[^>]+>/g, '.+')}$`);
  if (keys.some((k) => pattern(k).test(metric))) return null;
  const plain = keys.filter((k) => !k.includes('<'));
  // A typo, else a longer or shorter spelling of one (val_accuracy for val_acc).
  const hint = closestName(metric, plain) ?? plain.filter((k) => metric.startsWith(k) || k.startsWith(metric)).sort((a, b) => b.length - a.length)[0];
  return `metric "${metric}" is not one the runs log (${keys.join(', ')})${hint ? `; did you mean "${hint}"?` : ''}`;
}
