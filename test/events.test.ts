/**
 * The event log at the store level: compaction (a run's latest metrics event supersedes its
 * earlier ones, every other event is kept), the compact metrics payload, the checks on metric
 * lines, and the one-time compaction of a log written before the rule.
 */
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../lib/errors.js';
import { MIGRATIONS } from '../coordinator/schema.js';
import { Store, type ExpandedSweep } from '../coordinator/store/index.js';

const TTL = 10_000;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dlphys-events-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));

function fresh(): Store {
  return Store.open(path.join(fs.mkdtempSync(path.join(root, 't-')), 'dlphys.db'));
}

function sweep(name: string, n: number): ExpandedSweep {
  return {
    name,
    kind: 'native',
    method: 'grid',
    metric: null,
    spec: {},
    specHash: 'h',
    runs: Array.from({ length: n }, (_, i) => ({ index: i, name: `r${i}`, params: {}, config: {} as ExpandedSweep['runs'][number]['config'] })),
    warnings: [],
  };
}

const line = (step: number) => JSON.stringify({ step, split: 'train', loss: 1 / step });

test('a run keeps only its latest metrics event; every other event stays, and a replay from any id is consistent', () => {
  const store = fresh();
  store.addSweep(sweep('s', 2));
  store.registerAgent({ id: 'a', host: 'h', gpus: [], slots: 2, version: '', backend: '' });
  const [r0, r1] = store.lease('a', 2, TTL).map((r) => ({ runId: r.runId, attempt: r.attempt }));
  store.markStarted(r0!, 'a');
  for (let seq = 1; seq <= 5; seq++) {
    store.addMetrics(r0!, 'a', [{ seq, line: line(seq) }]);
    store.addMetrics(r1!, 'a', [{ seq, line: line(seq) }]);
  }
  const middle = store.eventsSince(0).find((e) => e.type === 'run_started')!.id;
  store.finishRun(r0!, 'a', { status: 'failed', summaryJson: '', error: 'boom' });
  const all = store.eventsSince(0);
  assert.deepEqual(all.map((e) => `${e.type}${e.run_id ? ` ${e.run_id}` : ''}`), [
    'sweep_submitted',
    'agent_registered',
    'run_leased s/r0',
    'run_leased s/r1',
    'run_started s/r0',
    'metrics s/r0',
    'metrics s/r1',
    'run_finished s/r0',
  ]);
  assert.deepEqual(all.filter((e) => e.type === 'metrics').map((e) => JSON.parse(e.data_json).last_seq), [5, 5], 'the latest of each run');
  assert.deepEqual(store.eventsSince(middle).map((e) => e.type), ['metrics', 'metrics', 'run_finished']);
  store.close();
});

test('a metrics event carries the last row compactly: split and at most 32 numbers, whatever the line holds', () => {
  const store = fresh();
  store.addSweep(sweep('s', 1));
  store.registerAgent({ id: 'a', host: 'h', gpus: [], slots: 1, version: '', backend: '' });
  const [r] = store.lease('a', 1, TTL);
  const big: Record<string, unknown> = { step: 7, split: 'val', note: 'x'.repeat(30_000), nested: { a: [1, 2, 3] } };
  for (let i = 0; i < 100; i++) big[`m${i}`] = i;
  store.addMetrics({ runId: r!.runId, attempt: r!.attempt }, 'a', [{ seq: 1, line: JSON.stringify(big) }]);
  const event = store.eventsSince(0).find((e) => e.type === 'metrics')!;
  const last = JSON.parse(event.data_json).last as Record<string, unknown>;
  assert.equal(last.step, 7);
  assert.equal(last.split, 'val');
  assert.equal(Object.values(last).filter((v) => typeof v === 'number').length, 32 + 1, '32 metrics and the count of what was left out');
  assert.equal(last.dropped, 2 + 101 - 32);
  assert.ok(event.data_json.length < 2000, `${event.data_json.length} characters`);
  store.close();
});

test('metric lines that are not JSON objects, too long, or numbered past 2^31-1 are refused, and the batch writes nothing', () => {
  const store = fresh();
  store.addSweep(sweep('s', 1));
  store.registerAgent({ id: 'a', host: 'h', gpus: [], slots: 1, version: '', backend: '' });
  const [leased] = store.lease('a', 1, TTL);
  const r = { runId: leased!.runId, attempt: leased!.attempt };
  const events = store.eventsSince(0).length;
  for (const [what, rows, message] of [
    ['a torn line', [{ seq: 1, line: '{"step": 1' }], /rows\[0\]\.line .*not a JSON object/],
    ['a JSON array', [{ seq: 1, line: '[1]' }], /not a JSON object/],
    ['a JSON string', [{ seq: 1, line: '"x"' }], /not a JSON object/],
    ['a 64 KiB + 1 line', [{ seq: 1, line: `{"a":"${'x'.repeat(64 * 1024 - 7)}"}` }], /above the limit of 65536 bytes/],
    ['seq 2^31', [{ seq: 2 ** 31, line: '{}' }], /rows\[0\]\.seq must be an integer from 1 to 2147483647/],
    ['a bad row after a good one', [{ seq: 1, line: '{}' }, { seq: 2, line: 'nope' }], /rows\[1\]\.line/],
  ] as const) {
    assert.throws(() => store.addMetrics(r, 'a', [...rows]), (err: Error) => err instanceof UsageError && message.test(err.message), what);
  }
  assert.deepEqual(store.metricsOf(r.runId), []);
  assert.equal(store.eventsSince(0).length, events, 'no metrics event');
  store.close();
});

test('a log written before the rule is compacted when the database is opened', () => {
  const file = path.join(fs.mkdtempSync(path.join(root, 't-')), 'old.db');
  const db = new Database(file);
  for (const m of MIGRATIONS.filter((m) => m.version <= 2)) db.exec(m.sql);
  db.pragma('user_version = 2');
  const insert = db.prepare('INSERT INTO events (time, type, run_id, data_json) VALUES (1, ?, ?, ?)');
  for (let i = 1; i <= 10; i++) {
    insert.run('metrics', 's/a', JSON.stringify({ last_seq: i }));
    insert.run('metrics', 's/b', JSON.stringify({ last_seq: i }));
    insert.run('run_started', 's/a', '{}');
  }
  db.close();
  const store = Store.open(file);
  const left = store.eventsSince(0);
  assert.equal(left.filter((e) => e.type === 'run_started').length, 10);
  assert.deepEqual(left.filter((e) => e.type === 'metrics').map((e) => [e.run_id, JSON.parse(e.data_json).last_seq]), [['s/a', 10], ['s/b', 10]]);
  store.close();
});

test('sweep and run names follow the one rule uploads follow: no hidden, slashed or overlong names', () => {
  const store = fresh();
  for (const name of ['.hidden', 'a/b', '..', 'x'.repeat(129), 'a b', '']) {
    assert.throws(() => store.addSweep(sweep(name, 1)), UsageError, JSON.stringify(name));
  }
  const bad = sweep('ok', 1);
  bad.runs[0]!.name = '.r0';
  assert.throws(() => store.addSweep(bad), UsageError);
  assert.deepEqual(store.addSweep(sweep('lr=0.1,depth+2', 1)), { existed: false, runs: 1 });
  store.close();
});
