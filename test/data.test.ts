import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../lib/backend/index.js';
import { UsageError } from '../lib/errors.js';
import { resolveConfigPaths } from '../lib/config_paths.js';
import { datasets, readIdx, writeIdx, type Dataset } from '../lib/data/index.js';
import { buildTeacher, erf, TEACHER_ACTIVATIONS } from '../lib/data/teacher_student.js';

const TRAIN_N = 20;
const TEST_N = 10;
const SIDE = 28;
let tmp: string;

before(async () => {
  await useBackend('cpu');
  tmp = mkdtempSync(path.join(tmpdir(), 'dlphys-data-'));
  writeMnist(path.join(tmp, 'plain'), '');
  writeMnist(path.join(tmp, 'gz'), '.gz');
});

after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Pixel p of image i; distinct per image so a mix-up of images or of offsets shows. */
const pixel = (i: number, p: number) => (i * 37 + p * 3) % 256;
const label = (i: number) => (i * 3) % 10;

function images(n: number): Uint8Array {
  const data = new Uint8Array(n * SIDE * SIDE);
  for (let i = 0; i < n; i++) for (let p = 0; p < SIDE * SIDE; p++) data[i * SIDE * SIDE + p] = pixel(i, p);
  return data;
}

function labels(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => label(i));
}

function writeMnist(dir: string, ext: string, counts = { train: TRAIN_N, test: TEST_N, trainLabels: TRAIN_N }): void {
  mkdirSync(dir, { recursive: true });
  writeIdx(path.join(dir, `train-images-idx3-ubyte${ext}`), images(counts.train), [counts.train, SIDE, SIDE]);
  writeIdx(path.join(dir, `train-labels-idx1-ubyte${ext}`), labels(counts.trainLabels), [counts.trainLabels]);
  writeIdx(path.join(dir, `t10k-images-idx3-ubyte${ext}`), images(counts.test), [counts.test, SIDE, SIDE]);
  writeIdx(path.join(dir, `t10k-labels-idx1-ubyte${ext}`), labels(counts.test), [counts.test]);
}

function build(name: string, kwargs: Record<string, unknown> = {}, seed = 0): Dataset {
  // As a config written in `tmp` would be: its relative paths resolve against that folder.
  const { data } = resolveConfigPaths({ data: { name, kwargs } }, tmp);
  return datasets.build(data, { seed });
}

/** Builds, hands the dataset to `fn`, and frees it whatever happens. */
function withData<T>(name: string, kwargs: Record<string, unknown>, fn: (ds: Dataset) => T, seed = 0): T {
  const ds = build(name, kwargs, seed);
  try {
    return fn(ds);
  } finally {
    ds.dispose();
  }
}

function sameTensor(a: tf.Tensor, b: tf.Tensor): boolean {
  const [x, y] = [a.dataSync(), b.dataSync()];
  return a.dtype === b.dtype && x.length === y.length && x.every((v, i) => v === y[i]);
}

function usageErrorMentioning(...parts: string[]) {
  return (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    for (const part of parts) assert.ok(err.message.includes(part), `"${err.message}" should mention "${part}"`);
    return true;
  };
}

const small = { n_train: 64, n_val: 32 };

// --- synthetic ---------------------------------------------------------------------------------

test('synthetic builds float32 inputs and int32 labels of the requested shapes', () => {
  withData('synthetic', { ...small, dim: 8, classes: 3 }, (ds) => {
    assert.equal(ds.task, 'classification');
    assert.deepEqual(ds.inputShape, [8]);
    assert.equal(ds.outputDim, 3);
    assert.deepEqual([ds.train.x.shape, ds.train.x.dtype, ds.train.y.shape, ds.train.y.dtype], [[64, 8], 'float32', [64], 'int32']);
    assert.deepEqual([ds.val.x.shape, ds.val.y.shape, ds.train.size, ds.val.size], [[32, 8], [32], 64, 32]);
  });
});

