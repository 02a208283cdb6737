/**
 * Expanding program sweeps (W&B's program / command): what is checked before anything is
 * recorded, the job each run gets, and the code snapshot's part in the sweep's identity.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { expandSweep, isProgramJob, loadSweep, type ProgramJob } from '../lib/sweep/index.js';
import { repoRoot, tempDir, writeText } from './helpers.js';
import { base, throwsUsage } from './sweep_fixtures.js';

/** A folder holding train.py; the sweep is expanded as if its file were there. */
function folder(): string {
  const dir = tempDir('dlphys-progexp-');
  writeText(path.join(dir, 'train.py'), 'print("hi")\n');
  return dir;
}

function expandIn(dir: string, spec: Record<string, unknown>) {
  return expandSweep(spec, { source: path.join(dir, 'sweep.yaml'), baseDir: dir });
}

test('a program sweep needs no base; each run gets a program job with W&B’s nested config and the code snapshot', () => {
  const dir = folder();
  const sweep = expandIn(dir, {
    program: 'train.py',
    method: 'grid',
    parameters: { 'model.lr': { values: [0.1, 0.2] }, optimizer: { parameters: { beta: { value: 0.9 } } } },
  });
  assert.equal(sweep.kind, 'program');
  assert.equal(sweep.runs.length, 2);
  assert.deepEqual(sweep.runs[1]!.params, { 'model.lr': 0.2, 'optimizer.beta': 0.9 });
  const job = sweep.runs[1]!.config as ProgramJob;
  assert.ok(isProgramJob(job));
  // A dotted name is one W&B key (Hydra-style); only `parameters` blocks nest.
  assert.deepEqual(job.params, { 'model.lr': 0.2, optimizer: { beta: 0.9 } });
  assert.equal(job.program, 'train.py');
  assert.equal(job.cwd, '');
  assert.equal(job.code, sweep.code!.hash);
  assert.equal(sweep.code!.files, 1);
  assert.ok(sweep.codeArchive && sweep.codeArchive.length > 0);
});

test('the code is part of the sweep: an edited script gives another spec hash, the same one the same', () => {
  const dir = folder();
  const spec = { program: 'train.py', method: 'grid', parameters: { lr: { values: [0.1] } } };
  const a = expandIn(dir, spec);
  assert.equal(expandIn(dir, spec).specHash, a.specHash);
  fs.appendFileSync(path.join(dir, 'train.py'), '# edited\n');
  assert.notEqual(expandIn(dir, spec).specHash, a.specHash);
});

