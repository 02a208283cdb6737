/**
 * Training speed of one run, for two models, each built through the registries and trained by
 * the real Trainer with batch 128, plain SGD and softmax cross-entropy on random data:
 *   mlp  784-256-256-10 (relu) on the synthetic dataset (784 features, 10 classes);
 *   cnn  lib/models/cnn.ts with channels [16, 32], hidden [64] (conv3x3 1->16, relu, maxpool2,
 *        conv3x3 16->32, relu, maxpool2, dense 1568->64, relu, dense 64->10) on MNIST-shaped
 *        data: random 28x28x1 images written as IDX files to a temporary folder and read by the
 *        mnist dataset.
 * Every backend present runs (node-gpu and node when their package is installed, wasm, cpu),
 * each in its own child process so that each peak RSS is its own; the cnn skips cpu, where a
 * step takes some 20 s. The same models, batch and optimizer in PyTorch (2 threads) are timed in
 * the same run as the reference, where a python3 that can import torch is found. Prints steps/s,
 * the ratio to PyTorch (of the same model) and the peak RSS per model and backend, then one JSON
 * line per model and backend for tooling.
 *
 *   node --import tsx bench/trainer.ts [--models mlp,cnn] [--steps 300] [--cpu-steps 20] [--cnn-steps 60]
 *                                      [--torch-steps 1000] [--torch-cnn-steps 200] [--warmup 10]
 *                                      [--repeat 1] [--backends wasm,cpu] [--no-reference] [--threads 1,2]
 *
 * wasm runs on every core by default; --threads 1,2 measures it once per thread count given.
 * With --repeat N every measurement runs N times and the best is kept: on a shared machine other
 * load only ever slows a run down. The 1-minute load average is printed with the figures, since a
 * busy machine hurts PyTorch's two threads far more than our one.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { useBackend, type BackendChoice } from '../lib/backend/index.js';
import { MNIST_FILES } from '../lib/data/mnist.js';
import { writeIdx } from '../lib/data/idx.js';
import { buildExperiment, fitExperiment, resolveConfig } from '../lib/experiment.js';
import { Rng } from '../lib/rng.js';
import type { Callback } from '../lib/training/callback.js';
import { findTorchPython, REFERENCE_HINT, runTorch, type TorchJob } from './torch_reference.js';
import { textTable } from '../lib/text_table.js';
import { commaList, positiveInt } from '../lib/cli/flags.js';
import { parseThreads } from '../lib/backend/threads.js';

const WIDTHS = [784, 256, 256, 10];
const IMAGE: [number, number, number] = [28, 28, 1];
const CNN = { channels: [16, 32], hidden: [64] };
const CLASSES = 10;
const BATCH = 128;
const LR = 0.01;
const N_TRAIN = 8192;
/** Train metrics (and so the loss readback and a batch accuracy) every this many steps, in both. */
const LOG_EVERY = 50;
const TORCH_THREADS = 2;
const MODELS = ['mlp', 'cnn'] as const;
type ModelName = (typeof MODELS)[number];

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const thisFile = fileURLToPath(import.meta.url);

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: MODELS.join(',') },
    steps: { type: 'string', default: '300' },
    'cpu-steps': { type: 'string', default: '20' },
    'cnn-steps': { type: 'string', default: '60' },
    'torch-steps': { type: 'string', default: '1000' },
    'torch-cnn-steps': { type: 'string', default: '200' },
    warmup: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '1' },
    backends: { type: 'string' },
    threads: { type: 'string' },
    'no-reference': { type: 'boolean', default: false },
    worker: { type: 'string' },
    model: { type: 'string', default: 'mlp' },
  },
});
const warmup = positiveInt('--warmup')(values.warmup);
const repeat = positiveInt('--repeat')(values.repeat);

interface Row {
  model: ModelName;
  backend: string;
  /** wasm: the threads it ran on. */
  threads?: number;
  steps_per_s: number;
  steps: number;
  /** The kernel's peak RSS of the process (getrusage ru_maxrss), the same measure for node and torch. */
  peak_rss_mb: number;
  /** Node only: the peak of process.memoryUsage().rss sampled every 10 steps while training. */
  sampled_rss_mb?: number;
  final_loss: number;
}

