/**
 * Bayes search (lib/sweep/bayes.ts, gp.ts, unit_cube.ts) on its own and through the store: it
 * finds the optimum of a known function faster than random search, never proposes a point that is
 * pending, and proposes the same next run from the same database (a restarted coordinator).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Store } from '../coordinator/store/index.js';
import { Rng } from '../lib/rng.js';
import { bayesNext, expandSweep, normalizeParameter, sample, type Parameter, type SearchRun } from '../lib/sweep/index.js';
import { decode, encode } from '../lib/sweep/unit_cube.js';
import { normalCdf, normalPpf } from '../lib/theory/special.js';
import { query, runStates, serveSweep, startOneSlotAgent, within, withCluster } from './cluster.js';
import { tempDir, writeText } from './helpers.js';
import { agent, fresh, landed } from './store_fixtures.js';
import { base, throwsUsage } from './sweep_fixtures.js';

const p = (path: string, spec: Record<string, unknown>): Parameter => normalizeParameter(path, spec);

test('the unit cube maps every distribution into [0, 1] and back into its support, rounded as it is', () => {
  const params = [
    p('u', { distribution: 'uniform', min: -1, max: 3 }),
    p('i', { distribution: 'int_uniform', min: 2, max: 5 }),
    p('q', { distribution: 'q_uniform', min: 0, max: 1, q: 0.25 }),
    p('lv', { distribution: 'log_uniform_values', min: 1e-4, max: 1 }),
    p('l', { distribution: 'log_uniform', min: -5, max: 0 }),
    p('iv', { distribution: 'inv_log_uniform_values', min: 0.01, max: 1 }),
    p('n', { distribution: 'normal', mu: 1, sigma: 2 }),
    p('ln', { distribution: 'log_normal', mu: 0, sigma: 1 }),
    p('c', { values: ['relu', 'tanh', { a: 1 }] }),
    p('k', { value: 7 }),
  ];
  const rng = new Rng(1, 'cube');
  for (let t = 0; t < 200; t++) {
    const values = params.map((q) => sample(q, rng));
    const point = encode(params, values);
    assert.equal(point.length, 11, 'one coordinate each, three for the categorical, none for the constant');
    assert.ok(point.every((x) => x >= 0 && x <= 1), JSON.stringify(point));
    const back = decode(params, point);
    // Continuous values come back (to rounding); discrete ones exactly.
    for (const j of [0, 3, 4, 5, 6, 7]) assert.ok(Math.abs((back[j] as number) - (values[j] as number)) <= 1e-6 * Math.max(1, Math.abs(values[j] as number)), `${params[j]!.path}: ${values[j]} -> ${back[j]}`);
    for (const j of [1, 2, 8, 9]) assert.deepEqual(back[j], values[j]);
  }
  assert.deepEqual(decode(params, new Array(11).fill(0)).slice(0, 3), [-1, 2, 0]);
  assert.deepEqual(decode(params, new Array(11).fill(1)).slice(0, 3), [3, 5, 1]);
  for (const u of [1e-12, 0.01, 0.5, 0.975]) assert.ok(Math.abs(normalCdf(normalPpf(u)) - u) <= 1e-12 * Math.max(u, 1e-3));
});

/** Minimum at x = 0.7, lr = 1e-2: a quadratic bowl in (x, log10 lr). */
const bowl = (x: number, lr: number) => (x - 0.7) ** 2 + (Math.log10(lr) + 2) ** 2;
const BOWL = [p('x', { distribution: 'uniform', min: -2, max: 2 }), p('lr', { distribution: 'log_uniform_values', min: 1e-4, max: 1 })];

function search(method: 'bayes' | 'random', seed: number, budget: number): number {
  const runs: SearchRun[] = [];
  const rng = new Rng(seed, 'random search');
  for (let i = 0; i < budget; i++) {
    const [values] = method === 'bayes' ? bayesNext(BOWL, runs, 1, 'min', new Rng(seed, `bayes ${i}`)) : [BOWL.map((q) => sample(q, rng))];
    runs.push({ values: values!, state: 'finished', metric: bowl(values![0] as number, values![1] as number) });
  }
  return Math.min(...runs.map((r) => r.metric!));
}

test('bayes converges to the optimum of a 2-D bowl, well ahead of random search at the same budget', () => {
  for (const seed of [0, 1, 2]) {
    const bayes = search('bayes', seed, 25);
    assert.ok(bayes < 0.01, `seed ${seed}: bayes best ${bayes}`);
    assert.ok(bayes < search('random', seed, 25), `seed ${seed}: bayes ${bayes} not better than random`);
  }
});

test('bayes proposals are deterministic for a history, and never a pending point, also within one batch', () => {
  const rng = new Rng(5, 'history');
  const runs: SearchRun[] = Array.from({ length: 6 }, () => {
    const values = BOWL.map((q) => sample(q, rng));
    return { values, state: 'finished', metric: bowl(values[0] as number, values[1] as number) };
  });
  // The best point so far is running again (say, a retry): it is pending, not to be proposed.
  const best = runs.reduce((a, b) => (a.metric! < b.metric! ? a : b));
  runs.push({ values: best.values, state: 'pending', metric: null });
  const a = bayesNext(BOWL, runs, 4, 'min', new Rng(9, 'next'));
  assert.deepEqual(bayesNext(BOWL, runs, 4, 'min', new Rng(9, 'next')), a);
  const key = (v: unknown[]) => JSON.stringify(v);
  assert.equal(new Set([...a.map(key), key(best.values)]).size, 5, 'four new points, none equal to each other or to the pending one');
  // Maximising negates the surface: proposals still fall inside the bounds.
  for (const v of bayesNext(BOWL, runs, 2, 'max', new Rng(9, 'next'))) assert.ok((v[0] as number) >= -2 && (v[0] as number) <= 2);
});

