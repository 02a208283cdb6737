// One thread of lib/backend/wasm/gemm.ts's pool: runs its share of each product on the shared heap.
'use strict';
const { workerData } = require('node:worker_threads');
const { wasmModule, memory, control, index, threads, spin } = workerData;
const kernels = new WebAssembly.Instance(wasmModule, { env: { memory } }).exports;
const ctl = new Int32Array(control);
// The layout of `control`, as in lib/backend/wasm/gemm.ts.
const SEQ = 0, DONE = 1, KIND = 2, A = 3, B = 4, BIAS = 5, C = 6, M = 7, K = 8, N = 9, RELU = 10, READY = 11, FAILED = 12;
const KINDS = [kernels.gemm_nn, kernels.gemm_tn, kernels.gemm_nt];
let seen = Atomics.load(ctl, SEQ);
// Counted in: the pool shares products only once every worker is here.
Atomics.add(ctl, READY, 1);
for (;;) {
  // Spin a little before sleeping: a training step's matmuls come a fraction of a millisecond
  // apart, and waking a sleeping thread costs tens of microseconds.
  let spins = 0;
  while (Atomics.load(ctl, SEQ) === seen) {
    if (++spins > spin) {
      Atomics.wait(ctl, SEQ, seen);
      spins = 0;
    }
  }
  seen = Atomics.load(ctl, SEQ);
  const kind = ctl[KIND];
  if (kind < 0) break;
  const rows = ctl[M];
  // Thread t takes rows [t*rows/threads, (t+1)*rows/threads), cut at multiples of 4.
  const m0 = Math.floor((rows * index) / threads / 4) * 4;
  const m1 = index === threads - 1 ? rows : Math.floor((rows * (index + 1)) / threads / 4) * 4;
  try {
    if (m1 > m0) KINDS[kind](ctl[A], ctl[B], ctl[BIAS], ctl[C], rows, ctl[K], ctl[N], m0, m1, ctl[RELU]);
  } catch (err) {
    // The caller turns this into an error of its own; a worker that died would leave it waiting.
    Atomics.store(ctl, FAILED, 1);
    process.stderr.write(`dlphys gemm worker ${index}: ${err && err.message}\n`);
  }
  Atomics.add(ctl, DONE, 1);
  // The caller polls, then sleeps on DONE if a share takes long.
  Atomics.notify(ctl, DONE);
}
