import path from 'node:path';
import { registries, type RegistryKind } from './registries.js';
import type { Registry } from './registry.js';

/** Where each kind of component sits in a config. */
const COMPONENT_KEYS: readonly [string, RegistryKind][] = [
  ['model', 'model'],
  ['init', 'init'],
  ['optimizer', 'optimizer'],
  ['loss', 'loss'],
  ['schedule', 'schedule'],
  ['data', 'data'],
  ['callbacks', 'callback'],
];

/**
 * A copy of `config` (raw or resolved) whose relative path kwargs — those a component's schema
 * marks with pathKwarg, such as mnist's `root` — are made absolute against `baseDir`, the folder
 * of the file they were written in. Done where that file is known (dlphys train, sweep expansion)
 * so a run never depends on the working directory of whoever trains it. Components with an unknown
 * name, and values that are not strings, are left for validation to report.
 */
export function resolveConfigPaths<T extends object>(config: T, baseDir: string): T {
  const out = structuredClone(config) as Record<string, unknown>;
  for (const [key, kind] of COMPONENT_KEYS) {
    const value = out[key];
    const specs = key === 'callbacks' ? (Array.isArray(value) ? value : []) : [value];
    for (const spec of specs) resolveSpecPaths(registries[kind] as Registry<unknown, unknown>, spec, baseDir);
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
