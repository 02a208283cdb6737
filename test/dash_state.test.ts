/**
 * The dashboard's state, without gRPC or a terminal: the reducer fed a scripted sequence of
 * snapshots and events, and what the selectors derive from it (counts, runs/min, ETA, best run,
 * varying params, curves, stale and lost agents), events replayed after a reconnect taken once;
 * sorting and filtering the runs table; keys.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentViews, DEFAULT_HEARTBEAT_MS, heartbeatPeriod } from '../tui/state/agents.js';
import { INITIAL_DATA, reduce, type DashAction, type DashData } from '../tui/state/dash_data.js';
import { filterRows, sortRows } from '../tui/state/run_table.js';
import { sweepMetric } from '../tui/state/run_facts.js';
import { runsView, varyingParams } from '../tui/state/runs.js';
import { stepsFromConfig, stepsFromSummaries } from '../tui/state/steps.js';
import { sweepViews } from '../tui/state/sweeps.js';
import { INITIAL_UI, onKey, type KeyContext, type UiState } from '../tui/state/ui.js';
import { at, event, gridEvents, gridStatus, health, local, metrics, run, snapshot, sweep } from './dash_fixtures.js';

const apply = (data: DashData, ...actions: DashAction[]) => actions.reduce(reduce, data);

/** The scripted sequence: events as they came, the snapshot at 150 s, received in real time. */
function scripted(): DashData {
  return apply(INITIAL_DATA, { type: 'events', events: gridEvents(), at: local(150) }, { type: 'status', snapshot: gridStatus(), at: local(150) });
}

test('sweeps show counts per state, runs finished per minute, the ETA and the best run', () => {
  const [s] = sweepViews(scripted(), local(150));
  assert.equal(s!.name, 'grid');
  assert.equal(s!.total, 6);
  assert.deepEqual([s!.counts.completed, s!.counts.running, s!.counts.queued], [2, 2, 2]);
  // Two runs ended in the 140 s since the first one started.
  assert.ok(Math.abs(s!.runsPerMin! - 2 / (140 / 60)) < 1e-9, String(s!.runsPerMin));
  // Runs take 60 s; two run at once, 20 s in; two more wait: (2×60 + 2×40) / 2 = 100 s.
  assert.equal(s!.etaMs, 100_000);
  // r2's 0.95 (live, from a metrics event) beats r1's summary best 0.9.
  assert.deepEqual(s!.best, { value: 0.95, runId: 'grid/r2', name: 'r2' });
  assert.equal(s!.done, false);
});

test('a sweep minimising its metric holds the lowest value as best; a finished sweep has no ETA left', () => {
  const data = apply(INITIAL_DATA, {
    type: 'status',
    snapshot: snapshot(
      [sweep('min', { completed: 2 }, 'val_loss', 'min')],
      [],
      [
        run('min', 'a', 'completed', { lr: 1 }, { summary_json: JSON.stringify({ status: 'completed', best: { val_loss: 0.3 } }) }),
        run('min', 'b', 'completed', { lr: 2 }, { summary_json: JSON.stringify({ status: 'completed', best: { val_loss: 0.2 } }) }),
      ],
    ),
    at: local(0),
  });
  const [s] = sweepViews(data, local(0));
  assert.equal(s!.best!.name, 'b');
  assert.deepEqual(sweepMetric({ metric: 'val_loss', goal: 'minimize' }), { name: 'val_loss', maximize: false }, 'a sweep file\'s spelling too');
  assert.deepEqual(sweepMetric({ metric: 'val_acc', goal: 'maximize' }), { name: 'val_acc', maximize: true });
  assert.deepEqual(sweepMetric({ metric: '', goal: '' }), { name: 'loss', maximize: false }, 'no metric: the loss, minimised');
  assert.equal(s!.etaMs, 0);
  assert.equal(s!.done, true);
});

test('the rate counts only recent finishes: an idle sweep slows to zero', () => {
  const data = scripted();
  const [later] = sweepViews(data, local(150 + 10 * 60));
  assert.equal(later!.runsPerMin, 0);
});

