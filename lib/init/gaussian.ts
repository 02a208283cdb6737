import { z } from 'zod';
import { inits } from './init.js';
import { assignValues, assignWeight } from './variance_scaling.js';

inits.register('gaussian', {
  description: 'mean-field Gaussian: W ~ N(0, sigma_w2/fan_in), b ~ N(0, sigma_b2); fan_in = k*k*cin for a conv layer',
  kwargs: z.object({
    sigma_w2: z.number().nonnegative().default(1).describe('weight variance times fan_in'),
    sigma_b2: z.number().nonnegative().default(0).describe('bias variance'),
    readout_sigma_w2: z.number().nonnegative().optional().describe("the last layer's sigma_w2 (default: sigma_w2)"),
  }),
  build: ({ sigma_w2, sigma_b2, readout_sigma_w2 }) => {
    const sw2 = (i: number, count: number) => (i === count - 1 && readout_sigma_w2 !== undefined ? readout_sigma_w2 : sigma_w2);
    return {
      apply(model, rng) {
        model.layers.forEach((layer, i) => {
          // Bias draws are made even when sigma_b2 is 0: with one seed, every point of a
          // (sigma_w2, sigma_b2) phase diagram then starts from the same standard-normal noise.
          assignWeight(layer, rng.normalArray(layer.weight.size, 0, Math.sqrt(sw2(i, model.layers.length) / layer.fanIn)));
          if (layer.bias) assignValues(layer.bias, rng.normalArray(layer.bias.size, 0, Math.sqrt(sigma_b2)));
        });
      },
      variances: (layers) => layers.map((_, i) => ({ sigma_w2: sw2(i, layers.length), sigma_b2 })),
    };
  },
});
