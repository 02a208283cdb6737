import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { convNative, heapAddress } from './conv_native.js';
import { override } from './kernels.js';

/**
 * The gradients of 2-D max and average pooling on the wasm backend, as one pass over the pooled
 * windows that scatters each dy value onto the pixels it came from (native/conv.c, through
 * lib/backend/wasm/conv_native.ts). tfjs-backend-wasm 4.22's own kernels loop over every input
 * pixel and, for each, over every window that could contain it, recomputing the window's maximum
 * each time: 31 ms (max) and 13 ms (average) for a 2x2 pool of a [128, 28, 28, 16] batch, more
 * than the convolutions of a small conv net took.
 *
 * Same values as tfjs's cpu kernels: a window's maximum is its first largest pixel in row-major
 * order (ties, such as the zeros after a relu, go to the first), and the average's gradient
 * divides by the full window size, padding included. float32, NHWC, dilation 1; other cases go
 * to the backend's own kernels.
 */
export function installWasmPoolGrad(): void {
  if (installed) return;
  override(tf.MaxPoolGrad, (args, own) => poolGrad(args, own, 'max'));
  override(tf.AvgPoolGrad, (args, own) => poolGrad(args, own, 'avg'));
  installed = true;
}

let installed = false;

type KernelArgs = Parameters<tf.KernelFunc>[0];
type KernelResult = ReturnType<tf.KernelFunc>;

interface PoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function poolGrad(args: KernelArgs, own: tf.KernelFunc, kind: 'max' | 'avg'): KernelResult {
  const { dy, input } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  if (!dy || !input || dy.dtype !== 'float32' || input.dtype !== 'float32' || input.shape.length !== 4) return own(args);
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as PoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  if (dy.shape.some((d, i) => d !== info.outShape[i])) return own(args);
  const backend = args.backend as BackendWasm;
  const native = convNative(backend);
  const dx = backend.makeOutput(input.shape, 'float32');
  const at = (t: tf.TensorInfo) => heapAddress(backend, t);
  if (kind === 'max') native.maxPoolGrad(at(input), at(dy), at(dx), info);
  else native.avgPoolGrad(at(dy), at(dx), info);
  return dx;
}