async function main(): Promise<void> {
  const models = commaList(values.models);
  for (const m of models) if (!(MODELS as readonly string[]).includes(m)) throw new Error(`--models: unknown model "${m}"; choose from ${MODELS.join(', ')}`);
  const backends = values.backends ? commaList(values.backends) : presentBackends();
  const loadBefore = os.loadavg()[0]!;
  const rows: Row[] = [];
  // Each wasm thread count asked for is its own row; other backends ignore the count.
  const threadCounts = values.threads ? commaList(values.threads).map((t) => parseThreads(t, '--threads')) : [undefined];
  const jobs = (models as ModelName[]).flatMap((model) =>
    backends
      // A cnn step on the cpu backend takes some 20 s (its convolutions are JS loops).
      .filter((backend) => !(model === 'cnn' && backend === 'cpu' && !values.backends))
      .flatMap((backend) => (backend === 'wasm' ? threadCounts.map((threads) => ({ model, backend, threads })) : [{ model, backend, threads: undefined }])),
  );
  for (const { model, backend, threads } of jobs) {
    const stepsFlag = model === 'cnn' ? 'cnn-steps' : backend === 'cpu' ? 'cpu-steps' : 'steps';
    const steps = positiveInt(`--${stepsFlag}`)(values[stepsFlag]);
    const runs: Row[] = [];
    const label = `${model} on ${threads ? `${backend} with ${threads} thread(s)` : backend}`;
    for (let r = 0; r < repeat; r++) {
      process.stderr.write(`${label}: ${warmup} warm-up + ${steps} timed steps${repeat > 1 ? ` (${r + 1}/${repeat})` : ''}...\n`);
      const child = spawnSync(process.execPath, [...process.execArgv, thisFile, '--worker', backend, '--model', model, '--steps', String(steps), '--warmup', String(warmup)], {
        cwd: repoRoot,
        encoding: 'utf8',
        maxBuffer: 16 * 2 ** 20,
        env: { ...process.env, ...(threads ? { DLPHYS_THREADS: String(threads) } : {}) },
      });
      const row = lastJson<Row>(child.stdout);
      if (child.status !== 0 || !row) {
        console.log(`${label}: failed (exit ${child.status}): ${(child.stderr || child.stdout).trim().split('\n').slice(-3).join(' | ')}`);
        process.exitCode = 1;
        break;
      }
      runs.push(row);
    }
    if (runs.length === repeat) rows.push(best(runs));
  }

  const references = new Map<ModelName, Row>();
  if (!values['no-reference']) {
    const python = findTorchPython();
    if (python) {
      for (const model of models as ModelName[]) {
        const stepsFlag = model === 'cnn' ? 'torch-cnn-steps' : 'torch-steps';
        const steps = positiveInt(`--${stepsFlag}`)(values[stepsFlag]);
        const runs: Row[] = [];
        for (let r = 0; r < repeat; r++) {
          process.stderr.write(`${model} on pytorch (${python}): ${warmup} warm-up + ${steps} timed steps${repeat > 1 ? ` (${r + 1}/${repeat})` : ''}...\n`);
          const row = torchReference(python, model, steps);
          if (!row) break;
          runs.push(row);
        }
        if (runs.length === repeat) references.set(model, best(runs));
      }
    } else {
      console.log(`reference skipped: no python3 with torch (${REFERENCE_HINT})`);
    }
  }

  const load = `load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0]!.toFixed(2)} after, ${os.cpus().length} cores`;
  console.log(`batch ${BATCH}, SGD lr ${LR}, softmax cross-entropy, random data; PyTorch on ${TORCH_THREADS} threads`);
  console.log(`${repeat > 1 ? `best of ${repeat} runs; ` : ''}${load}`);
  // One table per model, each ratio to PyTorch on the same model.
  for (const model of models as ModelName[]) {
    const reference = references.get(model);
    const table = [['backend x threads', 'steps/s', 'vs PyTorch', 'peak RSS', 'timed steps']];
    for (const row of [...rows.filter((r) => r.model === model), ...(reference ? [reference] : [])]) {
      const ratio = reference ? (row.steps_per_s / reference.steps_per_s).toFixed(3) : '-';
      table.push([row.threads ? `${row.backend} x${row.threads}` : row.backend, row.steps_per_s.toFixed(1), ratio, `${Math.round(row.peak_rss_mb)} MB`, String(row.steps)]);
    }
    console.log('');
    console.log(model === 'mlp' ? `MLP ${WIDTHS.join('-')}, relu` : `CNN on ${IMAGE.join('x')} images: conv3x3 channels ${CNN.channels.join(', ')} (relu, maxpool2), dense ${CNN.hidden.join(', ')}, ${CLASSES} classes`);
    for (const line of textTable(table, { right: table[0]!.map((_, c) => c > 0) })) console.log(line);
  }
  for (const row of rows) {
    const reference = references.get(row.model);
    console.log(
      JSON.stringify({
        bench: 'trainer',
        model: row.model,
        backend: row.backend,
        threads: row.threads ?? null,
        steps_per_s: round(row.steps_per_s, 2),
        ratio_to_torch: reference ? round(row.steps_per_s / reference.steps_per_s, 4) : null,
        torch_steps_per_s: reference ? round(reference.steps_per_s, 2) : null,
        peak_rss_mb: round(row.peak_rss_mb, 1),
        sampled_rss_mb: row.sampled_rss_mb === undefined ? null : round(row.sampled_rss_mb, 1),
        torch_peak_rss_mb: reference ? round(reference.peak_rss_mb, 1) : null,
        steps: row.steps,
        warmup,
        repeat,
        loadavg: round(loadBefore, 2),
      }),
    );
  }
}

/**
 * The native backends whose package resolves (as lib/backend/index.ts imports them, so a resolve hook
 * that stands in for one counts too), then wasm and cpu, which always ship.
 */
