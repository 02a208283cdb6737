import fs from 'node:fs';
import path from 'node:path';
import { isProgramJob } from '../lib/sweep/program_sweep.js';
import type { LeasedRun__Output } from '../proto/generated/dlphys/LeasedRun.js';
import { unary, type Connection } from '../proto/client.js';
import { callDetails, isDefiniteRefusal, isFenced, isInvalid, isNotLanded, isUploadRefused, refusedOrInvalid } from '../proto/errors.js';
import { RetryStopped, retryWhile } from '../proto/retry.js';
import { fromWireRef, toWireRef, type RunRef } from '../proto/run_ref.js';
import { MAX_ERROR_BYTES, clipUtf8 } from '../proto/wire.js';
import { writeJsonAtomic } from '../lib/run/run_folder.js';
import { uploadFolder } from './sync_sender.js';
import type { RunnerProcess, RunOutcome } from './launch/process.js';
import { MetricBuffer } from './metric_buffer.js';
import type { ProgramHost } from './program_host.js';
import { parseObject, runJob, trainerJob } from './run_job.js';
import type { RunJob } from './runner/protocol.js';
import { recordPhases, type RunPhases } from './phases.js';
import { RunProgress } from './run_progress.js';

export interface TaskContext {
  conn: Connection;
  agentId: string;
  workDir: string;
  uploadEverySec: number;
  log: (line: string) => void;
  /** True once the agent is shutting down: a run stopped now is handed back, not reported. */
  draining: () => boolean;
  /** Code, interpreter and wandb for program runs. */
  programs: ProgramHost;
  /** A dlphys run reported a new step (the agent may lease its slot's next run ahead). */
  onProgress?: () => void;
}

class LostError extends Error {}

/** The stop reason of a run stopped because its agent is shutting down. */
const DRAIN_REASON = 'agent shutting down';
const CANCEL_REASON = 'cancelled by the coordinator';

/** summary.json as a report carries it: '' when the coordinator would refuse it for its size. */
const MAX_SUMMARY_CHARS = 200_000;

/** Longest wait between two tries of a call the coordinator could not take (disk full, restarting, ...). */
const MAX_BACKOFF_MS = 30_000;

/**
 * One leased run on this agent, from start to report: trains it in its runner child, streams
 * its metrics, uploads its folder (periodically and at the end), and reports the result. Every
 * call is retried, with backoff, until the coordinator takes it or refuses it for good
 * (proto/errors.ts isDefiniteRefusal), so a coordinator restart, a full disk or a passing INTERNAL
 * lose nothing; a fenced answer (stale attempt) means another agent owns the run now, and this
 * copy is not reported.
 *
 * The run folder (`<work-dir>/<sweep>/a<attempt>/<name>`, one per attempt, so two attempts never
 * share one) is deleted only once the coordinator took responsibility for the run: the report of
 * a run whose folder landed was accepted, or a handback was. Anything else keeps it on disk.
 */
export class RunTask {
  readonly ref: RunRef;
  readonly name: string;
  readonly sweep: string;
  readonly dir: string;
  private lost = false;
  private cancelled = false;
  private earlyStopReason: string | null = null;
  private readonly metrics: MetricBuffer;
  private runner: RunnerProcess | null = null;
  private readonly started = performance.now();
  /** The coordinator took the run (report or handback accepted): the folder may go. */
  private settled = false;

  /** When each phase of the run ended on this agent (phases.ts). */
  private readonly phases: RunPhases;
  /** How far it has got, from its metrics rows (slot.ts leases ahead by it). */
  readonly progress: RunProgress;
  /** The leased config_json, parsed once (null when it is not JSON: job() then says why). */
  private readonly config: Record<string, unknown> | null;
  /** The run executes its sweep's program (not dlphys's trainer). */
  readonly isProgram: boolean;
  /** A dlphys run's job, known without waiting for anything: what a runner prepares ahead (slot.ts); null for a program run or a config that is not a JSON object. */
  readonly trainerJob: RunJob | null;
  /** A call of this run's is being retried: the coordinator could not take it for now. */
  private retrying = false;
  private drainAsked = false;
  private outcomeStatus: string | null = null;
  private trained = false;

