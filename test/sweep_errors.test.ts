/** Malformed sweeps: one clear line each (a UsageError naming the file, the parameter and the fix). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { expandSweep, loadSweep } from '../lib/sweep/index.js';
import { repoRoot, tempDir, tinyConfig } from './helpers.js';
import { base, expand, throwsUsage, writeJson } from './sweep_fixtures.js';

test('a sweep file that is not valid JSON is a UsageError naming the file', () => {
  const dir = tempDir();
  const file = writeJson(dir, 'bad.json', '{ "method": "grid", ');
  throwsUsage(() => loadSweep(file), /sweep file .*bad\.json is not valid JSON/, /fix the syntax/);
  throwsUsage(() => loadSweep(path.join(dir, 'missing.json')), /sweep file not found: .*missing\.json/);
});

test('an unknown method is a UsageError listing grid, random and bayes', () => {
  throwsUsage(() => expand({ method: 'hyperopt', parameters: { seed: { values: [1] } } }), /^sweep\.json: unknown method "hyperopt"; use "grid", "random" or "bayes"$/);
});

test('method bayes without a metric is a UsageError saying what to add', () => {
  throwsUsage(
    () => expand({ method: 'bayes', parameters: { seed: { values: [1] } } }),
    /^sweep\.json: method bayes needs a metric to optimise: add metric: \{name: val_loss, goal: minimize\}$/,
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

test('a sweep whose runs could never work (criticality on a cnn) is refused when it is expanded, not on every agent', () => {
  const cnnBase = tinyConfig({
    model: { name: 'cnn', kwargs: { channels: [2], hidden: [4] } },
    data: { name: 'synthetic', kwargs: { n_train: 64, n_val: 16, shape: [4, 4, 1], classes: 3 } },
    callbacks: [{ name: 'criticality' }],
  });
  throwsUsage(
    () => expand({ method: 'grid', base: cnnBase, parameters: { seed: { values: [0, 1] } } }),
    /^sweep\.json: base: callbacks\[0\] criticality: criticality needs a chain of dense layers \(model mlp\).*model "cnn" has none/,
  );
  // A sweep over the model that reaches it in some runs only fails too, naming the run's config.
  throwsUsage(
    () =>
      expand({
        method: 'grid',
        base: tinyConfig({ callbacks: [{ name: 'criticality' }] }),
        parameters: { model: { values: [{ name: 'mlp', kwargs: { widths: [8, 16, 3] } }, { name: 'cnn', kwargs: { channels: [2] } }] } },
      }),
    /^sweep\.json run r001: .*criticality needs a chain of dense layers/,
  );
});

test('log_uniform bounds that look like values are warned about; bounds that draw Infinity are refused naming it; any non-finite draw is refused', () => {
  const lr = (spec: Record<string, unknown>) => expand({ method: 'random', run_cap: 3, parameters: { 'optimizer.kwargs.lr': spec } });
  const warned = lr({ distribution: 'log_uniform', min: 0.0001, max: 600 });
  assert.equal(warned.warnings.length, 1);
  assert.match(warned.warnings[0]!, /^parameter "optimizer\.kwargs\.lr": log_uniform takes natural-log exponents, so min 0\.0001 and max 600 draw from e\^0\.0001 to e\^600 .*use log_uniform_values$/);
  assert.deepEqual(lr({ distribution: 'log_uniform', min: -9.21, max: -2.3 }).warnings, [], 'bounds given as logs are what log_uniform means');
  throwsUsage(() => lr({ distribution: 'log_uniform', min: 0.0001, max: 1000 }), /max 1000 draws e\^1000 = Infinity; give the bounds as logs .* or use log_uniform_values/);
  throwsUsage(() => lr({ distribution: 'inv_log_uniform', min: -1000, max: 1 }), /min -1000 draws e\^1000 = Infinity/);
  throwsUsage(() => lr({ distribution: 'log_normal', mu: 1000, sigma: 1 }), /^sweep\.json: run r000: parameter "optimizer\.kwargs\.lr" \(log_normal\) drew Infinity, which no config can hold; narrow its range$/);
});

test("W&B keys that do not change what runs are accepted and recorded: project, entity, description, controller", () => {
  const sweep = expand({
    method: 'grid',
    project: 'p',
    entity: 'e',
    description: 'd',
    controller: { type: 'local' },
    parameters: { seed: { values: [0] } },
  });
  assert.deepEqual(sweep.spec.controller, { type: 'local' });
  assert.equal(sweep.spec.project, 'p');
});

test("a sweep metric no run would log is warned about when the sweep is expanded, with the nearest one they log", () => {
  const named = (name: string, callbacks: unknown[] = []) =>
    expand({ method: 'grid', metric: { name, goal: 'maximize' }, base: { ...base(), callbacks }, parameters: { seed: { values: [0] } } }).warnings;
  assert.deepEqual(named('val_acc'), []);
  assert.deepEqual(named('val_accuracy'), ['metric "val_accuracy" is not one the runs log (loss, acc, lr, steps_per_sec, val_loss, val_acc); did you mean "val_acc"?']);
  assert.match(named('val_los')[0]!, /did you mean "val_loss"\?$/);
  // A callback's documented metrics count, patterns included.
  assert.deepEqual(named('chi1', [{ name: 'criticality' }]), []);
  assert.deepEqual(named('q_l3', [{ name: 'preact_stats' }]), []);
  assert.match(named('q_l3')[0]!, /^metric "q_l3" is not one the runs log/);
});
