import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers.js';

// @tensorflow/tfjs-node cannot be installed here (its install step downloads libtensorflow), so a
// resolve hook stands in for it: test/fixtures/fake_tfjs_node registers a backend named
// "tensorflow", as the real package does. What is tested is that, once the package resolves, it is
// used without any flag, and that the trainer bench reports it as a row of its own.
const fixture = path.join(repoRoot, 'test', 'fixtures', 'fake_tfjs_node');
const withFakeNode = ['--import', 'tsx', '--import', path.join(fixture, 'register.mjs')];

function node(args: string[]) {
  return spawnSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
}

test('auto takes tfjs-node when it is installed, without any flag', () => {
  const r = node([...withFakeNode, path.join(fixture, 'pick.ts')]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim()), { name: 'node', tfName: 'tensorflow', active: 'tensorflow', sum: 6 });
});

test('auto falls back to wasm when no native backend is installed', (t) => {
  try {
    import.meta.resolve('@tensorflow/tfjs-node');
    return t.skip('@tensorflow/tfjs-node is installed on this machine');
  } catch {
    // not installed: the case under test
  }
  const r = node(['--import', 'tsx', path.join(fixture, 'pick.ts')]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout.trim()).name, 'wasm');
});

test('the trainer bench reports an installed native backend as its own row', () => {
  const r = node([...withFakeNode, path.join(repoRoot, 'bench', 'trainer.ts'), '--models', 'mlp', '--steps', '2', '--cpu-steps', '1', '--warmup', '1', '--no-reference']);
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { bench: string; backend: string; steps_per_s: number });
  assert.deepEqual(
    rows.map((row) => row.backend),
    ['node', 'wasm', 'cpu'],
  );
  assert.ok(rows.every((row) => row.bench === 'trainer' && row.steps_per_s > 0));
  assert.match(r.stdout, /^node\s+[\d.]+\s+-/m, 'a table row for node, without a ratio when the reference is off');
});
