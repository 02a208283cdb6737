import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { Layer, Model } from '../models/model.js';
import type { Rng } from '../rng.js';
import { layerShape, type InitScheme, type LayerShape } from './init.js';

export const DISTRIBUTIONS = ['normal', 'uniform'] as const;
export type Distribution = (typeof DISTRIBUTIONS)[number];

export const distributionKwarg = z
  .enum(DISTRIBUTIONS)
  .default('normal')
  .describe('normal, or uniform on [-a, a] with a = sqrt(3 * variance)');

export const modeKwarg = z
  .enum(['fan_in', 'fan_out'])
  .default('fan_in')
  .describe('fan_in keeps forward activations at unit scale, fan_out the backward gradients');

/** n draws with mean 0 and the given variance. */
export function sample(rng: Rng, n: number, variance: number, distribution: Distribution): Float32Array {
  if (distribution === 'normal') return rng.normalArray(n, 0, Math.sqrt(variance));
  const a = Math.sqrt(3 * variance);
  return rng.uniformArray(n, -a, a);
}

/** Writes host values into a variable without leaving the temporary tensor behind. */
export function assignValues(v: tf.Variable, values: Float32Array): void {
  const t = tf.tensor(values, v.shape, 'float32');
  v.assign(t);
  t.dispose();
}

/**
 * Writes a layer's effective weights: with a weight multiplier (NTK parametrization, where the
 * forward pass computes x·(weightScale·W)), the stored variable holds values / weightScale, so
 * the network's function at initialisation is the same in every parametrization.
 */
export function assignWeight(layer: Layer, values: Float32Array): void {
  if (layer.weightScale !== 1) {
    const inv = 1 / layer.weightScale;
    for (let i = 0; i < values.length; i++) values[i]! *= inv;
  }
  assignValues(layer.weight, values);
}

export function zeroBias(layer: Layer): void {
  if (layer.bias) assignValues(layer.bias, new Float32Array(layer.bias.size));
}

/**
 * The he / lecun / xavier family: each weight drawn with a variance that depends on the layer's
 * fans only, biases zero. Layers are filled in forward order, so a seed fixes every weight.
 */
export function varianceScaling(variance: (layer: LayerShape) => number, distribution: Distribution): InitScheme {
  return {
    apply(model: Model, rng: Rng) {
      for (const layer of model.layers) {
        assignWeight(layer, sample(rng, layer.weight.size, variance(layerShape(layer)), distribution));
        zeroBias(layer);
      }
    },
    variances: (layers) => layers.map((l) => ({ sigma_w2: variance(l) * l.fanIn, sigma_b2: 0 })),
  };
}
