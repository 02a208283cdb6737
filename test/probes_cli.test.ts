import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readJsonl, runCli, tempDir, tinyConfig, writeJson } from './helpers.js';

// The four probes as a user meets them: named in a config, trained by the real CLI, their rows
// in metrics.jsonl with split "probe", their time in summary.json, their numbers in scan, and
// their metric keys in `dlphys list callback`.

const PROBES = ['criticality', 'preact_stats', 'ntk', 'fli'];

test('a run with every probe logs probe rows from step 0, times each probe, and scan shows them', () => {
  const dir = tempDir();
  const config = writeJson(
    path.join(dir, 'probes.json'),
    tinyConfig({
      model: { name: 'mlp', kwargs: { width: 16, depth: 2, activation: 'relu' } },
      train: { steps: 20, batch_size: 32, eval_every: 10, log_every: 5 },
      callbacks: PROBES.map((name) => ({ name, kwargs: { n_probe: 8 } })),
    }),
  );
  const r = runCli(['train', config, '--runs-dir', dir, '--name', 'probed', '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  const run = path.join(dir, 'probed');
  const lines = readJsonl(path.join(run, 'metrics.jsonl'));
  const probes = lines.filter((l) => l.split === 'probe');
  // Each probe logs at step 0 (before any training row), at eval_every (10) and at the last step (20).
  assert.deepEqual([...new Set(probes.map((l) => l.step))], [0, 10, 20]);
  assert.equal(lines.findIndex((l) => l.split === 'probe'), 0, 'step 0 is measured before the first training row');
  const keys = new Set(probes.flatMap((l) => Object.keys(l)));
  for (const k of ['chi1', 'chi1_l1', 'jac_sv2_mean', 'grad_norm_l3', 'q_l1', 'c_l2', 'kurt_l3', 'active_l1', 'ntk_dist', 'ntk_trace', 'fli', 'fli_l2', 'wchange_l3']) {
    assert.ok(keys.has(k), `probe rows lack ${k}`);
  }
  const ntkAt = (step: number) => probes.find((l) => l.step === step && 'ntk_dist' in l)!.ntk_dist as number;
  assert.equal(ntkAt(0), 0);
  assert.ok(ntkAt(20) > 0, 'the NTK moved during training');

  const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
  for (const p of PROBES) assert.equal(typeof summary.callback_time[p], 'number', `callback_time.${p}`);
  assert.equal(summary.final.ntk_dist, ntkAt(20));
  assert.equal(summary.best.chi1, undefined, 'a probe number is never "best"');

  const scan = runCli(['scan', dir, '--metric', 'ntk_dist', '--format', 'json']);
  assert.equal(scan.status, 0, scan.stderr);
  const rows = JSON.parse(scan.stdout) as Record<string, unknown>[];
  assert.equal(rows[0]!['final.ntk_dist'], ntkAt(20));
  assert.equal(rows[0]!['best.ntk_dist'] ?? null, null, 'scan gives a probe number no default best either');
  const table = runCli(['scan', dir, '--format', 'json']);
  const columns = Object.keys((JSON.parse(table.stdout) as Record<string, unknown>[])[0]!);
  assert.ok(columns.includes('final.chi1') && !columns.includes('best.chi1'), 'a probe scalar shows its final value only');
  assert.ok(!columns.some((c) => /_l\d+$/.test(c)), `per-layer probe metrics stay out of the default table: ${columns.join(' ')}`);
  const all = Object.keys((JSON.parse(runCli(['scan', dir, '--all', '--format', 'json']).stdout) as Record<string, unknown>[])[0]!);
  assert.ok(all.includes('final.q_l3'), '--all shows them');
  const byGoal = runCli(['scan', dir, '--metric', 'ntk_dist', '--goal', 'max', '--format', 'json']);
  assert.equal((JSON.parse(byGoal.stdout) as Record<string, unknown>[])[0]!['best.ntk_dist'], Math.max(...probes.filter((l) => 'ntk_dist' in l).map((l) => l.ntk_dist as number)));
});

test('dlphys list callback names every probe with the metric keys it logs', () => {
  const r = runCli(['list', 'callback', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const [{ components }] = JSON.parse(r.stdout) as [{ components: { name: string; logs?: Record<string, string> }[] }];
  for (const p of PROBES) {
    const c = components.find((x) => x.name === p);
    assert.ok(c?.logs && Object.keys(c.logs).length > 0, `${p} documents its metrics`);
  }
  assert.ok('chi1_l<k>' in components.find((x) => x.name === 'criticality')!.logs!);
  assert.ok('ntk_dist' in components.find((x) => x.name === 'ntk')!.logs!);
});

test('a probe given a bad kwarg fails before anything is written, naming the fix', () => {
  const dir = tempDir();
  const config = writeJson(path.join(dir, 'bad.json'), tinyConfig({ callbacks: [{ name: 'ntk', kwargs: { n_probe: 1 } }] }));
  const r = runCli(['train', config, '--runs-dir', dir, '--name', 'bad']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /callback:ntk: kwarg "n_probe"/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.equal(fs.existsSync(path.join(dir, 'bad')), false);
});
