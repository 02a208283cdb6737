import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import { useBackend } from '../lib/backend/index.js';
import { configReport, predictForExperiment } from '../lib/cli/theory_config.js';
import { UsageError } from '../lib/errors.js';
import { trainRun } from '../lib/run/train_run.js';
import { buildExperiment, fitExperiment, resolveConfig } from '../lib/experiment.js';
import { criticalSigmaW2 } from '../lib/theory/index.js';
import { runCli, tempDir, tinyConfig, writeJson } from './helpers.js';

// Experiment beside theory: what preact_stats and criticality measure on a wide network at
// initialisation against lib/theory's prediction for the same network and inputs, and the edge
// of chaos where Schoenholz et al. (2017) put it. Then `dlphys theory CONFIG|RUN`.

before(async () => {
  await useBackend('wasm');
});

interface Measured {
  probe: Record<string, number>;
  predicted: ReturnType<typeof predictForExperiment>['predictions'];
}

/** Builds the network, predicts it, and measures it at step 0 (lr 0: nothing trains). */
async function measureAtInit(model: Record<string, unknown>, init: Record<string, unknown>, seed: number): Promise<Measured> {
  const config = resolveConfig(
    {
      seed,
      model: { name: 'mlp', kwargs: model },
      init: { name: 'gaussian', kwargs: init },
      optimizer: { name: 'sgd', kwargs: { lr: 0 } },
      data: { name: 'synthetic', kwargs: { n_train: 256, n_val: 32, dim: 64, classes: 4, seed: 3 } },
      train: { steps: 1, batch_size: 32, eval_every: 0 },
      callbacks: [
        { name: 'preact_stats', kwargs: { at: [0], n_probe: 32 } },
        { name: 'criticality', kwargs: { at: [0], n_probe: 32, n_jacobian: 0 } },
      ],
    },
    'test',
  );
  const exp = buildExperiment(config, process.cwd());
  try {
    const predicted = predictForExperiment(exp, 32).predictions;
    const rows: Record<string, number | string>[] = [];
    await fitExperiment(exp, { runDir: null, sink: { metrics: (r) => rows.push(r), print() {} } });
    const probe = Object.assign({}, ...rows.filter((r) => r.split === 'probe' && r.step === 0)) as Record<string, number>;
    return { probe, predicted };
  } finally {
    exp.dispose();
  }
}

test('measured q_l, c_l and chi1 of a wide network at initialisation agree with the mean-field prediction', async () => {
  const width = 1024;
  const depth = 3;
  const seeds = [0, 1, 2];
  for (const activation of ['tanh', 'erf', 'relu']) {
    const init = { sigma_w2: activation === 'relu' ? 2 : 1.5, sigma_b2: 0.05 };
    const runs = await Promise.all(seeds.map((s) => measureAtInit({ width, depth, activation }, init, s)));
    const mean = (key: string) => runs.reduce((s, r) => s + r.probe[key]!, 0) / runs.length;
    for (let k = 1; k <= depth; k++) {
      // Each layer's q is a mean over `width` units whose squares fluctuate with relative std
      // about sqrt(2/width) for tanh/erf (sqrt(7/width) for relu, whose φ² has kurtosis 6), from
      // one draw of that layer's weights; the errors of k layers add up as a random walk, and
      // the seeds average them. Taking every probe input as fully correlated (the worst case),
      // 3 such standard errors bound the mean's distance from the infinite-width value.
      const perLayer = (activation === 'relu' ? 7 : 2) / width;
      const tol = 3 * Math.sqrt((k * perLayer) / seeds.length);
      const p = runs[0]!.predicted[k - 1]!;
      const where = `${activation} layer ${k}`;
      assert.ok(Math.abs(mean(`q_l${k}`) / p.q - 1) < tol, `${where}: q measured ${mean(`q_l${k}`)}, predicted ${p.q} (tolerance ${tol})`);
      assert.ok(Math.abs(mean(`c_l${k}`) - p.c) < tol, `${where}: c measured ${mean(`c_l${k}`)}, predicted ${p.c}`);
      // Hidden-to-hidden maps only: the map into the 4-unit readout averages over 4 units.
      if (k < depth) assert.ok(Math.abs(mean(`chi1_l${k}`) / p.chi1! - 1) < tol, `${where}: chi1 measured ${mean(`chi1_l${k}`)}, predicted ${p.chi1}`);
    }
  }
});

