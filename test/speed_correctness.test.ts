import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useBackend } from '../lib/backend/index.js';
import { buildExperiment, fitExperiment, resolveConfig } from '../lib/experiment.js';
import { dense, type FusedActivation } from '../lib/models/dense_op.js';
import { Rng } from '../lib/rng.js';
import { tinyConfig } from './helpers.js';

// The fast path of training on wasm (lib/models/dense_op.ts: fused forward kernel, registered
// gradient with explicit transposes) must give the gradients and the runs of the plain
// formulation. Each test picks its backend first; tensors are made after the switch.

const BACKENDS = ['cpu', 'wasm'] as const;

function randomArray(n: number, seed: number, scale = 1): Float32Array {
  return new Rng(seed, 'speed-test').normalArray(n, 0, scale);
}

function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, atol = 1e-5, rtol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i]!, expected[i]!];
    assert.ok(Math.abs(a - e) <= atol + rtol * Math.abs(e), `${what}[${i}]: got ${a}, expected ${e}`);
  }
}

for (const backend of BACKENDS) {
  for (const activation of ['linear', 'relu'] as FusedActivation[]) {
    for (const withBias of [true, false]) {
      test(`${backend}: the fused dense op (${activation}, ${withBias ? 'bias' : 'no bias'}) has the gradients of matMul + add + ${activation}`, async () => {
        await useBackend(backend);
        tf.tidy(() => {
          const x = tf.tensor2d(randomArray(6 * 5, 1), [6, 5]);
          const w = tf.tensor2d(randomArray(5 * 4, 2), [5, 4]);
          const b = tf.tensor1d(randomArray(4, 3));
          // A weighted sum makes every output element's gradient different.
          const weights = tf.tensor2d(randomArray(6 * 4, 4), [6, 4]);
          const plain = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => {
            let h = tf.matMul(xx as tf.Tensor2D, ww as tf.Tensor2D);
            if (withBias) h = tf.add(h, bb);
            return tf.sum(tf.mul(activation === 'relu' ? tf.relu(h) : h, weights));
          };
          const fused = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
            tf.sum(tf.mul(dense(xx as tf.Tensor2D, ww as tf.Tensor2D, withBias ? (bb as tf.Tensor1D) : null, activation, { fused: true }), weights));
          assertAllClose(fused(x, w, b).dataSync(), plain(x, w, b).dataSync(), 'value');
          // Without a bias, b is not an input of either function, so it gets no gradient.
          const inputs = withBias ? [x, w, b] : [x, w];
          const want = tf.grads(plain)(inputs);
          const got = tf.grads(fused)(inputs);
          ['dx', 'dW', 'db'].slice(0, inputs.length).forEach((name, i) => assertAllClose(got[i]!.dataSync(), want[i]!.dataSync(), name));
        });
      });
    }
  }

  test(`${backend}: the registered _FusedMatMul gradient is right for every transpose combination`, async () => {
    await useBackend(backend);
    tf.tidy(() => {
      for (const [ta, tb] of [
        [false, false],
        [false, true],
        [true, false],
        [true, true],
      ] as const) {
        const a = tf.tensor3d(randomArray(12, 5), ta ? [1, 4, 3] : [1, 3, 4]);
        const b = tf.tensor3d(randomArray(8, 6), tb ? [1, 2, 4] : [1, 4, 2]);
        const bias = tf.tensor1d(randomArray(2, 7));
        const weights = tf.tensor3d(randomArray(6, 8), [1, 3, 2]);
        const plain = (aa: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) => tf.sum(tf.mul(tf.relu(tf.add(tf.matMul(aa, bb, ta, tb), cc)), weights));
        const kernel = (aa: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) =>
          tf.sum(tf.mul(tf.engine().runKernel('_FusedMatMul', { a: aa, b: bb, bias: cc }, { transposeA: ta, transposeB: tb, activation: 'relu' }) as tf.Tensor, weights));
        const want = tf.grads(plain)([a, b, bias]);
        const got = tf.grads(kernel)([a, b, bias]);
        ['da', 'db', 'dbias'].forEach((name, i) => assertAllClose(got[i]!.dataSync(), want[i]!.dataSync(), `transposeA=${ta} transposeB=${tb} ${name}`));
      }
    });
  });

  test(`${backend}: gradients of a small relu net on the fused op match float64 central differences`, async () => {
    await useBackend(backend);
    const [n, nIn, nHidden, nOut] = [4, 5, 7, 3];
    const host = {
      x: Float64Array.from(randomArray(n * nIn, 10)),
      w0: Float64Array.from(randomArray(nIn * nHidden, 11, 0.6)),
      b0: Float64Array.from(randomArray(nHidden, 12, 0.3)),
      w1: Float64Array.from(randomArray(nHidden * nOut, 13, 0.6)),
      b1: Float64Array.from(randomArray(nOut, 14, 0.3)),
    };
    const labels = [0, 2, 1, 2];
    const names = ['w0', 'b0', 'w1', 'b1'] as const;

    const analytic = tf.tidy(() => {
      const f32 = (v: Float64Array) => Float32Array.from(v); // exact: the values came from float32
      const x = tf.tensor2d(f32(host.x), [n, nIn]);
      const y = tf.tensor1d(labels, 'int32');
      const params = [tf.tensor2d(f32(host.w0), [nIn, nHidden]), tf.tensor1d(f32(host.b0)), tf.tensor2d(f32(host.w1), [nHidden, nOut]), tf.tensor1d(f32(host.b1))];
      const loss = (w0: tf.Tensor, b0: tf.Tensor, w1: tf.Tensor, b1: tf.Tensor) => {
        const a = dense(x, w0 as tf.Tensor2D, b0 as tf.Tensor1D, 'relu', { fused: true });
        const logits = dense(a, w1 as tf.Tensor2D, b1 as tf.Tensor1D, 'linear', { fused: true });
        return tf.mean(tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(y, nOut)), 1)));
      };
      return tf.grads(loss)(params).map((g) => Array.from(g.dataSync()));
    });

    // The same net in float64 on the host.
    const hostLoss = (p: typeof host): number => {
      let total = 0;
      for (let r = 0; r < n; r++) {
        const hidden = Array.from({ length: nHidden }, (_, j) => {
          let s = p.b0[j]!;
          for (let i = 0; i < nIn; i++) s += p.x[r * nIn + i]! * p.w0[i * nHidden + j]!;
          return Math.max(s, 0);
        });
        const logits = Array.from({ length: nOut }, (_, k) => {
          let s = p.b1[k]!;
          for (let j = 0; j < nHidden; j++) s += hidden[j]! * p.w1[j * nOut + k]!;
          return s;
        });
        const max = Math.max(...logits);
        const logZ = max + Math.log(logits.reduce((acc, l) => acc + Math.exp(l - max), 0));
        total += logZ - logits[labels[r]!]!;
      }
      return total / n;
    };
    const eps = 1e-6;
    names.forEach((name, pi) => {
      const values = host[name];
      const numeric = Array.from(values, (v, i) => {
        values[i] = v + eps;
        const up = hostLoss(host);
        values[i] = v - eps;
        const down = hostLoss(host);
        values[i] = v;
        return (up - down) / (2 * eps);
      });
      assertAllClose(analytic[pi]!, numeric, `d loss / d ${name}`, 2e-5, 1e-3);
    });
  });
}

