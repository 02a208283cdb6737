import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { writeIdx } from '../lib/data/idx.js';
import { readJsonl, repoRoot, runCli, startCli, tempDir, tinyConfig, waitUntil, writeJson, writeText } from './helpers.js';

/** What a user's mistake must look like: exit code 2, one line on stderr naming the problem, no stack. */
function assertUsageError(r: ReturnType<typeof runCli>, pattern: RegExp): void {
  assert.equal(r.status, 2, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^dlphys: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

function listRuns(runsDir: string): string[] {
  return fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : [];
}

describe('dlphys train', () => {
  test('the README example trains to a validation accuracy well above chance', () => {
    const runs = tempDir();
    const r = runCli(['train', 'examples/mlp.json', '--runs-dir', runs]);
    assert.equal(r.status, 0, r.stderr);
    const dir = path.join(runs, 'mlp-synthetic');
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    assert.equal(summary.status, 'completed');
    assert.equal(summary.steps, 500);
    assert.ok(summary.final.val_acc > 0.6, `val_acc ${summary.final.val_acc} (chance is 0.25)`);
    assert.match(r.stderr, /completed: 500 steps/);
  });

  test('a run folder holds the resolved config with provenance, the log, metrics and summary', () => {
    const runs = tempDir();
    const cfg = writeJson(path.join(tempDir(), 'tiny.json'), tinyConfig());
    const r = runCli(['train', cfg, '--runs-dir', runs, '--backend', 'cpu', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const dir = path.join(runs, 'tiny');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'metrics.jsonl', 'summary.json', 'train.log']);
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    assert.equal(config.optimizer.kwargs.nesterov, false, 'defaults are filled in');
    assert.equal(config.loss.name, 'cross_entropy', 'the default loss is recorded');
    assert.equal(config.provenance.backend, 'cpu');
    assert.equal(config.provenance.seed, 0);
    for (const key of ['version', 'git_commit', 'host', 'started_at']) assert.ok(key in config.provenance, key);
    const lines = readJsonl(path.join(dir, 'metrics.jsonl'));
    assert.ok(lines.every((l) => typeof l.step === 'number' && typeof l.time === 'number' && (l.split === 'train' || l.split === 'val')));
    assert.match(fs.readFileSync(path.join(dir, 'train.log'), 'utf8'), /completed after 40 steps/);
  });

  test('a run folder trains again from its own config.json', () => {
    const runs = tempDir();
    const cfg = writeJson(path.join(tempDir(), 'tiny.json'), tinyConfig());
    assert.equal(runCli(['train', cfg, '--runs-dir', runs, '--backend', 'cpu', '-q']).status, 0);
    const again = runCli(['train', path.join(runs, 'tiny', 'config.json'), '--runs-dir', runs, '--name', 'again', '--backend', 'cpu', '-q']);
    assert.equal(again.status, 0, again.stderr);
    const metrics = (name: string) => readJsonl(path.join(runs, name, 'metrics.jsonl')).map(({ time: _t, steps_per_sec: _s, ...rest }) => rest);
    assert.deepEqual(metrics('again'), metrics('tiny'));
  });

  test('--set overrides values by dotted path with JSON types', () => {
    const runs = tempDir();
    const cfg = writeJson(path.join(tempDir(), 'tiny.json'), tinyConfig());
    const r = runCli([
      'train', cfg, '--runs-dir', runs, '--backend', 'cpu', '-q',
      '--set', 'optimizer.kwargs.lr=0.02', '--set', 'model.kwargs.widths=[8,4,3]', '--set', 'model.kwargs.activation=relu', '--name', 'set',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const config = JSON.parse(fs.readFileSync(path.join(runs, 'set', 'config.json'), 'utf8'));
    assert.equal(config.optimizer.kwargs.lr, 0.02);
    assert.deepEqual(config.model.kwargs.widths, [8, 4, 3]);
    assert.equal(config.model.kwargs.activation, 'relu');
  });

  test('--set reaches components the config leaves to their defaults, and null removes a key', () => {
    const runs = tempDir();
    const { optimizer: _o, ...noOptimizer } = tinyConfig({ train: { epochs: 1, batch_size: 32, log_every: 4 } });
    const cfg = writeJson(path.join(tempDir(), 'tiny.json'), noOptimizer);
    const r = runCli([
      'train', cfg, '--runs-dir', runs, '--backend', 'cpu', '-q',
      '--set', 'optimizer.kwargs.lr=0.05', '--set', 'train.epochs=null', '--set', 'train.steps=12',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const config = JSON.parse(fs.readFileSync(path.join(runs, 'tiny', 'config.json'), 'utf8'));
    assert.equal(config.optimizer.name, 'sgd');
    assert.equal(config.optimizer.kwargs.lr, 0.05);
    assert.equal(config.train.steps, 12);
    assert.equal('epochs' in config.train, false);
    // The sandbox itself was never touched: deleting with --name .. above would have taken it.
  });

  test('--set reaches the loss, whose default depends on the data, on a config that names none', () => {
    const runs = tempDir();
    const cfg = writeJson(path.join(tempDir(), 'tiny.json'), tinyConfig({ train: { steps: 4, batch_size: 32, log_every: 2 } }));
    const r = runCli(['train', cfg, '--runs-dir', runs, '--backend', 'cpu', '-q', '--set', 'loss.name=mse']);
    assert.equal(r.status, 0, r.stderr);
    const config = JSON.parse(fs.readFileSync(path.join(runs, 'tiny', 'config.json'), 'utf8'));
    assert.equal(config.loss.name, 'mse');
  });

  test('Ctrl-C stops a long run cleanly: status stopped and a summary', async () => {
    const runs = tempDir();
    const cfg = writeJson(path.join(tempDir(), 'long.json'), tinyConfig({ name: 'long', train: { steps: 1_000_000, batch_size: 32, log_every: 10 } }));
    const child = startCli(['train', cfg, '--runs-dir', runs, '--backend', 'cpu', '-q']);
    const metrics = path.join(runs, 'long', 'metrics.jsonl');
    // Wait until it trains (its metrics file has lines), then interrupt it.
    await waitUntil(() => fs.existsSync(metrics) && fs.readFileSync(metrics, 'utf8').split('\n').length > 3);
    child.kill('SIGINT');
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0);
    const summary = JSON.parse(fs.readFileSync(path.join(runs, 'long', 'summary.json'), 'utf8'));
    assert.equal(summary.status, 'stopped');
    assert.match(summary.reason, /interrupted by SIGINT/);
    assert.ok(summary.steps > 0 && summary.steps < 1_000_000);
  });

  test('a run that fails after it started says so in one line and keeps the details in its folder', () => {
    const runs = tempDir();
    const cfg = writeJson(
      path.join(tempDir(), 'es.json'),
      tinyConfig({ name: 'es', callbacks: [{ name: 'early_stopping', kwargs: { monitor: 'val_los' } }] }),
    );
    const r = runCli(['train', cfg, '--runs-dir', runs, '--backend', 'cpu', '-q']);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^dlphys: run es failed: callback early_stopping \(onEvalEnd\): early_stopping: no metric "val_los" is logged; logged metrics: .*val_loss.* \(details in .*train\.log\)/);
    const summary = JSON.parse(fs.readFileSync(path.join(runs, 'es', 'summary.json'), 'utf8'));
    assert.equal(summary.status, 'failed');
    assert.equal(summary.steps, 20);
  });

  test('an existing run name is refused unless --overwrite', () => {
    const runs = tempDir();
    const cfg = writeJson(path.join(tempDir(), 'tiny.json'), tinyConfig());
    assert.equal(runCli(['train', cfg, '--runs-dir', runs, '--backend', 'cpu', '-q']).status, 0);
    assertUsageError(runCli(['train', cfg, '--runs-dir', runs, '--backend', 'cpu', '-q']), /already exists.*--overwrite/);
    const r = runCli(['train', cfg, '--runs-dir', runs, '--backend', 'cpu', '-q', '--overwrite']);
    assert.equal(r.status, 0, r.stderr);
  });

  test('a diverging run ends with status diverged and exit code 0', () => {
    const runs = tempDir();
    const cfg = writeJson(
      path.join(tempDir(), 'chaos.json'),
      tinyConfig({ name: 'chaos', optimizer: { name: 'sgd', kwargs: { lr: 1e6 } }, loss: { name: 'mse' } }),
    );
    const r = runCli(['train', cfg, '--runs-dir', runs, '--backend', 'cpu', '-q']);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(fs.readFileSync(path.join(runs, 'chaos', 'summary.json'), 'utf8'));
    assert.equal(summary.status, 'diverged');
    assert.match(summary.reason, /loss became/);
  });

  test('--backend wasm trains and is recorded', () => {
    const runs = tempDir();
    const cfg = writeJson(path.join(tempDir(), 'tiny.json'), tinyConfig());
    const r = runCli(['train', cfg, '--runs-dir', runs, '--backend', 'wasm', '-q']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(fs.readFileSync(path.join(runs, 'tiny', 'config.json'), 'utf8')).provenance.backend, 'wasm');
  });
});

test('a relative data root resolves against the config file, is recorded absolute, and the run folder trains again from anywhere', () => {
  const dir = tempDir();
  const root = path.join(dir, 'configs', 'digits');
  fs.mkdirSync(root, { recursive: true });
  // A tiny MNIST-format set: 4x4 images, 10 classes.
  for (const [prefix, n] of [['train', 40], ['t10k', 20]] as const) {
    writeIdx(path.join(root, `${prefix}-images-idx3-ubyte`), Uint8Array.from({ length: n * 16 }, (_, i) => (i * 37) % 256), [n, 4, 4]);
    writeIdx(path.join(root, `${prefix}-labels-idx1-ubyte`), Uint8Array.from({ length: n }, (_, i) => i % 10), [n]);
  }
  const config = writeJson(
    path.join(dir, 'configs', 'digits.json'),
    tinyConfig({ name: 'digits', model: { name: 'mlp', kwargs: { widths: [16, 8, 10] } }, data: { name: 'mnist', kwargs: { root: 'digits' } }, train: { steps: 3, batch_size: 8 } }),
  );
  const runs = path.join(dir, 'runs');
  const first = runCli(['train', config, '--runs-dir', runs, '--quiet'], { cwd: dir });
  assert.equal(first.status, 0, first.stderr);
  const recorded = path.join(runs, 'digits', 'config.json');
  assert.equal(JSON.parse(fs.readFileSync(recorded, 'utf8')).data.kwargs.root, root);
  const again = runCli(['train', recorded, '--runs-dir', runs, '--name', 'again', '--quiet'], { cwd: os.tmpdir() });
  assert.equal(again.status, 0, again.stderr);
});

describe('dlphys train refuses bad input with one line and writes nothing', () => {
  const cases: [string, (dir: string) => string[], RegExp][] = [
    ['a missing config file', (d) => [path.join(d, 'nope.json')], /config file not found: .*nope\.json/],
    ['an unparsable config file', (d) => [writeText(path.join(d, 'bad.json'), '{"model": ')], /not valid JSON/],
    ['an unknown component name', (d) => [writeJson(path.join(d, 'c.json'), tinyConfig({ model: { name: 'mpl', kwargs: {} } }))], /model: unknown name "mpl" \(did you mean "mlp"\?\); registered: cnn, mlp/],
    ['an unknown kwarg', (d) => [writeJson(path.join(d, 'c.json'), tinyConfig({ optimizer: { name: 'sgd', kwargs: { lr: 0.1, momentun: 0.9 } } }))], /optimizer:sgd: unknown kwarg "momentun"; accepted kwargs: .*momentum/],
    ['an ill-typed kwarg', (d) => [writeJson(path.join(d, 'c.json'), tinyConfig({ optimizer: { name: 'sgd', kwargs: { lr: 'fast' } } }))], /optimizer:sgd: kwarg "lr": .*number.*"fast"/],
    ['an unknown top-level key', (d) => [writeJson(path.join(d, 'c.json'), tinyConfig({ optimiser: {} }))], /unknown key "optimiser"/],
    ['widths that do not match the data', (d) => [writeJson(path.join(d, 'c.json'), tinyConfig({ model: { name: 'mlp', kwargs: { widths: [5, 3] } } }))], /model:mlp: .*widths/],
    ['a bad --set path', (d) => [writeJson(path.join(d, 'c.json'), tinyConfig()), '--set', 'optimizr.kwargs.lr=1'], /--set optimizr\.kwargs\.lr: "optimizr" is not in the config/],
    ['a --set path through __proto__', (d) => [writeJson(path.join(d, 'c.json'), tinyConfig()), '--set', '__proto__.x=1'], /"__proto__" cannot be part of a config path/],
    ['a --name with a slash', (d) => [writeJson(path.join(d, 'c.json'), tinyConfig()), '--name', 'a/b'], /run name "a\/b" is not a plain folder name/],
    ['a --name of ..', (d) => [writeJson(path.join(d, 'c.json'), tinyConfig()), '--name', '..', '--overwrite'], /run name "\.\." is not a plain folder name/],
    ['an empty --name', (d) => [writeJson(path.join(d, 'c.json'), tinyConfig()), '--name', '', '--overwrite'], /run name "" is not a plain folder name/],
    ['a --set without =', (d) => [writeJson(path.join(d, 'c.json'), tinyConfig()), '--set', 'seed'], /--set seed: expected path=value/],
    ['a --set that breaks the schema', (d) => [writeJson(path.join(d, 'c.json'), tinyConfig()), '--set', 'train.steps=-3'], /"train\.steps"/],
    ['an unknown backend', (d) => [writeJson(path.join(d, 'c.json'), tinyConfig()), '--backend', 'tpu'], /--backend.*tpu/],
    ['a batch larger than the training split', (d) => [writeJson(path.join(d, 'c.json'), tinyConfig({ train: { steps: 5, batch_size: 512 } }))], /train\.batch_size 512 is larger than the training split \(256 examples\); set train\.batch_size to at most 256/],
    ['a sweep file', (d) => [writeJson(path.join(d, 's.json'), { method: 'grid', parameters: { seed: { values: [0, 1] } }, base: tinyConfig() })], /s\.json is a sweep file .*; run its sweep with dlphys-coord sweep .*s\.json$/],
    ['a native backend that is not installed', (d) => [writeJson(path.join(d, 'c.json'), tinyConfig()), '--backend', 'node'], /tfjs-node, which is not installed; add it with: npm install/],
  ];
  for (const [what, args, pattern] of cases) {
    test(`${what}`, () => {
      const dir = tempDir();
      const runs = path.join(dir, 'runs');
      assertUsageError(runCli(['train', ...args(dir), '--runs-dir', runs]), pattern);
      assert.deepEqual(listRuns(runs), [], 'no run folder left behind');
    });
  }

  test('an unwritable runs dir', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'file'), '');
    const cfg = writeJson(path.join(dir, 'c.json'), tinyConfig());
    assertUsageError(runCli(['train', cfg, '--runs-dir', path.join(dir, 'file', 'runs')]), /runs dir .* is a file, not a directory/);
  });
});

describe('dlphys list and --help', () => {
  test('list prints every kind with kwargs and defaults', () => {
    const r = runCli(['list']);
    assert.equal(r.status, 0, r.stderr);
    for (const kind of ['model:', 'init:', 'optimizer:', 'loss:', 'schedule:', 'data:', 'callback:']) assert.match(r.stdout, new RegExp(`^${kind}`, 'm'));
    assert.match(r.stdout, /sigma_w2: number {2}\(default 1\)/);
    assert.match(r.stdout, /widths: integer\[\] {2}\(optional\)/);
    assert.match(r.stdout, /^    logs:\n      q_l<k>  /m);
  });

  test('list KIND --json gives one kind as JSON', () => {
    const r = runCli(['list', 'init', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const [entry] = JSON.parse(r.stdout);
    assert.equal(entry.kind, 'init');
    assert.deepEqual(
      entry.components.map((c: { name: string }) => c.name),
      ['delta_orthogonal', 'gaussian', 'he', 'lecun', 'orthogonal', 'xavier'],
    );
  });

  test('list of an unknown kind is a usage error', () => {
    assertUsageError(runCli(['list', 'widgets']), /unknown kind "widgets"; kinds: model, init/);
  });

  for (const args of [['--help'], ['train', '--help'], ['scan', '--help'], ['list', '--help']]) {
    test(`dlphys ${args.join(' ')} prints usage and exits 0`, () => {
      const r = runCli(args);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /Usage: dlphys/);
    });
  }

  test('an unknown command is a usage error', () => {
    const r = runCli(['trian']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command 'trian'/);
  });
});

test('the bin runs from any working directory', () => {
  const r = runCli(['list', 'model'], { cwd: tempDir() });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(repoRoot, 'examples', 'mlp.json')));
});

test('wasm threads: a bad --threads or DLPHYS_THREADS is one line and exit 2 on wasm, and does not concern other backends', () => {
  const dir = tempDir();
  const config = writeJson(path.join(dir, 'c.json'), tinyConfig());
  const bad = runCli(['train', config, '--backend', 'wasm', '--threads', '0', '--runs-dir', dir]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr.trim(), /^dlphys: --threads must be a whole number from 1 to 8, got "0"$/);
  const badEnv = runCli(['train', config, '--backend', 'wasm', '--runs-dir', dir], { env: { DLPHYS_THREADS: 'many' } });
  assert.equal(badEnv.status, 2);
  assert.match(badEnv.stderr, /DLPHYS_THREADS must be a whole number/);
  assert.deepEqual(fs.readdirSync(dir), ['c.json'], 'no run folder');
  const cpu = runCli(['train', config, '--backend', 'cpu', '--runs-dir', dir, '-q'], { env: { DLPHYS_THREADS: 'many' } });
  assert.equal(cpu.status, 0, cpu.stderr);
});
