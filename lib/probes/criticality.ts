import * as tf from '@tensorflow/tfjs-core';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { z } from 'zod';
import { callbackConfigChecks, callbacks } from '../callbacks/registry.js';
import type { ExperimentConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { denseChainModels, type Model } from '../models/model.js';
import { Rng } from '../rng.js';
import type { TrainContext } from '../training/callback.js';
import { frobenius } from './norms.js';
import { probeCallback, probeScheduleKwargs, type Probe, type ProbeSchedule } from './probe.js';

// Criticality of a network as it is: the layer-to-layer Jacobian gain χ1, whose value 1 marks
// the edge of chaos (Poole et al. 2016; Schoenholz et al. 2017), the singular values of the
// end-to-end input-output Jacobian, all near 1 under dynamical isometry (Pennington et al. 2017),
// and the per-layer gradient norms whose ratio across depth shows vanishing or exploding
// gradients. Everything is measured through vector-Jacobian products: no Jacobian of a layer is
// ever materialised, only the small outputDim × outputDim Gram of the end-to-end one.

/**
 * The Jacobian-vector product J v of a row-wise map f at h, with reverse mode only (tfjs has no
 * forward mode): g(u) = ∂⟨f(h), u⟩/∂h = Jᵀu is linear in u, so ∂⟨g(u), v⟩/∂u = J v at any u
 * (u = 0 here). Costs one forward, one backward and one backward-of-the-backward pass of f.
 *
 * @param f a map [n, a] → [n, b] that treats rows independently (a layer map on a batch); then
 *   row i of the result is J_i v_i with J_i = ∂f(h)_i/∂h_i.
 * @param h the point, [n, a]; @param v the tangents, [n, a].
 * @returns J v, [n, b]. Throws (from tfjs) when f is not differentiable in h.
 */
export function jvp(f: (h: tf.Tensor) => tf.Tensor, h: tf.Tensor, v: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const u0 = tf.zerosLike(f(h));
    const jtU = (u: tf.Tensor) => tf.grad((hh: tf.Tensor) => tf.sum(tf.mul(f(hh), u)))(h);
    return tf.grad((u: tf.Tensor) => tf.sum(tf.mul(jtU(u), v)))(u0);
  });
}

/**
 * `count` random unit vectors of dimension `dim`, as rows of a [count, dim] tensor, from `rng`:
 * the tangents χ1 is estimated with (a uniform direction on the sphere, so E‖J v‖² = ‖J‖_F²/dim).
 */
export function unitRows(rng: Rng, count: number, dim: number): tf.Tensor2D {
  const values = rng.normalArray(count * dim);
  for (let i = 0; i < count; i++) {
    const row = values.subarray(i * dim, (i + 1) * dim);
    let s = 0;
    for (const x of row) s += x * x;
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dim; j++) row[j]! *= inv;
  }
  return tf.tensor2d(values, [count, dim]);
}

/**
 * The per-unit gain of layer map k (0-based: layer k+1's pre-activation from layer k's), as a
 * scalar: (n_k / n_{k+1}) · mean_i ‖J_i v_i‖²/‖v_i‖². The width ratio makes it the mean-field
 * χ1 = σ_w² E[φ'(h)²] whatever the widths (Poole et al. 2016, eq. 7; Schoenholz et al. 2017).
 *
 * @param h layer k's pre-activations [n, n_k]; @param v tangents [n, n_k].
 * @throws if the model has no layerMap.
 */
export function layerGain(model: Model, k: number, h: tf.Tensor, v: tf.Tensor): tf.Scalar {
  const map = model.layerMap;
  if (!map) throw new Error('layerGain: the model has no layerMap');
  return tf.tidy(() => {
    const jv = jvp((x) => map(k, x), h, v);
    const ratio = tf.div(tf.sum(tf.square(jv), 1), tf.sum(tf.square(v), 1));
    return tf.mul(tf.mean(ratio), h.shape[1]! / jv.shape[1]!) as tf.Scalar;
  });
}

/**
 * The Grams J_i J_iᵀ of the input-output Jacobians J_i = ∂output(x_i)/∂x_i, [n, outputDim,
 * outputDim], for x [n, ...inputShape]. The outputDim rows of every J_i come from one
 * vector-Jacobian product on the batch tiled outputDim times, cotangent e_o on copy o: the same
 * outputDim VJPs, as one backward pass over n·outputDim rows instead of outputDim passes.
 * Needs a model whose examples do not interact (no batch statistics), as every model here.
 */
