import * as tf from '@tensorflow/tfjs-core';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { z } from 'zod';
import { callbacks } from '../callbacks/registry.js';
import { activate } from '../models/layers.js';
import type { Model } from '../models/model.js';
import { frobenius } from './norms.js';
import { probeCallback, probeScheduleKwargs, type Probe } from './probe.js';

/**
 * The empirical neural tangent kernel of `model` on the inputs `x` [n, ...inputShape], summed
 * over outputs: Θ_ij = Σ_o ⟨∂f_o(x_i)/∂θ, ∂f_o(x_j)/∂θ⟩ over every trainable parameter, an
 * [n, n] symmetric positive semi-definite tensor (Jacot et al. 2018; Lee et al. 2019, "Wide
 * neural networks of any depth evolve as linear models").
 *
 * How: one gradient call per (output, example), outputs outer and examples inner; the n
 * per-example gradients of one output, G_o [n, P], stay on the backend and Θ += G_o G_oᵀ is
 * accumulated there, parameter by parameter (Σ_p G_{o,p} G_{o,p}ᵀ = G_o G_oᵀ, without copying
 * every gradient into one flat row first). Peak memory: the n gradients of one output, 4·n·P
 * bytes for P parameters in float32, plus one parameter's [n, size] stack and Θ. Nothing is read
 * back. The result belongs to the caller; every intermediate is freed.
 *
 * Throws when x holds no examples. Any model with `params` and a batch forward works (dense and
 * conv alike); the forward is run on one example at a time.
 */
export function empiricalNtk(model: Model, x: tf.Tensor): tf.Tensor2D {
  const n = x.shape[0] ?? 0;
  if (n === 0) throw new Error('empiricalNtk: x holds no examples');
  const params = model.params;
  return tf.tidy(() => {
    // The examples once, as [1, ...] slices: each gradient call runs a batch of one.
    const rows = tf.split(x, n, 0);
    let theta: tf.Tensor2D = tf.zeros([n, n]);
    for (let o = 0; o < model.outputDim; o++) {
      const next = tf.tidy(() => {
        const grads = rows.map((xi) => {
          const { grads: g } = tf.variableGrads(() => tf.reshape(tf.slice(model.forward(xi).output, [0, o], [1, 1]), []) as tf.Scalar, params as tf.Variable[]);
          return params.map((p) => g[p.name]!);
        });
        let acc = theta;
        params.forEach((p, k) => {
          // G_{o,p}: [n, size_p], row i = ∂f_o(x_i)/∂p flattened.
          const gp = tf.stack(grads.map((g) => tf.reshape(g[k]!, [p.size])));
          acc = tf.add(acc, tf.matMul(gp, gp, false, true));
        });
        return acc;
      });
      theta.dispose();
      theta = next;
    }
    // Exactly symmetric, whatever order the kernels summed in.
    return tf.mul(tf.add(theta, tf.transpose(theta)), 0.5) as tf.Tensor2D;
  });
}

/**
 * The same Θ as empiricalNtk for a chain of dense layers (a model whose layers are all dense and
 * that provides layerMap, e.g. mlp), without per-example gradients: a dense layer
 * h = s·a W + b has ∂f_o(x_i)/∂W = s·a_i ⊗ δ_io and ∂f_o(x_i)/∂b = δ_io, with δ_io = ∂f_o(x_i)/∂h_i,
 * so its share of Θ is (s² A Aᵀ + 1) ⊙ Σ_o Δ_o Δ_oᵀ, where A [n, fanIn] holds the layer's inputs
 * and Δ_o [n, fanOut] the back-propagated δ's of output o (the 1 only with a bias). All the
 * Δ_o of every layer come from ONE backward pass over the probe batch replicated once per output
 * (the examples of a batch do not interact, so its rows are per-example gradients), against
 * n·outputs gradient calls for empiricalNtk. Memory: O(outputs·n·Σ widths) floats plus Θ.
 * Returns null when the model is not such a chain (conv layers, no layerMap), for empiricalNtk
 * to take over. The result belongs to the caller.
 */
export function denseChainNtk(model: Model, x: tf.Tensor): tf.Tensor2D | null {
  const layers = model.layers;
  const n = x.shape[0] ?? 0;
  const layerMap = model.layerMap?.bind(model);
  if (n === 0 || !layerMap || layers.some((l) => l.kind !== 'dense') || x.size !== n * layers[0]!.fanIn) return null;
  const O = model.outputDim;
  return tf.tidy(() => {
    const h = model.forward(x, true).preactivations;
    // Row o*n + i is example i, to be differentiated through output o alone.
    const h1 = tf.tile(h[0]!, [O, 1]);
    const mask = tf.reshape(tf.tile(tf.reshape(tf.eye(O), [O, 1, O]), [1, n, 1]), [O * n, O]);
    // Zero perturbations e_l added to each pre-activation: ∂/∂e_l is ∂/∂h_l.
    const zeros = layers.map((l) => tf.zeros([O * n, l.fanOut]));
    const deltas = tf.grads((...e: tf.Tensor[]) => {
      let hk = tf.add(h1, e[0]!);
      for (let k = 0; k + 1 < layers.length; k++) hk = tf.add(layerMap(k, hk), e[k + 1]!);
      return tf.sum(tf.mul(hk, mask));
    })(zeros);
    let theta: tf.Tensor = tf.zeros([n, n]);
    layers.forEach((layer, l) => {
      const a = l === 0 ? tf.reshape(x, [n, layer.fanIn]) : activate(h[l - 1]!, model.activation);
      const d = tf.reshape(deltas[l]!, [O, n, layer.fanOut]);
      const dd = tf.sum(tf.matMul(d, d, false, true), 0); // Σ_o Δ_o Δ_oᵀ
      let ka = tf.mul(tf.matMul(a as tf.Tensor2D, a as tf.Tensor2D, false, true), layer.weightScale ** 2);
      if (layer.bias) ka = tf.add(ka, 1);
      theta = tf.add(theta, tf.mul(ka, dd));
    });
    return tf.mul(tf.add(theta, tf.transpose(theta)), 0.5) as tf.Tensor2D;
  });
}

