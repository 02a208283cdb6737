import type * as tf from '@tensorflow/tfjs-core';
import { Registry } from '../registry.js';

/**
 * Updates parameters from their gradients. Learning rate comes in each step so a schedule can
 * drive it; `lr` in the kwargs is the base rate the schedule scales.
 */
export interface Optimizer {
  readonly lr: number;
  /** One update: grads[i] is the gradient of params[i]. Does not dispose `grads`. */
  apply(grads: readonly tf.Tensor[], lr: number): void;
  dispose(): void;
}

export interface OptimizerContext {
  params: readonly tf.Variable[];
}

export const optimizers = new Registry<Optimizer, OptimizerContext>('optimizer');

/** Scalar loss of a batch: mean over examples. `y` as in Split.y. */
export type LossFn = (output: tf.Tensor2D, y: tf.Tensor) => tf.Scalar;

export const losses = new Registry<LossFn>('loss');

/** Learning rate at `step` (0-based) of `totalSteps`, from the optimizer's base rate. */
export type Schedule = (step: number, totalSteps: number, baseLr: number) => number;

export const schedules = new Registry<Schedule>('schedule');