test('method bayes needs a metric; a bayes sweep is made on demand, and a coordinator restarted on its database proposes the same next run', () => {
  throwsUsage(() => expandSweep({ method: 'bayes', base: base(), parameters: { seed: { values: [0, 1] } } }, { source: 'b.json', baseDir: '/' }), /method bayes needs a metric to optimise/);
  const spec = { method: 'bayes', seed: 3, run_cap: 6, base: base(), metric: { name: 'val_loss', goal: 'minimize' }, parameters: { 'optimizer.kwargs.lr': { distribution: 'log_uniform_values', min: 0.001, max: 1 } } };
  const sweep = expandSweep(spec, { source: 'b.json', baseDir: '/', name: 'b' });
  assert.equal(sweep.open, true);
  assert.deepEqual(sweep.runs, []);
  const { store, file } = fresh();
  store.addSweep(sweep);
  const a = agent(store);
  const first = store.lease(a, 3, 10_000, 'l1');
  assert.deepEqual(first.map((r) => r.name), ['r0000', 'r0001', 'r0002']);
  // Two finish, one is still running: the next proposal is the surrogate's.
  first.slice(0, 2).forEach((r, i) => {
    landed(store, { runId: r.runId, attempt: r.attempt });
    store.finishRun({ runId: r.runId, attempt: r.attempt }, a, { status: 'completed', summaryJson: JSON.stringify({ best: { val_loss: 1 - i * 0.5 }, final: {} }), error: '' });
  });
  store.close();
  const copy = path.join(tempDir(), 'copy.db');
  fs.copyFileSync(file, copy);
  const [one, two] = [Store.open(file), Store.open(copy)];
  const next = [one.lease(a, 1, 10_000, 'l2'), two.lease(a, 1, 10_000, 'l2')];
  assert.equal(next[0]![0]!.name, 'r0003');
  assert.deepEqual(next[0]!.map((r) => r.configJson), next[1]!.map((r) => r.configJson), 'the same history, the same next run');
  one.close();
  two.close();
});

const hasPython = spawnSync('python3', ['--version']).status === 0;

test('a W&B bayes sweep.yaml runs unchanged to its run_cap', { skip: hasPython ? false : 'python3 is not installed' }, async () => {
  const dir = tempDir('dlphys-bayes-');
  writeText(path.join(dir, 'train.py'), 'import wandb\nrun = wandb.init()\nx = wandb.config.x\nwandb.log({"loss": (x - 0.3) ** 2})\n');
  const yaml = 'name: bayes-demo\nprogram: train.py\nmethod: bayes\nrun_cap: 5\nmetric:\n  name: loss\n  goal: minimize\nparameters:\n  x:\n    min: 0.0\n    max: 1.0\n';
  const ws = { dir, db: path.join(dir, 'dlphys.db'), runsDir: path.join(dir, 'runs'), sweepFile: writeText(path.join(dir, 'sweep.yaml'), yaml) };
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--exit-when-done']);
    const a = c.track('agent', startOneSlotAgent(coord.address, ['--exit-when-idle']));
    assert.equal(await within('the sweep to reach its run_cap and finish', coord.exited, 90_000, c.logs), 0, c.logs());
    assert.equal(await within('the agent to exit', a.exited, 30_000, c.logs), 0, c.logs());
  });
  const states = runStates(ws.db);
  assert.deepEqual(Object.keys(states), ['bayes-demo/r0000', 'bayes-demo/r0001', 'bayes-demo/r0002', 'bayes-demo/r0003', 'bayes-demo/r0004']);
  assert.ok(Object.values(states).every((s) => s === 'completed'), JSON.stringify(states));
  const xs = query<{ params_json: string }>(ws.db, 'SELECT params_json FROM runs ORDER BY idx').map((r) => (JSON.parse(r.params_json) as { x: number }).x);
  assert.ok(xs.every((x) => x >= 0 && x <= 1 && !Number.isInteger(x)), `uniform draws, not int_uniform: ${xs}`);
});

test('bayes maximises as well as it minimises, and on a discrete space never re-proposes a running configuration', () => {
  // Maximising −bowl is minimising bowl.
  const runs: SearchRun[] = [];
  for (let i = 0; i < 25; i++) {
    const [values] = bayesNext(BOWL, runs, 1, 'max', new Rng(4, `bayes ${i}`));
    runs.push({ values: values!, state: 'finished', metric: -bowl(values![0] as number, values![1] as number) });
  }
  assert.ok(Math.max(...runs.map((r) => r.metric!)) > -0.01, `best ${Math.max(...runs.map((r) => r.metric!))}`);
  // A small discrete space: a categorical and an int_uniform; the best configuration is running.
  const space = [p('act', { values: ['relu', 'tanh'] }), p('w', { distribution: 'int_uniform', min: 0, max: 3 })];
  const f = (v: unknown[]) => (v[0] === 'tanh' ? 0 : 1) + ((v[1] as number) - 1) ** 2;
  const rng = new Rng(2, 'discrete');
  const history: SearchRun[] = Array.from({ length: 10 }, () => {
    const v = space.map((q) => sample(q, rng));
    return { values: v, state: 'finished', metric: f(v) };
  });
  history.push({ values: ['tanh', 1], state: 'pending', metric: null });
  const next = bayesNext(space, history, 4, 'min', new Rng(3, 'next'));
  const keys = next.map((v) => JSON.stringify(v));
  assert.ok(!keys.includes(JSON.stringify(['tanh', 1])), `re-proposed the running configuration: ${keys}`);
  assert.equal(new Set(keys).size, 4, `four distinct configurations: ${keys}`);
});
