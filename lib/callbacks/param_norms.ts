import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { relativeChange } from '../probes/relative_change.js';
import { readScalars } from '../training/read_scalars.js';
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
        // Every norm of every layer in one readback: one wait for the device, not 2 per layer.
        const logs = tf.tidy(() => {
          const named: Record<string, tf.Tensor> = {};
          ctx.model.layers.forEach((layer, i) => {
            named[`wnorm/${layer.name}`] = tf.norm(layer.weight);
            named[`wdrift/${layer.name}`] = relativeChange(layer.weight, initial[i]!);
          });
          return readScalars(named);
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
