import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../lib/backend/index.js';
import { UsageError } from '../lib/errors.js';
import { inits } from '../lib/init/index.js';
import { haarColumns, orthogonalMatrix } from '../lib/init/orthogonal.js';
import { models, type Model } from '../lib/models/index.js';
import { Rng } from '../lib/rng.js';

before(async () => {
  await useBackend('cpu');
});

function mlp(widths: number[], bias = true): Model {
  return models.build({ name: 'mlp', kwargs: { widths, bias } }, { inputShape: [widths[0]!], outputDim: widths.at(-1)! });
}

function initialised(model: Model, name: string, kwargs: Record<string, unknown> = {}, seed = 0): Model {
  inits.build({ name, kwargs }).apply(model, new Rng(seed, 'init'));
  return model;
}

function values(v: tf.Variable | null): Float32Array {
  assert.ok(v);
  return v.dataSync() as Float32Array;
}

/** Mean and variance about zero (the schemes are zero-mean), in float64. */
function moments(xs: Float32Array): { mean: number; variance: number } {
  let s = 0;
  let s2 = 0;
  for (const x of xs) {
    s += x;
    s2 += x * x;
  }
  return { mean: s / xs.length, variance: s2 / xs.length };
}

function assertClose(actual: number, expected: number, relTol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= relTol * Math.abs(expected), `${what}: ${actual} is not within ${relTol * 100}% of ${expected}`);
}

/** Gram matrix of the columns (AᵀA, transpose=false) or of the rows (AAᵀ) of a row-major matrix. */
function gram(a: Float32Array, rows: number, cols: number, ofRows: boolean): Float64Array {
  const n = ofRows ? rows : cols;
  const len = ofRows ? cols : rows;
  const at = (i: number, k: number) => (ofRows ? a[i * cols + k]! : a[k * cols + i]!);
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < len; k++) s += at(i, k) * at(j, k);
      g[i * n + j] = g[j * n + i] = s;
    }
  return g;
}

function assertScaledIdentity(g: Float64Array, n: number, scale: number, tol: number): void {
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const want = i === j ? scale : 0;
      assert.ok(Math.abs(g[i * n + j]! - want) < tol, `gram[${i}][${j}] = ${g[i * n + j]}, expected ${want}`);
    }
}

test('every built-in scheme is registered', () => {
  for (const name of ['gaussian', 'orthogonal', 'delta_orthogonal', 'he', 'lecun', 'xavier']) assert.ok(inits.has(name), name);
});

test('gaussian weights have variance sigma_w2 / fan_in', () => {
  const model = initialised(mlp([500, 400, 3]), 'gaussian', { sigma_w2: 2 });
  const { mean, variance } = moments(values(model.layers[0]!.weight));
  assertClose(variance, 2 / 500, 0.02, 'weight variance');
  assert.ok(Math.abs(mean) < 0.01 * Math.sqrt(2 / 500), `mean ${mean}`);
  model.dispose();
});

test('gaussian biases have variance sigma_b2', () => {
  const model = initialised(mlp([2, 40000, 1]), 'gaussian', { sigma_b2: 0.3 });
  assertClose(moments(values(model.layers[0]!.bias)).variance, 0.3, 0.03, 'bias variance');
  model.dispose();
});

test('gaussian biases are zero by default', () => {
  const model = initialised(mlp([8, 16, 2]), 'gaussian');
  for (const l of model.layers) assert.ok(values(l.bias).every((b) => b === 0));
  model.dispose();
});

test('gaussian readout_sigma_w2 scales only the last layer', () => {
  const model = initialised(mlp([300, 300, 300]), 'gaussian', { sigma_w2: 1, readout_sigma_w2: 0.25 });
  assertClose(moments(values(model.layers[0]!.weight)).variance, 1 / 300, 0.03, 'hidden');
  assertClose(moments(values(model.layers[1]!.weight)).variance, 0.25 / 300, 0.03, 'readout');
  model.dispose();
});

test('gaussian with one seed and another sigma_w2 gives the same noise rescaled', () => {
  const a = initialised(mlp([20, 30, 4]), 'gaussian', { sigma_w2: 1, sigma_b2: 0 });
  const b = initialised(mlp([20, 30, 4]), 'gaussian', { sigma_w2: 4, sigma_b2: 0.5 });
  const wa = values(a.layers[1]!.weight);
  const wb = values(b.layers[1]!.weight);
  wa.forEach((w, i) => assert.ok(Math.abs(2 * w - wb[i]!) < 1e-6));
  a.dispose();
  b.dispose();
});

test('orthogonal square weights satisfy WᵀW = gain²·I', () => {
  const model = initialised(mlp([64, 64, 64]), 'orthogonal', { gain: 1.5 });
  const w = values(model.layers[0]!.weight);
  assertScaledIdentity(gram(w, 64, 64, false), 64, 2.25, 1e-5);
  model.dispose();
});

