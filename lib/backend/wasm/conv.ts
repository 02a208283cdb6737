import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { convNative, type ConvNative } from './conv_native.js';
import { wasmMatmul, type WasmMatmul } from './gemm.js';
import { PatchCache } from './patch_cache.js';

/**
 * 2-D convolutions on the wasm backend as one matmul each, on native/gemm.c's kernels (and their
 * thread pool) through lib/backend/wasm/gemm.ts, with the patch matrix built and folded back by
 * native/conv.c (lib/backend/wasm/conv_native.ts). With P = batch·outHeight·outWidth output
 * pixels, K = kh·kw·cIn taps and the filter read as W[K, cOut]:
 *   Conv2D / FusedConv2D    y[P, cOut]  = cols[P, K] · W            (nn; + bias, relu fused)
 *   Conv2DBackpropInput     dx          = col2im(dy[P, cOut] · Wᵀ)  (nn on W transposed)
 *   Conv2DBackpropFilter    dW[K, cOut] = cols[P, K]ᵀ · dy          (tn)
 * A 1x1 filter at stride 1 without padding needs no patch matrix: x itself is cols. Under a
 * gradient tape the forward pass keeps its patch matrix for the filter gradient (patch_cache.ts).
 *
 * Why: tfjs-backend-wasm 4.22 registers no Conv2DBackpropFilter at all, so no conv net could
 * train on wasm, and its Conv2DBackpropInput is a scalar loop.
 *
 * Handled: float32, NHWC, dilation 1, any stride and padding ('same', 'valid', explicit). Conv2D,
 * FusedConv2D and Conv2DBackpropInput leave the rest to the backend's own kernels; a filter
 * gradient outside that range fails with a message saying what is supported, since the backend
 * has none to fall back on.
 */
export function installWasmConv(backend: BackendWasm): void {
  if (current?.backend === backend) return;
  const matmul = wasmMatmul(backend);
  if (!matmul) throw new Error('installWasmConv: the wasm matmuls (installWasmGemm) must be installed first, on the same backend');
  // A backend made anew (another thread count in tests) gets kernels bound to its own heap.
  current = new Conv(backend, matmul, convNative(backend));
  if (registered) return;
  registered = true;
  for (const name of [tf.Conv2D, tf.FusedConv2D, tf.Conv2DBackpropInput, tf.Conv2DBackpropFilter]) {
    const own = tf.getKernel(name, 'wasm');
    if (own) tf.unregisterKernel(name, 'wasm');
    // Keeps the backend's setup and dispose, which it runs when it starts and ends.
    tf.registerKernel({ ...(own ?? { kernelName: name, backendName: 'wasm' }), kernelFunc: (args) => dispatch(name, args, own?.kernelFunc) });
  }
}

let current: Conv | null = null;
let registered = false;

/**
 * For tests: convolutions (forward, input gradient, filter gradient) computed here, not by the
 * backend's kernels; patch matrices kept now, and handed from a forward pass to its filter gradient so far.
 */
export function wasmConvStats(): { forward: number; backpropInput: number; backpropFilter: number; keptPatches: number; reusedPatches: number } | null {
  return current ? { ...current.counts, keptPatches: current.patches.size, reusedPatches: current.patches.hits } : null;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];
type KernelResult = ReturnType<tf.KernelFunc>;
type OwnKernel = tf.KernelFunc | undefined;

function dispatch(name: string, args: KernelArgs, own: OwnKernel): KernelResult {
  const conv = current;
  if (!conv || args.backend !== conv.backend) {
    if (own) return own(args);
    throw new Error(`${name}: no kernel for this wasm backend instance`);
  }
  switch (name) {
    case tf.Conv2D:
      return conv.forward(args, own!, false);
    case tf.FusedConv2D:
      return conv.forward(args, own!, true);
    case tf.Conv2DBackpropInput:
      return conv.backpropInput(args, own!);
    default:
      return conv.backpropFilter(args);
  }
}

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  inputShape?: [number, number, number, number];
  filterShape?: [number, number, number, number];
}

class Conv {
  readonly counts = { forward: 0, backpropInput: 0, backpropFilter: 0 };
  /** Forward patch matrices kept for the filter gradients. */
  readonly patches: PatchCache;

  constructor(
    readonly backend: BackendWasm,
    private readonly matmul: WasmMatmul,
    private readonly native: ConvNative,
  ) {
    this.patches = new PatchCache(backend);
  }

