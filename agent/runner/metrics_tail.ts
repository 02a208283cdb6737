import fs from 'node:fs';
import { MAX_METRIC_LINE_BYTES } from '../../lib/run/limits.js';

/** Why a line of a program's metrics.jsonl was not taken, for one warning in its train.log. */
export type SkippedLine = { line: string; why: string };

/**
 * Follows a metrics.jsonl that another process (a program run) appends to: every `poll()` reads
 * what was added since the last one and hands over each complete line that is a JSON object (the
 * format native runs write, and all the coordinator stores). A line being written (no newline
 * yet) waits for the next poll, so a reader never takes half a row; `finish()` takes a last line
 * without its newline once the writer has exited. Reads by offset, so a file that does not exist
 * yet, or never appears, is fine.
 */
export class MetricsTail {
  private offset = 0;
  private partial = Buffer.alloc(0);
  /** Inside a line too long to take: dropped up to its newline. */
  private discarding = false;

  constructor(
    private readonly file: string,
    private readonly onRow: (line: string, row: Record<string, unknown>) => void,
    private readonly onSkip: (skipped: SkippedLine) => void,
  ) {}

  /** Reads what was appended since the last call; returns how many rows it handed over. */
  poll(): number {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return 0; // not written yet
    }
    let rows = 0;
    try {
      const size = fs.fstatSync(fd).size;
      // A program that truncated or replaced its file: start again from its beginning.
      if (size < this.offset) {
        this.offset = 0;
        this.partial = Buffer.alloc(0);
        this.discarding = false;
      }
      while (this.offset < size) {
        const chunk = Buffer.alloc(Math.min(size - this.offset, 1 << 20));
        const n = fs.readSync(fd, chunk, 0, chunk.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        rows += this.take(chunk.subarray(0, n));
      }
    } finally {
      fs.closeSync(fd);
    }
    return rows;
  }

  /** The last poll, once the writer is gone: a final line without its newline counts too. */
  finish(): number {
    let rows = this.poll();
    if (this.partial.length && !this.discarding) rows += this.line(this.partial.toString('utf8'));
    this.partial = Buffer.alloc(0);
    return rows;
  }

  private take(chunk: Buffer): number {
    let data = this.partial.length ? Buffer.concat([this.partial, chunk]) : chunk;
    let rows = 0;
    for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10)) {
      if (this.discarding) this.discarding = false;
      else rows += this.line(data.subarray(0, nl).toString('utf8'));
      data = data.subarray(nl + 1);
    }
    // A line that never ends is not kept whole: past the longest line taken, it is dropped up to its newline.
    if (!this.discarding && data.length > MAX_METRIC_LINE_BYTES) {
      this.onSkip({ line: data.subarray(0, 80).toString('utf8'), why: `longer than ${MAX_METRIC_LINE_BYTES} bytes` });
      this.discarding = true;
    }
    this.partial = this.discarding ? Buffer.alloc(0) : Buffer.from(data);
    return rows;
  }

  private line(text: string): number {
    const line = text.trim();
    if (!line) return 0;
    if (Buffer.byteLength(line) > MAX_METRIC_LINE_BYTES) {
      this.onSkip({ line: line.slice(0, 80), why: `longer than ${MAX_METRIC_LINE_BYTES} bytes` });
      return 0;
    }
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      this.onSkip({ line: line.slice(0, 80), why: 'not JSON' });
      return 0;
    }
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      this.onSkip({ line: line.slice(0, 80), why: 'not a JSON object' });
      return 0;
    }
    this.onRow(line, row as Record<string, unknown>);
    return 1;
  }
}
