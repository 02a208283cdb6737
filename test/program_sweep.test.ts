/**
 * Program sweeps end to end: a W&B user's sweep.yaml naming a train.py that uses only wandb.init,
 * wandb.config and wandb.log, run by a real coordinator and real agents on 127.0.0.1, with
 * python3 and the agent's wandb shim. Checked on disk and in the database.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { buildProgramCommand } from '../lib/sweep/program_command.js';
import {
  attemptsOf,
  coordCommand,
  isRunning,
  query,
  runStates,
  serveSweep,
  startOneSlotAgent,
  tinySweep,
  waitFor,
  within,
  withCluster,
  type Workspace,
} from './cluster.js';
import { readJsonl, tempDir, writeJson, writeText } from './helpers.js';

const hasPython = spawnSync('python3', ['--version']).status === 0;
const skip = hasPython ? false : 'python3 is not installed';

/**
 * A training script as W&B users write them: argparse defaults handed to wandb.init, the sweep's
 * values read back from wandb.config, metrics through wandb.log. Nothing in it knows dlphys.
 * `hold` makes it wait at step 1 until that file exists (the test's signal, not a sleep);
 * `pidfile` is where it says its pid.
 */
const TRAIN_PY = `
import argparse, json, os, sys, time
import wandb

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--steps", type=int, default=4)
parser.add_argument("--crash", type=str, default="False")
parser.add_argument("--hold", type=str, default="")
parser.add_argument("--pidfile", type=str, default="")
parser.add_argument("--flag", type=str, default="False")
parser.add_argument("--opt", type=str, default="")
args = parser.parse_args()

run = wandb.init(project="demo", config=args)
with open(os.path.join(run.dir, "argv.json"), "w") as f:
    json.dump({"argv": sys.argv[1:], "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "marker": MARKER}, f)
if wandb.config.pidfile:
    with open(wandb.config.pidfile, "w") as f:
        f.write(str(os.getpid()))
for step in range(wandb.config.steps):
    wandb.log({"loss": wandb.config.lr / (step + 1), "acc": step / 10})
    if step == 1 and wandb.config.hold:
        while not os.path.exists(wandb.config.hold):
            time.sleep(0.05)
if str(wandb.config.crash) == "True":
    print("about to fail", file=sys.stderr)
    raise ValueError("boom after training")
`;

/** A folder with train.py (its MARKER set to `marker`) and a sweep.yaml made of `yaml`. */
function programWorkspace(yaml: string, marker = 'v1'): Workspace {
  const dir = tempDir('dlphys-program-');
  writeText(path.join(dir, 'train.py'), TRAIN_PY.replace('MARKER', JSON.stringify(marker)));
  return { dir, db: path.join(dir, 'dlphys.db'), runsDir: path.join(dir, 'runs'), sweepFile: writeText(path.join(dir, 'sweep.yaml'), yaml) };
}

