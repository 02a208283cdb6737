import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { useBackend } from '../lib/backend/index.js';
import { Rng } from '../lib/rng.js';
import { wasmGemmFma, wasmGemmStats } from '../lib/backend/wasm/gemm.js';
import { readJsonl, repoRoot, runCli, tempDir, tinyConfig, waitUntil, writeJson } from './helpers.js';

// native/gemm.c runs the wasm backend's matmuls (lib/backend/wasm/gemm.ts), shared between two threads
// here for products big enough. Every layout, edge and epilogue is checked against float64 sums.

function random(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(new Rng(seed, 'gemm-test').normalArray(shape.reduce((a, b) => a * b, 1), 0, 1), shape);
}

/** C = op(A)·op(B) (+ bias)(relu) in float64, from the row-major float32 values. */
function reference(a: Float32Array, b: Float32Array, m: number, k: number, n: number, tA: boolean, tB: boolean, bias: Float32Array | null, relu: boolean): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j]! : 0;
      for (let p = 0; p < k; p++) s += a[tA ? p * m + i : i * k + p]! * b[tB ? j * k + p : p * n + j]!;
      c[i * n + j] = relu ? Math.max(0, s) : s;
    }
  }
  return c;
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, k: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  // float32 accumulation over k terms of unit size
  const tol = 2e-6 * k + 1e-5;
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i]! - want[i]!) <= tol * (1 + Math.abs(want[i]!)), `${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

// m x k x n: multiples of the 4x8 tiles and not, k past one 256-wide block, products above and
// below the size that wakes the second thread, and the short shared dimension of a last layer.
const SHAPES: [number, number, number][] = [
  [128, 300, 70],
  [130, 257, 33],
  [7, 5, 3],
  [128, 10, 256],
  [1, 64, 9],
];

const EPILOGUES = [
  { bias: false, relu: false },
  { bias: true, relu: false },
  { bias: false, relu: true },
  { bias: true, relu: true },
];

test('wasm matmuls (nn, tn, nt; 2-D and batch-1 3-D; bias and relu) equal float64 sums on two threads', async () => {
  const info = await useBackend('wasm', { threads: 2 });
  assert.equal(info.threads, 2);
  // Node 20 has relaxed SIMD behind a flag that lib/backend/wasm/gemm.ts sets; later Nodes ship it.
  assert.ok(wasmGemmFma(), 'the fused multiply-add kernels are in use');
  // Until its worker has started the pool lets the calling thread do everything.
  await waitUntil(() => wasmGemmStats()?.pool?.ready === true, 30_000);
  const before = wasmGemmStats()!;
  let products = 0;
  for (const [m, k, n] of SHAPES) {
    for (const [tA, tB] of [[false, false], [true, false], [false, true]] as const) {
      for (const rank of [2, 3]) {
        for (const { bias: withBias, relu } of EPILOGUES) {
          tf.tidy(() => {
            const lead = rank === 3 ? [1] : [];
            const a = random([...lead, ...(tA ? [k, m] : [m, k])], m + k);
            const b = random([...lead, ...(tB ? [n, k] : [k, n])], n + 1);
            const bias = random([n], 3);
            const got =
              withBias || relu
                ? tf.fused.matMul({ a: a as tf.Tensor3D, b: b as tf.Tensor3D, transposeA: tA, transposeB: tB, ...(withBias ? { bias } : {}), activation: relu ? 'relu' : 'linear' })
                : tf.matMul(a, b, tA, tB);
            assert.deepEqual(got.shape, [...lead, m, n]);
            const want = reference(a.dataSync() as Float32Array, b.dataSync() as Float32Array, m, k, n, tA, tB, withBias ? (bias.dataSync() as Float32Array) : null, relu);
            assertClose(got.dataSync(), want, k, `${m}x${k}x${n} ${tA ? 't' : 'n'}${tB ? 't' : 'n'} rank ${rank}${withBias ? ' +bias' : ''}${relu ? ' relu' : ''}`);
            products++;
          });
        }
      }
    }
  }
  const after = wasmGemmStats()!;
  assert.equal(after.products - before.products, products, 'every product ran on native/gemm.c, none on the backend kernel');
  assert.ok(after.pool!.shared > before.pool!.shared, 'the big products were shared with the worker');
});

test('wasm: a batch of matrices and both operands transposed still go to the backend kernel', async () => {
  await useBackend('wasm', { threads: 2 });
  tf.tidy(() => {
    const a = random([2, 5, 4], 1);
    const b = random([2, 4, 3], 2);
    const got = tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D).arraySync() as number[][][];
    const av = a.arraySync() as number[][][];
    const bv = b.arraySync() as number[][][];
    for (let s = 0; s < 2; s++) {
      const want = reference(new Float32Array(av[s]!.flat()), new Float32Array(bv[s]!.flat()), 5, 4, 3, false, false, null, false);
      assertClose(got[s]!.flat(), want, 4, `batch ${s}`);
    }
    const x = random([6, 5], 3);
    const y = random([4, 6], 4);
    const tt = tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D, true, true);
    assertClose(tt.dataSync(), reference(x.dataSync() as Float32Array, y.dataSync() as Float32Array, 5, 6, 4, true, true, null, false), 6, 'tt');
  });
});

test('a run gives the same metrics on one wasm thread and on two', () => {
  const dir = tempDir();
  const config = writeJson(path.join(dir, 'c.json'), tinyConfig({
    model: { name: 'mlp', kwargs: { widths: [64, 256, 256, 10], activation: 'relu' } },
    data: { name: 'synthetic', kwargs: { n_train: 1024, n_val: 256, dim: 64, classes: 10, seed: 0 } },
    train: { steps: 30, batch_size: 128, log_every: 1, eval_every: 10 },
  }));
  const lines = (threads: number) => {
    const run = runCli(['train', config, '--backend', 'wasm', '--threads', String(threads), '--runs-dir', dir, '--name', `t${threads}`, '-q']);
    assert.equal(run.status, 0, run.stderr);
    const provenance = JSON.parse(fs.readFileSync(path.join(dir, `t${threads}`, 'config.json'), 'utf8')).provenance;
    assert.equal(provenance.threads, threads);
    // Timings differ; everything computed must not.
    return readJsonl(path.join(dir, `t${threads}`, 'metrics.jsonl')).map(({ time: _t, elapsed_s: _e, steps_per_sec: _s, ...rest }) => rest);
  };
  const one = lines(1);
  assert.ok(one.length >= 33, 'train lines and evaluations');
  assert.deepEqual(lines(2), one);
});

test('the committed wasm kernels are what native/build.sh makes of native/gemm.c', { skip: !hasClang() && 'clang-14 with wasm-ld is not installed' }, () => {
  const out = tempDir();
  const build = spawnSync('sh', [path.join(repoRoot, 'native', 'build.sh'), out], { encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  for (const file of ['gemm.wasm', 'gemm_shared.wasm', 'gemm_fma.wasm', 'gemm_fma_shared.wasm']) {
    assert.ok(fs.readFileSync(path.join(out, file)).equals(fs.readFileSync(path.join(repoRoot, 'native', file))), `${file} is stale: run native/build.sh`);
  }
});

function hasClang(): boolean {
  return spawnSync('sh', ['-c', 'command -v clang-14 && command -v wasm-ld-14 && command -v llvm-objdump-14'], { encoding: 'utf8' }).status === 0;
}