export function jacobianGrams(model: Model, x: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const n = x.shape[0]!;
    const m = model.outputDim;
    const features = x.size / n;
    const flat = tf.reshape(x, [1, n, features]);
    // Copy o of the batch (rows o·n .. o·n+n−1) is differentiated along output unit o.
    const tiled = tf.reshape(tf.tile(flat, [m, 1, 1]), [m * n, ...x.shape.slice(1)]);
    const cot = tf.reshape(tf.tile(tf.reshape(tf.eye(m), [m, 1, m]), [1, n, 1]), [m * n, m]);
    const rows = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(model.forward(xx).output, cot)))(tiled);
    // [m, n, F] -> [n, m, F]: row o of J_i.
    const jac = tf.transpose(tf.reshape(rows, [m, n, features]), [1, 0, 2]) as tf.Tensor3D;
    return tf.matMul(jac, jac, false, true);
  });
}

/** Squared singular values below this fraction of the largest are float32 rounding of a zero. */
const NONZERO = 1e-6;

/**
 * Summaries of the squared singular values of the input-output Jacobians from their Grams
 * (host values, [n, m, m] row-major): eigenvalues of each symmetric Gram with ml-matrix.
 * Returns jac_sv2_mean (over all n·m values), jac_sv2_max, and jac_sv2_cond: per input the ratio
 * max/min over the nonzero values (> 1e-6·max: the Grams are float32, whose rounding leaves a
 * true zero at about 1e-7 of the largest; tiny negative rounding counts as zero), then the
 * mean over inputs (an input whose Jacobian is zero contributes NaN).
 */
export function sv2Summary(grams: ArrayLike<number>, n: number, m: number): { jac_sv2_mean: number; jac_sv2_max: number; jac_sv2_cond: number } {
  let sum = 0;
  let max = 0;
  let condSum = 0;
  for (let i = 0; i < n; i++) {
    const rows = Array.from({ length: m }, (_, r) => Array.from({ length: m }, (_, c) => grams[i * m * m + r * m + c]!));
    const eig = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true }).realEigenvalues;
    const top = Math.max(...eig);
    const nonzero = eig.filter((e) => e > NONZERO * top);
    for (const e of eig) sum += e;
    max = Math.max(max, top);
    condSum += nonzero.length ? top / Math.min(...nonzero) : NaN;
  }
  return { jac_sv2_mean: sum / (n * m), jac_sv2_max: max, jac_sv2_cond: condSum / n };
}

/**
 * ‖∂loss/∂W_k‖ of every layer's effective weight W_k = weightScale·θ_k, in layer order, from the
 * gradients of the stored variables (grads[i] belongs to model.params[i]): ∂loss/∂θ = weightScale ·
 * ∂loss/∂W, so the NTK parametrization reports the same norms as the standard one.
 */
function weightGradNorms(model: Model, grads: readonly tf.Tensor[]): tf.Scalar[] {
  return model.layers.map((layer) => {
    const norm = frobenius(grads[model.params.indexOf(layer.weight)]!);
    return layer.weightScale === 1 ? norm : (tf.div(norm, layer.weightScale) as tf.Scalar);
  });
}

/** The refusal of a model without layer-to-layer maps, one line naming the fix. */
function noLayerMaps(modelName: string): UsageError {
  return new UsageError(
    `criticality needs a chain of dense layers (model ${[...denseChainModels].join(' or ')}) to take layer-to-layer Jacobians, but model "${modelName}" has none; use preact_stats for this model, or remove criticality from callbacks`,
  );
}

/** Refuses, before anything is written, a model without layer-to-layer maps (also checked on the config: see below). */
function checkLayerMap(model: Model, config: ExperimentConfig): void {
  if (!model.layerMap) throw noLayerMaps(config.model.name);
}

export interface CriticalityOptions extends ProbeSchedule {
  n_jacobian: number;
  grads: 'probe' | 'train';
}

/**
 * The criticality probe. At construction (fit start) it checks the model has a layerMap and
 * draws the χ1 tangents, one unit vector per probe input and layer map, kept on the backend.
 * @throws UsageError naming the model when it has no layerMap (not a chain of dense layers).
 */
