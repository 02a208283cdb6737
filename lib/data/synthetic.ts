import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { Rng } from '../rng.js';
import { cachedArrays } from './cache.js';
import { datasets, type Dataset } from './dataset.js';

const kwargs = z.object({
  n_train: z.int().positive().default(4096).describe('training examples'),
  n_val: z.int().positive().default(1024).describe('validation examples'),
  dim: z.int().positive().default(32).describe('input dimension'),
  shape: z
    .array(z.int().positive())
    .min(1)
    .optional()
    .describe('shape of one example, e.g. [8, 8, 1] for image models (its product must equal dim; default [dim])'),
  classes: z.int().min(2).default(4).describe('number of classes'),
  noise: z.number().nonnegative().default(1.0).describe('std of the isotropic Gaussian around each centre'),
  separation: z.number().nonnegative().default(3.0).describe('norm of each cluster centre'),
  clusters_per_class: z
    .int()
    .positive()
    .default(1)
    .describe('centres per class; > 1 makes the classes not linearly separable'),
  seed: z.int().nonnegative().optional().describe('data seed (default: the run seed); set it to keep the data fixed across a sweep over seeds'),
});

type Kwargs = z.output<typeof kwargs>;

datasets.register('synthetic', {
  description: 'Gaussian-mixture classification: each class is a mixture of isotropic Gaussians around random centres',
  kwargs,
  build: (k, ctx) => {
    const size = k.shape?.reduce((a, b) => a * b, 1);
    if (size !== undefined && size !== k.dim) {
      throw new UsageError(`shape [${k.shape!.join(', ')}] holds ${size} values but dim is ${k.dim}; set data.kwargs.dim to ${size}`);
    }
    return buildSynthetic(k, k.seed ?? ctx.seed);
  },
});

function buildSynthetic(k: Kwargs, seed: number): Dataset {
  // The key names the generator's version: bump it whenever the drawn values would change.
  const drawn = cachedArrays({ dataset: 'synthetic', version: 1, kwargs: { ...k, shape: undefined, seed } }, () => {
    const centres = drawCentres(k, new Rng(seed, 'synthetic:centres'));
    // Separate streams per split, so changing n_train leaves the validation set as it was.
    const train = drawSplit(k, centres, k.n_train, new Rng(seed, 'synthetic:train'));
    const val = drawSplit(k, centres, k.n_val, new Rng(seed, 'synthetic:val'));
    return { trainX: train.x, trainY: train.y, valX: val.x, valY: val.y };
  });
  // The draws depend on dim alone; shape only lays each example out (as an image, say).
  const shape = k.shape ?? [k.dim];
  const splits = {
    train: { x: tf.tensor(drawn.trainX, [k.n_train, ...shape]), y: tf.tensor1d(drawn.trainY, 'int32'), size: k.n_train },
    val: { x: tf.tensor(drawn.valX, [k.n_val, ...shape]), y: tf.tensor1d(drawn.valY, 'int32'), size: k.n_val },
  };
  return {
    task: 'classification',
    inputShape: shape,
    outputDim: k.classes,
    ...splits,
    dispose() {
      tf.dispose([splits.train.x, splits.train.y, splits.val.x, splits.val.y]);
    },
  };
}

/**
 * Centres [classes * clusters_per_class, dim], class c's clusters at rows c*m .. c*m+m-1.
 *
 * Independent random centres would not deliver "not linearly separable": with classes*m <= dim
 * they are linearly independent, so a linear map can send each to its class. Instead a class's m
 * directions are centred before scaling to norm `separation`; positive rescaling keeps the origin
 * inside their convex hull, so every class's convex hull contains the origin and no linear
 * classifier (whose decision regions are convex) can separate the classes.
 */
function drawCentres(k: Kwargs, rng: Rng): Float32Array {
  const m = k.clusters_per_class;
  const out = new Float32Array(k.classes * m * k.dim);
  const dirs = new Float64Array(m * k.dim);
  for (let c = 0; c < k.classes; c++) {
    for (let i = 0; i < dirs.length; i++) dirs[i] = rng.normal();
    if (m > 1) {
      for (let d = 0; d < k.dim; d++) {
        let mean = 0;
        for (let j = 0; j < m; j++) mean += dirs[j * k.dim + d]!;
        mean /= m;
        for (let j = 0; j < m; j++) dirs[j * k.dim + d]! -= mean;
      }
    }
    for (let j = 0; j < m; j++) {
      let norm = 0;
      for (let d = 0; d < k.dim; d++) norm += dirs[j * k.dim + d]! ** 2;
      // A zero direction has probability zero, but a degenerate one must not become NaN.
      const scale = norm > 0 ? k.separation / Math.sqrt(norm) : 0;
      const row = (c * m + j) * k.dim;
      for (let d = 0; d < k.dim; d++) out[row + d] = dirs[j * k.dim + d]! * scale;
    }
  }
  return out;
}

function drawSplit(k: Kwargs, centres: Float32Array, n: number, rng: Rng): { x: Float32Array; y: Int32Array } {
  const m = k.clusters_per_class;
  // Balanced over classes (and over clusters within a class), in random order.
  const order = rng.permutation(n);
  const x = new Float32Array(n * k.dim);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const slot = order[i]!;
    const label = slot % k.classes;
    const cluster = Math.floor(slot / k.classes) % m;
    y[i] = label;
    const centre = (label * m + cluster) * k.dim;
    for (let d = 0; d < k.dim; d++) x[i * k.dim + d] = centres[centre + d]! + k.noise * rng.normal();
  }
  return { x, y };
}
