/** Sweep files in YAML, as W&B users write them: read, expanded like their JSON twin, errors with line and column. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadSweep } from '../lib/sweep/index.js';
import { readSweepFile } from '../lib/sweep/sweep_file.js';
import { repoRoot, tempDir, writeText } from './helpers.js';
import { throwsUsage } from './sweep_fixtures.js';

const BASE = path.join(repoRoot, 'examples', 'mlp.json');

test('a YAML grid with 1e-3 literals gives numbers, and the same runs as its JSON twin', () => {
  const dir = tempDir();
  const yaml = writeText(
    path.join(dir, 'sweep.yaml'),
    `# a W&B user's file
method: grid
metric:
  name: val_loss
  goal: minimize
parameters:
  optimizer.kwargs.lr:
    values: [1e-3, 1e-4]
  init.kwargs.sigma_w2:
    values:
      - 1.0
      - 2
base: ${BASE}
`,
  );
  const json = writeText(
    path.join(dir, 'sweep.json'),
    JSON.stringify({
      method: 'grid',
      metric: { name: 'val_loss', goal: 'minimize' },
      parameters: { 'optimizer.kwargs.lr': { values: [1e-3, 1e-4] }, 'init.kwargs.sigma_w2': { values: [1.0, 2] } },
      base: BASE,
    }),
  );
  const fromYaml = loadSweep(yaml);
  assert.deepEqual(
    fromYaml.runs.map((r) => r.params),
    [
      { 'optimizer.kwargs.lr': 0.001, 'init.kwargs.sigma_w2': 1 },
      { 'optimizer.kwargs.lr': 0.001, 'init.kwargs.sigma_w2': 2 },
      { 'optimizer.kwargs.lr': 0.0001, 'init.kwargs.sigma_w2': 1 },
      { 'optimizer.kwargs.lr': 0.0001, 'init.kwargs.sigma_w2': 2 },
    ],
  );
  const fromJson = loadSweep(json);
  assert.deepEqual(
    fromYaml.runs.map((r) => r.config),
    fromJson.runs.map((r) => r.config),
  );
  assert.equal(fromYaml.specHash, fromJson.specHash, 'the same sweep, whichever format it was written in');
});

test('min: 0.0 in YAML is a float range (uniform), min: 0 an integer one, as W&B reads them', () => {
  const dir = tempDir();
  const floats = readSweepFile(writeText(path.join(dir, 'a.yml'), 'parameters:\n  x: {min: 0.0, max: 1}\n  y: {min: 0, max: 3}\n  z: {values: [1e-3]}\n'));
  assert.deepEqual([...floats.floats].sort(), ['["parameters","x","min"]', '["parameters","z","values",0]']);
  const sweep = loadSweep(
    writeText(path.join(dir, 'r.yaml'), `method: random\nrun_cap: 3\nparameters:\n  init.kwargs.sigma_w2: {min: 1.0, max: 2}\n  seed: {min: 0, max: 3}\nbase: ${BASE}\n`),
  );
  assert.equal((sweep.spec.parameters as Record<string, { distribution?: string }>)['init.kwargs.sigma_w2']!.distribution, 'uniform');
  assert.ok(sweep.runs.some((r) => !Number.isInteger(r.params['init.kwargs.sigma_w2'])), 'continuous draws');
  assert.ok(sweep.runs.every((r) => Number.isInteger(r.params.seed)), 'integer draws');
});

test('YAML merge keys, and a file of either format whatever its extension', () => {
  const dir = tempDir();
  const merged = readSweepFile(writeText(path.join(dir, 'm.yaml'), 'shared: &s {goal: minimize}\nmetric:\n  <<: *s\n  name: val_loss\n'));
  assert.deepEqual((merged.spec as Record<string, unknown>).metric, { goal: 'minimize', name: 'val_loss' });
  assert.equal(readSweepFile(writeText(path.join(dir, 'sweep.txt'), '{"method": "grid"}')).format, 'json');
  assert.equal(readSweepFile(writeText(path.join(dir, 'sweep'), 'method: grid\n')).format, 'yaml');
});

test('a YAML syntax error or duplicate key names the file, line and column, in one line', () => {
  const dir = tempDir();
  throwsUsage(
    () => readSweepFile(writeText(path.join(dir, 'bad.yaml'), 'method: grid\nparameters:\n  lr: {values: [1, 2]\n  x: 3\n')),
    /^sweep file .*bad\.yaml is not valid YAML at line 4, column 3: .* \(fix the syntax\)$/,
  );
  throwsUsage(() => readSweepFile(writeText(path.join(dir, 'dup.yml'), 'method: grid\nmethod: random\n')), /dup\.yml is not valid YAML at line 2, column 1: Map keys must be unique/);
  throwsUsage(() => readSweepFile(path.join(dir, 'missing.yaml')), /^sweep file not found: .*missing\.yaml \(check the path\)$/);
  throwsUsage(() => readSweepFile(writeText(path.join(dir, 'bad.json'), '{"method": ')), /^sweep file .*bad\.json is not valid JSON: .* \(fix the syntax\)$/);
});