  /** y = conv(x, filter) (+ bias) (relu); anything else goes to the backend's kernel. */
  forward(args: KernelArgs, own: tf.KernelFunc, fused: boolean): KernelResult {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const attrs = args.attrs as unknown as ConvAttrs;
    const activation = fused ? (attrs.activation ?? 'linear') : 'linear';
    if (!x || !filter || x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4 || filter.shape.length !== 4) return own(args);
    if (preluActivationWeights || (activation !== 'linear' && activation !== 'relu')) return own(args);
    const info = this.geometry(x.shape, filter.shape, attrs, attrs.dilations ?? 1);
    if (!info) return own(args);
    const cOut = info.outChannels;
    // A bias of one value per output channel, the case tf.fused.conv2d makes of a conv layer's.
    if (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== cOut)) return own(args);
    const out = this.backend.makeOutput(info.outShape, 'float32');
    this.counts.forward++;
    const rows = patchRows(info);
    const taps = patchCols(info);
    if (rows * cOut === 0) return out;
    if (taps === 0) return this.fill(out, 0);
    const m = this.matmul;
    const biasAt = bias ? m.address(bias) : 0;
    const relu = activation === 'relu';
    if (isPointwise(info)) {
      m.multiply('nn', m.address(x), m.address(filter), biasAt, m.address(out), rows, taps, cOut, relu);
      return out;
    }
    const cols = this.backend.makeOutput([rows, taps], 'float32');
    const keep = this.patches.wants(4 * rows * taps);
    try {
      // A block of rows at a time, multiplied while it is still in cache: the nn kernel reads its
      // left operand once per 8 output channels, which for a whole patch matrix meant RAM.
      const block = blockRows(taps, cOut);
      const [colsAt, filterAt, outAt] = [m.address(cols), m.address(filter), m.address(out)];
      for (let r0 = 0; r0 < rows; r0 += block) {
        const r1 = Math.min(rows, r0 + block);
        this.native.im2col(m.address(x), colsAt, info, r0, r1);
        m.multiply('nn', colsAt + 4 * r0 * taps, filterAt, biasAt, outAt + 4 * r0 * cOut, r1 - r0, taps, cOut, relu);
      }
    } catch (err) {
      this.backend.disposeData(cols.dataId);
      throw err;
    }
    if (keep) this.patches.put(x, info, cols, 4 * rows * taps);
    else this.backend.disposeData(cols.dataId);
    return out;
  }

  /** dx = the gradient of conv(x, filter) with respect to x, for dy; other cases go to the backend's kernel. */
  backpropInput(args: KernelArgs, own: tf.KernelFunc): KernelResult {
    const { dy, filter } = args.inputs as Record<string, tf.TensorInfo>;
    const attrs = args.attrs as unknown as ConvAttrs;
    if (dy!.dtype !== 'float32' || filter!.dtype !== 'float32' || !attrs.inputShape) return own(args);
    const info = this.geometry(attrs.inputShape, filter!.shape, attrs, 1);
    if (!info || !sameShape(dy!.shape, info.outShape)) return own(args);
    const dx = this.backend.makeOutput(info.inShape, 'float32');
    this.counts.backpropInput++;
    const rows = patchRows(info);
    const taps = patchCols(info);
    const cOut = info.outChannels;
    if (taps === 0) return dx;
    if (rows === 0 || cOut === 0) return this.fill(dx, 0);
    const m = this.matmul;
    // Wᵀ [cOut, K] is small; the nn kernel runs a short shared dimension (cOut) far faster than nt's dot products.
    const wt = this.backend.makeOutput([cOut, taps], 'float32');
    try {
      m.transpose(m.address(filter!), m.address(wt), taps, cOut);
      if (isPointwise(info)) {
        m.multiply('nn', m.address(dy!), m.address(wt), 0, m.address(dx), rows, cOut, taps, false);
        return dx;
      }
      // dy·Wᵀ a block of rows at a time, each folded back onto dx while it is in cache: the
      // whole product would be K/cOut times the size of dy, and the nn kernel reads dy once per
      // 8 of its columns.
      const block = blockRows(taps, cOut);
      const cols = this.backend.makeOutput([Math.min(block, rows), taps], 'float32');
      try {
        const [dyAt, wtAt, colsAt, dxAt] = [m.address(dy!), m.address(wt), m.address(cols), m.address(dx)];
        this.native.zero(dxAt, tf.util.sizeFromShape(info.inShape));
        for (let r0 = 0; r0 < rows; r0 += block) {
          const r1 = Math.min(rows, r0 + block);
          m.multiply('nn', dyAt + 4 * r0 * cOut, wtAt, 0, colsAt, r1 - r0, cOut, taps, false);
          this.native.col2im(colsAt, dxAt, info, r0, r1);
        }
      } finally {
        this.backend.disposeData(cols.dataId);
      }
    } finally {
      this.backend.disposeData(wt.dataId);
    }
    return dx;
  }

  /** dW = the gradient of conv(x, W) with respect to W, for dy. The backend has no kernel of its own to fall back on. */
  backpropFilter(args: KernelArgs): KernelResult {
    const { x, dy } = args.inputs as Record<string, tf.TensorInfo>;
    const attrs = args.attrs as unknown as ConvAttrs;
    const what = `Conv2DBackpropFilter on wasm (lib/backend/wasm/conv.ts)`;
    if (x!.dtype !== 'float32' || dy!.dtype !== 'float32') throw new Error(`${what}: float32 only, got x ${x!.dtype} and dy ${dy!.dtype}`);
    if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') throw new Error(`${what}: NHWC only, got dataFormat ${attrs.dataFormat}`);
    if (!attrs.filterShape || x!.shape.length !== 4) throw new Error(`${what}: needs a 4-D x and a filterShape, got x [${x!.shape.join(', ')}]`);
    if (attrs.filterShape[2] !== x!.shape[3]) throw new Error(`${what}: filterShape [${attrs.filterShape.join(', ')}] takes ${attrs.filterShape[2]} input channels, x has ${x!.shape[3]}`);
    const info = this.geometry(x!.shape, attrs.filterShape, attrs, 1);
    if (!info) throw new Error(`${what}: unsupported attributes ${JSON.stringify(attrs)}`);
    if (!sameShape(dy!.shape, info.outShape)) throw new Error(`${what}: dy has shape [${dy!.shape.join(', ')}], the convolution's output [${info.outShape.join(', ')}]`);
    const rows = patchRows(info);
    const taps = patchCols(info);
    const cOut = info.outChannels;
    const dw = this.backend.makeOutput(info.filterShape, 'float32');
    this.counts.backpropFilter++;
    if (taps * cOut === 0) return dw;
    if (rows === 0) return this.fill(dw, 0);
    const m = this.matmul;
    if (isPointwise(info)) {
      m.multiply('tn', m.address(x!), m.address(dy!), 0, m.address(dw), taps, rows, cOut, false);
      return dw;
    }
    // The forward pass's patch matrix when it kept it, else built anew.
    let cols = this.patches.take(x!, info);
    if (!cols) {
      cols = this.backend.makeOutput([rows, taps], 'float32');
      this.native.im2col(m.address(x!), m.address(cols), info, 0, rows);
    }
    try {
      m.multiply('tn', m.address(cols), m.address(dy!), 0, m.address(dw), taps, rows, cOut, false);
    } finally {
      this.backend.disposeData(cols.dataId);
    }
    return dw;
  }

  /** The convolution's geometry if this file handles it (NHWC, dilation 1, matching channels), else null. */
  private geometry(inShape: readonly number[], filterShape: readonly number[], attrs: ConvAttrs, dilations: [number, number] | number): tf.backend_util.Conv2DInfo | null {
    if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC') return null;
    // The ops check this; a kernel run directly must not read the filter past its end.
    if (inShape.length !== 4 || filterShape.length !== 4 || filterShape[2] !== inShape[3]) return null;
    const [dh, dw] = typeof dilations === 'number' ? [dilations, dilations] : dilations;
    if (dh !== 1 || dw !== 1) return null;
    return tf.backend_util.computeConv2DInfo(
      inShape as [number, number, number, number],
      filterShape as [number, number, number, number],
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
  }

  private view(t: tf.TensorInfo): Float32Array {
    return this.backend.typedArrayFromHeap(t) as Float32Array;
  }

  private fill(t: tf.TensorInfo, value: number): tf.TensorInfo {
    this.view(t).fill(value);
    return t;
  }
}

