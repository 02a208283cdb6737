import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { optimizers, ScalarSlots, type Optimizer, type OptimizerContext } from './optimizer.js';

function adamKwargs(weightDecay: number, decayHelp: string) {
  return z.object({
    lr: z.number().nonnegative().default(0.001).describe('base learning rate (a schedule scales it)'),
    beta1: z.number().min(0).lt(1).default(0.9).describe('decay rate of the first-moment (mean) estimate'),
    beta2: z.number().min(0).lt(1).default(0.999).describe('decay rate of the second-moment (uncentred variance) estimate'),
    eps: z.number().min(0).default(1e-8).describe('added to sqrt(v_hat) in the denominator, for numerical stability'),
    weight_decay: z.number().min(0).default(weightDecay).describe(decayHelp),
  });
}

type AdamKwargs = z.output<ReturnType<typeof adamKwargs>>;

optimizers.register('adam', {
  description: 'Adam with bias correction, as torch.optim.Adam (weight decay is L2 added to the gradient)',
  kwargs: adamKwargs(0, 'L2 penalty added to the gradient: g + weight_decay * p'),
  build: (kw, ctx) => buildAdam('adam', kw, ctx, false),
});

optimizers.register('adamw', {
  description: 'Adam with decoupled weight decay, as torch.optim.AdamW',
  kwargs: adamKwargs(0.01, 'decoupled decay: p <- p * (1 - lr * weight_decay) before the Adam step'),
  build: (kw, ctx) => buildAdam('adamw', kw, ctx, true),
});

function buildAdam(
  name: string,
  { lr, beta1, beta2, eps, weight_decay }: AdamKwargs,
  { params }: OptimizerContext,
  decoupled: boolean,
): Optimizer {
  const zeros = () => params.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
  const m = zeros();
  const v = zeros();
  // float32 counts steps exactly up to 2^24, far beyond any run here.
  const step = tf.tidy(() => tf.variable(tf.scalar(0), false));
  // 1 - beta^t is computed as -expm1(t * log(beta)) from a log taken in double precision:
  // beta2 = 0.999 is not representable in float32, and 1 - fl32(0.999) is off by 1.3e-5
  // relative, whereas PyTorch forms the bias corrections in double. log(0) = -Infinity gives
  // expm1(-Infinity) = -1, so beta = 0 still yields a correction of 1.
  const logBeta1 = Math.log(beta1);
  const logBeta2 = Math.log(beta2);
  const k = new ScalarSlots();

  return {
    lr,
    apply(grads, stepLr) {
      if (grads.length !== params.length) throw new Error(`${name}: got ${grads.length} gradients for ${params.length} parameters`);
      tf.tidy(() => {
        const t = tf.add<tf.Scalar>(step, k.get('one', 1));
        step.assign(t);
        const bc1 = tf.neg(tf.expm1(tf.mul(t, k.get('logBeta1', logBeta1))));
        const bc2Sqrt = tf.sqrt(tf.neg(tf.expm1(tf.mul(t, k.get('logBeta2', logBeta2)))));
        const negStepSize = tf.div(k.get('-lr', -stepLr), bc1);
        params.forEach((p, i) => {
          let g = grads[i]!;
          let theta: tf.Tensor = p;
          if (weight_decay !== 0) {
            if (decoupled) theta = tf.mul(p, k.get('decay', 1 - stepLr * weight_decay));
            else g = tf.add(g, tf.mul(p, k.get('weight_decay', weight_decay)));
          }
          // Same arithmetic order as PyTorch: m.lerp_(g, 1 - beta1), v.mul_(beta2).addcmul_(g, g, 1 - beta2).
          const mi = tf.add(m[i]!, tf.mul(tf.sub(g, m[i]!), k.get('1-beta1', 1 - beta1)));
          const vi = tf.add(tf.mul(v[i]!, k.get('beta2', beta2)), tf.mul(tf.mul(g, k.get('1-beta2', 1 - beta2)), g));
          m[i]!.assign(mi);
          v[i]!.assign(vi);
          const denom = tf.add(tf.div(tf.sqrt(vi), bc2Sqrt), k.get('eps', eps));
          p.assign(tf.add(theta, tf.div(tf.mul(mi, negStepSize), denom)));
        });
      });
    },
    dispose() {
      for (const x of [...m, ...v, step]) x.dispose();
      k.dispose();
    },
  };
}