test('synthetic with a shape lays the same draws out as images, and a shape that does not hold dim is refused', () => {
  withData('synthetic', { n_train: 10, n_val: 5, dim: 12, seed: 3 }, (flat) =>
    withData('synthetic', { n_train: 10, n_val: 5, dim: 12, shape: [2, 3, 2], seed: 3 }, (image) => {
      assert.deepEqual([image.inputShape, image.train.x.shape, image.val.x.shape], [[2, 3, 2], [10, 2, 3, 2], [5, 2, 3, 2]]);
      assert.deepEqual(image.train.x.dataSync(), flat.train.x.dataSync());
      assert.deepEqual(image.val.y.dataSync(), flat.val.y.dataSync());
    }),
  );
  assert.throws(() => build('synthetic', { dim: 32, shape: [8, 8, 1] }), usageErrorMentioning('[8, 8, 1]', 'set data.kwargs.dim to 64'));
});

test('synthetic defaults give 4096 train and 1024 val examples of dimension 32 in 4 classes', () => {
  withData('synthetic', {}, (ds) => {
    assert.deepEqual([ds.train.x.shape, ds.val.x.shape, ds.outputDim], [[4096, 32], [1024, 32], 4]);
  });
});

test('synthetic gives identical tensors for the same seed and different ones for another seed', () => {
  const [a, b, c] = [build('synthetic', { ...small, seed: 5 }), build('synthetic', { ...small, seed: 5 }), build('synthetic', { ...small, seed: 6 })];
  try {
    assert.ok(sameTensor(a.train.x, b.train.x) && sameTensor(a.train.y, b.train.y) && sameTensor(a.val.x, b.val.x));
    assert.ok(!sameTensor(a.train.x, c.train.x));
    assert.ok(!sameTensor(a.val.x, c.val.x));
  } finally {
    [a, b, c].forEach((d) => d.dispose());
  }
});

test('synthetic falls back to the run seed when no seed kwarg is given', () => {
  const [kw, run0, run1] = [build('synthetic', { ...small, seed: 3 }, 0), build('synthetic', small, 3), build('synthetic', small, 4)];
  try {
    assert.ok(sameTensor(kw.train.x, run0.train.x));
    assert.ok(!sameTensor(run0.train.x, run1.train.x));
  } finally {
    [kw, run0, run1].forEach((d) => d.dispose());
  }
});

test('synthetic draws train and val from different samples of the same mixture', () => {
  withData('synthetic', { n_train: 2000, n_val: 2000 }, (ds) => {
    assert.ok(!sameTensor(ds.train.x, ds.val.x));
    // Same centres: the class means of the two splits agree up to sampling noise (~0.4 here),
    // far closer than two classes' centres (~3 * sqrt 2).
    const [mt, mv] = [classMeans(ds.train, 32, 4), classMeans(ds.val, 32, 4)];
    for (let c = 0; c < 4; c++) assert.ok(distance(mt[c]!, mv[c]!) < 1, `class ${c} means differ between splits`);
  });
});

test('synthetic labels cover every class, balanced, in both splits', () => {
  withData('synthetic', { n_train: 70, n_val: 35, classes: 7 }, (ds) => {
    for (const split of [ds.train, ds.val]) {
      const counts = new Array(7).fill(0);
      for (const v of split.y.dataSync()) counts[v]++;
      assert.deepEqual(counts, new Array(7).fill(split.size / 7));
    }
  });
});

test('synthetic defaults are learnable but not trivially separable', () => {
  // Nearest class mean is a near-Bayes rule for one isotropic Gaussian per class: well above
  // chance (0.25), and the overlap of the Gaussians keeps it short of perfect.
  withData('synthetic', {}, (ds) => {
    const means = classMeans(ds.train, 32, 4);
    const x = ds.val.x.dataSync();
    const y = ds.val.y.dataSync();
    let right = 0;
    for (let i = 0; i < ds.val.size; i++) {
      const row = x.subarray(i * 32, (i + 1) * 32);
      const dists = means.map((m) => distance(m, row));
      if (dists.indexOf(Math.min(...dists)) === y[i]) right++;
    }
    const acc = right / ds.val.size;
    assert.ok(acc > 0.8 && acc < 0.99, `nearest-mean val accuracy ${acc}`);
  });
});

