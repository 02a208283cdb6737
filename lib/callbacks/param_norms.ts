import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { frobenius, readRelativeChanges } from '../probes/norms.js';
import { callbacks } from './registry.js';

callbacks.register('param_norms', {
  description: "Logs each layer's weight norm and its relative distance from initialisation ||W_t - W_0|| / ||W_0|| (small = lazy training).",
  kwargs: z.object({
    every: z.int().positive().default(100).describe('steps between measurements'),
  }),
  logs: {
    'wnorm/<layer>': "Frobenius norm of the layer's stored weight ||W_t||",
    'wdrift/<layer>': '||W_t - W_0||_F / ||W_0||_F, the relative change of the weight since the start of the fit',
  },
  build: ({ every }) => {
    let initial: tf.Tensor[] = [];
    return {
      onFitStart(ctx) {
        initial = ctx.model.layers.map((l) => tf.keep(l.weight.clone()));
      },
      onStepEnd(ctx) {
        if (ctx.step % every !== 0 && ctx.step !== ctx.totalSteps) return;
        // Every norm of every layer in one readback: one wait for the device, not 3 per layer.
        const read = tf.tidy(() => {
          const norms: Record<string, tf.Tensor> = {};
          const drifts: Record<string, [tf.Tensor, tf.Tensor]> = {};
          ctx.model.layers.forEach((layer, i) => {
            norms[`wnorm/${layer.name}`] = frobenius(layer.weight);
            drifts[`wdrift/${layer.name}`] = [layer.weight, initial[i]!];
          });
          return readRelativeChanges(drifts, norms);
        });
        // Layer by layer, as the keys were always written.
        const logs = Object.fromEntries(
          ctx.model.layers.flatMap((l) => [`wnorm/${l.name}`, `wdrift/${l.name}`].map((k) => [k, read[k]!] as const)),
        );
        ctx.log(logs);
      },
      teardown() {
        tf.dispose(initial);
        initial = [];
      },
    };
  },
});
