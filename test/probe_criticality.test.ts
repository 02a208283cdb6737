import * as tf from '@tensorflow/tfjs-core';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { useBackend } from '../lib/backend/index.js';
import { buildExperiment, resolveConfig } from '../lib/experiment.js';
import { jvp } from '../lib/probes/criticality.js';
import { drawProbeBatch } from '../lib/probes/probe_batch.js';
import { Rng } from '../lib/rng.js';
import type { Callback } from '../lib/training/callback.js';
import { runCli, tempDir, tinyConfig, writeJson } from './helpers.js';
import { fitRows, type Row } from './fit_fixtures.js';


/** Fits `overrides` on tinyConfig with `extra` callbacks after the config's; every metrics row in order. */
async function rows(overrides: Record<string, unknown>, extra: Callback[] = []): Promise<Row[]> {
  return (await fitRows(tinyConfig(overrides), extra.map((callback, i) => ({ name: `check${i}`, callback })))).lines;
}

/** The merged probe row at `step`. */
const probeRow = (lines: Row[], step: number): Row => {
  const row = lines.find((l) => l.split === 'probe' && l.step === step);
  assert.ok(row, `a probe row at step ${step}`);
  return row;
};

const close = (actual: number, expected: number, rel: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= rel * Math.abs(expected), `${what}: ${actual}, expected ${expected} ± ${rel * 100}%`);

const WIDTH = 512;
const N_PROBE = 32;

/** The step-0 row of a wide mlp at init with criticality. */
async function wideAtInit(activation: string, sigma_w2: number): Promise<Row> {
  await useBackend('wasm');
  const lines = await rows({
    model: { name: 'mlp', kwargs: { width: WIDTH, depth: 3, activation } },
    init: { name: 'gaussian', kwargs: { sigma_w2, sigma_b2: 0 } },
    data: { name: 'synthetic', kwargs: { n_train: 64, n_val: 16, dim: 64, classes: 3 } },
    train: { steps: 1, batch_size: 8, eval_every: 1, log_every: 1 },
    callbacks: [{ name: 'criticality', kwargs: { at: [0], n_probe: N_PROBE } }],
  });
  return probeRow(lines, 0);
}

test('chi1 of a wide linear network is sigma_w2, and the keys are the documented ones', async () => {
  const s = 1.5;
  const row = await wideAtInit('linear', s);
  // Per input, ‖v W‖² of a unit v is σ_w²·χ²_width/width: relative std √(2/width); the v's of the
  // n_probe inputs are independent, so the mean has √(2/(width·n_probe)) ≈ 1.1%. The exact gain
  // ‖W‖_F²/n_k is within √(2/(n_k·n_{k+1})) ≈ 0.3% of σ_w². 5 standard deviations: 6%.
  const tol = 5 * Math.sqrt(2 / (WIDTH * N_PROBE));
  for (const k of [1, 2]) close(row[`chi1_l${k}`] as number, s, tol, `chi1_l${k}`);
  close(row.chi1 as number, s, tol, 'chi1');
  close(row.chi1_geo as number, s, tol, 'chi1_geo');
  // Into the 3-unit readout the estimate has only 3 degrees of freedom per input: √(2/(3·32)) ≈ 14%.
  close(row.chi1_l3 as number, s, 4 * Math.sqrt(2 / (3 * N_PROBE)), 'chi1_l3');
  const expected = ['step', 'epoch', 'time', 'split', 'chi1', 'chi1_geo', 'jac_sv2_mean', 'jac_sv2_max', 'jac_sv2_cond', 'grad_log_ratio'];
  for (let k = 1; k <= 4; k++) expected.push(`grad_norm_l${k}`);
  for (let k = 1; k <= 3; k++) expected.push(`chi1_l${k}`);
  assert.deepEqual(Object.keys(row).sort(), expected.sort());
});

test('chi1 of a wide relu network at sigma_w2 = 2 is 1 (edge of chaos)', async () => {
  const row = await wideAtInit('relu', 2);
  // ‖J v‖² = ‖(φ'(h)⊙v) W‖²: the χ² of the matmul (√(2/512)) and the share of v on the active
  // half (≈ √(2/256)) give ~10% per input, ~2% over 32 inputs; the active fraction itself is
  // ½ ± ~2%, shared by the inputs. 10% is about 4 standard deviations.
  close(row.chi1 as number, 1, 0.1, 'chi1');
  for (const k of [1, 2]) close(row[`chi1_l${k}`] as number, 1, 0.1, `chi1_l${k}`);
});