test('synthetic with several clusters per class puts every class mean at the origin', () => {
  // That is what makes it not linearly separable: each class's convex hull contains the origin.
  for (const [m, lo, hi] of [[1, 2.5, Infinity], [2, 0, 0.6], [3, 0, 0.6]] as const) {
    withData('synthetic', { n_train: 4096, n_val: 8, clusters_per_class: m }, (ds) => {
      for (const mean of classMeans(ds.train, 32, 4)) {
        const norm = Math.hypot(...mean);
        assert.ok(norm >= lo && norm < hi, `clusters_per_class ${m}: class mean norm ${norm}`);
      }
    });
  }
});

function classMeans(split: Dataset['train'], dim: number, classes: number): number[][] {
  const x = split.x.dataSync();
  const y = split.y.dataSync();
  const sums = Array.from({ length: classes }, () => new Array<number>(dim).fill(0));
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < split.size; i++) {
    counts[y[i]!]!++;
    for (let d = 0; d < dim; d++) sums[y[i]!]![d]! += x[i * dim + d]!;
  }
  return sums.map((s, c) => s.map((v) => v / counts[c]!));
}

function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

// --- teacher_student ---------------------------------------------------------------------------

test('teacher_student builds float32 regression targets of shape [n, out_dim]', () => {
  withData('teacher_student', { ...small, dim: 6, out_dim: 3, teacher_widths: [5, 4] }, (ds) => {
    assert.equal(ds.task, 'regression');
    assert.deepEqual(ds.inputShape, [6]);
    assert.equal(ds.outputDim, 3);
    assert.deepEqual([ds.train.x.shape, ds.train.x.dtype, ds.train.y.shape, ds.train.y.dtype], [[64, 6], 'float32', [64, 3], 'float32']);
    assert.deepEqual([ds.val.x.shape, ds.val.y.shape], [[32, 6], [32, 3]]);
  });
});

test('teacher_student gives identical tensors for the same seed and different ones for another seed', () => {
  const kw = { ...small, noise: 0.1 };
  const [a, b, c] = [build('teacher_student', { ...kw, seed: 1 }), build('teacher_student', { ...kw, seed: 1 }), build('teacher_student', { ...kw, seed: 2 })];
  try {
    assert.ok(sameTensor(a.train.x, b.train.x) && sameTensor(a.train.y, b.train.y) && sameTensor(a.val.y, b.val.y));
    assert.ok(!sameTensor(a.train.x, c.train.x));
    assert.ok(!sameTensor(a.train.y, c.train.y));
  } finally {
    [a, b, c].forEach((d) => d.dispose());
  }
});

test('teacher_student with noise 0 gives y = teacher(x) for every activation', () => {
  for (const activation of TEACHER_ACTIVATIONS) {
    const spec = { dim: 5, widths: [7, 3], outDim: 2, activation };
    withData('teacher_student', { ...small, dim: 5, teacher_widths: [7, 3], out_dim: 2, activation, seed: 9 }, (ds) => {
      const teacher = buildTeacher(spec, 9);
      for (const split of [ds.train, ds.val]) {
        const expected = teacher.apply(split.x.dataSync() as Float32Array, split.size);
        assert.deepEqual(split.y.dataSync(), expected, activation);
      }
    });
  }
});

test('teacher_student teacher is a function of x: equal inputs give equal outputs', () => {
  const teacher = buildTeacher({ dim: 4, widths: [16], outDim: 2, activation: 'tanh' }, 0);
  const row = [0.3, -1.2, 2.0, 0.5];
  const out = teacher.apply(Float32Array.from([...row, ...row, 0, 0, 0, 0]), 3);
  assert.deepEqual(out.subarray(0, 2), out.subarray(2, 4));
  assert.deepEqual(out.subarray(4, 6), new Float32Array(2)); // no biases: teacher(0) = 0
  assert.notDeepEqual(out.subarray(0, 2), new Float32Array(2));
});

