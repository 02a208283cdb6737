/** Random sweeps: every distribution stays in its support and matches its moments, seeds reproduce, and distributions are inferred as W&B infers them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExperimentConfig } from '../lib/config.js';
import type { ExpandedSweep } from '../lib/sweep/index.js';
import { repoRoot, tempDir } from './helpers.js';
import { base, expandNative, loadNative, writeJson } from './sweep_fixtures.js';

/** Every distribution on a free-form path (provenance is a record the schema does not constrain). */
const ALL_DISTRIBUTIONS: Record<string, { spec: Record<string, unknown>; inSupport: (x: number) => boolean }> = {
  constant: { spec: { distribution: 'constant', value: 7 }, inSupport: (x) => x === 7 },
  categorical: { spec: { distribution: 'categorical', values: [1, 5, 9] }, inSupport: (x) => [1, 5, 9].includes(x) },
  categorical_p: {
    spec: { values: [1, 5, 9], probabilities: [0.2, 0, 0.8] },
    inSupport: (x) => x === 1 || x === 9,
  },
  int_uniform: { spec: { distribution: 'int_uniform', min: -2, max: 3 }, inSupport: (x) => Number.isInteger(x) && x >= -2 && x <= 3 },
  uniform: { spec: { distribution: 'uniform', min: -1, max: 3 }, inSupport: (x) => x >= -1 && x < 3 },
  q_uniform: {
    spec: { distribution: 'q_uniform', min: 0, max: 1, q: 0.25 },
    inSupport: (x) => [0, 0.25, 0.5, 0.75, 1].includes(x),
  },
  log_uniform: { spec: { distribution: 'log_uniform', min: -2, max: 1 }, inSupport: (x) => x >= Math.exp(-2) && x <= Math.exp(1) },
  log_uniform_values: { spec: { distribution: 'log_uniform_values', min: 0.001, max: 0.1 }, inSupport: (x) => x >= 0.001 && x <= 0.1 },
  q_log_uniform: { spec: { distribution: 'q_log_uniform', min: 0, max: 4, q: 2 }, inSupport: (x) => x % 2 === 0 && x >= 0 && x <= 56 },
  q_log_uniform_values: {
    spec: { distribution: 'q_log_uniform_values', min: 1, max: 100 },
    inSupport: (x) => Number.isInteger(x) && x >= 1 && x <= 100,
  },
  inv_log_uniform: { spec: { distribution: 'inv_log_uniform', min: 0, max: 3 }, inSupport: (x) => x >= Math.exp(-3) && x <= 1 },
  inv_log_uniform_values: {
    spec: { distribution: 'inv_log_uniform_values', min: 0.01, max: 10 },
    inSupport: (x) => x >= 0.01 && x <= 10,
  },
  normal: { spec: { distribution: 'normal', mu: 2, sigma: 0.5 }, inSupport: (x) => Number.isFinite(x) },
  q_normal: { spec: { distribution: 'q_normal', mu: 10, sigma: 3, q: 2 }, inSupport: (x) => Number.isInteger(x) && x % 2 === 0 },
  log_normal: { spec: { distribution: 'log_normal', mu: 0, sigma: 0.5 }, inSupport: (x) => x > 0 },
  q_log_normal: { spec: { distribution: 'q_log_normal', mu: 3, sigma: 0.5, q: 5 }, inSupport: (x) => x >= 0 && x % 5 === 0 },
};

function randomSweepOfAll(runCap: number, seed = 0): ExpandedSweep<ExperimentConfig> {
  const names = Object.keys(ALL_DISTRIBUTIONS);
  return expandNative(
    {
      method: 'random',
      run_cap: runCap,
      seed,
      base: base({ provenance: Object.fromEntries(names.map((n) => [n, 0])) }),
      parameters: Object.fromEntries(names.map((n) => [`provenance.${n}`, ALL_DISTRIBUTIONS[n]!.spec])),
    },
    { source: 'all.json', baseDir: repoRoot },
  );
}

test('every distribution sampled in a random sweep stays in its support', () => {
  const sweep = randomSweepOfAll(500);
  assert.equal(sweep.runs.length, 500);
  for (const [name, { inSupport }] of Object.entries(ALL_DISTRIBUTIONS)) {
    const xs = sweep.runs.map((r) => r.params[`provenance.${name}`] as number);
    const bad = xs.find((x) => typeof x !== 'number' || !inSupport(x));
    assert.equal(bad, undefined, `${name} drew ${bad}`);
    // The run's config carries the same value as its params.
    assert.equal((sweep.runs[7]!.config.provenance as Record<string, unknown>)[name], sweep.runs[7]!.params[`provenance.${name}`]);
  }
  // A probability of 0 is never drawn; the discrete ones use every value of their support.
  const cat = new Set(sweep.runs.map((r) => r.params['provenance.categorical']));
  assert.deepEqual([...cat].sort(), [1, 5, 9]);
  const ints = new Set(sweep.runs.map((r) => r.params['provenance.int_uniform']));
  assert.deepEqual([...ints].sort((a, b) => (a as number) - (b as number)), [-2, -1, 0, 1, 2, 3]);
});