/**
 * Rows of the patch matrix per block of a forward pass or an input gradient: as many as make
 * BLOCK_BYTES of it, whole multiples of 8 (the pool shares rows by 4s per thread).
 */
function blockRows(taps: number, cOut: number): number {
  return Math.max(8, Math.floor(BLOCK_BYTES / (4 * Math.max(taps, cOut)) / 8) * 8);
}

/**
 * A block of the patch matrix that stays in a core's L2 cache while it is multiplied, and big
 * enough (2M multiply-adds for the bench's second layer) that the product is shared with the
 * pool. Whole matrices took twice as long for that layer: 12 ms against 6 ms on a loaded machine.
 */
const BLOCK_BYTES = 256 * 1024;

/** Rows of the patch matrix: one per output pixel. */
function patchRows(g: tf.backend_util.Conv2DInfo): number {
  return g.batchSize * g.outHeight * g.outWidth;
}

/** Columns of the patch matrix: one per filter tap and input channel, the filter's rows read as a [taps, cOut] matrix. */
function patchCols(g: tf.backend_util.Conv2DInfo): number {
  return g.filterHeight * g.filterWidth * g.inChannels;
}

/** A 1x1 filter at stride 1 without padding: the patch matrix is the input itself. */
function isPointwise(g: tf.backend_util.Conv2DInfo): boolean {
  return g.filterHeight === 1 && g.filterWidth === 1 && g.strideHeight === 1 && g.strideWidth === 1 && g.padInfo.top === 0 && g.padInfo.left === 0;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