test('teacher_student noise changes y but leaves x as it was', () => {
  const quiet = build('teacher_student', { n_train: 2000, n_val: 8, noise: 0 });
  const noisy = build('teacher_student', { n_train: 2000, n_val: 8, noise: 0.5 });
  try {
    assert.ok(sameTensor(quiet.train.x, noisy.train.x));
    assert.ok(!sameTensor(quiet.train.y, noisy.train.y));
    const residual = tf.tidy(() => tf.moments(tf.sub(noisy.train.y, quiet.train.y)));
    const [mean, variance] = [residual.mean.dataSync()[0]!, residual.variance.dataSync()[0]!];
    tf.dispose([residual.mean, residual.variance]);
    assert.ok(Math.abs(mean) < 0.05 && Math.abs(Math.sqrt(variance) - 0.5) < 0.05, `noise mean ${mean}, std ${Math.sqrt(variance)}`);
  } finally {
    quiet.dispose();
    noisy.dispose();
  }
});

test('teacher_student erf matches known values to float32 precision', () => {
  for (const [v, want] of [[0, 0], [0.5, 0.5204998778], [1, 0.8427007929], [-2, -0.995322265]] as const) {
    assert.ok(Math.abs(erf(v) - want) < 2e-7, `erf(${v}) = ${erf(v)}`);
  }
});

// --- idx and mnist -----------------------------------------------------------------------------

test('writeIdx then readIdx round-trips data and dims, plain and gzipped', () => {
  const data = Uint8Array.from({ length: 24 }, (_, i) => i * 10);
  for (const name of ['a-idx3-ubyte', 'a-idx3-ubyte.gz']) {
    const file = path.join(tmp, name);
    writeIdx(file, data, [2, 3, 4]);
    assert.deepEqual(readIdx(file, 3), { dims: [2, 3, 4], data });
  }
});

test('readIdx rejects a truncated file, naming it', () => {
  const file = path.join(tmp, 'short-idx1-ubyte');
  writeIdx(file, new Uint8Array(10), [10]);
  writeFileSync(file, readFileSync(file).subarray(0, 4 + 4 + 6));
  assert.throws(() => readIdx(file, 1), usageErrorMentioning(file, 'truncated'));
});

test('mnist reads IDX files into [n, 28, 28, 1] float32 images in [0, 1] and int32 labels', () => {
  withData('mnist', { root: path.join(tmp, 'plain') }, (ds) => {
    assert.equal(ds.task, 'classification');
    assert.deepEqual(ds.inputShape, [28, 28, 1]);
    assert.equal(ds.outputDim, 10);
    assert.deepEqual([ds.train.x.shape, ds.train.x.dtype, ds.train.y.shape, ds.train.y.dtype], [[TRAIN_N, 28, 28, 1], 'float32', [TRAIN_N], 'int32']);
    assert.deepEqual([ds.val.x.shape, ds.val.y.shape, ds.train.size, ds.val.size], [[TEST_N, 28, 28, 1], [TEST_N], TRAIN_N, TEST_N]);
    const x = ds.train.x.dataSync();
    assert.ok(x.every((v) => v >= 0 && v <= 1));
    for (const [i, p] of [[0, 0], [3, 100], [19, 783]]) assert.equal(x[i * 784 + p], Math.fround(pixel(i, p) / 255));
    assert.deepEqual([...ds.train.y.dataSync()], Array.from({ length: TRAIN_N }, (_, i) => label(i)));
    assert.deepEqual([...ds.val.y.dataSync()], Array.from({ length: TEST_N }, (_, i) => label(i)));
  });
});

test('mnist reads gzipped files the same as plain ones', () => {
  withData('mnist', { root: path.join(tmp, 'plain') }, (plain) =>
    withData('mnist', { root: path.join(tmp, 'gz') }, (gz) => {
      for (const key of ['train', 'val'] as const) {
        assert.ok(sameTensor(plain[key].x, gz[key].x) && sameTensor(plain[key].y, gz[key].y), key);
      }
    }),
  );
});

test('mnist resolves a relative root against the config directory', () => {
  withData('mnist', { root: 'gz' }, (ds) => assert.equal(ds.train.size, TRAIN_N));
});

