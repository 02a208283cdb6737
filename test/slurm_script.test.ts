/**
 * The SLURM job script and its options, without a SLURM: what `--dry-run` prints is a script bash
 * accepts, carrying the options as sbatch's own flags and the token only as a file; mistakes get
 * one line, exit 2 and leave nothing recorded.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { timeSeconds } from '../coordinator/slurm/options.js';
import { drainGrace } from '../coordinator/slurm/script.js';
import { tinySweep, workspace } from './cluster.js';
import { repoRoot, tempDir } from './helpers.js';

const COORD = path.join(repoRoot, 'bin', 'dlphys-coord.js');

function coord(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [COORD, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
}

/** The script part of a `sweep --slurm --dry-run` output (after the runs table). */
const scriptOf = (stdout: string) => stdout.slice(stdout.indexOf('#!/bin/bash'));

test('sweep --slurm --dry-run prints a script bash accepts, with the options as #SBATCH lines, and records nothing', () => {
  const ws = workspace(tinySweep({ name: 'dry', runs: 5 }));
  const r = coord([
    'sweep', ws.sweepFile, '--db', ws.db, '--runs-dir', ws.runsDir, '--dry-run', '--slurm',
    '--gpu', 'all', '--time', '2:00:00', '--partition', 'gpu', '--account', 'lab', '--qos', 'normal', '--mem', '16G', '--cpus-per-task', '4',
    '--sbatch-arg=--constraint=a100', '--module', 'cuda/12.1', '--setup', 'source "$HOME/venv/bin/activate"', '--requeue', '--advertise', 'head.cluster:50051',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const script = scriptOf(r.stdout);
  const file = path.join(tempDir(), 'agents.sbatch');
  fs.writeFileSync(file, script);
  const syntax = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
  assert.equal(syntax.status, 0, `${syntax.stderr}\n${script}`);
  for (const line of [
    '#SBATCH --job-name=dlphys-dry', '#SBATCH --array=0-4', '#SBATCH --signal=B:USR1@180', '#SBATCH --open-mode=append', '#SBATCH --ntasks=1', '#SBATCH --time=2:00:00', '#SBATCH --partition=gpu',
    '#SBATCH --account=lab', '#SBATCH --qos=normal', '#SBATCH --gpus-per-task=1', '#SBATCH --cpus-per-task=4', '#SBATCH --mem=16G', '#SBATCH --requeue',
    '#SBATCH --constraint=a100', 'module load cuda/12.1', 'source "$HOME/venv/bin/activate"',
  ]) {
    assert.ok(script.split('\n').includes(line), `${line}\n${script}`);
  }
  // Every #SBATCH line comes before the first command: sbatch reads no further.
  const lines = script.split('\n');
  const firstCommand = lines.findIndex((l, i) => i > 0 && l.trim() !== '' && !l.startsWith('#'));
  assert.ok(lines.length - 1 - [...lines].reverse().findIndex((l) => l.startsWith('#SBATCH')) < firstCommand);
  assert.match(script, /--coord head\.cluster:50051 --gpu all --exit-when-idle --drain-grace 180/);
  // No token reaches the job through its environment (sbatch exports it): the agent reads a file or nothing.
  assert.ok(lines.includes('unset DLPHYS_TOKEN'), script);
  assert.match(script, /scontrol requeue/);
  assert.match(r.stderr, /nothing submitted \(--dry-run\)/);
  assert.ok(!fs.existsSync(ws.db), 'nothing recorded');
  assert.ok(!fs.existsSync(ws.runsDir), 'nothing written');
});

test('the token reaches the agents as a file, never in the script', () => {
  const ws = workspace(tinySweep({ name: 'tok', runs: 2 }));
  const tokenFile = path.join(tempDir(), 'token');
  fs.writeFileSync(tokenFile, 's3cret-token-value\n', { mode: 0o600 });
  const r = coord(['sweep', ws.sweepFile, '--db', ws.db, '--runs-dir', ws.runsDir, '--dry-run', '--slurm', '--host', '0.0.0.0', '--token-file', tokenFile]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!r.stdout.includes('s3cret'), r.stdout);
  assert.match(scriptOf(r.stdout), new RegExp(`export DLPHYS_TOKEN_FILE=${tokenFile.replace(/[/.]/g, '\\$&')}`));
  // Listening beyond loopback: the agents are pointed at this host's name, with no warning.
  assert.doesNotMatch(r.stderr, /only agents on this host/);
});

test('an open-ended sweep (runs made as agents ask) gets the default 32 agents', () => {
  const ws = workspace({ name: 'open', method: 'random', metric: { name: 'val_acc', goal: 'maximize' }, parameters: { 'optimizer.kwargs.lr': { min: 0.01, max: 0.1 } }, base: tinySweep().base });
  const r = coord(['sweep', ws.sweepFile, '--db', ws.db, '--runs-dir', ws.runsDir, '--dry-run', '--slurm']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(scriptOf(r.stdout), /#SBATCH --array=0-31/);
});

test('mistakes get one line and exit 2, and nothing is recorded', () => {
  const ws = workspace(tinySweep({ name: 'bad', runs: 2 }));
  const cases: [string[], RegExp, NodeJS.ProcessEnv?][] = [
    [['--slurm', '--time', 'two hours'], /--time "two hours": use minutes, MM:SS, HH:MM:SS or D-HH:MM:SS/],
    [['--slurm', '--time', '1'], /--time 1 \(60 s\) leaves no room for --signal-grace 180: .* at least 225 s/],
    [['--slurm', '--sbatch-arg=--time=5'], /the script sets --time itself/],
    [['--slurm', '--partition', 'gpu; rm -rf ~'], /--partition "gpu; rm -rf ~": give one word/],
    [['--slurm', '--gpus-per-task', '2'], /--gpus-per-task needs --gpu all/],
    [['--slurm', '--sbatch-arg', 'constraint=a100'], /--sbatch-arg "constraint=a100": give one sbatch flag/],
    [['--slurm', '--advertise', 'head'], /--advertise "head": give HOST:PORT/],
    [['--slurm', '--sbatch-arg=--signal=B:TERM@10'], /--sbatch-arg "--signal=B:TERM@10": the script sets --signal itself/],
    [['--slurm', '--sbatch-arg=-a0-99'], /the script sets -a0-99 itself/],
    // A token not in a file: the script could only carry the secret itself.
    [['--slurm', '--dry-run'], /--slurm needs the coordinator's token in a file the agents read too/, { DLPHYS_TOKEN: 'secret-in-the-environment' }],
    [['--partition', 'gpu'], /SLURM options \(--partition, --time, --gpu, \.\.\.\) need --slurm/],
    // No sbatch on PATH (a laptop): said before the sweep is recorded.
    [['--slurm'], /sbatch is not on PATH: run dlphys-coord on a SLURM login or head node/, { PATH: tempDir() }],
  ];
  for (const [args, message, env] of cases) {
    const r = coord(['sweep', ws.sweepFile, '--db', ws.db, '--runs-dir', ws.runsDir, '--port', '0', ...args], env);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(!fs.existsSync(ws.db), `${args.join(' ')}: nothing recorded`);
  }
});

test('sbatch time limits read as sbatch reads them, and the agent keeps time to land its runs', () => {
  assert.equal(timeSeconds('30'), 1800);
  assert.equal(timeSeconds('30:15'), 1815);
  assert.equal(timeSeconds('4:00:00'), 14_400);
  assert.equal(timeSeconds('1-00'), 86_400);
  assert.equal(timeSeconds('1-2:30'), 95_400);
  assert.equal(timeSeconds('2-0:0:10'), 172_810);
  assert.equal(drainGrace(180), 180);
});
