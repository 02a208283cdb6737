/**
 * The store (coordinator/store/) on its own, with a clock moved by hand: sweeps recorded once, and
 * the life of a run: leased, renewed, lost and requeued, started, finished once, cancelled,
 * retried, handed back. Metrics, agents, status and events, and what survives a restart are
 * store_metrics, store_agents, store_status and store_persistence.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { UsageError } from '../lib/errors.js';
import { NotFoundError, NotLandedError, StaleAttemptError } from '../coordinator/store/index.js';
import { TTL, agent, fresh, landed, line, ref, sweep } from './store_fixtures.js';

test('addSweep inserts the sweep and its runs as queued, attempt 0', () => {
  const { store } = fresh();
  assert.deepEqual(store.addSweep(sweep('s', 3)), { existed: false, runs: 3 });
  const st = store.status('s');
  assert.equal(st.sweeps.length, 1);
  assert.equal(st.sweeps[0]!.total, 3);
  assert.equal(st.sweeps[0]!.states.queued, 3);
  assert.equal(st.sweeps[0]!.metric, 'val_loss');
  assert.equal(st.sweeps[0]!.goal, 'min');
  assert.deepEqual(st.runs.map((r) => [r.id, r.state, r.attempt]), [
    ['s/lr=0', 'queued', 0],
    ['s/lr=1', 'queued', 0],
    ['s/lr=2', 'queued', 0],
  ]);
  assert.deepEqual(JSON.parse(st.runs[1]!.params_json), { lr: 1 });
  assert.equal(store.unfinished(), 3);
  assert.equal(store.sweepDone('s'), false);
  store.close();
});

test('the same sweep recorded again is a no-op that says it existed', () => {
  const { store } = fresh();
  store.addSweep(sweep('s', 3));
  const events = store.eventsSince(0).length;
  assert.deepEqual(store.addSweep(sweep('s', 3)), { existed: true, runs: 3 });
  assert.equal(store.eventsSince(0).length, events);
  assert.equal(store.status().runs.length, 3);
  store.close();
});

test('different content under the same sweep name is refused and nothing is written', () => {
  const { store } = fresh();
  store.addSweep(sweep('s', 3));
  assert.throws(
    () => store.addSweep(sweep('s', 5, 'hash-2')),
    (e: unknown) =>
      e instanceof UsageError &&
      e.message === 'sweep s already exists with different content; pass --name to record this one under another name',
  );
  assert.equal(store.status('s').sweeps[0]!.total, 3);
  // A sweep with a duplicate run name rolls back whole.
  const bad = sweep('t', 2);
  bad.runs[1]!.name = 'lr=0';
  assert.throws(() => store.addSweep(bad), UsageError);
  assert.throws(() => store.status('t'), NotFoundError);
  assert.throws(() => store.addSweep(sweep('a/b', 1)), UsageError);
  store.close();
});

test('lease takes the oldest sweep first, then by index, and increments the attempt', () => {
  const { store, clock } = fresh();
  store.addSweep(sweep('old', 3));
  clock.t += 1;
  store.addSweep(sweep('new', 2));
  agent(store, 'a1');
  agent(store, 'a2');
  assert.throws(() => store.lease('nobody', 1, TTL), NotFoundError);
  const first = store.lease('a1', 2, TTL);
  assert.deepEqual(first.map((r) => [r.runId, r.attempt]), [['old/lr=0', 1], ['old/lr=1', 1]]);
  assert.equal(first[0]!.sweep, 'old');
  assert.equal(first[0]!.name, 'lr=0');
  assert.deepEqual(JSON.parse(first[0]!.configJson), { name: 'lr=0', seed: 0 });
  const second = store.lease('a2', 10, TTL);
  assert.deepEqual(second.map((r) => r.runId), ['old/lr=2', 'new/lr=0', 'new/lr=1']);
  assert.deepEqual(store.lease('a2', 10, TTL), []);
  assert.deepEqual(store.lease('a1', 0, TTL), []);
  const row = store.run('old/lr=0');
  assert.equal(row.state, 'leased');
  assert.equal(row.agent_id, 'a1');
  assert.equal(row.lease_expires_at, clock.t + TTL);
  // Back in the queue after a handback, the next lease is attempt 2.
  store.finishRun(ref(first[0]!), 'a1', { status: 'handback', summaryJson: '', error: '' });
  assert.deepEqual(store.lease('a2', 1, TTL).map((r) => [r.runId, r.attempt]), [['old/lr=0', 2]]);
  store.close();
});

test('a repeated lease request id answers the same runs and leases nothing new', () => {
  const { store } = fresh();
  store.addSweep(sweep('s', 4));
  agent(store);
  const first = store.lease('a1', 2, TTL, 'req-1');
  assert.equal(first.length, 2);
  assert.deepEqual(store.lease('a1', 2, TTL, 'req-1'), first);
  assert.equal(store.status('s').sweeps[0]!.states.leased, 2);
  assert.deepEqual(store.lease('a1', 2, TTL, 'req-2').map((r) => r.runId), ['s/lr=2', 's/lr=3']);
  assert.deepEqual(first.map((r) => r.attempt), [1, 1], 'the repeat cost no attempt');
});

test('heartbeat renews held leases and reports lost and cancelled attempts', () => {
  const { store, clock } = fresh();
  store.addSweep(sweep('s', 3));
  agent(store, 'a1');
  agent(store, 'a2');
  const [r0, r1] = store.lease('a1', 2, TTL);
  const [r2] = store.lease('a2', 1, TTL);
  store.markStarted(ref(r0!), 'a1');
  store.cancel(r1!.runId);
  clock.t += 5_000;
  const reply = store.heartbeat('a1', [ref(r0!), ref(r1!), ref(r2!), { runId: 's/lr=0', attempt: 7 }, { runId: 'nope/x', attempt: 1 }], TTL);
  assert.deepEqual(reply.cancel, [ref(r1!)]);
  assert.deepEqual(reply.lost, [ref(r2!), { runId: 's/lr=0', attempt: 7 }, { runId: 'nope/x', attempt: 1 }]);
  assert.equal(store.run(r0!.runId).lease_expires_at, clock.t + TTL);
  assert.equal(store.run(r2!.runId).lease_expires_at, clock.t - 5_000 + TTL, 'another agent cannot renew a lease');
  // The renewed leases survive an expiry pass that takes the unrenewed one.
  clock.t += 6_000;
  const expired = store.expireLeases();
  assert.deepEqual(expired.requeued, [ref(r2!)]);
  assert.equal(store.run(r0!.runId).state, 'running');
  assert.throws(() => store.heartbeat('ghost', [], TTL), NotFoundError);
  store.close();
});

test('an expired lease requeues the run with a new attempt, and fails it after maxAttempts lost', () => {
  const { store, clock } = fresh({ maxAttempts: 2 });
  store.addSweep(sweep('s', 1));
  agent(store);
  const [a1] = store.lease('a1', 1, TTL);
  store.markStarted(ref(a1!), 'a1');
  clock.t += TTL; // not yet: expiry is strictly after lease_expires_at
  assert.deepEqual(store.expireLeases().requeued, []);
  clock.t += 1;
  const first = store.expireLeases();
  assert.deepEqual(first.requeued, [ref(a1!)]);
  assert.deepEqual(first.failed, []);
  const row = store.run('s/lr=0');
  assert.equal(row.state, 'queued');
  assert.equal(row.agent_id, null);
  assert.equal(store.unfinished(), 1);
  const [a2] = store.lease('a1', 1, TTL);
  assert.equal(a2!.attempt, 2);
  clock.t += TTL + 1;
  const second = store.expireLeases();
  assert.deepEqual(second.requeued, []);
  assert.deepEqual(second.failed, [ref(a2!)]);
  const failed = store.run('s/lr=0');
  assert.equal(failed.state, 'failed');
  assert.equal(failed.error, 'lost 2 times: its agent stopped heartbeating (max_attempts 2)');
  assert.equal(store.unfinished(), 0);
  assert.equal(store.sweepDone('s'), true);
  assert.deepEqual(store.lease('a1', 1, TTL), []);
  store.close();
});

test('stale attempts are refused by markStarted, addMetrics, finishRun and checkCurrent', () => {
  const { store, clock } = fresh();
  store.addSweep(sweep('s', 1));
  agent(store, 'a1');
  agent(store, 'a2');
  const [old] = store.lease('a1', 1, TTL);
  clock.t += TTL + 1;
  store.expireLeases();
  const [cur] = store.lease('a2', 1, TTL);
  assert.equal(cur!.attempt, 2);
  const stale = (e: unknown) =>
    e instanceof StaleAttemptError && e.runId === 's/lr=0' && e.attempt === 1 && e.currentAttempt === 2 && /attempt 1 .*attempt 2/.test(e.message);
  assert.throws(() => store.checkCurrent(ref(old!), 'a1'), stale);
  assert.throws(() => store.markStarted(ref(old!), 'a1'), stale);
  assert.throws(() => store.addMetrics(ref(old!), 'a1', [{ seq: 1, line: line(0) }]), stale);
  assert.throws(() => store.finishRun(ref(old!), 'a1', { status: 'completed', summaryJson: '{}', error: '' }), stale);
  // The right attempt from the wrong agent is refused too.
  assert.throws(() => store.checkCurrent(ref(cur!), 'a1'), /held by agent a2, not a1/);
  assert.throws(() => store.checkCurrent({ runId: 's/zzz', attempt: 1 }, 'a2'), NotFoundError);
  assert.equal(store.checkCurrent(ref(cur!), 'a2').state, 'leased');
  assert.deepEqual(store.metricsOf('s/lr=0'), []);
  assert.equal(store.run('s/lr=0').state, 'leased');
  store.close();
});

test('a run finishes once: a second report of the same attempt is refused', () => {
  const { store } = fresh();
  store.addSweep(sweep('s', 2));
  agent(store);
  const [r0, r1] = store.lease('a1', 2, TTL);
  store.markStarted(ref(r0!), 'a1');
  store.markStarted(ref(r0!), 'a1'); // a resend while running is harmless
  const summary = JSON.stringify({ status: 'completed', final: { val_loss: 0.5 } });
  assert.equal(landed(store, r0!, 'a1').finishRun(ref(r0!), 'a1', { status: 'completed', summaryJson: summary, error: '' }), 'completed');
  assert.throws(
    () => store.finishRun(ref(r0!), 'a1', { status: 'failed', summaryJson: '{}', error: 'x' }),
    (e: unknown) => e instanceof StaleAttemptError && /is over: the run is completed/.test(e.message),
  );
  const events = store.eventsSince(0).length;
  assert.equal(
    store.finishRun(ref(r0!), 'a1', { status: 'completed', summaryJson: summary, error: '' }),
    'completed',
    'the same report again (its reply was lost) is answered alike',
  );
  assert.equal(store.eventsSince(0).length, events, 'and records nothing');
  assert.throws(() => store.finishRun(ref(r0!), 'a2', { status: 'completed', summaryJson: summary, error: '' }), StaleAttemptError, 'not for another agent');
  assert.throws(() => store.markStarted(ref(r0!), 'a1'), StaleAttemptError);
  const row = store.run(r0!.runId);
  assert.equal(row.state, 'completed');
  assert.equal(row.summary_json, summary);
  assert.equal(row.error, null);
  assert.equal(store.finishRun(ref(r1!), 'a1', { status: 'failed', summaryJson: '', error: 'Error: boom' }), 'failed');
  assert.equal(store.run(r1!.runId).error, 'Error: boom');
  assert.equal(store.sweepDone('s'), true);
  assert.equal(store.allDone(), true);
  assert.throws(() => store.finishRun(ref(r1!), 'a1', { status: 'bogus' as never, summaryJson: '', error: '' }), UsageError);
  store.close();
});

test('a finished run is recorded only after its folder landed: completed, diverged and stopped need it, failed does not', () => {
  const { store } = fresh();
  store.addSweep(sweep('s', 2));
  agent(store);
  const [r0, r1] = store.lease('a1', 2, TTL);
  for (const status of ['completed', 'diverged', 'stopped'] as const) {
    assert.throws(() => store.finishRun(ref(r0!), 'a1', { status, summaryJson: '{}', error: '' }), NotLandedError);
  }
  assert.equal(store.run(r0!.runId).state, 'leased', 'a refused report changes nothing');
  assert.equal(landed(store, r0!).finishRun(ref(r0!), 'a1', { status: 'completed', summaryJson: '{}', error: '' }), 'completed');
  assert.equal(store.finishRun(ref(r1!), 'a1', { status: 'failed', summaryJson: '', error: 'boom' }), 'failed');
});

test('cancel makes queued runs cancelled at once and asks the agent to stop running ones', () => {
  const { store } = fresh();
  store.addSweep(sweep('s', 4));
  agent(store);
  const [r0, r1] = store.lease('a1', 2, TTL);
  store.markStarted(ref(r0!), 'a1');
  assert.throws(() => store.cancel('nothing'), NotFoundError);
  assert.equal(store.cancel('s/lr=2'), 1);
  assert.equal(store.run('s/lr=2').state, 'cancelled');
  assert.equal(store.cancel('s'), 3, 'r0 and r1 asked to stop, lr=3 cancelled');
  assert.equal(store.cancel('s'), 0, 'asking again changes nothing');
  assert.equal(store.run('s/lr=3').state, 'cancelled');
  assert.equal(store.run(r0!.runId).state, 'running');
  assert.equal(store.run(r0!.runId).cancel_requested, 1);
  assert.deepEqual(store.heartbeat('a1', [ref(r0!), ref(r1!)], TTL).cancel, [ref(r0!), ref(r1!)]);
  assert.equal(landed(store, r0!, 'a1').finishRun(ref(r0!), 'a1', { status: 'stopped', summaryJson: '{"status":"stopped"}', error: '' }), 'cancelled');
  assert.equal(store.finishRun(ref(r1!), 'a1', { status: 'handback', summaryJson: '', error: '' }), 'cancelled', 'a cancelled run is not handed back to the queue');
  assert.equal(store.sweepDone('s'), true);
  assert.deepEqual(store.lease('a1', 4, TTL), []);
  store.close();
});

test('retry requeues failed and cancelled runs, and lost attempts count again from zero', () => {
  const { store, clock } = fresh({ maxAttempts: 1 });
  store.addSweep(sweep('s', 3));
  agent(store);
  const [r0, r1] = store.lease('a1', 2, TTL);
  landed(store, r0!, 'a1').finishRun(ref(r0!), 'a1', { status: 'completed', summaryJson: '{}', error: '' });
  store.cancel('s/lr=2');
  clock.t += TTL + 1;
  assert.deepEqual(store.expireLeases().failed, [ref(r1!)]);
  assert.throws(() => store.retry('s/none'), NotFoundError);
  assert.equal(store.retry('s'), 2);
  assert.equal(store.retry('s'), 0);
  const row = store.run(r1!.runId);
  assert.equal(row.state, 'queued');
  assert.equal(row.error, null);
  assert.equal(row.attempt, 1, 'the attempt counter is kept');
  assert.equal(store.run(r0!.runId).state, 'completed', 'completed runs stay');
  const again = store.lease('a1', 5, TTL);
  assert.deepEqual(again.map((r) => [r.runId, r.attempt]), [['s/lr=1', 2], ['s/lr=2', 1]]);
  // maxAttempts 1: one more loss after the retry fails it again, with a count of 1.
  clock.t += TTL + 1;
  store.expireLeases();
  assert.equal(store.run('s/lr=1').error, 'lost 1 times: its agent stopped heartbeating (max_attempts 1)');
  store.close();
});

test('handback requeues the run without counting as a lost attempt', () => {
  const { store, clock } = fresh({ maxAttempts: 1 });
  store.addSweep(sweep('s', 1));
  agent(store);
  for (let i = 1; i <= 3; i++) {
    const [r] = store.lease('a1', 1, TTL);
    assert.equal(r!.attempt, i);
    store.markStarted(ref(r!), 'a1');
    assert.equal(store.finishRun(ref(r!), 'a1', { status: 'handback', summaryJson: '', error: 'agent shutting down' }), 'queued');
    const row = store.run('s/lr=0');
    assert.equal(row.state, 'queued');
    assert.equal(row.agent_id, null);
  }
  const [r] = store.lease('a1', 1, TTL);
  clock.t += TTL + 1;
  const expired = store.expireLeases();
  assert.deepEqual(expired.failed, [ref(r!)], 'the first loss fails it (maxAttempts 1): handbacks did not count');
  assert.equal(store.run('s/lr=0').error, 'lost 1 times: its agent stopped heartbeating (max_attempts 1)');
  store.close();
  const db = new Database(store.file, { readonly: true });
  assert.deepEqual(
    db.prepare('SELECT attempt, outcome FROM attempts ORDER BY attempt').all(),
    [{ attempt: 1, outcome: 'handback' }, { attempt: 2, outcome: 'handback' }, { attempt: 3, outcome: 'handback' }, { attempt: 4, outcome: 'lost' }],
  );
  db.close();
});
