import * as grpc from '@grpc/grpc-js';
import fs from 'node:fs';
import path from 'node:path';
import type { LeasedRun__Output } from '../proto/generated/dlphys/LeasedRun.js';
import { isUnavailable, unary, type Connection } from '../proto/client.js';
import { uploadFolder } from './sync_sender.js';
import type { RunnerProcess, RunOutcome } from './runner_process.js';
import { MetricBuffer } from './metric_buffer.js';

export interface RunRef {
  run_id: string;
  attempt: number;
}

export interface TaskContext {
  conn: Connection;
  agentId: string;
  workDir: string;
  uploadEverySec: number;
  log: (line: string) => void;
  /** True once the agent is shutting down: a run stopped now is handed back, not reported. */
  draining: () => boolean;
}

/** The coordinator moved on: this attempt is no longer ours (stale attempt or unknown run). */
function isFenced(err: unknown): boolean {
  const code = (err as grpc.ServiceError)?.code;
  return code === grpc.status.FAILED_PRECONDITION || code === grpc.status.NOT_FOUND;
}

class LostError extends Error {}

/**
 * One leased run on this agent, from start to report: trains it in its runner child, streams
 * its metrics, uploads its folder (periodically and at the end), and reports the result. Every
 * call is retried while the coordinator is unreachable, so nothing is lost across a coordinator
 * restart; a fenced answer (stale attempt) means another agent owns the run now, and this copy
 * is dropped without a report.
 */
export class RunTask {
  readonly ref: RunRef;
  readonly name: string;
  readonly sweep: string;
  readonly dir: string;
  private lost = false;
  private cancelled = false;
  private readonly metrics: MetricBuffer;
  private runner: RunnerProcess | null = null;
  private readonly started = performance.now();

  constructor(
    private readonly ctx: TaskContext,
    private readonly leased: LeasedRun__Output,
  ) {
    this.ref = { run_id: leased.run!.run_id, attempt: leased.run!.attempt };
    this.name = leased.name;
    this.sweep = leased.sweep;
    this.dir = path.join(ctx.workDir, leased.sweep, leased.name);
    this.metrics = new MetricBuffer();
  }

  get isLost(): boolean {
    return this.lost;
  }

  /** The user cancelled the run: stop it; it is reported (and recorded as cancelled) as usual. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.ctx.log(`cancel ${this.ref.run_id}: stopping it`);
    this.runner?.stop('cancelled by the coordinator');
  }

  /** Asks the run to stop because the agent is shutting down. */
  stopForDrain(): void {
    this.runner?.stop('agent shutting down');
  }

  /** The coordinator no longer honours this attempt: kill it and report nothing. */
  markLost(): void {
    if (this.lost) return;
    this.lost = true;
    this.ctx.log(`lost ${this.ref.run_id} attempt ${this.ref.attempt}: the coordinator gave it to another agent`);
    this.runner?.kill();
  }

  /** Sends the metrics lines not yet acknowledged (one request at a time). */
  async flushMetrics(): Promise<void> {
    if (this.lost) return;
    try {
      await this.metrics.flush((rows) =>
        unary(this.ctx.conn, 'ReportMetrics', { run: this.ref, agent_id: this.ctx.agentId, rows }),
      );
    } catch (err) {
      if (isFenced(err)) this.markLost();
      else if (!isUnavailable(err)) this.ctx.log(`metrics for ${this.ref.run_id}: ${(err as Error).message}`);
    }
  }

