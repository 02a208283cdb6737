import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { optimizers, ScalarSlots } from './optimizer.js';

optimizers.register('sgd', {
  description: 'Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay, as torch.optim.SGD with dampening 0',
  kwargs: z
    .object({
      lr: z.number().nonnegative().default(0.01).describe('base learning rate (a schedule scales it); 0 freezes the model, e.g. to probe it at init'),
      momentum: z.number().min(0).lt(1).default(0).describe('momentum coefficient; 0 is plain SGD'),
      nesterov: z.boolean().default(false).describe('Nesterov momentum (needs momentum > 0)'),
      weight_decay: z.number().min(0).default(0).describe('L2 penalty added to the gradient: g + weight_decay * p'),
    })
    // A refinement rather than a check in build, so a sweep fails when its config is resolved,
    // before any model is built.
    .superRefine((kw, ctx) => {
      if (kw.nesterov && kw.momentum === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['nesterov'],
          input: kw.nesterov,
          message: 'Nesterov momentum needs momentum > 0; set "momentum" (e.g. 0.9) or drop "nesterov"',
        });
      }
    }),
  build: ({ lr, momentum, nesterov, weight_decay }, { params }) => {
    // With dampening 0, buf = momentum * 0 + g = g on the first step, which is exactly
    // PyTorch's "initialise the buffer with the first gradient"; zeros need no first-step branch.
    const bufs = momentum > 0 ? params.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p), false))) : null;
    const k = new ScalarSlots();
    return {
      lr,
      apply(grads, stepLr) {
        if (grads.length !== params.length) throw new Error(`sgd: got ${grads.length} gradients for ${params.length} parameters`);
        tf.tidy(() => {
          const lr = k.get('lr', stepLr);
          params.forEach((p, i) => {
            let g = grads[i]!;
            if (weight_decay !== 0) g = tf.add(g, tf.mul(p, k.get('weight_decay', weight_decay)));
            if (bufs) {
              const mu = k.get('momentum', momentum);
              const buf = tf.add(tf.mul(bufs[i]!, mu), g);
              bufs[i]!.assign(buf);
              g = nesterov ? tf.add(g, tf.mul(buf, mu)) : buf;
            }
            p.assign(tf.sub(p, tf.mul(g, lr)));
          });
        });
      },
      dispose() {
        bufs?.forEach((b) => b.dispose());
        k.dispose();
      },
    };
  },
});
