import path from 'node:path';
import { schemaKeys } from './config.js';
import { registries, type RegistryKind } from './registries.js';
import type { Registry } from './registry.js';

// Where components sit in a config, and what follows from it: which keys a dotted path may name
// under a component, and which of its kwargs are file paths.

/** The top-level keys that hold components, and the registry each names them from. */
const COMPONENT_KINDS: Readonly<Record<string, RegistryKind>> = {
  model: 'model',
  init: 'init',
  optimizer: 'optimizer',
  loss: 'loss',
  schedule: 'schedule',
  data: 'data',
  callbacks: 'callback',
};

/** The registry of the components under top-level key `top` (`callbacks` entries use `callback`). */
function componentRegistry(top: string): Registry<unknown, unknown> | undefined {
  return Object.hasOwn(COMPONENT_KINDS, top) ? (registries[COMPONENT_KINDS[top]!] as Registry<unknown, unknown>) : undefined;
}

/**
 * The keys a config may hold in the object at `parent` (a dotted path split into parts): those
 * the schema declares there, and under a component's `kwargs` those its registry declares for the
 * component `config` names at that place. Empty where nothing is declared (an unknown component,
 * a leaf). The rule that `--set` errors and sweep parameter paths both answer to.
 */
export function declaredKeys(parent: readonly string[], config: object): string[] {
  const declared = schemaKeys(parent);
  if (declared) return declared;
  const spec = parent.slice(0, -1);
  // Only a component spec ({name, kwargs}) has kwargs whose keys a registry declares.
  if (parent[parent.length - 1] !== 'kwargs' || !schemaKeys(spec)?.includes('kwargs')) return [];
  const name = componentName(config, spec);
  const registry = componentRegistry(parent[0]!);
  if (name === undefined || !registry) return [];
  try {
    return registry.describe(name).kwargs.map((k) => k.name);
  } catch {
    // An unknown component: validation names it, with what exists.
    return [];
  }
}

/** The `name` of the component at `at` in `config`, if there is one. */
export function componentName(config: object, at: readonly string[]): string | undefined {
  let node: unknown = config;
  for (const part of at) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
  const name = node && typeof node === 'object' ? (node as { name?: unknown }).name : undefined;
  return typeof name === 'string' ? name : undefined;
}

/**
 * A copy of `config` (raw or resolved) whose relative path kwargs — those a component's schema
 * marks with pathKwarg, such as mnist's `root` — are made absolute against `baseDir`, the folder
 * of the file they were written in. Done where that file is known (dlphys train, sweep expansion)
 * so a run never depends on the working directory of whoever trains it. Components with an unknown
 * name, and values that are not strings, are left for validation to report.
 */
export function resolveConfigPaths<T extends object>(config: T, baseDir: string): T {
  const out = structuredClone(config) as Record<string, unknown>;
  for (const key of Object.keys(COMPONENT_KINDS)) {
    const value = out[key];
    const specs = key === 'callbacks' ? (Array.isArray(value) ? value : []) : [value];
    for (const spec of specs) resolveSpecPaths(componentRegistry(key)!, spec, baseDir);
  }
  return out as T;
}

function resolveSpecPaths(registry: Registry<unknown, unknown>, spec: unknown, baseDir: string): void {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) return;
  const { name, kwargs } = spec as { name?: unknown; kwargs?: unknown };
  if (typeof name !== 'string' || kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs)) return;
  const k = kwargs as Record<string, unknown>;
  for (const key of registry.pathKwargs(name)) {
    const v = k[key];
    if (typeof v === 'string' && v !== '' && !path.isAbsolute(v)) k[key] = path.resolve(baseDir, v);
  }
}
