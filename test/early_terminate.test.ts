/**
 * Early termination rules on scripted metric histories: hyperband's cases are wandb/sweeps' own
 * tests (tests/test_hyperband_stopping.py), rewritten; each asserts exactly the runs W&B stops.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ashaRungs, ashaStop, hyperbandBands, hyperbandStop, parseEarlyTerminate, valuesAtOf, type HyperbandConfig } from '../lib/sweep/early_terminate.js';
import { expandSweep } from '../lib/sweep/index.js';
import { query, runStates, serveSweep, startOneSlotAgent, within, withCluster } from './cluster.js';
import { readJsonl, runCli, tempDir, writeText } from './helpers.js';
import { agent, fresh, landed } from './store_fixtures.js';
import { base, throwsUsage } from './sweep_fixtures.js';

const hb = (raw: Record<string, unknown>) => parseEarlyTerminate({ type: 'hyperband', ...raw }, 'sweep.yaml') as HyperbandConfig;
const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

/** The runs W&B's rule stops: `runs` as [name, running, history]; every history is in `all`. */
function stopped(config: HyperbandConfig, goal: 'min' | 'max', runs: [string, boolean, number[]][]): string[] {
  const all = runs.map(([, , h]) => h);
  return runs.filter(([, running, h]) => running && hyperbandStop(config, goal, h, valuesAtOf(all))).map(([name]) => name);
}

test("hyperband's bands, from min_iter or from max_iter and s, as W&B makes them", () => {
  assert.deepEqual(hyperbandBands(hb({ min_iter: 3, eta: 3 })).slice(0, 3), [3, 9, 27]);
  assert.deepEqual(hyperbandBands(hb({ max_iter: 81, eta: 3, s: 3 })), [3, 9, 27]);
  assert.deepEqual(hyperbandBands(hb({ max_iter: 18, eta: 3, s: 2 })), [2, 6]);
  assert.deepEqual(hyperbandBands(hb({ max_iter: 5, eta: 2, s: 2 })), [1, 2]);
  assert.equal(hb({ min_iter: 3 }).eta, 3, "W&B's default eta");
  assert.equal(hb({ min_iter: 3 }).strict, true, "W&B's default: strict");
});

test('test_hyperband_min_iter_bands (and _max): a flat run is stopped at band 3, an improving one is not', () => {
  const flat = range(4, () => 10);
  const improving = range(10, (i) => 10 - i);
  assert.deepEqual(stopped(hb({ min_iter: 3, eta: 3 }), 'min', [['run', true, flat], ['run2', true, improving]]), ['run']);
  assert.deepEqual(stopped(hb({ min_iter: 3, eta: 3 }), 'max', [['run', true, flat], ['run2', true, range(10, (i) => 10 + i)]]), ['run']);
  assert.deepEqual(stopped(hb({ max_iter: 81, eta: 3, s: 3 }), 'min', [['run', true, flat], ['run2', true, improving]]), ['run']);
  assert.deepEqual(stopped(hb({ max_iter: 18, eta: 3, s: 2 }), 'min', [['run', true, flat], ['run2', true, improving]]), ['run']);
});

test('test_single_run and test_2runs_band1_pass: nothing is stopped', () => {
  const config = hb({ max_iter: 18, eta: 3, s: 2, strict: false });
  assert.deepEqual(stopped(config, 'min', [['run', true, range(10, (i) => 10 - i)]]), []);
  assert.deepEqual(stopped(config, 'min', [['run', true, [10, 10, 6]], ['run2', true, range(10, (i) => 10 - i)]]), []);
});

test('test_5runs_band1_stop_2 and _1stnoband: finished runs count for the cuts but are not stopped', () => {
  const config = hb({ max_iter: 5, eta: 2, s: 2 });
  assert.deepEqual(
    stopped(config, 'min', [['a', false, [10, 9]], ['b', true, [10, 10]], ['c', true, [10, 8, 8]], ['d', true, [10, 7, 7]], ['e', false, [10, 6, 6]]]),
    ['b'],
  );
  assert.deepEqual(
    stopped(config, 'min', [['a', false, [10]], ['b', true, [11]], ['c', true, [10, 8, 8]], ['d', true, [10, 7, 7]], ['e', false, [10, 6, 6]]]),
    ['b', 'c'],
  );
});

