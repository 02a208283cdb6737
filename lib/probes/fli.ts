import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { callbacks } from '../callbacks/registry.js';
import type { Model } from '../models/model.js';
import { probeCallback, probeScheduleKwargs, type Probe } from './probe.js';
import { readRelativeChanges } from './norms.js';

/**
 * The feature-learning index probe: how far the hidden representations have moved since
 * initialisation, beside how far the weights have. In the lazy (NTK) regime both vanish with
 * width; in the feature-learning (mean-field / µP) regime the hidden pre-activations move by
 * O(1) (Chizat et al. 2019; Geiger et al. 2020, "Disentangling feature and lazy training";
 * Yang & Hu 2021, "Feature learning in infinite-width neural networks").
 *
 * At fit start, before the first update (whatever the schedule), it keeps h_0, the hidden layers'
 * pre-activations on the probe batch ([n, width] each for dense layers), and W_0, every layer's
 * weight; each evaluation then
 * returns, read back in one transfer, fli_l<k> = ‖h_t − h_0‖_F/‖h_0‖_F for hidden layer k (1-based in
 * forward order, the readout excluded: its "features" are the outputs), wchange_l<k> =
 * ‖W_t − W_0‖_F/‖W_0‖_F for every layer, and fli = the mean of the fli_l<k>. All are exactly 0 at
 * step 0. A model with a single layer has no hidden
 * layer and logs wchange_l1 only.
 */
export function fliProbe(model: Model): Probe {
  let h0: tf.Tensor[] | null = null;
  let w0: tf.Tensor[] = [];
  return {
    start(_ctx, batch) {
      tf.tidy(() => {
        h0 = model.forward(batch.x, true).preactivations.slice(0, -1).map((h) => tf.keep(h));
      });
      w0 = model.layers.map((l) => tf.keep(l.weight.clone()));
    },
    measure(_ctx, batch) {
      const hidden = model.forward(batch.x, true).preactivations.slice(0, -1);
      const pairs: Record<string, [tf.Tensor, tf.Tensor]> = {};
      hidden.forEach((h, i) => (pairs[`fli_l${i + 1}`] = [h, h0![i]!]));
      model.layers.forEach((l, i) => (pairs[`wchange_l${i + 1}`] = [l.weight, w0[i]!]));
      // Read here, not by the probe callback: the quotients are taken in float64 exactly as
      // param_norms takes them (still one transfer for everything).
      const out = readRelativeChanges(pairs);
      if (hidden.length > 0) out.fli = hidden.reduce((acc, _, i) => acc + out[`fli_l${i + 1}`]!, 0) / hidden.length;
      return out;
    },
    dispose() {
      tf.dispose([...(h0 ?? []), ...w0]);
      h0 = null;
      w0 = [];
    },
  };
}

callbacks.register('fli', {
  description:
    'Feature-learning index: relative change of the hidden pre-activations on the probe inputs, and of every weight, since initialisation (lazy training: both near 0; feature learning: O(1)). Geiger et al. 2020; Yang & Hu 2021.',
  kwargs: z.object(probeScheduleKwargs(64)),
  logs: {
    fli: 'mean of fli_l<k> over the hidden layers',
    'fli_l<k>': '‖h_t − h_0‖_F/‖h_0‖_F: relative change of hidden layer k’s pre-activations on the probe inputs since initialisation (k = 1.. in forward order, readout excluded)',
    'wchange_l<k>': '‖W_t − W_0‖_F/‖W_0‖_F: relative change of layer k’s weight since initialisation (every layer, readout included; equals param_norms’ wdrift when both start at step 0)',
  },
  build: (schedule) => probeCallback(schedule, (ctx) => fliProbe(ctx.model)),
});
