import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runStates, startAgent, startCoordinator, workspace } from './cluster.js';
import { computedRows, runCli, tempDir, writeJson } from './helpers.js';

const base = {
  model: { name: 'mlp', kwargs: { widths: [8, 16, 3], activation: 'relu' } },
  optimizer: { name: 'sgd', kwargs: { lr: 0.1 } },
  data: { name: 'synthetic', kwargs: { n_train: 256, n_val: 64, dim: 8, classes: 3 } },
  train: { steps: 30, batch_size: 32, eval_every: 10, log_every: 5 },
};

/**
 * seed outermost, lr innermost (W&B's grid order): r000 s0 0.1, r001 s0 0.05, r002 s0 1e12
 * (diverges), r003 s1 0.1, r004 s1 0.05, r005 s1 1e12 (diverges).
 */
const sweep = {
  name: 'iso',
  method: 'grid',
  metric: { name: 'val_acc', goal: 'maximize' },
  parameters: { seed: { values: [0, 1] }, 'optimizer.kwargs.lr': { values: [0.1, 0.05, 1e12] } },
  base,
};


const pidOf = (runDir: string) => (JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as { provenance: { pid: number } }).provenance.pid;

test('by default a runner process trains run after run, and one whose run diverged or leaked is replaced before the next, which trains as in a fresh process', async () => {
  const ws = workspace(sweep);
  const coord = await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--exit-when-done']);
  // r003 keeps a tensor alive after it ends (agent/runner/main.ts DLPHYS_RUNNER_FAULT).
  const agent = startAgent(coord.address, ['--slots', '1', '--exit-when-idle'], { DLPHYS_RUNNER_FAULT: 'leak:r003' });
  const logs = () => `${coord.log()}\n---\n${agent.log()}`;
  assert.equal(await agent.exited, 0, logs());
  assert.equal(await coord.exited, 0, logs());
  const states = runStates(ws.db);
  assert.deepEqual(states, {
    'iso/r000': 'completed', 'iso/r001': 'completed', 'iso/r002': 'diverged',
    'iso/r003': 'completed', 'iso/r004': 'completed', 'iso/r005': 'diverged',
  }, logs());
  const dir = (run: string) => path.join(ws.runsDir, 'iso', run);
  const pid = Object.fromEntries(['r000', 'r001', 'r002', 'r003', 'r004', 'r005'].map((r) => [r, pidOf(dir(r))]));
  // Reused without a flag: healthy runs follow each other in one process.
  assert.equal(pid.r001, pid.r000, JSON.stringify(pid));
  assert.equal(pid.r002, pid.r001, JSON.stringify(pid));
  assert.equal(pid.r005, pid.r004, JSON.stringify(pid));
  // Replaced after the diverged run and after the leaking one, each time saying why.
  assert.notEqual(pid.r003, pid.r002, JSON.stringify(pid));
  assert.notEqual(pid.r004, pid.r003, JSON.stringify(pid));
  assert.match(agent.log(), new RegExp(`slot 0: a new runner process \\(pid ${pid.r002} retired: its last run diverged\\)`), agent.log());
  assert.match(agent.log(), new RegExp(`slot 0: a new runner process \\(pid ${pid.r003} retired: its last run left 1 tensor\\(s\\) allocated\\)`), agent.log());
  // ... and after r005 diverged, the last run: three replacements in all.
  assert.equal(agent.log().match(/a new runner process/g)?.length, 3, agent.log());

  // What the runs after them computed is what a fresh `dlphys train` of the same config computes.
  const config = writeJson(path.join(ws.dir, 'base.json'), { ...base, name: 'ref' });
  for (const [run, seed, lr] of [['r003', 1, 0.1], ['r004', 1, 0.05], ['r001', 0, 0.05]] as const) {
    const refDir = tempDir('dlphys-ref-');
    const r = runCli(['train', config, '--runs-dir', refDir, '--quiet', '--threads', '2', '--set', `seed=${seed}`, '--set', `optimizer.kwargs.lr=${lr}`]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(computedRows(dir(run)), computedRows(path.join(refDir, 'ref')), `${run} trained as in a fresh process`);
  }
});

test('--runs-per-process 1 gives every run a fresh process, and says nothing about it', async () => {
  const ws = workspace({ ...sweep, name: 'fresh', parameters: { seed: { values: [0, 1, 2] } } });
  const coord = await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--exit-when-done']);
  const agent = startAgent(coord.address, ['--slots', '1', '--exit-when-idle', '--runs-per-process', '1']);
  assert.equal(await agent.exited, 0, agent.log());
  assert.equal(await coord.exited, 0, coord.log());
  const pids = ['r000', 'r001', 'r002'].map((r) => pidOf(path.join(ws.runsDir, 'fresh', r)));
  assert.equal(new Set(pids).size, 3, `${pids}`);
  assert.doesNotMatch(agent.log(), /a new runner process/);
});