test('runs show the varying params only, step out of total, latest and best metric, a curve, duration and agent', () => {
  const view = runsView(scripted(), 'grid', local(150), { grid: 100 });
  assert.deepEqual(view.varying, ['optimizer.kwargs.lr', 'seed']);
  assert.equal(view.metric.name, 'val_acc');
  const r0 = view.rows.find((r) => r.name === 'r0')!;
  assert.equal(r0.step, 100);
  assert.equal(r0.totalSteps, 100);
  assert.ok(Math.abs(r0.latest! - 0.8) < 1e-9);
  assert.equal(r0.best, 0.8);
  assert.deepEqual(
    r0.curve.map((v) => Number(v.toFixed(2))),
    [0.72, 0.74, 0.76, 0.78, 0.8],
  );
  assert.equal(r0.durationMs, 60_000);
  assert.equal(r0.params['optimizer.kwargs.lr'], '0.1');
  const r2 = view.rows.find((r) => r.name === 'r2')!;
  assert.equal(r2.step, 50);
  assert.equal(r2.durationMs, 20_000, 'a running run has trained since it started');
  assert.equal(r2.agent, 'a');
  assert.equal(r2.best, 0.95);
  const r4 = view.rows.find((r) => r.name === 'r4')!;
  assert.equal(r4.step, null);
  assert.equal(r4.durationMs, null);
  assert.deepEqual(r4.curve, []);
});

test('varying params: a key some runs lack varies, one value everywhere does not', () => {
  assert.deepEqual(varyingParams([{ a: 1, b: 2 }, { a: 1, b: 3 }, { a: 1, b: 2, c: 'x' }]), ['b', 'c']);
  assert.deepEqual(varyingParams([{ a: [1, 2] }, { a: [1, 2] }]), []);
});

test('steps come from a run config, or from completed summaries when train.steps is not swept', () => {
  assert.equal(stepsFromConfig(JSON.stringify({ train: { steps: 500 } })), 500);
  assert.equal(stepsFromConfig(JSON.stringify({ program: 'train.py' })), null);
  assert.deepEqual(stepsFromSummaries(gridStatus()), { grid: 100 });
});

test('agents show health and heartbeat age; two overdue heartbeats mark one stale, the lost one shows lost', () => {
  let data = INITIAL_DATA;
  // Status every 10 s: agent a beats each time, so its period is learnt as 10 s.
  for (const s of [130, 140, 150]) {
    const snap = gridStatus();
    snap.agents[0]!.last_heartbeat = at(s);
    data = reduce(data, { type: 'status', snapshot: snap, at: local(s) });
  }
  const views = agentViews(data, local(150));
  const [a, b, c] = views;
  assert.equal(a!.heartbeatAgeMs, 0);
  assert.equal(a!.stale, false);
  assert.deepEqual(a!.runs, ['r2']);
  assert.equal(a!.health!.cpu_percent, 40);
  assert.equal(a!.health!.gpus[0]!.util_percent, 90);
  // b was last heard 30 s ago, with the default period of 10 s: stale.
  assert.equal(DEFAULT_HEARTBEAT_MS, 10_000);
  assert.equal(b!.heartbeatAgeMs, 30_000);
  assert.equal(b!.stale, true);
  assert.equal(c!.state, 'lost');
  assert.equal(c!.stale, false, 'lost is its own mark, not stale');
  // 25 s later nothing new: a is now stale too.
  assert.equal(agentViews(data, local(175))[0]!.stale, true);
});

test('an agent_health event updates the agent between snapshots and counts as a heartbeat', () => {
  let data = scripted();
  data = reduce(data, { type: 'events', events: [event(100, 'agent_health', 160, { agent: 'b', data: health(77, 3, 16, [], at(160)) })], at: local(160) });
  const b = agentViews(data, local(160))[1]!;
  assert.equal(b.health!.cpu_percent, 77);
  assert.deepEqual(b.health!.gpus, [], 'a host without GPUs has none');
  assert.equal(b.heartbeatAgeMs, 0);
  assert.equal(b.stale, false);
});

test('events replayed after a reconnect are taken once: no double finishes, points or rates', () => {
  const events = gridEvents();
  const once = scripted();
  // The stream broke after event 12 and a new one resumed from 8 (a source that resumed badly).
  const twice = apply(
    INITIAL_DATA,
    { type: 'events', events: events.slice(0, 12), at: local(150) },
    { type: 'connection', state: { state: 'reconnecting', reason: 'UNAVAILABLE' } },
    { type: 'events', events: events.slice(8), at: local(150) },
    { type: 'connection', state: { state: 'live' } },
    { type: 'status', snapshot: gridStatus(), at: local(150) },
  );
  assert.equal(twice.lastEventId, events.length);
  assert.equal(twice.finishes.length, 2);
  assert.deepEqual(twice.runs.get('grid/r0'), once.runs.get('grid/r0'));
  assert.deepEqual(sweepViews(twice, local(150)), sweepViews(once, local(150)));
  assert.deepEqual(twice.connection, { state: 'live' });
});

