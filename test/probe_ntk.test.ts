import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { useBackend } from '../lib/backend/index.js';
import type { Model } from '../lib/models/model.js';
import { denseChainNtk, empiricalNtk, largestEigenvalue, ntkProbe } from '../lib/probes/ntk.js';
import { models } from '../lib/registries.js';
import { Rng } from '../lib/rng.js';
import type { TrainContext } from '../lib/training/callback.js';
import { fitRows } from './fit_fixtures.js';

before(async () => {
  await useBackend('cpu');
});

/** A tanh mlp [3, 5, 2] with random weights and biases, and 4 random inputs. */
function tinyNet(parametrization: 'standard' | 'ntk', seed = 0): { model: Model; x: number[][] } {
  const model = models.build({ name: 'mlp', kwargs: { widths: [3, 5, 2], activation: 'tanh', parametrization } }, { inputShape: [3], outputDim: 2 });
  const rng = new Rng(seed, 'test');
  for (const p of model.params) p.assign(tf.tensor(rng.normalArray(p.size, 0, 0.8), p.shape));
  const x = Array.from({ length: 4 }, () => Array.from(rng.normalArray(3)));
  return { model, x };
}

/**
 * Θ of f(x) = s2·φ(s1·x W1 + b1) W2 + b2, φ = tanh, written out by hand in float64:
 * ∂f_o/∂W2[a,o'] = s2 φ_a δ_oo', ∂f_o/∂b2[o'] = δ_oo', ∂f_o/∂b1[a] = s2 W2[a,o] φ'_a,
 * ∂f_o/∂W1[c,a] = s1 x_c · s2 W2[a,o] φ'_a; summed over outputs o.
 */
function analyticNtk(model: Model, xs: number[][]): number[][] {
  const [l1, l2] = model.layers as [Model['layers'][0], Model['layers'][0]];
  const W1 = l1.weight.arraySync() as number[][];
  const b1 = l1.bias!.arraySync() as number[];
  const W2 = l2.weight.arraySync() as number[][];
  const [s1, s2] = [l1.weightScale, l2.weightScale];
  const O = model.outputDim;
  const hidden = xs.map((x) => b1.map((b, a) => s1 * x.reduce((acc, xc, c) => acc + xc * W1[c]![a]!, 0) + b));
  const phi = hidden.map((h) => h.map(Math.tanh));
  const dphi = hidden.map((h) => h.map((v) => 1 - Math.tanh(v) ** 2));
  return xs.map((xi, i) =>
    xs.map((xj, j) => {
      const xx = xi.reduce((acc, v, c) => acc + v * xj[c]!, 0);
      let theta = O; // the output biases
      for (let a = 0; a < b1.length; a++) {
        theta += O * s2 * s2 * phi[i]![a]! * phi[j]![a]!; // W2
        const w2sq = W2[a]!.reduce((acc, w) => acc + w * w, 0);
        theta += s2 * s2 * w2sq * dphi[i]![a]! * dphi[j]![a]! * (1 + s1 * s1 * xx); // b1 and W1
      }
      return theta;
    }),
  );
}

for (const parametrization of ['standard', 'ntk'] as const) {
  test(`both NTK paths equal the hand-written kernel of a one-hidden-layer net (${parametrization} parametrization)`, () => {
    const { model, x } = tinyNet(parametrization);
    const expected = analyticNtk(model, x);
    const paths = {
      'per-example gradients': tf.tidy(() => empiricalNtk(model, tf.tensor2d(x)).arraySync()),
      'dense chain': tf.tidy(() => denseChainNtk(model, tf.tensor2d(x))!.arraySync()),
    };
    model.dispose();
    for (const [path, theta] of Object.entries(paths)) {
      for (let i = 0; i < x.length; i++) {
        for (let j = 0; j < x.length; j++) {
          const rel = Math.abs(theta[i]![j]! - expected[i]![j]!) / Math.abs(expected[i]![j]!);
          assert.ok(rel < 1e-4, `${path}: Θ[${i}][${j}] = ${theta[i]![j]} vs ${expected[i]![j]} (relative error ${rel})`);
        }
      }
    }
  });
}

test('the dense-chain NTK equals the per-example-gradient NTK on deeper nets, with and without biases', () => {
  for (const [widths, activation, bias] of [
    [[5, 7, 6, 3], 'relu', false],
    [[4, 9, 8, 2], 'gelu', true],
    [[3, 6, 1], 'tanh', true],
  ] as const) {
    const model = models.build({ name: 'mlp', kwargs: { widths, activation, bias, parametrization: 'ntk' } }, { inputShape: [widths[0]], outputDim: widths.at(-1)! });
    const rng = new Rng(2, 'test');
    for (const p of model.params) p.assign(tf.tensor(rng.normalArray(p.size, 0, 0.8), p.shape));
    const [generic, chain] = tf.tidy(() => {
      const x = tf.tensor2d(rng.normalArray(6 * widths[0]), [6, widths[0]]);
      return [empiricalNtk(model, x).arraySync(), denseChainNtk(model, x)!.arraySync()];
    });
    model.dispose();
    const scale = Math.max(...generic.flat().map(Math.abs));
    generic.flat().forEach((v, k) => assert.ok(Math.abs(v - chain.flat()[k]!) <= 1e-5 * scale, `${widths.join(',')} entry ${k}: ${v} vs ${chain.flat()[k]}`));
  }
});

