/** Metric rows in the store: resends and the ack, attempts kept apart, group commit, and the ingestion rate. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { UsageError } from '../lib/errors.js';
import { StaleAttemptError, type EventRow } from '../coordinator/store/index.js';
import { TTL, agent, fresh, line, ref, sweep } from './store_fixtures.js';

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