test('wasm: capturing pre-activations does not change the output (fused relu or not)', async () => {
  await useBackend('wasm');
  const exp = buildExperiment(resolveConfig(tinyConfig({ model: { name: 'mlp', kwargs: { widths: [8, 16, 16, 3], activation: 'relu' } } }), 'test'), process.cwd());
  try {
    tf.tidy(() => {
      const x = tf.slice(exp.data.train.x, 0, 10);
      const plain = exp.model.forward(x).output.dataSync();
      const captured = exp.model.forward(x, true);
      assert.deepEqual(Array.from(captured.output.dataSync()), Array.from(plain));
      assert.equal(captured.preactivations.length, 3);
      // relu of each hidden pre-activation feeds the next layer: check the first one end to end.
      const h0 = captured.preactivations[0]!;
      const layer = exp.model.layers[0]!;
      assertAllClose(h0.dataSync(), tf.add(tf.matMul(x, layer.weight), layer.bias!).dataSync(), 'h0');
    });
  } finally {
    exp.dispose();
  }
});

/** Per-step train losses and the final validation loss of a short run on `backend`. */
async function lossCurve(backend: 'cpu' | 'wasm', activation: string): Promise<{ losses: number[]; valLoss: number }> {
  await useBackend(backend);
  const config = tinyConfig({
    model: { name: 'mlp', kwargs: { widths: [8, 32, 32, 3], activation } },
    optimizer: { name: 'sgd', kwargs: { lr: 0.05, momentum: 0.9 } },
    train: { steps: 40, batch_size: 32, log_every: 1, eval_every: 0 },
  });
  const exp = buildExperiment(resolveConfig(config, 'test'), process.cwd());
  const lines: Record<string, number | string>[] = [];
  try {
    const result = await fitExperiment(exp, { runDir: null, sink: { metrics: (r) => lines.push(r), print: () => {} } });
    assert.equal(result.status, 'completed');
  } finally {
    exp.dispose();
  }
  const losses = lines.filter((l) => l.split === 'train').map((l) => l.loss as number);
  const valLoss = lines.find((l) => l.split === 'val')!.val_loss as number;
  return { losses, valLoss };
}

