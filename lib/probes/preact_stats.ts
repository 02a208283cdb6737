import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { callbacks } from '../callbacks/registry.js';
import type { Activation } from '../models/layers.js';
import { probeCallback, probeScheduleKwargs, type Probe } from './probe.js';

// Layer-wise pre-activation statistics: the quantities mean-field theory predicts layer by layer
// (Poole et al. 2016, "Exponential expressivity in deep neural networks through transient chaos";
// Schoenholz et al. 2017, "Deep information propagation"): the length map q_l and the
// correlation map c_l, plus the shape of the distribution (kurtosis, active fraction) that tells
// whether the Gaussian assumption behind those maps still holds at this width and depth.

/** Activations whose derivative is (close to) a 0/1 gate, for which the active fraction means something. */
const RELU_LIKE: readonly Activation[] = ['relu', 'gelu'];

/**
 * The statistics of one layer's pre-activations on the probe batch, as scalar tensors.
 *
 * @param h pre-activations [n, ...unit dims] (dense [n, width]; conv2d [n, H, W, C], where every
 *   element of one example's map counts as a unit); n ≥ 2.
 * @param withActive whether to include `active` (fraction of h > 0).
 * @returns q = E[h²], mean, var (biased, over all units and inputs), kurt = E[(h−μ)⁴]/var² − 3,
 *   c = mean over i ≠ j of cos(h_i, h_j), and optionally active. A zero vector h_i counts as
 *   cosine 0 with every other (its direction is undefined); a constant layer gives kurt NaN.
 * @throws if n < 2 (no pair of distinct inputs to correlate).
 */
export function preactStats(h: tf.Tensor, withActive: boolean): Record<string, tf.Scalar> {
  const n = h.shape[0]!;
  if (n < 2) throw new Error(`preactStats: need at least 2 probe inputs, got ${n}`);
  return tf.tidy(() => {
    const flat = tf.reshape(h, [n, -1]) as tf.Tensor2D;
    const q = tf.mean(tf.square(flat));
    const mean = tf.mean(flat);
    const centred = tf.sub(flat, mean);
    const sq = tf.square(centred);
    const variance = tf.mean(sq);
    const kurt = tf.sub(tf.div(tf.mean(tf.square(sq)), tf.square(variance)), 3);
    // Cosines from one Gram matrix of the normalised rows: the mean over i ≠ j is the sum of all
    // entries minus the diagonal (each row's own ‖u_i‖², 1 or 0), over n(n−1) pairs.
    const rowNorm = tf.sqrt(tf.sum(tf.square(flat), 1, true));
    const u = tf.div(flat, tf.maximum(rowNorm, 1e-30));
    const gram = tf.matMul(u, u, false, true);
    const c = tf.div(tf.sub(tf.sum(gram), tf.sum(tf.square(u))), n * (n - 1));
    const out: Record<string, tf.Scalar> = { q, mean, var: variance, kurt, c } as Record<string, tf.Scalar>;
    if (withActive) out.active = tf.mean(tf.cast(tf.greater(flat, 0), 'float32'));
    return out;
  });
}

/**
 * The preact_stats probe: one forward pass with the pre-activations captured, then preactStats
 * of every layer, keyed `<stat>_l<k>` with layers numbered from 1 in forward order.
 */
export function preactStatsProbe(): Probe {
  return {
    measure(ctx, batch) {
      const { preactivations } = ctx.model.forward(batch.x, true);
      const reluLike = RELU_LIKE.includes(ctx.model.activation);
      const out: Record<string, tf.Tensor> = {};
      preactivations.forEach((h, i) => {
        // The readout is linear: an active fraction of the logits says nothing about gating.
        const hidden = i < preactivations.length - 1;
        for (const [stat, t] of Object.entries(preactStats(h, reluLike && hidden))) out[`${stat}_l${i + 1}`] = t;
      });
      return out;
    },
  };
}

callbacks.register('preact_stats', {
  description:
    "Layer-wise pre-activation statistics on a fixed probe batch: length q_l, mean, variance, excess kurtosis, active fraction and the mean cosine similarity c_l between inputs — the measured side of mean-field signal propagation (Poole et al. 2016; Schoenholz et al. 2017). One forward pass and one readback per measurement.",
  kwargs: z.object(probeScheduleKwargs(64)),
  logs: {
    'q_l<k>': "second moment of layer k's pre-activation, mean of h² over units and probe inputs (mean-field length q^l)",
    'mean_l<k>': 'mean of h over units and probe inputs',
    'var_l<k>': 'variance of h over units and probe inputs (biased)',
    'kurt_l<k>': 'excess kurtosis E[(h−μ)⁴]/var² − 3 over units and inputs; ≈ 0 when h is Gaussian (wide layers at init)',
    'active_l<k>': 'fraction of h > 0; only for relu and gelu networks, hidden layers only',
    'c_l<k>': 'mean cosine similarity h_i·h_j/(‖h_i‖‖h_j‖) over pairs i ≠ j of probe inputs (mean-field correlation c^l; → 1 in the ordered phase)',
  },
  build: (schedule) => probeCallback(schedule, () => preactStatsProbe()),
});
