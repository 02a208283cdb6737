/** Metrics ingestion: an attempt's metrics.jsonl rows, stored once each, and the ack they earn. */
import { UsageError } from '../../lib/errors.js';
import { MAX_METRIC_LINE_BYTES, MAX_SEQ } from '../bounds.js';
import { compactMetrics } from '../events.js';
import { NotFoundError, StaleAttemptError } from '../errors.js';
import type { StoreCore } from './core.js';
import { checkEarlyStop } from './early_stop.js';
import { current } from './lifecycle.js';
import type { MetricBatchIn, MetricBatchResult, MetricRowIn, RunRef } from './types.js';

/** step and split of a metrics.jsonl line; nulls (and no error) when the line does not parse. */
function parseLine(line: string): { step: number | null; split: string | null; value: unknown } {
  try {
    const value: unknown = JSON.parse(line);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return { step: null, split: null, value: null };
    const o = value as Record<string, unknown>;
    const step = typeof o.step === 'number' && Number.isFinite(o.step) ? o.step : null;
    const split = typeof o.split === 'string' ? o.split : null;
    return { step, split, value };
  } catch {
    return { step: null, split: null, value: null };
  }
}

/** See Store.addMetrics. */
export function addMetrics(core: StoreCore, ref: RunRef, agentId: string, rows: MetricRowIn[]): number {
  return core.tx(() => ingest(core, ref, agentId, rows));
}

/** See Store.addMetricsMany. */
export function addMetricsMany(core: StoreCore, batches: MetricBatchIn[]): MetricBatchResult[] {
  return core.tx(() =>
    batches.map((b): MetricBatchResult => {
      try {
        return { ok: true, acked: ingest(core, b.ref, b.agentId, b.rows) };
      } catch (err) {
        // These are all thrown before the batch writes anything; anything else aborts the transaction.
        if (err instanceof StaleAttemptError || err instanceof NotFoundError || err instanceof UsageError) return { ok: false, error: err };
        throw err;
      }
    }),
  );
}

/** Stores one batch inside the caller's transaction (fenced); returns the attempt's ack. */
function ingest(core: StoreCore, ref: RunRef, agentId: string, rows: MetricRowIn[]): number {
  const run = current(core, ref, agentId);
  if (!Array.isArray(rows)) throw new UsageError(`run ${run.id}: metric rows must be a list`);
  // Every row is checked before any is written: a batch is stored whole or refused whole.
  const seqs = new Array<number>(rows.length);
  const parsed = new Array<ReturnType<typeof parseLine>>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const seq = typeof r?.seq === 'number' ? r.seq : Number(r?.seq);
    if (!Number.isSafeInteger(seq) || seq < 1 || seq > MAX_SEQ) {
      throw new UsageError(`run ${run.id}: rows[${i}].seq must be an integer from 1 to ${MAX_SEQ}, got ${String(r?.seq).slice(0, 30)}`);
    }
    if (typeof r.line !== 'string') throw new UsageError(`run ${run.id}: rows[${i}].line (seq ${seq}) is missing`);
    if (r.line.length > MAX_METRIC_LINE_BYTES || Buffer.byteLength(r.line) > MAX_METRIC_LINE_BYTES) {
      throw new UsageError(`run ${run.id}: rows[${i}].line (seq ${seq}) is above the limit of ${MAX_METRIC_LINE_BYTES} bytes`);
    }
    parsed[i] = parseLine(r.line);
    if (parsed[i]!.value === null) {
      throw new UsageError(`run ${run.id}: rows[${i}].line (seq ${seq}) is not a JSON object: ${JSON.stringify(r.line.slice(0, 100))}`);
    }
    seqs[i] = seq;
  }
  const { insertMetric } = core.s;
  let inserted = 0;
  let lastSeq = 0;
  let lastValue: unknown = null;
  const stored: { seq: number; value: unknown }[] = [];
  for (let i = 0; i < rows.length; i++) {
    const seq = seqs[i]!;
    const line = rows[i]!.line;
    const p = parsed[i]!;
    if (insertMetric.run(run.id, run.attempt, seq, p.step, p.split, line).changes > 0) {
      inserted++;
      stored.push({ seq, value: p.value });
      if (seq > lastSeq) {
        lastSeq = seq;
        lastValue = p.value;
      }
    }
  }
  // The rows just stored, in the order logged, for early termination (early_stop.ts).
  if (stored.length) checkEarlyStop(core, run, stored.sort((a, b) => a.seq - b.seq).map((r) => r.value));
  const before = core.s.ackedSeq.get(run.id, run.attempt) ?? 0;
  let acked = before;
  if (inserted > 0) {
    for (const seq of core.s.seqsAfter.iterate(run.id, run.attempt, acked)) {
      if (seq !== acked + 1) break;
      acked = seq;
    }
    if (acked !== before) core.s.setAcked.run(acked, run.id, run.attempt);
    core.event('metrics', {
      sweep: run.sweep,
      runId: run.id,
      agentId,
      // The last row's numbers, not the line itself: every watcher is sent this event.
      data: { attempt: run.attempt, rows: inserted, acked_seq: acked, last_seq: lastSeq, last: compactMetrics(lastValue) },
    });
  }
  return acked;
}
