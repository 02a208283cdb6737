import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { RunnerProcess } from '../agent/launch/process.js';
import { DEFAULT_REUSE } from '../agent/launch/reuse_policy.js';
import { computedRows, tempDir, tinyConfig } from './helpers.js';

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


test('a run prepared while another trains starts from what was built, computes what a fresh process computes, and is not taken for a leak', { timeout: 90_000 }, async (t) => {
  const saved = process.env.DLPHYS_RUNNER_FAULT;
  process.env.DLPHYS_RUNNER_FAULT = 'leak:c';
  let runner: RunnerProcess;
  try {
    runner = new RunnerProcess({ backend: 'cpu', threads: 1 });
  } finally {
    if (saved === undefined) delete process.env.DLPHYS_RUNNER_FAULT;
    else process.env.DLPHYS_RUNNER_FAULT = saved;
  }
  // A failed assertion must not leave a child holding the test process open.
  t.after(() => runner.kill());
  const runsDir = tempDir();
  const job = (name: string, seed: number, steps = 40) => ({ type: 'run' as const, config: tinyConfig({ seed, train: { steps, batch_size: 32, eval_every: 20, log_every: 5 } }), runsDir, name });
  const a = runner.run(job('a', 0, 400), () => {});
  // Leased ahead while a trains: b is built now; d too, until the agent takes it back.
  runner.prepare(job('b', 1));
  runner.prepare(job('d', 3));
  runner.unprepare(job('d', 3));
  const first = await a;
  assert.equal(first.summary?.status, 'completed');
  // b's model and data are held, but they are the next run's: the process may train again.
  assert.equal(runner.retireReason(DEFAULT_REUSE), null);
  // Nothing of a prepared run is on disk until it trains: one dropped leaves nothing behind.
  assert.ok(!fs.existsSync(path.join(runsDir, 'b')), 'b prepared, not yet trained: no folder');
  assert.ok(!fs.existsSync(path.join(runsDir, 'd')), 'd prepared and dropped: no folder');
  const second = await runner.run(job('b', 1), () => {});
  assert.equal(second.summary?.status, 'completed');
  assert.ok(second.marks!.model! <= first.marks!.trained!, 'b was built before a ended');
  assert.ok(second.marks!.started! >= second.marks!.go!, 'b trained once it was told to');
  // A leak of the run before is still seen with a run prepared beside it.
  runner.prepare(job('e', 4));
  assert.equal((await runner.run(job('c', 2), () => {})).summary?.status, 'completed');
  assert.equal(runner.retireReason(DEFAULT_REUSE), 'its last run left 1 tensor(s) allocated');
  runner.release();

  // b, built while a trained, computed what it computes in a process of its own.
  const fresh = new RunnerProcess({ backend: 'cpu', threads: 1 });
  t.after(() => fresh.kill());
  const refDir = tempDir();
  const ref = await fresh.run({ ...job('b', 1), runsDir: refDir }, () => {});
  fresh.release();
  assert.equal(ref.summary?.status, 'completed');
  assert.deepEqual(computedRows(path.join(runsDir, 'b')), computedRows(path.join(refDir, 'b')));
});