for (const activation of ['relu', 'tanh']) {
  test(`the loss curve of a short ${activation} run on wasm equals the cpu backend's within float tolerance`, async () => {
    const cpu = await lossCurve('cpu', activation);
    const wasm = await lossCurve('wasm', activation);
    assert.equal(wasm.losses.length, 40);
    // Same seed, same host-side data, init and shuffling: only float32 rounding differs.
    assertAllClose(wasm.losses, cpu.losses, 'train loss', 1e-5, 1e-4);
    assertAllClose([wasm.valLoss], [cpu.valLoss], 'val_loss', 1e-5, 1e-4);
    assert.ok(wasm.losses.at(-1)! < wasm.losses[0]!, 'the run learns');
  });
}

test('wasm: training keeps the number of tensors and of backend buffers flat (shared Identity, fused op)', async () => {
  await useBackend('wasm');
  const counts: string[] = [];
  const counter = { onStepEnd: () => void counts.push(`${tf.memory().numTensors}/${tf.engine().backend.numDataIds()}`) };
  const exp = buildExperiment(
    resolveConfig(tinyConfig({ model: { name: 'mlp', kwargs: { widths: [8, 16, 16, 3], activation: 'relu' } }, train: { steps: 40, batch_size: 32, eval_every: 10, log_every: 3 } }), 'test'),
    process.cwd(),
  );
  try {
    await fitExperiment(exp, { runDir: null, extraCallbacks: [{ name: 'counter', callback: counter }] });
  } finally {
    exp.dispose();
  }
  assert.equal(new Set(counts.slice(2)).size, 1, `tensors/buffers ${[...new Set(counts)].join(', ')}`);
});

test('wasm: the row gather gives what the cpu backend gives, and falls back where it does not apply', async () => {
  const cases = () => {
    const results: { shape: number[]; dtype: string; values: number[] }[] = [];
    tf.tidy(() => {
      const x3 = tf.tensor3d(randomArray(5 * 3 * 2, 20), [5, 3, 2]);
      const xi = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2], 'int32');
      const xb = tf.tensor1d([1, 0, 1], 'bool');
      for (const t of [
        tf.gather(x3, tf.tensor1d([4, 0, 0, 2], 'int32')),
        tf.gather(x3, tf.tensor2d([1, 3, 2, 0], [2, 2], 'int32')),
        tf.gather(xi, tf.tensor1d([3, 1], 'int32')),
        tf.gather(xb, tf.tensor1d([2, 1, 0], 'int32')),
        tf.gather(x3, tf.tensor1d([2, 0], 'int32'), 1), // axis 1: the backend's own kernel
        tf.gather(x3, tf.tensor1d([], 'int32')),
      ]) {
        results.push({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync()) });
      }
    });
    return results;
  };
  await useBackend('cpu');
  const want = cases();
  await useBackend('wasm');
  assert.deepEqual(cases(), want);
  assert.throws(() => tf.tidy(() => tf.gather(tf.zeros([3, 2]), tf.tensor1d([3], 'int32'))), /index value 3 is not in \[0, 2\]/);
});

test('wasm: a clone outlives the tensor it was made from (shared Identity)', async () => {
  await useBackend('wasm');
  const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  const y = tf.clone(x);
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4]);
  y.dispose();
});