test('what a program sweep cannot be is refused in one line before anything is recorded', () => {
  const dir = folder();
  const grid = { method: 'grid', parameters: { lr: { values: [0.1] } } };
  throwsUsage(() => expandSweep({ ...grid }, { source: 'sweep.yaml', baseDir: dir }), /missing "base" or "program"/);
  throwsUsage(() => expandSweep({ ...grid, base: base(), program: 'train.py' }, { source: 'sweep.yaml', baseDir: dir }), /not both; remove "program" or "base"/);
  throwsUsage(() => expandIn(dir, { ...grid, program: 'nope.py' }), /program "nope\.py" is not a file \(looked for .*nope\.py; program is relative to the sweep file's folder\)/);
  throwsUsage(() => expandIn(dir, { ...grid, command: ['python3', '${program}', '${args}'] }), /the command uses \$\{program\} but the sweep has no "program"/);
  throwsUsage(() => expandIn(dir, { ...grid, program: 'train.py', code_dir: 'sub' }), /outside the code folder|not a file/);
  throwsUsage(() => expandIn(dir, { ...grid, program: 'train.py', command: [{ a: 1 }] }), /"command" must be a list of arguments/);
  throwsUsage(() => expandSweep({ ...grid, base: base(), code_dir: '.' }, { source: 'sweep.yaml', baseDir: dir }), /"code_dir" belongs to a program sweep/);
});

test('a command without ${program} runs a module; an unknown macro is dropped as W&B drops it, with a warning', () => {
  const dir = folder();
  const sweep = expandIn(dir, { method: 'grid', command: ['${interpreter}', '-m', 'pkg.train', '${argz}', '${args}'], parameters: { lr: { values: [0.1] } } });
  assert.equal((sweep.runs[0]!.config as ProgramJob).program, null);
  assert.deepEqual(sweep.warnings, ["command: ${argz} is not a macro W&B's agent fills, so it is dropped from the command line, as W&B drops it"]);
});

test('code_dir: false runs in place (a shared file system): no snapshot, an absolute working directory', () => {
  const dir = folder();
  const sweep = expandIn(dir, { program: 'train.py', method: 'grid', code_dir: false, parameters: { lr: { values: [0.1] } } });
  assert.equal(sweep.code, null);
  assert.equal(sweep.codeArchive, undefined);
  assert.equal((sweep.runs[0]!.config as ProgramJob).cwd, dir);
});

test('a code_dir above the sweep file ships the whole folder and runs the program from the sweep file’s place in it', () => {
  const root = tempDir('dlphys-progexp-');
  writeText(path.join(root, 'lib', 'util.py'), 'X = 1\n');
  writeText(path.join(root, 'exp', 'train.py'), 'import sys\n');
  const sweep = expandIn(path.join(root, 'exp'), { program: 'train.py', method: 'grid', code_dir: '..', parameters: { lr: { values: [0.1] } } });
  assert.equal(sweep.code!.files, 2);
  const job = sweep.runs[0]!.config as ProgramJob;
  assert.equal(job.cwd, 'exp');
  assert.equal(job.program, 'train.py');
});

test('dlphys-coord sweep --dry-run shows each run’s command line; literal arguments of command stay in place', () => {
  const dir = folder();
  const file = writeText(
    path.join(dir, 'sweep.yaml'),
    [
      'name: Test sweep',
      'program: train.py',
      'method: grid',
      'command: ["${env}", "${interpreter}", "${program}", "--steps", "50", "${args_no_boolean_flags}"]',
      'parameters:',
      '  lr: {values: [1e-3, 1e-4]}',
      '  wd: {values: [true, false]}',
      '',
    ].join('\n'),
  );
  assert.equal(loadSweep(file).name, 'test-sweep');
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'dlphys-coord.js'), 'sweep', file, '--dry-run'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').slice(1);
  assert.deepEqual(
    lines.map((l) => l.slice(l.indexOf('/usr/bin/env'))),
    [
      '/usr/bin/env python3 train.py --steps 50 --lr=0.001 --wd',
      '/usr/bin/env python3 train.py --steps 50 --lr=0.001',
      '/usr/bin/env python3 train.py --steps 50 --lr=0.0001 --wd',
      '/usr/bin/env python3 train.py --steps 50 --lr=0.0001',
    ],
  );
  assert.match(r.stderr, /sweep test-sweep: 4 runs \(grid\); nothing recorded/);
});

test("the coordinator's own database and run folders stay out of a program sweep's code snapshot", () => {
  const dir = folder();
  writeText(path.join(dir, 'runs', 'dlphys.db'), 'sqlite');
  writeText(path.join(dir, 'runs', 'dlphys.db-wal'), 'wal');
  writeText(path.join(dir, 'runs', 'old', 'r000', 'metrics.jsonl'), '{}\n');
  writeText(path.join(dir, 'other.db'), 'x');
  const spec = { program: 'train.py', method: 'grid', parameters: { lr: { values: [0.1] } } };
  assert.equal(expandIn(dir, spec).code!.files, 5, 'without exclusions everything is code');
  const sweep = expandSweep(spec, { source: path.join(dir, 'sweep.yaml'), baseDir: dir, codeExclude: [path.join(dir, 'other.db'), path.join(dir, 'runs')] });
  assert.equal(sweep.code!.files, 1);
});
