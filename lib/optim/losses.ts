import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { losses } from './optimizer.js';

losses.register('cross_entropy', {
  description: 'Softmax cross-entropy of logits [b, C] against int32 labels [b], mean over the batch, as torch.nn.CrossEntropyLoss',
  kwargs: z.object({
    label_smoothing: z
      .number()
      .min(0)
      .max(1)
      .default(0)
      .describe('target = (1 - label_smoothing) * one_hot + label_smoothing / C, as in PyTorch'),
  }),
  build: ({ label_smoothing }) =>
    (output, y) => {
      checkLabels('cross_entropy', output, y, 'use the "mse" loss for regression targets');
      return tf.tidy(() => {
        // logSoftmax subtracts the row max, so large logits neither overflow nor lose the answer.
        const logp = tf.logSoftmax(output);
        const nll = tf.neg(tf.sum(tf.mul(logp, tf.oneHot(y, output.shape[1])), 1));
        if (label_smoothing === 0) return tf.mean(nll);
        const smooth = tf.neg(tf.mean(logp, 1));
        return tf.mean(tf.add(tf.mul(nll, 1 - label_smoothing), tf.mul(smooth, label_smoothing)));
      });
    },
});

losses.register('mse', {
  description:
    'Mean squared error over all elements, as torch.nn.MSELoss; int32 labels [b] are compared with their one-hot vectors (classification trained with squared loss)',
  kwargs: z.object({}),
  build: () => (output, y) => {
    if (y.dtype === 'int32' && y.rank === 1) {
      checkLabels('mse', output, y, '');
      return tf.tidy(() => tf.mean(tf.squaredDifference(output, tf.cast(tf.oneHot(y, output.shape[1]), output.dtype))));
    }
    if (!sameShape(output.shape, y.shape)) {
      throw new UsageError(
        `loss:mse: targets of shape [${y.shape}] do not match the model output [${output.shape}]; make the model's output size the dataset's output dimension`,
      );
    }
    return tf.tidy(() => tf.mean(tf.squaredDifference(output, y)));
  },
});

/** Fraction of examples whose arg-max logit is the label; for the trainer's classification metrics. */
export function accuracy(output: tf.Tensor2D, y: tf.Tensor): tf.Scalar {
  if (y.dtype !== 'int32' || y.rank !== 1) {
    throw new Error(`accuracy needs int32 labels of shape [batch], got ${y.dtype} [${y.shape}]`);
  }
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(output, 1), y), 'float32')));
}

function checkLabels(name: string, output: tf.Tensor2D, y: tf.Tensor, hint: string): void {
  if (y.dtype !== 'int32' || y.rank !== 1) {
    throw new UsageError(`loss:${name}: needs int32 class labels of shape [batch], got ${y.dtype} [${y.shape}]${hint ? `; ${hint}` : ''}`);
  }
  if (output.rank !== 2 || output.shape[0] !== y.shape[0]) {
    throw new Error(`loss:${name}: output [${output.shape}] and labels [${y.shape}] disagree on the batch size`);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
