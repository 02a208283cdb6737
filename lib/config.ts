import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from './errors.js';

const componentSpec = z.strictObject({
  name: z.string(),
  kwargs: z.record(z.string(), z.unknown()).optional(),
});

const trainSettings = z
  .strictObject({
    steps: z.int().positive().optional().describe('optimizer steps in all (or give epochs)'),
    epochs: z.int().positive().optional().describe('passes over the training split (or give steps)'),
    batch_size: z.int().positive().default(128),
    eval_every: z.int().nonnegative().default(0).describe('steps between evaluations; 0 = only at the end'),
    log_every: z.int().positive().default(10).describe('steps between train-metric lines'),
    eval_batch_size: z.int().positive().default(1024),
  })
  .refine((t) => (t.steps === undefined) !== (t.epochs === undefined), {
    message: 'give exactly one of "steps" or "epochs"',
  });

export const RUN_NAME = /^[A-Za-z0-9][A-Za-z0-9._=,+-]*$/;

export const experimentConfigSchema = z.strictObject({
  name: z.string().regex(RUN_NAME, 'use letters, digits and . _ = , + - (it becomes a folder name)').optional(),
  seed: z.int().nonnegative().default(0),
  model: componentSpec,
  init: componentSpec.default({ name: 'lecun' }),
  optimizer: componentSpec.default({ name: 'sgd', kwargs: { lr: 0.01 } }),
  /** Default: cross_entropy for classification data, mse for regression. */
  loss: componentSpec.optional(),
  schedule: componentSpec.default({ name: 'constant' }),
  data: componentSpec,
  train: trainSettings,
  callbacks: z.array(componentSpec).default([]),
  notes: z.string().optional(),
  /** Written by the run manager into a run's config.json; ignored on input so that file can be trained again as it is. */
  provenance: z.record(z.string(), z.unknown()).optional(),
});

export type ExperimentConfig = z.output<typeof experimentConfigSchema>;

/** A config as read from disk, before defaults: what `--set` and sweeps edit. */
export type RawConfig = Record<string, unknown>;

/** Reads a text file; a missing or unreadable one is a UsageError naming it (`what`: config, sweep). */
export function readTextFile(file: string, what = 'config'): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${what} file not found: ${file} (check the path)`);
    if (code === 'EISDIR') throw new UsageError(`${what} file is a directory: ${file} (give the path of a file)`);
    throw new UsageError(`cannot read ${what} file ${file}: ${(err as Error).message}`);
  }
}

/** Reads and parses a JSON file; a missing or unparsable file is a UsageError naming it. */
export function readJsonFile(file: string, what = 'config'): unknown {
  const text = readTextFile(file, what);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} file ${file} is not valid JSON: ${(err as Error).message} (fix the syntax)`);
  }
}

/**
 * Validates a raw config and fills the defaults of the top level. Component kwargs are checked
 * later against their registries (resolveComponents in lib/experiment).
 */
export function parseConfig(raw: unknown, source: string): ExperimentConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UsageError(`${source}: a config must be a JSON object with model, data and train`);
  }
  const parsed = experimentConfigSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw new UsageError(`${source}: ${describeConfigIssue(parsed.error.issues[0]!)}`);
  return parsed.data;
}

function describeConfigIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const parent = where ? `"${where}"` : 'the top level';
    const allowed = schemaKeys(issue.path) ?? [];
    return `unknown key "${issue.keys[0]}" in ${parent}; allowed: ${allowed.join(', ')}`;
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) return `missing required "${where}"`;
  const got = issue.input === undefined ? '' : ` (got ${JSON.stringify(issue.input)})`;
  return `${where ? `"${where}": ` : ''}${issue.message}${got}`;
}

/** Parses a `--set` value: JSON when it parses (numbers, booleans, arrays, objects), else a plain string. */
export function parseSetValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Path parts that would reach Object.prototype rather than the config. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

/**
 * Why `dotted` cannot be a config path, or undefined when it can: every part must be a key (none
 * empty), and none may reach Object.prototype. The one rule for `--set` and sweep parameters.
 */
export function configPathProblem(dotted: string): string | undefined {
  const parts = dotted.split('.');
  if (parts.some((p) => p === '')) return 'empty part in the path (write a.b.c, e.g. optimizer.kwargs.lr)';
  const forbidden = parts.find((p) => FORBIDDEN_KEYS.has(p));
  if (forbidden) return `"${forbidden}" cannot be part of a config path`;
  return undefined;
}

/**
 * The keys the schema declares in the object at `parts` (an array index steps into the element),
 * or undefined where it declares none: a leaf, a path off the schema, or a component's `kwargs`,
 * which the schema leaves open for the component's registry to declare (lib/config_paths).
 */
