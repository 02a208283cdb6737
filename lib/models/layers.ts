import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { dense } from './dense_op.js';
import type { ForwardResult, Layer, Model } from './model.js';

// Building blocks shared by the models: activations, dense layers, parameter bookkeeping.

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

export const PARAMETRIZATIONS = ['standard', 'ntk'] as const;
export type Parametrization = (typeof PARAMETRIZATIONS)[number];

export const parametrizationKwarg = z
  .enum(PARAMETRIZATIONS)
  .default('standard')
  .describe(
    'standard: h = xW + b; ntk: h = xW/sqrt(fan_in) + b with O(1) stored weights (Jacot et al. 2018), the lazy regime of wide networks at a width-independent learning rate. The init draws the same effective weights in both',
  );

export function denseLayer(name: string, fanIn: number, fanOut: number, bias: boolean, parametrization: Parametrization = 'standard'): Layer {
  return {
    name,
    kind: 'dense',
    weight: zerosVariable([fanIn, fanOut]),
    bias: bias ? zerosVariable([fanOut]) : null,
    fanIn,
    fanOut,
    weightScale: parametrization === 'ntk' ? 1 / Math.sqrt(fanIn) : 1,
  };
}

/** x scaled by the layer's weight multiplier: x·(sW) = (s x)·W, the smaller of the two products for a batch. */
function scaled(x: tf.Tensor2D, layer: Layer): tf.Tensor2D {
  return layer.weightScale === 1 ? x : tf.mul(x, layer.weightScale);
}

/** h = xW + b for a [batch, fanIn] input. */
export function denseForward(x: tf.Tensor2D, layer: Layer): tf.Tensor2D {
  return dense(scaled(x, layer), layer.weight as tf.Tensor2D, layer.bias as tf.Tensor1D | null, 'linear');
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

/**
 * Runs a stack of dense layers (activation between them, linear readout), pushing each
 * pre-activation onto `preactivations` when `capture` is set.
 */
export function denseStack(x: tf.Tensor2D, layers: readonly Layer[], activation: Activation, capture: boolean, preactivations: tf.Tensor[]): tf.Tensor2D {
  let a = x;
  layers.forEach((layer, i) => {
    const readout = i === layers.length - 1;
    // relu goes into the matmul kernel, unless the pre-activation itself is wanted: the fused
    // kernel clamps its output, so h never exists. Both give the same activations.
    if (!readout && !capture && activation === 'relu') {
      a = dense(scaled(a, layer), layer.weight as tf.Tensor2D, layer.bias as tf.Tensor1D | null, 'relu');
      return;
    }
    const h = denseForward(a, layer);
    if (capture) preactivations.push(h);
    a = readout ? h : (activate(h, activation) as tf.Tensor2D);
  });
  return a;
}

/**
 * The Model around a list of layers: parameters, disposal, and the pre-activation list that
 * `body` pushes onto when `capture` is set. Each model file only writes its forward pass.
 */
export function layerModel(
  layers: Layer[],
  inputShape: readonly number[],
  outputDim: number,
  activation: Activation,
  body: (x: tf.Tensor, capture: boolean, preactivations: tf.Tensor[]) => tf.Tensor2D,
  layerMap?: (k: number, h: tf.Tensor) => tf.Tensor,
): Model {
  return {
    layers,
    params: paramsOf(layers),
    inputShape: [...inputShape],
    outputDim,
    activation,
    ...(layerMap ? { layerMap } : {}),
    forward(x: tf.Tensor, capture = false): ForwardResult {
      const preactivations: tf.Tensor[] = [];
      return { output: body(x, capture, preactivations), preactivations };
    },
    dispose() {
      disposeLayers(layers);
    },
  };
}
