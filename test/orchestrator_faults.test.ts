/**
 * Faults with real processes on 127.0.0.1: an agent or the coordinator killed with SIGKILL in the
 * middle of a run, an agent drained with SIGTERM, runs cancelled and retried, a run that fails by
 * its own error. Every wait is on what lands in the database or on disk, with a deadline.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  attemptsOf,
  runnerPids,
  coordCommand,
  isRunning,
  landedLines,
  LEASE_TTL,
  query,
  runStates,
  serveSweep,
  startCoordinator,
  startOneSlotAgent,
  tinySweep,
  waitFor,
  withCluster,
  within,
  workspace,
  type Workspace,
} from './cluster.js';

/** Long enough that a run is still training when the test acts on it, short enough to finish soon after. */
const STEPS = 3000;

interface RunningRow {
  id: string;
  agent_id: string;
  attempt: number;
}

/** Runs training right now (state running) whose current attempt has metric rows stored. */
function runningWithMetrics(db: string): RunningRow[] {
  return query<RunningRow>(
    db,
    `SELECT r.id, r.agent_id, r.attempt FROM runs r
     WHERE r.state = 'running' AND EXISTS (SELECT 1 FROM metrics m WHERE m.run_id = r.id AND m.attempt = r.attempt)
     ORDER BY r.id`,
  );
}

/** The landed folder is whole: a completed summary with every step, and the database holds exactly its metrics lines. */
function assertLandedWhole(ws: Workspace, runId: string, steps = STEPS): void {
  const dir = path.join(ws.runsDir, runId);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'metrics.jsonl', 'summary.json', 'train.log'], runId);
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  assert.equal(summary.status, 'completed', `${runId} summary`);
  assert.equal(summary.steps, steps, `${runId} summary steps`);
  const [run] = query<{ attempt: number }>(ws.db, 'SELECT attempt FROM runs WHERE id = ?', runId);
  // Earlier attempts keep their rows (a retry deletes no history); the current one matches the folder.
  const stored = query<{ attempt: number; line: string }>(ws.db, 'SELECT attempt, line FROM metrics WHERE run_id = ? AND attempt = ? ORDER BY seq', runId, run!.attempt);
  const lines = landedLines(ws.runsDir, runId);
  assert.deepEqual(
    stored.map((r) => r.line),
    lines,
    `metrics of ${runId}`,
  );
  assert.equal(JSON.parse(lines.at(-1)!).step, steps, `${runId}: metrics.jsonl reaches the last step`);
}