test('a new attempt starts the run afresh; a late event of the old attempt is ignored', () => {
  let data = scripted();
  data = reduce(data, {
    type: 'events',
    events: [
      event(200, 'run_requeued', 151, { sweep: 'grid', run: 'grid/r2', data: { attempt: 1, reason: 'lost' } }),
      event(201, 'run_leased', 152, { sweep: 'grid', run: 'grid/r2', data: { attempt: 2 } }),
      event(202, 'run_started', 153, { sweep: 'grid', run: 'grid/r2', data: { attempt: 2 } }),
      metrics(203, 154, 'grid/r2', { split: 'train', step: 5, loss: 2 }, 2),
      metrics(204, 155, 'grid/r2', { split: 'train', step: 60, loss: 0.1 }, 1),
    ],
    at: local(155),
  });
  const t = data.runs.get('grid/r2')!;
  assert.equal(t.attempt, 2);
  assert.equal(t.step, 5);
  assert.equal(t.startedAt, local(153));
  assert.deepEqual(Object.keys(t.series), ['loss']);
});

test('times are on the coordinator clock: a local clock an hour ahead changes no age', () => {
  const hour = 3_600_000;
  const data = apply(INITIAL_DATA, { type: 'events', events: gridEvents(), at: local(150) + hour }, { type: 'status', snapshot: gridStatus(), at: local(150) + hour });
  assert.equal(data.clockOffset, hour);
  const b = agentViews(data, local(150) + hour)[1]!;
  assert.equal(b.heartbeatAgeMs, 30_000);
  assert.equal(runsView(data, 'grid', local(150) + hour).rows[2]!.durationMs, 20_000);
});

test('sorting is stable: ties and finished runs keep the sweep order, empty cells go last either way', () => {
  const view = runsView(scripted(), 'grid', local(150), { grid: 100 });
  const names = (rows: { name: string }[]) => rows.map((r) => r.name).join(' ');
  assert.equal(names(sortRows(view.rows, { key: 'run', reverse: true }, true)), 'r5 r4 r3 r2 r1 r0');
  assert.equal(names(sortRows(view.rows, { key: 'state', reverse: false }, true)), 'r2 r3 r4 r5 r0 r1');
  // Best val_acc first (maximised); runs without a value last, in sweep order.
  assert.equal(names(sortRows(view.rows, { key: 'best', reverse: false }, true)), 'r2 r1 r0 r3 r4 r5');
  assert.equal(names(sortRows(view.rows, { key: 'best', reverse: true }, true)), 'r0 r1 r2 r3 r4 r5');
  assert.equal(names(sortRows(view.rows, { key: 'param:optimizer.kwargs.lr', reverse: false }, true)), 'r4 r5 r1 r3 r0 r2');
});

test('filters: key=value on a param by its last name, on state or agent; a word is a substring; words all match', () => {
  const rows = runsView(scripted(), 'grid', local(150)).rows;
  const names = (filter: string) => filterRows(rows, filter).map((r) => r.name).join(' ');
  assert.equal(names(''), 'r0 r1 r2 r3 r4 r5');
  assert.equal(names('lr=0.1'), 'r0 r2');
  assert.equal(names('optimizer.kwargs.lr=1e-1'), 'r0 r2', 'numbers compare as numbers');
  assert.equal(names('state=running'), 'r2 r3');
  assert.equal(names('agent=b'), 'r3');
  assert.equal(names('queued'), 'r4 r5');
  assert.equal(names('seed=1 state=queued'), 'r5');
  assert.equal(names('nothing'), '');
});

const CTX: KeyContext = { sweeps: ['old', 'grid'], sweep: 'grid', runs: ['g/r0', 'g/r1', 'g/r2'], agents: ['a', 'b'], varying: ['lr'], compareMetrics: ['val_acc', 'loss'] };

