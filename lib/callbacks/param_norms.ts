import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { callbacks } from './registry.js';

callbacks.register('param_norms', {
  description: "Logs each layer's weight norm and its relative distance from initialisation ||W_t - W_0|| / ||W_0|| (small = lazy training).",
  kwargs: z.object({
    every: z.int().positive().default(100).describe('steps between measurements'),
  }),
  build: ({ every }) => {
    let initial: tf.Tensor[] = [];
    return {
      onFitStart(ctx) {
        initial = ctx.model.layers.map((l) => tf.keep(l.weight.clone()));
      },
      onStepEnd(ctx) {
        if (ctx.step % every !== 0 && ctx.step !== ctx.totalSteps) return;
        const logs: Record<string, number> = {};
        tf.tidy(() => {
          ctx.model.layers.forEach((layer, i) => {
            const w0 = initial[i]!;
            const norm = tf.norm(layer.weight).dataSync()[0]!;
            const drift = tf.norm(tf.sub(layer.weight, w0)).dataSync()[0]! / (tf.norm(w0).dataSync()[0]! || 1);
            logs[`wnorm/${layer.name}`] = norm;
            logs[`wdrift/${layer.name}`] = drift;
          });
        });
        ctx.log(logs);
      },
      teardown() {
        tf.dispose(initial);
        initial = [];
      },
    };
  },
});