for (const backend of ['cpu', 'wasm'] as const) {
  test(`jvp equals an explicit Jacobian times v (${backend})`, async () => {
    await useBackend(backend);
    const exp = buildExperiment(
      resolveConfig(
        tinyConfig({
          model: { name: 'mlp', kwargs: { widths: [8, 6, 4, 3], activation: 'tanh' } },
          init: { name: 'gaussian', kwargs: { sigma_w2: 1.5, sigma_b2: 0.1 } },
        }),
        'test',
      ),
      process.cwd(),
    );
    try {
      const rng = new Rng(7, 'test');
      const [n, a, b] = [3, 6, 4];
      const map = (h: tf.Tensor) => exp.model.layerMap!(0, h);
      const [viaJvp, explicit] = tf.tidy(() => {
        const h = tf.tensor2d(rng.normalArray(n * a), [n, a]);
        const v = tf.tensor2d(rng.normalArray(n * a), [n, a]);
        // Row j of every J_i at once: the gradient of output unit j summed over the (independent) rows.
        const jac = Array.from({ length: b }, (_, j) => tf.grad((x: tf.Tensor) => tf.sum(tf.slice(map(x), [0, j], [n, 1])))(h));
        const jv = tf.stack(jac.map((r) => tf.sum(tf.mul(r, v), 1)), 1); // [n, b]
        return [jvp(map, h, v).arraySync() as number[][], jv.arraySync() as number[][]];
      });
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < b; j++) assert.ok(Math.abs(viaJvp[i]![j]! - explicit[i]![j]!) < 1e-4, `(J v)[${i}][${j}]`);
        const sq = (r: number[]) => r.reduce((s, x) => s + x * x, 0);
        close(sq(viaJvp[i]!), sq(explicit[i]!), 1e-4, `‖J_${i} v_${i}‖²`);
      }
    } finally {
      exp.dispose();
    }
  });
}

test('jac_sv2 of a linear network are the eigenvalues of its weight product Gram', async () => {
  await useBackend('cpu');
  let direct: number[] = [];
  const capture: Callback = {
    onFitStart(ctx) {
      // Every input has the same Jacobian: output = x·W1·W2·W3 + const, J = (W1W2W3)ᵀ, J Jᵀ = MᵀM.
      const gram = tf.tidy(() => {
        const m = ctx.model.layers.map((l) => l.weight as tf.Tensor2D).reduce((p, w) => tf.matMul(p, w));
        return tf.matMul(m, m, true, false).arraySync() as number[][];
      });
      direct = new EigenvalueDecomposition(new Matrix(gram), { assumeSymmetric: true }).realEigenvalues;
    },
  };
  const lines = await rows(
    {
      model: { name: 'mlp', kwargs: { widths: [8, 6, 5, 3], activation: 'linear' } },
      init: { name: 'gaussian', kwargs: { sigma_w2: 1.3, sigma_b2: 0.1 } },
      train: { steps: 1, batch_size: 32, eval_every: 1, log_every: 1 },
      callbacks: [{ name: 'criticality', kwargs: { at: [0], n_jacobian: 4 } }],
    },
    [capture],
  );
  const row = probeRow(lines, 0);
  const mean = direct.reduce((a, b) => a + b, 0) / direct.length;
  close(row.jac_sv2_mean as number, mean, 1e-4, 'jac_sv2_mean');
  close(row.jac_sv2_max as number, Math.max(...direct), 1e-4, 'jac_sv2_max');
  close(row.jac_sv2_cond as number, Math.max(...direct) / Math.min(...direct), 1e-3, 'jac_sv2_cond');
});

