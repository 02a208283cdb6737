import type * as tf from '@tensorflow/tfjs-core';
import { Registry } from '../registry.js';
import type { Activation } from './layers.js';

/** One parameterised layer, as init schemes and probes see it. */
export interface Layer {
  /** `dense0`, `conv1`, ... in forward order. */
  readonly name: string;
  readonly kind: 'dense' | 'conv2d';
  /** dense: [fanIn, fanOut]; conv2d: [kh, kw, cin, cout] (NHWC, as tfjs conv2d wants). */
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  /** Inputs feeding one output unit (conv2d: kh*kw*cin), the n in the 1/n of mean-field scaling. */
  readonly fanIn: number;
  /** Outputs each input feeds (conv2d: kh*kw*cout). */
  readonly fanOut: number;
  /**
   * The constant the forward pass multiplies the stored weight by: 1 in the standard
   * parametrization, 1/sqrt(fanIn) in the NTK parametrization (Jacot et al. 2018), where the
   * stored weights are O(1) and the learning rate no longer has to shrink with width.
   */
  readonly weightScale: number;
}

export interface ForwardResult {
  /** Logits (classification) or predictions (regression), [batch, outputDim]. */
  output: tf.Tensor2D;
  /**
   * With `capture`, every layer's pre-activation h = Wx + b in forward order (one per entry of
   * `layers`); empty otherwise. Tensors belong to the caller (call inside tf.tidy).
   */
  preactivations: tf.Tensor[];
}

/**
 * A network written on tfjs-core ops. Parameters are created as zeros by the builder; an init
 * scheme fills them (build order: model -> init -> optimizer).
 */
export interface Model {
  readonly layers: readonly Layer[];
  /** Every trainable variable, weights and biases, in layer order. */
  readonly params: readonly tf.Variable[];
  /** Shape of one example, e.g. [32] or [28, 28, 1]. */
  readonly inputShape: readonly number[];
  readonly outputDim: number;
  /** The hidden layers' nonlinearity φ (the readout is linear), for probes and theory. */
  readonly activation: Activation;
  forward(x: tf.Tensor, capture?: boolean): ForwardResult;
  /**
   * Layer k+1's pre-activation from layer k's (0-based k into `layers`; k < layers.length - 1):
   * h_{k+1} = φ(h_k)·W_{k+1} + b_{k+1} for a chain of dense layers. Models whose layers form such
   * a chain (mlp) provide it; probes that need layer-to-layer Jacobians (criticality) need it.
   */
  layerMap?(k: number, h: tf.Tensor): tf.Tensor;
  dispose(): void;
}

/** What a model builder learns from the data before it is built. */
export interface ModelContext {
  inputShape: readonly number[];
  outputDim: number;
}

/**
 * A small configuration of a model that trains in a few steps: its kwargs and the shape of one
 * example it takes. Every model registers one; test/model_backends.test.ts trains each on every
 * backend present, so a model that cannot train somewhere fails the suite.
 */
export interface ModelExample {
  kwargs: Record<string, unknown>;
  inputShape: number[];
  outputDim: number;
}

export const models = new Registry<Model, ModelContext, ModelExample>('model');

/**
 * The registered models whose instances provide `layerMap` (a chain of dense layers), known
 * before anything is built, so a config pairing another model with a probe that needs layer
 * maps is refused when it is resolved. Each such model adds itself beside its registration;
 * test/model_backends.test.ts checks the set against built instances.
 */
export const denseChainModels = new Set<string>();
