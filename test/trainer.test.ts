import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { useBackend } from '../lib/backend/index.js';
import { buildExperiment, fitExperiment, resolveConfig } from '../lib/experiment.js';
import type { Callback, FitResult, TrainContext } from '../lib/training/callback.js';
import type { FitSink } from '../lib/training/trainer.js';
import { tinyConfig } from './helpers.js';

before(async () => {
  await useBackend('cpu');
});

/** Collects what a run would write to metrics.jsonl. */
function memorySink(): FitSink & { lines: Record<string, number | string>[] } {
  const lines: Record<string, number | string>[] = [];
  return { lines, metrics: (r) => lines.push(r), print: () => {} };
}

async function fit(
  overrides: Record<string, unknown> = {},
  extra: { name: string; callback: Callback }[] = [],
): Promise<{ result: FitResult; lines: Record<string, number | string>[] }> {
  const exp = buildExperiment(resolveConfig(tinyConfig(overrides), 'test'), process.cwd());
  const sink = memorySink();
  try {
    const result = await fitExperiment(exp, { runDir: null, sink, extraCallbacks: extra });
    return { result, lines: sink.lines };
  } finally {
    exp.dispose();
  }
}

test('hooks run in protocol order with one shared context', async () => {
  const calls: string[] = [];
  const contexts = new Set<TrainContext>();
  const record = (name: string) => (ctx: TrainContext) => {
    contexts.add(ctx);
    if (calls.at(-1) !== name || name !== 'onStepEnd') calls.push(name);
  };
  const recorder: Callback = {
    onFitStart: record('onFitStart'),
    onEpochStart: record('onEpochStart'),
    onStepEnd: record('onStepEnd'),
    onEvalEnd: record('onEvalEnd'),
    onEpochEnd: record('onEpochEnd'),
    onFitEnd: record('onFitEnd'),
  };
  // 256 examples / 32 per batch = 8 steps an epoch; 16 steps = 2 epochs, evaluation at 8 and 16.
  await fit({ train: { steps: 16, batch_size: 32, eval_every: 8, log_every: 4 } }, [{ name: 'recorder', callback: recorder }]);
  assert.deepEqual(calls, [
    'onFitStart',
    'onEpochStart',
    'onStepEnd',
    'onEvalEnd',
    'onEpochEnd',
    'onEpochStart',
    'onStepEnd',
    'onEvalEnd',
    'onEpochEnd',
    'onFitEnd',
  ]);
  assert.equal(contexts.size, 1);
});

test('a run that ends inside an epoch still closes it with onEpochEnd', async () => {
  const calls: string[] = [];
  const recorder: Callback = { onEpochStart: () => void calls.push('start'), onEpochEnd: () => void calls.push('end') };
  // 8 steps an epoch; 12 steps end halfway through the second.
  await fit({ train: { steps: 12, batch_size: 32, log_every: 4 } }, [{ name: 'recorder', callback: recorder }]);
  assert.deepEqual(calls, ['start', 'end', 'start', 'end']);
});

test('logs reach callbacks as plain numbers, validation metrics prefixed val_', async () => {
  let seen: Record<string, unknown> = {};
  const { lines } = await fit({}, [{ name: 'peek', callback: { onEvalEnd: (ctx) => void (seen = { ...ctx.logs }) } }]);
  for (const [k, v] of Object.entries(seen)) assert.equal(typeof v, 'number', `${k} is a number`);
  assert.ok('val_loss' in seen && 'val_acc' in seen && 'loss' in seen);
  const val = lines.filter((l) => l.split === 'val');
  const train = lines.filter((l) => l.split === 'train');
  assert.deepEqual(
    val.map((l) => l.step),
    [20, 40],
  );
  assert.equal(train.length, 8); // log_every 5 over 40 steps
  assert.ok(val.every((l) => typeof l.val_acc === 'number' && !('loss' in l)));
});

test('a callback can log its own metrics and request a stop', async () => {
  const stopper: Callback = {
    onStepEnd(ctx) {
      ctx.log({ custom: ctx.step * 2 });
      if (ctx.step === 7) ctx.requestStop('enough');
    },
  };
  const { result, lines } = await fit({}, [{ name: 'stopper', callback: stopper }]);
  assert.equal(result.status, 'stopped');
  assert.equal(result.reason, 'enough');
  assert.equal(result.steps, 7);
  assert.equal(result.final.custom, 14);
  assert.ok(lines.some((l) => l.split === 'val' && l.step === 7), 'a stopped run is evaluated once more');
});

test('an error inside a callback names the callback and the hook', async () => {
  const broken: Callback = {
    onEvalEnd() {
      throw new Error('boom');
    },
  };
  await assert.rejects(fit({}, [{ name: 'broken', callback: broken }]), /callback broken \(onEvalEnd\): boom/);
});

