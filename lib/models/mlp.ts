import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { models, type ForwardResult, type Layer, type Model } from './model.js';

export const ACTIVATIONS = ['relu', 'tanh', 'linear', 'gelu', 'erf'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export const activationKwarg = z
  .enum(ACTIVATIONS)
  .default('relu')
  .describe('nonlinearity of the hidden layers (gelu is the exact erf form); the readout is always linear');

export function activate(h: tf.Tensor, fn: Activation): tf.Tensor {
  switch (fn) {
    case 'relu':
      return tf.relu(h);
    case 'tanh':
      return tf.tanh(h);
    case 'linear':
      return h;
    case 'erf':
      return tf.erf(h);
    case 'gelu':
      // tfjs-core has no gelu; the exact form (not the tanh approximation) keeps the
      // kernel's Gaussian expectations, which theory papers compute, exact.
      return tf.mul(tf.mul(h, 0.5), tf.add(1, tf.erf(tf.mul(h, Math.SQRT1_2))));
  }
}

/**
 * A zero-filled variable with tfjs's automatic name: a fixed name would collide in tfjs's global
 * variable table as soon as a second model is built in the same process.
 */
export function zerosVariable(shape: number[]): tf.Variable {
  const zeros = tf.zeros(shape);
  const v = tf.variable(zeros);
  // The variable holds its own reference to the buffer; the temporary would otherwise leak.
  zeros.dispose();
  return v;
}

export function denseLayer(name: string, fanIn: number, fanOut: number, bias: boolean): Layer {
  return {
    name,
    kind: 'dense',
    weight: zerosVariable([fanIn, fanOut]),
    bias: bias ? zerosVariable([fanOut]) : null,
    fanIn,
    fanOut,
  };
}

/** h = xW + b for a [batch, fanIn] input. */
export function denseForward(x: tf.Tensor2D, layer: Layer): tf.Tensor2D {
  const h = tf.matMul<tf.Tensor2D>(x, layer.weight);
  return layer.bias ? tf.add<tf.Tensor2D>(h, layer.bias) : h;
}

export function paramsOf(layers: readonly Layer[]): tf.Variable[] {
  return layers.flatMap((l) => (l.bias ? [l.weight, l.bias] : [l.weight]));
}

export function disposeLayers(layers: readonly Layer[]): void {
  for (const p of paramsOf(layers)) p.dispose();
}

/** [batch, ...shape] to [batch, features], with a clear error rather than a reshape failure deep in tfjs. */
export function flatten(x: tf.Tensor, features: number, who: string): tf.Tensor2D {
  const batch = x.shape[0] ?? 0;
  if (x.rank < 2 || x.size !== batch * features) {
    throw new Error(`${who}: expected input [batch, ...] with ${features} features per example, got shape [${x.shape.join(', ')}]`);
  }
  return tf.reshape(x, [batch, features]);
}

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
    const params = paramsOf(layers);

    return {
      layers,
      params,
      inputShape: [...inputShape],
      outputDim,
      forward(x: tf.Tensor, capture = false): ForwardResult {
        const preactivations: tf.Tensor[] = [];
        let a = flatten(x, features, 'mlp');
        layers.forEach((layer, i) => {
          const h = denseForward(a, layer);
          if (capture) preactivations.push(h);
          a = i === layers.length - 1 ? h : (activate(h, activation) as tf.Tensor2D);
        });
        return { output: a, preactivations };
      },
      dispose() {
        disposeLayers(layers);
      },
    };
  },
});
