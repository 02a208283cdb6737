import { readFileSync } from 'node:fs';
import type * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { packagePath } from '../../package_dir.js';
import { heapMemory } from './gemm.js';

/**
 * native/conv.c on a wasm backend's heap: the patch matrix of a convolution and its adjoint
 * (lib/backend/wasm/conv.ts), the pooling gradients (lib/backend/wasm/pool_grad.ts) and a
 * per-channel sum (lib/backend/wasm/bias_grad.ts). Every
 * address is a byte address in the heap; every geometry is tfjs's own (backend_util's
 * Conv2DInfo), NHWC, dilation 1. The module is compiled once per kind of memory and instantiated
 * once per backend.
 */
export interface ConvNative {
  /**
   * Rows [r0, r1) of cols[P, K] (the whole matrix's address): each output pixel's input patch,
   * P = batch·outHeight·outWidth, K = filterHeight·filterWidth·inChannels; zeros over the padding.
   */
  im2col(x: number, cols: number, g: tf.backend_util.Conv2DInfo, r0: number, r1: number): void;
  /** dx[batch, inHeight, inWidth, inChannels] += im2col's adjoint of rows [r0, r1) of the patch matrix, `block` the address of row r0. */
  col2im(block: number, dx: number, g: tf.backend_util.Conv2DInfo, r0: number, r1: number): void;
  /** dst[0, n) = 0 (float32). */
  zero(dst: number, n: number): void;
  /** dx = dy of each window onto its first largest pixel per channel (tfjs cpu's choice among ties). */
  maxPoolGrad(x: number, dy: number, dx: number, g: tf.backend_util.Conv2DInfo): void;
  /** dx = dy of each window / (filterHeight·filterWidth) onto each of its pixels inside the image. */
  avgPoolGrad(dy: number, dx: number, g: tf.backend_util.Conv2DInfo): void;
  /** out[cols] = the column sums of x[rows, cols]. */
  sumRows(x: number, out: number, rows: number, cols: number): void;
}

/** native/conv.c's kernels on `backend`'s heap, instantiated on first use. */
export function convNative(backend: BackendWasm): ConvNative {
  let native = instances.get(backend);
  if (!native) {
    const memory = heapMemory(backend);
    const shared = memory.buffer instanceof SharedArrayBuffer;
    modules[shared ? 1 : 0] ??= new WebAssembly.Module(readFileSync(packagePath('native', shared ? 'conv_shared.wasm' : 'conv.wasm')));
    const exports = new WebAssembly.Instance(modules[shared ? 1 : 0]!, { env: { memory } }).exports as unknown as ConvExports;
    native = wrap(exports);
    instances.set(backend, native);
  }
  return native;
}

/** The byte address of a tensor's data in `backend`'s heap. */
export function heapAddress(backend: BackendWasm, t: tf.TensorInfo): number {
  return (backend as unknown as { dataIdMap: { get(id: unknown): { memoryOffset: number } } }).dataIdMap.get(t.dataId).memoryOffset;
}

const instances = new WeakMap<BackendWasm, ConvNative>();
const modules: (WebAssembly.Module | undefined)[] = [undefined, undefined];

type Int = number;
interface ConvExports {
  im2col(x: Int, cols: Int, H: Int, W: Int, C: Int, OH: Int, OW: Int, KH: Int, KW: Int, SH: Int, SW: Int, top: Int, left: Int, r0: Int, r1: Int): void;
  col2im(block: Int, dx: Int, H: Int, W: Int, C: Int, OH: Int, OW: Int, KH: Int, KW: Int, SH: Int, SW: Int, top: Int, left: Int, r0: Int, r1: Int): void;
  fill_zero(dst: Int, n: Int): void;
  max_pool_grad(x: Int, dy: Int, dx: Int, N: Int, H: Int, W: Int, C: Int, OH: Int, OW: Int, FH: Int, FW: Int, SH: Int, SW: Int, top: Int, left: Int): void;
  avg_pool_grad(dy: Int, dx: Int, N: Int, H: Int, W: Int, C: Int, OH: Int, OW: Int, FH: Int, FW: Int, SH: Int, SW: Int, top: Int, left: Int, scale: number): void;
  sum_rows(x: Int, out: Int, rows: Int, cols: Int): void;
}

function wrap(k: ConvExports): ConvNative {
  return {
    im2col(x, cols, g, r0, r1) {
      k.im2col(x, cols, g.inHeight, g.inWidth, g.inChannels, g.outHeight, g.outWidth, g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth, g.padInfo.top, g.padInfo.left, r0, r1);
    },
    col2im(block, dx, g, r0, r1) {
      k.col2im(block, dx, g.inHeight, g.inWidth, g.inChannels, g.outHeight, g.outWidth, g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth, g.padInfo.top, g.padInfo.left, r0, r1);
    },
    zero(dst, n) {
      k.fill_zero(dst, n);
    },
    maxPoolGrad(x, dy, dx, g) {
      k.max_pool_grad(x, dy, dx, g.batchSize, g.inHeight, g.inWidth, g.inChannels, g.outHeight, g.outWidth, g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth, g.padInfo.top, g.padInfo.left);
    },
    avgPoolGrad(dy, dx, g) {
      const scale = 1 / (g.filterHeight * g.filterWidth);
      k.avg_pool_grad(dy, dx, g.batchSize, g.inHeight, g.inWidth, g.inChannels, g.outHeight, g.outWidth, g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth, g.padInfo.top, g.padInfo.left, scale);
    },
    sumRows(x, out, rows, cols) {
      k.sum_rows(x, out, rows, cols);
    },
  };
}
