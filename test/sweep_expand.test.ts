/**
 * Sweep files expanded into runs (lib/sweep/): grids, run names, parameter paths, bases inline and
 * from files, the sweep name, metric goals, and the examples. Random sweeps and their distributions
 * are sweep_distributions.test.ts; malformed sweeps, sweep_errors.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, tempDir } from './helpers.js';
import { base, expand, expandNative, loadNative, throwsUsage, writeJson } from './sweep_fixtures.js';

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

test('the spec hash does not depend on key order', () => {
  const one = expand({ method: 'grid', parameters: { 'optimizer.kwargs.lr': { values: [0.1] } }, metric: { name: 'val_acc', goal: 'maximize' } });
  const two = expandNative(
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
  const sweep = expandNative(
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
  const sweep = expandNative(
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
  const sweep = loadNative(file);
  assert.equal(sweep.name, 's');
  assert.equal(sweep.runs[0]!.config.optimizer.kwargs!.lr, 0.5);
  assert.deepEqual(sweep.spec.base, base());
  // The stored spec expands again without the files, to the same runs and hash.
  const again = expandNative(sweep.spec, { source: 'stored', baseDir: '/nonexistent', name: sweep.name });
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
  const fromFile = loadNative(writeJson(dir, 'sweeps/s.json', { method: 'grid', base: '../configs/base.json', parameters: { seed: { values: [0, 1] } } }));
  for (const run of fromFile.runs) assert.equal(run.config.data.kwargs!.root, path.join(dir, 'configs', 'mnist-files'));
  // Stored absolute, the spec expands to the same runs wherever it is expanded again.
  assert.equal((fromFile.spec.base as { data: { kwargs: { root: string } } }).data.kwargs.root, path.join(dir, 'configs', 'mnist-files'));
  const again = expandNative(fromFile.spec, { source: 'stored', baseDir: '/nonexistent', name: fromFile.name });
  assert.deepEqual(again.runs.map((r) => r.config), fromFile.runs.map((r) => r.config));

  const inline = loadNative(
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
  assert.equal(expand({ method: 'grid', name: 'a/b', parameters: { seed: { values: [1] } } }).name, 'a-b', 'a display name gets a slug');
});

test('metric goals take the W&B words and the short forms; early_terminate is checked and recorded', () => {
  const max = expand({ method: 'grid', metric: { name: 'val_acc', goal: 'maximize' }, parameters: { seed: { values: [1] } } });
  assert.deepEqual(max.metric, { name: 'val_acc', goal: 'max' });
  const min = expand({ method: 'grid', metric: { name: 'val_loss', goal: 'min' }, parameters: { seed: { values: [1] } } });
  assert.deepEqual(min.metric, { name: 'val_loss', goal: 'min' });
  const byDefault = expand({ method: 'grid', metric: { name: 'val_loss' }, parameters: { seed: { values: [1] } } });
  assert.equal(byDefault.metric!.goal, 'min');
  assert.equal(expand({ method: 'grid', parameters: { seed: { values: [1] } } }).metric, null);
  const et = expand({
    method: 'grid',
    metric: { name: 'val_loss' },
    early_terminate: { type: 'hyperband', min_iter: 3 },
    project: 'p',
    entity: 'e',
    description: 'a scan',
    parameters: { seed: { values: [1] } },
  });
  assert.deepEqual(et.spec.early_terminate, { type: 'hyperband', min_iter: 3 });
  assert.equal(et.spec.description, 'a scan');
  assert.deepEqual(et.warnings, []);
  throwsUsage(() => expand({ method: 'grid', early_terminate: { type: 'hyperband', min_iter: 3 }, parameters: { seed: { values: [1] } } }), /early_terminate needs a metric to judge runs by/);
});

test('examples/grid.json expands to its 12 runs and examples/random.json to 8', () => {
  const grid = loadNative(path.join(repoRoot, 'examples', 'grid.json'));
  assert.equal(grid.runs.length, 12);
  assert.equal(grid.name, 'grid');
  assert.deepEqual(grid.metric, { name: 'val_acc', goal: 'max' });
  assert.deepEqual(grid.warnings, []);
  assert.deepEqual(grid.runs[11]!.params, { 'init.kwargs.sigma_w2': 4, 'model.kwargs.activation': 'tanh', 'optimizer.kwargs.lr': 0.2 });
  const random = loadNative(path.join(repoRoot, 'examples', 'random.json'));
  assert.equal(random.runs.length, 8);
  for (const run of random.runs) {
    const lr = run.config.optimizer.kwargs!.lr as number;
    assert.ok(lr >= 0.001 && lr <= 0.3, `lr ${lr}`);
  }
});

test('every sweep file under examples/ expands without a warning, each run config valid', () => {
  const sweeps = fs.readdirSync(path.join(repoRoot, 'examples')).filter((f) => f.endsWith('.json') && 'parameters' in JSON.parse(fs.readFileSync(path.join(repoRoot, 'examples', f), 'utf8')));
  assert.ok(sweeps.includes('eoc_seeds.json') && sweeps.includes('eoc_tanh.json'), sweeps.join(', '));
  for (const file of sweeps) {
    const sweep = loadNative(path.join(repoRoot, 'examples', file));
    assert.ok(sweep.runs.length > 0, file);
    assert.deepEqual(sweep.warnings, [], file);
  }
});

test('grid values equal by content count once, objects whatever their key order, in first-seen order (as W&B)', () => {
  const sweep = expand({
    method: 'grid',
    parameters: {
      'model.kwargs.activation': { values: ['relu', 'tanh', 'relu'] },
      'model.kwargs.widths': { values: [[16, 64, 4], [16, 64, 4], [16, 64, 4], [16, 64, 4], [16, 128, 4]] },
      'optimizer.kwargs': { values: [{ lr: 0.1, momentum: 0.9 }, { momentum: 0.9, lr: 0.1 }] },
    },
  });
  assert.deepEqual(
    sweep.runs.map((r) => [r.params['model.kwargs.activation'], (r.params['model.kwargs.widths'] as number[])[1]]),
    [
      ['relu', 64],
      ['relu', 128],
      ['tanh', 64],
      ['tanh', 128],
    ],
  );
});

test('a sweep name that cannot be a folder is a display name: the sweep gets a slug of it, and says so', () => {
  const sweep = expand({ name: 'Test sweep: σ_w² × depth', method: 'grid', parameters: { seed: { values: [0] } } });
  assert.equal(sweep.name, 'test-sweep-w2-depth');
  assert.equal(sweep.spec.name, 'Test sweep: σ_w² × depth', 'the display name is kept');
  assert.deepEqual(sweep.warnings, ['sweep name "Test sweep: σ_w² × depth" is its display name; its id and folder are "test-sweep-w2-depth" (choose another with --name)']);
  // A --name is an id the user chose: taken as it is, or refused.
  throwsUsage(() => expand({ method: 'grid', parameters: { seed: { values: [0] } } }, 'bad name'), /sweep name "bad name" cannot be a folder name/);
  // Without a name, the file's: sweep.yaml is "sweep", as sweep.json.
  const dir = tempDir();
  const file = path.join(dir, 'my_sweep.yaml');
  fs.writeFileSync(file, `method: grid\nparameters:\n  seed: {values: [0]}\nbase: ${path.join(repoRoot, 'examples', 'mlp.json')}\n`);
  assert.equal(loadNative(file).name, 'my_sweep');
});
