import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { attemptsOf, coordCommand, query, runStates, serveSweep, startOneSlotAgent, tinySweep, waitFor, within, withCluster, workspace } from './cluster.js';

/** When (ms) each run's training ended, by the runner's own clock (summary.json). */
const trainedAt = (runsDir: string, runId: string) => Date.parse((JSON.parse(fs.readFileSync(path.join(runsDir, runId, 'summary.json'), 'utf8')) as { ended_at: string }).ended_at);

test("a slot leases its next run before the current one's training ends, and every run still lands once", async () => {
  // Runs of a second or two: each leases the next in its last second, by the pace of its steps,
  // which leaves a loaded machine's lease round trip plenty of time.
  const ws = workspace(tinySweep({ name: 'ahead', runs: 5, steps: 600, logEvery: 5 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--exit-when-done']);
    const agent = c.track('agent', startOneSlotAgent(coord.address, ['--exit-when-idle']));
    assert.equal(await within('the sweep', agent.exited, 120_000, c.logs), 0, c.logs());
    assert.equal(await coord.exited, 0, c.logs());
    assert.deepEqual(new Set(Object.values(runStates(ws.db))), new Set(['completed']));
    const attempts = query<{ run_id: string; leased_at: number; outcome: string }>(ws.db, 'SELECT run_id, leased_at, outcome FROM attempts ORDER BY leased_at');
    // Each run trained and recorded once; a run held ahead may have gone back once (a loaded host
    // slowed the run before it), never lost.
    const completed = attempts.filter((a) => a.outcome === 'completed');
    assert.deepEqual(completed.map((a) => a.run_id).sort(), ['ahead/r000', 'ahead/r001', 'ahead/r002', 'ahead/r003', 'ahead/r004']);
    assert.ok(attempts.every((a) => a.outcome === 'completed' || a.outcome === 'handback'), JSON.stringify(attempts));
    const leased = completed;
    // One slot: run k+1 was leased while run k still trained.
    const ahead = leased.slice(1).filter((a, i) => a.leased_at < trainedAt(ws.runsDir, leased[i]!.run_id));
    assert.ok(ahead.length >= 3, `runs leased ahead: ${ahead.map((a) => a.run_id).join(', ')}\n${c.logs()}`);
  });
});

test('an agent drained while it holds a run leased ahead hands that run back too', async () => {
  // r000 is short, so when r001 (a few seconds) starts, r002 is leased ahead at once and held while
  // r001 trains: seconds of slack for the drain to come while it is held, whatever the load.
  const sweep = { ...tinySweep({ name: 'aheaddrain', logEvery: 50 }), parameters: { 'train.steps': { values: [20, 6000, 21] } } };
  const ws = workspace(sweep);
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    const agent = c.track('agent', startOneSlotAgent(coord.address, [], {}, true));
    await waitFor('the third run leased while the second trains', () => {
      const s = runStates(ws.db);
      return s['aheaddrain/r001'] === 'running' && s['aheaddrain/r002'] === 'leased';
    }, 120_000, c.logs);
    process.kill(-agent.child.pid!, 'SIGTERM');
    assert.equal(await within('the agent to drain and exit', agent.exited, 30_000, c.logs), 0, c.logs());
    for (const run of ['aheaddrain/r001', 'aheaddrain/r002']) {
      assert.deepEqual(attemptsOf(ws.db, run).map((a) => a.outcome), ['handback'], `${run}\n${c.logs()}`);
    }
    assert.deepEqual(runStates(ws.db), { 'aheaddrain/r000': 'completed', 'aheaddrain/r001': 'queued', 'aheaddrain/r002': 'queued' });
  });
});

test('runs held ahead of a run that turns out long go back, for another agent to train meanwhile', async () => {
  // r000 is short, r001 long, r002 short: after r000 the slot leases r002 ahead of r001, then r001's
  // own pace says it will not end soon.
  const sweep = { ...tinySweep({ name: 'longnext' }), parameters: { 'train.steps': { values: [20, 200_000, 21] } } };
  const ws = workspace(sweep);
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    c.track('agent A', startOneSlotAgent(coord.address));
    await waitFor('the long run training', () => runStates(ws.db)['longnext/r001'] === 'running', 120_000, c.logs);
    c.track('agent B', startOneSlotAgent(coord.address));
    await waitFor('the short run after it done elsewhere', () => runStates(ws.db)['longnext/r002'] === 'completed', 120_000, c.logs);
    assert.equal(runStates(ws.db)['longnext/r001'], 'running', 'while the long run still trains');
    const [long] = attemptsOf(ws.db, 'longnext/r001');
    const short = attemptsOf(ws.db, 'longnext/r002');
    assert.notEqual(short.at(-1)!.agent_id, long!.agent_id, `${JSON.stringify(short)}\n${c.logs()}`);
  });
});

test('a run cancelled while it waits ahead goes back at once and is recorded cancelled, never started', async () => {
  // r000 is short, so r002 is leased ahead of r001 at once; r001 writes no row (it is never paced),
  // so r002 stays held behind it for as long as r001 trains.
  const base = tinySweep({ name: 'aheadcancel' }).base as { train: Record<string, unknown> };
  const sweep = {
    ...tinySweep({ name: 'aheadcancel' }),
    base: { ...base, train: { ...base.train, log_every: 1_000_000, eval_every: 1_000_000 } },
    parameters: { 'train.steps': { values: [20, 1_000_000, 21] } },
  };
  const ws = workspace(sweep);
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    const agent = c.track('agent', startOneSlotAgent(coord.address));
    await waitFor('the third run leased while the second trains', () => {
      const s = runStates(ws.db);
      return s['aheadcancel/r001'] === 'running' && s['aheadcancel/r002'] === 'leased';
    }, 120_000, c.logs);
    const cancel = await coordCommand(['cancel', 'aheadcancel/r002', '--coord', coord.address]);
    assert.equal(cancel.status, 0, cancel.stderr);
    await waitFor('the held run recorded cancelled', () => runStates(ws.db)['aheadcancel/r002'] === 'cancelled', 60_000, c.logs);
    // ... while the run before it still trains: it did not wait for its turn to stop.
    assert.equal(runStates(ws.db)['aheadcancel/r001'], 'running', c.logs());
    assert.deepEqual(attemptsOf(ws.db, 'aheadcancel/r002').map((a) => a.outcome), ['handback'], c.logs());
    assert.match(agent.log(), /handed back aheadcancel\/r002 \(stopped before it started\)/);
    // Never started: no StartRun, no folder anywhere.
    assert.equal(query<{ started_at: number | null }>(ws.db, "SELECT started_at FROM attempts WHERE run_id = 'aheadcancel/r002'")[0]!.started_at, null);
    assert.ok(!fs.existsSync(path.join(ws.runsDir, 'aheadcancel', 'r002')));
  });
});
