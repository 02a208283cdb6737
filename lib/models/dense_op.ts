import * as tf from '@tensorflow/tfjs-core';
import { backendCapabilities } from '../backend/capabilities.js';

/**
 * The dense layer as one op, a = act(x·W + b), fast on the wasm backend in both directions.
 *
 * Why: tfjs-backend-wasm hands a matmul to XNNPACK only when neither operand is transposed and
 * both have batch 1; anything else takes a naive loop about 30x slower. The gradients of a plain
 * `matMul` are transposed matmuls (dW = xᵀ·g, dx = g·Wᵀ), so on wasm the backward pass ran almost
 * entirely on that loop. Here the forward pass is one `_FusedMatMul` kernel (XNNPACK's fully
 * connected operator with the bias, and relu as its output clamp), and the registered gradient
 * below transposes explicitly (a cheap copy) so that every matmul of the backward pass is a plain
 * one too. `tf.fused.matMul` is not used: its gradient is a customGrad that computes the
 * transposed matmuls, and computes dx even for the data batch, which nobody asked for; a
 * registered gradient returns thunks, and the tape only calls those on the path to a variable.
 *
 * Other backends take the plain formulation (matMul, add, activation): the cpu backend's fused
 * kernel is the same loops in JS, and native TensorFlow transposes for free.
 */

/** Activations the fused kernel applies itself; others run as a separate op after a linear one. */
export type FusedActivation = 'linear' | 'relu';

export interface DenseOptions {
  /** Force the fused kernel on (tests on cpu) or off; default: on where it is faster (wasm). */
  fused?: boolean;
}

/** act(x·W + b) for x [batch, fanIn], W [fanIn, fanOut], b [fanOut] or null. */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D | null, activation: FusedActivation, options: DenseOptions = {}): tf.Tensor2D {
  const fused = options.fused ?? backendCapabilities().fusedDense;
  if (!fused) {
    const xw = tf.matMul<tf.Tensor2D>(x, w);
    const h = b ? tf.add<tf.Tensor2D>(xw, b) : xw;
    return activation === 'relu' ? tf.relu(h) : h;
  }
  const [batch, fanIn] = x.shape;
  const fanOut = w.shape[1];
  // The kernel takes rank-3 operands (a batch of matrices); a reshape is free on every backend.
  const inputs: tf.NamedTensorMap = { a: tf.reshape(x, [1, batch, fanIn]), b: tf.reshape(w, [1, fanIn, fanOut]) };
  if (b) inputs.bias = b;
  const y = tf.engine().runKernel(FUSED_MATMUL, inputs, { transposeA: false, transposeB: false, activation, leakyreluAlpha: 0 }) as tf.Tensor3D;
  return tf.reshape(y, [batch, fanOut]);
}

const FUSED_MATMUL = '_FusedMatMul';

/**
 * x·y (rank 3, batch 1) with either operand transposed; on wasm the transposes are materialised so
 * that XNNPACK runs it. XNNPACK repacks its right operand on every call (the weights of its fully
 * connected operator, which change every step), at about 2.3 times the cost of a transpose per
 * element, so x·yᵀ is computed as (y·xᵀ)ᵀ when that packs and moves fewer elements: dx = g·Wᵀ
 * of a 256x256 layer at batch 128 then packs gᵀ (32K) instead of Wᵀ (65K).
 */
function matMul3(x: tf.Tensor3D, y: tf.Tensor3D, transposeX: boolean, transposeY: boolean): tf.Tensor3D {
  // Where the backend's matMul takes transposed operands at full speed, the flags pass through.
  if (backendCapabilities().fastTransposedMatmul) return tf.matMul(x, y, transposeX, transposeY);
  const t = (z: tf.Tensor3D) => tf.transpose(z, [0, 2, 1]);
  if (!transposeX && transposeY) {
    const [, m, n] = x.shape;
    const k = y.shape[1];
    if (PACK_COST * m * n + m * k < (PACK_COST + 1) * k * n) return t(tf.matMul(y, t(x)));
  }
  return tf.matMul(transposeX ? t(x) : x, transposeY ? t(y) : y);
}

/** Packing an element for XNNPACK against transposing one, as measured on tfjs-backend-wasm 4.22. */
const PACK_COST = 2.3;

/**
 * The gradient of `_FusedMatMul` when it is run directly (as `dense` does). tfjs registers none:
 * tf.fused.matMul brings its own customGrad, and kernels run inside a customGrad are not taped,
 * so this registration changes nothing for it. Covers what `dense` uses and the transposed
 * variants; batch broadcasting, non-vector biases and other activations fail loudly.
 */
function registerFusedMatMulGradient(): void {
  if (tf.getGradient(FUSED_MATMUL)) return;
  tf.registerGradient({
    kernelName: FUSED_MATMUL,
    inputsToSave: ['a', 'b'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [a, b, y] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
      const { transposeA, transposeB, activation } = attrs as { transposeA: boolean; transposeB: boolean; activation: string };
      if (a.shape[0] !== b.shape[0]) throw new Error(`${FUSED_MATMUL} gradient: batch dims ${a.shape[0]} and ${b.shape[0]} must be equal`);
      let g = dy as tf.Tensor3D;
      // relu' read off the output: y > 0 exactly where h > 0, so this is tfjs's own relu gradient (0 at 0).
      if (activation === 'relu') g = tf.mul(g, tf.step(y));
      else if (activation !== 'linear') throw new Error(`${FUSED_MATMUL} gradient: activation "${activation}" is not supported (linear, relu)`);
      return {
        a: () => (transposeA ? matMul3(b, g, transposeB, true) : matMul3(g, b, false, !transposeB)),
        b: () => (transposeB ? matMul3(g, a, true, transposeA) : matMul3(a, g, !transposeA, false)),
        bias: () => tf.sum(g, [0, 1]),
      };
    },
  });
}

registerFusedMatMulGradient();