export function criticalityProbe(ctx: TrainContext, options: CriticalityOptions, due: (step: number) => boolean): Probe {
  const { model } = ctx;
  checkLayerMap(model, ctx.config);
  const L = model.layers.length;
  // The probe batch is capped at the training split's size, as probeIndices caps it.
  const n = Math.min(options.n_probe, ctx.data.train.size);
  const rng = new Rng(ctx.config.seed, 'criticality');
  const tangents = model.layers.slice(0, -1).map((layer) => tf.keep(unitRows(rng, n, layer.fanOut)));
  // grads "train": the norms of the step's gradients, kept until the measurement after that step.
  let trainNorms: { step: number; norms: tf.Scalar[] } | null = null;

  const releaseTrainNorms = () => {
    if (trainNorms) tf.dispose(trainNorms.norms);
    trainNorms = null;
  };

  return {
    measure(ctx, batch) {
      const out: Record<string, tf.Tensor | number> = {};
      const { preactivations } = model.forward(batch.x, true);

      const gains: tf.Scalar[] = [];
      for (let k = 0; k < L - 1; k++) {
        const gain = layerGain(model, k, preactivations[k]!, tangents[k]!);
        out[`chi1_l${k + 1}`] = gain;
        gains.push(gain);
      }
      // Hidden-to-hidden maps only: the map into the readout has another width ratio and no φ
      // after it, so it is not one step of the mean-field recursion.
      const hidden = L > 2 ? gains.slice(0, L - 2) : gains;
      if (hidden.length) {
        out.chi1 = tf.mean(tf.stack(hidden));
        out.chi1_geo = tf.exp(tf.mean(tf.log(tf.stack(hidden))));
      }

      const nj = Math.min(options.n_jacobian, batch.x.shape[0]!);
      if (nj > 0) {
        // The one readback besides the scalars: eigenvalues are taken on the host.
        const grams = jacobianGrams(model, tf.slice(batch.x, 0, nj)).dataSync();
        Object.assign(out, sv2Summary(grams, nj, model.outputDim));
      }

      let norms: tf.Scalar[] | null = null;
      if (options.grads === 'probe') {
        const { grads } = tf.variableGrads(() => ctx.loss(model.forward(batch.x).output, batch.y), model.params as tf.Variable[]);
        norms = weightGradNorms(
          model,
          model.params.map((p) => grads[p.name]!),
        );
      } else if (trainNorms && trainNorms.step === ctx.step) {
        // Kept tensors: the callback's tidy leaves them alone; they go at the next replacement.
        norms = trainNorms.norms;
      }
      if (norms) {
        norms.forEach((t, i) => (out[`grad_norm_l${i + 1}`] = t));
        out.grad_log_ratio = tf.log(tf.div(norms[L - 1]!, norms[0]!));
      }
      return out;
    },
    onGradients(ctx, grads) {
      if (options.grads !== 'train') return;
      // The step about to be applied is step ctx.step + 1: keep its norms only if that step is
      // measured, so the other steps cost nothing.
      const next = ctx.step + 1;
      if (!due(next)) return;
      releaseTrainNorms();
      trainNorms = { step: next, norms: weightGradNorms(model, grads).map((t) => tf.keep(t)) };
    },
    dispose() {
      tf.dispose(tangents);
      releaseTrainNorms();
    },
  };
}

callbacks.register('criticality', {
  description:
    'Criticality on a fixed probe batch: the layer-to-layer Jacobian gain chi1 (edge of chaos at 1; Poole et al. 2016, Schoenholz et al. 2017), the squared singular values of the input-output Jacobian (dynamical isometry; Pennington et al. 2017), and per-layer gradient norms. Needs a chain of dense layers (mlp). Jacobian-vector products by double VJP, never a materialised layer Jacobian.',
  kwargs: z.object({
    ...probeScheduleKwargs(32),
    n_jacobian: z.int().nonnegative().default(4).describe('probe inputs whose input-output Jacobian spectrum is measured (outputDim VJPs each; 0 = none)'),
    grads: z
      .enum(['probe', 'train'])
      .default('probe')
      .describe(
        'probe: gradient norms of the loss on the probe batch (one extra backward pass); train: the norms of the training step\'s own gradients (no extra pass), i.e. at the parameters before that step\'s update, on its training batch; the step-0 row then has none',
      ),
  }),
  logs: {
    'chi1_l<k>':
      '(n_k/n_{k+1})·mean over probe inputs of ‖J_k v‖²/‖v‖², J_k = ∂h_{k+1}/∂h_k, v a fixed random unit vector per input: = E‖J_k v‖²/‖v‖² for equal widths, the mean-field χ1 = σ_w² E[φ\'(h)²] whatever the widths; k = 1..L−1',
    chi1: 'arithmetic mean of chi1_l<k> over the hidden-to-hidden maps k = 1..L−2 (all maps if L = 2); 1 = edge of chaos',
    chi1_geo: 'geometric mean over the same maps: the per-layer growth of ‖J v‖² through the hidden stack',
    jac_sv2_mean: 'mean squared singular value of the input-output Jacobian ∂output/∂x over the first n_jacobian probe inputs',
    jac_sv2_max: 'largest squared singular value over those inputs',
    jac_sv2_cond: 'per input, largest over smallest nonzero (> 1e-6·largest, float32 rounding of a zero below) squared singular value, then the mean over inputs; ≈ 1 under dynamical isometry',
    'grad_norm_l<k>': "norm of the loss gradient w.r.t. layer k's weight (probe batch, or with grads \"train\" the training step's own gradient)",
    grad_log_ratio: 'ln(grad_norm_l<L> / grad_norm_l1): > 0 when gradients vanish towards the input, < 0 when they explode',
  },
  build: (options) =>
    probeCallback(options, (ctx, due) => criticalityProbe(ctx, options, due), { checkModel: checkLayerMap, readsGradients: options.grads === 'train' }),
});

// On the config too, so that a sweep pairing criticality with another model fails when it is expanded.
callbackConfigChecks.set('criticality', (config) => {
  if (!denseChainModels.has(config.model.name)) throw noLayerMaps(config.model.name);
});
