/**
 * Open-ended sweeps (W&B's random search without run_cap): no runs up front; the coordinator makes
 * them as agents ask, run i always the i-th draw of the seed, until the sweep is cancelled; a
 * coordinator killed and started again on its database goes on with the same next runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { expandSweep, loadSweep } from '../lib/sweep/index.js';
import { coordCommand, query, runStates, serveSweep, startCoordinator, startOneSlotAgent, waitFor, within, withCluster } from './cluster.js';
import { tempDir, writeText } from './helpers.js';
import { agent, fresh, landed } from './store_fixtures.js';
import { base, expand } from './sweep_fixtures.js';

const OPEN = { method: 'random', seed: 7, parameters: { 'optimizer.kwargs.lr': { distribution: 'log_uniform_values', min: 0.001, max: 0.1 }, seed: { values: [0, 1, 2] } } };

test('random without run_cap is open-ended: no runs up front, and run i is the same whichever window makes it', () => {
  const sweep = expand(OPEN);
  assert.equal(sweep.open, true);
  assert.deepEqual(sweep.runs, []);
  const all = expandSweep({ ...OPEN, base: base() }, { source: 's.json', baseDir: '/', window: { from: 0, count: 6 } }).runs;
  const later = expandSweep({ ...OPEN, base: base() }, { source: 's.json', baseDir: '/', window: { from: 4, count: 2 } }).runs;
  assert.deepEqual(all.map((r) => r.name), ['r0000', 'r0001', 'r0002', 'r0003', 'r0004', 'r0005']);
  assert.deepEqual(later, all.slice(4));
  // A sweep with run_cap is not open: its runs are all made up front.
  assert.equal(expand({ ...OPEN, run_cap: 3 }).runs.length, 3);
});

test('a lease makes the runs an open-ended sweep is asked for, in its transaction; cancel ends it', () => {
  const { store } = fresh();
  const open = expandSweep({ ...OPEN, base: base() }, { source: 'open.json', baseDir: '/', name: 'open' });
  store.addSweep(open);
  const a = agent(store);
  assert.equal(store.unfinished(), 1, 'an open sweep is unfinished while it has no run');
  const leased = store.lease(a, 2, 10_000, 'req-1');
  assert.deepEqual(leased.map((r) => r.name), ['r0000', 'r0001']);
  const expected = expandSweep({ ...OPEN, base: base() }, { source: 'x', baseDir: '/', window: { from: 0, count: 3 } }).runs;
  assert.deepEqual(JSON.parse(leased[1]!.configJson), expected[1]!.config);
  // The same request again is answered with the same runs; nothing more is made.
  assert.deepEqual(store.lease(a, 2, 10_000, 'req-1').map((r) => r.name), ['r0000', 'r0001']);
  assert.deepEqual(store.lease(a, 1, 10_000, 'req-2').map((r) => r.name), ['r0002']);
  // An agent that runs programs only makes no runs of a native sweep.
  assert.deepEqual(store.lease(a, 1, 10_000, 'req-3', 'program'), []);
  assert.equal(store.status('open', 10_000).runs.length, 3);
  store.cancel('open');
  assert.deepEqual(store.lease(a, 2, 10_000, 'req-4'), []);
  assert.equal(store.status('open', 10_000).runs.length, 3, 'a cancelled open sweep makes no more runs');
});

const hasPython = spawnSync('python3', ['--version']).status === 0;

test('an open-ended program sweep keeps producing runs through a coordinator restart until cancelled', { skip: hasPython ? false : 'python3 is not installed' }, async () => {
  const dir = tempDir('dlphys-open-');
  writeText(path.join(dir, 'train.py'), 'import wandb\nrun = wandb.init()\nwandb.log({"loss": wandb.config.lr})\n');
  const spec = 'name: open\nprogram: train.py\nmethod: random\nseed: 3\nparameters:\n  lr: {min: 0.0, max: 1.0}\n';
  const ws = { dir, db: path.join(dir, 'dlphys.db'), runsDir: path.join(dir, 'runs'), sweepFile: writeText(path.join(dir, 'sweep.yaml'), spec) };
  const completed = () => Object.values(runStates(ws.db)).filter((s) => s === 'completed').length;
  await withCluster(async (c) => {
    let coord = await serveSweep(c, ws);
    assert.match(coord.log(), /sweep open: open-ended random \(no run_cap\): runs are made as agents ask, until dlphys-coord cancel open/);
    const agent = c.track('agent', startOneSlotAgent(coord.address, ['--exit-when-idle']));
    await waitFor('2 runs to complete', () => completed() >= 2, 60_000, c.logs);
    coord.kill('SIGKILL');
    await coord.exited;
    coord = c.track('coordinator 2', await startCoordinator(['serve', '--port', String(coord.port), '--db', ws.db, '--runs-dir', ws.runsDir, '--lease-ttl', '3']));
    const before = completed();
    await waitFor('another run after the restart', () => completed() >= before + 1, 60_000, c.logs);
    const cancelled = await coordCommand(['cancel', 'open', '--coord', coord.address]);
    assert.equal(cancelled.status, 0, cancelled.stderr);
    assert.equal(await within('the agent to exit once the sweep is cancelled', agent.exited, 60_000, c.logs), 0, c.logs());
  });
  const rows = query<{ name: string; params_json: string }>(ws.db, 'SELECT name, params_json FROM runs ORDER BY idx');
  const expected = loadSweep(ws.sweepFile, { window: { from: 0, count: rows.length } }).runs;
  assert.ok(rows.length >= 3);
  assert.deepEqual(
    rows.map((r) => [r.name, JSON.parse(r.params_json)]),
    expected.map((r) => [r.name, r.params]),
    'the same runs, in order, across the restart',
  );
});

test('an open-ended sweep fills what other sweeps leave, and is closed once its first 5 runs have all failed', () => {
  const { store } = fresh();
  store.addSweep(expandSweep({ ...OPEN, base: base() }, { source: 'open.json', baseDir: '/', name: 'open' }));
  store.addSweep(expandSweep({ method: 'grid', base: base(), parameters: { seed: { values: [0, 1] } } }, { source: 'later.json', baseDir: '/', name: 'later' }));
  const a = agent(store);
  // The sweep submitted after the open one still gets the agent first.
  assert.deepEqual(store.lease(a, 3, 10_000, 'r1').map((r) => r.runId), ['later/r000', 'later/r001', 'open/r0000']);
  const fail = (r: { runId: string; attempt: number }) => store.finishRun({ runId: r.runId, attempt: r.attempt }, a, { status: 'failed', summaryJson: '', error: 'ImportError' });
  fail({ runId: 'open/r0000', attempt: 1 });
  for (let i = 0; i < 4; i++) for (const r of store.lease(a, 1, 10_000, `f${i}`)) fail(r);
  assert.equal(store.status('open', 10_000).runs.filter((r) => r.state === 'failed').length, 5);
  assert.deepEqual(store.lease(a, 2, 10_000, 'after'), [], 'no run is made once its first 5 runs failed');
  assert.match(store.status('open', 10_000).sweeps[0]!.warning, /^no more runs are made: its first 5 runs failed/);
  assert.equal(store.unfinished(), 2, "the other sweep's two leased runs; the closed sweep is not waited for");
});

test("metric.target: the first run that ends having reached it finishes the sweep; queued runs are cancelled, running ones finish", () => {
  const { store } = fresh();
  const spec = { method: 'grid', base: base(), metric: { name: 'val_loss', goal: 'minimize', target: 0.2 }, parameters: { seed: { values: [0, 1, 2, 3, 4] } } };
  store.addSweep(expandSweep(spec, { source: 't.json', baseDir: '/', name: 't' }));
  const a = agent(store);
  const [r0, r1, r2] = store.lease(a, 3, 10_000, 'l1');
  const end = (r: typeof r0, best: number) => {
    landed(store, { runId: r!.runId, attempt: r!.attempt });
    store.finishRun({ runId: r!.runId, attempt: r!.attempt }, a, { status: 'completed', summaryJson: JSON.stringify({ best: { val_loss: best }, final: { val_loss: best } }), error: '' });
  };
  end(r0, 0.5);
  assert.equal(store.status('t', 10_000).sweeps[0]!.finished_reason, '', 'not reached yet');
  end(r1, 0.15);
  const sweep = store.status('t', 10_000).sweeps[0]!;
  assert.equal(sweep.finished_reason, 'run r001 reached val_loss 0.15 <= target 0.2');
  assert.deepEqual(store.lease(a, 3, 10_000, 'l2'), [], 'no run is handed out once the target is reached');
  assert.deepEqual(sweep.states.cancelled, 2);
  // The run still going when the target was reached finishes and is recorded.
  end(r2, 0.3);
  assert.equal(store.status('t', 10_000).runs.find((r) => r.id === 't/r002')!.state, 'completed');
  assert.equal(store.unfinished(), 0);
});