test('Θ is symmetric positive semi-definite, and ntk_trace and ntk_eig_max describe it', () => {
  const { model, x } = tinyNet('standard', 1);
  const before = tf.memory().numTensors;
  const xt = tf.tensor2d(x);
  const theta = tf.tidy(() => empiricalNtk(model, xt).arraySync());
  const probe = ntkProbe(model);
  const logs = tf.tidy(() => probe.measure({} as TrainContext, { x: xt, y: xt, indices: [], dispose() {} }));
  probe.dispose!();
  xt.dispose();
  assert.equal(tf.memory().numTensors, before, 'the probe frees what it kept');
  model.dispose();
  const n = x.length;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) assert.equal(theta[i]![j], theta[j]![i], `Θ[${i}][${j}] = Θ[${j}][${i}]`);
  const flat = theta.flat();
  const eigMax = largestEigenvalue(flat, n);
  const minEig = -largestEigenvalue(flat.map((v) => -v), n);
  assert.ok(minEig > -1e-5 * eigMax, `smallest eigenvalue ${minEig}`);
  const trace = theta.reduce((acc, row, i) => acc + row[i]!, 0);
  assert.ok(Math.abs((logs.ntk_trace as number) - trace) <= 1e-5 * trace, `ntk_trace ${logs.ntk_trace} vs Σ diag ${trace}`);
  assert.ok(Math.abs((logs.ntk_eig_max as number) - eigMax) <= 1e-5 * eigMax);
  assert.ok(eigMax <= trace && eigMax >= trace / n);
  assert.equal(logs.ntk_dist, 0, 'the first evaluation is the reference');
  assert.equal(logs.ntk_rel_change, 0);
});

/** ntk_dist and ntk_rel_change of a tanh mlp of `width` (2 hidden layers, NTK parametrization) at steps 0, 20 and 40 of plain SGD on a teacher. */
async function drift(width: number, seed: number): Promise<{ dist: number[]; rel: number[]; trace: number[] }> {
  const config = {
    name: 'ntk-drift',
    seed,
    model: { name: 'mlp', kwargs: { width, depth: 2, activation: 'tanh', parametrization: 'ntk' } },
    init: { name: 'gaussian', kwargs: { sigma_w2: 1.0, sigma_b2: 0.1 } },
    optimizer: { name: 'sgd', kwargs: { lr: 0.2 } },
    loss: { name: 'mse' },
    data: { name: 'teacher_student', kwargs: { n_train: 256, n_val: 64, dim: 8, out_dim: 1, seed: 0 } },
    train: { steps: 40, batch_size: 32, log_every: 40 },
    callbacks: [{ name: 'ntk', kwargs: { n_probe: 8, at: [0, 20] } }],
  };
  const { result, lines } = await fitRows(config);
  assert.equal(result.status, 'completed');
  const probe = lines.filter((l) => l.split === 'probe');
  assert.deepEqual(
    probe.map((l) => l.step),
    [0, 20, 40],
  );
  return { dist: probe.map((l) => l.ntk_dist as number), rel: probe.map((l) => l.ntk_rel_change as number), trace: probe.map((l) => l.ntk_trace as number) };
}

// Lee et al. 2019: in the NTK parametrization at a fixed learning rate, Θ moves by O(1/sqrt(width)).
// Widths 32 and 128 at lr 0.2 for 40 steps: ntk_dist differs by 10-50x and ntk_rel_change by 3-5x
// over seeds 0-2, so the ordering is far from the noise.
for (const seed of [0, 1]) {
  test(`the NTK drifts from 0 as the net trains, less for a 4x wider net (seed ${seed})`, async () => {
    const narrow = await drift(32, seed);
    const wide = await drift(128, seed);
    for (const d of [narrow, wide]) {
      assert.ok(Math.abs(d.dist[0]!) <= 1e-6 && Math.abs(d.rel[0]!) <= 1e-6, `at the reference step: ${d.dist[0]}, ${d.rel[0]}`);
      assert.ok(d.dist[0]! < d.dist[1]! && d.dist[1]! < d.dist[2]!, `ntk_dist grows: ${d.dist.join(', ')}`);
      assert.ok(d.rel[0]! < d.rel[1]! && d.rel[1]! < d.rel[2]!, `ntk_rel_change grows: ${d.rel.join(', ')}`);
      assert.ok(d.trace.every((t) => t > 0));
    }
    assert.ok(wide.dist[2]! < narrow.dist[2]! / 3, `ntk_dist: width 128 ${wide.dist[2]} vs width 32 ${narrow.dist[2]}`);
    assert.ok(wide.rel[2]! < narrow.rel[2]! / 1.5, `ntk_rel_change: width 128 ${wide.rel[2]} vs width 32 ${narrow.rel[2]}`);
  });
}