function keys(...presses: Parameters<typeof onKey>[1][]): UiState | 'quit' {
  let ui: UiState | 'quit' = INITIAL_UI;
  for (const k of presses) {
    if (ui === 'quit') break;
    ui = onKey(ui, k, CTX);
  }
  return ui;
}

test('keys move the cursor by run id, open the detail, scroll it and come back', () => {
  const ui = keys({ input: 'j' }, { input: '', down: true }, { input: '', down: true }, { input: 'k' }) as UiState;
  assert.equal(ui.run, 'g/r1', 'clamped at the last run, then up one');
  const detail = onKey(ui, { input: '', enter: true }, CTX) as UiState;
  assert.equal(detail.view, 'detail');
  assert.equal(detail.detailRun, 'g/r1');
  assert.equal((onKey(detail, { input: 'j' }, CTX) as UiState).scroll, 1);
  assert.equal((onKey(detail, { input: '', escape: true }, CTX) as UiState).view, 'main');
});

test('keys: tab cycles panes, the sweeps pane moves the sweep, the agents pane filters by agent', () => {
  const sweeps = keys({ input: '', tab: true }, { input: '', tab: true }) as UiState;
  assert.equal(sweeps.pane, 'sweeps');
  assert.equal((onKey(sweeps, { input: 'k' }, CTX) as UiState).sweep, 'old');
  const agents = keys({ input: '', tab: true }, { input: 'j' }, { input: '', enter: true }) as UiState;
  assert.equal(agents.filter, 'agent=b');
  assert.equal(agents.pane, 'runs');
  assert.equal((keys({ input: '', tab: true, shift: true }) as UiState).pane, 'sweeps');
});

test('keys: / edits the filter live, enter keeps it, esc restores the one before', () => {
  const typing = keys({ input: '/' }, { input: 'l' }, { input: 'r' }, { input: 'x' }, { input: '', backspace: true }) as UiState;
  assert.equal(typing.filter, 'lr');
  assert.ok(typing.editing);
  assert.equal((onKey(typing, { input: 'q' }, CTX) as UiState).filter, 'lrq', 'q is typed, not quit');
  const kept = onKey(typing, { input: '', enter: true }, CTX) as UiState;
  assert.equal(kept.filter, 'lr');
  assert.equal(kept.editing, null);
  const dropped = onKey(typing, { input: '', escape: true }, CTX) as UiState;
  assert.equal(dropped.filter, '');
});

test('keys: s cycles the sort columns, S reverses, space marks, c compares, arrows pick its metric', () => {
  const sorted = keys({ input: 's' }, { input: 's' }, { input: 'S' }) as UiState;
  assert.deepEqual(sorted.sort, { key: 'param:lr', reverse: true });
  const marked = keys({ input: ' ' }, { input: 'j' }, { input: ' ' }, { input: 'k' }, { input: ' ' }) as UiState;
  assert.deepEqual([...marked.marked], ['g/r1']);
  const compare = onKey(marked, { input: 'c' }, CTX) as UiState;
  assert.equal(compare.view, 'compare');
  assert.equal((onKey(compare, { input: '', right: true }, CTX) as UiState).compareMetric, 'loss');
  assert.equal((onKey(compare, { input: 'h' }, CTX) as UiState).compareMetric, 'loss', 'left from the first wraps to the last');
});

test('keys: ? opens help and closes it, q quits from anywhere but the filter', () => {
  const help = keys({ input: '?' }) as UiState;
  assert.equal(help.help, true);
  assert.equal((onKey(help, { input: 'j' }, CTX) as UiState).run, null, 'keys do nothing under help');
  assert.equal((onKey(help, { input: '?' }, CTX) as UiState).help, false);
  assert.equal(onKey(help, { input: 'q' }, CTX), 'quit');
  assert.equal(keys({ input: '', enter: true }, { input: 'q' }), 'quit');
});

test('one heartbeat seen twice (its Status time and its health event) is not a period: an agent heard 2 s ago is not stale', () => {
  // Beats every 10 s, each seen twice 1 ms apart, and one extra beat 3 s after the last.
  const beats = [0, 0.001, 10, 10.001, 20, 20.001, 23].map(local);
  assert.ok(Math.abs(heartbeatPeriod({ beats, health: null }) - 10_000) < 10);
  assert.equal(heartbeatPeriod({ beats: [local(0), local(0.001)], health: null }), DEFAULT_HEARTBEAT_MS);
});
