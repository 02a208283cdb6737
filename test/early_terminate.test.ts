/**
 * Early termination rules on scripted metric histories: hyperband's cases are wandb/sweeps' own
 * tests (tests/test_hyperband_stopping.py), rewritten; each asserts exactly the runs W&B stops.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ashaRungs, ashaStop, hyperbandBands, hyperbandStop, parseEarlyTerminate, type HyperbandConfig } from '../lib/sweep/early_terminate.js';
import { throwsUsage } from './sweep_fixtures.js';

const hb = (raw: Record<string, unknown>) => parseEarlyTerminate({ type: 'hyperband', ...raw }, 'sweep.yaml') as HyperbandConfig;
const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

/** The runs W&B's rule stops: `runs` as [name, running, history]; every history is in `all`. */
function stopped(config: HyperbandConfig, goal: 'min' | 'max', runs: [string, boolean, number[]][]): string[] {
  const all = runs.map(([, , h]) => h);
  return runs.filter(([, running, h]) => running && hyperbandStop(config, goal, h, all)).map(([name]) => name);
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
  const d = hyperbandStop(config, 'min', [11, 11], runs.map((r) => r[2]));
  assert.deepEqual(d, { rule: 'hyperband', band: 1, value: 11, cut: 10 });
});

test('ASHA stops a run reaching a rung outside the top 1/reduction_factor of the values recorded there', () => {
  const config = parseEarlyTerminate({ type: 'asha', grace_period: 1, reduction_factor: 2, max_t: 10 }, 'sweep.yaml');
  assert.equal(config.type, 'asha');
  if (config.type !== 'asha') return;
  assert.deepEqual(ashaRungs(config), [1, 2, 4, 8]);
  const all = [[5, 4, 3, 2], [6, 5], [7]];
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