function presentBackends(): string[] {
  const native = (['node-gpu', 'node'] as const).filter((name) => {
    try {
      import.meta.resolve(name === 'node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node');
      return true;
    } catch {
      return false;
    }
  });
  return [...native, 'wasm', 'cpu'];
}

/** One model on one backend, in this (child) process: warm-up steps, then `steps` timed ones through the Trainer. */
async function worker(backend: Exclude<BackendChoice, 'auto'>, model: ModelName, steps: number): Promise<Row> {
  const info = await useBackend(backend);
  const total = warmup + steps;
  const dataDir = model === 'cnn' ? writeRandomMnist() : null;
  const config = resolveConfig(
    {
      name: 'bench-trainer',
      seed: 0,
      model: model === 'cnn' ? { name: 'cnn', kwargs: { ...CNN, activation: 'relu' } } : { name: 'mlp', kwargs: { widths: WIDTHS, activation: 'relu' } },
      init: { name: 'lecun' },
      optimizer: { name: 'sgd', kwargs: { lr: LR } },
      data: dataDir
        ? { name: 'mnist', kwargs: { root: dataDir } }
        : { name: 'synthetic', kwargs: { n_train: N_TRAIN, n_val: BATCH, dim: WIDTHS[0], classes: CLASSES } },
      train: { steps: total, batch_size: BATCH, log_every: LOG_EVERY, eval_every: 0 },
    },
    'bench',
  );
  try {
    const exp = buildExperiment(config, repoRoot);
    let sampledRss = process.memoryUsage.rss();
    let start = 0;
    let end = 0;
    const timer: Callback = {
      onStepEnd(ctx) {
        if (ctx.step % 10 === 0) sampledRss = Math.max(sampledRss, process.memoryUsage.rss());
        // Timed from the end of the last warm-up step to the end of the last step; the final
        // evaluation, which comes after it, is not part of a step.
        if (ctx.step === warmup) start = performance.now();
        if (ctx.step === total) end = performance.now();
      },
    };
    try {
      const result = await fitExperiment(exp, { runDir: null, extraCallbacks: [{ name: 'bench', callback: timer }] });
      if (result.status !== 'completed') throw new Error(`run ended ${result.status}: ${result.reason ?? ''}`);
      return {
        model,
        backend: info.name,
        ...(info.threads !== undefined ? { threads: info.threads } : {}),
        steps_per_s: (steps * 1000) / (end - start),
        steps,
        peak_rss_mb: process.resourceUsage().maxRSS / 1024,
        sampled_rss_mb: sampledRss / 2 ** 20,
        final_loss: result.final.loss ?? NaN,
      };
    } finally {
      exp.dispose();
    }
  } finally {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

/** N_TRAIN + BATCH random 28x28 images and labels as MNIST's four IDX files, in a new temporary folder. */
function writeRandomMnist(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlphys-bench-mnist-'));
  const rng = new Rng(0, 'bench-mnist');
  const pixels = IMAGE[0] * IMAGE[1] * IMAGE[2];
  for (const [images, labels, n] of [
    [MNIST_FILES.trainImages, MNIST_FILES.trainLabels, N_TRAIN],
    [MNIST_FILES.valImages, MNIST_FILES.valLabels, BATCH],
  ] as const) {
    writeIdx(path.join(dir, images), Uint8Array.from({ length: n * pixels }, () => rng.int(256)), [n, IMAGE[0], IMAGE[1]]);
    writeIdx(path.join(dir, labels), Uint8Array.from({ length: n }, () => rng.int(CLASSES)), [n]);
  }
  return dir;
}

function torchReference(python: string, model: ModelName, steps: number): Row | null {
  const job: TorchJob = { runs: 1, steps, warmup, batch: BATCH, n: N_TRAIN, lr: LR, logEvery: LOG_EVERY, threads: TORCH_THREADS, widths: WIDTHS };
  if (model === 'cnn') Object.assign(job, { widths: [IMAGE[0] * IMAGE[1] * IMAGE[2], CLASSES], cnn: { image: IMAGE, ...CNN } });
  const result = runTorch(python, job);
  if ('error' in result) {
    console.log(`${model} reference failed: ${result.error}`);
    return null;
  }
  return { model, backend: 'pytorch', steps_per_s: result.steps_per_s, steps, peak_rss_mb: result.peak_rss_mb, final_loss: result.final_loss };
}

/** The fastest run, with the highest peak RSS of all (memory is not what other load lowers). */
function best(runs: Row[]): Row {
  const fastest = runs.reduce((a, b) => (b.steps_per_s > a.steps_per_s ? b : a));
  return { ...fastest, peak_rss_mb: Math.max(...runs.map((r) => r.peak_rss_mb)) };
}

function lastJson<T>(text: string | null): T | null {
  const line = (text ?? '').trim().split('\n').at(-1);
  try {
    return line ? (JSON.parse(line) as T) : null;
  } catch {
    return null;
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// Last, so that every constant above is initialised before the top-level await runs.
if (values.worker !== undefined) {
  const row = await worker(values.worker as Exclude<BackendChoice, 'auto'>, values.model as ModelName, positiveInt('--steps')(values.steps));
  console.log(JSON.stringify(row));
} else {
  await main();
}