test('grad_norm_l<k> are the norms of the probe-batch loss gradients', async () => {
  await useBackend('cpu');
  let norms: number[] = [];
  const capture: Callback = {
    onFitStart(ctx) {
      const batch = drawProbeBatch(ctx.data, 32, ctx.config.seed);
      norms = tf.tidy(() => {
        const { grads } = tf.variableGrads(() => ctx.loss(ctx.model.forward(batch.x).output, batch.y), ctx.model.params as tf.Variable[]);
        return ctx.model.layers.map((l) => tf.norm(grads[l.weight.name]!).dataSync()[0]!);
      });
      batch.dispose();
    },
  };
  const lines = await rows(
    {
      model: { name: 'mlp', kwargs: { widths: [8, 16, 12, 3], activation: 'relu' } },
      train: { steps: 1, batch_size: 32, eval_every: 1, log_every: 1 },
      callbacks: [{ name: 'criticality', kwargs: { at: [0] } }],
    },
    [capture],
  );
  const row = probeRow(lines, 0);
  norms.forEach((g, i) => close(row[`grad_norm_l${i + 1}`] as number, g, 1e-5, `grad_norm_l${i + 1}`));
  assert.ok(Math.abs((row.grad_log_ratio as number) - Math.log(norms[2]! / norms[0]!)) < 1e-5);
});

test('grads "train" logs the norms of the training step\'s own gradients', async () => {
  await useBackend('cpu');
  // Norms of the gradients every training step applies, by the step they belong to (1-based).
  const seen = new Map<number, number[]>();
  const capture: Callback = {
    onGradients(ctx, grads) {
      seen.set(
        ctx.step + 1,
        ctx.model.layers.map((l) => tf.tidy(() => tf.norm(grads[ctx.model.params.indexOf(l.weight)]!).dataSync()[0]!)),
      );
    },
  };
  const lines = await rows(
    {
      model: { name: 'mlp', kwargs: { widths: [8, 16, 12, 3], activation: 'tanh' } },
      train: { steps: 4, batch_size: 32, eval_every: 2, log_every: 1 },
      callbacks: [{ name: 'criticality', kwargs: { at: [0], grads: 'train' } }],
    },
    [capture],
  );
  // Before any step there is no training gradient: the step-0 row has chi1 but no grad_norm.
  const first = probeRow(lines, 0);
  assert.ok(Number.isFinite(first.chi1) && !('grad_norm_l1' in first) && !('grad_log_ratio' in first));
  for (const step of [2, 4]) {
    const row = probeRow(lines, step);
    const expected = seen.get(step)!;
    expected.forEach((g, i) => close(row[`grad_norm_l${i + 1}`] as number, g, 1e-6, `step ${step} grad_norm_l${i + 1}`));
    assert.ok(Number.isFinite(row.grad_log_ratio));
  }
  // Gradients of a step that is not measured are never logged.
  assert.ok(!lines.some((l) => l.split === 'probe' && (l.step === 1 || l.step === 3)));
});

test('a cnn is refused before anything is written, naming the model and the need for a dense chain', async () => {
  await useBackend('cpu');
  const cnn = {
    model: { name: 'cnn', kwargs: { channels: [4], hidden: [8] } },
    data: { name: 'synthetic', kwargs: { n_train: 64, n_val: 16, dim: 64, shape: [8, 8, 1], classes: 3 } },
    callbacks: [{ name: 'criticality' }],
  };
  await assert.rejects(rows(cnn), /callbacks\[0\] criticality: criticality needs a chain of dense layers \(model mlp\).*model "cnn" has none/);
  const dir = tempDir();
  const r = runCli(['train', writeJson(path.join(dir, 'cnn.json'), tinyConfig(cnn)), '--runs-dir', dir, '--name', 'cnn']);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.equal(fs.existsSync(path.join(dir, 'cnn')), false, 'no run folder for a refused config');
});

test('both probes free everything they hold, in either grads mode', async () => {
  await useBackend('cpu');
  const fit = (grads: string) =>
    rows({
      model: { name: 'mlp', kwargs: { widths: [8, 16, 12, 3], activation: 'relu' } },
      train: { steps: 6, batch_size: 32, eval_every: 2, log_every: 1 },
      callbacks: [
        { name: 'preact_stats', kwargs: { at: [0, 1] } },
        { name: 'criticality', kwargs: { at: [0, 3], grads } },
      ],
    });
  for (const grads of ['probe', 'train']) {
    await fit(grads); // the first run of a process may create tensors that live on (backend caches)
    const before = tf.memory().numTensors;
    await fit(grads);
    assert.equal(tf.memory().numTensors, before, `tensors left by a run with grads "${grads}"`);
  }
});
