import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { packagePath } from '../../package_dir.js';
import { override } from './kernels.js';

/**
 * Matmuls on the wasm backend by native/gemm.c instead of XNNPACK: same wasm SIMD speed on the
 * dense-layer shapes, but no packing of the right operand (XNNPACK re-packs every new weight
 * tensor, i.e. at every training step) and every transpose a dense layer's gradient needs read in
 * place, so the backward pass needs no Transpose kernels either. With several threads the rows of
 * each product are shared with a pool of Node workers that run the same module on the shared heap
 * of tfjs's threaded build.
 *
 * BatchMatMul and _FusedMatMul (bias, linear or relu) of single float32 matrices come here;
 * batches of matrices, other activations and both operands transposed go to the backend's kernel.
 */
export function installWasmGemm(backend: BackendWasm, threads: number): void {
  // A backend made anew (tests switch the thread count) gets kernels bound to its own heap.
  if (installed?.backend === backend) return;
  const memory = heapMemory(backend);
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const module = new WebAssembly.Module(kernelBinary(shared));
  const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as GemmExports;
  const pool = shared && threads > 1 ? new Pool(module, memory, threads) : null;
  const gemm = new Gemm(backend, kernels, pool);
  override(tf.BatchMatMul, (args, own) => gemm.run(args, own, false));
  override(tf._FusedMatMul, (args, own) => gemm.run(args, own, true));
  installed = gemm;
}

let installed: Gemm | null = null;

/** Whether matmuls with transposed operands run at full speed on the current backend. */
export function wasmGemmInstalled(): boolean {
  return installed !== null;
}

/** Operand layouts of a product: nn C = A·B, tn C = Aᵀ·B, nt C = A·Bᵀ (A, B row-major as stored). */
export type GemmLayout = 'nn' | 'tn' | 'nt';

/**
 * The matmuls as other kernels on the same heap call them (lib/backend/wasm/conv.ts), on heap
 * addresses and without a tensor per operand, shared with the pool like the dense layers' products.
 */
export interface WasmMatmul {
  /**
   * C[m,n] = op(A)·op(B) (+ bias[n]) (relu): nn A[m,k]·B[k,n], tn A[k,m]ᵀ·B[k,n], nt A[m,k]·B[n,k]ᵀ.
   * `a`, `b`, `bias` (0: none) and `c` are byte addresses of float32 arrays in the backend's heap.
   * k must be at least 1 (with k = 0 nothing is written to C).
   */
  multiply(layout: GemmLayout, a: number, b: number, bias: number, c: number, m: number, k: number, n: number, relu: boolean): void;
  /** dst[cols, rows] = src[rows, cols]ᵀ, byte addresses in the heap. */
  transpose(src: number, dst: number, rows: number, cols: number): void;
  /** The byte address of a tensor's data in the heap. */
  address(t: tf.TensorInfo): number;
}

/** The matmuls installed on `backend`, or null (not installed, or installed on another backend). */
export function wasmMatmul(backend: BackendWasm): WasmMatmul | null {
  return installed?.backend === backend ? installed : null;
}

/** For tests: products computed here (not by the backend's kernel), and the pool's state. */
export function wasmGemmStats(): { products: number; pool: { ready: boolean; shared: number } | null } | null {
  if (!installed) return null;
  return { products: installed.products, pool: installed.pool ? { ready: installed.pool.ready, shared: installed.pool.shared } : null };
}

type KernelArgs = Parameters<tf.KernelFunc>[0];
type KernelResult = ReturnType<tf.KernelFunc>;

interface GemmExports {
  gemm_nn: GemmFn;
  gemm_tn: GemmFn;
  gemm_nt: GemmFn;
  transpose(src: number, dst: number, rows: number, cols: number): void;
}
type GemmFn = (a: number, b: number, bias: number, c: number, m: number, k: number, n: number, m0: number, m1: number, relu: number) => void;

const NN = 0;
const TN = 1;
const NT = 2;
/** Below this many multiply-adds a product runs on the calling thread: waking the pool costs more. */
const POOL_MIN_MACS = 1 << 19;
/** nt products with a shared dimension shorter than this run as nn on B transposed. */
const NT_MIN_K = 32;

class Gemm implements WasmMatmul {
  constructor(
    readonly backend: BackendWasm,
    private readonly kernels: GemmExports,
    readonly pool: Pool | null,
  ) {}

  products = 0;

