import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { useBackend } from '../lib/backend/index.js';
import { tinyConfig } from './helpers.js';
import { fitRows, type Row } from './fit_fixtures.js';

before(async () => {
  await useBackend('wasm');
});


/** Fits `overrides` on tinyConfig and returns every metrics row, in the order they were written. */
async function rows(overrides: Record<string, unknown>): Promise<Row[]> {
  return (await fitRows(tinyConfig(overrides))).lines;
}

const WIDTH = 512;
const DEPTH = 6;
const N_PROBE = 64;

/** The step-0 probe row of a wide, deep mlp at init with gaussian weights of variance sigma_w2/fan_in. */
async function atInit(activation: string, sigma_w2: number): Promise<Row> {
  const lines = await rows({
    model: { name: 'mlp', kwargs: { width: WIDTH, depth: DEPTH, activation } },
    init: { name: 'gaussian', kwargs: { sigma_w2, sigma_b2: 0 } },
    // 256 input dimensions: ‖x‖² of the synthetic inputs is then within ~10% across inputs, so the
    // pooled h is close to one Gaussian (a scale mixture of Gaussians has kurtosis 3·Var(q)/E[q]²).
    data: { name: 'synthetic', kwargs: { n_train: 128, n_val: 32, dim: 256, classes: 3 } },
    train: { steps: 1, batch_size: 8, eval_every: 1, log_every: 1 },
    callbacks: [{ name: 'preact_stats', kwargs: { at: [0], n_probe: N_PROBE } }],
  });
  const row = lines.find((l) => l.split === 'probe' && l.step === 0);
  assert.ok(row, 'a probe row at step 0');
  return row;
}

const q = (row: Row, k: number) => row[`q_l${k}`] as number;

// Tolerance of a layer-to-layer ratio q_{k+1}/q_k. Given layer k, each input's q_{k+1} is
// σ_w²/n_k·Σ φ(h)² times a χ² with `width` degrees of freedom over width: relative std √(2/width).
// Averaging over n_probe inputs divides the variance by n_probe only for uncorrelated inputs
// (√(2/(width·n_probe)) ≈ 0.008 here); the inputs of a relu network grow correlated with depth
// (c_l → 1), so the bound used is the fully correlated one, √(2/512) ≈ 0.0625, plus the O(1/width)
// finite-width bias of E[φ(h)²]: 4 standard deviations, 0.25, still separates a ratio of 1 from 1/2.
const RATIO_TOL = 4 * Math.sqrt(2 / WIDTH);

test('relu at sigma_w2 = 2 keeps q_l flat through the hidden layers (He init)', async () => {
  const row = await atInit('relu', 2);
  for (let k = 1; k < DEPTH; k++) {
    const ratio = q(row, k + 1) / q(row, k);
    assert.ok(Math.abs(ratio - 1) < RATIO_TOL, `q_l${k + 1}/q_l${k} = ${ratio}, expected 1 ± ${RATIO_TOL}`);
  }
  // Over the whole stack the per-layer errors add up at most like a random walk of DEPTH−1 steps.
  const total = q(row, DEPTH) / q(row, 1);
  assert.ok(Math.abs(total - 1) < RATIO_TOL * Math.sqrt(DEPTH - 1), `q_l${DEPTH}/q_l1 = ${total}`);
  for (let k = 1; k <= DEPTH; k++) {
    const active = row[`active_l${k}`] as number;
    // h is symmetric about 0 at init without biases; the fraction over 512·64 values is ½ to ~1%.
    assert.ok(Math.abs(active - 0.5) < 0.05, `active_l${k} = ${active}`);
  }
});

test('relu at sigma_w2 = 1 halves q_l at every layer', async () => {
  const row = await atInit('relu', 1);
  for (let k = 1; k < DEPTH; k++) {
    const ratio = q(row, k + 1) / q(row, k);
    assert.ok(Math.abs(ratio - 0.5) < RATIO_TOL / 2, `q_l${k + 1}/q_l${k} = ${ratio}, expected 0.5 ± ${RATIO_TOL / 2}`);
  }
});