test('orthogonal tall weights have orthonormal columns', () => {
  const model = initialised(mlp([80, 30, 2]), 'orthogonal');
  assertScaledIdentity(gram(values(model.layers[0]!.weight), 80, 30, false), 30, 1, 1e-5);
  model.dispose();
});

test('orthogonal wide weights have orthonormal rows', () => {
  const model = initialised(mlp([30, 80, 2]), 'orthogonal', { gain: 2 });
  assertScaledIdentity(gram(values(model.layers[0]!.weight), 30, 80, true), 30, 4, 1e-5);
  model.dispose();
});

test('orthogonal conv kernels are orthogonal as [k·k·cin, cout] matrices', () => {
  const model = models.build({ name: 'cnn', kwargs: { channels: [4, 40], hidden: [] } }, { inputShape: [8, 8, 2], outputDim: 3 });
  initialised(model, 'orthogonal');
  // conv0: [3,3,2,4] is tall (18 x 4); conv1: [3,3,4,40] is wide (36 x 40).
  assertScaledIdentity(gram(values(model.layers[0]!.weight), 18, 4, false), 4, 1, 1e-5);
  assertScaledIdentity(gram(values(model.layers[1]!.weight), 36, 40, true), 36, 1, 1e-5);
  model.dispose();
});

test('delta_orthogonal conv kernels are zero but an orthogonal [cin, cout] matrix at the centre', () => {
  const model = models.build({ name: 'cnn', kwargs: { channels: [4, 40], hidden: [5] } }, { inputShape: [8, 8, 2], outputDim: 3 });
  initialised(model, 'delta_orthogonal', { gain: 1.5 });
  for (const [layer, cin, cout] of [[model.layers[0]!, 2, 4], [model.layers[1]!, 4, 40]] as const) {
    const w = values(layer.weight);
    const centre = (1 * 3 + 1) * cin * cout;
    w.forEach((x, i) => {
      if (i < centre || i >= centre + cin * cout) assert.equal(x, 0, `${layer.name}[${i}] is off the centre`);
    });
    assertScaledIdentity(gram(w.subarray(centre, centre + cin * cout), cin, cout, true), cin, 2.25, 1e-5);
  }
  // The dense head is orthogonal like the orthogonal scheme's: [160, 5] has orthonormal columns.
  assertScaledIdentity(gram(values(model.layers[2]!.weight), 160, 5, false), 5, 2.25, 1e-5);
  model.dispose();
});

test('delta_orthogonal convolutions keep every pixel\'s channel norm times gain (dynamical isometry)', () => {
  const model = models.build({ name: 'cnn', kwargs: { channels: [3, 6], hidden: [], pool: 'none' } }, { inputShape: [5, 7, 3], outputDim: 2 });
  initialised(model, 'delta_orthogonal', { gain: 2 }, 3);
  const x = tf.randomNormal([2, 5, 7, 3], 0, 1, 'float32', 7);
  const y = tf.conv2d(x as tf.Tensor4D, model.layers[1]!.weight as tf.Tensor4D, 1, 'same');
  const normX = tf.norm(x, 'euclidean', -1).dataSync();
  const normY = tf.norm(y, 'euclidean', -1).dataSync();
  normX.forEach((n, i) => assert.ok(Math.abs(normY[i]! - 2 * n) < 1e-4 * (1 + n), `pixel ${i}: ${normY[i]} vs 2 * ${n}`));
  tf.dispose([x, y]);
  model.dispose();
});

test('delta_orthogonal refuses a conv layer that narrows the channels, naming the layer and the fix', () => {
  const model = models.build({ name: 'cnn', kwargs: { channels: [8, 4], hidden: [] } }, { inputShape: [8, 8, 1], outputDim: 3 });
  assert.throws(
    () => initialised(model, 'delta_orthogonal'),
    (err: Error) => err instanceof UsageError && /conv1 maps 8 to 4/.test(err.message) && /init orthogonal/.test(err.message),
  );
  model.dispose();
});

test('orthogonal biases have variance sigma_b2', () => {
  const model = initialised(mlp([2, 20000, 1]), 'orthogonal', { sigma_b2: 0.5 });
  assertClose(moments(values(model.layers[0]!.bias)).variance, 0.5, 0.04, 'bias variance');
  model.dispose();
});

test('orthogonal matrices carry no sign bias from the QR convention', () => {
  // Householder QR alone makes Q's first entry negative every time; Haar measure does not care.
  const signs = new Set<number>();
  for (let seed = 0; seed < 20; seed++) signs.add(Math.sign(orthogonalMatrix(5, 5, 1, new Rng(seed))[0]!));
  assert.deepEqual([...signs].sort(), [-1, 1]);
});

