import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { useBackend } from '../lib/backend/index.js';
import { callbacks } from '../lib/registries.js';
import type { Callback, FitResult } from '../lib/training/callback.js';
import { tinyConfig } from './helpers.js';
import { fitRows, type Row } from './fit_fixtures.js';

before(async () => {
  await useBackend('cpu');
});


/** Fits tinyConfig with `overrides`; returns the result and every metric row. */
function fit(overrides: Record<string, unknown>, extra: { name: string; callback: Callback }[] = []): Promise<{ result: FitResult; lines: Row[] }> {
  return fitRows(tinyConfig(overrides), extra);
}

// Two hidden layers and a readout: fli_l1, fli_l2 and wchange_l1..3.
const model = { name: 'mlp', kwargs: { widths: [8, 16, 16, 3], activation: 'tanh' } };
const hiddenKeys = ['fli_l1', 'fli_l2'];
const weightKeys = ['wchange_l1', 'wchange_l2', 'wchange_l3'];

/** The fli rows (split probe) of a 30-step run measured every 10 steps, beside param_norms. */
async function fliRows(lr: number): Promise<{ probe: Row[]; norms: Row[] }> {
  const { lines } = await fit({
    model,
    optimizer: { name: 'sgd', kwargs: { lr } },
    train: { steps: 30, batch_size: 32, log_every: 10 },
    callbacks: [
      { name: 'fli', kwargs: { every: 10, n_probe: 32 } },
      { name: 'param_norms', kwargs: { every: 10 } },
    ],
  });
  return { probe: lines.filter((l) => l.split === 'probe'), norms: lines.filter((l) => 'wdrift/dense0' in l) };
}

test('fli logs exactly the documented keys, all 0 at step 0 and positive after training', async () => {
  const { probe } = await fliRows(0.1);
  assert.deepEqual(
    probe.map((l) => l.step),
    [0, 10, 20, 30],
  );
  const metricKeys = (l: Row) => Object.keys(l).filter((k) => !['step', 'epoch', 'split', 'time', 'lr'].includes(k)).sort();
  for (const l of probe) assert.deepEqual(metricKeys(l), ['fli', ...hiddenKeys, ...weightKeys].sort(), `keys at step ${l.step}`);
  // The documented patterns cover them.
  assert.deepEqual(Object.keys(callbacks.describe('fli').logs ?? {}).sort(), ['fli', 'fli_l<k>', 'wchange_l<k>']);
  for (const k of ['fli', ...hiddenKeys, ...weightKeys]) {
    assert.equal(probe[0]![k], 0, `${k} at step 0`);
    assert.ok((probe.at(-1)![k] as number) > 0, `${k} after 30 steps: ${probe.at(-1)![k]}`);
  }
  const last = probe.at(-1)!;
  assert.ok(Math.abs((last.fli as number) - ((last.fli_l1 as number) + (last.fli_l2 as number)) / 2) < 1e-6, 'fli is the mean over hidden layers');
});

test('with lr 0 the weights and features do not move, and fli stays 0', async () => {
  const { probe } = await fliRows(0);
  assert.equal(probe.length, 4);
  for (const l of probe) for (const k of ['fli', ...hiddenKeys, ...weightKeys]) assert.equal(l[k], 0, `${k} at step ${l.step}`);
});

test("wchange_l<k> is param_norms' wdrift of the same layer at the same step", async () => {
  const { probe, norms } = await fliRows(0.1);
  assert.deepEqual(
    norms.map((l) => l.step),
    [10, 20, 30],
  );
  for (const n of norms) {
    const p = probe.find((l) => l.step === n.step)!;
    for (let k = 1; k <= 3; k++) assert.equal(p[`wchange_l${k}`], n[`wdrift/dense${k - 1}`], `layer ${k} at step ${n.step}`);
  }
});

test('a run failing in a later callback leaves no tensors behind the fli and ntk probes', async () => {
  const before = tf.memory().numTensors;
  const failing: Callback = {
    onStepEnd(ctx) {
      if (ctx.step === 7) throw new Error('boom');
    },
  };
  await assert.rejects(
    fit(
      {
        model,
        train: { steps: 20, batch_size: 32, log_every: 5 },
        callbacks: [
          { name: 'fli', kwargs: { every: 5, n_probe: 16 } },
          { name: 'ntk', kwargs: { every: 5, n_probe: 4 } },
        ],
      },
      [{ name: 'failing', callback: failing }],
    ),
    /callback failing \(onStepEnd\): boom/,
  );
  assert.equal(tf.memory().numTensors, before);
});
