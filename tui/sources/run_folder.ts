/**
 * One run folder followed while it is written (lib/run: config.json written once, summary.json
 * replaced atomically at the end, metrics.jsonl only appended). Each refresh stats the files and
 * reads only what changed: config.json and summary.json again when their stat changes,
 * metrics.jsonl from where the last refresh stopped. A torn last line (the writer is mid-line,
 * or crashed there) is left for the next refresh, so a line is counted once and whole.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RunState } from '../../coordinator/run_states.js';
import { isObject, type Liveness } from '../../lib/scan/read_run.js';

/** A complete metrics.jsonl line; seq counts the folder's complete lines from 1, like the coordinator's. */
export interface MetricLine {
  readonly seq: number;
  readonly value: Record<string, unknown>;
}

export interface FolderRefresh {
  /** Something a status snapshot shows changed: config, summary, line count or file times. */
  readonly changed: boolean;
  /** Metric lines completed since the previous refresh, in order. */
  readonly lines: MetricLine[];
}

/** What a dashboard shows of a run whose state only its folder tells. */
export interface FolderState {
  readonly state: RunState;
  readonly error: string;
}

/** Bytes of metrics.jsonl read at a time: a long run's file is read in pieces, not at once. */
const READ_CHUNK = 1 << 20;

export class RunFolder {
  /** config.json without its provenance; null until it exists and parses. */
  config: Record<string, unknown> | null = null;
  provenance: Record<string, unknown> | null = null;
  summary: Record<string, unknown> | null = null;
  /** Complete metric lines read so far. */
  lines = 0;
  /** The newest line of each split (train, val, probe): what a snapshot's first events carry. */
  readonly lastBySplit = new Map<string, MetricLine>();
  /** The newest modification time (ms) of the folder's files. */
  updatedAt = 0;

  /** The stat of each file when it was last read: an unchanged stat is not read again. */
  private readonly seen = new Map<string, { stamp: string; mtimeMs: number }>();
  /** Where the next read of metrics.jsonl starts: just after the last complete line. */
  private offset = 0;
  /** metrics.jsonl's inode: another one means the file was replaced. */
  private metricsIno: number | undefined;
  /** The torn last line of a finished run has been looked at. */
  private tornTaken = false;
  /** The last complete line read, newline included: how a replaced metrics.jsonl is recognised as the same run's. */
  private lastRaw = '';

  /**
   * @param id `<sweep>/<name>`, as the coordinator names runs.
   */
  constructor(
    readonly dir: string,
    readonly id: string,
    readonly sweep: string,
    readonly name: string,
  ) {}

  /** Reads whatever changed since the previous call; never throws for a file being written. */
  refresh(): FolderRefresh {
    let changed = false;
    const configStat = this.changedStat('config.json');
    if (configStat) {
      const parsed = readJsonObject(path.join(this.dir, 'config.json'));
      // Half-written (it is written once, but not atomically): read it again next time.
      if (parsed === undefined) this.seen.delete('config.json');
      else {
        const { provenance, ...config } = parsed;
        this.config = config;
        this.provenance = isObject(provenance) ? provenance : null;
        changed = true;
      }
    }
    const summaryStat = this.changedStat('summary.json');
    if (summaryStat) {
      const parsed = readJsonObject(path.join(this.dir, 'summary.json'));
      if (parsed === undefined) this.seen.delete('summary.json');
      else {
        this.summary = parsed;
        changed = true;
      }
    }
    const lines = this.readNewLines();
    if (lines.length > 0) changed = true;
    this.changedStat('train.log');
    for (const { mtimeMs } of this.seen.values()) {
      if (mtimeMs > this.updatedAt) {
        this.updatedAt = mtimeMs;
        changed = true;
      }
    }
    return { changed, lines };
  }

  /** The run's state as the coordinator would name it, from summary.json or, before it exists, the process. */
  state(liveness: Liveness): FolderState {
    if (this.summary) {
      const status = typeof this.summary.status === 'string' ? this.summary.status : '';
      const error = typeof this.summary.error === 'string' ? this.summary.error : '';
      // As the coordinator records a report: a run its own callback stopped is a result.
      if (status === 'completed' || status === 'stopped' || status === 'early_stopped') return { state: 'completed', error };
      if (status === 'diverged' || status === 'failed') return { state: status, error };
      return { state: 'failed', error: error || `summary.json has an unknown status ${JSON.stringify(status)}` };
    }
    const pid = this.provenance?.pid;
    // Only a process on this host can be looked at; elsewhere (a landed folder) it may well still train.
    if (this.provenance?.host === liveness.hostname && typeof pid === 'number' && pid > 0 && !liveness.isAlive(pid)) {
      return { state: 'failed', error: `no summary.json and its process (pid ${pid}) is gone: it crashed or was killed` };
    }
    return { state: 'running', error: '' };
  }

