import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { useBackend } from '../lib/backend/index.js';
import { probeDue } from '../lib/probes/probe.js';
import { TRAINER_METRICS, type Callback, type FitResult, type TrainContext } from '../lib/training/callback.js';
import { readScalars } from '../lib/training/read_scalars.js';
import { readJsonl, runCli, tempDir, tinyConfig, writeJson } from './helpers.js';
import { fitRows } from './fit_fixtures.js';

// The hooks a callback that holds tensors relies on (onGradients, onException, teardown), the
// time each callback costs, and the one-transfer readback probes use.

before(async () => {
  await useBackend('cpu');
});

async function fit(overrides: Record<string, unknown>, extra: { name: string; callback: Callback }[]): Promise<FitResult> {
  return (await fitRows(tinyConfig(overrides), extra)).result;
}

/** A callback that keeps a tensor from fit start, as a probe keeps its reference kernel, and frees it in teardown. */
function holder(events: string[]): Callback {
  let kept: tf.Tensor | null = null;
  return {
    onFitStart(ctx) {
      kept = tf.keep(ctx.model.layers[0]!.weight.clone());
    },
    onException(_ctx, err) {
      events.push(`exception: ${(err as Error).message}`);
    },
    teardown() {
      events.push('teardown');
      kept?.dispose();
      kept = null;
    },
  };
}

test('teardown runs once whether the fit completes, stops or diverges', async () => {
  for (const [label, overrides, extra] of [
    ['completed', {}, []],
    ['stopped', {}, [{ name: 'stopper', callback: { onStepEnd: (ctx: TrainContext) => (ctx.step === 3 ? ctx.requestStop('enough') : undefined) } }]],
    ['diverged', { optimizer: { name: 'sgd', kwargs: { lr: 1e6 } }, loss: { name: 'mse' }, train: { steps: 200, batch_size: 32, log_every: 50 } }, []],
  ] as const) {
    const events: string[] = [];
    const result = await fit(overrides, [{ name: 'holder', callback: holder(events) }, ...extra]);
    assert.equal(result.status, label);
    assert.deepEqual(events, ['teardown'], label);
  }
});

test('a failing run calls onException, then teardown, and leaves no tensor behind', async () => {
  const before = tf.memory().numTensors;
  const events: string[] = [];
  const failing: Callback = {
    onStepEnd(ctx) {
      if (ctx.step === 4) throw new Error('boom at step 4');
    },
  };
  await assert.rejects(
    fit({}, [
      { name: 'holder', callback: holder(events) },
      { name: 'failing', callback: failing },
    ]),
    /callback failing \(onStepEnd\): boom at step 4/,
  );
  assert.deepEqual(events, ['exception: callback failing (onStepEnd): boom at step 4', 'teardown']);
  assert.equal(tf.memory().numTensors, before, 'tensors left behind by a failed run');
});

test('a run failing anywhere (fit start, inside the step, after it) leaves no tensor behind', async () => {
  for (const [where, failing] of [
    ['onFitStart', { onFitStart: () => { throw new Error('boom'); } }],
    ['onGradients', { onGradients: (ctx: TrainContext) => { if (ctx.step === 2) throw new Error('boom'); } }],
    ['onEpochStart', { onEpochStart: () => { throw new Error('boom'); } }],
  ] as [string, Callback][]) {
    const before = tf.memory().numTensors;
    const events: string[] = [];
    await assert.rejects(
      fit({}, [
        { name: 'holder', callback: holder(events) },
        { name: 'failing', callback: failing },
      ]),
      new RegExp(`callback failing \\(${where}\\): boom`),
    );
    assert.equal(events.at(-1), 'teardown', where);
    assert.equal(tf.memory().numTensors, before, `tensors left behind by a run failing in ${where}`);
  }
});

test('a teardown that throws still lets the other callbacks release theirs, and fails the run', async () => {
  const events: string[] = [];
  const bad: Callback = {
    teardown() {
      throw new Error('cannot release');
    },
  };
  await assert.rejects(
    fit({}, [
      { name: 'bad', callback: bad },
      { name: 'holder', callback: holder(events) },
    ]),
    /callback bad \(teardown\): cannot release/,
  );
  assert.deepEqual(events, ['teardown']);
});