test('test_eta_3 and test_eta_3_max: the non-strict rule uses the best value so far', () => {
  const config = hb({ max_iter: 9, eta: 3, s: 2, strict: false });
  const runs: [string, boolean, number[]][] = [['a', false, [9, 8]], ['b', true, [11, 11]], ['c', true, [10, 8, 3]], ['d', true, [10, 7, 4]], ['e', true, [10, 6, 6]]];
  assert.deepEqual(stopped(config, 'min', runs), ['b', 'e']);
  const negated: [string, boolean, number[]][] = [['a', false, [-10, -9]], ['b', true, [-11, -11]], ['c', true, [-10, -8, -5, -3]], ['d', true, [-10, -6, -2]], ['e', true, [-10, -6, -6, -6]]];
  assert.deepEqual(stopped(config, 'max', negated), ['b', 'e']);
  const d = hyperbandStop(config, 'min', [11, 11], valuesAtOf(runs.map((r) => r[2])));
  assert.deepEqual(d, { rule: 'hyperband', band: 1, value: 11, cut: 10 });
});

test('ASHA stops a run reaching a rung outside the top 1/reduction_factor of the values recorded there', () => {
  const config = parseEarlyTerminate({ type: 'asha', grace_period: 1, reduction_factor: 2, max_t: 10 }, 'sweep.yaml');
  assert.equal(config.type, 'asha');
  if (config.type !== 'asha') return;
  assert.deepEqual(ashaRungs(config), [1, 2, 4, 8]);
  const all = valuesAtOf([[5, 4, 3, 2], [6, 5], [7]]);
  // At rung 1 the values are 5, 6, 7: the best ceil(3/2) = 2 stay (cut 6); 7 is stopped.
  assert.deepEqual(ashaStop(config, 'min', [7], all), { rule: 'asha', band: 1, value: 7, cut: 6 });
  // At rung 2 the values are 4 and 5: only the better half (4) goes on.
  assert.deepEqual(ashaStop(config, 'min', [6, 5], all), { rule: 'asha', band: 2, value: 5, cut: 4 });
  assert.equal(ashaStop(config, 'min', [5, 4], all), null, 'the best at rung 2 goes on');
  assert.equal(ashaStop(config, 'min', [5, 4, 3], all), null, 'not at a rung');
  assert.equal(ashaStop(config, 'max', [7], all), null, 'maximised, 7 is the best');
});