test('an agent killed with kill -9 mid-run: the run is leased again, completes on the other agent, is recorded once, and the runner child dies too', async () => {
  const ws = workspace(tinySweep({ name: 'k9', runs: 1, steps: STEPS, logEvery: 50 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    const a = c.track('agent A', startOneSlotAgent(coord.address));
    const run = await waitFor('a run training on agent A with metric rows stored', () => runningWithMetrics(ws.db)[0], 90_000, c.logs);
    assert.equal(run.attempt, 1);
    // The child training the run, and the warm spare for the slot's next run.
    const runners = runnerPids(a.child.pid!);
    assert.ok(runners.length >= 1, 'agent A has its runner children');
    // The agent compiled its runner at start (agent/launch/bundle.ts) and forks that, not tsx.
    assert.ok(runners.every((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('runner.generated.mjs')), 'runners run the compiled runner');

    const b = c.track('agent B', startOneSlotAgent(coord.address, ['--exit-when-idle']));
    a.kill('SIGKILL');
    assert.equal(await within('agent A to die', a.exited, 10_000, c.logs), 'SIGKILL');
    await waitFor("agent A's runner children to exit with their parent", () => runners.every((pid) => !isRunning(pid)), 20_000, c.logs);

    await waitFor('the run to complete on agent B', () => runStates(ws.db)[run.id] === 'completed', 120_000, c.logs);
    assert.equal(await within('agent B to exit when idle', b.exited, 30_000, c.logs), 0);

    const attempts = attemptsOf(ws.db, run.id);
    assert.deepEqual(
      attempts.map((x) => [x.attempt, x.outcome]),
      [
        [1, 'lost'],
        [2, 'completed'],
      ],
    );
    assert.equal(attempts[0]!.agent_id, run.agent_id);
    assert.notEqual(attempts[1]!.agent_id, run.agent_id, 'attempt 2 ran on the other agent');
    assert.deepEqual(runStates(ws.db), { [run.id]: 'completed' });
    assertLandedWhole(ws, run.id);
  });
});

test('the coordinator killed with kill -9 mid-sweep and started again on the same database and port: agents reconnect, nothing is lost or recorded twice', async () => {
  const ws = workspace(tinySweep({ name: 'crash', runs: 4, steps: STEPS, logEvery: 50 }));
  await withCluster(async (c) => {
    const first = await serveSweep(c, ws);
    const agents = [c.track('agent 1', startOneSlotAgent(first.address, ['--exit-when-idle'])), c.track('agent 2', startOneSlotAgent(first.address, ['--exit-when-idle']))];
    await waitFor(
      'a run completed and another one training with metric rows stored',
      () => Object.values(runStates(ws.db)).includes('completed') && runningWithMetrics(ws.db).length > 0,
      120_000,
      c.logs,
    );
    first.kill('SIGKILL');
    assert.equal(await within('the coordinator to die', first.exited, 10_000, c.logs), 'SIGKILL');
    const states = runStates(ws.db);
    assert.ok(Object.values(states).some((s) => s !== 'completed'), `runs left to do when the coordinator died: ${JSON.stringify(states)}`);

    const second = c.track(
      'coordinator (restarted)',
      await startCoordinator(['serve', '--port', String(first.port), '--db', ws.db, '--runs-dir', ws.runsDir, ...LEASE_TTL]),
    );
    assert.equal(second.port, first.port);
    for (const [i, agent] of agents.entries()) assert.equal(await within(`agent ${i + 1} to finish the sweep and exit`, agent.exited, 150_000, c.logs), 0, c.logs());

    const finalStates = runStates(ws.db);
    assert.deepEqual(Object.keys(finalStates), ['crash/r000', 'crash/r001', 'crash/r002', 'crash/r003']);
    assert.deepEqual(new Set(Object.values(finalStates)), new Set(['completed']), JSON.stringify(finalStates));
    const completedAttempts = query<{ run_id: string; n: number }>(
      ws.db,
      "SELECT run_id, COUNT(*) AS n FROM attempts WHERE outcome = 'completed' GROUP BY run_id ORDER BY run_id",
    );
    assert.deepEqual(
      completedAttempts.map((r) => [r.run_id, r.n]),
      Object.keys(finalStates).map((id) => [id, 1]),
      'one completed attempt per run',
    );
    for (const runId of Object.keys(finalStates)) assertLandedWhole(ws, runId);
    assert.deepEqual(fs.readdirSync(path.join(ws.runsDir, 'crash')).sort(), ['r000', 'r001', 'r002', 'r003', 'sweep.json'], 'no half-landed folder left');
  });
});

test('SIGTERM to the agent\'s process group (scancel, timeout, systemd) drains it: its run is handed back, the agent exits 0 within seconds, and another agent completes the run', async () => {
  const ws = workspace(tinySweep({ name: 'drain', runs: 1, steps: STEPS, logEvery: 50 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    const a = c.track('agent A', startOneSlotAgent(coord.address, [], {}, true));
    const run = await waitFor('a run training on agent A with metric rows stored', () => runningWithMetrics(ws.db)[0], 90_000, c.logs);

    // The whole group, runner children included, gets the signal, as a scheduler sends it.
    process.kill(-a.child.pid!, 'SIGTERM');
    assert.equal(await within('agent A to drain and exit', a.exited, 30_000, c.logs), 0, c.logs());
    assert.match(a.log(), new RegExp(`handed back ${run.id}`));
    assert.deepEqual(
      attemptsOf(ws.db, run.id).map((x) => [x.attempt, x.agent_id, x.outcome]),
      [[1, run.agent_id, 'handback']],
    );
    const [row] = query<{ state: string; agent_id: string | null }>(ws.db, 'SELECT state, agent_id FROM runs WHERE id = ?', run.id);
    assert.deepEqual(row, { state: 'queued', agent_id: null }, 'handed back to the queue at once, not after a lease expiry');

    const b = c.track('agent B', startOneSlotAgent(coord.address, ['--exit-when-idle']));
    assert.equal(await within('agent B to complete the run and exit', b.exited, 120_000, c.logs), 0, c.logs());
    const attempts = attemptsOf(ws.db, run.id);
    assert.deepEqual(
      attempts.map((x) => [x.attempt, x.outcome]),
      [
        [1, 'handback'],
        [2, 'completed'],
      ],
    );
    assert.notEqual(attempts[1]!.agent_id, run.agent_id);
    assert.deepEqual(runStates(ws.db), { [run.id]: 'completed' });
    assertLandedWhole(ws, run.id);
  });
});

test('cancel stops a running run within a heartbeat and cancels queued runs at once; retry queues them again and an agent completes them', async () => {
  const ws = workspace(tinySweep({ name: 'cx', runs: 2, steps: STEPS, logEvery: 50 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    const client = ['--coord', coord.address];
    const agent = c.track('agent', startOneSlotAgent(coord.address));

    // A sweep: its queued run is cancelled by the call itself, its running one by the agent.
    await waitFor('cx/r000 training with metric rows stored', () => runningWithMetrics(ws.db).some((r) => r.id === 'cx/r000'), 90_000, c.logs);
    const sweepCancel = await coordCommand(['cancel', 'cx', ...client]);
    assert.equal(sweepCancel.status, 0, sweepCancel.stderr);
    assert.equal(sweepCancel.stdout, 'cancel cx: 2 run(s)\n');
    assert.equal(runStates(ws.db)['cx/r001'], 'cancelled', 'a queued run is cancelled at once');
    let since = Date.now();
    await waitFor('cx/r000 to stop and end cancelled', () => runStates(ws.db)['cx/r000'] === 'cancelled', 30_000, c.logs);
    // A heartbeat (1 s) brings the cancel, plus a wide margin for a loaded machine.
    assert.ok(Date.now() - since < 10_000, `stopped ${Date.now() - since} ms after the cancel (heartbeats every second)`);
    assert.deepEqual(attemptsOf(ws.db, 'cx/r000').map((x) => x.outcome), ['stopped']);
    assert.deepEqual(attemptsOf(ws.db, 'cx/r001'), [], 'the queued run was never leased');

    // Retry the sweep; then cancel one run while it trains.
    const retry = await coordCommand(['retry', 'cx', ...client]);
    assert.equal(retry.status, 0, retry.stderr);
    assert.equal(retry.stdout, 'retry cx: 2 run(s) queued again\n');
    await waitFor('cx/r000 training again (attempt 2)', () => runningWithMetrics(ws.db).some((r) => r.id === 'cx/r000' && r.attempt === 2), 90_000, c.logs);
    const runCancel = await coordCommand(['cancel', 'cx/r000', ...client]);
    assert.equal(runCancel.status, 0, runCancel.stderr);
    assert.equal(runCancel.stdout, 'cancel cx/r000: 1 run(s)\n');
    since = Date.now();
    await waitFor('cx/r000 to stop and end cancelled', () => runStates(ws.db)['cx/r000'] === 'cancelled', 30_000, c.logs);
    // A heartbeat (1 s) brings the cancel, plus a wide margin for a loaded machine.
    assert.ok(Date.now() - since < 10_000, `stopped ${Date.now() - since} ms after the cancel (heartbeats every second)`);
    const [stopped] = query<{ summary_json: string }>(ws.db, "SELECT summary_json FROM runs WHERE id = 'cx/r000'");
    const summary = JSON.parse(stopped!.summary_json);
    assert.equal(summary.status, 'stopped');
    assert.ok(summary.steps < STEPS, `stopped early, at step ${summary.steps}`);

    // The agent goes on with cx/r001; retrying the sweep again brings back only the cancelled run.
    const again = await coordCommand(['retry', 'cx', ...client]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, 'retry cx: 1 run(s) queued again\n');
    await waitFor('both runs to complete', () => Object.values(runStates(ws.db)).every((s) => s === 'completed'), 120_000, c.logs);
    assert.deepEqual(attemptsOf(ws.db, 'cx/r000').map((x) => x.outcome), ['stopped', 'stopped', 'completed']);
    assert.deepEqual(attemptsOf(ws.db, 'cx/r001').map((x) => x.outcome), ['completed']);
    for (const runId of ['cx/r000', 'cx/r001']) assertLandedWhole(ws, runId);
    assert.equal(agent.child.exitCode, null, 'the agent kept serving throughout');
  });
});

test('a run that fails by its own error ends failed with that error, is not retried, and the agent goes on to the next run', async () => {
  const sweep = tinySweep({ name: 'bad', runs: 1, steps: 30 });
  const base = sweep.base as Record<string, unknown>;
  // mnist with a root that does not exist passes the sweep's validation and fails when the runner builds it.
  sweep.parameters = { data: { values: [{ name: 'mnist', kwargs: { root: '/nonexistent/dlphys-mnist' } }, base.data] } };
  const ws = workspace(sweep);
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--exit-when-done']);
    const agent = c.track('agent', startOneSlotAgent(coord.address, ['--exit-when-idle']));
    assert.equal(await within('the agent to finish both runs and exit', agent.exited, 120_000, c.logs), 0, c.logs());
    assert.equal(await within('the coordinator to exit when done', coord.exited, 30_000, c.logs), 0, c.logs());

    assert.deepEqual(runStates(ws.db), { 'bad/r000': 'failed', 'bad/r001': 'completed' });
    const [failed] = query<{ error: string; attempt: number }>(ws.db, "SELECT error, attempt FROM runs WHERE id = 'bad/r000'");
    assert.match(failed!.error, /directory not found: \/nonexistent\/dlphys-mnist/);
    assert.equal(failed!.attempt, 1);
    const attempts = attemptsOf(ws.db, 'bad/r000');
    assert.deepEqual(
      attempts.map((x) => [x.attempt, x.outcome]),
      [[1, 'failed']],
      'one attempt: a run that failed by its own error is not retried',
    );
    assert.match(attempts[0]!.error ?? '', /directory not found/);
    const next = attemptsOf(ws.db, 'bad/r001');
    assert.deepEqual(next.map((x) => x.outcome), ['completed']);
    assert.equal(next[0]!.agent_id, attempts[0]!.agent_id, 'the same agent went on to the next run');
    assertLandedWhole(ws, 'bad/r001', 30);
  });
});