export function schemaKeys(parts: readonly PropertyKey[]): string[] | undefined {
  let node = unwrapSchema(experimentConfigSchema);
  for (const part of parts) {
    if (node instanceof z.ZodArray) {
      if (!/^\d+$/.test(String(part))) return undefined;
      node = unwrapSchema(node.element as z.ZodType);
    } else if (node instanceof z.ZodObject && typeof part === 'string' && Object.hasOwn(node.shape, part)) {
      node = unwrapSchema(node.shape[part] as z.ZodType);
    } else {
      return undefined;
    }
  }
  return node instanceof z.ZodObject ? Object.keys(node.shape) : undefined;
}

/** The schema under its defaults and optionality: what a present value must be. */
function unwrapSchema(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  return s;
}

/**
 * Sets `dotted.path` in a raw config, in place; `undefined` removes the key. Every parent must
 * exist, except a component's `kwargs` object, which a config may leave out; the leaf may be new
 * (the schema checks it). Numeric parts index arrays (`model.kwargs.widths.1`).
 */
export function setPath(raw: RawConfig, dotted: string, value: unknown, what = '--set'): void {
  const problem = configPathProblem(dotted);
  if (problem) throw new UsageError(`${what} ${dotted}: ${problem}`);
  const parts = dotted.split('.');
  let node: unknown = raw;
  for (let i = 0; i < parts.length - 1; i++) {
    const key = parts[i]!;
    const container = node as Record<string, unknown>;
    let next = Object.hasOwn(container, key) ? container[key] : undefined;
    if (next === undefined && key === 'kwargs' && !Array.isArray(node)) next = container[key] = {};
    if (next === null || typeof next !== 'object') {
      const here = parts.slice(0, i + 1).join('.');
      const has = node && typeof node === 'object' ? Object.keys(node).join(', ') : '';
      throw new UsageError(
        `${what} ${dotted}: "${here}" ${next === undefined ? 'is not in the config' : 'is not an object'}` +
          (has ? `; "${parts.slice(0, i).join('.') || 'the top level'}" has: ${has}` : ''),
      );
    }
    node = next;
  }
  const leaf = parts[parts.length - 1]!;
  if (Array.isArray(node)) {
    const index = Number(leaf);
    if (!Number.isInteger(index) || index < 0 || index > node.length) {
      throw new UsageError(`${what} ${dotted}: "${leaf}" is not an index of an array of length ${node.length}`);
    }
    if (value === undefined) node.splice(index, 1);
    else node[index] = value;
  } else if (value === undefined) {
    delete (node as Record<string, unknown>)[leaf];
  } else {
    (node as Record<string, unknown>)[leaf] = value;
  }
}

/**
 * A top-level key the config leaves to its default (optimizer, init, schedule, callbacks), filled
 * in so `--set optimizer.kwargs.lr=0.1` works on a config that never named an optimizer. A key
 * whose default depends on the rest of the config (loss: by the data's task) starts as an empty
 * object when the path goes into it, so `--set loss.name=mse` works too.
 */
function fillTopLevelDefault(raw: RawConfig, dotted: string): void {
  const key = dotted.split('.')[0]!;
  if (Object.hasOwn(raw, key) || !Object.hasOwn(experimentConfigSchema.shape, key)) return;
  const field = experimentConfigSchema.shape[key as keyof typeof experimentConfigSchema.shape];
  const parsed = field.safeParse(undefined);
  if (parsed.success && parsed.data !== undefined) raw[key] = structuredClone(parsed.data);
  else if (dotted.includes('.') && unwrapSchema(field) instanceof z.ZodObject) raw[key] = {};
}

/** A config never has these keys; a W&B-style sweep file always has both. */
function isSweepFile(raw: RawConfig): boolean {
  return Object.hasOwn(raw, 'method') && Object.hasOwn(raw, 'parameters');
}

/** Reads a config file and applies `--set` overrides (`a.b=v`); validation comes after. */
export function loadRawConfig(file: string, sets: readonly string[] = []): { raw: RawConfig; baseDir: string } {
  const raw = readJsonFile(file);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UsageError(`${file}: a config must be a JSON object with model, data and train`);
  }
  if (isSweepFile(raw as RawConfig)) {
    throw new UsageError(`${file} is a sweep file (it has "method" and "parameters"), not a config; run its sweep with dlphys-coord sweep ${file}`);
  }
  for (const assignment of sets) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set ${assignment}: expected path=value, e.g. --set optimizer.kwargs.lr=0.1`);
    const dotted = assignment.slice(0, eq);
    fillTopLevelDefault(raw as RawConfig, dotted);
    // null removes a key: --set train.epochs=null --set train.steps=500 switches to steps.
    const value = parseSetValue(assignment.slice(eq + 1));
    setPath(raw as RawConfig, dotted, value === null ? undefined : value);
  }
  return { raw: raw as RawConfig, baseDir: path.dirname(path.resolve(file)) };
}