  constructor(
    private readonly ctx: TaskContext,
    private readonly leased: LeasedRun__Output,
    lease: { sent: number; answered: number; slot: number } = { sent: Date.now(), answered: Date.now(), slot: 0 },
  ) {
    this.ref = fromWireRef(leased.run);
    this.config = parseObject(leased.config_json);
    this.isProgram = this.config !== null && isProgramJob(this.config);
    this.progress = new RunProgress(this.config);
    this.phases = { run: this.ref.runId, attempt: this.ref.attempt, agent: ctx.agentId, slot: lease.slot, lease_sent: lease.sent, leased: lease.answered };
    this.name = leased.name;
    this.sweep = leased.sweep;
    this.dir = path.join(ctx.workDir, leased.sweep, `a${this.ref.attempt}`, leased.name);
    this.trainerJob = this.config === null || this.isProgram ? null : trainerJob(this.config, { runsDir: path.dirname(this.dir), name: this.name });
    this.metrics = new MetricBuffer();
  }

  get isLost(): boolean {
    return this.lost;
  }

  /** Trained, but its upload or report waits for a coordinator that cannot take it now (a full disk, a restart). */
  get backlogged(): boolean {
    return this.trained && this.retrying;
  }

  /** It trained to its end (completed): its length says how long the sweep's runs take. */
  get completedNormally(): boolean {
    return this.outcomeStatus === 'completed';
  }

  /** A metrics line from the runner: queued for the coordinator, its step noted. */
  private onMetricsLine(line: string): void {
    this.metrics.push(line);
    if (this.progress.note(line)) this.ctx.onProgress?.();
  }

  /** The user cancelled the run: stop it; it is reported (and recorded as cancelled) as usual. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.ctx.log(`cancel ${this.ref.runId}: ${this.runner ? 'stopping it' : 'it has not started'}`);
    this.runner?.stop(CANCEL_REASON);
  }

  /** The sweep's early termination stopped the run: it stops, and its summary says early_stopped and why. */
  earlyStop(reason: string): void {
    if (this.earlyStopReason !== null) return;
    this.earlyStopReason = reason;
    this.ctx.log(`early stop ${this.ref.runId}: ${reason}`);
    this.runner?.stop(reason);
  }

  /** Asks the run to stop because the agent is shutting down. */
  stopForDrain(): void {
    this.drainAsked = true;
    this.runner?.stop(DRAIN_REASON);
  }

  /** The coordinator no longer honours this attempt: kill it and report nothing. */
  markLost(): void {
    if (this.lost) return;
    this.lost = true;
    this.ctx.log(`lost ${this.ref.runId} attempt ${this.ref.attempt}: the coordinator gave it to another agent`);
    this.runner?.kill();
  }

  /**
   * The agent was refused for good (its token or secret): stop training and retrying. Nothing is
   * reported; the folder stays on disk.
   */
  abandon(why: string): void {
    if (this.lost) return;
    this.lost = true;
    this.ctx.log(`abandoning ${this.ref.runId} attempt ${this.ref.attempt}: ${why}`);
    this.runner?.kill();
  }

  /** One ReportMetrics call; its reply may say the sweep's early termination stopped the run. */
  private async reportMetrics(rows: Parameters<Parameters<MetricBuffer['flush']>[0]>[0]) {
    const reply = await unary(this.ctx.conn, 'ReportMetrics', { run: toWireRef(this.ref), agent_id: this.ctx.agentId, rows });
    if (reply.early_stop) this.earlyStop(reply.early_stop);
    return reply;
  }

  /** Sends the metrics lines not yet acknowledged (one request at a time). */
  async flushMetrics(): Promise<void> {
    if (this.lost) return;
    try {
      await this.metrics.flush((rows) =>
        this.reportMetrics(rows),
      );
    } catch (err) {
      if (isFenced(err)) this.markLost();
      // Anything else is sent again at the next flush.
    }
  }