test('sampled means match the distributions within tolerance over 2000 draws', () => {
  const sweep = randomSweepOfAll(2000);
  const mean = (name: string) => {
    const xs = sweep.runs.map((r) => r.params[`provenance.${name}`] as number);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  // Tolerances are about 4 standard errors for n = 2000.
  assert.ok(Math.abs(mean('uniform') - 1) < 0.11, `uniform mean ${mean('uniform')}`);
  assert.ok(Math.abs(mean('int_uniform') - 0.5) < 0.16, `int_uniform mean ${mean('int_uniform')}`);
  assert.ok(Math.abs(mean('normal') - 2) < 0.05, `normal mean ${mean('normal')}`);
  const logNormalMean = Math.exp(0.5 ** 2 / 2);
  assert.ok(Math.abs(mean('log_normal') - logNormalMean) < 0.05, `log_normal mean ${mean('log_normal')}`);
  // Log-uniform on [a, b]: mean (b - a) / ln(b / a).
  const luMean = (0.1 - 0.001) / Math.log(100);
  assert.ok(Math.abs(mean('log_uniform_values') - luMean) < 0.003, `log_uniform_values mean ${mean('log_uniform_values')}`);
  const cp = mean('categorical_p'); // 0.2 * 1 + 0.8 * 9
  assert.ok(Math.abs(cp - 7.4) < 0.3, `categorical with probabilities mean ${cp}`);
});

test('the same sweep gives the same runs and hash, and another seed other samples', () => {
  const a = randomSweepOfAll(20, 3);
  const b = randomSweepOfAll(20, 3);
  assert.deepEqual(
    a.runs.map((r) => r.params),
    b.runs.map((r) => r.params),
  );
  assert.equal(a.specHash, b.specHash);
  assert.match(a.specHash, /^[0-9a-f]{64}$/);
  const c = randomSweepOfAll(20, 4);
  assert.notDeepEqual(
    a.runs.map((r) => r.params['provenance.uniform']),
    c.runs.map((r) => r.params['provenance.uniform']),
  );
  assert.notEqual(a.specHash, c.specHash);
});

test('distributions are inferred as W&B infers them', () => {
  const sweep = expandNative(
    {
      method: 'random',
      run_cap: 200,
      base: base({ provenance: { v: 0, c: 0, i: 0, f: 0 } }),
      parameters: {
        'provenance.v': { values: ['a', 'b'] },
        'provenance.c': { value: 3 },
        'provenance.i': { min: 1, max: 4 },
        'provenance.f': { min: 0.5, max: 1.5 },
      },
    },
    { source: 'sweep.json', baseDir: repoRoot },
  );
  const seen = (k: string) => sweep.runs.map((r) => r.params[`provenance.${k}`]);
  assert.deepEqual([...new Set(seen('v'))].sort(), ['a', 'b']);
  assert.deepEqual([...new Set(seen('c'))], [3]);
  assert.deepEqual([...new Set(seen('i'))].sort(), [1, 2, 3, 4]);
  assert.ok(seen('f').every((x) => typeof x === 'number' && x >= 0.5 && x < 1.5 && !Number.isInteger(x)));
});

test('a sweep file with min 0.0 and max 1.0 infers uniform, not int_uniform', () => {
  const dir = tempDir();
  const file = writeJson(
    dir,
    'floats.json',
    `{ "method": "random", "run_cap": 20, "base": ${JSON.stringify(base({ provenance: { x: 0, y: 0 } }))},
       "parameters": { "provenance.x": { "min": 0.0, "max": 1.0 }, "provenance.y": { "min": 0, "max": 1 } } }`,
  );
  const sweep = loadNative(file);
  const xs = sweep.runs.map((r) => r.params['provenance.x'] as number);
  assert.ok(xs.some((x) => !Number.isInteger(x)), 'min 0.0 / max 1.0 should sample reals');
  assert.ok(sweep.runs.every((r) => Number.isInteger(r.params['provenance.y'])), 'min 0 / max 1 should sample integers');
  // Recorded in the stored spec, so expanding it again agrees.
  const params = sweep.spec.parameters as Record<string, Record<string, unknown>>;
  assert.equal(params['provenance.x']!.distribution, 'uniform');
  assert.equal(params['provenance.y']!.distribution, undefined);
});