function runFolder(ws: Workspace, runId: string): string {
  return path.join(ws.runsDir, runId);
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

test('a W&B sweep.yaml with program: train.py runs unchanged through two agents, with the command lines W&B builds', { skip }, async () => {
  const ws = programWorkspace(`
name: My W&B sweep
program: train.py
method: grid
metric:
  name: loss
  goal: minimize
parameters:
  lr:
    values: [1e-1, 2e-1]
  flag:
    value: true
  opt:
    parameters:
      beta:
        values: [0.9]
`);
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--exit-when-done']);
    const agents = [c.track('agent 1', startOneSlotAgent(coord.address, ['--exit-when-idle'])), c.track('agent 2', startOneSlotAgent(coord.address, ['--exit-when-idle']))];
    assert.equal(await within('the coordinator to finish', coord.exited, 90_000, c.logs), 0, c.logs());
    for (const a of agents) assert.equal(await within('an agent to exit', a.exited, 30_000, c.logs), 0, c.logs());
  });
  assert.deepEqual(runStates(ws.db), { 'my-w-b-sweep/r000': 'completed', 'my-w-b-sweep/r001': 'completed' });
  const [kind] = query<{ kind: string; code_hash: string }>(ws.db, 'SELECT kind, code_hash FROM sweeps');
  assert.equal(kind!.kind, 'program');
  assert.match(kind!.code_hash, /^[0-9a-f]{64}$/);
  for (const [name, lr] of [['r000', 0.1], ['r001', 0.2]] as const) {
    const dir = runFolder(ws, `my-w-b-sweep/${name}`);
    const params = { lr, flag: true, opt: { beta: 0.9 } };
    // The argv the program saw is the one W&B's agent builds for these parameters.
    const seen = readJson(path.join(dir, 'argv.json'));
    const expected = buildProgramCommand({ command: undefined, program: 'train.py', params, interpreter: 'python3', argsJsonFile: '', env: {} });
    assert.deepEqual(seen.argv, expected.slice(3));
    assert.deepEqual(seen.argv, [`--lr=${lr}`, '--flag=True', "--opt={'beta': 0.9}"]);
    // config.json: the sweep's values over the script's argparse defaults, W&B's way.
    const config = readJson(path.join(dir, 'config.json'));
    assert.equal(config.lr, lr);
    assert.equal(config.steps, 4);
    assert.equal((config.provenance as Record<string, unknown>).kind, 'program');
    const rows = readJsonl(path.join(dir, 'metrics.jsonl'));
    assert.deepEqual(rows.map((r) => r.step), [0, 1, 2, 3]);
    assert.equal(rows[3]!.loss, lr / 4);
    const summary = readJson(path.join(dir, 'summary.json'));
    assert.equal(summary.status, 'completed');
    assert.equal(summary.steps, 4);
    assert.deepEqual(summary.final, { loss: lr / 4, acc: 0.3 });
    assert.equal((summary.best as Record<string, number>).loss, lr / 4);
    // W&B's sweep-param file, where wandb.init looks for it.
    assert.match(fs.readFileSync(path.join(dir, 'wandb', 'sweep-my-w-b-sweep', `config-${name}.yaml`), 'utf8'), /"lr": \{\n {4}"value": 0\.[12]\n/);
    assert.match(fs.readFileSync(path.join(dir, 'train.log'), 'utf8'), /program run my-w-b-sweep\/r00\d: \/usr\/bin\/env python3 train\.py --lr=/);
  }
  // The stored metrics are the program's rows.
  assert.equal(query<{ n: number }>(ws.db, "SELECT count(*) AS n FROM metrics WHERE run_id = 'my-w-b-sweep/r000'")[0]!.n, 4);
});

test("a program run's metrics stream live into status, its code is the one submitted, and literal arguments of command are kept", { skip }, async () => {
  const hold = path.join(tempDir('dlphys-hold-'), 'go');
  const ws = programWorkspace(
    `
program: train.py
method: grid
command: ["\${env}", "\${interpreter}", "\${program}", "--steps", 6, "\${args_no_boolean_flags}"]
parameters:
  lr: {value: 0.5}
  hold: {value: ${JSON.stringify(hold)}}
`,
    'submitted',
  );
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--exit-when-done']);
    // Edited after submission: the sweep keeps the code it was submitted with.
    fs.writeFileSync(path.join(ws.dir, 'train.py'), TRAIN_PY.replace('MARKER', '"edited"'));
    const agent = c.track('agent', startOneSlotAgent(coord.address, ['--exit-when-idle']));
    // The program holds at step 1 until told: status must show that row while it runs.
    const deadline = Date.now() + 60_000;
    let live: { state: string; latest: Record<string, number> | null } | undefined;
    while (!(live?.state === 'running' && live.latest?.step === 1)) {
      assert.ok(Date.now() < deadline, `status never showed the running run's step 1: ${JSON.stringify(live)}\n${c.logs()}`);
      const r = await coordCommand(['status', '--coord', coord.address, '--json']);
      live = (JSON.parse(r.stdout || '{"runs":[]}') as { runs: (typeof live)[] }).runs[0];
    }
    assert.equal(live.latest!.loss, 0.25);
    const table = await coordCommand(['status', '--coord', coord.address]);
    assert.match(table.stdout, /running .* step 1 loss=0\.25/);
    fs.writeFileSync(hold, '');
    assert.equal(await within('the coordinator to finish', coord.exited, 60_000, c.logs), 0, c.logs());
    assert.equal(await within('the agent to exit', agent.exited, 30_000, c.logs), 0, c.logs());
  });
  const dir = runFolder(ws, 'sweep/r000');
  const seen = readJson(path.join(dir, 'argv.json'));
  assert.equal(seen.marker, 'submitted');
  assert.deepEqual(seen.argv, ['--steps', '6', '--lr=0.5', `--hold=${hold}`]);
  assert.equal(readJsonl(path.join(dir, 'metrics.jsonl')).length, 6, 'the literal --steps 6 of command was honoured');
});

