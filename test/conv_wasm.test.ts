import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { useBackend } from '../lib/backend/index.js';
import { wasmConvStats } from '../lib/backend/wasm/conv.js';
import { wasmGemmStats } from '../lib/backend/wasm/gemm.js';
import { MNIST_FILES } from '../lib/data/mnist.js';
import { writeIdx } from '../lib/data/idx.js';
import { buildExperiment, fitExperiment, resolveConfig } from '../lib/experiment.js';
import { Rng } from '../lib/rng.js';
import type { Callback } from '../lib/training/callback.js';
import type { FitSink } from '../lib/training/trainer.js';
import { readJsonl, repoRoot, runCli, tempDir, tinyConfig, waitUntil, writeJson } from './helpers.js';

// The wasm backend's convolutions (lib/backend/wasm/conv.ts: patch matrix + native/gemm.c) and
// pooling gradients (lib/backend/wasm/pool_grad.ts), on two threads: every kernel against the cpu
// backend's on the same values, the gradients against central differences of a float64
// convolution, and a conv net trained by the real Trainer.

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
}

// Odd sides, stride 2 and mixed strides, valid/same/explicit padding, one input channel and
// several (not a multiple of 4), batch 1 and more, a 1x1 filter (no patch matrix), a filter
// larger than the padded image allows in one direction, the two layers of the bench's net, and
// patch matrices of several row blocks (conv.ts multiplies 256 KB of them at a time) with a
// short last one.
const CASES: ConvCase[] = [
  { x: [2, 7, 5, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [3, 9, 8, 1], filter: [3, 3, 1, 5], strides: 2, pad: 'same' },
  { x: [2, 7, 5, 1], filter: [3, 2, 1, 4], strides: 2, pad: 'valid' },
  { x: [1, 6, 6, 2], filter: [1, 1, 2, 3], strides: 1, pad: 'valid' },
  { x: [2, 6, 5, 6], filter: [1, 1, 6, 9], strides: 2, pad: 'same' },
  { x: [3, 9, 8, 2], filter: [5, 3, 2, 3], strides: [2, 1], pad: [[0, 0], [2, 1], [0, 2], [0, 0]] },
  { x: [1, 4, 11, 5], filter: [4, 5, 5, 2], strides: [1, 3], pad: 'valid' },
  { x: [4, 28, 28, 1], filter: [3, 3, 1, 16], strides: 1, pad: 'same' },
  { x: [4, 14, 14, 16], filter: [3, 3, 16, 32], strides: 1, pad: 'same' },
  { x: [5, 30, 30, 2], filter: [3, 3, 2, 40], strides: 1, pad: 'same' },
  { x: [6, 40, 39, 3], filter: [3, 3, 3, 64], strides: 2, pad: 'same' },
];

function randomArray(n: number, seed: number): Float32Array {
  return new Rng(seed, 'conv-wasm-test').normalArray(n, 0, 1);
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, terms: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  // float32 sums of `terms` products of unit size, in different orders
  const tol = 2e-6 * terms + 1e-5;
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i]! - want[i]!) <= tol * (1 + Math.abs(want[i]!)), `${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

/** Every conv kernel's output for every case, on the current backend. */
function convOutputs(): Float32Array[][] {
  return CASES.map((c, i) =>
    tf.tidy(() => {
      const x = tf.tensor4d(randomArray(size(c.x), 10 * i + 1), c.x);
      const filter = tf.tensor4d(randomArray(size(c.filter), 10 * i + 2), c.filter);
      const y = tf.conv2d(x, filter, c.strides, c.pad);
      const dy = tf.tensor4d(randomArray(y.size, 10 * i + 3), y.shape);
      const bias = tf.tensor1d(randomArray(c.filter[3], 10 * i + 4));
      const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC' };
      const dx = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter }, { ...attrs, inputShape: c.x }) as tf.Tensor;
      const dw = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, filterShape: c.filter }) as tf.Tensor;
      const fused = tf.fused.conv2d({ x, filter, strides: c.strides, pad: c.pad, bias, activation: 'relu' });
      return [y, dx, dw, fused].map((t) => t.dataSync() as Float32Array);
    }),
  );
}

test('wasm Conv2D, FusedConv2D (bias, relu) and both gradients equal the cpu backend on every case, on two threads', async () => {
  await useBackend('cpu');
  const want = convOutputs();
  const info = await useBackend('wasm', { threads: 2 });
  assert.equal(info.threads, 2);
  // Until its worker has started the pool lets the calling thread do everything.
  await waitUntil(() => wasmGemmStats()?.pool?.ready === true, 30_000);
  const before = { conv: wasmConvStats()!, shared: wasmGemmStats()!.pool!.shared };
  const got = convOutputs();
  CASES.forEach((c, i) => {
    const name = `x [${c.x}] filter [${c.filter}] strides ${JSON.stringify(c.strides)} pad ${JSON.stringify(c.pad)}`;
    const taps = c.filter[0] * c.filter[1] * c.filter[2];
    ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'FusedConv2D'].forEach((kernel, k) => {
      // The filter gradient sums over every output pixel of the batch.
      const terms = kernel === 'Conv2DBackpropFilter' ? size(c.x) : taps * c.filter[3];
      assertClose(got[i]![k]!, want[i]![k]!, terms, `${name}: ${kernel}`);
    });
  });
  const after = wasmConvStats()!;
  assert.equal(after.forward - before.conv.forward, 2 * CASES.length, 'Conv2D and FusedConv2D ran here, not on the backend kernel');
  assert.equal(after.backpropInput - before.conv.backpropInput, CASES.length);
  assert.equal(after.backpropFilter - before.conv.backpropFilter, CASES.length);
  assert.ok(wasmGemmStats()!.pool!.shared > before.shared, 'the big products were shared with the worker thread');
});

test('wasm: a dilated convolution goes to the backend kernel, and a filter gradient it cannot take fails saying why', async () => {
  await useBackend('wasm', { threads: 2 });
  tf.tidy(() => {
    const x = tf.tensor4d(randomArray(2 * 7 * 7 * 2, 5), [2, 7, 7, 2]);
    const filter = tf.tensor4d(randomArray(3 * 3 * 2 * 3, 6), [3, 3, 2, 3]);
    const before = wasmConvStats()!.forward;
    const dilated = tf.conv2d(x, filter, 1, 'valid', 'NHWC', 2);
    assert.deepEqual(dilated.shape, [2, 3, 3, 3]);
    assert.equal(wasmConvStats()!.forward, before, 'left to the backend');
    const dy = tf.ones([2, 7, 7, 3]);
    assert.throws(
      () => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 2, 3] }),
      /Conv2DBackpropFilter on wasm .*NHWC only/,
    );
    assert.throws(
      () => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 4, 3] }),
      /Conv2DBackpropFilter on wasm .*takes 4 input channels, x has 2/,
    );
  });
});

test('wasm: patch matrices are kept only under a gradient tape, once per input, and freed with their input', async () => {
  await useBackend('wasm', { threads: 2 });
  const x = tf.tensor4d(randomArray(2 * 9 * 9 * 3, 40), [2, 9, 9, 3]);
  const filter = tf.tensor4d(randomArray(3 * 3 * 3 * 4, 41), [3, 3, 3, 4]);
  const kept = () => wasmConvStats()!.keptPatches;
  const before = kept();
  tf.conv2d(x, filter, 1, 'same').dispose();
  assert.equal(kept(), before, 'no tape, nothing kept');
  // The gradient for x only: the forward keeps x's patch matrix, and no filter gradient takes it.
  const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.conv2d(t as tf.Tensor4D, filter, 1, 'same')));
  dx(x).dispose();
  dx(x).dispose();
  assert.equal(kept(), before + 1, 'one matrix for the same input and geometry');
  x.dispose();
  // The next convolution notices the input is gone.
  tf.tidy(() => tf.conv2d(tf.ones([1, 5, 5, 3]) as tf.Tensor4D, filter, 1, 'same'));
  assert.equal(kept(), before, 'freed once its input was disposed');
  filter.dispose();
});

// --- pooling gradients ---------------------------------------------------------------------------

interface PoolCase {
  x: [number, number, number, number];
  filter: number | [number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid';
}

// The cnn's 2x2/2 pool, odd sides (a last row and column dropped), overlapping 3x3/2 windows with
// 'same' padding, channel counts below, at and past a multiple of 4.
const POOLS: PoolCase[] = [
  { x: [2, 8, 8, 4], filter: 2, strides: 2, pad: 'valid' },
  { x: [3, 7, 9, 5], filter: 2, strides: 2, pad: 'valid' },
  { x: [2, 9, 7, 1], filter: 3, strides: 2, pad: 'same' },
  { x: [1, 6, 10, 8], filter: [3, 2], strides: [1, 2], pad: 'same' },
];

/** MaxPool and AvgPool gradients, with relu'd inputs rounded so that windows tie (at 0 and elsewhere). */
function poolGrads(): Float32Array[][] {
  return POOLS.map((c, i) =>
    tf.tidy(() => {
      const raw = randomArray(size(c.x), 100 + i).map((v) => Math.max(0, Math.round(v * 2) / 2));
      const x = tf.tensor4d(raw, c.x);
      const weights = (y: tf.Tensor) => tf.tensor(randomArray(y.size, 200 + i), y.shape);
      const max = tf.grad((t: tf.Tensor) => {
        const y = tf.maxPool(t as tf.Tensor4D, c.filter, c.strides, c.pad);
        return tf.sum(tf.mul(y, weights(y)));
      })(x);
      const avg = tf.grad((t: tf.Tensor) => {
        const y = tf.avgPool(t as tf.Tensor4D, c.filter, c.strides, c.pad);
        return tf.sum(tf.mul(y, weights(y)));
      })(x);
      return [max.dataSync() as Float32Array, avg.dataSync() as Float32Array];
    }),
  );
}

test('wasm MaxPoolGrad and AvgPoolGrad equal the cpu backend, ties and padding included', async () => {
  await useBackend('cpu');
  const want = poolGrads();
  await useBackend('wasm', { threads: 2 });
  const got = poolGrads();
  POOLS.forEach((c, i) => {
    const name = `x [${c.x}] filter ${JSON.stringify(c.filter)} strides ${JSON.stringify(c.strides)} ${c.pad}`;
    assertClose(got[i]![0]!, want[i]![0]!, 9, `${name}: MaxPoolGrad`);
    assertClose(got[i]![1]!, want[i]![1]!, 9, `${name}: AvgPoolGrad`);
  });
});

// --- bias gradient ---------------------------------------------------------------------------------

/** Sums over all axes but the last (keepDims or not, channels below and past a multiple of 4, 100k-row columns), and others. */
function sums(): { values: Float32Array; shape: number[] }[] {
  return tf.tidy(() => {
    const out: tf.Tensor[] = [];
    for (const [shape, seed] of [[[128, 28, 28, 16], 1], [[3, 5, 7, 6], 2], [[9, 3], 3], [[4, 1, 2, 5], 4]] as const) {
      const x = tf.tensor(randomArray(size(shape), 600 + seed), [...shape]);
      const lead = shape.slice(0, -1).map((_, i) => i);
      out.push(tf.sum(x, lead), tf.sum(x, lead, true), tf.sum(x, [...lead].reverse().map((a) => a - shape.length)));
      // Not this file's case: the backend's own kernel.
      out.push(tf.sum(x, shape.length - 1), tf.sum(x));
      if (shape.length === 4) out.push(tf.sum(x, [1, 2]));
    }
    return out.map((t) => ({ values: t.dataSync() as Float32Array, shape: t.shape }));
  });
}

test('wasm: a sum over all axes but the last (a conv bias gradient) equals the cpu backend, and other sums still do', async () => {
  await useBackend('cpu');
  const want = sums();
  await useBackend('wasm', { threads: 2 });
  const got = sums();
  want.forEach((w, i) => {
    assert.deepEqual(got[i]!.shape, w.shape, `sum ${i}: shape`);
    // float32 sums of up to 100352 unit normals, in another order than the cpu backend.
    assertClose(got[i]!.values, w.values, 100, `sum ${i}`);
  });
});

// --- gradients against finite differences --------------------------------------------------------

/** y = conv(x, w) in float64, NHWC, dilation 1, from tfjs's own geometry. */
function conv64(x: Float64Array, w: Float64Array, c: ConvCase): Float64Array {
  const g = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
  const y = new Float64Array(size(g.outShape));
  for (let n = 0; n < g.batchSize; n++)
    for (let oh = 0; oh < g.outHeight; oh++)
      for (let ow = 0; ow < g.outWidth; ow++)
        for (let co = 0; co < g.outChannels; co++) {
          let s = 0;
          for (let kh = 0; kh < g.filterHeight; kh++) {
            const ih = oh * g.strideHeight - g.padInfo.top + kh;
            if (ih < 0 || ih >= g.inHeight) continue;
            for (let kw = 0; kw < g.filterWidth; kw++) {
              const iw = ow * g.strideWidth - g.padInfo.left + kw;
              if (iw < 0 || iw >= g.inWidth) continue;
              for (let ci = 0; ci < g.inChannels; ci++) {
                s += x[((n * g.inHeight + ih) * g.inWidth + iw) * g.inChannels + ci]! * w[((kh * g.filterWidth + kw) * g.inChannels + ci) * g.outChannels + co]!;
              }
            }
          }
          y[((n * g.outHeight + oh) * g.outWidth + ow) * g.outChannels + co] = s;
        }
  return y;
}

test('wasm: the gradients of a conv (stride 1 same, stride 2 valid) match float64 central differences', async () => {
  await useBackend('wasm', { threads: 2 });
  const cases: ConvCase[] = [
    { x: [2, 5, 4, 3], filter: [3, 3, 3, 2], strides: 1, pad: 'same' },
    { x: [1, 7, 6, 2], filter: [3, 2, 2, 3], strides: 2, pad: 'valid' },
  ];
  for (const [i, c] of cases.entries()) {
    const x = randomArray(size(c.x), 300 + i);
    const w = randomArray(size(c.filter), 400 + i);
    const outShape = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad).outShape;
    const weights = randomArray(size(outShape), 500 + i);
    // A loss that is not linear in either input: sum(weights · y²) / 2.
    const loss64 = (xs: Float64Array, ws: Float64Array) => conv64(xs, ws, c).reduce((s, y, j) => s + (weights[j]! * y * y) / 2, 0);
    const [dx, dw] = tf.tidy(() => {
      const f = (xt: tf.Tensor, wt: tf.Tensor) => {
        const y = tf.conv2d(xt as tf.Tensor4D, wt as tf.Tensor4D, c.strides, c.pad);
        return tf.div(tf.sum(tf.mul(tf.tensor(weights, outShape), tf.square(y))), 2);
      };
      return tf.grads(f)([tf.tensor4d(x, c.x), tf.tensor4d(w, c.filter)]).map((g) => g.dataSync() as Float32Array);
    });
    const h = 1e-4;
    for (const [name, values, analytic] of [['dx', x, dx!], ['dW', w, dw!]] as const) {
      const base = { x: Float64Array.from(x), w: Float64Array.from(w) };
      for (let j = 0; j < values.length; j++) {
        const target = name === 'dx' ? base.x : base.w;
        const v = target[j]!;
        target[j] = v + h;
        const up = loss64(base.x, base.w);
        target[j] = v - h;
        const down = loss64(base.x, base.w);
        target[j] = v;
        const numeric = (up - down) / (2 * h);
        assert.ok(Math.abs(analytic[j]! - numeric) <= 1e-3 * (1 + Math.abs(numeric)), `case ${i} ${name}[${j}]: kernel ${analytic[j]}, central difference ${numeric}`);
      }
    }
  }
});

// --- training ------------------------------------------------------------------------------------

/** MNIST-format IDX files of 12x12 images whose class is where a bright 3x3 block sits, plus noise. */
function writeBlockImages(dir: string, nTrain: number, nVal: number): void {
  fs.mkdirSync(dir, { recursive: true });
  const rng = new Rng(7, 'conv-wasm-images');
  const side = 12;
  for (const [images, labels, n] of [
    [MNIST_FILES.trainImages, MNIST_FILES.trainLabels, nTrain],
    [MNIST_FILES.valImages, MNIST_FILES.valLabels, nVal],
  ] as const) {
    const pixels = new Uint8Array(n * side * side);
    const classes = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const label = rng.int(4);
      classes[i] = label;
      for (let p = 0; p < side * side; p++) pixels[i * side * side + p] = rng.int(60);
      const [r0, c0] = [label < 2 ? 2 : 7, label % 2 === 0 ? 2 : 7];
      for (let r = r0; r < r0 + 3; r++) for (let col = c0; col < c0 + 3; col++) pixels[i * side * side + r * side + col] = 255;
    }
    writeIdx(path.join(dir, images), pixels, [n, side, side]);
    writeIdx(path.join(dir, labels), classes, [n]);
  }
}

test('a cnn trains on wasm through the Trainer: finite losses that fall, max and avg pooling', async () => {
  await useBackend('wasm', { threads: 2 });
  const dir = tempDir();
  writeBlockImages(dir, 512, 128);
  for (const pool of ['max', 'avg']) {
    const before = wasmConvStats()!;
    const config = resolveConfig(
      tinyConfig({
        name: `cnn-${pool}`,
        model: { name: 'cnn', kwargs: { channels: [4, 8], hidden: [16], pool } },
        init: { name: 'lecun' },
        optimizer: { name: 'sgd', kwargs: { lr: 0.05, momentum: 0.9 } },
        data: { name: 'mnist', kwargs: { root: dir } },
        train: { steps: 40, batch_size: 32, eval_every: 0, log_every: 10 },
      }),
      'test',
    );
    const exp = buildExperiment(config, repoRoot);
    const lines: Record<string, number | string>[] = [];
    const sink: FitSink = { metrics: (r) => lines.push(r), print: () => {} };
    // Patch matrices kept for the filter gradients must all be used (and freed) within their step.
    const buffers: string[] = [];
    const counter: Callback = { onStepEnd: () => void buffers.push(`${tf.memory().numTensors}/${tf.engine().backend.numDataIds()}/${wasmConvStats()!.keptPatches}`) };
    try {
      const result = await fitExperiment(exp, { runDir: null, sink, extraCallbacks: [{ name: 'counter', callback: counter }] });
      assert.equal(result.status, 'completed', String(result.reason));
    } finally {
      exp.dispose();
    }
    const losses = lines.filter((l) => l.split === 'train').map((l) => l.loss as number);
    assert.equal(losses.length, 4, 'a train line every 10 steps');
    assert.ok(losses.every(Number.isFinite), `finite losses: ${losses}`);
    assert.ok(losses.at(-1)! < 0.7 * losses[0]!, `the loss falls: ${losses}`);
    assert.equal(new Set(buffers.slice(2)).size, 1, `tensors/buffers/kept patches at step ends: ${[...new Set(buffers)].join(', ')}`);
    assert.ok(buffers.at(-1)!.endsWith('/0'), 'no patch matrix outlives its step');
    const after = wasmConvStats()!;
    assert.equal(after.reusedPatches - before.reusedPatches, 80, 'every filter gradient took the patch matrix of its forward pass');
    // 40 steps of two conv layers, and the evaluations' forward passes; conv0's input is the data, which needs no gradient.
    assert.ok(after.forward - before.forward >= 80, 'forward convolutions ran here');
    assert.equal(after.backpropFilter - before.backpropFilter, 80, 'both filter gradients at every step');
    assert.equal(after.backpropInput - before.backpropInput, 40, "only conv1's input gradient");
  }
});

test('a cnn run gives the same metrics on one wasm thread (native/conv.wasm on a plain heap) and on two', () => {
  const dir = tempDir();
  writeBlockImages(path.join(dir, 'data'), 256, 64);
  const config = writeJson(
    path.join(dir, 'c.json'),
    tinyConfig({
      model: { name: 'cnn', kwargs: { channels: [4, 8], hidden: [16] } },
      data: { name: 'mnist', kwargs: { root: 'data' } },
      train: { steps: 12, batch_size: 32, eval_every: 6, log_every: 1 },
    }),
  );
  const lines = (threads: number) => {
    const run = runCli(['train', config, '--backend', 'wasm', '--threads', String(threads), '--runs-dir', dir, '--name', `t${threads}`, '-q']);
    assert.equal(run.status, 0, run.stderr);
    // Timings differ; everything computed must not.
    return readJsonl(path.join(dir, `t${threads}`, 'metrics.jsonl')).map(({ time: _t, elapsed_s: _e, steps_per_sec: _s, ...rest }) => rest);
  };
  const one = lines(1);
  assert.ok(one.length >= 14, 'train lines and evaluations');
  assert.deepEqual(lines(2), one);
});

test('the trainer bench has a cnn row on wasm, trained on MNIST-shaped files it writes', () => {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'bench', 'trainer.ts'), '--models', 'cnn', '--backends', 'wasm', '--cnn-steps', '2', '--warmup', '1', '--no-reference'],
    { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { model: string; backend: string; steps_per_s: number; steps: number });
  assert.deepEqual(
    rows.map((row) => [row.model, row.backend, row.steps]),
    [['cnn', 'wasm', 2]],
  );
  assert.ok(rows[0]!.steps_per_s > 0);
  assert.match(r.stdout, /^CNN on 28x28x1 images/m);
});

// --- the committed build -------------------------------------------------------------------------

test('the committed native/conv*.wasm are what native/build.sh makes of native/conv.c', { skip: !hasClang() && 'clang-14 with wasm-ld is not installed' }, () => {
  const out = tempDir();
  const build = spawnSync('sh', [path.join(repoRoot, 'native', 'build.sh'), out], { encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  for (const file of ['conv.wasm', 'conv_shared.wasm']) {
    assert.ok(fs.readFileSync(path.join(out, file)).equals(fs.readFileSync(path.join(repoRoot, 'native', file))), `${file} is stale: run native/build.sh`);
  }
});

function hasClang(): boolean {
  return spawnSync('sh', ['-c', 'command -v clang-14 && command -v wasm-ld-14 && command -v llvm-objdump-14'], { encoding: 'utf8' }).status === 0;
}
