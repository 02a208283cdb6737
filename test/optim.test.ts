import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../lib/backend/index.js';
import { UsageError } from '../lib/errors.js';
import { accuracy, losses, optimizers, schedules } from '../lib/optim/index.js';

before(async () => {
  await useBackend('cpu');
});

// Two parameters of different shapes, so that per-parameter state is exercised; the references
// below work on their flattened concatenation since every update is elementwise.
const P0 = { a: [1, -0.5, 0.25], b: [2, -1, 0.5, 3] };
const GRADS = [
  { a: [0.5, -1, 2], b: [0.1, 0.3, -0.7, 1e-3] },
  { a: [0.3, -0.2, -1.5], b: [0.4, -0.3, 0.2, 2e-3] },
  { a: [-0.1, 0.8, 0.6], b: [0.9, 0.05, -0.2, -1e-3] },
  { a: [0.7, 0.1, -0.4], b: [-0.5, 0.6, 0.3, 4e-3] },
  { a: [0.2, -0.6, 0.9], b: [0.2, -0.1, 0.8, 1e-3] },
];
const LRS = [0.1, 0.1, 0.05, 0.05, 0.02];
const flat = (g: { a: number[]; b: number[] }): number[] => [...g.a, ...g.b];

/** Builds the optimizer on fresh parameters, applies GRADS with LRS, returns the final parameters flattened. */
function runOptimizer(spec: unknown): number[] {
  const params = [tf.variable(tf.tensor1d(P0.a)), tf.variable(tf.tensor2d(P0.b, [2, 2]))];
  const opt = optimizers.build(spec, { params });
  GRADS.forEach((g, step) => {
    const grads = [tf.tensor1d(g.a), tf.tensor2d(g.b, [2, 2])];
    opt.apply(grads, LRS[step]!);
    tf.dispose(grads);
  });
  const out = params.flatMap((p) => [...p.dataSync()]);
  opt.dispose();
  tf.dispose(params);
  return out;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i]!, expected[i]!];
    assert.ok(Math.abs(a - e) <= rtol * Math.max(Math.abs(e), 1e-3), `element ${i}: got ${a}, expected ${e}`);
  }
}

/** torch.optim.SGD (dampening 0) in plain numbers. */
function referenceSgd(o: { momentum?: number; nesterov?: boolean; weight_decay?: number }): number[] {
  const { momentum = 0, nesterov = false, weight_decay = 0 } = o;
  const p = flat(P0);
  let buf: number[] | null = null;
  GRADS.forEach((gs, step) => {
    let g = flat(gs).map((gi, i) => gi + weight_decay * p[i]!);
    if (momentum !== 0) {
      buf = buf === null ? [...g] : buf.map((b, i) => momentum * b + g[i]!);
      const b = buf;
      g = nesterov ? g.map((gi, i) => gi + momentum * b[i]!) : [...b];
    }
    for (let i = 0; i < p.length; i++) p[i]! -= LRS[step]! * g[i]!;
  });
  return p;
}

