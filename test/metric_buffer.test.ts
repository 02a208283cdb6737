import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MetricBuffer, storable } from '../agent/metric_buffer.js';
import { MAX_METRIC_LINE_BYTES } from '../proto/wire.js';

test('a metrics line the coordinator would refuse goes out as a stand-in that keeps its step and split, so later rows are still acknowledged', async () => {
  const ok = JSON.stringify({ step: 1, split: 'train', loss: 0.5 });
  assert.equal(storable(ok), ok);
  const huge = JSON.stringify({ step: 7, split: 'probe', blob: 'x'.repeat(MAX_METRIC_LINE_BYTES) });
  assert.deepEqual(JSON.parse(storable(huge)), { step: 7, split: 'probe', dropped: `line of ${Buffer.byteLength(huge)} bytes, above the coordinator's ${MAX_METRIC_LINE_BYTES}` });
  assert.deepEqual(JSON.parse(storable('not json')), { dropped: 'not a JSON object' });
  assert.deepEqual(JSON.parse(storable('[1,2]')), { dropped: 'not a JSON object' });

  const buffer = new MetricBuffer();
  for (const line of [ok, huge, 'oops']) buffer.push(line);
  const sent: { seq: string; line: string }[] = [];
  await buffer.flush(async (rows) => {
    sent.push(...(rows as { seq: string; line: string }[]));
    return { acked_seq: '3', early_stop: '' };
  });
  assert.deepEqual(sent.map((r) => r.seq), ['1', '2', '3'], 'seq numbers stay contiguous');
  assert.ok(sent.every((r) => Buffer.byteLength(r.line) <= MAX_METRIC_LINE_BYTES && JSON.parse(r.line) !== null));
  assert.equal(buffer.empty, true);
});