/** Largest eigenvalue of a symmetric n x n matrix given row-major (ml-matrix, in float64). */
export function largestEigenvalue(values: ArrayLike<number>, n: number): number {
  const m = new Matrix(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m.set(i, j, values[i * n + j]!);
  return Math.max(...new EigenvalueDecomposition(m, { assumeSymmetric: true }).realEigenvalues);
}

/**
 * The NTK drift metrics of Θt against the reference Θ0, as scalar tensors:
 * dist = 1 − ⟨Θ0,Θt⟩_F/(‖Θ0‖_F‖Θt‖_F), written as ½‖Θ0/‖Θ0‖ − Θt/‖Θt‖‖_F², the same number
 * without the cancellation of 1 − cos in float32 (exactly 0 when Θt = Θ0);
 * relChange = ‖Θt − Θ0‖_F/‖Θ0‖_F; trace = tr Θt. Call inside tf.tidy.
 */
export function ntkDrift(theta0: tf.Tensor2D, thetaT: tf.Tensor2D): { dist: tf.Scalar; relChange: tf.Scalar; trace: tf.Scalar } {
  const n0 = frobenius(theta0);
  const nt = frobenius(thetaT);
  const diffUnit = tf.sub(tf.div(theta0, n0), tf.div(thetaT, nt));
  return {
    dist: tf.mul(tf.sum(tf.square(diffUnit)), 0.5) as tf.Scalar,
    relChange: tf.div(frobenius(tf.sub(thetaT, theta0)), n0) as tf.Scalar,
    trace: tf.sum(tf.mul(thetaT, tf.eye(thetaT.shape[0]))) as tf.Scalar,
  };
}

/** The `ntk` probe: Θ0 from the first evaluation, drift of Θt from it at every later one. */
export function ntkProbe(model: Model): Probe {
  let theta0: tf.Tensor2D | null = null;
  return {
    measure(_ctx, batch) {
      // The one-backward path where the model allows it, the per-example gradients otherwise.
      const theta = denseChainNtk(model, batch.x) ?? empiricalNtk(model, batch.x);
      if (theta0 === null) theta0 = tf.keep(theta.clone());
      const { dist, relChange, trace } = ntkDrift(theta0, theta);
      // Θt (for its eigenvalues, in float64 on the CPU) and the three scalars in one readback.
      const n = theta.shape[0];
      const packed = tf.concat([tf.reshape(theta, [n * n]), tf.stack([dist, relChange, trace])]).dataSync();
      return {
        ntk_dist: packed[n * n]!,
        ntk_rel_change: packed[n * n + 1]!,
        ntk_eig_max: largestEigenvalue(packed, n),
        ntk_trace: packed[n * n + 2]!,
      };
    },
    dispose() {
      theta0?.dispose();
      theta0 = null;
    },
  };
}

callbacks.register('ntk', {
  description:
    'Empirical NTK Θ on the probe inputs (n x n, summed over outputs; Jacot et al. 2018) and its drift from the first evaluation Θ0 (lazy training: Θ barely moves; Lee et al. 2019, Chizat et al. 2019). Chains of dense layers (mlp): one backward pass over the probe batch replicated per output, memory O(outputs·n·Σ widths). Other models: one gradient call per (output, example), peak memory about 4·n·P bytes for P parameters (the n per-example gradients of one output) plus Θ.',
  kwargs: z.object(probeScheduleKwargs(16)),
  logs: {
    ntk_dist: '1 − ⟨Θ0,Θt⟩_F/(‖Θ0‖_F‖Θt‖_F): how much the kernel has turned since the reference (first) evaluation; 0 there, small in the lazy regime',
    ntk_rel_change: '‖Θt − Θ0‖_F/‖Θ0‖_F: how much the kernel has changed in size and direction since the reference evaluation',
    ntk_eig_max: 'largest eigenvalue of Θt (computed in float64 after reading Θt back): the stiffest direction of gradient descent in function space on the probe inputs',
    ntk_trace: 'tr Θt = Σ_i Σ_o ‖∂f_o(x_i)/∂θ‖²',
  },
  build: (schedule) => probeCallback(schedule, (ctx) => ntkProbe(ctx.model)),
});