test('Haar columns are the Gram-Schmidt of the Gaussian draw', () => {
  // With R's diagonal made positive, Q's first column is the first Gaussian column normalised.
  const [m, n] = [6, 3];
  const q = haarColumns(m, n, new Rng(7));
  const g = new Rng(7);
  const first = Array.from({ length: m }, () => g.normal());
  const norm = Math.hypot(...first);
  first.forEach((x, i) => assert.ok(Math.abs(q[i]! - x / norm) < 1e-12));
});

test('he weights have variance 2 / fan_in', () => {
  const model = initialised(mlp([400, 300, 2]), 'he');
  assertClose(moments(values(model.layers[0]!.weight)).variance, 2 / 400, 0.02, 'variance');
  assert.ok(model.layers.every((l) => values(l.bias).every((b) => b === 0)));
  model.dispose();
});

test('he in fan_out mode has variance 2 / fan_out', () => {
  const model = initialised(mlp([400, 300, 2]), 'he', { mode: 'fan_out' });
  assertClose(moments(values(model.layers[0]!.weight)).variance, 2 / 300, 0.02, 'variance');
  model.dispose();
});

test('he uniform stays inside ±sqrt(6 / fan_in) with variance 2 / fan_in', () => {
  const model = initialised(mlp([400, 300, 2]), 'he', { distribution: 'uniform' });
  const w = values(model.layers[0]!.weight);
  const a = Math.sqrt(6 / 400);
  assert.ok(w.every((x) => Math.abs(x) <= a));
  assertClose(moments(w).variance, 2 / 400, 0.02, 'variance');
  model.dispose();
});

test('he on a conv layer uses fan_in = k·k·cin', () => {
  const model = models.build({ name: 'cnn', kwargs: { channels: [200], kernel_size: 5, hidden: [] } }, { inputShape: [4, 4, 8], outputDim: 2 });
  initialised(model, 'he');
  assertClose(moments(values(model.layers[0]!.weight)).variance, 2 / (5 * 5 * 8), 0.04, 'variance');
  model.dispose();
});

test('lecun weights have variance 1 / fan_in, or 1 / fan_out in fan_out mode', () => {
  const model = initialised(mlp([400, 300, 2]), 'lecun');
  assertClose(moments(values(model.layers[0]!.weight)).variance, 1 / 400, 0.02, 'fan_in');
  initialised(model, 'lecun', { mode: 'fan_out', distribution: 'uniform' });
  assertClose(moments(values(model.layers[0]!.weight)).variance, 1 / 300, 0.02, 'fan_out');
  model.dispose();
});

test('xavier weights have variance 2 / (fan_in + fan_out)', () => {
  const model = initialised(mlp([400, 300, 2]), 'xavier');
  assertClose(moments(values(model.layers[0]!.weight)).variance, 2 / 700, 0.02, 'normal');
  initialised(model, 'xavier', { distribution: 'uniform' });
  assertClose(moments(values(model.layers[0]!.weight)).variance, 2 / 700, 0.02, 'uniform');
  model.dispose();
});

test('every scheme gives identical weights for the same seed and different ones for another seed', () => {
  for (const name of ['gaussian', 'orthogonal', 'delta_orthogonal', 'he', 'lecun', 'xavier']) {
    const kwargs = name === 'gaussian' || name === 'orthogonal' ? { sigma_b2: 0.1 } : {};
    const [a, b, c] = [0, 0, 1].map((seed) => initialised(mlp([10, 12, 3]), name, kwargs, seed));
    a!.params.forEach((p, i) => {
      assert.deepEqual(p.dataSync(), b!.params[i]!.dataSync(), `${name}: same seed differs`);
      if (p.dataSync().some((x) => x !== 0)) assert.notDeepEqual(p.dataSync(), c!.params[i]!.dataSync(), `${name}: seeds agree`);
    });
    for (const m of [a, b, c]) m!.dispose();
  }
});

test('initialising leaves no tensors behind', () => {
  const model = models.build({ name: 'cnn', kwargs: { channels: [3], hidden: [4] } }, { inputShape: [6, 6, 1], outputDim: 2 });
  const before = tf.memory().numTensors;
  for (const name of ['gaussian', 'orthogonal', 'delta_orthogonal', 'he', 'lecun', 'xavier']) initialised(model, name, {});
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

test('an unknown init kwarg fails listing the accepted ones', () => {
  assert.throws(
    () => inits.build({ name: 'he', kwargs: { mod: 'fan_out' } }),
    (err: Error) => err instanceof UsageError && err.message === 'init:he: unknown kwarg "mod"; accepted kwargs: mode, distribution',
  );
});

test('a negative variance is rejected', () => {
  assert.throws(() => inits.build({ name: 'gaussian', kwargs: { sigma_w2: -1 } }), /kwarg "sigma_w2"/);
});
