import * as tf from '@tensorflow/tfjs-core';

/**
 * Reads many scalars back from the backend in one transfer: each readback of a GPU (or
 * wasm-threaded) backend waits for the device, so a probe that logs forty numbers must not wait
 * forty times. Every tensor must hold exactly one value (any rank); the tensors are not disposed.
 * Throws naming the key whose tensor holds more than one value.
 */
export function readScalars(named: Readonly<Record<string, tf.Tensor>>): Record<string, number> {
  const keys = Object.keys(named);
  if (keys.length === 0) return {};
  for (const k of keys) {
    if (named[k]!.size !== 1) throw new Error(`readScalars: "${k}" holds ${named[k]!.size} values, not one`);
  }
  const values = tf.tidy(() => tf.concat(keys.map((k) => tf.cast(tf.reshape(named[k]!, [1]), 'float32'))).dataSync());
  return Object.fromEntries(keys.map((k, i) => [k, values[i]!]));
}
