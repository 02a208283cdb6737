import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { UsageError } from '../lib/errors.js';
import { SCHEMA_VERSION } from '../coordinator/schema.js';
import {
  AlreadyExistsError,
  NotFoundError,
  NotLandedError,
  PermissionDeniedError,
  QUARANTINE_BASE_MS,
  QUARANTINE_LOSSES,
  StaleAttemptError,
  Store,
  type EventRow,
  type ExpandedSweep,
  type RunRef,
} from '../coordinator/store/index.js';

const TTL = 10_000;

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dlphys-store-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));

/** A fresh folder for one test, under one temporary root removed when the process exits. */
function tempDir(): string {
  return fs.mkdtempSync(path.join(root, 't-'));
}

/** A store on a fresh file with a clock the test moves by hand. */
function fresh(options: { maxAttempts?: number } = {}) {
  const dir = tempDir();
  const file = path.join(dir, 'sub', 'dlphys.db');
  const clock = { t: 1_700_000_000_000 };
  const store = Store.open(file, { ...options, now: () => clock.t });
  return { store, file, clock, dir };
}

function sweep(name: string, n: number, specHash = 'hash-1'): ExpandedSweep {
  return {
    name,
    method: 'grid',
    metric: { name: 'val_loss', goal: 'min' },
    spec: { method: 'grid', parameters: { lr: { values: Array.from({ length: n }, (_, i) => i) } } },
    specHash,
    runs: Array.from({ length: n }, (_, i) => ({ index: i, name: `lr=${i}`, params: { lr: i }, config: { name: `lr=${i}`, seed: i } as unknown as ExpandedSweep['runs'][number]['config'] })),
    warnings: [],
  };
}

function agent(store: Store, id = 'a1'): string {
  store.registerAgent({ id, host: 'host-' + id, gpus: ['0'], slots: 2, version: '0.1.0', backend: 'cpu' });
  return id;
}

/** Records the attempt's run folder as landed, as the upload receiver does, so its report is taken. */
function landed(store: Store, r: RunRef, agentId = 'a1'): Store {
  store.recordLanded(ref(r), agentId, 3, 100);
  return store;
}

function ref(r: RunRef): RunRef {
  return { runId: r.runId, attempt: r.attempt };
}

function line(step: number, split = 'train'): string {
  return JSON.stringify({ step, epoch: 0, time: step * 0.01, split, loss: 1 / (step + 1) });
}

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

