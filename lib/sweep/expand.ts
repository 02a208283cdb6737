/**
 * Expands a sweep file into its runs: every run's config resolved and validated up front, so a
 * bad sweep fails before anything is recorded. Pure apart from reading the sweep and base files.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { componentName, declaredKeys, resolveConfigPaths } from '../config_paths.js';
import { readJsonFile, RUN_NAME, setPath, type ExperimentConfig, type RawConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { resolveConfig } from '../experiment.js';
import type { Parameter } from './distributions.js';
import { callbacks } from '../callbacks/registry.js';
import { closestName } from '../closest_name.js';
import { TRAINER_METRICS } from '../training/callback.js';
import { assignRuns, flattenParameters, isOpenEnded, normalizeAll, type RunWindow } from './assignments.js';
import { canonicalJson } from './canonical_json.js';
import { markFloatRanges } from './float_ranges.js';
import { parseEarlyTerminate } from './early_terminate.js';
import { expandProgramSweep, type ProgramJob } from './program_sweep.js';
import { readSweepFile } from './sweep_file.js';
import { isProgramSweep, parseSweepSpec, type SweepSpec } from './spec.js';

export { MAX_RUNS } from './assignments.js';

export interface ExpandedRun<C extends ExperimentConfig | ProgramJob = ExperimentConfig | ProgramJob> {
  index: number;
  name: string;
  /** The swept values of this run, by dotted path (a config path in a native sweep; nested names joined in a program sweep). */
  params: Record<string, unknown>;
  /** What the run executes: its resolved experiment config, or in a program sweep its program job. */
  config: C;
}

/** The code a program sweep ships to its agents (lib/sweep/code_snapshot.ts). */
export interface CodeRef {
  /** sha256 hex of the snapshot's content. */
  hash: string;
  files: number;
  /** Uncompressed bytes. */
  bytes: number;
}

export interface ExpandedSweep<C extends ExperimentConfig | ProgramJob = ExperimentConfig | ProgramJob> {
  name: string;
  /** native: dlphys's trainer from `base`; program: the sweep's own program or command. */
  kind: 'native' | 'program';
  method: 'grid' | 'random' | 'bayes';
  metric: { name: string; goal: 'min' | 'max' } | null;
  /** The sweep as given, with `base` inlined (and a program sweep's code hash): enough to store and expand again without the files. */
  spec: Record<string, unknown>;
  /** sha256 hex of the canonical (sorted-key) JSON of `spec`. */
  specHash: string;
  runs: ExpandedRun<C>[];
  warnings: string[];
  /** A program sweep's code snapshot, when it ships one. */
  code?: CodeRef | null;
  /** That snapshot's archive: sent beside the sweep (never inside its JSON), stored by the coordinator, fetched by agents. */
  codeArchive?: Buffer;
  /** Open-ended (random without run_cap): `runs` is empty, and the coordinator makes runs as agents ask, until the sweep is cancelled. */
  open?: boolean;
  /** A program sweep's job without its params: what the coordinator makes an open-ended sweep's later runs from. */
  programTemplate?: Omit<ProgramJob, 'params'>;
}

/** How to expand: `source` names the sweep in errors, `baseDir` is the sweep file's folder; see expandSweep. */
export interface ExpandOptions {
  source: string;
  baseDir: string;
  name?: string;
  /** An open-ended sweep's runs to make (none without it); ignored by other sweeps. */
  window?: RunWindow;
  /** Runs a search method proposed (their values, one per parameter in file order), numbered from `from`. */
  proposed?: { from: number; values: unknown[][] };
  /** A program sweep made again from its stored spec: its job as first made (no code folder is read). */
  programTemplate?: Omit<ProgramJob, 'params'>;
  /** Paths a program sweep's code snapshot leaves out (the coordinator's database and runs folder). */
  codeExclude?: string[];
}

/** The sweep as a native one (dlphys's trainer from `base`); throws for a program sweep. */
export function asNativeSweep(sweep: ExpandedSweep): ExpandedSweep<ExperimentConfig> {
  if (sweep.kind !== 'native') throw new UsageError(`sweep ${sweep.name} runs a program, not dlphys's trainer`);
  return sweep as ExpandedSweep<ExperimentConfig>;
}

/** Reads a sweep file, JSON or YAML (and its base, when that is a path), and expands it. */
export function loadSweep(file: string, options: { name?: string; window?: RunWindow; codeExclude?: string[] } = {}): ExpandedSweep {
  const { spec, floats } = readSweepFile(file);
  return expandSweep(markFloatRanges(spec, floats), {
    source: file,
    baseDir: path.dirname(path.resolve(file)),
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.window ? { window: options.window } : {}),
    ...(options.codeExclude ? { codeExclude: options.codeExclude } : {}),
  });
}

/**
 * Expands a parsed sweep. `source` names the sweep in errors (the file path), `baseDir` is the
 * sweep file's folder: where a `base` given as a path is looked up, and what relative paths in an
 * inline base or in parameter values resolve against (those in a base file resolve against its
 * own folder); the stored spec and every run's config hold them absolute. `name` overrides the
 * sweep's name.
 */
