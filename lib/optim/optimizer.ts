import * as tf from '@tensorflow/tfjs-core';
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

/**
 * The numbers an update multiplies by (learning rate, momentum, betas), as device scalars made on
 * first use and kept until dispose: `tf.mul(g, 0.01)` would upload a new scalar for every
 * parameter at every step. One slot per role, replaced only when its value changes (a schedule).
 */
export class ScalarSlots {
  private readonly slots = new Map<string, { value: number; tensor: tf.Scalar }>();

  get(role: string, value: number): tf.Scalar {
    const slot = this.slots.get(role);
    if (slot && Object.is(slot.value, value)) return slot.tensor;
    slot?.tensor.dispose();
    // Kept: it is usually first asked for inside the update's tidy, and must outlive it.
    const tensor = tf.keep(tf.scalar(value));
    this.slots.set(role, { value, tensor });
    return tensor;
  }

  dispose(): void {
    for (const { tensor } of this.slots.values()) tensor.dispose();
    this.slots.clear();
  }
}

/** Scalar loss of a batch: mean over examples. `y` as in DataSplit.y. */
export type LossFn = (output: tf.Tensor2D, y: tf.Tensor) => tf.Scalar;

export const losses = new Registry<LossFn>('loss');

/** Learning rate at `step` (0-based) of `totalSteps`, from the optimizer's base rate. */
export type Schedule = (step: number, totalSteps: number, baseLr: number) => number;

export const schedules = new Registry<Schedule>('schedule');