test('expireLeases given the TTL records an agent_lost event once per silent agent', () => {
  const { store, clock } = fresh();
  agent(store, 'a1');
  agent(store, 'a2');
  clock.t += 2 * TTL;
  store.heartbeat('a2', [], TTL);
  clock.t += 1;
  assert.deepEqual(store.expireLeases(TTL).agentsLost, ['a1']);
  assert.deepEqual(store.expireLeases(TTL).agentsLost, []);
  assert.deepEqual(store.status(undefined, TTL).agents.map((a) => [a.id, a.alive]), [['a1', false], ['a2', true]]);
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

test('metric resends are ignored and the ack is the contiguous prefix of seqs', () => {
  const { store } = fresh();
  store.addSweep(sweep('s', 1));
  agent(store);
  const [r] = store.lease('a1', 1, TTL);
  const rows = (seqs: number[]) => seqs.map((seq) => ({ seq, line: line(seq * 10) }));
  assert.equal(store.addMetrics(ref(r!), 'a1', rows([1, 2, 3])), 3);
  assert.equal(store.addMetrics(ref(r!), 'a1', rows([5, 6])), 3, 'a gap holds the ack back');
  assert.equal(store.addMetrics(ref(r!), 'a1', rows([1, 2, 3])), 3, 'a resend changes nothing');
  assert.equal(store.addMetrics(ref(r!), 'a1', rows([4])), 6, 'filling the gap acks what was after it');
  assert.equal(store.addMetrics(ref(r!), 'a1', [{ seq: '7', line: '{"epoch": 1}' }]), 7, 'a line without step or split is stored');
  assert.equal(store.addMetrics(ref(r!), 'a1', []), 7);
  assert.throws(() => store.addMetrics(ref(r!), 'a1', [{ seq: 0, line: '{}' }]), UsageError);
  const lines = store.metricsOf('s/lr=0');
  assert.equal(lines.length, 7);
  assert.deepEqual(lines.slice(0, 6), [1, 2, 3, 4, 5, 6].map((s) => line(s * 10)));
  assert.equal(lines[6], '{"epoch": 1}');
  store.close();
  const db = new Database(store.file, { readonly: true });
  const parsed = db.prepare('SELECT seq, step, split FROM metrics ORDER BY seq').all() as { seq: number; step: number | null; split: string | null }[];
  db.close();
  assert.deepEqual(parsed[0], { seq: 1, step: 10, split: 'train' });
  assert.deepEqual(parsed[6], { seq: 7, step: null, split: null });
});

test("a re-lease and a retry keep the earlier attempts' metric rows; metricsOf reads the current attempt's", () => {
  const { store, clock } = fresh();
  store.addSweep(sweep('s', 1));
  agent(store);
  const [a1] = store.lease('a1', 1, TTL);
  store.addMetrics(ref(a1!), 'a1', [1, 2, 3].map((seq) => ({ seq, line: line(seq) })));
  clock.t += TTL + 1;
  store.expireLeases();
  const [a2] = store.lease('a1', 1, TTL);
  assert.equal(store.addMetrics(ref(a2!), 'a1', [{ seq: 1, line: line(100) }]), 1);
  assert.deepEqual(store.metricsOf('s/lr=0'), [line(100)]);
  store.finishRun(ref(a2!), 'a1', { status: 'failed', summaryJson: '', error: 'boom' });
  assert.equal(store.retry('s'), 1);
  const [a3] = store.lease('a1', 1, TTL);
  assert.equal(a3!.attempt, 3);
  store.close();
  const db = new Database(store.file, { readonly: true });
  assert.deepEqual(db.prepare('SELECT attempt, count(*) AS n FROM metrics GROUP BY attempt ORDER BY attempt').all(), [
    { attempt: 1, n: 3 },
    { attempt: 2, n: 1 },
  ]);
  db.close();
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

test('status counts runs per state, agents with their running runs, and the runs of active sweeps', () => {
  const { store, clock } = fresh();
  store.addSweep(sweep('done', 1));
  clock.t += 1;
  store.addSweep(sweep('busy', 4));
  agent(store, 'a1');
  agent(store, 'a2');
  const [d] = store.lease('a1', 1, TTL);
  landed(store, d!, 'a1').finishRun(ref(d!), 'a1', { status: 'completed', summaryJson: '{}', error: '' });
  const [b0, b1] = store.lease('a1', 2, TTL);
  store.markStarted(ref(b0!), 'a1');
  landed(store, b1!, 'a1').finishRun(ref(b1!), 'a1', { status: 'diverged', summaryJson: '{}', error: 'loss is NaN' });
  clock.t += 3 * TTL;
  store.heartbeat('a1', [ref(b0!)], TTL);
  const st = store.status(undefined, TTL);
  assert.deepEqual(
    st.sweeps.map((s) => [s.name, s.total, s.states]),
    [
      ['done', 1, { queued: 0, leased: 0, running: 0, completed: 1, diverged: 0, failed: 0, cancelled: 0 }],
      ['busy', 4, { queued: 2, leased: 0, running: 1, completed: 0, diverged: 1, failed: 0, cancelled: 0 }],
    ],
  );
  assert.equal(st.sweeps[0]!.created_at, new Date(1_700_000_000_000).toISOString());
  assert.deepEqual(st.agents.map((a) => [a.id, a.alive, a.running, a.slots, a.gpus]), [['a1', true, 1, 2, ['0']], ['a2', false, 0, 2, ['0']]]);
  assert.equal(st.agents[0]!.last_heartbeat, new Date(clock.t).toISOString());
  assert.deepEqual(st.runs.map((r) => r.id), ['busy/lr=0', 'busy/lr=1', 'busy/lr=2', 'busy/lr=3'], 'finished sweeps are left out');
  assert.equal(st.runs[1]!.error, 'loss is NaN');
  assert.equal(st.runs[0]!.agent_id, 'a1');
  assert.equal(st.runs[2]!.agent_id, '');
  assert.deepEqual(store.status('done').runs.map((r) => r.state), ['completed']);
  assert.throws(() => store.status('nope'), NotFoundError);
  assert.throws(() => store.sweepDone('nope'), NotFoundError);
  assert.equal(store.unfinished(), 3);
  store.close();
});

test('events are recorded in order and onEvent hears each committed transaction', () => {
  const { store } = fresh();
  const heard: EventRow[][] = [];
  const off = store.onEvent((events) => heard.push(events));
  store.addSweep(sweep('s', 2));
  agent(store);
  const leased = store.lease('a1', 2, TTL);
  store.markStarted(ref(leased[0]!), 'a1');
  store.addMetrics(ref(leased[0]!), 'a1', [{ seq: 1, line: line(1) }]);
  landed(store, leased[0]!).finishRun(ref(leased[0]!), 'a1', { status: 'completed', summaryJson: '{}', error: '' });
  assert.throws(() => store.finishRun(ref(leased[0]!), 'a1', { status: 'failed', summaryJson: '{}', error: '' }));
  store.cancel('s');
  off();
  store.cancel('s'); // nothing to do, and nobody listening
  const all = store.eventsSince(0);
  assert.deepEqual(all.map((e) => e.type), [
    'sweep_submitted',
    'agent_registered',
    'run_leased',
    'run_leased',
    'run_started',
    'metrics',
    'run_landed',
    'run_finished',
    'run_cancelled',
  ]);
  assert.deepEqual(heard.map((batch) => batch.map((e) => e.type)), [
    ['sweep_submitted'],
    ['agent_registered'],
    ['run_leased', 'run_leased'],
    ['run_started'],
    ['metrics'],
    ['run_landed'],
    ['run_finished'],
    ['run_cancelled'],
  ]);
  assert.deepEqual(heard.flat(), all, 'listeners get the same rows eventsSince returns');
  const finished = all[7]!;
  assert.equal(finished.run_id, 's/lr=0');
  assert.equal(finished.sweep, 's');
  assert.equal(finished.agent_id, 'a1');
  assert.deepEqual(JSON.parse(finished.data_json), { attempt: 1, state: 'completed', status: 'completed' });
  assert.deepEqual(JSON.parse(all[5]!.data_json), { attempt: 1, rows: 1, acked_seq: 1, last_seq: 1, last: JSON.parse(line(1)) });
  assert.deepEqual(store.eventsSince(all[2]!.id, 2).map((e) => e.id), [all[3]!.id, all[4]!.id]);
  store.close();
});

test('the database survives close and reopen with everything in it, and records its schema version', () => {
  const { store, file, clock } = fresh();
  store.addSweep(sweep('s', 3));
  agent(store);
  const [r0, r1] = store.lease('a1', 2, TTL);
  store.markStarted(ref(r0!), 'a1');
  store.addMetrics(ref(r0!), 'a1', [1, 2].map((seq) => ({ seq, line: line(seq) })));
  landed(store, r1!, 'a1').finishRun(ref(r1!), 'a1', { status: 'completed', summaryJson: '{"ok":true}', error: '' });
  const lastEvent = store.eventsSince(0).at(-1)!.id;
  store.close();

  // The coordinator restarts on the same file.
  const again = Store.open(file, { now: () => clock.t });
  assert.equal(again.schemaVersion(), SCHEMA_VERSION);
  assert.equal(again.run(r0!.runId).state, 'running');
  assert.equal(again.run(r1!.runId).summary_json, '{"ok":true}');
  assert.deepEqual(again.metricsOf(r0!.runId), [line(1), line(2)]);
  assert.equal(again.eventsSince(0).at(-1)!.id, lastEvent);
  // The agent carries on where it was: its lease, its attempt, its metric ack.
  assert.deepEqual(again.heartbeat('a1', [ref(r0!)], TTL), { cancel: [], lost: [] });
  assert.equal(again.addMetrics(ref(r0!), 'a1', [2, 3].map((seq) => ({ seq, line: line(seq) }))), 3);
  assert.equal(landed(again, r0!, 'a1').finishRun(ref(r0!), 'a1', { status: 'completed', summaryJson: '{}', error: '' }), 'completed');
  assert.equal(again.addSweep(sweep('s', 3)).existed, true);
  assert.deepEqual(again.lease('a1', 5, TTL).map((r) => r.runId), ['s/lr=2']);
  again.close();

  const db = new Database(file, { readonly: true });
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();
  // A database from a newer dlphys is refused; a file that is not a database too.
  const newer = new Database(file);
  newer.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  newer.close();
  assert.throws(() => Store.open(file), (e: unknown) => e instanceof UsageError && /newer than this dlphys/.test(e.message));
  const junk = path.join(path.dirname(file), 'junk.db');
  fs.writeFileSync(junk, 'this is not a database, not even a little bit'.repeat(100));
  assert.throws(() => Store.open(junk), (e: unknown) => e instanceof UsageError && /not a SQLite database/.test(e.message));
});

test('a coordinator killed with SIGKILL mid-ingestion has every acknowledged metric row on reopening', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  const file = path.join(dir, 'dlphys.db');
  const setup = Store.open(file);
  setup.addSweep(sweep('s', 1));
  agent(setup);
  const [r] = setup.lease('a1', 1, 600_000);
  setup.close();
  const storeUrl = new URL('../coordinator/store.ts', import.meta.url).href;
  const child = path.join(dir, 'writer.mjs');
  fs.writeFileSync(
    child,
    `import { Store } from ${JSON.stringify(storeUrl)};
     const store = Store.open(${JSON.stringify(file)});
     for (let b = 0; ; b++) {
       const rows = Array.from({ length: 100 }, (_, i) => ({ seq: b * 100 + i + 1, line: JSON.stringify({ step: b * 100 + i + 1, split: 'train', loss: 1 }) }));
       process.stdout.write(store.addMetrics(${JSON.stringify(ref(r!))}, 'a1', rows) + '\\n');
       await new Promise((resolve) => setImmediate(resolve)); // let stdout flush where pipes are asynchronous
     }`,
  );
  const proc = spawn(process.execPath, ['--import', 'tsx', child], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] });
  let lastAck = 0;
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    proc.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const l of lines) lastAck = Number(l);
      if (lastAck >= 3000) {
        proc.kill('SIGKILL');
        resolve();
      }
    });
    proc.on('exit', () => (lastAck >= 3000 ? resolve() : reject(new Error(`the writer exited early: ${stderr}`))));
  });
  const reopened = Store.open(file);
  const lines = reopened.metricsOf('s/lr=0');
  assert.ok(lines.length >= lastAck, `${lines.length} rows stored, ${lastAck} acknowledged`);
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { step: number }).step), Array.from({ length: lines.length }, (_, i) => i + 1));
  reopened.close();
});

