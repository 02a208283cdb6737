/**
 * The dashboard against a real coordinator and real agents with runs in every end state: a run
 * completed, one diverged (a learning rate that blows the loss up), one cancelled before it
 * started, one lost with its agent (killed with SIGKILL mid-run) and completed again by another;
 * the lost agent is shown as lost.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { cleanup } from 'ink-testing-library';
import { coordinatorSource } from '../tui/sources/coordinator.js';
import { coordCommand, serveSweep, startOneSlotAgent, tinySweep, withCluster, workspace } from './cluster.js';
import { renderDash } from './dash_fixtures.js';

afterEach(cleanup);

test('a real sweep with a completed, a diverged, a cancelled and a lost-then-completed run, and a lost agent', async (t) => {
  const sweep = tinySweep({ name: 'states', steps: 600, logEvery: 5 });
  // r000..r003 by learning rate: r001's blows the loss up (diverged), r003 is cancelled.
  sweep.parameters = { 'optimizer.kwargs.lr': { values: [0.1, 1e30, 0.05, 0.2] } };
  // relu: its logits grow without bound at r001's rate, so the loss becomes NaN (tanh would saturate).
  ((sweep.base as { model: { kwargs: Record<string, unknown> } }).model.kwargs).activation = 'relu';
  const ws = workspace(sweep);
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    const source = coordinatorSource(coord.address, {}, { statusEveryMs: 300, retryInitialMs: 100, retryMaxMs: 500 });
    t.after(() => source.close());
    const dash = renderDash(source, { columns: 140, rows: 40, clock: Date.now });
    const within = (what: string, check: (f: string) => boolean) => dash.waitFor(what, check, 90_000).catch((err: Error) => assert.fail(`${err.message}\n${c.logs()}`));

    await within('the sweep, queued', (f) => /r003 +queued/.test(f));
    const cancelled = await coordCommand(['cancel', 'states/r003', '--coord', coord.address]);
    assert.equal(cancelled.status, 0, cancelled.stderr);
    await within('r003 cancelled', (f) => /r003 +cancelled/.test(f));

    const doomed = c.track('agent A', startOneSlotAgent(coord.address));
    await within('r000 training on agent A', (f) => /r000 +running/.test(f));
    doomed.kill('SIGKILL');
    await doomed.exited;
    // Lease TTL 3 s (serveSweep): the attempt is lost and r000 queued again, the agent lost after two TTLs.
    await within('agent A lost', (f) => /\bLOST\b/.test(f) && /0 alive of 1/.test(f));

    c.track('agent B', startOneSlotAgent(coord.address));
    await within('every run ended', (f) => /r000 +completed/.test(f) && /r001 +diverged/.test(f) && /r002 +completed/.test(f) && /r003 +cancelled/.test(f));
    const f = dash.frame();
    assert.match(f, /completed 2/);
    assert.match(f, /diverged 1/);
    assert.match(f, /cancelled 1/);
    await dash.press('q');
  });
});
