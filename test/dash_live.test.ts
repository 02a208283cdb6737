/**
 * The dashboard against a real coordinator and agent on 127.0.0.1, through the coordinator source:
 * the sweep, its runs and the agent appear and follow the training to the end; the coordinator
 * killed and restarted on the same database and port shows as reconnecting, then live, with every
 * run counted once. The detail view shows the run's charts (RunDetail) and the agent its host health.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { cleanup } from 'ink-testing-library';
import { coordinatorSource } from '../tui/sources/coordinator.js';
import { coordCommand, serveSweep, startCoordinator, startOneSlotAgent, tinySweep, withCluster, workspace } from './cluster.js';
import { KEY, renderDash } from './dash_fixtures.js';

afterEach(cleanup);

const FAST = { statusEveryMs: 300, retryInitialMs: 100, retryMaxMs: 500 };

test('a real sweep: the dashboard shows the sweep, its runs and the agent, until every run has completed', async (t) => {
  const ws = workspace(tinySweep({ name: 'live', runs: 3, steps: 200, logEvery: 5 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    const source = coordinatorSource(coord.address, {}, FAST);
    t.after(() => source.close());
    const dash = renderDash(source, { columns: 130, rows: 40, clock: Date.now });
    const within = (what: string, check: (f: string) => boolean) => dash.waitFor(what, check, 90_000).catch((err: Error) => assert.fail(`${err.message}\n${c.logs()}`));

    await within('the sweep, queued', (f) => /› live .* 0\/3/.test(f) && /r000 +queued/.test(f));
    assert.match(dash.frame(), new RegExp(`coordinator ${coord.address} · live`));
    c.track('agent', startOneSlotAgent(coord.address));
    await within('a run training, with its step', (f) => /r\d+ +running .* \d+(\/200)? /.test(f));
    await within('the agent holding it', (f) => /slots 1\/1 .*runs r\d+/.test(f));
    await within('every run completed', (f) => /› live .* 3\/3 +done/.test(f) && (f.match(/ completed /g) ?? []).length >= 3);
    const f = dash.frame();
    assert.match(f, /best val_acc \d/);
    assert.match(f, /r000 +completed +0 +200\/200 /, 'the seed varies: its column, and the steps out of 200');

    await dash.press(KEY.enter);
    const detail = await within('the detail', (x) => /▸ run live\/r000/.test(x) && !/loading…/.test(x));
    // RunDetail: every metric as a braille chart, and the end of the landed train.log.
    assert.match(detail, /loss · val_loss/);
    assert.match(detail, /[\u2801-\u28ff]/);
    // The agent's host health, as its heartbeats carry it.
    assert.match(f, /cpu \d+%/);
    assert.match(f, /ram [\d.]+[KMGT]?\/[\d.]+[KMGT]/);
    await dash.press('q');
  });
});

test('a coordinator killed and restarted: reconnecting, then live, each run counted once', async (t) => {
  const ws = workspace(tinySweep({ name: 'again', runs: 2, steps: 400, logEvery: 5 }));
  await withCluster(async (c) => {
    const first = await serveSweep(c, ws);
    c.track('agent', startOneSlotAgent(first.address));
    const source = coordinatorSource(first.address, {}, FAST);
    t.after(() => source.close());
    const dash = renderDash(source, { columns: 130, rows: 30, clock: Date.now });
    const within = (what: string, check: (f: string) => boolean) => dash.waitFor(what, check, 90_000).catch((err: Error) => assert.fail(`${err.message}\n${c.logs()}`));
    await within('a run training', (f) => /r000 +running/.test(f));

    first.kill('SIGKILL');
    await first.exited;
    await within('reconnecting', (f) => /· reconnecting… \(/.test(f));
    c.track('coordinator again', await startCoordinator(['serve', '--port', String(first.port), '--db', ws.db, '--runs-dir', ws.runsDir, '--lease-ttl', '3']));
    await within('live again', (f) => new RegExp(`${first.address} · live`).test(f));
    await within('both runs completed', (f) => /› again .* 2\/2 +done/.test(f));
    const f = dash.frame();
    assert.equal((f.match(/^[ ›][ ●]r\d+ /gm) ?? []).length, 2, 'each run once');
    assert.match(f, /completed 2 +best/);
    await dash.press('q');
  });
});

test('dlphys-coord dash with nobody at --coord: one line naming the address and the fix, exit code 2, nothing drawn', async () => {
  const r = await coordCommand(['dash', '--coord', '127.0.0.1:1']);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^dlphys-coord: no coordinator answers at 127\.0\.0\.1:1 \(.*\); start one with dlphys-coord serve, or check --coord\n$/);
});
