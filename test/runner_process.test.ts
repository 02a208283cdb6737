import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { RunnerProcess } from '../agent/launch/process.js';
import { tempDir, tinyConfig } from './helpers.js';

test('a stop asked for while the runner is still loading reaches the run once it starts', { timeout: 60_000 }, async () => {
  const runner = new RunnerProcess({ backend: 'cpu', threads: 1 });
  const runsDir = tempDir();
  const config = tinyConfig({ name: 'slow', train: { steps: 1_000_000, batch_size: 32, log_every: 10 } });
  // run() waits for the child to be ready; stop() comes before that, as a cancel right after a lease does.
  const outcome = runner.run({ type: 'run', config, runsDir, name: 'slow' }, () => {});
  runner.stop('cancelled by the coordinator');
  const { summary, error } = await outcome;
  runner.release();
  assert.equal(error, null);
  assert.equal(summary?.status, 'stopped');
  assert.equal(summary?.reason, 'cancelled by the coordinator');
  assert.ok(summary!.steps < 1_000_000);
  assert.ok(path.isAbsolute(runsDir));
});

test('a runner trains a second run when asked, and a stop of the first does not leak into it', { timeout: 60_000 }, async () => {
  const runner = new RunnerProcess({ backend: 'cpu', threads: 1 });
  const runsDir = tempDir();
  const first = runner.run({ type: 'run', config: tinyConfig({ train: { steps: 1_000_000, batch_size: 32, log_every: 10 } }), runsDir, name: 'a' }, () => {});
  runner.stop('enough');
  assert.equal((await first).summary?.status, 'stopped');
  assert.ok(runner.reusable);
  const lines: string[] = [];
  const second = await runner.run({ type: 'run', config: tinyConfig(), runsDir, name: 'b' }, (line) => lines.push(line));
  runner.release();
  assert.equal(second.summary?.status, 'completed');
  assert.equal(second.summary?.steps, 40);
  assert.ok(lines.length > 0, 'metrics lines streamed');
});

test('a stop that arrives after its run ended (a late cancel or early stop) never stops the next run', { timeout: 60_000 }, async () => {
  const runner = new RunnerProcess({ backend: 'cpu', threads: 1 });
  const runsDir = tempDir();
  assert.equal((await runner.run({ type: 'run', config: tinyConfig(), runsDir, name: 'a' }, () => {})).summary?.status, 'completed');
  // The agent's side: a stop for a run that is no longer in progress is not sent at all.
  runner.stop('cancelled by the coordinator');
  // The runner's side: one already on its way when the run ended (it names run a) is dropped.
  (runner as unknown as { send(m: unknown): void }).send({ type: 'stop', reason: 'early stop of a', run: 'a' });
  const next = await runner.run({ type: 'run', config: tinyConfig(), runsDir, name: 'b' }, () => {});
  runner.release();
  assert.equal(next.error, null);
  assert.equal(next.summary?.status, 'completed');
  assert.equal(next.summary?.steps, 40);
});

test("a runner child never sees the coordinator's token, whichever way the agent got it", { timeout: 60_000 }, async () => {
  const saved = { token: process.env.DLPHYS_TOKEN, file: process.env.DLPHYS_TOKEN_FILE };
  process.env.DLPHYS_TOKEN = 'secret-in-env';
  process.env.DLPHYS_TOKEN_FILE = '/some/token/file';
  let runner: RunnerProcess;
  try {
    runner = new RunnerProcess({ backend: 'cpu', threads: 1 });
  } finally {
    for (const [name, value] of [['DLPHYS_TOKEN', saved.token], ['DLPHYS_TOKEN_FILE', saved.file]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
  try {
    await runner.ready;
    const environ = fs.readFileSync(`/proc/${runner.pid}/environ`, 'utf8').split('\0');
    assert.ok(environ.some((v) => v.startsWith('DLPHYS_BACKEND=cpu')), 'the runner environment was read');
    assert.deepEqual(environ.filter((v) => v.startsWith('DLPHYS_TOKEN')), []);
  } finally {
    runner.kill();
  }
});
