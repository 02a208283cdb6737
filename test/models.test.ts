import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../lib/backend/index.js';
import { UsageError } from '../lib/errors.js';
import { inits } from '../lib/init/index.js';
import { models, type Model } from '../lib/models/index.js';
import { Rng } from '../lib/rng.js';

before(async () => {
  await useBackend('cpu');
});

const flat = { inputShape: [32], outputDim: 10 };
const image = { inputShape: [8, 8, 1], outputDim: 3 };

function mlp(widths: number[], extra: Record<string, unknown> = {}, ctx = { inputShape: [widths[0]!], outputDim: widths.at(-1)! }): Model {
  return models.build({ name: 'mlp', kwargs: { widths, ...extra } }, ctx);
}

function init(model: Model, seed = 0): void {
  inits.build({ name: 'gaussian', kwargs: { sigma_w2: 2, sigma_b2: 0.1 } }).apply(model, new Rng(seed, 'init'));
}

function randomInput(shape: number[], seed = 1): tf.Tensor {
  return tf.tensor(new Rng(seed).normalArray(shape.reduce((a, b) => a * b, 1)), shape);
}

test('both built-in models are registered', () => {
  assert.deepEqual(
    ['cnn', 'mlp'].filter((n) => models.has(n)),
    ['cnn', 'mlp'],
  );
});

test('mlp builds through the registry with one dense layer per pair of widths', () => {
  const model = models.build({ name: 'mlp', kwargs: { widths: [32, 64, 16, 10] } }, flat);
  assert.deepEqual(
    model.layers.map((l) => [l.name, l.kind, l.weight.shape, l.bias?.shape, l.fanIn, l.fanOut]),
    [
      ['dense0', 'dense', [32, 64], [64], 32, 64],
      ['dense1', 'dense', [64, 16], [16], 64, 16],
      ['dense2', 'dense', [16, 10], [10], 16, 10],
    ],
  );
  assert.equal(model.params.length, 6);
  assert.deepEqual(model.inputShape, [32]);
  assert.equal(model.outputDim, 10);
  model.dispose();
});

test('mlp parameters start as zeros', () => {
  const model = mlp([4, 3, 2]);
  for (const p of model.params) assert.ok(p.dataSync().every((v) => v === 0));
  model.dispose();
});

test('mlp forward gives [batch, outputDim] and one pre-activation per layer when capturing', () => {
  const model = mlp([32, 64, 16, 10]);
  init(model);
  tf.tidy(() => {
    const { output, preactivations } = model.forward(randomInput([5, 32]), true);
    assert.deepEqual(output.shape, [5, 10]);
    assert.deepEqual(
      preactivations.map((h) => h.shape),
      [
        [5, 64],
        [5, 16],
        [5, 10],
      ],
    );
  });
  model.dispose();
});

test('mlp forward captures nothing unless asked', () => {
  const model = mlp([32, 8, 10]);
  tf.tidy(() => assert.equal(model.forward(randomInput([2, 32])).preactivations.length, 0));
  model.dispose();
});

test('mlp pre-activations are xW + b and its output is the readout pre-activation', () => {
  const model = mlp([3, 2, 1], { activation: 'relu' });
  tf.tidy(() => {
    model.layers[0]!.weight.assign(tf.tensor2d([[1, -1], [0, 2], [1, 0]]));
    model.layers[0]!.bias!.assign(tf.tensor1d([0.5, -10]));
    model.layers[1]!.weight.assign(tf.tensor2d([[2], [3]]));
    model.layers[1]!.bias!.assign(tf.tensor1d([1]));
  });
  tf.tidy(() => {
    const { output, preactivations } = model.forward(tf.tensor2d([[1, 2, 3]]), true);
    assert.deepEqual([...preactivations[0]!.dataSync()], [4.5, -7]);
    // relu(-7) = 0, so only the first unit reaches the readout: 2 * 4.5 + 1.
    assert.deepEqual([...preactivations[1]!.dataSync()], [10]);
    assert.deepEqual([...output.dataSync()], [10]);
  });
  model.dispose();
});

