import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { buildRunnerBundle, RUNNER_BUNDLE } from '../agent/launch/bundle.js';
import { RunnerProcess, TSX_ENTRY } from '../agent/launch/process.js';
import { packageDir } from '../lib/package_dir.js';
import { tempDir, tinyConfig } from './helpers.js';

// The agent's compiled runner is one file (build/runner.generated.mjs), the TypeScript sources are
// many: both must find the package's files (the wasm worker scripts, native/*.wasm, package.json)
// through lib/package_dir.ts. A run on wasm with two threads needs every one of them.

async function trainOn(entry: string): Promise<{ config: Record<string, unknown>; metrics: string[]; stderr: string }> {
  const runner = new RunnerProcess({ backend: 'wasm', threads: 2, entry });
  const runsDir = tempDir();
  const metrics: string[] = [];
  try {
    const { summary, error } = await runner.run({ type: 'run', config: tinyConfig({ model: { name: 'mlp', kwargs: { widths: [8, 64, 3], activation: 'relu' } } }), runsDir, name: 'both' }, (line) => metrics.push(line));
    assert.equal(error, null, `${entry}: ${error}`);
    assert.equal(summary?.status, 'completed');
    assert.equal(summary?.steps, 40);
  } finally {
    runner.release();
    await runner.exited;
  }
  const config = JSON.parse(fs.readFileSync(path.join(runsDir, 'both', 'config.json'), 'utf8')) as Record<string, unknown>;
  return { config, metrics, stderr: runner.stderr };
}

test('a run on wasm with two threads trains alike through the compiled runner bundle and through tsx', { timeout: 120_000 }, async () => {
  const bundle = await buildRunnerBundle();
  assert.equal(bundle, RUNNER_BUNDLE);
  assert.equal(path.dirname(bundle), path.join(packageDir, 'build'), 'the generated runner lives in build/');
  const compiled = await trainOn(bundle);
  const tsx = await trainOn(TSX_ENTRY);
  for (const [how, run] of [['bundle', compiled], ['tsx', tsx]] as const) {
    const provenance = run.config.provenance as { backend: string; threads?: number; version?: string };
    // Two threads only if the threaded build's workers (lib/backend/wasm/worker.cjs) started.
    assert.equal(provenance.backend, 'wasm', how);
    assert.equal(provenance.threads, 2, how);
    // A matmul worker (lib/backend/wasm/gemm_worker.cjs) that cannot start says so on stderr.
    assert.doesNotMatch(run.stderr, /failed|error/i, `${how}: ${run.stderr}`);
  }
  // The same code either way (native/*.wasm read by both): the same numbers.
  const numbers = (lines: string[]) => lines.map((line) => JSON.parse(line) as Record<string, unknown>).map(({ steps_per_sec, time, ...rest }) => rest);
  assert.deepEqual(numbers(compiled.metrics), numbers(tsx.metrics));
});