/** torch.optim.Adam / AdamW in plain numbers. */
function referenceAdam(o: { beta1?: number; beta2?: number; eps?: number; weight_decay?: number; decoupled: boolean }): number[] {
  const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0, decoupled } = o;
  const p = flat(P0);
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  GRADS.forEach((gs, step) => {
    const lr = LRS[step]!;
    const t = step + 1;
    const g = flat(gs);
    for (let i = 0; i < p.length; i++) {
      let gi = g[i]!;
      if (decoupled) p[i]! *= 1 - lr * weight_decay;
      else gi += weight_decay * p[i]!;
      m[i] = beta1 * m[i]! + (1 - beta1) * gi;
      v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
      const mHat = m[i]! / (1 - beta1 ** t);
      const vHat = v[i]! / (1 - beta2 ** t);
      p[i]! -= (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
  });
  return p;
}

test('sgd without momentum steps by the learning rate passed to apply, not the kwarg', () => {
  assertClose(runOptimizer({ name: 'sgd', kwargs: { lr: 123 } }), referenceSgd({}));
});

test('sgd with momentum starts its buffer at the first gradient, then accumulates', () => {
  assertClose(runOptimizer({ name: 'sgd', kwargs: { momentum: 0.9 } }), referenceSgd({ momentum: 0.9 }));
});

test('sgd with nesterov adds momentum times the buffer to the gradient', () => {
  const got = runOptimizer({ name: 'sgd', kwargs: { momentum: 0.8, nesterov: true } });
  assertClose(got, referenceSgd({ momentum: 0.8, nesterov: true }));
  // Guard against a reference that silently ignores nesterov.
  assert.notDeepEqual(referenceSgd({ momentum: 0.8, nesterov: true }), referenceSgd({ momentum: 0.8 }));
});

test('sgd weight decay adds weight_decay times the parameter to the gradient', () => {
  assertClose(runOptimizer({ name: 'sgd', kwargs: { weight_decay: 0.1 } }), referenceSgd({ weight_decay: 0.1 }));
  assertClose(
    runOptimizer({ name: 'sgd', kwargs: { weight_decay: 0.1, momentum: 0.5, nesterov: true } }),
    referenceSgd({ weight_decay: 0.1, momentum: 0.5, nesterov: true }),
  );
});

test('sgd with nesterov but no momentum is rejected with a message that names the fix', () => {
  const params = [tf.variable(tf.zeros([2]))];
  assert.throws(
    () => optimizers.build({ name: 'sgd', kwargs: { nesterov: true } }, { params }),
    (err: unknown) => err instanceof UsageError && /optimizer:sgd/.test(err.message) && /set "momentum"/.test(err.message),
  );
  tf.dispose(params);
});

test('adam matches the bias-corrected PyTorch update over five steps', () => {
  assertClose(runOptimizer({ name: 'adam' }), referenceAdam({ decoupled: false }));
});

test('adam puts eps outside the square root of the corrected second moment', () => {
  // A large eps against 1e-3 gradients makes the placement of eps visible in the result.
  const kwargs = { beta1: 0.5, beta2: 0.9, eps: 1e-2 };
  assertClose(runOptimizer({ name: 'adam', kwargs }), referenceAdam({ ...kwargs, decoupled: false }));
});

test('adam weight_decay is an L2 term added to the gradient', () => {
  assertClose(runOptimizer({ name: 'adam', kwargs: { weight_decay: 0.5 } }), referenceAdam({ weight_decay: 0.5, decoupled: false }));
});

test('adamw decays the weights by lr * weight_decay before the Adam step', () => {
  assertClose(runOptimizer({ name: 'adamw', kwargs: { weight_decay: 0.5 } }), referenceAdam({ weight_decay: 0.5, decoupled: true }));
  assert.equal(optimizers.resolve({ name: 'adamw' }).kwargs.weight_decay, 0.01);
});

test('apply over 100 steps leaves the number of tensors unchanged', () => {
  const params = [tf.variable(tf.ones([4, 3])), tf.variable(tf.ones([3]))];
  const grads = [tf.fill([4, 3], 0.01), tf.fill([3], -0.02)];
  for (const spec of [
    { name: 'sgd', kwargs: { momentum: 0.9, nesterov: true, weight_decay: 1e-4 } },
    { name: 'adam', kwargs: { weight_decay: 1e-4 } },
    { name: 'adamw' },
  ]) {
    const opt = optimizers.build(spec, { params });
    opt.apply(grads, 0.01);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) opt.apply(grads, 0.01);
    assert.equal(tf.memory().numTensors, before, spec.name);
    opt.dispose();
  }
  tf.dispose([...params, ...grads]);
});

test('dispose frees the optimizer state', () => {
  const params = [tf.variable(tf.ones([4, 3])), tf.variable(tf.ones([3]))];
  const before = tf.memory().numTensors;
  for (const [spec, stateTensors] of [
    [{ name: 'sgd', kwargs: { momentum: 0.9 } }, 2],
    [{ name: 'adam' }, 5],
    [{ name: 'adamw' }, 5],
  ] as const) {
    const opt = optimizers.build(spec, { params });
    assert.equal(tf.memory().numTensors, before + stateTensors, spec.name);
    opt.dispose();
    assert.equal(tf.memory().numTensors, before, spec.name);
  }
  tf.dispose(params);
});

test('the constant schedule returns the base rate at every step', () => {
  const s = schedules.build('constant');
  assert.deepEqual([0, 50, 99].map((t) => s(t, 100, 0.3)), [0.3, 0.3, 0.3]);
});

test('the step schedule multiplies by gamma every step_size steps', () => {
  const s = schedules.build({ name: 'step', kwargs: { step_size: 10, gamma: 0.5 } });
  assert.deepEqual([0, 9, 10, 19, 20, 35].map((t) => s(t, 100, 1)), [1, 1, 0.5, 0.5, 0.25, 0.125]);
  assert.throws(() => schedules.build({ name: 'step' }), /missing required kwarg "step_size"/);
});

test('the cosine schedule goes from lr to lr * final_ratio over the run', () => {
  const s = schedules.build({ name: 'cosine', kwargs: { final_ratio: 0.1 } });
  assertClose([0, 25, 50, 100, 150].map((t) => s(t, 100, 1)), [1, 0.1 + 0.9 * (1 + Math.SQRT1_2) / 2, 0.55, 0.1, 0.1]);
});