test('mnist takes the first n_train and n_val examples and can keep raw 0..255 pixels', () => {
  withData('mnist', { root: 'plain', n_train: 5, n_val: 3, normalize: false }, (ds) => {
    assert.deepEqual([ds.train.x.shape[0], ds.val.x.shape[0], ds.train.size, ds.val.size], [5, 3, 5, 3]);
    assert.equal(ds.train.x.dataSync()[4 * 784 + 10], pixel(4, 10));
    assert.deepEqual([...ds.val.y.dataSync()], [0, 1, 2].map(label));
  });
});

test('mnist without a root reads the real MNIST that every install has (60k train, 10k val)', () => {
  withData('mnist', { n_train: 1000, n_val: 1000 }, (ds) => {
    assert.deepEqual([ds.inputShape, ds.train.size, ds.val.size], [[28, 28, 1], 1000, 1000]);
    // The published files: the first training digits are 5, 0, 4, 1, 9 and the first test digits 7, 2, 1, 0, 4.
    assert.deepEqual([...ds.train.y.dataSync().slice(0, 5)], [5, 0, 4, 1, 9]);
    assert.deepEqual([...ds.val.y.dataSync().slice(0, 5)], [7, 2, 1, 0, 4]);
    const counts = new Array(10).fill(0);
    for (const y of ds.train.y.dataSync()) counts[y]++;
    assert.ok(counts.every((c) => c > 60), `every digit appears: ${counts}`);
  });
});

test('mnist asking for more examples than the file holds is a UsageError', () => {
  assert.throws(() => build('mnist', { root: 'plain', n_train: 21 }), usageErrorMentioning('train-images-idx3-ubyte', '21'));
});

test('mnist rejects a seed kwarg, since it draws nothing', () => {
  assert.throws(() => build('mnist', { root: 'plain', seed: 1 }), usageErrorMentioning('seed'));
});

test('mnist with a missing root names the directory and the expected files', () => {
  const root = path.join(tmp, 'nowhere');
  assert.throws(() => build('mnist', { root }), usageErrorMentioning(root, 'train-images-idx3-ubyte', 't10k-labels-idx1-ubyte'));
});

test('mnist with a missing file names that file and the directory', () => {
  const dir = path.join(tmp, 'missing');
  writeMnist(dir, '');
  rmSync(path.join(dir, 't10k-labels-idx1-ubyte'));
  assert.throws(() => build('mnist', { root: dir }), usageErrorMentioning('missing t10k-labels-idx1-ubyte', dir));
});

test('mnist with a bad magic number names the file', () => {
  const dir = path.join(tmp, 'badmagic');
  writeMnist(dir, '');
  // A labels file where the images should be: a valid IDX file, but 1-D.
  const file = path.join(dir, 't10k-images-idx3-ubyte');
  writeIdx(file, labels(TEST_N), [TEST_N]);
  assert.throws(() => build('mnist', { root: dir }), usageErrorMentioning(file, 'magic 0x00000801', '0x00000803'));
  writeFileSync(file, 'not an idx file at all');
  assert.throws(() => build('mnist', { root: dir }), usageErrorMentioning(file, 'magic'));
});

test('mnist with different image and label counts names both files', () => {
  const dir = path.join(tmp, 'mismatch');
  writeMnist(dir, '.gz', { train: TRAIN_N, trainLabels: TRAIN_N - 1, test: TEST_N });
  assert.throws(
    () => build('mnist', { root: dir }),
    usageErrorMentioning('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', `${TRAIN_N - 1} labels`),
  );
});

test('a failed mnist build leaves no tensors behind', () => {
  const dir = path.join(tmp, 'late-failure');
  writeMnist(dir, '');
  writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), 'garbage');
  const before = tf.memory().numTensors;
  assert.throws(() => build('mnist', { root: dir }), UsageError);
  assert.equal(tf.memory().numTensors, before);
});

// --- all ---------------------------------------------------------------------------------------

test('dispose frees every tensor a dataset created', () => {
  for (const [name, kwargs] of [
    ['synthetic', small],
    ['teacher_student', small],
    ['mnist', { root: 'plain' }],
  ] as const) {
    const start = tf.memory().numTensors;
    const ds = build(name, kwargs);
    assert.equal(tf.memory().numTensors, start + 4, name);
    ds.dispose();
    assert.equal(tf.memory().numTensors, start, name);
  }
});
