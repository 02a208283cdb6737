import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { useBackend } from '../lib/backend/index.js';
import { inits, layerShape } from '../lib/init/index.js';
import { models, type Model } from '../lib/models/index.js';
import { Rng } from '../lib/rng.js';

// What an init scheme declares it draws (the variances lib/theory reads) against what it draws,
// and the NTK parametrization's promise: the same network at initialisation, O(1) stored weights.

before(async () => {
  await useBackend('cpu');
});

function build(name: string, kwargs: Record<string, unknown>, inputShape: number[], outputDim: number): Model {
  return models.build({ name, kwargs }, { inputShape, outputDim });
}

/** σ_w² of the effective weights as drawn: mean of (scale·W)² times fanIn; σ_b² the bias's mean square. */
function drawn(model: Model): { sigma_w2: number; sigma_b2: number }[] {
  return model.layers.map((l) => {
    const w = l.weight.dataSync();
    let s2 = 0;
    for (const x of w) s2 += x * x;
    let b2 = 0;
    if (l.bias) for (const x of l.bias.dataSync()) b2 += x * x;
    return { sigma_w2: (s2 / w.length) * l.weightScale ** 2 * l.fanIn, sigma_b2: l.bias ? b2 / l.bias.size : 0 };
  });
}

const SCHEMES: [string, Record<string, unknown>][] = [
  ['gaussian', { sigma_w2: 1.7, sigma_b2: 0.05, readout_sigma_w2: 0.5 }],
  ['he', {}],
  ['he', { mode: 'fan_out', distribution: 'uniform' }],
  ['lecun', {}],
  ['xavier', {}],
  ['orthogonal', { gain: 1.3, sigma_b2: 0.1 }],
  ['delta_orthogonal', { gain: 1.2 }],
];

test('every init scheme draws the variances it declares, dense and conv, in both parametrizations', () => {
  const nets: [string, () => Model][] = [
    // Tall, square and wide layers: orthogonal's σ_w² depends on which.
    ['mlp', () => build('mlp', { widths: [300, 400, 400, 200] }, [300], 200)],
    ['mlp ntk', () => build('mlp', { widths: [300, 400, 200], parametrization: 'ntk' }, [300], 200)],
    ['cnn', () => build('cnn', { channels: [16, 32], kernel_size: 3, hidden: [256] }, [16, 16, 8], 64)],
  ];
  for (const [scheme, kwargs] of SCHEMES) {
    for (const [label, make] of nets) {
      const model = make();
      try {
        const init = inits.build({ name: scheme, kwargs });
        init.apply(model, new Rng(1, 'init'));
        const declared = init.variances(model.layers.map(layerShape));
        const actual = drawn(model);
        declared.forEach((d, i) => {
          const layer = model.layers[i]!;
          // Relative std of a mean of N squared Gaussians is sqrt(2/N); N >= 4,000 here, so 10% is > 4 sigma.
          const tol = (x: number) => 0.1 * x + 1e-9;
          const where = `${scheme} ${JSON.stringify(kwargs)} on ${label} ${layer.name}`;
          assert.ok(Math.abs(actual[i]!.sigma_w2 - d.sigma_w2) <= tol(d.sigma_w2), `${where}: sigma_w2 drawn ${actual[i]!.sigma_w2}, declared ${d.sigma_w2}`);
          if (layer.bias && layer.bias.size >= 200) {
            // Bias vectors are short: 35% covers ~3.5 sigma at 200 entries (sqrt(2/200) = 0.1).
            assert.ok(Math.abs(actual[i]!.sigma_b2 - d.sigma_b2) <= 0.35 * d.sigma_b2 + 1e-9, `${where}: sigma_b2 drawn ${actual[i]!.sigma_b2}, declared ${d.sigma_b2}`);
          }
        });
      } finally {
        model.dispose();
      }
    }
  }
});

