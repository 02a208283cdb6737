import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../data/dataset.js';
import { Rng } from '../rng.js';

/** The fixed inputs a probe measures the network on, kept on the backend until disposed. */
export interface ProbeBatch {
  /** [n, ...inputShape] */
  readonly x: tf.Tensor;
  /** Labels or targets of the same examples, as DataSplit.y. */
  readonly y: tf.Tensor;
  /** Which training examples they are, in order. */
  readonly indices: readonly number[];
  dispose(): void;
}

/**
 * The indices of n distinct training examples, drawn with the run's seed from a stream of their
 * own: every probe of a run (and `dlphys theory` for its config) sees the same inputs, and the
 * draw does not shift the shuffling or the init. n is capped at the split's size.
 */
export function probeIndices(trainSize: number, n: number, seed: number): number[] {
  const perm = new Rng(seed, 'probe').permutation(trainSize);
  return Array.from(perm.subarray(0, Math.min(n, trainSize)));
}

/** Gathers the probe examples of `data`'s training split (see probeIndices). */
export function drawProbeBatch(data: Dataset, n: number, seed: number): ProbeBatch {
  const indices = probeIndices(data.train.size, n, seed);
  const idx = tf.tensor1d(indices, 'int32');
  const x = tf.keep(tf.gather(data.train.x, idx));
  const y = tf.keep(tf.gather(data.train.y, idx));
  idx.dispose();
  return { x, y, indices, dispose: () => tf.dispose([x, y]) };
}