test('mlp flattens multi-dimensional inputs', () => {
  const model = mlp([32, 8, 10], {}, { inputShape: [4, 8], outputDim: 10 });
  init(model);
  tf.tidy(() => assert.deepEqual(model.forward(randomInput([3, 4, 8])).output.shape, [3, 10]));
  model.dispose();
});

test('every activation gives its textbook value', () => {
  const expected: Record<string, number[]> = {
    relu: [0, 0, 1],
    tanh: [Math.tanh(-1), 0, Math.tanh(1)],
    linear: [-1, 0, 1],
    // Exact gelu: x * Phi(x), Phi(1) = 0.8413447.
    gelu: [-1 + 0.8413447, 0, 0.8413447],
    erf: [-0.8427008, 0, 0.8427008],
  };
  for (const [activation, values] of Object.entries(expected)) {
    // Identity hidden layer, readout sums the hidden units, so output = sum of activations.
    const model = mlp([1, 1, 1], { activation, bias: false });
    tf.tidy(() => model.params.forEach((p) => p.assign(tf.ones([1, 1]))));
    const got = tf.tidy(() => [...model.forward(tf.tensor2d([[-1], [0], [1]])).output.dataSync()]);
    values.forEach((v, i) => assert.ok(Math.abs(got[i]! - v) < 1e-5, `${activation}(${i - 1}) = ${got[i]}, expected ${v}`));
    model.dispose();
  }
});

test('mlp without bias has null biases and only weights as parameters', () => {
  const model = mlp([32, 8, 10], { bias: false });
  assert.ok(model.layers.every((l) => l.bias === null));
  assert.equal(model.params.length, 2);
  model.dispose();
});

test('mlp whose first width does not match the data says which width to set', () => {
  assert.throws(
    () => models.build({ name: 'mlp', kwargs: { widths: [30, 16, 10] } }, flat),
    (err: Error) =>
      err instanceof UsageError &&
      err.message === 'model:mlp: widths[0] is 30 but the data has 32 input features; set model.kwargs.widths[0] to 32',
  );
});

test('mlp whose last width does not match the outputs says which width to set', () => {
  assert.throws(
    () => models.build({ name: 'mlp', kwargs: { widths: [32, 16, 5] } }, flat),
    (err: Error) => err instanceof UsageError && /widths\[2\] is 5 .* 10 outputs; set model.kwargs.widths\[2\] to 10/.test(err.message),
  );
});

test('mlp with a single width is rejected before anything is built', () => {
  assert.throws(() => models.build({ name: 'mlp', kwargs: { widths: [32] } }, flat), /kwarg "widths"/);
});

test('an unknown kwarg fails listing the accepted ones', () => {
  assert.throws(
    () => models.build({ name: 'mlp', kwargs: { widths: [32, 10], activaton: 'tanh' } }, flat),
    (err: Error) =>
      err instanceof UsageError && err.message === 'model:mlp: unknown kwarg "activaton"; accepted kwargs: widths, width, depth, activation, bias, parametrization',
  );
});

test('an unknown activation fails naming the kwarg', () => {
  assert.throws(() => models.build({ name: 'mlp', kwargs: { widths: [32, 10], activation: 'swish' } }, flat), /kwarg "activation"/);
});

test('cnn builds through the registry with conv layers then dense layers', () => {
  const model = models.build({ name: 'cnn', kwargs: { channels: [4, 6], kernel_size: 3, hidden: [12] } }, image);
  assert.deepEqual(
    model.layers.map((l) => [l.name, l.kind, l.weight.shape, l.bias?.shape, l.fanIn, l.fanOut]),
    [
      ['conv0', 'conv2d', [3, 3, 1, 4], [4], 9, 36],
      ['conv1', 'conv2d', [3, 3, 4, 6], [6], 36, 54],
      // 8x8 pooled twice is 2x2, times 6 channels.
      ['dense0', 'dense', [24, 12], [12], 24, 12],
      ['dense1', 'dense', [12, 3], [3], 12, 3],
    ],
  );
  model.dispose();
});