test('the NTK parametrization computes the same function at initialisation, from O(1) stored weights', () => {
  const x = tf.randomNormal([5, 64], 0, 1, 'float32', 3);
  const outputs = (['standard', 'ntk'] as const).map((parametrization) => {
    const model = build('mlp', { width: 128, depth: 2, activation: 'tanh', parametrization }, [64], 4);
    inits.build({ name: 'gaussian', kwargs: { sigma_w2: 1.5, sigma_b2: 0.1 } }).apply(model, new Rng(7, 'init'));
    const stored = model.layers[1]!.weight.dataSync();
    let s2 = 0;
    for (const w of stored) s2 += w * w;
    const out = model.forward(x).output.dataSync();
    model.dispose();
    return { out, storedVar: s2 / stored.length };
  });
  const [sp, ntk] = outputs as [(typeof outputs)[0], (typeof outputs)[0]];
  for (let i = 0; i < sp.out.length; i++) assert.ok(Math.abs(sp.out[i]! - ntk.out[i]!) < 1e-4, `output ${i}: ${sp.out[i]} vs ${ntk.out[i]}`);
  // Standard: variance σ_w²/fan_in = 1.5/128; NTK: σ_w² = 1.5.
  assert.ok(Math.abs(sp.storedVar - 1.5 / 128) < 0.15 * (1.5 / 128), `standard stored variance ${sp.storedVar}`);
  assert.ok(Math.abs(ntk.storedVar - 1.5) < 0.15 * 1.5, `ntk stored variance ${ntk.storedVar}`);
  x.dispose();
});

test('mlp takes width and depth instead of widths, and refuses both or neither', () => {
  const model = build('mlp', { width: 32, depth: 3 }, [7, 2], 5);
  assert.deepEqual(
    model.layers.map((l) => [l.fanIn, l.fanOut]),
    [
      [14, 32],
      [32, 32],
      [32, 32],
      [32, 5],
    ],
  );
  model.dispose();
  assert.throws(() => build('mlp', { widths: [14, 5], width: 3, depth: 1 }, [14], 5), /give either widths, or width and depth, not both/);
  assert.throws(() => build('mlp', { width: 3 }, [14], 5), /kwarg "depth".*give widths/);
});

test('NTK parametrization: an SGD step moves the effective weights by lr·scale² times their gradient, and probes see effective gradients', async () => {
  const { buildExperiment, fitExperiment, resolveConfig } = await import('../lib/experiment.js');
  const lr = 0.5;
  const config = (parametrization: string) =>
    resolveConfig(
      {
        seed: 4,
        model: { name: 'mlp', kwargs: { width: 64, depth: 2, activation: 'tanh', parametrization } },
        init: { name: 'gaussian', kwargs: { sigma_w2: 1.5, sigma_b2: 0.1 } },
        optimizer: { name: 'sgd', kwargs: { lr } },
        data: { name: 'synthetic', kwargs: { n_train: 64, n_val: 16, dim: 16, classes: 3 } },
        train: { steps: 1, batch_size: 64, eval_every: 0 },
        callbacks: [{ name: 'criticality', kwargs: { at: [0], n_probe: 16, n_jacobian: 0 } }],
      },
      'test',
    );
  const results = [];
  for (const p of ['standard', 'ntk']) {
    const exp = buildExperiment(config(p), process.cwd());
    const effective = () => exp.model.layers.map((l) => tf.tidy(() => tf.mul(l.weight, l.weightScale).dataSync()));
    const before = effective();
    const rows: Record<string, number | string>[] = [];
    // Full batch, so both runs take the gradient of the same loss at the same effective weights.
    await fitExperiment(exp, { runDir: null, sink: { metrics: (r) => rows.push(r), print() {} } });
    const after = effective();
    results.push({ before, after, scales: exp.model.layers.map((l) => l.weightScale), probe: rows.find((r) => r.split === 'probe')! });
    exp.dispose();
  }
  const [sp, ntk] = results as [(typeof results)[0], (typeof results)[0]];
  sp.before.forEach((w, k) => {
    for (let i = 0; i < w.length; i += 97) assert.ok(Math.abs(w[i]! - ntk.before[k]![i]!) < 1e-6, 'the same network at initialisation');
    // SP: ΔW = -lr g. NTK: Δ(sθ) = -lr s² g. So ΔW_ntk = s² ΔW_sp, entry by entry.
    const s2 = ntk.scales[k]! ** 2;
    for (let i = 0; i < w.length; i += 97) {
      const dSp = sp.after[k]![i]! - w[i]!;
      const dNtk = ntk.after[k]![i]! - ntk.before[k]![i]!;
      assert.ok(Math.abs(dNtk - s2 * dSp) <= 1e-3 * Math.abs(s2 * dSp) + 1e-8, `layer ${k + 1} entry ${i}: ${dNtk} vs ${s2 * dSp}`);
    }
    const g = `grad_norm_l${k + 1}`;
    assert.ok(Math.abs(Number(ntk.probe[g]) / Number(sp.probe[g]) - 1) < 1e-4, `${g}: ${ntk.probe[g]} vs ${sp.probe[g]} (effective-weight gradients)`);
  });
});
