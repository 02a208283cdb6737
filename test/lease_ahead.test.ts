import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { attemptsOf, query, runStates, serveSweep, startOneSlotAgent, tinySweep, waitFor, within, withCluster, workspace } from './cluster.js';

/** When (ms) each run's training ended, by the runner's own clock (summary.json). */
const trainedAt = (runsDir: string, runId: string) => Date.parse((JSON.parse(fs.readFileSync(path.join(runsDir, runId, 'summary.json'), 'utf8')) as { ended_at: string }).ended_at);

test("a slot leases its next run before the current one's training ends, and every run still lands once", async () => {
  // Short runs: after the first, the slot knows its runs take well under a second.
  const ws = workspace(tinySweep({ name: 'ahead', runs: 5, steps: 20, logEvery: 5 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--exit-when-done']);
    const agent = c.track('agent', startOneSlotAgent(coord.address, ['--exit-when-idle']));
    assert.equal(await within('the sweep', agent.exited, 120_000, c.logs), 0, c.logs());
    assert.equal(await coord.exited, 0, c.logs());
    assert.deepEqual(new Set(Object.values(runStates(ws.db))), new Set(['completed']));
    const leased = query<{ run_id: string; leased_at: number }>(ws.db, 'SELECT run_id, leased_at FROM attempts ORDER BY leased_at');
    assert.equal(leased.length, 5, 'one attempt per run: nothing leased ahead was lost or leased twice');
    // One slot: run k+1 was leased while run k still trained.
    const ahead = leased.slice(1).filter((a, i) => a.leased_at < trainedAt(ws.runsDir, leased[i]!.run_id));
    assert.ok(ahead.length >= 3, `runs leased ahead: ${ahead.map((a) => a.run_id).join(', ')}\n${c.logs()}`);
  });
});

test('an agent drained while it holds a run leased ahead hands that run back too', async () => {
  // Two runs of a few seconds: the second is leased ahead in the last second of the first.
  const ws = workspace(tinySweep({ name: 'aheaddrain', runs: 2, steps: 4000, logEvery: 50 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    const agent = c.track('agent', startOneSlotAgent(coord.address, [], {}, true));
    await waitFor('the second run leased while the first trains', () => {
      const s = runStates(ws.db);
      return s['aheaddrain/r000'] === 'running' && s['aheaddrain/r001'] === 'leased';
    }, 120_000, c.logs);
    process.kill(-agent.child.pid!, 'SIGTERM');
    assert.equal(await within('the agent to drain and exit', agent.exited, 30_000, c.logs), 0, c.logs());
    for (const run of ['aheaddrain/r000', 'aheaddrain/r001']) {
      assert.deepEqual(attemptsOf(ws.db, run).map((a) => a.outcome), ['handback'], `${run}\n${c.logs()}`);
    }
    assert.deepEqual(runStates(ws.db), { 'aheaddrain/r000': 'queued', 'aheaddrain/r001': 'queued' });
  });
});