// Losses are read back once per logging window, not once per step (a per-step read stalls a GPU
// backend): a diverging run stops at the first readback after its loss became non-finite, and
// the reason names the step where it did.
test('a loss that becomes non-finite stops the run as diverged at the next readback', async () => {
  const { result, lines } = await fit({
    optimizer: { name: 'sgd', kwargs: { lr: 1e6 } },
    loss: { name: 'mse' },
    train: { steps: 200, batch_size: 32, log_every: 50 },
  });
  assert.equal(result.status, 'diverged');
  assert.equal(result.steps, 50, 'stopped at the end of the first logging window');
  const [, first] = /loss became (?:NaN|Infinity|-Infinity) at step (\d+)/.exec(result.reason ?? '') ?? [];
  assert.ok(first !== undefined && Number(first) >= 1 && Number(first) <= 50, `reason: ${result.reason}`);
  const last = lines.at(-1)!;
  assert.equal(last.step, result.steps);
  assert.ok(!Number.isFinite(last.loss as number));
  assert.ok(!lines.some((l) => l.split === 'val'), 'a diverged run is not evaluated');
});

test('with log_every 1 a non-finite loss stops the run at the step it appears', async () => {
  const { result } = await fit({
    optimizer: { name: 'sgd', kwargs: { lr: 1e6 } },
    loss: { name: 'mse' },
    train: { steps: 200, batch_size: 32, log_every: 1 },
  });
  assert.equal(result.status, 'diverged');
  assert.equal(result.reason, `loss became ${result.final.loss} at step ${result.steps}`);
});

test('losses are read back at least every 256 steps, however long the logging window', async () => {
  const { result } = await fit({
    optimizer: { name: 'sgd', kwargs: { lr: 1e6 } },
    loss: { name: 'mse' },
    train: { steps: 600, batch_size: 32, log_every: 1000 },
  });
  assert.equal(result.status, 'diverged');
  assert.equal(result.steps, 256);
});

test('a stop requested between two readbacks still reports a divergence in that window', async () => {
  const stopper: Callback = { onStepEnd: (ctx) => void (ctx.step === 30 && ctx.requestStop('enough')) };
  const { result } = await fit(
    { optimizer: { name: 'sgd', kwargs: { lr: 1e6 } }, loss: { name: 'mse' }, train: { steps: 200, batch_size: 32, log_every: 50 } },
    [{ name: 'stopper', callback: stopper }],
  );
  assert.equal(result.status, 'diverged');
  assert.equal(result.steps, 30);
});

test('the tensor count stays flat across steps (no leaks)', async () => {
  const counts: number[] = [];
  const counter: Callback = { onStepEnd: () => void counts.push(tf.memory().numTensors) };
  await fit({ train: { steps: 60, batch_size: 32, eval_every: 10, log_every: 3 } }, [{ name: 'counter', callback: counter }]);
  // Step 1 may allocate lazily created state; from then on the count must not move.
  const settled = counts.slice(2);
  assert.equal(new Set(settled).size, 1, `tensor counts ${[...new Set(settled)].join(', ')}`);
});

test('the same config and seed give identical metrics; another seed does not', async () => {
  const strip = (lines: Record<string, number | string>[]) => lines.map(({ time: _t, steps_per_sec: _s, ...rest }) => rest);
  const a = await fit();
  const b = await fit();
  const c = await fit({ seed: 1 });
  assert.deepEqual(strip(a.lines), strip(b.lines));
  assert.notDeepEqual(strip(a.lines), strip(c.lines));
});

test('early_stopping from the config stops a run that stops improving', async () => {
  const { result } = await fit({
    optimizer: { name: 'sgd', kwargs: { lr: 0 } },
    train: { steps: 200, batch_size: 32, eval_every: 5, log_every: 5 },
    callbacks: [{ name: 'early_stopping', kwargs: { monitor: 'val_loss', patience: 2 } }],
  });
  assert.equal(result.status, 'stopped');
  assert.equal(result.steps, 15); // best at 5, no improvement at 10 and 15
  assert.match(result.reason ?? '', /early stopping/);
});

test('param_norms logs each layer norm and its drift from initialisation', async () => {
  const { result } = await fit({ callbacks: [{ name: 'param_norms', kwargs: { every: 10 } }] });
  assert.ok(result.final['wnorm/dense0']! > 0);
  assert.ok(result.final['wdrift/dense1']! > 0);
});

test('training on epochs runs epochs times the batches per epoch', async () => {
  const { result } = await fit({ train: { epochs: 3, batch_size: 64, log_every: 2 } });
  assert.equal(result.steps, 12); // 256 / 64 = 4 batches an epoch
  assert.equal(result.status, 'completed');
});
