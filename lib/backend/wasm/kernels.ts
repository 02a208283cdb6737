import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Kernels that replace tfjs-backend-wasm's own where those do needless work on every training
 * step. Same results, value for value: each one only moves data, and falls back to the backend's
 * kernel for anything but the case it speeds up.
 *
 * - Identity: tfjs clones (Identity) every tensor that a gradient saves for the backward pass,
 *   and wasm's Identity copies the buffer, so a step of an MLP copied its input batch and every
 *   weight matrix several times. This one shares the buffer under a reference count, as the cpu
 *   backend's does; that is safe because tfjs tensors are immutable (no kernel writes into an
 *   input, and a variable's assign takes a new buffer).
 * - GatherV2 along axis 0 (a batch of rows, what BatchSampler does every step): wasm's kernel
 *   converts every output element's offset to coordinates and back, allocating as it goes, about
 *   3.5 ms for 128 rows of 784 floats; this one copies whole rows, about 0.05 ms.
 */
export function installWasmKernels(): void {
  if (installed) return;
  override(tf.Identity, (args, own) => {
    const x = args.inputs.x as tf.TensorInfo;
    // Strings live on the JS side; the backend's own kernel handles them.
    if (x.dtype === 'string') return own(args);
    (args.backend as BackendWasm).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
  override(tf.GatherV2, (args, own) => {
    const x = args.inputs.x as tf.TensorInfo;
    const indices = args.inputs.indices as tf.TensorInfo;
    const { axis, batchDims } = args.attrs as unknown as tf.GatherV2Attrs;
    const rowDtypes = ['float32', 'int32', 'bool'];
    if (x.shape.length === 0 || tf.util.parseAxisParam(axis, x.shape)[0] !== 0 || batchDims !== 0 || !rowDtypes.includes(x.dtype)) return own(args);
    const backend = args.backend as BackendWasm;
    const rows = backend.readSync(indices.dataId) as Int32Array;
    const count = x.shape[0]!;
    for (const row of rows) {
      // The backend kernel's own check and message.
      tf.util.assert(row <= count - 1 && row >= 0, () => `GatherV2: the index value ${row} is not in [0, ${count - 1}]`);
    }
    const rowSize = tf.util.sizeFromShape(x.shape.slice(1));
    const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    // Views after the allocation: growing the heap replaces its buffer.
    const src = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out);
    rows.forEach((row, i) => dst.set(src.subarray(row * rowSize, (row + 1) * rowSize), i * rowSize));
    return out;
  });
  installed = true;
}

let installed = false;

type KernelArgs = Parameters<tf.KernelFunc>[0];
type KernelResult = ReturnType<tf.KernelFunc>;

/** Registers `kernel` for wasm in place of the backend's own, which it may call for the cases it leaves alone. */
export function override(name: string, kernel: (args: KernelArgs, own: tf.KernelFunc) => KernelResult): void {
  const own = tf.getKernel(name, 'wasm');
  if (!own) return;
  tf.unregisterKernel(name, 'wasm');
  // Keeps the kernel's setup and dispose, which the backend runs when it starts and ends.
  tf.registerKernel({ ...own, kernelFunc: (args) => kernel(args, own.kernelFunc) });
}
