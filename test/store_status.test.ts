/** What the store tells: status (runs per state, agents, runs of active sweeps) and the event log. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NotFoundError, type EventRow } from '../coordinator/store/index.js';
import { TTL, agent, fresh, landed, line, ref, sweep } from './store_fixtures.js';

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
      ['done', 1, { queued: 0, leased: 0, running: 0, completed: 1, diverged: 0, failed: 0, cancelled: 0, early_stopped: 0 }],
      ['busy', 4, { queued: 2, leased: 0, running: 1, completed: 0, diverged: 1, failed: 0, cancelled: 0, early_stopped: 0 }],
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

test('the first run that ended having logged metrics but not the sweep metric puts one warning on the sweep, with a did-you-mean', () => {
  const { store } = fresh();
  store.addSweep(sweep('s', 4)); // its metric is val_loss
  agent(store);
  const [a, b, c] = store.lease('a1', 3, TTL);
  const end = (r: typeof a, summary: unknown, status: 'completed' | 'failed' = 'completed') =>
    landed(store, r!).finishRun(ref(r!), 'a1', { status, summaryJson: JSON.stringify(summary), error: '' });
  // Nothing logged (it failed first): no word about the metric.
  end(a, { final: {}, best: {} }, 'failed');
  assert.equal(store.status('s', TTL).sweeps[0]!.warning, '');
  end(b, { final: { loss: 0.5, val_los: 0.6 }, best: { loss: 0.4, val_los: 0.6 } });
  const warning = 'metric "val_loss" was not logged by run lr=1, which logged loss, val_los; did you mean "val_los"? (runs cannot be ranked by it: fix metric.name in the sweep file)';
  assert.equal(store.status('s', TTL).sweeps[0]!.warning, warning);
  assert.equal(store.eventsSince(0, 1000).filter((e: EventRow) => e.type === 'sweep_warning').length, 1);
  // Said once: a later run (even one that logs it) leaves it as it is.
  end(c, { final: { val_loss: 0.3 }, best: { val_loss: 0.3 } });
  assert.equal(store.status('s', TTL).sweeps[0]!.warning, warning);
  assert.equal(store.eventsSince(0, 1000).filter((e: EventRow) => e.type === 'sweep_warning').length, 1);
});
