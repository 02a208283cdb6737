/**
 * --drain-grace (agent/drain.ts): on SIGUSR1 (a SLURM warning) or Ctrl-C, runs whose pace says they end within the grace train
 * on and are reported; the others are handed back at once; a kept run still training when its
 * share of the grace runs out is stopped then and handed back.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers.js';
import {
  attemptsOf,
  runnerPids,
  query,
  runStates,
  serveSweep,
  startAgent,
  tinySweep,
  waitFor,
  within,
  withCluster,
  workspace,
  type Proc,
} from './cluster.js';

/** A sweep of one run per entry of `steps` (r000, r001, ...): rows every 50 steps, few evaluations. */
function stepsSweep(name: string, steps: number[]): Record<string, unknown> {
  const sweep = tinySweep({ name, logEvery: 50 });
  const base = sweep.base as { train: Record<string, unknown> };
  return { ...sweep, base: { ...base, train: { ...base.train, eval_every: 5000 } }, parameters: { 'train.steps': { values: steps } } };
}

/**
 * Seconds of training a run has left by its pace so far, as the agent reads it (agent/run_progress.ts:
 * from its first row on), here from the stored rows' steps_per_sec; null before it has one.
 */
function secondsLeft(db: string, runId: string, totalSteps: number): number | null {
  const rows = query<{ step: number; line: string }>(db, "SELECT step, line FROM metrics WHERE run_id = ? AND split = 'train' ORDER BY seq", runId);
  let steps = 0;
  let seconds = 0;
  for (let i = 1; i < rows.length; i++) {
    const window = rows[i]!.step - rows[i - 1]!.step;
    steps += window;
    seconds += window / (JSON.parse(rows[i]!.line) as { steps_per_sec: number }).steps_per_sec;
  }
  return steps > 0 ? ((totalSteps - rows.at(-1)!.step) * seconds) / steps : null;
}

/** waitFor (90 s), failing at once should `proc` exit meanwhile. */
async function waitWhileRunning<T>(proc: Proc, what: string, check: () => T | undefined | null | false, logs: () => string): Promise<T> {
  let code: number | string | undefined;
  void proc.exited.then((c) => (code = c));
  return waitFor(what, () => {
    if (code !== undefined) throw new Error(`the agent exited (${code}) while waiting for ${what}\n${logs()}`);
    return check();
  }, 90_000, logs);
}

const attemptEnded = (db: string, runId: string) =>
  query<{ ended_at: number }>(db, 'SELECT ended_at FROM attempts WHERE run_id = ? AND attempt = 1', runId)[0]!.ended_at;

test('with --drain-grace, a run near its end finishes and is reported while a long run is handed back at once; another agent finishes the sweep', async () => {
  // Two runs side by side on a 2-core host train ~1000 steps/s each (a loaded host: fewer).
  // r000 is drained 3 s from its end by its pace: it ends within 0.75 of the 10 s grace even if
  // the host then slows down 2.5 times. r001 has ~19 000 steps left then: ~18 s, more than 7.5 s
  // even on a host twice as fast, and more still on a loaded one.
  const [NEAR, LONG] = [8_000, 24_000];
  const ws = workspace(stepsSweep('grace', [NEAR, LONG]));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    const a = c.track('agent A', startAgent(coord.address, ['--slots', '2', '--drain-grace', '10'], {}, true));
    await waitWhileRunning(a, 'the short run 3 s from its end, the long run training', () => {
      const left = secondsLeft(ws.db, 'grace/r000', NEAR);
      return runStates(ws.db)['grace/r001'] === 'running' && left !== null && left <= 3;
    }, c.logs);
    process.kill(a.child.pid!, 'SIGUSR1');
    assert.equal(await within('agent A to drain and exit', a.exited, 30_000, c.logs), 0, c.logs());
    assert.match(a.log(), /SIGUSR1: draining with a grace of 10 s: 1 run\(s\) finish first \(grace\/r000\), 1 stopped and handed back \(again to exit at once\)/, c.logs());
    assert.deepEqual(attemptsOf(ws.db, 'grace/r000').map((x) => x.outcome), ['completed'], c.logs());
    assert.deepEqual(attemptsOf(ws.db, 'grace/r001').map((x) => x.outcome), ['handback'], c.logs());
    assert.deepEqual(runStates(ws.db), { 'grace/r000': 'completed', 'grace/r001': 'queued' });
    // At once: the long run was back in the queue before the short one had finished.
    assert.ok(attemptEnded(ws.db, 'grace/r001') < attemptEnded(ws.db, 'grace/r000'), c.logs());
    const summary = JSON.parse(fs.readFileSync(path.join(ws.runsDir, 'grace', 'r000', 'summary.json'), 'utf8')) as { status: string };
    assert.equal(summary.status, 'completed');

    // Two slots, so one wasm thread per run, as on agent A: a tiny MLP on two threads of a loaded
    // 2-core host trains several times slower.
    const b = c.track('agent B', startAgent(coord.address, ['--slots', '2', '--exit-when-idle']));
    assert.equal(await within('agent B to finish the sweep', b.exited, 120_000, c.logs), 0, c.logs());
    assert.deepEqual(runStates(ws.db), { 'grace/r000': 'completed', 'grace/r001': 'completed' });
    const outcomes = query<{ outcome: string }>(ws.db, 'SELECT outcome FROM attempts ORDER BY run_id, attempt').map((x) => x.outcome);
    assert.deepEqual(outcomes, ['completed', 'handback', 'completed'], c.logs());
  });
});