test('addMetricsMany stores several batches in one transaction and refuses a stale one alone', () => {
  const { store, clock } = fresh();
  store.addSweep(sweep('s', 2));
  agent(store, 'a1');
  agent(store, 'a2');
  const [old] = store.lease('a1', 1, TTL);
  clock.t += TTL + 1;
  store.expireLeases();
  const [cur, other] = store.lease('a2', 2, TTL);
  const heard: EventRow[][] = [];
  store.onEvent((e) => heard.push(e));
  const results = store.addMetricsMany([
    { ref: ref(cur!), agentId: 'a2', rows: [1, 2].map((seq) => ({ seq, line: line(seq) })) },
    { ref: ref(old!), agentId: 'a1', rows: [{ seq: 1, line: line(99) }] },
    { ref: ref(other!), agentId: 'a2', rows: [{ seq: 1, line: line(1) }, { seq: -1, line: line(2) }] },
    { ref: ref(other!), agentId: 'a2', rows: [{ seq: 2, line: line(2) }] },
  ]);
  assert.deepEqual(results[0], { ok: true, acked: 2 });
  assert.ok(!results[1]!.ok && results[1]!.error instanceof StaleAttemptError);
  assert.ok(!results[2]!.ok && results[2]!.error instanceof UsageError);
  assert.deepEqual(results[3], { ok: true, acked: 0 }, 'the refused batch wrote nothing, so seq 1 is missing');
  assert.deepEqual(store.metricsOf(cur!.runId), [line(1), line(2)]);
  assert.deepEqual(store.metricsOf(other!.runId), [line(2)]);
  assert.deepEqual(heard.map((b) => b.map((e) => e.type)), [['metrics', 'metrics']], 'one commit, one notification');
  store.close();
});