  /** Runs the task to its end; `onTrained` fires once the child is done training (the slot is free). */
  async execute(runner: RunnerProcess, onTrained: () => void = () => {}): Promise<void> {
    try {
      // Training does not wait for the coordinator to record the start: one round trip (and one
      // disk sync there) less between runs. The report waits for it, so the order is kept.
      const started = this.retry('start', () => unary(this.ctx.conn, 'StartRun', { run: toWireRef(this.ref), agent_id: this.ctx.agentId }));
      started.catch(() => {}); // awaited below; a lost start has already killed the runner
      fs.mkdirSync(path.dirname(this.dir), { recursive: true });
      const periodic = this.ctx.uploadEverySec > 0 ? setInterval(() => this.periodicUpload(), this.ctx.uploadEverySec * 1000) : null;
      let outcome: RunOutcome;
      try {
        const job = await this.job();
        if (this.lost) throw new LostError();
        if (typeof job !== 'string') {
          // From here the runner is this run's to stop or kill; a stop asked for while the run
          // waited (leased ahead, or its code fetched) goes with the job.
          this.runner = runner;
          const stopAtOnce = this.cancelled ? CANCEL_REASON : (this.earlyStopReason ?? (this.drainAsked ? DRAIN_REASON : null));
          outcome = await runner.run(
            job,
            (line) => this.onMetricsLine(line),
            () => {
              this.phases.job_sent = Date.now();
            },
            stopAtOnce,
          );
          this.outcomeStatus = outcome.error === null ? (outcome.summary?.status ?? null) : null;
        }
        // A program whose code could not be fetched because the agent is shutting down goes back to the queue.
        else if (this.ctx.draining()) outcome = { summary: { status: 'stopped', reason: DRAIN_REASON } as RunOutcome['summary'], error: null };
        else outcome = { summary: null, error: job };
      } finally {
        if (periodic) clearInterval(periodic);
        // The process is the agent's again (to reuse or to end): a later markLost must not kill it.
        this.runner = null;
        this.trained = true;
        this.phases.done = Date.now();
        onTrained();
      }
      await started;
      if (this.lost) throw new LostError();
      await this.finish(outcome);
    } catch (err) {
      if (!(err instanceof LostError) && !this.lost) throw err;
    } finally {
      // Only the run's own folder: its attempt's and sweep's folders are shared with the agent's
      // other slots, which may be creating theirs in them right now; the agent prunes them, empty,
      // when it exits (pruneEmptyFolders).
      if (this.settled) fs.rmSync(this.dir, { recursive: true, force: true });
      else if (fs.existsSync(this.dir)) this.ctx.log(`${this.ref.runId}: its run folder did not land; kept at ${this.dir}`);
    }
  }

  /** What the runner is given (run_job.ts); a string when the program cannot run here. */
  private job(): Promise<RunJob | string> {
    const config = this.config ?? (JSON.parse(this.leased.config_json) as Record<string, unknown>);
    return runJob(this.ctx.programs, config, { runsDir: path.dirname(this.dir), name: this.name, sweep: this.sweep, runId: this.ref.runId });
  }

