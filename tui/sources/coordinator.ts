/**
 * A DashSource fed by a running coordinator over gRPC: Status on start, every couple of seconds
 * and soon after an event that changes sweeps, runs or agents; the Watch stream for events,
 * replayed from the start, then live.
 *
 * When the coordinator goes away (restart, network), the sink hears 'reconnecting' with why; the
 * source asks Status again with growing waits (proto/retry.ts), then watches again from the last
 * event it delivered, so no event is delivered twice and none is missed, and says 'live' again.
 * A Watch stream lives at most `watchRotateMs` (every call has a deadline); its end is a silent
 * resume, not an outage.
 *
 * Status without a sweep lists only the runs of unfinished sweeps; a finished sweep's runs are
 * asked for once (Status with its name) and kept until an event says the sweep moved again.
 */
import * as grpc from '@grpc/grpc-js';
import { connect, unary, type ConnectOptions, type Connection } from '../../proto/client.js';
import { callDetails } from '../../proto/errors.js';
import { RetryStopped, retryWhile } from '../../proto/retry.js';
import type { Event__Output } from '../../proto/generated/dlphys/Event.js';
import type { RunStatus__Output } from '../../proto/generated/dlphys/RunStatus.js';
import type { DashSink, DashSource, RunDetail, StatusSnapshot } from '../source.js';

/** Timing and bounds of the coordinator source; tests shorten them. */
export interface CoordinatorSourceOptions {
  /** Status is asked this often (ms). @default 2000 */
  readonly statusEveryMs?: number;
  /** A Watch stream's deadline (ms): it is then reopened from the last event. @default 600000 */
  readonly watchRotateMs?: number;
  /** First and longest wait between tries while the coordinator is away (ms). @default 250, 5000 */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /** Deadline of Status and RunDetail calls (ms). @default 5000, 10000 */
  readonly statusDeadlineMs?: number;
  readonly detailDeadlineMs?: number;
  /** Finished sweeps whose runs are kept (the newest ones). @default 20 */
  readonly maxFinishedSweeps?: number;
}

const DEFAULTS: Required<CoordinatorSourceOptions> = {
  statusEveryMs: 2000,
  watchRotateMs: 600_000,
  retryInitialMs: 250,
  retryMaxMs: 5000,
  statusDeadlineMs: 5000,
  detailDeadlineMs: 10_000,
  maxFinishedSweeps: 20,
};

/** Events after which a snapshot is out of date (metrics and health events change no count). */
const CHANGES_STATUS = new Set([
  'sweep_submitted',
  'sweep_closed',
  'sweep_finished',
  'runs_proposed',
  'run_leased',
  'run_started',
  'run_finished',
  'run_requeued',
  'run_cancelled',
  'agent_registered',
  'agent_lost',
  'agent_left',
  'agent_quarantined',
]);
/** A burst of events (a replay, a wave of leases) makes one Status call, this long after the first. */
const REFRESH_DEBOUNCE_MS = 250;
/** A stream that lived this long without trouble resets the wait before the next try. */
const HEALTHY_STREAM_MS = 10_000;

/** A DashSource over a coordinator, with the connection it owns (close it when done). */
export interface CoordinatorSource extends DashSource {
  /** One Status call: rejects with the call's error when the coordinator cannot be reached or refuses. */
  probe(): Promise<void>;
  close(): void;
}

/** A source for the coordinator at `address` (HOST:PORT); throws UsageError for a bad address or --tls-ca. */
export function coordinatorSource(address: string, connectOptions: ConnectOptions = {}, options: CoordinatorSourceOptions = {}): CoordinatorSource {
  const conn = connect(address, connectOptions);
  const opts = { ...DEFAULTS, ...options };
  return {
    label: `coordinator ${address}`,
    start: (sink) => {
      const session = new Session(conn, sink, opts);
      void session.run();
      return () => session.stop();
    },
    runDetail: (runId, logLines) => runDetail(conn, runId, logLines, opts.detailDeadlineMs),
    probe: async () => {
      await unary(conn, 'Status', { sweep: '' }, opts.statusDeadlineMs);
    },
    close: () => conn.close(),
  };
}

function runDetail(conn: Connection, runId: string, logLines: number, deadlineMs: number): Promise<RunDetail> {
  return new Promise((resolve, reject) => {
    conn.client.RunDetail({ run_id: runId, log_lines: logLines }, conn.metadata, { deadline: Date.now() + deadlineMs }, (err, reply) => {
      if (err?.code === grpc.status.UNIMPLEMENTED) reject(new Error(`the coordinator at ${conn.address} has no RunDetail (it is older than this dashboard)`));
      else if (err) reject(err);
      else resolve(reply!);
    });
  });
}

/** One start()…stop() of the source: its loop, its stream, its timers. */
class Session {
  private stopped = false;
  /** Id of the last event handed to the sink (or queued for it): where a new stream resumes. */
  private lastId = 0;
  private queued: Event__Output[] = [];
  private stream: grpc.ClientReadableStream<Event__Output> | null = null;
  private wake: (() => void) | null = null;
  private poll: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | null = null;
  /** Why the stream was cancelled from here (grpc-js would only say "Cancelled on client"). */
  private cancelWhy: string | null = null;
  /** Runs of finished sweeps (Status without a sweep leaves them out), by sweep. */
  private readonly finished = new Map<string, RunStatus__Output[]>();

