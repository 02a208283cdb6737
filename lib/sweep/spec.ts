/**
 * The sweep file: W&B's sweep-configuration keys (so researchers can bring theirs) plus our
 * additions `base`, `seed` and dotted parameter names. This module checks the shape of the file;
 * what each parameter means is lib/sweep/distributions, turning it into runs lib/sweep/expand.
 */
import { z } from 'zod';
import { UsageError } from '../errors.js';

/** Every key a parameter block may carry (W&B's, plus `a`/`b` so beta gets a clear refusal). */
export interface ParameterSpec {
  distribution?: string;
  value?: unknown;
  values?: unknown[];
  probabilities?: number[];
  min?: number;
  max?: number;
  mu?: number;
  sigma?: number;
  q?: number;
  a?: number;
  b?: number;
  parameters?: Record<string, ParameterSpec>;
}

export const parameterSpecSchema: z.ZodType<ParameterSpec> = z.lazy(() =>
  z.strictObject({
    distribution: z.string().optional(),
    value: z.unknown().optional(),
    values: z.array(z.unknown()).optional(),
    probabilities: z.array(z.number().nonnegative()).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    mu: z.number().optional(),
    sigma: z.number().nonnegative().optional(),
    q: z.number().positive().optional(),
    a: z.number().optional(),
    b: z.number().optional(),
    parameters: z.record(z.string(), parameterSpecSchema).optional(),
  }),
);

export const PARAMETER_KEYS = ['distribution', 'value', 'values', 'probabilities', 'min', 'max', 'mu', 'sigma', 'q', 'parameters'] as const;

export const METHODS = ['grid', 'random', 'bayes'] as const;
export type SweepMethod = (typeof METHODS)[number];

const metricSchema = z.strictObject({
  name: z.string().min(1),
  /** W&B's words, plus the short forms scan uses. W&B's default is minimize. */
  goal: z.enum(['minimize', 'maximize', 'min', 'max']).optional(),
  // W&B keys we accept and keep; expansion warns that target is not applied.
  target: z.number().optional(),
  impute: z.string().optional(),
  impute_while_running: z.string().optional(),
});

export const sweepSpecSchema = z.strictObject({
  method: z.enum(METHODS),
  metric: metricSchema.optional(),
  parameters: z.record(z.string(), parameterSpecSchema),
  run_cap: z.int().positive().optional(),
  early_terminate: z.record(z.string(), z.unknown()).optional(),
  /** Ours: the experiment config each run starts from, inline or a path relative to the sweep file. Absent in a program sweep. */
  base: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).optional(),
  /** Ours: seed of the random sampler. */
  seed: z.int().nonnegative().default(0),
  name: z.string().optional(),
  description: z.string().optional(),
  /** W&B's: the script each run executes (a program sweep), relative to the sweep file's folder. */
  program: z.string().min(1).optional(),
  /** W&B's: the command line of a program run, with W&B's macros (lib/sweep/program_command.ts). */
  // Empty means W&B's default command, as for W&B (`command or DEFAULT_SWEEP_COMMAND`).
  command: z.array(z.union([z.string(), z.number(), z.boolean()])).optional(),
  /** Ours: the folder snapshotted for agents (default the sweep file's), or false to run in place on a shared file system. */
  code_dir: z.union([z.string().min(1), z.literal(false)]).optional(),
  project: z.string().optional(),
  entity: z.string().optional(),
  /** W&B's controller: `type: local` is what a dlphys coordinator always is; recorded, nothing to change. */
  controller: z.record(z.string(), z.unknown()).optional(),
});

export type SweepSpec = z.output<typeof sweepSpecSchema>;

/** A program sweep runs the user's script (W&B's `program`/`command`); a native one dlphys's trainer from `base`. */
export function isProgramSweep(spec: SweepSpec): boolean {
  return spec.base === undefined;
}

export const SWEEP_KEYS = Object.keys(sweepSpecSchema.shape);

/**
 * Checks the shape of a parsed sweep file. Errors are one line: `<source>: <what> (<fix>)`.
 * Parameter semantics (which keys a distribution takes, min <= max, ...) are checked later.
 */