  /** Every complete metrics.jsonl line as written (for a run's detail view), read afresh. */
  metricLines(): string[] {
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.dir, 'metrics.jsonl'), 'utf8');
    } catch {
      return [];
    }
    const lines = text.split('\n');
    const torn = lines.pop()!;
    if (torn.trim() !== '' && this.summary && parseObject(torn)) lines.push(torn);
    return lines.filter((l) => l.trim() !== '');
  }

  /** The file's stat when it differs from the last one seen (and records it); null when unchanged or absent. */
  private changedStat(file: string): fs.Stats | null {
    let st: fs.Stats;
    try {
      st = fs.statSync(path.join(this.dir, file));
    } catch {
      if (file === 'summary.json' && this.summary && this.seen.has(file)) {
        // Gone (the run is being trained again with --overwrite): it is running again.
        this.summary = null;
        this.seen.delete(file);
      }
      return null;
    }
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (this.seen.get(file)?.stamp === stamp) return null;
    this.seen.set(file, { stamp, mtimeMs: st.mtimeMs });
    return st;
  }

  private readNewLines(): MetricLine[] {
    const file = path.join(this.dir, 'metrics.jsonl');
    const out: MetricLine[] = [];
    const st = this.changedStat('metrics.jsonl');
    if (st) {
      if (this.metricsIno !== undefined && (st.size < this.offset || (this.metricsIno !== st.ino && !this.continues(file)))) {
        // Truncated, or replaced by another run's (--overwrite): counted from its start.
        this.resetMetrics();
      }
      this.metricsIno = st.ino;
      this.readCompleteLines(file, st.size, out);
    }
    // The writer ends metrics.jsonl before it writes summary.json: what is left now is all there will be.
    if (this.summary) out.push(...this.readTornLast(file));
    return out;
  }

  /** Appends the complete lines between the offset and `size` to `out`, and moves the offset past them. */
  private readCompleteLines(file: string, size: number, out: MetricLine[]): void {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      return;
    }
    try {
      let carry = Buffer.alloc(0);
      let pos = this.offset;
      while (pos < size) {
        const buf = Buffer.alloc(Math.min(READ_CHUNK, size - pos));
        const n = fs.readSync(fd, buf, 0, buf.length, pos);
        if (n === 0) break;
        pos += n;
        const data = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
        const lastNewline = data.lastIndexOf(0x0a);
        if (lastNewline < 0) {
          carry = Buffer.from(data);
          continue;
        }
        const complete = data.subarray(0, lastNewline).toString('utf8').split('\n');
        for (const line of complete) this.take(line, out);
        this.lastRaw = `${complete[complete.length - 1]}\n`;
        this.offset += lastNewline + 1;
        carry = Buffer.from(data.subarray(lastNewline + 1));
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Whether a replaced metrics.jsonl is a longer copy of the one read so far, as when a
   * coordinator lands a newer upload of a running run's folder (a rename over the old one): the
   * last line read is where it was. Then reading goes on from the offset, and no line repeats.
   */
  private continues(file: string): boolean {
    const expected = Buffer.from(this.lastRaw, 'utf8');
    if (this.offset === 0 || expected.length === 0 || expected.length > this.offset) return false;
    try {
      const fd = fs.openSync(file, 'r');
      try {
        const buf = Buffer.alloc(expected.length);
        fs.readSync(fd, buf, 0, buf.length, this.offset - expected.length);
        return buf.equals(expected);
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return false;
    }
  }

  /** A finished run's last line that never got its newline: taken (once) if it is whole JSON. */
  private readTornLast(file: string): MetricLine[] {
    if (this.tornTaken) return [];
    this.tornTaken = true;
    let rest: string;
    try {
      const fd = fs.openSync(file, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        if (size <= this.offset) return [];
        const buf = Buffer.alloc(size - this.offset);
        fs.readSync(fd, buf, 0, buf.length, this.offset);
        rest = buf.toString('utf8');
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return [];
    }
    const out: MetricLine[] = [];
    this.take(rest, out);
    return out;
  }

  private take(line: string, out: MetricLine[]): void {
    if (line.trim() === '') return;
    this.lines += 1;
    const value = parseObject(line);
    // A malformed line still counts, so seq stays the line's number among the complete lines.
    if (!value) return;
    const m = { seq: this.lines, value };
    out.push(m);
    this.lastBySplit.set(typeof value.split === 'string' ? value.split : '', m);
  }

  private resetMetrics(): void {
    this.offset = 0;
    this.lastRaw = '';
    this.lines = 0;
    this.tornTaken = false;
    this.lastBySplit.clear();
  }
}

function parseObject(line: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(line);
    return isObject(v) ? v : null;
  } catch {
    return null;
  }
}

/** A JSON object file; undefined when it is absent, half-written or not an object. */
function readJsonObject(file: string): Record<string, unknown> | undefined {
  try {
    return parseObject(fs.readFileSync(file, 'utf8')) ?? undefined;
  } catch {
    return undefined;
  }
}