  run(args: KernelArgs, own: tf.KernelFunc, fused: boolean): KernelResult {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const attrs = args.attrs as { transposeA: boolean; transposeB: boolean; activation?: string };
    const activation = fused ? (attrs.activation ?? 'linear') : 'linear';
    const tA = attrs.transposeA;
    const tB = attrs.transposeB;
    // Matrices, or batches of one matrix (tf.matMul passes 2-D operands as they are).
    const rank = a?.shape.length;
    if (
      args.backend !== this.backend ||
      !a || !b || a.dtype !== 'float32' || b.dtype !== 'float32' || (rank !== 2 && rank !== 3) || b.shape.length !== rank ||
      (rank === 3 && (a.shape[0] !== 1 || b.shape[0] !== 1)) || (tA && tB) || preluActivationWeights ||
      (activation !== 'linear' && activation !== 'relu')
    ) {
      return own(args);
    }
    const [ar, ac] = a.shape.slice(-2) as [number, number];
    const [br, bc] = b.shape.slice(-2) as [number, number];
    const [m, k] = tA ? [ac, ar] : [ar, ac];
    const n = tB ? br : bc;
    if ((tB ? bc : br) !== k || k === 0) return own(args);
    if (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== n)) return own(args);
    const out = this.backend.makeOutput(rank === 3 ? [1, m, n] : [m, n], 'float32');
    this.products++;
    if (m * n === 0) return out;
    const relu = activation === 'relu' ? 1 : 0;
    const biasPtr = bias ? this.ptr(bias) : 0;
    if (tB && k < NT_MIN_K) {
      // Short dot products waste the SIMD lanes: transpose B (n x k, small) and run nn.
      const bt = this.backend.makeOutput([k, n], 'float32');
      this.kernels.transpose(this.ptr(b), this.ptr(bt), n, k);
      this.product(NN, this.ptr(a), this.ptr(bt), biasPtr, this.ptr(out), m, k, n, relu);
      this.backend.disposeData(bt.dataId);
      return out;
    }
    this.product(tA ? TN : tB ? NT : NN, this.ptr(a), this.ptr(b), biasPtr, this.ptr(out), m, k, n, relu);
    return out;
  }

  multiply(layout: GemmLayout, a: number, b: number, bias: number, c: number, m: number, k: number, n: number, relu: boolean): void {
    if (m * n === 0) return;
    this.product(layout === 'nn' ? NN : layout === 'tn' ? TN : NT, a, b, bias, c, m, k, n, relu ? 1 : 0);
  }

  transpose(src: number, dst: number, rows: number, cols: number): void {
    this.kernels.transpose(src, dst, rows, cols);
  }

  address(t: tf.TensorInfo): number {
    return this.ptr(t);
  }

  private product(kind: number, a: number, b: number, bias: number, c: number, m: number, k: number, n: number, relu: number): void {
    if (this.pool?.ready && m * k * n >= POOL_MIN_MACS && m >= 8) {
      this.pool.run(this.kernels, kind, a, b, bias, c, m, k, n, relu);
      return;
    }
    FNS[kind]!(this.kernels)(a, b, bias, c, m, k, n, 0, m, relu);
  }

  private ptr(t: tf.TensorInfo): number {
    return (this.backend as unknown as { dataIdMap: { get(id: unknown): { memoryOffset: number } } }).dataIdMap.get(t.dataId).memoryOffset;
  }
}

const FNS: ((k: GemmExports) => GemmFn)[] = [(k) => k.gemm_nn, (k) => k.gemm_tn, (k) => k.gemm_nt];

// The layout of the control block shared with lib/backend/wasm/gemm_worker.cjs.
const SEQ = 0;
const DONE = 1;
const KIND = 2;
const PARAMS = 3; // a, b, bias, c, m, k, n, relu
const READY = 11;
const FAILED = 12;
/** How long a product waits for a silent worker before the run fails. */
const WORKER_TIMEOUT_MS = 60_000;
/**
 * Iterations a worker polls for the next product before it sleeps (some microseconds). Longer
 * spinning measured slower, not faster: 1e6 iterations cut a training step rate by a quarter,
 * the polling thread competing with the main one.
 */
const SPIN = 1000;

/**
 * threads - 1 workers; the calling thread takes the first share of every product. The workers
 * spin briefly between products and then sleep on the control block; they are unref'd, so they
 * never keep the process alive.
 */
