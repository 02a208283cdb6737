import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Rng } from '../rng.js';
import { cachedArrays } from './cache.js';
import { datasets, type Dataset } from './dataset.js';

export const TEACHER_ACTIVATIONS = ['relu', 'tanh', 'erf', 'linear'] as const;
export type TeacherActivation = (typeof TEACHER_ACTIVATIONS)[number];

const kwargs = z.object({
  n_train: z.int().positive().default(4096).describe('training examples'),
  n_val: z.int().positive().default(1024).describe('validation examples'),
  dim: z.int().positive().default(32).describe('input dimension; x ~ N(0, I_dim)'),
  teacher_widths: z.array(z.int().positive()).default([64]).describe('hidden widths of the teacher MLP ([] = linear teacher)'),
  out_dim: z.int().positive().default(1).describe('number of regression outputs'),
  activation: z.enum(TEACHER_ACTIVATIONS).default('tanh').describe('teacher nonlinearity (erf is erf(x), not erf(x/sqrt 2))'),
  noise: z.number().nonnegative().default(0).describe('std of Gaussian noise added to the targets'),
  seed: z.int().nonnegative().optional().describe('data seed (default: the run seed); set it to keep teacher and data fixed across a sweep over seeds'),
});

datasets.register('teacher_student', {
  description: 'regression on a random teacher MLP: x ~ N(0, I), y = teacher(x) + noise, weights N(0, 1/fan_in), no biases',
  kwargs,
  build: (k, ctx) => {
    const seed = k.seed ?? ctx.seed;
    const teacher = buildTeacher({ dim: k.dim, widths: k.teacher_widths, outDim: k.out_dim, activation: k.activation }, seed);
    const draw = (split: 'train' | 'val', n: number) => {
      // x and noise come from separate streams, so changing `noise` leaves x (and teacher(x)) as it was.
      const x = new Rng(seed, `teacher_student:${split}-x`).normalArray(n * k.dim);
      const y = teacher.apply(x, n);
      if (k.noise > 0) {
        const rng = new Rng(seed, `teacher_student:${split}-noise`);
        for (let i = 0; i < y.length; i++) y[i] = y[i]! + k.noise * rng.normal();
      }
      return { x, y };
    };
    // The key names the generator's version: bump it whenever the drawn values would change.
    const drawn = cachedArrays({ dataset: 'teacher_student', version: 1, kwargs: { ...k, seed } }, () => {
      const [tr, va] = [draw('train', k.n_train), draw('val', k.n_val)];
      return { trainX: tr.x, trainY: tr.y, valX: va.x, valY: va.y };
    });
    const train = { x: tf.tensor2d(drawn.trainX, [k.n_train, k.dim]), y: tf.tensor2d(drawn.trainY, [k.n_train, k.out_dim]), size: k.n_train };
    const val = { x: tf.tensor2d(drawn.valX, [k.n_val, k.dim]), y: tf.tensor2d(drawn.valY, [k.n_val, k.out_dim]), size: k.n_val };
    return {
      task: 'regression',
      inputShape: [k.dim],
      outputDim: k.out_dim,
      train,
      val,
      dispose() {
        tf.dispose([train.x, train.y, val.x, val.y]);
      },
    };
  },
});

export interface TeacherSpec {
  dim: number;
  widths: readonly number[];
  outDim: number;
  activation: TeacherActivation;
}

export interface Teacher {
  /** Weight matrices [fanIn, fanOut], row-major, input layer first. */
  readonly weights: readonly Float32Array[];
  /** teacher(x) for x = n rows of `dim` values; returns n rows of `outDim` values. */
  apply(x: Float32Array, n: number): Float32Array;
}

/**
 * The teacher the `teacher_student` dataset uses for this spec and seed. Evaluated on the host
 * in float64 so the targets do not depend on the backend's matmul.
 */
export function buildTeacher(spec: TeacherSpec, seed: number): Teacher {
  const rng = new Rng(seed, 'teacher_student:teacher');
  const sizes = [spec.dim, ...spec.widths, spec.outDim];
  const weights = sizes.slice(1).map((fanOut, l) => {
    const fanIn = sizes[l]!;
    return rng.normalArray(fanIn * fanOut, 0, 1 / Math.sqrt(fanIn));
  });
  const act = ACTIVATIONS[spec.activation];
  return {
    weights,
    apply(x, n) {
      if (x.length !== n * spec.dim) throw new Error(`teacher: expected ${n}x${spec.dim} inputs, got ${x.length} values`);
      let h: Float64Array = Float64Array.from(x);
      for (let l = 0; l < weights.length; l++) {
        const w = weights[l]!;
        const fanIn = sizes[l]!;
        const fanOut = sizes[l + 1]!;
        const out = new Float64Array(n * fanOut);
        for (let i = 0; i < n; i++) {
          for (let a = 0; a < fanIn; a++) {
            const v = h[i * fanIn + a]!;
            if (v === 0) continue;
            const wRow = a * fanOut;
            const oRow = i * fanOut;
            for (let b = 0; b < fanOut; b++) out[oRow + b]! += v * w[wRow + b]!;
          }
        }
        // The output layer is linear: the teacher is a regression function, not a classifier.
        if (l < weights.length - 1) for (let j = 0; j < out.length; j++) out[j] = act(out[j]!);
        h = out;
      }
      return Float32Array.from(h);
    },
  };
}

const ACTIVATIONS: Record<TeacherActivation, (v: number) => number> = {
  relu: (v) => (v > 0 ? v : 0),
  tanh: Math.tanh,
  erf,
  linear: (v) => v,
};

/**
 * Math has no erf. Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32 resolution of
 * the stored targets), the same approximation tfjs's erf kernels use.
 */
export function erf(v: number): number {
  const sign = v < 0 ? -1 : 1;
  const a = Math.abs(v);
  const t = 1 / (1 + 0.3275911 * a);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign * (1 - poly * Math.exp(-a * a));
}