  constructor(
    private readonly conn: Connection,
    private readonly sink: DashSink,
    private readonly opts: Required<CoordinatorSourceOptions>,
  ) {}

  stop(): void {
    this.stopped = true;
    this.wake?.();
    clearInterval(this.poll);
    clearTimeout(this.refreshTimer);
    this.stream?.cancel();
  }

  /** Ends the stream because the coordinator stopped answering Status; the loop reconnects. */
  private abort(why: string): void {
    this.cancelWhy = why;
    this.stream?.cancel();
  }

  /** Connect, watch until the stream ends, and again, until stopped. */
  async run(): Promise<void> {
    this.sink.connection({ state: 'connecting' });
    let delay = this.opts.retryInitialMs;
    while (!this.stopped) {
      try {
        await retryWhile(() => this.refresh(), {
          final: () => false, // a bad token is fixed by restarting the coordinator or the dashboard: keep trying, and say why
          stopped: () => this.stopped,
          initialDelayMs: this.opts.retryInitialMs,
          maxDelayMs: this.opts.retryMaxMs,
          sleep: (ms) => this.sleep(ms),
          onRetry: (err) => this.sink.connection({ state: 'reconnecting', reason: callDetails(err) }),
        });
      } catch (err) {
        if (err instanceof RetryStopped) return;
        throw err;
      }
      const opened = Date.now();
      const ended = this.watch();
      this.sink.connection({ state: 'live' });
      this.poll = setInterval(() => {
        this.refresh().catch((err: unknown) => this.abort(callDetails(err)));
      }, this.opts.statusEveryMs);
      const why = await ended;
      clearInterval(this.poll);
      if (this.stopped) return;
      if (why === null) continue; // the stream's deadline: resume at once
      this.sink.connection({ state: 'reconnecting', reason: why });
      // A stream refused at once (too many watchers) must not make a busy loop of Status calls.
      delay = Date.now() - opened > HEALTHY_STREAM_MS ? this.opts.retryInitialMs : Math.min(delay * 2, this.opts.retryMaxMs);
      await this.sleep(delay);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /** Opens Watch from the last event; resolves when the stream ends: with why, or null for its deadline. */
  private watch(): Promise<string | null> {
    return new Promise((resolve) => {
      const stream = this.conn.client.Watch({ since_id: String(this.lastId) }, this.conn.metadata, { deadline: Date.now() + this.opts.watchRotateMs });
      this.stream = stream;
      this.cancelWhy = null;
      let settled = false;
      const end = (why: string | null) => {
        if (settled) return;
        settled = true;
        if (this.stream === stream) this.stream = null;
        resolve(why);
      };
      stream.on('data', (e: Event__Output) => this.take(e));
      stream.on('error', (err: grpc.ServiceError) => {
        if (err.code === grpc.status.DEADLINE_EXCEEDED) end(null);
        else if (err.code === grpc.status.CANCELLED) end(this.cancelWhy ?? 'stream cancelled');
        else end(callDetails(err));
      });
      stream.on('status', (s: grpc.StatusObject) => {
        if (s.code === grpc.status.OK) end('the coordinator closed the event stream (shutting down?)');
      });
    });
  }

  /** One event from the stream: queued for the sink unless it was delivered before. */
  private take(e: Event__Output): void {
    const id = Number(e.id);
    if (!(id > this.lastId)) return;
    this.lastId = id;
    if (e.sweep && e.type !== 'metrics') this.finished.delete(e.sweep);
    if (CHANGES_STATUS.has(e.type)) this.refreshSoon();
    if (this.queued.push(e) === 1) {
      // Events come one at a time; the sink takes them a turn's worth at a time.
      setImmediate(() => {
        const events = this.queued;
        this.queued = [];
        if (!this.stopped && events.length) this.sink.events(events);
      });
    }
  }

  private refreshSoon(): void {
    this.refreshTimer ??= setTimeout(() => {
      this.refreshTimer = undefined;
      this.refresh().catch(() => undefined); // the next poll or the stream reports an outage
    }, REFRESH_DEBOUNCE_MS);
  }

  /** Status, with the runs of finished sweeps added, to the sink; one call at a time. */
  private refresh(): Promise<void> {
    this.refreshing ??= this.fetchStatus().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async fetchStatus(): Promise<void> {
    const deadline = this.opts.statusDeadlineMs;
    const reply = await unary(this.conn, 'Status', { sweep: '' }, deadline);
    const live = new Set(reply.runs.map((r) => r.sweep));
    const done = reply.sweeps.filter((s) => !live.has(s.name) && s.total > 0).slice(-this.opts.maxFinishedSweeps);
    for (const name of this.finished.keys()) if (!done.some((s) => s.name === name)) this.finished.delete(name);
    for (const s of done) {
      if (this.finished.has(s.name)) continue;
      try {
        this.finished.set(s.name, (await unary(this.conn, 'Status', { sweep: s.name }, deadline)).runs);
      } catch (err) {
        // Gone between the two calls: nothing to show. Anything else is an outage.
        if ((err as grpc.ServiceError).code !== grpc.status.NOT_FOUND) throw err;
      }
    }
    if (this.stopped) return;
    const runs = reply.sweeps.flatMap((s) => (live.has(s.name) ? reply.runs.filter((r) => r.sweep === s.name) : (this.finished.get(s.name) ?? [])));
    const snapshot: StatusSnapshot = { ...reply, runs };
    this.sink.status(snapshot);
  }
}