test('c_l of a relu network rises with depth towards 1', async () => {
  const row = await atInit('relu', 2);
  const c = Array.from({ length: DEPTH }, (_, i) => row[`c_l${i + 1}`] as number);
  // The relu correlation map pulls every c towards 1 (its fixed point, Schoenholz et al. 2017),
  // by at least ~0.03 per layer below c = 0.8; the estimate's noise is ~1/√width ≈ 0.04 at worst.
  for (let k = 1; k < DEPTH; k++) assert.ok(c[k]! > c[k - 1]! - 0.01, `c_l${k + 1} = ${c[k]} < c_l${k} = ${c[k - 1]}`);
  assert.ok(c[DEPTH - 1]! > c[0]! + 0.15, `c rose from ${c[0]} to only ${c[DEPTH - 1]}`);
  assert.ok(c[DEPTH - 1]! < 1, 'c stays below 1 at finite depth');
});

test('pre-activations of a wide linear network at init are Gaussian: excess kurtosis near 0', async () => {
  const row = await atInit('linear', 1);
  for (let k = 1; k <= DEPTH; k++) {
    // Pooled over inputs, h is a scale mixture of Gaussians (one variance q(x) per input), whose
    // excess kurtosis is 3·Var_x(q)/E[q]²: ‖x‖² varies ~10% across inputs (+0.03), and the
    // product of k random matrices spreads q(x) by a relative variance ~2k/width at finite width
    // (+~0.07 at k = 6, → 0 as width grows). The estimator over 512·64 shared-weight values adds
    // a few hundredths. 0.25 holds all that and still rejects a Laplace-like shape (kurtosis 3).
    const kurt = row[`kurt_l${k}`] as number;
    assert.ok(Math.abs(kurt) < 0.25, `kurt_l${k} = ${kurt}`);
    assert.ok(Math.abs(row[`mean_l${k}`] as number) < 0.1 * Math.sqrt(row[`var_l${k}`] as number), `mean_l${k} near 0`);
  }
  assert.ok(!('active_l1' in row), 'no active fraction for a linear network');
});

test('keys are exactly the documented ones, probe rows come first at step 0', async () => {
  const lines = await rows({
    model: { name: 'mlp', kwargs: { widths: [8, 16, 12, 3], activation: 'gelu' } },
    train: { steps: 4, batch_size: 32, eval_every: 2, log_every: 1 },
    callbacks: [{ name: 'preact_stats', kwargs: { at: [0] } }],
  });
  const probe = lines.filter((l) => l.split === 'probe');
  assert.deepEqual(
    probe.map((l) => l.step),
    [0, 2, 4],
  );
  const firstProbe = lines.findIndex((l) => l.split === 'probe' && l.step === 0);
  const firstTrain = lines.findIndex((l) => l.split === 'train');
  assert.ok(firstProbe >= 0 && firstProbe < firstTrain, 'the step-0 probe row precedes every training row');
  const expected = ['step', 'epoch', 'time', 'split'];
  for (let k = 1; k <= 3; k++) {
    expected.push(`q_l${k}`, `mean_l${k}`, `var_l${k}`, `kurt_l${k}`, `c_l${k}`);
    if (k < 3) expected.push(`active_l${k}`);
  }
  for (const row of probe) {
    assert.deepEqual(Object.keys(row).sort(), expected.sort());
    for (const [k, v] of Object.entries(row)) if (k !== 'split') assert.ok(Number.isFinite(v), `${k} = ${v}`);
  }
});

test('conv layers count every element of an example\'s map as a unit', async () => {
  const lines = await rows({
    model: { name: 'cnn', kwargs: { channels: [4], hidden: [8], activation: 'relu' } },
    data: { name: 'synthetic', kwargs: { n_train: 64, n_val: 16, dim: 64, shape: [8, 8, 1], classes: 3 } },
    train: { steps: 1, batch_size: 16, eval_every: 1, log_every: 1 },
    callbacks: [{ name: 'preact_stats', kwargs: { at: [0], n_probe: 8 } }],
  });
  const row = lines.find((l) => l.split === 'probe' && l.step === 0)!;
  // conv0, dense hidden, readout.
  for (const key of ['q_l1', 'c_l1', 'active_l1', 'active_l2', 'q_l3']) assert.ok(Number.isFinite(row[key]), key);
  assert.ok(!('active_l3' in row) && !('q_l4' in row));
});
