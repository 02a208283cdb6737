import * as tf from '@tensorflow/tfjs-core';

/**
 * ‖current − reference‖_F / ‖reference‖_F as a scalar tensor on the backend: how far a weight
 * matrix or a layer's pre-activations have moved from where they started (small = lazy
 * training, Chizat et al. 2019). Any shapes that broadcast; a reference of norm 0 divides by 1
 * instead, so a zero-initialised bias reports its absolute change rather than Infinity.
 * param_norms (`wdrift/<layer>`) and the fli probe (`wchange_l<k>`, `fli_l<k>`) both use it, so
 * the two agree to the last bit. Call inside tf.tidy; read it back with readScalars.
 */
export function relativeChange(current: tf.Tensor, reference: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const ref = tf.norm(reference);
    const denom = tf.where(tf.equal(ref, 0), tf.onesLike(ref), ref);
    return tf.div(tf.norm(tf.sub(current, reference)), denom) as tf.Scalar;
  });
}