  private async finish(outcome: RunOutcome): Promise<void> {
    // Stopped by the sweep's early termination: the folder says so (scan reads it), and why.
    if (this.earlyStopReason !== null && outcome.summary?.status === 'stopped') {
      outcome.summary.status = 'early_stopped';
      outcome.summary.reason = this.earlyStopReason;
      const file = path.join(this.dir, 'summary.json');
      if (fs.existsSync(file)) writeJsonAtomic(file, outcome.summary);
    }
    const status = outcome.summary?.status === 'early_stopped' ? 'stopped' : (outcome.summary?.status ?? 'failed');
    // Handed back only when the drain stopped it: a run its own callback stopped is a result.
    if (this.ctx.draining() && status === 'stopped' && !this.cancelled && outcome.summary?.reason === DRAIN_REASON) {
      await this.retry('hand back', () =>
        unary(this.ctx.conn, 'Report', { run: toWireRef(this.ref), agent_id: this.ctx.agentId, status: 'handback', summary_json: '', error: '' }),
      );
      this.settled = true;
      this.ctx.log(`handed back ${this.ref.runId} (${DRAIN_REASON})`);
      return;
    }
    try {
      await this.retry(
        'metrics',
        async () => {
          while (!this.metrics.empty) {
            await this.metrics.flush((rows) => this.reportMetrics(rows));
          }
        },
        refusedOrInvalid,
      );
    } catch (err) {
      // Rows the coordinator will never store (malformed): the landed metrics.jsonl still has them.
      if (!isInvalid(err)) throw err;
      this.ctx.log(`metrics of ${this.ref.runId} refused: ${callDetails(err)}; the run folder keeps them`);
    }
    let uploadError = '';
    await this.uploading;
    const hasFolder = fs.existsSync(this.dir);
    if (hasFolder) uploadError = await this.finalUpload();
    this.phases.uploaded = Date.now();
    if (outcome.marks) this.phases.runner = outcome.marks;
    const error = [outcome.error ?? '', uploadError].filter(Boolean).join('; ');
    const summaryJson = outcome.summary ? JSON.stringify(outcome.summary) : '';
    const report = {
      run: toWireRef(this.ref),
      agent_id: this.ctx.agentId,
      status: uploadError && status !== 'failed' ? 'failed' : status,
      // The landed summary.json holds it whole; the database's copy may go without a huge one.
      summary_json: summaryJson.length <= MAX_SUMMARY_CHARS ? summaryJson : '',
      error: clipUtf8(error, MAX_ERROR_BYTES - 64),
    };
    const send = (r: typeof report) =>
      this.retry(
        'report',
        async () => {
          try {
            return await unary(this.ctx.conn, 'Report', r);
          } catch (err) {
            // ABORTED: the coordinator has no landed folder for this attempt (its runs dir was
            // replaced, say). Land it again before the next try.
            if (isNotLanded(err) && hasFolder) await this.upload();
            throw err;
          }
        },
        refusedOrInvalid,
      );
    try {
      await send(report);
    } catch (err) {
      if (!isInvalid(err)) throw err;
      // A report the coordinator will never take as it is: record the run failed, saying why.
      await send({ ...report, status: 'failed', summary_json: '', error: clipUtf8(`the report was refused: ${callDetails(err)}`, 1000) });
    }
    this.settled = !uploadError;
    this.phases.reported = Date.now();
    recordPhases(this.phases);
    const seconds = ((performance.now() - this.started) / 1000).toFixed(1);
    this.ctx.log(`finished ${this.ref.runId}: ${status} in ${seconds}s${error ? ` (${error.split('\n')[0]})` : ''}`);
  }

  /**
   * Lands the run folder: retried while the coordinator cannot take it for now (unreachable,
   * disk full, restarting); '' once it landed, else why it never will (over the coordinator's
   * size limit, say), in which case the run is reported failed and its folder kept here.
   */
  private async finalUpload(): Promise<string> {
    try {
      await this.retry('upload', () => this.upload(), isUploadRefused);
      return '';
    } catch (err) {
      if (this.lost || err instanceof LostError) throw err;
      const why = `run folder upload refused: ${callDetails(err)}`;
      this.ctx.log(`${this.ref.runId}: ${why}`);
      return why;
    }
  }

  private upload() {
    return uploadFolder(this.ctx.conn.client, {
      ref: this.ref,
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
   * Calls `fn` until it succeeds, with backoff (up to 30 s) and one log line when it first
   * fails (proto/retry.ts). A fenced answer marks the task lost (LostError); a definite refusal
   * (or what `final` says is final) is thrown to the caller; everything else is tried again.
   */
  private async retry<T>(what: string, fn: () => Promise<T>, final: (err: unknown) => boolean = isDefiniteRefusal): Promise<T> {
    try {
      return await retryWhile(fn, {
        final: (err) => isFenced(err) || final(err),
        stopped: () => this.lost,
        onRetry: (err, failures) => {
          this.retrying = true;
          if (failures === 1) this.ctx.log(`${what} ${this.ref.runId}: ${callDetails(err).split('\n')[0]}; keeping it and retrying`);
        },
        onRecover: () => {
          this.retrying = false;
          this.ctx.log(`${what} ${this.ref.runId}: the coordinator took it`);
        },
        initialDelayMs: 100,
        maxDelayMs: MAX_BACKOFF_MS,
      });
    } catch (err) {
      if (err instanceof RetryStopped) throw new LostError();
      if (isFenced(err)) {
        this.markLost();
        throw new LostError();
      }
      throw err;
    }
  }
}
