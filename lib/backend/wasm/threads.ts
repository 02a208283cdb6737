import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker as NodeWorker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { packagePath } from '../../package_dir.js';
import { override } from './kernels.js';

const require = createRequire(import.meta.url);

/**
 * tfjs-backend-wasm runs single-threaded under Node: its multithreading check answers "no" for
 * Node, and its threaded build is wired for browsers (workers from blob URLs). Yet the threaded
 * SIMD build itself is Emscripten output with Node support. This registers the `wasm` backend on
 * that build with `threads` XNNPACK threads: Node worker_threads run lib/backend/wasm/worker.cjs, and the
 * backend itself is tfjs's own BackendWasm, so every kernel (and lib/backend/wasm/kernels.ts) works
 * unchanged. Its heap is a shared memory, on which lib/backend/wasm/gemm.ts's pool shares the matmuls;
 * XNNPACK's own pool is left to the convolutions (see confineThreadsToMatmuls).
 *
 * Must run after `@tensorflow/tfjs-backend-wasm` is imported and before the backend is set.
 */
export function registerThreadedWasm(threads: number): void {
  // Once per process: registering again would dispose the running backend and every tensor on it.
  if (registered) return;
  registered = true;
  const wasmPkg = wasmPackage();
  const glue = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const worker = packagePath('lib', 'backend', 'wasm', 'worker.cjs');
  const factory = require(glue) as (config: object) => Promise<EmscriptenModule>;
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      startWorkersBare();
      const module = await factory({
        locateFile: (file: string, prefix: string) => (file.endsWith('.worker.js') ? worker : prefix + file),
        // Each worker evaluates this script to get the module factory.
        mainScriptUrlOrBlob: glue,
        instantiateWasm(imports: { env: Record<string, unknown> }, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) {
          // The backend caps its pool at half the logical cores it is told of (it assumes SMT
          // siblings); tell it enough for `threads`.
          imports.env.emscripten_num_logical_cores = () => 2 * threads;
          WebAssembly.instantiate(threadedBinary(), imports as WebAssembly.Imports).then(
            ({ instance, module: compiled }) => receive(instance, compiled),
            (err: unknown) => {
              // Emscripten has no way to hear of this; an unhandled rejection ends the process
              // with the error, where a factory that never resolves would hang it.
              throw err;
            },
          );
          return {};
        },
      });
      module.tfjs = {
        init: module.cwrap('init', null, []),
        initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
        getThreadsCount: module.cwrap('get_threads_count', 'number', []),
        registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
        disposeData: module.cwrap('dispose_data', null, ['number']),
        dispose: module.cwrap('dispose', null, []),
      };
      wasmPkg.setThreadsCount(threads);
      const backend = new wasmPkg.BackendWasm(module as unknown as ConstructorParameters<typeof BackendWasm>[0]);
      // The pool's threads run for good (they wait for work); they must not keep the process alive.
      for (const worker of module.PThread.runningWorkers) worker.unref();
      return backend;
    },
    // tfjs-backend-wasm's own priority.
    2,
  );
}

let registered = false;

/**
 * Emscripten starts its 8 pool workers as `new Worker(file)` on the global it assigns, and a
 * Node worker inherits the parent's flags, tsx's loader among them: ~50 ms each on a 2-core
 * machine. The worker script is plain CommonJS, so they start with no flags.
 */
function startWorkersBare(): void {
  class BareWorker extends NodeWorker {
    constructor(file: string) {
      super(file, { execArgv: [] });
    }
  }
  // The glue's own `global.Worker = ...` assignment is ignored.
  Object.defineProperty(globalThis, 'Worker', { configurable: true, get: () => BareWorker, set: () => {} });
}

/** The kernels worth waking the pool for: XNNPACK's GEMM-based ones. */
const POOLED_KERNELS = [
  tf.BatchMatMul,
  tf._FusedMatMul,
  tf.Conv2D,
  tf.FusedConv2D,
  tf.Conv2DBackpropInput,
  tf.DepthwiseConv2dNative,
  tf.FusedDepthwiseConv2D,
];