test('tanh at sigma_b2 = 0.05: the measured chi1 of deep layers crosses 1 at the critical sigma_w2 dlphys theory prints', async () => {
  const critical = criticalSigmaW2('tanh', 0.05);
  assert.ok(Math.abs(critical - 1.76) < 0.01, `critical sigma_w2 ${critical}; Schoenholz et al. 2017 give about 1.76`);
  const grid = [1.5, 1.6, 1.7, 1.8, 1.9, 2.0];
  const depth = 16;
  const deepChi1: number[] = [];
  for (const sigma_w2 of grid) {
    const { probe } = await measureAtInit({ width: 512, depth, activation: 'tanh' }, { sigma_w2, sigma_b2: 0.05 }, 0);
    // Layers 9..15: q_l has settled at q* by then (xi_q is about 1.5 layers here).
    const ks = Array.from({ length: 7 }, (_, i) => 9 + i);
    deepChi1.push(ks.reduce((s, k) => s + probe[`chi1_l${k}`]!, 0) / ks.length);
  }
  const i = deepChi1.findIndex((c, j) => j > 0 && deepChi1[j - 1]! < 1 && c >= 1);
  assert.ok(i > 0, `chi1 does not cross 1 over ${grid.join(', ')}: ${deepChi1.map((c) => c.toFixed(3)).join(', ')}`);
  const [x0, x1, y0, y1] = [grid[i - 1]!, grid[i]!, deepChi1[i - 1]!, deepChi1[i]!];
  const crossing = x0 + ((1 - y0) * (x1 - x0)) / (y1 - y0);
  // chi1's slope near the critical point is about 0.2 per unit of sigma_w2, and the deep layers'
  // mean at width 512 has a relative error of a few percent: 0.1 in sigma_w2.
  assert.ok(Math.abs(crossing - critical) < 0.1, `measured crossing at ${crossing.toFixed(3)}, theory ${critical.toFixed(3)}`);
});

test('dlphys theory CONFIG predicts per layer; with a run folder it shows the measurements beside', async () => {
  // In-process (configReport is the command's whole body): one spawn below checks the command line itself.
  const dir = tempDir();
  const raw = tinyConfig({
    model: { name: 'mlp', kwargs: { width: 64, depth: 3, activation: 'tanh' } },
    init: { name: 'gaussian', kwargs: { sigma_w2: 1.5, sigma_b2: 0.05 } },
    train: { steps: 10, batch_size: 32, eval_every: 0, log_every: 5 },
    callbacks: [
      { name: 'preact_stats', kwargs: { n_probe: 16 } },
      { name: 'criticality', kwargs: { n_probe: 16 } },
    ],
  });
  const config = writeJson(path.join(dir, 'c.json'), raw);
  const rows = JSON.parse(await configReport(config, { step: 0, format: 'json' })) as Record<string, number | null>[];
  assert.deepEqual(rows.map((r) => r.layer), [1, 2, 3, 4]);
  assert.deepEqual(Object.keys(rows[0]!), ['layer', 'q_theory', 'c_theory', 'chi1_theory']);
  assert.equal(rows[3]!.chi1_theory, null, 'no map out of the readout');

  const run = (await trainRun({ raw, source: config, baseDir: dir, runsDir: dir, name: 'run' })).runDir;
  const beside = await configReport(run, { step: 0, format: 'table' });
  assert.match(beside, /^mlp 8-64x3-3, tanh, init gaussian: sigma_w2 1\.5, sigma_b2 0\.05; 16 probe inputs \(seed 0\); measured at step 0 in /);
  assert.match(beside, /layer +q_theory +q_measured +c_theory +c_measured +chi1_theory +chi1_measured/);
  const json = JSON.parse(await configReport(run, { step: 0, format: 'json' })) as Record<string, number | null>[];
  assert.equal(json[0]!.q_theory, rows[0]!.q_theory, 'the same probe inputs as the config alone (its n_probe, its seed)');
  assert.ok(json.every((r) => typeof r.q_measured === 'number' && typeof r.c_measured === 'number'));

  assert.match(await configReport(run, { step: 10, format: 'table' }), /theory describes the network at initialisation; at step 10 training has moved it/);
  await assert.rejects(configReport(run, { step: 7, format: 'table' }), (err: unknown) => {
    assert.ok(err instanceof UsageError);
    assert.match(err.message, /no probe measurement at step 7; its probe steps are 0, 10 \(choose one with --step\)/);
    return true;
  });

  const cli = runCli(['theory', run, '--step', '7']);
  assert.equal(cli.status, 2);
  assert.equal(cli.stderr.trim().split('\n').length, 1, cli.stderr);
  assert.match(cli.stderr, /^dlphys: .*no probe measurement at step 7/);
});

test('dlphys theory refuses what it cannot predict, in one line', async () => {
  const dir = tempDir();
  const cnn = writeJson(
    path.join(dir, 'cnn.json'),
    tinyConfig({ model: { name: 'cnn', kwargs: { channels: [2], hidden: [4] } }, data: { name: 'synthetic', kwargs: { n_train: 64, n_val: 16, shape: [4, 4, 1], classes: 3 } } }),
  );
  for (const [target, message] of [
    [cnn, /covers fully connected networks \(model mlp\), but this config's model is cnn/],
    [dir, /is a folder without config\.json/],
    [path.join(dir, 'nope.json'), /no such file or folder/],
  ] as const) {
    await assert.rejects(configReport(target, { step: 0, format: 'table' }), (err: unknown) => err instanceof UsageError && message.test(err.message) && !err.message.includes('\n'));
  }
  const r = runCli(['theory', writeJson(path.join(dir, 'ok.json'), tinyConfig()), '--activation', 'relu']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--activation is for the activation table; with a config or run folder/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});