test('a crashing program is failed with the tail of its stderr; a missing executable fails the run, not the agent; a missing --interpreter is refused at start', { skip }, async () => {
  const ws = programWorkspace(`
program: train.py
method: grid
metric: {name: los}
parameters:
  crash: {values: [true]}
`);
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--exit-when-done']);
    const agent = c.track('agent', startOneSlotAgent(coord.address, ['--exit-when-idle']));
    assert.equal(await within('the coordinator to finish', coord.exited, 60_000, c.logs), 0, c.logs());
    assert.equal(await within('the agent to exit', agent.exited, 30_000, c.logs), 0, c.logs());
    // The sweep metric its runs do not log is said once, with the name they do log.
    assert.match(coord.log(), /warning: sweep sweep: metric "los" was not logged by run r000, which logged loss, acc; did you mean "loss"\?/);
  });
  const [run] = query<{ state: string; error: string }>(ws.db, 'SELECT state, error FROM runs');
  assert.equal(run!.state, 'failed');
  assert.match(run!.error.split('\n')[0]!, /^program exited with code 1: ValueError: boom after training$/);
  assert.match(run!.error, /about to fail/);
  const summary = readJson(path.join(runFolder(ws, 'sweep/r000'), 'summary.json'));
  assert.equal(summary.status, 'failed');
  assert.equal(readJsonl(path.join(runFolder(ws, 'sweep/r000'), 'metrics.jsonl')).length, 4, 'what it logged before failing landed');

  // A command naming a program this host does not have fails the run in one line; the agent goes on.
  const ws2 = programWorkspace('program: train.py\nmethod: grid\ncommand: [/nonexistent/python9, "${program}", "${args}"]\nparameters:\n  lr: {values: [0.1, 0.2]}\n');
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws2, ['--exit-when-done']);
    // An --interpreter that is not there is refused when the agent starts, before it leases anything.
    const refused = c.track('bad agent', startOneSlotAgent(coord.address, ['--interpreter', '/nonexistent/python9']));
    assert.equal(await within('the misconfigured agent to exit', refused.exited, 30_000, c.logs), 2);
    assert.match(refused.log(), /dlphys-agent: --interpreter \/nonexistent\/python9: not found; give the path of a Python/);
    const agent = c.track('agent', startOneSlotAgent(coord.address, ['--exit-when-idle']));
    assert.equal(await within('the coordinator to finish', coord.exited, 60_000, c.logs), 0, c.logs());
    assert.equal(await within('the agent to exit', agent.exited, 30_000, c.logs), 0, 'the agent goes on after a run it cannot start');
  });
  for (const r of query<{ state: string; error: string }>(ws2.db, 'SELECT state, error FROM runs')) {
    assert.equal(r.state, 'failed');
    assert.equal(r.error, 'cannot run "/nonexistent/python9": not found');
  }
});

test('kill -9 of an agent during a program run kills the program and runs it once more elsewhere', { skip }, async () => {
  const scratch = tempDir('dlphys-kill-');
  const hold = path.join(scratch, 'go');
  const pidfile = path.join(scratch, 'pid');
  const ws = programWorkspace(`
program: train.py
method: grid
parameters:
  hold: {value: ${JSON.stringify(hold)}}
  pidfile: {value: ${JSON.stringify(pidfile)}}
`);
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--exit-when-done']);
    const first = c.track('agent 1', startOneSlotAgent(coord.address));
    const pid = await waitFor('the program to start', () => fs.existsSync(pidfile) && Number(fs.readFileSync(pidfile, 'utf8')), 60_000, c.logs);
    await waitFor('its first rows to reach the coordinator', () => runStates(ws.db)['sweep/r000'] === 'running' && query(ws.db, 'SELECT 1 FROM metrics').length > 0, 30_000, c.logs);
    first.kill('SIGKILL');
    await within('agent 1 to die', first.exited, 10_000, c.logs);
    await waitFor('the orphaned program to be killed', () => !isRunning(pid), 15_000, c.logs);
    fs.writeFileSync(hold, '');
    const second = c.track('agent 2', startOneSlotAgent(coord.address, ['--exit-when-idle']));
    assert.equal(await within('the coordinator to finish', coord.exited, 60_000, c.logs), 0, c.logs());
    assert.equal(await within('agent 2 to exit', second.exited, 30_000, c.logs), 0, c.logs());
  });
  assert.deepEqual(runStates(ws.db), { 'sweep/r000': 'completed' });
  assert.deepEqual(
    attemptsOf(ws.db, 'sweep/r000').map((a) => a.outcome),
    ['lost', 'completed'],
  );
  assert.equal(readJsonl(path.join(runFolder(ws, 'sweep/r000'), 'metrics.jsonl')).length, 4);
});