class Pool {
  private readonly ctl: Int32Array;
  private readonly workers: Worker[] = [];
  /** Products shared with the workers so far. */
  shared = 0;
  /** Set when a worker failed: every later product fails the same way rather than computing wrong. */
  private broken: string | null = null;

  constructor(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    private readonly threads: number,
  ) {
    const control = new SharedArrayBuffer(16 * 4);
    this.ctl = new Int32Array(control);
    const script = packagePath('lib', 'backend', 'wasm', 'gemm_worker.cjs');
    for (let index = 1; index < threads; index++) {
      const worker = new Worker(script, { execArgv: [], workerData: { wasmModule: module, memory, control, index, threads, spin: SPIN } });
      // One that cannot start never counts itself ready, and the caller computes alone.
      worker.on('error', (err) => process.stderr.write(`dlphys: a wasm matmul worker failed to start: ${err.message}\n`));
      worker.unref();
      this.workers.push(worker);
    }
  }

  /** False until every worker has started: until then the caller computes products alone. */
  get ready(): boolean {
    return Atomics.load(this.ctl, READY) === this.threads - 1;
  }

  run(kernels: GemmExports, kind: number, a: number, b: number, bias: number, c: number, m: number, k: number, n: number, relu: number): void {
    if (this.broken) throw new Error(this.broken);
    const ctl = this.ctl;
    ctl[KIND] = kind;
    ctl.set([a, b, bias, c, m, k, n, relu], PARAMS);
    Atomics.store(ctl, DONE, 0);
    Atomics.add(ctl, SEQ, 1);
    Atomics.notify(ctl, SEQ);
    const m1 = Math.floor(m / this.threads / 4) * 4;
    try {
      if (m1 > 0) FNS[kind]!(kernels)(a, b, bias, c, m, k, n, 0, m1, relu);
    } finally {
      // Even when our share threw: the next product must not start while a worker is still on this one.
      this.waitForWorkers();
    }
    this.shared++;
    if (Atomics.load(ctl, FAILED)) {
      this.broken = 'a wasm matmul failed on a worker thread (its message is on stderr)';
      throw new Error(this.broken);
    }
  }

  /**
   * The workers' shares take as long as ours, so poll first; a worker that stopped answering
   * (killed by the system, out of memory) must end the run with an error, not spin it forever.
   */
  private waitForWorkers(): void {
    const ctl = this.ctl;
    const want = this.threads - 1;
    for (let spins = 0; spins < 1_000_000; spins++) if (Atomics.load(ctl, DONE) >= want) return;
    const deadline = Date.now() + WORKER_TIMEOUT_MS;
    for (let done = Atomics.load(ctl, DONE); done < want; done = Atomics.load(ctl, DONE)) {
      if (Date.now() > deadline) {
        this.broken = `a wasm matmul worker stopped answering (${WORKER_TIMEOUT_MS / 1000} s)`;
        throw new Error(this.broken);
      }
      Atomics.wait(ctl, DONE, done, 100);
    }
  }
}

/**
 * The kernels with fused multiply-adds where the engine takes relaxed SIMD (V8 11.4+, Node 22;
 * Node 20's V8 has it behind a flag, which is set here before compiling), else mul + add. Both
 * are exact in their own way; only the rounding of each multiply-add differs.
 */
function kernelBinary(shared: boolean): Uint8Array<ArrayBuffer> {
  const read = (name: string) => new Uint8Array(readFileSync(packagePath('native', `${name}${shared ? '_shared' : ''}.wasm`)));
  const fma = read('gemm_fma');
  if (!WebAssembly.validate(fma)) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  fmaUsed = WebAssembly.validate(fma);
  return fmaUsed ? fma : read('gemm');
}

let fmaUsed = false;

/** Whether the matmuls use fused multiply-adds (for the bench's report). */
export function wasmGemmFma(): boolean {
  return fmaUsed;
}

/** The wasm heap of `backend` (shared on the threaded build), for other modules to import. */
export function heapMemory(backend: BackendWasm): WebAssembly.Memory {
  const wasm = backend.wasm as unknown as { wasmMemory?: WebAssembly.Memory; asm?: Record<string, unknown> };
  // The threaded build keeps its (shared) memory on the module; the plain one only exports it.
  const memory = wasm.wasmMemory ?? Object.values(wasm.asm ?? {}).find((v) => v instanceof WebAssembly.Memory);
  if (!(memory instanceof WebAssembly.Memory)) throw new Error('tfjs-backend-wasm: its heap memory was not found');
  return memory;
}