test('an early_terminate block that cannot work is refused in one line naming the fix', () => {
  throwsUsage(() => parseEarlyTerminate({ type: 'median' }, 's.yaml'), /early_terminate: type "median" is not one dlphys applies; use "hyperband" \(W&B's\) or "asha"/);
  throwsUsage(() => parseEarlyTerminate({ type: 'hyperband', eta: 3 }, 's.yaml'), /hyperband needs min_iter, or max_iter with s/);
  throwsUsage(() => parseEarlyTerminate({ type: 'hyperband', max_iter: 2, s: 1, eta: 3 }, 's.yaml'), /give no band/);
  throwsUsage(() => parseEarlyTerminate({ type: 'hyperband', min_iter: 3, etaa: 2 }, 's.yaml'), /unknown key "etaa" for hyperband/);
});

test('through the store: rows arriving stop a run worse than the cut, it ends early_stopped with why, and is never run again', () => {
  const { store, clock } = fresh();
  const spec = {
    method: 'grid',
    base: base(),
    metric: { name: 'val_loss', goal: 'minimize' },
    early_terminate: { type: 'hyperband', min_iter: 2, eta: 2 },
    parameters: { seed: { values: [0, 1, 2, 3] } },
  };
  store.addSweep(expandSweep(spec, { source: 'h.json', baseDir: '/', name: 'h' }));
  const a = agent(store);
  const [good, mid, bad, lost] = store.lease(a, 4, 10_000, 'l');
  let seq = 0;
  const log = (r: typeof good, values: number[]) =>
    store.addMetrics({ runId: r!.runId, attempt: r!.attempt }, a, values.map((v, i) => ({ seq: ++seq, line: JSON.stringify({ step: i, val_loss: v, split: 'val' }) })));
  log(good, [1.0, 0.5]);
  log(mid, [1.0, 0.7]);
  log(bad, [1.0]);
  assert.deepEqual(store.heartbeat(a, [good!, bad!].map((r) => ({ runId: r!.runId, attempt: r!.attempt })), 10_000).earlyStop, [], 'band 2 not reached yet');
  // Rows without the metric, or NaN, are not iterations.
  store.addMetrics({ runId: bad!.runId, attempt: bad!.attempt }, a, [{ seq: ++seq, line: JSON.stringify({ step: 1, loss: 3 }) }, { seq: ++seq, line: JSON.stringify({ step: 1, val_loss: 'NaN' }) }]);
  log(bad, [0.9]);
  const beat = store.heartbeat(a, [good!, bad!, lost!].map((r) => ({ runId: r!.runId, attempt: r!.attempt })), 10_000);
  // At band 2 the values are 0.5, 0.7 and 0.9: W&B's cut is sorted[⌊3/2⌋] = 0.7.
  const why = 'early_terminate hyperband: val_loss 0.9 at band 2 is worse than its cut 0.7';
  assert.deepEqual(beat.earlyStop, [{ ref: { runId: bad!.runId, attempt: bad!.attempt }, reason: why }]);
  assert.deepEqual(beat.cancel, []);
  landed(store, { runId: bad!.runId, attempt: bad!.attempt });
  assert.equal(store.finishRun({ runId: bad!.runId, attempt: bad!.attempt }, a, { status: 'stopped', summaryJson: '{"status":"early_stopped"}', error: '' }), 'early_stopped');
  const row = store.status('h', 10_000).runs.find((r) => r.id === bad!.runId)!;
  assert.deepEqual([row.state, row.error], ['early_stopped', why]);
  assert.equal(store.retry('h'), 0, 'an early-stopped run is not retried');
  // Asked to stop, then its agent vanished: early_stopped, not queued again.
  log(lost, [2.0, 1.9]);
  clock.t += 60_000;
  store.expireLeases(10_000, () => false);
  assert.equal(store.status('h', 10_000).runs.find((r) => r.id === lost!.runId)!.state, 'early_stopped');
});

const hasPython = spawnSync('python3', ['--version']).status === 0;

test('a W&B hyperband sweep: the run worse than the cut is stopped mid-run, early_stopped with why in status, its folder and scan', { skip: hasPython ? false : 'python3 is not installed' }, async () => {
  const dir = tempDir('dlphys-hyperband-');
  // A bad run would log for ~20 s: it is stopped long before (the test waits on its end, not a clock).
  writeText(
    path.join(dir, 'train.py'),
    'import time, wandb\nrun = wandb.init()\nb = wandb.config.base\nfor step in range(20 if b < 0.5 else 400):\n    wandb.log({"val_loss": b + 1.0 / (step + 1)})\n    time.sleep(0.05)\n',
  );
  const yaml = 'name: hb\nprogram: train.py\nmethod: grid\nmetric: {name: val_loss, goal: minimize}\nearly_terminate: {type: hyperband, min_iter: 5, eta: 2}\nparameters:\n  base: {values: [0.0, 0.1, 1.0]}\n';
  const ws = { dir, db: path.join(dir, 'dlphys.db'), runsDir: path.join(dir, 'runs'), sweepFile: writeText(path.join(dir, 'sweep.yaml'), yaml) };
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--exit-when-done']);
    const a = c.track('agent', startOneSlotAgent(coord.address, ['--exit-when-idle']));
    assert.equal(await within('the sweep to finish', coord.exited, 90_000, c.logs), 0, c.logs());
    assert.equal(await within('the agent to exit', a.exited, 30_000, c.logs), 0, c.logs());
  });
  assert.deepEqual(runStates(ws.db), { 'hb/r000': 'completed', 'hb/r001': 'completed', 'hb/r002': 'early_stopped' });
  const [row] = query<{ error: string }>(ws.db, "SELECT error FROM runs WHERE id = 'hb/r002'");
  assert.match(row!.error, /^early_terminate hyperband: val_loss 1\.\d+ at band (5|10|20) is worse than its cut 0\.\d+$/);
  assert.ok(readJsonl(path.join(ws.runsDir, 'hb', 'r002', 'metrics.jsonl')).length < 400, 'stopped mid-run');
  const summary = JSON.parse(fs.readFileSync(path.join(ws.runsDir, 'hb', 'r002', 'summary.json'), 'utf8')) as { status: string; reason: string };
  assert.deepEqual([summary.status, summary.reason], ['early_stopped', row!.error]);
  const scan = runCli(['scan', path.join(ws.runsDir, 'hb')]);
  assert.match(scan.stdout, /r002 +early_stopped/);
  assert.match(scan.stdout, /r002 +early_stopped .* early_terminate hyperband: val_/);
  const rows = JSON.parse(runCli(['scan', path.join(ws.runsDir, 'hb'), '--format', 'json']).stdout) as { run: string; why: string | null }[];
  assert.deepEqual(rows.map((r) => [r.run, r.why]), [['r000', null], ['r001', null], ['r002', row!.error]]);
});

