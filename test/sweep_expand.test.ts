import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../lib/errors.js';
import { expandSweep, loadSweep, type ExpandedSweep } from '../lib/sweep/index.js';
import { repoRoot, tempDir, tinyConfig } from './helpers.js';

/** A small valid base config (nothing is trained here). */
function base(extra: Record<string, unknown> = {}): Record<string, unknown> {
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

function expand(spec: Record<string, unknown>, name?: string): ExpandedSweep {
  return expandSweep({ base: base(), ...spec }, { source: 'sweep.json', baseDir: repoRoot, ...(name ? { name } : {}) });
}

/** Asserts that `fn` throws a UsageError whose message matches every pattern. */
function throwsUsage(fn: () => unknown, ...patterns: RegExp[]): string {
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

function writeJson(dir: string, name: string, value: unknown): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return file;
}

test('a grid expands to the cartesian product with the first parameter varying slowest', () => {
  const sweep = expand({
    method: 'grid',
    parameters: {
      'optimizer.kwargs.lr': { values: [0.01, 0.1] },
      'model.kwargs.activation': { values: ['relu', 'tanh', 'gelu'] },
    },
  });
  assert.equal(sweep.method, 'grid');
  assert.equal(sweep.runs.length, 6);
  assert.deepEqual(
    sweep.runs.map((r) => [r.params['optimizer.kwargs.lr'], r.params['model.kwargs.activation']]),
    [
      [0.01, 'relu'],
      [0.01, 'tanh'],
      [0.01, 'gelu'],
      [0.1, 'relu'],
      [0.1, 'tanh'],
      [0.1, 'gelu'],
    ],
  );
  assert.deepEqual(
    sweep.runs.map((r) => r.name),
    ['r000', 'r001', 'r002', 'r003', 'r004', 'r005'],
  );
  const last = sweep.runs[5]!;
  assert.equal(last.index, 5);
  assert.equal(last.config.name, 'r005');
  assert.equal(last.config.optimizer.kwargs!.lr, 0.1);
  assert.equal(last.config.model.kwargs!.activation, 'gelu');
  // Resolved: defaults are filled in.
  assert.equal(last.config.optimizer.kwargs!.momentum, 0);
  assert.equal(last.config.train.log_every, 10);
});

test('run_cap keeps the first runs of a grid and says so in a warning', () => {
  const sweep = expand({ method: 'grid', run_cap: 4, parameters: { 'optimizer.kwargs.lr': { values: [1, 2, 3, 4, 5, 6] } } });
  assert.deepEqual(
    sweep.runs.map((r) => r.params['optimizer.kwargs.lr']),
    [1, 2, 3, 4],
  );
  assert.ok(sweep.warnings.some((w) => /run_cap 4 keeps the first 4 of the grid's 6 runs/.test(w)));
});

test('run names are zero-padded to a width that grows with the count', () => {
  const sweep = expand({ method: 'grid', parameters: { 'train.steps': { distribution: 'int_uniform', min: 1, max: 1200 } } });
  assert.equal(sweep.runs.length, 1200);
  assert.equal(sweep.runs[0]!.name, 'r0000');
  assert.equal(sweep.runs[1199]!.name, 'r1199');
});

test('a grid enumerates values, value, int_uniform min..max and q_uniform steps from min', () => {
  const sweep = expand({
    method: 'grid',
    parameters: {
      'model.kwargs.activation': { value: 'relu' },
      'train.batch_size': { distribution: 'int_uniform', min: 2, max: 4 },
      'optimizer.kwargs.momentum': { distribution: 'q_uniform', min: 0, max: 0.9, q: 0.3 },
      'init.kwargs.sigma_w2': { values: [1, 2] },
    },
  });
  assert.equal(sweep.runs.length, 1 * 3 * 3 * 2);
  const distinct = (key: string) => [...new Set(sweep.runs.map((r) => r.params[key]))];
  assert.deepEqual(distinct('model.kwargs.activation'), ['relu']);
  assert.deepEqual(distinct('train.batch_size'), [2, 3, 4]);
  // As W&B (numpy.arange): min, min+q, ... below max, without float noise; max itself is left out.
  assert.deepEqual(distinct('optimizer.kwargs.momentum'), [0, 0.3, 0.6]);
  assert.deepEqual(distinct('init.kwargs.sigma_w2'), [1, 2]);
  assert.ok(sweep.warnings.some((w) => /optimizer\.kwargs\.momentum: q_uniform in a grid .* max 0\.9 itself is not a run/.test(w)));
});

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

function randomSweepOfAll(runCap: number, seed = 0): ExpandedSweep {
  const names = Object.keys(ALL_DISTRIBUTIONS);
  return expandSweep(
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

test('the spec hash does not depend on key order', () => {
  const one = expand({ method: 'grid', parameters: { 'optimizer.kwargs.lr': { values: [0.1] } }, metric: { name: 'val_acc', goal: 'maximize' } });
  const two = expandSweep(
    { metric: { goal: 'maximize', name: 'val_acc' }, parameters: { 'optimizer.kwargs.lr': { values: [0.1] } }, base: base(), method: 'grid' },
    { source: 'sweep.json', baseDir: repoRoot },
  );
  assert.equal(one.specHash, two.specHash);
});

test('nested parameters blocks set nested config paths', () => {
  const sweep = expand({
    method: 'grid',
    parameters: {
      optimizer: { parameters: { kwargs: { parameters: { lr: { values: [0.01, 0.3] }, momentum: { value: 0.5 } } } } },
      'model.kwargs.activation': { values: ['relu'] },
    },
  });
  assert.equal(sweep.runs.length, 2);
  assert.deepEqual(sweep.runs[1]!.params, { 'optimizer.kwargs.lr': 0.3, 'optimizer.kwargs.momentum': 0.5, 'model.kwargs.activation': 'relu' });
  assert.equal(sweep.runs[1]!.config.optimizer.kwargs!.lr, 0.3);
  assert.equal(sweep.runs[1]!.config.optimizer.kwargs!.momentum, 0.5);
});

test('dotted names reach kwargs the base leaves to defaults and array elements', () => {
  const sweep = expandSweep(
    {
      method: 'grid',
      // The base spells neither schedule nor sgd's weight_decay, nor data.kwargs.seed (optional, no default).
      base: base(),
      parameters: {
        'optimizer.kwargs.weight_decay': { values: [0, 0.001] },
        'data.kwargs.seed': { values: [5] },
        'model.kwargs.widths.1': { values: [32] },
        'train.eval_every': { value: 2 },
      },
    },
    { source: 'sweep.json', baseDir: repoRoot },
  );
  const config = sweep.runs[1]!.config;
  assert.equal(config.optimizer.kwargs!.weight_decay, 0.001);
  assert.equal(config.data.kwargs!.seed, 5);
  assert.deepEqual(config.model.kwargs!.widths, [8, 32, 3]);
  assert.equal(config.train.eval_every, 2);
});

test('a parameter under a component the base leaves out starts from its default', () => {
  const raw = base();
  delete raw.init; // defaults to lecun
  const sweep = expandSweep(
    { method: 'grid', base: raw, parameters: { 'init.name': { values: ['gaussian'] }, 'schedule.name': { value: 'constant' } } },
    { source: 'sweep.json', baseDir: repoRoot },
  );
  assert.equal(sweep.runs[0]!.config.init.name, 'gaussian');
});

test('a base given as a path is read relative to the sweep file and inlined in the spec', () => {
  const dir = tempDir();
  writeJson(dir, 'configs/base.json', base());
  const file = writeJson(dir, 'sweeps/s.json', {
    method: 'grid',
    base: '../configs/base.json',
    parameters: { 'optimizer.kwargs.lr': { values: [0.5] } },
  });
  const sweep = loadSweep(file);
  assert.equal(sweep.name, 's');
  assert.equal(sweep.runs[0]!.config.optimizer.kwargs!.lr, 0.5);
  assert.deepEqual(sweep.spec.base, base());
  // The stored spec expands again without the files, to the same runs and hash.
  const again = expandSweep(sweep.spec, { source: 'stored', baseDir: '/nonexistent', name: sweep.name });
  assert.deepEqual(
    again.runs.map((r) => r.config),
    sweep.runs.map((r) => r.config),
  );
  assert.equal(again.specHash, sweep.specHash);
});

test('relative paths in a base file resolve against its folder; in an inline base or a parameter value, against the sweep file', () => {
  const dir = tempDir();
  const mnist = (root: string) => ({ name: 'mnist', kwargs: { root, n_train: 64 } });
  // The cwd (repoRoot) is neither folder: resolving against it, as agents used to, is wrong.
  writeJson(dir, 'configs/base.json', base({ data: mnist('mnist-files') }));
  const fromFile = loadSweep(writeJson(dir, 'sweeps/s.json', { method: 'grid', base: '../configs/base.json', parameters: { seed: { values: [0, 1] } } }));
  for (const run of fromFile.runs) assert.equal(run.config.data.kwargs!.root, path.join(dir, 'configs', 'mnist-files'));
  // Stored absolute, the spec expands to the same runs wherever it is expanded again.
  assert.equal((fromFile.spec.base as { data: { kwargs: { root: string } } }).data.kwargs.root, path.join(dir, 'configs', 'mnist-files'));
  const again = expandSweep(fromFile.spec, { source: 'stored', baseDir: '/nonexistent', name: fromFile.name });
  assert.deepEqual(again.runs.map((r) => r.config), fromFile.runs.map((r) => r.config));

  const inline = loadSweep(
    writeJson(dir, 'sweeps/inline.json', {
      method: 'grid',
      base: base({ data: mnist('../data/a') }),
      parameters: { 'data.kwargs.root': { values: ['../data/a', 'b', '/abs/c'] } },
    }),
  );
  assert.deepEqual(
    inline.runs.map((r) => r.config.data.kwargs!.root),
    [path.join(dir, 'data', 'a'), path.join(dir, 'sweeps', 'b'), '/abs/c'],
  );
  // Keys that are not marked as paths are never touched.
  assert.equal(inline.runs[0]!.config.model.kwargs!.activation, 'tanh');
});

test('the sweep name comes from the option, else the file, else the file name', () => {
  assert.equal(expand({ method: 'grid', parameters: { seed: { values: [1] } } }).name, 'sweep');
  assert.equal(expand({ method: 'grid', name: 'lr-scan', parameters: { seed: { values: [1] } } }).name, 'lr-scan');
  assert.equal(expand({ method: 'grid', name: 'lr-scan', parameters: { seed: { values: [1] } } }, 'other').name, 'other');
  throwsUsage(() => expand({ method: 'grid', name: 'a/b', parameters: { seed: { values: [1] } } }), /sweep name "a\/b"/);
});

test('distributions are inferred as W&B infers them', () => {
  const sweep = expandSweep(
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
  const sweep = loadSweep(file);
  const xs = sweep.runs.map((r) => r.params['provenance.x'] as number);
  assert.ok(xs.some((x) => !Number.isInteger(x)), 'min 0.0 / max 1.0 should sample reals');
  assert.ok(sweep.runs.every((r) => Number.isInteger(r.params['provenance.y'])), 'min 0 / max 1 should sample integers');
  // Recorded in the stored spec, so expanding it again agrees.
  const params = sweep.spec.parameters as Record<string, Record<string, unknown>>;
  assert.equal(params['provenance.x']!.distribution, 'uniform');
  assert.equal(params['provenance.y']!.distribution, undefined);
});

test('metric goals take the W&B words and the short forms; early_terminate is kept with a warning', () => {
  const max = expand({ method: 'grid', metric: { name: 'val_acc', goal: 'maximize' }, parameters: { seed: { values: [1] } } });
  assert.deepEqual(max.metric, { name: 'val_acc', goal: 'max' });
  const min = expand({ method: 'grid', metric: { name: 'val_loss', goal: 'min' }, parameters: { seed: { values: [1] } } });
  assert.deepEqual(min.metric, { name: 'val_loss', goal: 'min' });
  const byDefault = expand({ method: 'grid', metric: { name: 'val_loss' }, parameters: { seed: { values: [1] } } });
  assert.equal(byDefault.metric!.goal, 'min');
  assert.equal(expand({ method: 'grid', parameters: { seed: { values: [1] } } }).metric, null);
  const et = expand({
    method: 'grid',
    early_terminate: { type: 'hyperband', min_iter: 3 },
    program: 'train.py',
    project: 'p',
    entity: 'e',
    command: ['${env}'],
    description: 'a scan',
    parameters: { seed: { values: [1] } },
  });
  assert.deepEqual(et.spec.early_terminate, { type: 'hyperband', min_iter: 3 });
  assert.equal(et.spec.description, 'a scan');
  assert.ok(et.warnings.some((w) => /early_terminate is recorded but not applied/.test(w)));
});

test('examples/grid.json expands to its 12 runs and examples/random.json to 8', () => {
  const grid = loadSweep(path.join(repoRoot, 'examples', 'grid.json'));
  assert.equal(grid.runs.length, 12);
  assert.equal(grid.name, 'grid');
  assert.deepEqual(grid.metric, { name: 'val_acc', goal: 'max' });
  assert.deepEqual(grid.warnings, []);
  assert.deepEqual(grid.runs[11]!.params, { 'init.kwargs.sigma_w2': 4, 'model.kwargs.activation': 'tanh', 'optimizer.kwargs.lr': 0.2 });
  const random = loadSweep(path.join(repoRoot, 'examples', 'random.json'));
  assert.equal(random.runs.length, 8);
  for (const run of random.runs) {
    const lr = run.config.optimizer.kwargs!.lr as number;
    assert.ok(lr >= 0.001 && lr <= 0.3, `lr ${lr}`);
  }
});

// ---- malformed sweeps: one clear line each ----

test('a sweep file that is not valid JSON is a UsageError naming the file', () => {
  const dir = tempDir();
  const file = writeJson(dir, 'bad.json', '{ "method": "grid", ');
  throwsUsage(() => loadSweep(file), /sweep file .*bad\.json is not valid JSON/, /fix the syntax/);
  throwsUsage(() => loadSweep(path.join(dir, 'missing.json')), /sweep file not found: .*missing\.json/);
});

test('an unknown method is a UsageError listing grid and random', () => {
  throwsUsage(() => expand({ method: 'hyperopt', parameters: { seed: { values: [1] } } }), /^sweep\.json: unknown method "hyperopt"; use "grid" or "random"/);
});

test('method bayes is refused as not supported yet', () => {
  throwsUsage(
    () => expand({ method: 'bayes', metric: { name: 'val_loss' }, parameters: { seed: { values: [1] } } }),
    /^sweep\.json: method "bayes" is not supported yet; use "grid" or "random"$/,
  );
});

test('a grid over a continuous distribution says why it cannot be enumerated', () => {
  throwsUsage(
    () => expand({ method: 'grid', parameters: { 'optimizer.kwargs.lr': { distribution: 'uniform', min: 0.01, max: 0.1 } } }),
    /^sweep\.json: grid search enumerates values; parameter optimizer\.kwargs\.lr has continuous distribution uniform — give "values", or use method random$/,
  );
  throwsUsage(
    () => expand({ method: 'grid', parameters: { 'optimizer.kwargs.lr': { distribution: 'log_uniform_values', min: 0.01, max: 0.1 } } }),
    /continuous distribution log_uniform_values/,
  );
  throwsUsage(
    () => expand({ method: 'grid', parameters: { seed: { values: [1, 2], probabilities: [0.5, 0.5] } } }),
    /parameter "seed": grid search .* takes no "probabilities"/,
  );
});

test('a parameter path the base does not have names the path and what its parent has', () => {
  throwsUsage(
    () => expand({ method: 'grid', parameters: { 'optimizer.kwargs.momentun': { values: [0.9] } } }),
    /^sweep\.json: parameter "optimizer\.kwargs\.momentun": "optimizer\.kwargs\.momentun" is not in the base config; "optimizer\.kwargs" \(of sgd\) has: lr, momentum, nesterov, weight_decay \(fix the path, or add it to base\)$/,
  );
  throwsUsage(() => expand({ method: 'grid', parameters: { 'optimiser.kwargs.lr': { values: [0.1] } } }), /"optimiser" is not in the base config; the top level has: .*optimizer/);
  throwsUsage(() => expand({ method: 'grid', parameters: { 'model.kwargs.widths.3': { values: [4] } } }), /"3" is not an index of "model\.kwargs\.widths", an array of length 3/);
  throwsUsage(() => expand({ method: 'grid', parameters: { 'seed.x': { values: [4] } } }), /"seed" is 0 in the base config, not an object/);
});

test('an empty values list is a UsageError', () => {
  throwsUsage(() => expand({ method: 'grid', parameters: { 'optimizer.kwargs.lr': { values: [] } } }), /^sweep\.json: parameter "optimizer\.kwargs\.lr": "values" is empty; list at least one value$/);
});

test('method random without run_cap is a UsageError', () => {
  throwsUsage(() => expand({ method: 'random', parameters: { 'optimizer.kwargs.lr': { min: 0.01, max: 0.1 } } }), /^sweep\.json: method random needs run_cap: how many runs to sample$/);
});

test('probabilities that do not sum to 1 are a UsageError', () => {
  throwsUsage(
    () => expand({ method: 'random', run_cap: 2, parameters: { seed: { values: [1, 2], probabilities: [0.5, 0.6] } } }),
    /^sweep\.json: parameter "seed": "probabilities" sum to 1\.1, not 1; make them sum to 1$/,
  );
  throwsUsage(
    () => expand({ method: 'random', run_cap: 2, parameters: { seed: { values: [1, 2], probabilities: [1] } } }),
    /"probabilities" has 1 entries but "values" has 2/,
  );
});

test('min greater than max is a UsageError', () => {
  throwsUsage(
    () => expand({ method: 'random', run_cap: 2, parameters: { 'optimizer.kwargs.lr': { distribution: 'uniform', min: 0.5, max: 0.1 } } }),
    /^sweep\.json: parameter "optimizer\.kwargs\.lr": min 0\.5 is greater than max 0\.1; swap them$/,
  );
});

test('a bad value in values fails at expansion naming the run and the parameter', () => {
  throwsUsage(
    () => expand({ method: 'grid', parameters: { 'model.kwargs.activation': { values: ['relu', 'relux'] } } }),
    /^sweep\.json run r001: parameter "model\.kwargs\.activation" = "relux": model:mlp: .*activation/,
  );
});

test('other malformed parameters name the parameter and the fix', () => {
  throwsUsage(() => expand({ method: 'grid', parameters: { seed: { valuse: [1] } } }), /parameter "seed": unknown key "valuse"; a parameter takes: distribution, value, values/);
  throwsUsage(() => expand({ method: 'random', run_cap: 1, parameters: { seed: { distribution: 'gamma' } } }), /unknown distribution "gamma"; supported: constant, categorical/);
  throwsUsage(() => expand({ method: 'random', run_cap: 1, parameters: { seed: { distribution: 'uniform', min: 0, max: 1, mu: 0 } } }), /"mu" does not apply to distribution uniform \(it takes min, max\)/);
  throwsUsage(() => expand({ method: 'random', run_cap: 1, parameters: { seed: { distribution: 'log_uniform_values', min: 0, max: 1 } } }), /min must be > 0/);
  throwsUsage(() => expand({ method: 'random', run_cap: 1, parameters: { seed: { min: 1 } } }), /give both "min" and "max"/);
  throwsUsage(() => expand({ method: 'grid', parameters: { seed: { values: [1] }, other: 3 } }), /parameter "other": must be an object/);
  throwsUsage(() => expand({ method: 'grid', parameters: {} }), /"parameters" is empty/);
  throwsUsage(() => expand({ method: 'grid', parameters: { seed: { values: [1] } }, runcap: 3 }), /unknown key "runcap" in the sweep; allowed: method, metric, parameters, run_cap/);
  throwsUsage(
    () => expand({ method: 'grid', parameters: { 'model.kwargs.widths.0': { values: [8] }, model: { value: { name: 'mlp', kwargs: { widths: [8, 3] } } } } }),
    /parameter "model\.kwargs\.widths\.0" is set before "model", which replaces it; list "model" first/,
  );
  throwsUsage(() => expandSweep({ method: 'grid', parameters: { seed: { values: [1] } } }, { source: 's.json', baseDir: repoRoot }), /missing "base"/);
  throwsUsage(() => expand({ method: 'grid', parameters: { seed: { values: [1] }, 'optimizer.kwargs.lr': { values: [1] }, optimizer: { parameters: { kwargs: { parameters: { lr: { values: [2] } } } } } } }), /parameter "optimizer\.kwargs\.lr" is given twice/);
});

test('a base path that does not exist is a UsageError naming it', () => {
  const dir = tempDir();
  const file = writeJson(dir, 's.json', { method: 'grid', base: 'nope.json', parameters: { seed: { values: [1] } } });
  throwsUsage(() => loadSweep(file), /base config file not found: .*nope\.json/);
});

test('a sweep whose run would have a batch larger than its training split is refused when expanded, naming the parameter; the base alone is not judged', () => {
  const dir = tempDir();
  const base = { ...tinyConfig(), data: { name: 'synthetic', kwargs: { n_train: 256, n_val: 64, dim: 8, classes: 3 } } };
  const file = writeJson(dir, 'bs.json', { method: 'grid', base: { ...base, train: { steps: 5, batch_size: 1024 } }, parameters: { 'train.batch_size': { values: [32, 512] } } });
  assert.throws(() => loadSweep(file), /parameter "train\.batch_size" = 512: train\.batch_size 512 is larger than the training split \(256 examples\)/);
  const ok = writeJson(dir, 'ok.json', { method: 'grid', base: { ...base, train: { steps: 5, batch_size: 1024 } }, parameters: { 'train.batch_size': { values: [32, 64] } } });
  assert.equal(loadSweep(ok).runs.length, 2, 'a base batch size the parameters replace is not refused');
});