test('the warmup schedule ramps linearly to lr, then stays constant', () => {
  const s = schedules.build({ name: 'warmup', kwargs: { warmup_steps: 4 } });
  assertClose([0, 1, 2, 3, 4, 99].map((t) => s(t, 100, 2)), [0.5, 1, 1.5, 2, 2, 2]);
});

test('the warmup schedule can follow its ramp with a cosine over the remaining steps', () => {
  const s = schedules.build({ name: 'warmup', kwargs: { warmup_steps: 10, then: 'cosine', final_ratio: 0 } });
  assertClose([0, 9, 10, 60, 110].map((t) => s(t, 110, 1)), [0.1, 1, 1, 0.5, 0]);
});

test('cross_entropy equals the mean negative log-softmax of the labels', () => {
  const ce = losses.build('cross_entropy');
  const logits = [
    [1, 2, 3],
    [0.5, -1, 0],
  ];
  const labels = [2, 0];
  const expected =
    logits.reduce((sum, row, i) => sum + Math.log(row.reduce((s, z) => s + Math.exp(z), 0)) - row[labels[i]!]!, 0) / logits.length;
  const [out, y] = [tf.tensor2d(logits), tf.tensor1d(labels, 'int32')];
  const loss = ce(out, y);
  assertClose(loss.dataSync(), [expected]);
  tf.dispose([out, y, loss]);
});

test('cross_entropy with label smoothing mixes in the mean over classes as PyTorch does', () => {
  const eps = 0.2;
  const ce = losses.build({ name: 'cross_entropy', kwargs: { label_smoothing: eps } });
  const row = [1, 2, 3];
  const lse = Math.log(row.reduce((s, z) => s + Math.exp(z), 0));
  const logp = row.map((z) => z - lse);
  // PyTorch: (1 - eps) * nll + eps * (-sum_c log p_c) / C.
  const expected = (1 - eps) * -logp[0]! + (eps * -logp.reduce((s, l) => s + l, 0)) / row.length;
  const [out, y] = [tf.tensor2d([row]), tf.tensor1d([0], 'int32')];
  const loss = ce(out, y);
  assertClose(loss.dataSync(), [expected]);
  tf.dispose([out, y, loss]);
});

test('cross_entropy stays finite and exact for very large logits', () => {
  const ce = losses.build('cross_entropy');
  const [out, y] = [tf.tensor2d([[1000, 0]]), tf.tensor1d([1], 'int32')];
  const loss = ce(out, y);
  assertClose(loss.dataSync(), [1000]);
  tf.dispose([out, y, loss]);
});

test('cross_entropy has gradient (softmax - one_hot) / batch', (t) => {
  // tfjs-core registers no gradients by itself (the @tensorflow/tfjs union package does).
  if (!tf.getGradient('Mean')) return t.skip('tfjs-core gradients are not registered in this process');
  const ce = losses.build('cross_entropy');
  const [out, y] = [tf.tensor2d([[0, Math.log(3)]]), tf.tensor1d([0], 'int32')];
  const g = tf.grad((o: tf.Tensor) => ce(o as tf.Tensor2D, y))(out);
  assertClose(g.dataSync(), [0.25 - 1, 0.75]);
  tf.dispose([out, y, g]);
});

test('cross_entropy on float regression targets is a usage error that points to mse', () => {
  const ce = losses.build('cross_entropy');
  const [out, y] = [tf.zeros([2, 3]) as tf.Tensor2D, tf.zeros([2, 3])];
  assert.throws(() => ce(out, y), (err: unknown) => err instanceof UsageError && /"mse"/.test(err.message));
  tf.dispose([out, y]);
});

test('mse on regression targets is the mean of squared differences over all elements', () => {
  const mse = losses.build('mse');
  const [out, y] = [tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[0, 2], [5, 4]])];
  const loss = mse(out, y);
  assertClose(loss.dataSync(), [(1 + 0 + 4 + 0) / 4]);
  tf.dispose([out, y, loss]);
});

test('mse on int labels compares the output with their one-hot vectors', () => {
  const mse = losses.build('mse');
  const [out, y] = [tf.tensor2d([[1, 0, 0], [0.5, 0.5, 0]]), tf.tensor1d([0, 2], 'int32')];
  const loss = mse(out, y);
  assertClose(loss.dataSync(), [(0 + 0 + 0 + 0.25 + 0.25 + 1) / 6]);
  tf.dispose([out, y, loss]);
});

test('accuracy is the fraction of rows whose arg-max is the label', () => {
  const [out, y] = [tf.tensor2d([[0.1, 0.9], [2, 1], [0, 3], [5, -5]]), tf.tensor1d([1, 1, 1, 0], 'int32')];
  const acc = accuracy(out, y);
  assert.equal(acc.dataSync()[0], 0.75);
  tf.dispose([out, y, acc]);
});