test('ASHA judges the highest rung a batch of rows crossed; non-strict hyperband takes histories of any length', () => {
  const config = parseEarlyTerminate({ type: 'asha', grace_period: 1, reduction_factor: 2, max_t: 10 }, 's.yaml');
  if (config.type !== 'asha') throw new Error('asha');
  const good = [[1, 1, 1], [1.5, 1.5, 1.5], [2, 2, 2]];
  // Three rows in one batch (from length 0 to 3) cross rungs 1 and 2: judged at rung 2.
  assert.deepEqual(ashaStop(config, 'min', [5, 5, 5], valuesAtOf([...good, [5, 5, 5]]), 0), { rule: 'asha', band: 2, value: 5, cut: 1.5 });
  assert.equal(ashaStop(config, 'min', [5, 5, 5], valuesAtOf([...good, [5, 5, 5]]), 2), null, 'no rung between 2 (exclusive) and 3');
  const long = Array.from({ length: 200_000 }, (_, i) => 1 / (i + 1));
  const hyper = hb({ min_iter: 3, eta: 3, strict: false });
  assert.equal(hyperbandStop(hyper, 'min', long, valuesAtOf([long])), null);
});

test('a run stopped early and then retried (it failed first) starts clean: its next attempt carries no stop', () => {
  const { store } = fresh();
  const spec = { method: 'grid', base: base(), metric: { name: 'val_loss', goal: 'minimize' }, early_terminate: { type: 'hyperband', min_iter: 1, eta: 2 }, parameters: { seed: { values: [0, 1, 2] } } };
  store.addSweep(expandSweep(spec, { source: 'h.json', baseDir: '/', name: 'r' }));
  const a = agent(store);
  const runs = store.lease(a, 3, 10_000, 'l');
  let seq = 0;
  runs.forEach((r, i) => store.addMetrics({ runId: r.runId, attempt: r.attempt }, a, [{ seq: ++seq, line: JSON.stringify({ step: 0, val_loss: i }) }]));
  const stoppedRun = runs[2]!;
  assert.match(store.stopReason({ runId: stoppedRun.runId, attempt: stoppedRun.attempt })!, /^early_terminate hyperband: val_loss 2 at band 1/);
  // Its runner died before the stop reached it: failed; a user retries it.
  store.finishRun({ runId: stoppedRun.runId, attempt: stoppedRun.attempt }, a, { status: 'failed', summaryJson: '', error: 'runner died' });
  assert.equal(store.retry(stoppedRun.runId), 1);
  const [again] = store.lease(a, 1, 10_000, 'l2');
  assert.equal(again!.attempt, 2);
  assert.equal(store.stopReason({ runId: again!.runId, attempt: again!.attempt }), null);
  assert.deepEqual(store.heartbeat(a, [{ runId: again!.runId, attempt: again!.attempt }], 10_000).earlyStop, []);
});