  /** Runs the task to its end; `onTrained` fires once the child is done training (the slot is free). */
  async execute(runner: RunnerProcess, onTrained: () => void = () => {}): Promise<void> {
    this.runner = runner;
    try {
      // Training does not wait for the coordinator to record the start: one round trip (and one
      // disk sync there) less between runs. The report waits for it, so the order is kept.
      const started = this.retry('start', () => unary(this.ctx.conn, 'StartRun', { run: this.ref, agent_id: this.ctx.agentId }));
      started.catch(() => {}); // awaited below; a lost start has already killed the runner
      fs.mkdirSync(path.dirname(this.dir), { recursive: true });
      const periodic = this.ctx.uploadEverySec > 0 ? setInterval(() => this.periodicUpload(), this.ctx.uploadEverySec * 1000) : null;
      let outcome: RunOutcome;
      try {
        outcome = await runner.run(
          { type: 'run', config: JSON.parse(this.leased.config_json), runsDir: path.dirname(this.dir), name: this.name },
          (line) => this.metrics.push(line),
        );
      } finally {
        if (periodic) clearInterval(periodic);
        // The process is the agent's again (to reuse or to end): a later markLost must not kill it.
        this.runner = null;
        onTrained();
      }
      await started;
      if (this.lost) throw new LostError();
      await this.finish(outcome);
    } catch (err) {
      if (!(err instanceof LostError) && !this.lost) throw err;
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private async finish(outcome: RunOutcome): Promise<void> {
    const status = outcome.summary?.status ?? 'failed';
    if (this.ctx.draining() && status === 'stopped' && !this.cancelled) {
      await this.retry('hand back', () =>
        unary(this.ctx.conn, 'Report', { run: this.ref, agent_id: this.ctx.agentId, status: 'handback', summary_json: '', error: '' }),
      );
      this.ctx.log(`handed back ${this.ref.run_id}`);
      return;
    }
    await this.retry('metrics', async () => {
      while (!this.metrics.empty) {
        await this.metrics.flush((rows) =>
          unary(this.ctx.conn, 'ReportMetrics', { run: this.ref, agent_id: this.ctx.agentId, rows }),
        );
      }
    });
    let uploadError = '';
    await this.uploading;
    if (fs.existsSync(this.dir)) {
      try {
        await this.retry('upload', () => this.upload());
      } catch (err) {
        if (this.lost) throw err;
        uploadError = `run folder upload refused: ${(err as grpc.ServiceError).details ?? (err as Error).message}`;
        this.ctx.log(`${this.ref.run_id}: ${uploadError}`);
      }
    }
    const error = [outcome.error ?? '', uploadError].filter(Boolean).join('; ');
    await this.retry('report', () =>
      unary(this.ctx.conn, 'Report', {
        run: this.ref,
        agent_id: this.ctx.agentId,
        status: uploadError && status !== 'failed' ? 'failed' : status,
        summary_json: outcome.summary ? JSON.stringify(outcome.summary) : '',
        error,
      }),
    );
    const seconds = ((performance.now() - this.started) / 1000).toFixed(1);
    this.ctx.log(`finished ${this.ref.run_id}: ${status} in ${seconds}s${error ? ` (${error.split('\n')[0]})` : ''}`);
  }

  private upload() {
    return uploadFolder(this.ctx.conn.client, {
      ref: { runId: this.ref.run_id, attempt: this.ref.attempt },
      agentId: this.ctx.agentId,
      dir: this.dir,
      metadata: this.ctx.conn.metadata,
      deadlineMs: 10 * 60_000,
    });
  }

  /** The periodic upload in flight, if any: the final upload waits for it, so a snapshot never lands after it. */
  private uploading: Promise<void> | null = null;

  /** Long runs send their folder now and then, so a lost host loses little. Best effort. */
  private periodicUpload(): void {
    if (this.uploading || this.lost || !fs.existsSync(this.dir)) return;
    this.uploading = this.upload()
      .then(
        () => {},
        (err) => {
          if (isFenced(err)) this.markLost();
        },
      )
      .finally(() => {
        this.uploading = null;
      });
  }

  /**
   * Retries `fn` while the coordinator is unreachable (backoff up to 5 s). A fenced answer marks
   * the task lost; any other error is thrown to the caller.
   */
  private async retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let delay = 100;
    let warned = false;
    for (;;) {
      if (this.lost) throw new LostError();
      try {
        return await fn();
      } catch (err) {
        if (isFenced(err)) {
          this.markLost();
          throw new LostError();
        }
        if (!isUnavailable(err)) throw err;
        if (!warned) this.ctx.log(`${what} ${this.ref.run_id}: coordinator unreachable, retrying`);
        warned = true;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
  }
}
