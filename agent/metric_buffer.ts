import type { MetricAck__Output } from '../proto/generated/dlphys/MetricAck.js';
import type { MetricRow } from '../proto/generated/dlphys/MetricRow.js';
import { MAX_METRIC_LINE_BYTES } from '../proto/wire.js';

const MAX_BATCH = 2000;
/** Bytes of lines in one batch: far below grpc's message limit, however long the lines. */
const MAX_BATCH_BYTES = 4 << 20;

/**
 * A run's metrics lines numbered 1, 2, 3, ... and kept until the coordinator acknowledges them.
 * A batch that failed is simply sent again (the coordinator ignores rows it already has), so a
 * coordinator restart or a dropped connection loses nothing.
 */
export class MetricBuffer {
  private rows: { seq: number; line: string }[] = [];
  private nextSeq = 1;
  private inFlight: Promise<void> | null = null;

  push(line: string): void {
    this.rows.push({ seq: this.nextSeq++, line: storable(line) });
  }

  get empty(): boolean {
    return this.rows.length === 0;
  }

  /** Sends the oldest unacknowledged rows (at most one request at a time) and drops what was acked. */
  flush(send: (rows: MetricRow[]) => Promise<MetricAck__Output>): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (this.rows.length === 0) return Promise.resolve();
    let end = 0;
    for (let bytes = 0; end < Math.min(this.rows.length, MAX_BATCH); end++) {
      bytes += this.rows[end]!.line.length + 16;
      if (bytes > MAX_BATCH_BYTES && end > 0) break;
    }
    const batch = this.rows.slice(0, end);
    this.inFlight = send(batch.map((r) => ({ seq: String(r.seq), line: r.line })))
      .then((ack) => {
        const acked = Number(ack.acked_seq);
        this.rows = this.rows.filter((r) => r.seq > acked);
      })
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }
}

/**
 * The line itself when the coordinator stores such lines (a JSON object of at most
 * MAX_METRIC_LINE_BYTES), else a small JSON object in its place that keeps its step and split
 * and says why: a refused row would stop every later row of the run from being acknowledged.
 * The run folder's metrics.jsonl keeps the original.
 */
export function storable(line: string): string {
  const bytes = Buffer.byteLength(line);
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    value = undefined;
  }
  const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
  if (isObject && bytes <= MAX_METRIC_LINE_BYTES) return line;
  const o = isObject ? (value as Record<string, unknown>) : {};
  return JSON.stringify({
    ...(typeof o.step === 'number' ? { step: o.step } : {}),
    ...(typeof o.split === 'string' ? { split: o.split.slice(0, 64) } : {}),
    dropped: isObject ? `line of ${bytes} bytes, above the coordinator's ${MAX_METRIC_LINE_BYTES}` : 'not a JSON object',
  });
}