/**
 * The backend hands its one thread pool to every XNNPACK operator, and waking a sleeping worker
 * costs tens of microseconds: an elementwise op on a few hundred thousand floats took 2-3 times
 * longer with two threads than with one, which cost more than the matmuls gained. So the pool
 * pointer (a global of the wasm module, found from the code of `get_threads_count`) is left NULL,
 * which XNNPACK runs serially on the calling thread, and set only around the kernels above.
 * Returns false, changing nothing, if the pointer cannot be found and checked.
 */
export function confineThreadsToMatmuls(backend: BackendWasm): boolean {
  const wasm = backend.wasm as unknown as WasmInternals;
  const address = threadpoolAddress(threadedBinary());
  if (address === null || address % 4 !== 0) return false;
  const slot = address / 4;
  const heap = () => new Int32Array(wasm.wasmMemory.buffer);
  const pool = heap()[slot]!;
  const threads = wasm.tfjs.getThreadsCount();
  // The check: with the pointer cleared the backend must report no pool, and its count again after.
  heap()[slot] = 0;
  if (wasm.tfjs.getThreadsCount() !== -1 || pool === 0) {
    heap()[slot] = pool;
    return false;
  }
  for (const name of POOLED_KERNELS) {
    override(name, (args, own) => {
      const view = heap();
      view[slot] = pool;
      try {
        return own(args);
      } finally {
        view[slot] = 0;
      }
    });
  }
  return threads > 1;
}

/**
 * The address of the pool pointer: `get_threads_count` begins by loading it, as
 * `i32.const <address>; i32.load`. Parses just enough of the binary to find that function's body.
 */
export function threadpoolAddress(binary: Uint8Array): number | null {
  let pos = 8;
  const uleb = (): number => {
    let result = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = binary[pos++]!;
      result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return result;
  };
  const skipLimits = (): void => {
    const flags = uleb();
    uleb();
    if (flags & 1) uleb();
  };
  let importedFuncs = 0;
  let exported = -1;
  let code = -1;
  while (pos < binary.length) {
    const id = binary[pos++]!;
    const size = uleb();
    const end = pos + size;
    if (id === 2) {
      // imports: count the functions, skip the rest
      for (let n = uleb(); n > 0; n--) {
        pos += uleb();
        pos += uleb();
        const kind = binary[pos++]!;
        if (kind === 0) {
          uleb();
          importedFuncs++;
        } else if (kind === 1) {
          pos++;
          skipLimits();
        } else if (kind === 2) skipLimits();
        else if (kind === 3) pos += 2;
        else return null;
      }
    } else if (id === 7) {
      for (let n = uleb(); n > 0; n--) {
        const len = uleb();
        const name = new TextDecoder().decode(binary.subarray(pos, pos + len));
        pos += len;
        const kind = binary[pos++]!;
        const index = uleb();
        if (kind === 0 && name === 'get_threads_count') exported = index;
      }
    } else if (id === 10) code = pos;
    pos = end;
  }
  if (exported < importedFuncs || code < 0) return null;
  pos = code;
  const bodies = uleb();
  for (let i = 0; i < bodies; i++) {
    const size = uleb();
    if (i === exported - importedFuncs) {
      const end = pos + size;
      for (let n = uleb(); n > 0; n--) {
        uleb();
        pos++;
      }
      if (binary[pos++] !== 0x41) return null;
      // i32.const takes a signed LEB; addresses here are small and positive.
      const address = uleb();
      return binary[pos] === 0x28 && pos < end ? address : null;
    }
    pos += size;
  }
  return null;
}

/** The threaded build's binary, read once: instantiated, then searched for the pool pointer. */
function threadedBinary(): Uint8Array<ArrayBuffer> {
  binary ??= new Uint8Array(readFileSync(require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.wasm')));
  return binary;
}

let binary: Uint8Array<ArrayBuffer> | undefined;

function wasmPackage(): typeof import('@tensorflow/tfjs-backend-wasm') {
  return require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
}

/** The threads the wasm backend actually runs matmuls on (1 for the single-threaded build). */
export function wasmThreads(): number {
  return wasmPackage().getThreadsCount();
}

interface WasmInternals {
  wasmMemory: WebAssembly.Memory;
  tfjs: { getThreadsCount(): number };
}

interface EmscriptenModule {
  PThread: { runningWorkers: NodeWorker[] };
  cwrap(name: string, returns: string | null, args: string[]): (...args: number[]) => unknown;
  tfjs?: Record<string, unknown>;
}
