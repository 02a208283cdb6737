/**
 * What the sweep tests (sweep_*.test.ts) share: a small base config, expansion of an inline spec,
 * a check for a one-line UsageError, and sweep files written to a folder.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { UsageError } from '../lib/errors.js';
import type { ExperimentConfig } from '../lib/config.js';
import { asNativeSweep, expandSweep, loadSweep, type ExpandedSweep } from '../lib/sweep/index.js';
import { repoRoot, writeJson as writeJsonFile, writeText } from './helpers.js';

/** A small valid base config (nothing is trained here). */
export function base(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    seed: 0,
    model: { name: 'mlp', kwargs: { widths: [8, 16, 3], activation: 'tanh' } },
    init: { name: 'gaussian', kwargs: { sigma_w2: 1.0 } },
    optimizer: { name: 'sgd', kwargs: { lr: 0.1 } },
    data: { name: 'synthetic', kwargs: { n_train: 64, n_val: 32, dim: 8, classes: 3 } },
    train: { steps: 5, batch_size: 16 },
    ...extra,
  };
}

export function expand(spec: Record<string, unknown>, name?: string): ExpandedSweep<ExperimentConfig> {
  return asNativeSweep(expandSweep({ base: base(), ...spec }, { source: 'sweep.json', baseDir: repoRoot, ...(name ? { name } : {}) }));
}

/** loadSweep of a native sweep file, its runs typed as experiment configs. */
export function loadNative(file: string, options: { name?: string } = {}): ExpandedSweep<ExperimentConfig> {
  return asNativeSweep(loadSweep(file, options));
}

/** Asserts that `fn` throws a UsageError whose message matches every pattern. */
export function throwsUsage(fn: () => unknown, ...patterns: RegExp[]): string {
  let message = '';
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    message = err.message;
    return true;
  });
  assert.ok(!message.includes('\n'), `the message should be one line: ${message}`);
  for (const p of patterns) assert.match(message, p);
  return message;
}

/** Writes `value` to `dir`/`name`: as JSON, or a string as it is (to test malformed files). */
export function writeJson(dir: string, name: string, value: unknown): string {
  const file = path.join(dir, name);
  return typeof value === 'string' ? writeText(file, value) : writeJsonFile(file, value);
}


/** expandSweep of a native sweep, its runs typed as experiment configs. */
export function expandNative(spec: unknown, options: Parameters<typeof expandSweep>[1]): ExpandedSweep<ExperimentConfig> {
  return asNativeSweep(expandSweep(spec, options));
}
