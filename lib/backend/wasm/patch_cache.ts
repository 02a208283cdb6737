import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Patch matrices that a forward convolution built, kept for its filter gradient, which needs the
 * same matrix (dW = colsᵀ·dy) a few kernels later: building it again cost about 1 ms per million
 * values, 2.7 ms a step of the bench's conv net. Only while a gradient tape records (so never in
 * evaluation or inference), only while the input tensor lives, taken once, and never more than
 * MAX_BYTES in all.
 *
 * An entry is valid for as long as its input's dataId exists: tfjs tensors are immutable and a
 * dataId is never reused, so the same dataId and geometry mean the same patch matrix.
 */
export class PatchCache {
  private readonly entries: Entry[] = [];
  private bytes = 0;
  /** Matrices handed back to a filter gradient so far (for tests). */
  hits = 0;

  constructor(private readonly backend: BackendWasm) {}

  /** Whether a patch matrix of `bytes` for a forward pass now would be kept (a tape records, and it fits). */
  wants(bytes: number): boolean {
    this.prune();
    return tf.engine().state.gradientDepth > 0 && bytes <= MAX_BYTES;
  }

  /** Keeps `cols` (which the cache now owns) as the patch matrix of `x` under `geometry`. */
  put(x: tf.TensorInfo, geometry: tf.backend_util.Conv2DInfo, cols: tf.TensorInfo, bytes: number): void {
    const key = keyOf(geometry);
    // The same input convolved again (a filter nobody differentiates, an input kept across steps): one copy is enough.
    const same = this.entries.findIndex((e) => e.x === x.dataId && e.key === key);
    if (same >= 0) this.drop(same);
    while (this.entries.length && this.bytes + bytes > MAX_BYTES) this.drop(0);
    this.entries.push({ x: x.dataId, key, cols, bytes });
    this.bytes += bytes;
  }

  /** The patch matrix of `x` under `geometry`, which the caller now owns (and must dispose), or null. */
  take(x: tf.TensorInfo, geometry: tf.backend_util.Conv2DInfo): tf.TensorInfo | null {
    this.prune();
    const key = keyOf(geometry);
    const i = this.entries.findIndex((e) => e.x === x.dataId && e.key === key);
    if (i < 0) return null;
    const [entry] = this.entries.splice(i, 1);
    this.bytes -= entry!.bytes;
    this.hits++;
    return entry!.cols;
  }

  /** Entries held now (for tests). */
  get size(): number {
    return this.entries.length;
  }

  /** Frees the matrices of inputs that were disposed: their gradient will never be asked for. */
  private prune(): void {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (!this.backend.dataIdMap.has(this.entries[i]!.x)) this.drop(i);
    }
  }

  private drop(i: number): void {
    const [entry] = this.entries.splice(i, 1);
    this.bytes -= entry!.bytes;
    this.backend.disposeData(entry!.cols.dataId);
  }
}

/** The most the kept matrices may take, in bytes (the bench's net keeps 18 MB); past it they are built again. */
const MAX_BYTES = 64 * 2 ** 20;

interface Entry {
  x: tf.DataId;
  key: string;
  cols: tf.TensorInfo;
  bytes: number;
}

/** What a patch matrix depends on besides the input's values. */
function keyOf(g: tf.backend_util.Conv2DInfo): string {
  return [g.inShape.join('x'), g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth, g.padInfo.top, g.padInfo.left, g.outHeight, g.outWidth].join(',');
}
