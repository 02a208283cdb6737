import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { activate, activationKwarg, denseForward, denseLayer, denseStack, flatten, layerModel, parametrizationKwarg } from './layers.js';
import { denseChainModels, models, type Model } from './model.js';

const kwargs = z
  .object({
    widths: z
      .array(z.int().positive())
      .min(2)
      .optional()
      .describe('every layer width from input to output, e.g. [784, 512, 512, 10]; first = input features, last = outputs'),
    width: z.int().positive().optional().describe('instead of widths: the width of every hidden layer (with depth)'),
    depth: z.int().nonnegative().optional().describe('instead of widths: the number of hidden layers (with width); input and output sizes come from the data'),
    activation: activationKwarg,
    bias: z.boolean().default(true).describe('give each layer a bias'),
    parametrization: parametrizationKwarg,
  })
  // A refinement, so a sweep over depth fails when it is expanded, not on an agent.
  .superRefine((kw, ctx) => {
    const shape = kw.width !== undefined || kw.depth !== undefined;
    if (kw.widths !== undefined && shape) {
      ctx.addIssue({ code: 'custom', path: ['widths'], input: kw.widths, message: 'give either widths, or width and depth, not both' });
    } else if (kw.widths === undefined && (kw.width === undefined || kw.depth === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: kw.width === undefined ? ['width'] : ['depth'],
        input: undefined,
        message: 'give widths (e.g. [784, 256, 10]), or width and depth (e.g. "width": 256, "depth": 4)',
      });
    }
  });

models.register('mlp', {
  description: 'fully connected network; flattens its input, linear readout',
  kwargs,
  example: { kwargs: { widths: [12, 16, 16, 3], activation: 'tanh' }, inputShape: [12], outputDim: 3 },
  build({ widths: given, width, depth, activation, bias, parametrization }, { inputShape, outputDim }): Model {
    const features = inputShape.reduce((a, b) => a * b, 1);
    const widths = given ?? [features, ...Array<number>(depth!).fill(width!), outputDim];
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
    const layers = widths.slice(1).map((fanOut, i) => denseLayer(`dense${i}`, widths[i]!, fanOut, bias, parametrization));
    return layerModel(
      layers,
      inputShape,
      outputDim,
      activation,
      (x, capture, preactivations) => denseStack(flatten(x, features, 'mlp'), layers, activation, capture, preactivations),
      (k, h) => denseForward(activate(h, activation) as tf.Tensor2D, layers[k + 1]!),
    );
  },
});

denseChainModels.add('mlp');