test('a kept run still training when its share of the grace runs out is stopped then and handed back', async () => {
  // The run is drained with about 3 s left by its pace, so the 8 s grace keeps it; but its runner
  // is frozen (SIGSTOP) just before, as a host that stalls would: it cannot finish, and the agent
  // stops it after 0.75 · 8 s. The runner, thawed then, has seconds of steps left: it stops.
  const STEPS = 8_000;
  const ws = workspace(stepsSweep('stall', [STEPS]));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    // Two slots (one of them idle) for one wasm thread per run, as in the test above; the grace
    // from the environment, as a job script would give it.
    const a = c.track('agent', startAgent(coord.address, ['--slots', '2'], { DLPHYS_DRAIN_GRACE: '8' }, true));
    await waitWhileRunning(a, 'the run 3 s from its end', () => {
      const left = secondsLeft(ws.db, 'stall/r000', STEPS);
      return left !== null && left <= 3;
    }, c.logs);
    // The run's runner and the idle slot's.
    const runners = runnerPids(a.child.pid!);
    assert.equal(runners.length, 2, c.logs());
    for (const pid of runners) process.kill(pid, 'SIGSTOP');
    try {
      process.kill(a.child.pid!, 'SIGUSR1');
      await waitFor('the grace to run out', () => /grace ran out for stall\/r000/.test(a.log()), 30_000, c.logs);
    } finally {
      for (const pid of runners) process.kill(pid, 'SIGCONT');
    }
    assert.equal(await within('the agent to drain and exit', a.exited, 30_000, c.logs), 0, c.logs());
    assert.match(a.log(), /draining with a grace of 8 s: 1 run\(s\) finish first \(stall\/r000\), 0 stopped and handed back/);
    assert.deepEqual(attemptsOf(ws.db, 'stall/r000').map((x) => x.outcome), ['handback'], c.logs());
    assert.deepEqual(runStates(ws.db), { 'stall/r000': 'queued' });
  });
});

test('--drain-grace must be a number >= 0, on the command line or in DLPHYS_DRAIN_GRACE; --help documents it', async () => {
  const agent = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const bin = path.join(repoRoot, 'bin', 'dlphys-agent.js');
      const argv = [bin, '--coord', '127.0.0.1:1', '--exit-when-idle', '--connect-timeout', '1', ...args];
      execFile(process.execPath, argv, { cwd: repoRoot, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
      );
    });
  const bad = [
    { args: ['--drain-grace', '-1'], env: {}, given: '-1' },
    { args: ['--drain-grace', 'abc'], env: {}, given: 'abc' },
    { args: [], env: { DLPHYS_DRAIN_GRACE: 'abc' }, given: 'abc' },
  ];
  const [help, ...refused] = await Promise.all([agent(['--help']), ...bad.map(({ args, env }) => agent(args, env))]);
  refused.forEach((r, i) => {
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, `dlphys-agent: --drain-grace must be a number >= 0 (got "${bad[i]!.given}")\n`);
  });
  assert.equal(help!.status, 0, help!.stderr);
  assert.match(help!.stdout, /--drain-grace <seconds>[\s\S]*env:\s+DLPHYS_DRAIN_GRACE/);
});
