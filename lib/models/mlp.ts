import { z } from 'zod';
import { UsageError } from '../errors.js';
import { activationKwarg, denseLayer, denseStack, flatten, layerModel } from './layers.js';
import { models, type Model } from './model.js';

const kwargs = z.object({
  widths: z
    .array(z.int().positive())
    .min(2)
    .describe('every layer width from input to output, e.g. [784, 512, 512, 10]; first = input features, last = outputs'),
  activation: activationKwarg,
  bias: z.boolean().default(true).describe('give each layer a bias'),
});

models.register('mlp', {
  description: 'fully connected network; flattens its input, linear readout',
  kwargs,
  example: { kwargs: { widths: [12, 16, 16, 3], activation: 'tanh' }, inputShape: [12], outputDim: 3 },
  build({ widths, activation, bias }, { inputShape, outputDim }): Model {
    const features = inputShape.reduce((a, b) => a * b, 1);
    const last = widths.length - 1;
    if (widths[0] !== features) {
      throw new UsageError(
        `widths[0] is ${widths[0]} but the data has ${features} input features; set model.kwargs.widths[0] to ${features}`,
      );
    }
    if (widths[last] !== outputDim) {
      throw new UsageError(
        `widths[${last}] is ${widths[last]} but the data has ${outputDim} outputs; set model.kwargs.widths[${last}] to ${outputDim}`,
      );
    }
    const layers = widths.slice(1).map((fanOut, i) => denseLayer(`dense${i}`, widths[i]!, fanOut, bias));
    return layerModel(layers, inputShape, outputDim, (x, capture, preactivations) =>
      denseStack(flatten(x, features, 'mlp'), layers, activation, capture, preactivations),
    );
  },
});
