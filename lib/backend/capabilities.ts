import * as tf from '@tensorflow/tfjs-core';
import { wasmGemmInstalled } from './wasm/gemm.js';

// What the backend offers models, so that they ask here instead of importing its wasm internals.
// Apart from lib/backend/index.ts, so that a model loads no backend by asking.

export interface BackendCapabilities {
  /** The fused dense kernel (x·W + b, relu as its output clamp) is the faster way to a dense layer. */
  fusedDense: boolean;
  /** Matmuls with transposed operands run at full speed, so a gradient need not transpose explicitly. */
  fastTransposedMatmul: boolean;
}

/** What `backend` (the tfjs backend name; default: the current one) offers. */
export function backendCapabilities(backend: string = tf.getBackend()): BackendCapabilities {
  return { fusedDense: fusedDense(backend), fastTransposedMatmul: fastTransposedMatmul(backend) };
}

/** wasm only: other backends' fused kernel is no faster (cpu: the same loops in JS). */
export function fusedDense(backend: string = tf.getBackend()): boolean {
  return backend === 'wasm';
}

/** Everywhere but on wasm without our matmul kernels (lib/backend/wasm/gemm.ts), where they take a naive loop. */
export function fastTransposedMatmul(backend: string = tf.getBackend()): boolean {
  return backend !== 'wasm' || wasmGemmInstalled();
}