export function parseSweepSpec(spec: unknown, source: string): SweepSpec {
  const fail = (message: string): never => {
    throw new UsageError(`${source}: ${message}`);
  };
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    fail('a sweep file must be a JSON object with method, parameters and base');
  }
  const obj = spec as Record<string, unknown>;
  // Checked by hand first, so these errors come before any other and read well.
  const unknown = Object.keys(obj).filter((k) => !SWEEP_KEYS.includes(k));
  if (unknown.length) fail(`unknown key "${unknown[0]}" in the sweep; allowed: ${SWEEP_KEYS.join(', ')}`);
  if (obj.method === undefined) fail('missing "method" (use "grid" or "random")');
  if (typeof obj.method !== 'string' || !(METHODS as readonly string[]).includes(obj.method)) {
    fail(`unknown method ${JSON.stringify(obj.method)}; use "grid", "random" or "bayes"`);
  }
  if (obj.method === 'bayes' && (obj.metric === undefined || obj.metric === null)) {
    fail('method bayes needs a metric to optimise: add metric: {name: val_loss, goal: minimize}');
  }
  if (obj.parameters === undefined) fail('missing "parameters" (the values to sweep, e.g. {"optimizer.kwargs.lr": {"values": [0.01, 0.1]}})');
  if (obj.base === undefined && obj.program === undefined && obj.command === undefined) {
    fail(
      'missing "base" or "program": give "base", the experiment config each run of dlphys\'s trainer starts from (an inline object, or a path to a .json file relative to the sweep file), or "program", the script each run executes',
    );
  }
  if (obj.base !== undefined && (obj.program !== undefined || obj.command !== undefined)) {
    fail(`a sweep runs dlphys's trainer from "base" or a "program"/"command" of its own, not both; remove "${obj.program !== undefined ? 'program' : 'command'}" or "base"`);
  }
  if (obj.code_dir !== undefined && obj.base !== undefined) fail('"code_dir" belongs to a program sweep; a sweep with "base" ships no code (remove it)');
  const parsed = sweepSpecSchema.safeParse(spec, { reportInput: true });
  if (!parsed.success) fail(describeSweepIssue(parsed.error.issues[0]!));
  const out = parsed.data!;
  if (Object.keys(out.parameters).length === 0) fail('"parameters" is empty; give at least one parameter to sweep');
  return out;
}

/** `["parameters","optimizer","parameters","lr","min"]` -> parameter "optimizer.lr", key "min". */
function splitParameterPath(path: PropertyKey[]): { parameter: string; rest: string[] } | null {
  if (path[0] !== 'parameters' || path.length < 2) return null;
  const names: string[] = [];
  let i = 0;
  while (path[i] === 'parameters' && i + 1 < path.length) {
    names.push(String(path[i + 1]));
    i += 2;
  }
  return { parameter: names.join('.'), rest: path.slice(i).map(String) };
}

function describeSweepIssue(issue: z.core.$ZodIssue): string {
  const got = issue.input === undefined ? '' : ` (got ${JSON.stringify(issue.input)})`;
  const inParam = splitParameterPath(issue.path);
  if (inParam) {
    const where = `parameter "${inParam.parameter}"`;
    if (issue.code === 'unrecognized_keys') {
      return `${where}: unknown key "${issue.keys[0]}"; a parameter takes: ${PARAMETER_KEYS.join(', ')}`;
    }
    if (inParam.rest.length === 0) {
      return `${where}: must be an object such as {"values": [...]} or {"distribution": "uniform", "min": 0, "max": 1}${got}`;
    }
    return `${where}: "${inParam.rest.join('.')}" ${issue.message}${got}`;
  }
  const where = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const allowed = where === 'metric' ? Object.keys(metricSchema.shape) : SWEEP_KEYS;
    return `unknown key "${issue.keys[0]}" in ${where ? `"${where}"` : 'the sweep'}; allowed: ${allowed.join(', ')}`;
  }
  if (where === 'metric.goal') return `metric goal must be "minimize" or "maximize"${got}`;
  if (where === 'early_terminate') return `"early_terminate" must be an object such as {type: hyperband, min_iter: 3}${got}`;
  if (where === 'run_cap') return `"run_cap" must be a positive integer (how many runs at most)${got}`;
  if (where === 'seed') return `"seed" must be a non-negative integer${got}`;
  if (where === 'command' || where.startsWith('command.')) return `"command" must be a list of arguments (strings, numbers, booleans) such as ["\${env}", "\${interpreter}", "\${program}", "\${args}"]${got}`;
  if (where === 'code_dir') return `"code_dir" must be a folder (relative to the sweep file) or false (run in place on a shared file system)${got}`;
  if (where === 'base') return `"base" must be an experiment config object or a path to one${got}`;
  if (where === 'parameters') return `"parameters" must be an object of parameter blocks${got}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `missing required "${where}"`;
  return `${where ? `"${where}": ` : ''}${issue.message}${got}`;
}