export function expandSweep(spec: unknown, options: ExpandOptions): ExpandedSweep {
  const { source } = options;
  const fail = (message: string): never => {
    throw new UsageError(`${source}: ${message}`);
  };
  const sweep = parseSweepSpec(spec, source);
  const warnings: string[] = [];
  const name = sweepName(sweep, options, warnings);
  if (isProgramSweep(sweep)) {
    return expandProgramSweep(sweep, {
      source,
      baseDir: options.baseDir,
      name,
      spec: spec as Record<string, unknown>,
      warnings,
      ...(options.window ? { window: options.window } : {}),
      ...(options.proposed ? { proposed: options.proposed } : {}),
      ...(options.programTemplate ? { template: options.programTemplate } : {}),
      ...(options.codeExclude ? { codeExclude: options.codeExclude } : {}),
    });
  }

  // Base: inline, or a path relative to the sweep file; stored inlined.
  let baseRaw: RawConfig;
  // A sweep without base is a program sweep, expanded above.
  const baseSpec = sweep.base!;
  if (typeof baseSpec === 'string') {
    const file = path.resolve(options.baseDir, baseSpec);
    const loaded = readJsonFile(file, `${source}: base config`);
    if (loaded === null || typeof loaded !== 'object' || Array.isArray(loaded)) {
      return fail(`base config ${file} must be a JSON object with model, data and train`);
    }
    // Paths in a base file are relative to that file, not to the sweep file or an agent's cwd.
    baseRaw = resolveConfigPaths(loaded as RawConfig, path.dirname(file));
  } else {
    baseRaw = resolveConfigPaths(baseSpec, options.baseDir);
  }
  const storedSpec = { ...structuredClone(spec as Record<string, unknown>), base: structuredClone(baseRaw) };
  // A base's sizes may only fit together once a run's parameters are applied: checked per run.
  const baseResolved = resolveConfig(structuredClone(baseRaw), `${source}: base`, { checkSizes: false });

  // Parameters, in file order, nested blocks flattened to dotted paths.
  const flat = flattenParameters(sweep.parameters, source, true);
  flat.forEach(({ path: inner }, i) => {
    const later = flat.slice(i + 1).find(({ path: outer }) => inner.startsWith(`${outer}.`));
    if (later) {
      fail(`parameter "${inner}" is set before "${later.path}", which replaces it; list "${later.path}" first`);
    }
  });
  const params = normalizeAll(flat, source);
  for (const p of params) checkPath(p.path, baseResolved, source);

  const { values: assignments, names, first } = assignRuns(sweep, params, source, warnings, options.window, options.proposed);
  checkEarlyTerminate(sweep, source);
  if (sweep.metric) {
    const unknown = unloggedMetric(sweep.metric.name, baseResolved);
    if (unknown) warnings.push(unknown);
  }

  const runs = assignments.map((values, i): ExpandedRun<ExperimentConfig> => {
    const index = first + i;
    const runName = names[i]!;
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

  return {
    name,
    kind: 'native',
    method: sweep.method,
    metric: sweepMetric(sweep),
    open: isOpenEnded(sweep),
    spec: storedSpec,
    specHash: createHash('sha256').update(canonicalJson(storedSpec)).digest('hex'),
    runs,
    warnings,
  };
}

/**
 * How an on-demand sweep makes its runs, in words for the user: bayes (from the results so far, up
 * to run_cap) or open-ended random; null for a sweep whose runs are all made up front.
 */
export function onDemandLine(sweep: ExpandedSweep): string | null {
  if (!sweep.open) return null;
  const cap = (sweep.spec as { run_cap?: unknown }).run_cap;
  if (sweep.method === 'bayes') {
    return `bayes: each run is proposed as agents ask, from the results so far${typeof cap === 'number' ? `, up to run_cap ${cap}` : ', until dlphys-coord cancel ' + sweep.name}; the first ones are random draws`;
  }
  return `open-ended random (no run_cap): runs are made as agents ask, until dlphys-coord cancel ${sweep.name}`;
}

/**
 * The sweep's id, which becomes its folder name like a run's. A name written in the file is a
 * display name (W&B's "name: My sweep"): one that cannot be a folder name gets a slug of it, said
 * once in `warnings`. A --name (`options.name`) is an id the user chose, taken as it is.
 */
function sweepName(sweep: SweepSpec, options: { source: string; name?: string }, warnings: string[]): string {
  const fileName = path.basename(options.source).replace(/\.(json|ya?ml)$/i, '');
  let name = options.name ?? sweep.name ?? fileName;
  if (options.name === undefined && sweep.name !== undefined && !RUN_NAME.test(name)) {
    const slug = slugify(sweep.name) || slugify(fileName);
    warnings.push(`sweep name "${sweep.name}" is its display name; its id and folder are "${slug}" (choose another with --name)`);
    name = slug;
  }
  if (!RUN_NAME.test(name)) {
    throw new UsageError(`${options.source}: sweep name "${name}" cannot be a folder name; use letters, digits and . _ = , + - (set "name" in the sweep, or --name)`);
  }
  return name;
}

/** The sweep metric with its goal in scan's short words (W&B's default goal is minimize). */
export function sweepMetric(sweep: SweepSpec): ExpandedSweep['metric'] {
  if (!sweep.metric) return null;
  const goal = sweep.metric.goal;
  return { name: sweep.metric.name, goal: goal === 'maximize' || goal === 'max' ? 'max' : 'min' };
}

/** Checks a sweep's early_terminate (its rule, which needs a metric) before anything is recorded; a UsageError for what cannot work. */
export function checkEarlyTerminate(sweep: SweepSpec, source = 'sweep'): void {
  if (sweep.early_terminate === undefined) return;
  if (!sweep.metric) throw new UsageError(`${source}: early_terminate needs a metric to judge runs by: add metric: {name: val_loss, goal: minimize}`);
  parseEarlyTerminate(sweep.early_terminate, source);
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