test('cnn forward gives [batch, outputDim] and captures pre-pooling conv pre-activations', () => {
  const model = models.build({ name: 'cnn', kwargs: { channels: [4, 6], hidden: [12] } }, image);
  init(model);
  tf.tidy(() => {
    const { output, preactivations } = model.forward(randomInput([2, 8, 8, 1]), true);
    assert.deepEqual(output.shape, [2, 3]);
    assert.deepEqual(
      preactivations.map((h) => h.shape),
      [
        [2, 8, 8, 4],
        [2, 4, 4, 6],
        [2, 12],
        [2, 3],
      ],
    );
  });
  model.dispose();
});

test('cnn runs with every pooling mode, no hidden layer and odd image sides', () => {
  for (const pool of ['max', 'avg', 'none']) {
    const ctx = { inputShape: [7, 5, 2], outputDim: 4 };
    const model = models.build({ name: 'cnn', kwargs: { channels: [3], pool, hidden: [], kernel_size: 5 } }, ctx);
    init(model);
    const features = pool === 'none' ? 7 * 5 * 3 : 3 * 2 * 3;
    assert.deepEqual(model.layers[1]!.weight.shape, [features, 4]);
    tf.tidy(() => assert.deepEqual(model.forward(randomInput([2, 7, 5, 2])).output.shape, [2, 4]));
    model.dispose();
  }
});

test('cnn on flat data asks for image data', () => {
  assert.throws(
    () => models.build({ name: 'cnn', kwargs: {} }, flat),
    (err: Error) => err instanceof UsageError && /cnn needs image data .* such as mnist/.test(err.message) && /\[32\]/.test(err.message),
  );
});

test('cnn that pools an image away to nothing says how to fix it, and leaks nothing', () => {
  const before = tf.memory().numTensors;
  assert.throws(
    () => models.build({ name: 'cnn', kwargs: { channels: [2, 2, 2] } }, { inputShape: [4, 4, 1], outputDim: 2 }),
    (err: Error) => err instanceof UsageError && /fewer entries in model.kwargs.channels/.test(err.message),
  );
  assert.equal(tf.memory().numTensors, before);
});

test('gradients reach every cnn parameter', () => {
  const model = models.build({ name: 'cnn', kwargs: { channels: [3], hidden: [5], activation: 'gelu' } }, image);
  init(model);
  const x = randomInput([2, 8, 8, 1]);
  const { grads, value } = tf.variableGrads(() => tf.sum(tf.square(model.forward(x).output)) as tf.Scalar, [...model.params]);
  for (const p of model.params) assert.ok(tf.tidy(() => tf.sum(tf.abs(grads[p.name]!)).dataSync()[0]!) > 0, `no gradient for a ${p.shape} param`);
  tf.dispose([x, value, ...Object.values(grads)]);
  model.dispose();
});

test('building, initialising and a forward pass in tf.tidy leave only the model variables', () => {
  for (const [spec, ctx, shape] of [
    [{ name: 'mlp', kwargs: { widths: [32, 16, 10], activation: 'gelu' } }, flat, [4, 32]],
    [{ name: 'cnn', kwargs: { channels: [2, 3], hidden: [4] } }, image, [4, 8, 8, 1]],
  ] as const) {
    const before = tf.memory().numTensors;
    const model = models.build(spec, ctx);
    init(model);
    const x = randomInput([...shape]);
    // Returning nothing from the tidy: a returned result would be kept, like the trainer's loss.
    tf.tidy(() => {
      model.forward(x, true);
    });
    x.dispose();
    assert.equal(tf.memory().numTensors, before + model.params.length, `${spec.name} leaked`);
    model.dispose();
    assert.equal(tf.memory().numTensors, before, `${spec.name} dispose left tensors`);
  }
});

test('two models of the same shape can live in one process', () => {
  const a = mlp([32, 8, 10]);
  const b = mlp([32, 8, 10]);
  assert.notEqual(a.params[0]!.name, b.params[0]!.name);
  a.dispose();
  b.dispose();
});
