import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
await tf.setBackend('cpu');
const x = tf.zeros([4, 3]);
for (const [n, f] of [['mulS', (h: tf.Tensor) => tf.mul(h, 0.5)], ['addS', (h: tf.Tensor) => tf.add(1, h)], ['erf', (h: tf.Tensor) => tf.erf(h)], ['mulS2', (h: tf.Tensor) => tf.mul(h, 0.5)], ['mulS3', (h: tf.Tensor) => tf.mul(h, 0.7)]] as const) {
  const b = tf.memory().numTensors;
  tf.tidy(() => { f(x); });
  console.log(n, tf.memory().numTensors - b);
}
