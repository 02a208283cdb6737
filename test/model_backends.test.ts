import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useBackend, type BackendChoice } from '../lib/backend/index.js';
import { buildExperiment, fitExperiment, resolveConfig } from '../lib/experiment.js';
import { denseChainModels, models } from '../lib/models/index.js';
import { tinyConfig } from './helpers.js';

// Every registered model trains on every backend this machine has, through the real trainer,
// from the small example it registers: adding a model adds it here, and a model that cannot train
// on some backend (a kernel or gradient missing there) fails the suite.

/** wasm and cpu always; the native backend where @tensorflow/tfjs-node is installed. */
function presentBackends(): Exclude<BackendChoice, 'auto'>[] {
  const present: Exclude<BackendChoice, 'auto'>[] = ['wasm', 'cpu'];
  try {
    import.meta.resolve('@tensorflow/tfjs-node');
    present.push('node');
  } catch {
    // not installed here
  }
  return present;
}

const STEPS = 12;

/** Per-step train losses of a short run of model `name`'s example on `backend`. */
async function losses(name: string, backend: Exclude<BackendChoice, 'auto'>): Promise<number[]> {
  const example = models.example(name)!;
  await useBackend(backend);
  const dim = example.inputShape.reduce((a, b) => a * b, 1);
  const config = tinyConfig({
    model: { name, kwargs: example.kwargs },
    init: { name: 'he', kwargs: {} },
    optimizer: { name: 'sgd', kwargs: { lr: 0.05, momentum: 0.9 } },
    // A learnable batch: well-separated classes, one fixed batch of 64 seen every step.
    data: { name: 'synthetic', kwargs: { n_train: 64, n_val: 32, dim, shape: example.inputShape, classes: example.outputDim, separation: 4, seed: 1 } },
    train: { steps: STEPS, batch_size: 64, log_every: 1, eval_every: 0 },
  });
  const exp = buildExperiment(resolveConfig(config, 'test'), process.cwd());
  const lines: Record<string, number | string>[] = [];
  try {
    const result = await fitExperiment(exp, { runDir: null, sink: { metrics: (r) => lines.push(r), print: () => {} } });
    assert.equal(result.status, 'completed', `${name} on ${backend}: ${JSON.stringify(result)}`);
  } finally {
    exp.dispose();
  }
  return lines.filter((l) => l.split === 'train').map((l) => l.loss as number);
}

test('every registered model declares a small example to train', () => {
  const missing = models.names().filter((name) => models.example(name) === undefined);
  assert.deepEqual(missing, [], 'models without an example: add `example` to their models.register call');
});

test('denseChainModels names exactly the models whose instances have layer maps', async () => {
  await useBackend('cpu');
  for (const name of models.names()) {
    const example = models.example(name)!;
    const model = models.build({ name, kwargs: example.kwargs }, { inputShape: example.inputShape, outputDim: example.outputDim });
    try {
      assert.equal(denseChainModels.has(name), typeof model.layerMap === 'function', `${name}: denseChainModels says ${denseChainModels.has(name)}`);
    } finally {
      model.dispose();
    }
  }
});

for (const name of models.names()) {
  test(`${name} trains on ${presentBackends().join(', ')}: finite, decreasing loss, and wasm equals cpu`, async () => {
    const curves = new Map<string, number[]>();
    for (const backend of presentBackends()) {
      const curve = await losses(name, backend);
      assert.equal(curve.length, STEPS, `${name} on ${backend}: one loss a step`);
      assert.ok(curve.every(Number.isFinite), `${name} on ${backend}: finite losses, got ${curve}`);
      assert.ok(curve.at(-1)! < 0.8 * curve[0]!, `${name} on ${backend}: the loss falls on a learnable batch, got ${curve}`);
      curves.set(backend, curve);
    }
    // Same seed, data, init and batches: only float32 rounding differs between the backends.
    const [wasm, cpu] = [curves.get('wasm')!, curves.get('cpu')!];
    wasm.forEach((loss, i) => assert.ok(Math.abs(loss - cpu[i]!) <= 1e-4 + 1e-3 * Math.abs(cpu[i]!), `${name} step ${i + 1}: wasm ${loss}, cpu ${cpu[i]}`));
  });
}
