import type * as tf from '@tensorflow/tfjs-core';
import { Registry } from '../registry.js';

/** One split of a dataset (train or val), its tensors on the backend. */
export interface DataSplit {
  /** Inputs, [n, ...inputShape], float32. */
  readonly x: tf.Tensor;
  /** classification: int32 labels [n]; regression: float32 targets [n, outputDim]. */
  readonly y: tf.Tensor;
  readonly size: number;
}

/** A dataset held on the backend, so a batch is a gather, never a copy of the whole set. */
export interface Dataset {
  readonly task: 'classification' | 'regression';
  /** Shape of one example, e.g. [32] or [28, 28, 1]. */
  readonly inputShape: readonly number[];
  /** Number of classes (classification) or of regression outputs. */
  readonly outputDim: number;
  readonly train: DataSplit;
  readonly val: DataSplit;
  dispose(): void;
}

export interface DataContext {
  /** The run's seed; a dataset uses its own `seed` kwarg when it has one, so data can stay fixed across a sweep over seeds. */
  seed: number;
}

export const datasets = new Registry<Dataset, DataContext>('data');