test('onGradients sees the step gradients in parameter order, before the update', async () => {
  const lr = 0.1;
  let checked = 0;
  let before: tf.Tensor[] = [];
  let grads: tf.Tensor[] = [];
  const spy: Callback = {
    onGradients(ctx, g) {
      assert.equal(g.length, ctx.model.params.length);
      g.forEach((t, i) => assert.deepEqual(t.shape, ctx.model.params[i]!.shape));
      before = ctx.model.params.map((p) => tf.keep(p.clone()));
      grads = g.map((t) => tf.keep(t.clone()));
    },
    onStepEnd(ctx) {
      // Plain SGD: p_new = p_old - lr * g, exactly when g is the gradient the update used.
      ctx.model.params.forEach((p, i) => {
        const expected = tf.sub(before[i]!, tf.mul(grads[i]!, lr));
        const err = tf.max(tf.abs(tf.sub(p, expected))).dataSync()[0]!;
        assert.ok(err < 1e-6, `param ${i} at step ${ctx.step}: ${err}`);
        expected.dispose();
      });
      tf.dispose([...before, ...grads]);
      checked += 1;
    },
  };
  await fit({ optimizer: { name: 'sgd', kwargs: { lr } }, train: { steps: 5, batch_size: 32, eval_every: 0, log_every: 5 } }, [{ name: 'spy', callback: spy }]);
  assert.equal(checked, 5);
});

test("each callback's time is in the fit result and summary.json", async () => {
  const busy = (ms: number) => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };
  const slow: Callback = { onStepEnd: () => busy(5) };
  const quick: Callback = { onStepEnd: () => {} };
  const result = await fit({ train: { steps: 10, batch_size: 32, eval_every: 0, log_every: 5 } }, [
    { name: 'slow', callback: slow },
    { name: 'quick', callback: quick },
    { name: 'quick', callback: quick },
  ]);
  assert.deepEqual(Object.keys(result.callbackTime), ['slow', 'quick', 'quick#2']);
  assert.ok(result.callbackTime.slow! >= 0.05, `slow: ${result.callbackTime.slow}`);
  assert.ok(result.callbackTime.quick! < result.callbackTime.slow!);

  const dir = tempDir();
  const config = writeJson(path.join(dir, 'c.json'), tinyConfig({ callbacks: [{ name: 'param_norms', kwargs: { every: 10 } }] }));
  const r = runCli(['train', config, '--runs-dir', dir, '--name', 'timed', '--backend', 'cpu', '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'timed', 'summary.json'), 'utf8'));
  assert.equal(typeof summary.callback_time.param_norms, 'number');
  assert.ok(readJsonl(path.join(dir, 'timed', 'metrics.jsonl')).some((l) => 'wdrift/dense0' in l));
});

test('readScalars reads many scalars in one go and refuses a tensor of several values', () => {
  const a = tf.scalar(1.5);
  const b = tf.tensor([[2]]);
  const c = tf.tensor1d([3], 'int32');
  assert.deepEqual(readScalars({ a, b, c }), { a: 1.5, b: 2, c: 3 });
  assert.deepEqual(readScalars({}), {});
  const v = tf.tensor1d([1, 2]);
  assert.throws(() => readScalars({ a, v }), /"v" holds 2 values, not one/);
  tf.dispose([a, b, c, v]);
});

test('a probe measures at step 0, at its listed steps, every N steps and at the last step', () => {
  const due = (every: number, at: number[]) => Array.from({ length: 11 }, (_, s) => s).filter((s) => probeDue(s, 10, every, at));
  assert.deepEqual(due(4, [0]), [0, 4, 8, 10]);
  assert.deepEqual(due(0, [0, 3]), [0, 3, 10]);
  assert.deepEqual(due(5, []), [5, 10]);
});

test('TRAINER_METRICS is exactly what a classification fit logs by itself (what sweep metric names are checked against)', async () => {
  const { lines } = await fitRows(tinyConfig({ train: { steps: 10, batch_size: 32, eval_every: 5, log_every: 5 } }));
  const logged = new Set(lines.flatMap((l) => Object.keys(l)).filter((k) => !['step', 'epoch', 'time', 'split'].includes(k)));
  assert.deepEqual([...logged].sort(), [...TRAINER_METRICS].sort());
});
