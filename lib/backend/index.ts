import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';
import { UsageError } from '../errors.js';
import { defaultThreads } from './threads.js';
import { installWasmBiasGrad } from './wasm/bias_grad.js';
import { installWasmConv } from './wasm/conv.js';
import { installWasmGemm } from './wasm/gemm.js';
import { installWasmKernels } from './wasm/kernels.js';
import { installWasmPoolGrad } from './wasm/pool_grad.js';
import { confineThreadsToMatmuls, registerThreadedWasm, wasmThreads } from './wasm/threads.js';

export { backendCapabilities, fastTransposedMatmul, fusedDense, type BackendCapabilities } from './capabilities.js';

export const BACKENDS = ['auto', 'node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

/** What each choice needs installed, and the tfjs backend name it registers. */
const NATIVE = {
  'node-gpu': { pkg: '@tensorflow/tfjs-node-gpu', tfName: 'tensorflow' },
  node: { pkg: '@tensorflow/tfjs-node', tfName: 'tensorflow' },
} as const;

export const NATIVE_INSTALL_HINT =
  'npm install --no-save @tensorflow/tfjs-node-gpu@4.22.0 (GPU host) or npm install --no-save @tensorflow/tfjs-node@4.22.0 (native CPU)';

export interface BackendInfo {
  /** The choice that took effect: node-gpu | node | wasm | cpu. */
  name: Exclude<BackendChoice, 'auto'>;
  /** tfjs's own backend name (tensorflow | wasm | cpu). */
  tfName: string;
  /** wasm only: the threads its matmuls run on. */
  threads?: number;
}

// Production mode only silences tfjs's console advice (e.g. "install tfjs-node"), which the
// README gives properly; it disables no correctness check.
tf.env().set('PROD', true);

let active: BackendInfo | null = null;

/**
 * Selects the tensor backend: `auto` takes the best one present (node-gpu > node > wasm > cpu).
 * Forcing a backend that is not installed is a UsageError that says how to install it.
 */
export async function useBackend(choice: BackendChoice = 'auto', opts: { threads?: number } = {}): Promise<BackendInfo> {
  await registerGradients();
  if (!BACKENDS.includes(choice)) {
    throw new UsageError(`unknown backend "${choice}"; choose one of ${BACKENDS.join(', ')}`);
  }
  if (active && (choice === 'auto' || choice === active.name)) return active;
  const order: Exclude<BackendChoice, 'auto'>[] = choice === 'auto' ? ['node-gpu', 'node', 'wasm', 'cpu'] : [choice];
  for (const name of order) {
    // Read only for wasm: a bad DLPHYS_THREADS must not stop a run on another backend.
    const tfName = await load(name, choice !== 'auto', () => opts.threads ?? defaultThreads());
    if (tfName && (await tf.setBackend(tfName))) {
      await tf.ready();
      active = { name, tfName };
      if (tfName === 'wasm') {
        // The fast kernels: wasm's own Identity and row gather do needless work every step.
        installWasmKernels();
        // wasm's pooling gradients recompute every window's maximum for every pixel, and its
        // sum over all but the channel axis (a conv bias's gradient) transposes first.
        installWasmPoolGrad();
        installWasmBiasGrad();
        active.threads = wasmThreads();
        if (active.threads > 1) confineThreadsToMatmuls(tf.backend() as BackendWasm);
        installWasmGemm(tf.backend() as BackendWasm, active.threads);
        // Convolutions as matmuls on those kernels: the backend has no filter gradient of its own.
        installWasmConv(tf.backend() as BackendWasm);
      }
      return active;
    }
  }
  throw new Error(`no tensor backend could be initialised (tried ${order.join(', ')})`);
}

/**
 * tfjs-core registers no gradients by itself, and its ESM sources do not load under Node; the
 * `prepare` script bundles them (esbuild) into lib/generated/tfjs_gradients.js, which registers
 * them into tfjs's global registry. That costs ~30 ms, where the @tensorflow/tfjs umbrella package
 * (layers, converter, webgl...) costs ~500 ms at every process start.
 */
async function registerGradients(): Promise<void> {
  try {
    // @ts-expect-error -- generated at install time, untyped
    await import('../generated/tfjs_gradients.js');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new UsageError('lib/generated/tfjs_gradients.js is missing: run npm install (its prepare step builds it)');
  }
}

export function activeBackend(): BackendInfo | null {
  return active;
}

async function load(name: Exclude<BackendChoice, 'auto'>, forced: boolean, wasmThreadCount: () => number): Promise<string | null> {
  if (name === 'cpu') return 'cpu';
  if (name === 'wasm') {
    const threads = wasmThreadCount();
    await import('@tensorflow/tfjs-backend-wasm');
    // One thread: the package's own single-threaded SIMD build, which starts no workers.
    if (threads > 1) registerThreadedWasm(threads);
    return 'wasm';
  }
  const { pkg, tfName } = NATIVE[name];
  try {
    await import(pkg);
    return tfName;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND';
    if (!forced) return null;
    if (missing) throw new UsageError(`backend ${name} needs ${pkg}, which is not installed; add it with: ${NATIVE_INSTALL_HINT}`);
    throw new UsageError(`backend ${name}: ${pkg} failed to load: ${(err as Error).message.split('\n')[0]}`);
  }
}
