import * as tf from '@tensorflow/tfjs-core';
import type { DataSplit } from '../data/dataset.js';
import type { Rng } from '../rng.js';

/**
 * Draws shuffled mini-batches without replacement, a fresh permutation each epoch. A batch is a
 * gather of the data already on the backend: nothing copies the whole split per epoch. Every
 * batch has the same size (the tail of an epoch that would make a short batch is dropped), so
 * each step does the same work and per-step figures are comparable.
 */
export class BatchSampler {
  readonly batchesPerEpoch: number;
  private order: Int32Array;
  private cursor = 0;

  constructor(
    private readonly split: DataSplit,
    private readonly batchSize: number,
    private readonly rng: Rng,
  ) {
    this.batchesPerEpoch = Math.max(1, Math.floor(split.size / batchSize));
    this.order = rng.permutation(split.size);
  }

  /** The next batch; the caller owns (and disposes) both tensors. */
  next(): { x: tf.Tensor; y: tf.Tensor } {
    if (this.cursor === this.batchesPerEpoch) {
      this.order = this.rng.permutation(this.split.size);
      this.cursor = 0;
    }
    const start = this.cursor * this.batchSize;
    this.cursor += 1;
    return tf.tidy(() => {
      const idx = tf.tensor1d(this.order.subarray(start, start + this.batchSize), 'int32');
      return { x: tf.gather(this.split.x, idx), y: tf.gather(this.split.y, idx) };
    });
  }
}
