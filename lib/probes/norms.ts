import * as tf from '@tensorflow/tfjs-core';
import { readScalars } from '../training/read_scalars.js';

/**
 * ‖t‖_F, the square root of the sum of squares over all entries, as a scalar tensor. Not tf.norm:
 * that goes through pow(|t|, 2), whose wasm kernel makes it about 8x slower than square (2.5 ms
 * against 0.3 ms for a 784x256 weight). Every norm a probe or param_norms logs goes through here.
 */
export function frobenius(t: tf.Tensor): tf.Scalar {
  return tf.sqrt(tf.sum(tf.square(t))) as tf.Scalar;
}

/**
 * ‖current − reference‖_F / ‖reference‖_F from the two norms: how far a weight matrix or a
 * layer's pre-activations have moved from where they started (small = lazy training, Chizat et
 * al. 2019). The quotient is taken in float64 from the two float32 norms; a reference of norm 0
 * divides by 1 instead, so a zero-initialised tensor reports its absolute change, not Infinity.
 */
export function relativeChange(changeNorm: number, referenceNorm: number): number {
  return changeNorm / (referenceNorm || 1);
}

/**
 * Many relative changes ‖current − reference‖_F / ‖reference‖_F (see relativeChange), keyed as
 * `pairs`, plus any further scalar tensors in `scalars` (each holding one value), read back in one
 * transfer. param_norms (`wdrift/<layer>`) and the fli probe (`wchange_l<k>`, `fli_l<k>`) both go
 * through it, so they agree to the last bit. Each pair's tensors must have the same shape (or
 * broadcast); nothing passed in is disposed. Throws as readScalars does.
 */
export function readRelativeChanges(
  pairs: Readonly<Record<string, readonly [current: tf.Tensor, reference: tf.Tensor]>>,
  scalars: Readonly<Record<string, tf.Tensor>> = {},
): Record<string, number> {
  return tf.tidy(() => {
    const named: Record<string, tf.Tensor> = { ...scalars };
    // Indexed keys, so no metric name can collide with them.
    const keys = Object.keys(pairs);
    keys.forEach((k, i) => {
      const [current, reference] = pairs[k]!;
      named[`\0change${i}`] = frobenius(tf.sub(current, reference));
      named[`\0reference${i}`] = frobenius(reference);
    });
    const read = readScalars(named);
    const out: Record<string, number> = {};
    for (const k of Object.keys(scalars)) out[k] = read[k]!;
    keys.forEach((k, i) => (out[k] = relativeChange(read[`\0change${i}`]!, read[`\0reference${i}`]!)));
    return out;
  });
}