test('metric rows are ingested well above 50,000 rows/s in batches of 1000', () => {
  const { store } = fresh();
  const runs = 4;
  const batches = 30;
  const size = 1000;
  store.addSweep(sweep('fast', 2 * runs));
  agent(store);
  const leased = store.lease('a1', 2 * runs, 600_000);
  const payload = (b: number) =>
    Array.from({ length: size }, (_, i) => {
      const seq = b * size + i + 1;
      return { seq, line: JSON.stringify({ step: seq, epoch: 1, time: seq * 0.001, split: 'train', loss: 1 / seq, acc: 0.5, lr: 0.1, grad_norm: 2.5 }) };
    });
  const payloads = Array.from({ length: batches }, (_, b) => payload(b));
  const total = runs * batches * size;
  const rate = (seconds: number) => `${Math.round(total / seconds).toLocaleString('en-US')} rows/s`;

  // One transaction (one disk sync) per batch of 1000 rows, as one ReportMetrics call does.
  let t0 = process.hrtime.bigint();
  for (let b = 0; b < batches; b++) {
    for (let k = 0; k < runs; k++) assert.equal(store.addMetrics(ref(leased[k]!), 'a1', payloads[b]!), (b + 1) * size);
  }
  const single = Number(process.hrtime.bigint() - t0) / 1e9;

  // Group commit: the batches of 4 runs that arrive together in one transaction.
  t0 = process.hrtime.bigint();
  for (let b = 0; b < batches; b++) {
    const results = store.addMetricsMany(leased.slice(runs).map((r) => ({ ref: ref(r), agentId: 'a1', rows: payloads[b]! })));
    for (const r of results) assert.deepEqual(r, { ok: true, acked: (b + 1) * size });
  }
  const grouped = Number(process.hrtime.bigint() - t0) / 1e9;

  console.log(`metric ingestion (synchronous=FULL, ${total} rows in batches of ${size}): ${rate(single)} with one transaction a batch; ${rate(grouped)} with ${runs} batches a transaction`);
  assert.equal(store.metricsOf(leased[0]!.runId).length, batches * size);
  assert.equal(store.metricsOf(leased[runs]!.runId).length, batches * size);
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

test("an agent's proposed secret is kept, so a Register repeated after a lost reply is answered alike; an id holding runs is not taken", () => {
  const { store, clock } = fresh();
  store.addSweep(sweep('s', 1));
  const mine = 'p'.repeat(32);
  const info = { id: 'a1', host: 'h', gpus: [], slots: 1, version: 'v', backend: 'cpu' };
  assert.equal(store.registerAgent(info, mine, TTL), mine);
  assert.equal(store.registerAgent(info, mine, TTL), mine, 'the repeat');
  store.lease('a1', 1, TTL);
  clock.t += 10 * TTL; // the coordinator was down: a1 looks silent, but still holds its run
  assert.throws(() => store.registerAgent(info, 'q'.repeat(32), TTL), AlreadyExistsError);
  assert.equal(store.registerAgent(info, mine, TTL), mine);
});

test('an agent secret is given at register; calls are authenticated with it; a live id cannot be taken over', () => {
  const { store, clock } = fresh();
  const secret = store.registerAgent({ id: 'a1', host: 'h', gpus: [], slots: 1, version: 'v', backend: 'cpu' }, '', TTL);
  assert.ok(secret.length >= 32);
  store.authenticateAgent('a1', secret);
  assert.throws(() => store.authenticateAgent('a1', 'forged'), PermissionDeniedError);
  assert.throws(() => store.authenticateAgent('a1', ''), PermissionDeniedError);
  assert.throws(() => store.authenticateAgent('nobody', secret), NotFoundError);
  assert.throws(() => store.registerAgent({ id: 'a1', host: 'evil', gpus: [], slots: 1, version: 'v', backend: 'cpu' }, '', TTL), AlreadyExistsError);
  assert.throws(() => store.registerAgent({ id: 'a1', host: 'evil', gpus: [], slots: 1, version: 'v', backend: 'cpu' }, 'forged', TTL), AlreadyExistsError);
  assert.equal(store.registerAgent({ id: 'a1', host: 'h', gpus: [], slots: 1, version: 'v', backend: 'cpu' }, secret, TTL), secret, 'the owner registers again');
  clock.t += 2 * TTL + 1;
  const taken = store.registerAgent({ id: 'a1', host: 'h2', gpus: [], slots: 1, version: 'v', backend: 'cpu' }, '', TTL);
  assert.notEqual(taken, secret, 'the id of a lost agent goes to a new one, with a new secret');
  assert.throws(() => store.authenticateAgent('a1', secret), PermissionDeniedError);
});

test('goodbye shows the agent as left at once', () => {
  const { store } = fresh();
  agent(store);
  store.goodbye('a1');
  const [a] = store.status(undefined, TTL).agents;
  assert.equal(a!.alive, false);
  assert.equal(a!.state, 'left');
  assert.deepEqual(store.expireLeases(TTL).agentsLost, [], 'no agent_lost event for an agent that left');
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

test('a lost run is not leased again to the agent that lost it while another agent can take it', () => {
  const { store, clock } = fresh();
  store.addSweep(sweep('s', 1));
  agent(store, 'a1');
  agent(store, 'a2');
  const [r] = store.lease('a1', 1, TTL);
  store.heartbeat('a2', [], TTL);
  clock.t += TTL + 1;
  store.heartbeat('a2', [], TTL);
  assert.equal(store.expireLeases(TTL).requeued.length, 1);
  store.heartbeat('a1', [], TTL); // a1 is back
  assert.deepEqual(store.lease('a1', 1, TTL), [], 'a1 lost it: left for a2');
  assert.equal(store.lease('a2', 1, TTL)[0]!.runId, r!.runId);
});

test('the loser takes its lost run again when no other agent is alive', () => {
  const { store, clock } = fresh();
  store.addSweep(sweep('s', 1));
  agent(store, 'a1');
  store.lease('a1', 1, TTL);
  clock.t += TTL + 1;
  store.expireLeases(TTL);
  store.heartbeat('a1', [], TTL);
  assert.equal(store.lease('a1', 1, TTL).length, 1);
});

test('an agent that loses runs repeatedly is quarantined: no lease until the period ends, shown in status', () => {
  const { store, clock } = fresh();
  store.addSweep(sweep('s', 4));
  agent(store, 'a1');
  for (let i = 0; i < QUARANTINE_LOSSES; i++) {
    assert.equal(store.lease('a1', 1, TTL).length, 1);
    clock.t += TTL + 1;
    store.expireLeases(TTL);
    store.heartbeat('a1', [], TTL);
  }
  const st = store.status(undefined, TTL).agents[0]!;
  assert.equal(st.state, 'quarantined');
  assert.equal(st.lost_runs, QUARANTINE_LOSSES);
  assert.ok(st.quarantined_until > new Date(clock.t).toISOString());
  assert.deepEqual(store.lease('a1', 4, TTL), []);
  clock.t += Math.max(QUARANTINE_BASE_MS, 2 * TTL) + 1;
  store.heartbeat('a1', [], TTL);
  assert.equal(store.status(undefined, TTL).agents[0]!.state, 'alive');
  assert.ok(store.lease('a1', 4, TTL).length > 0);
  const lost = store.status('s').runs.reduce((n, r) => n + r.lost_attempts, 0);
  assert.equal(lost, QUARANTINE_LOSSES, 'lost attempts are counted apart from failures');
});