test('an agent with --gpu but no tfjs-node-gpu runs program sweeps only, pinned to its GPU; a program sweep is submitted only with the token', { skip }, async () => {
  const native = tinySweep({ name: 'native', runs: 1 });
  const ws = programWorkspace('name: prog\nprogram: train.py\nmethod: grid\nparameters:\n  lr: {values: [0.1]}\n');
  const nativeFile = writeJson(path.join(ws.dir, 'native.json'), native);
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    // A program sweep from a client needs the token this coordinator does not have; a native one does not.
    const refused = await coordCommand(['submit', ws.sweepFile, '--coord', coord.address, '--name', 'prog2']);
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, /sweep prog2 runs a program on every agent: this coordinator takes one from dlphys-coord submit only when it has a token \(start it with --token-file\)/);
    const submitted = await coordCommand(['submit', nativeFile, '--coord', coord.address]);
    assert.equal(submitted.status, 0, submitted.stderr);
    const agent = c.track('gpu agent', startOneSlotAgent(coord.address, ['--gpu', '0']));
    await waitFor('the program run to complete', () => runStates(ws.db)['prog/r000'] === 'completed', 60_000, c.logs);
    assert.match(agent.log(), /warning: --gpu needs @tensorflow\/tfjs-node-gpu for dlphys's own runs, which is not installed \(add it with: npm install .*\); this agent runs program sweeps only/);
    assert.equal(runStates(ws.db)['native/r000'], 'queued', 'the native run is left for an agent that can train it');
  });
  assert.equal(readJson(path.join(runFolder(ws, 'prog/r000'), 'argv.json')).cuda, '0');
});

test('where the real wandb is installed, program runs use it offline; --wandb-shim puts the shim first', { skip }, async () => {
  // A stand-in for the real package: it records what the run's environment says about wandb.
  const site = tempDir('dlphys-site-');
  writeText(
    path.join(site, 'wandb', '__init__.py'),
    'import json, os\nREAL = True\ndef init(**kw):\n    json.dump({"mode": os.environ.get("WANDB_MODE"), "real": True}, open(os.path.join(os.environ["WANDB_DIR"], "which.json"), "w"))\n',
  );
  const ws = programWorkspace('program: probe.py\nmethod: grid\nparameters:\n  lr: {values: [0.1]}\n');
  writeText(path.join(ws.dir, 'probe.py'), 'import json, os, wandb\nif "wandb_shim" not in wandb.__file__:\n    wandb.init()\nelse:\n    json.dump({"mode": os.environ.get("WANDB_MODE"), "real": False}, open(os.path.join(os.environ["DLPHYS_RUN_DIR"], "which.json"), "w"))\n');
  const env = { PYTHONPATH: site };
  for (const [flags, expected] of [
    [[], { mode: 'offline', real: true }],
    [['--wandb-shim'], { mode: null, real: false }],
  ] as const) {
    const name = flags.length ? 'shim' : 'real';
    await withCluster(async (c) => {
      const coord = await serveSweep(c, ws, ['--exit-when-done', '--name', name]);
      const agent = c.track('agent', startOneSlotAgent(coord.address, ['--exit-when-idle', ...flags], env));
      assert.equal(await within('the coordinator to finish', coord.exited, 60_000, c.logs), 0, c.logs());
      assert.equal(await within('the agent to exit', agent.exited, 30_000, c.logs), 0, c.logs());
      if (!flags.length) assert.match(agent.log(), /python3 has wandb installed; runs log with it offline into their folders/);
    });
    assert.deepEqual(readJson(path.join(runFolder(ws, `${name}/r000`), 'which.json')), expected);
  }
});
