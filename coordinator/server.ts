import * as grpc from '@grpc/grpc-js';
import { UsageError } from '../lib/errors.js';
import type { CoordinatorHandlers } from '../proto/generated/dlphys/Coordinator.js';
import { dlphysProto } from '../proto/load.js';
import { checkRequest } from './bounds.js';
import { REPORT_STATUSES, type ReportStatus, type Store } from './store.js';
import { parseSweepJson } from './sweep_json.js';
import { makeUploadHandler } from './sync_receiver.js';
import { WatchHub, type WatchOptions } from './watch.js';

export interface CoordinatorOptions {
  store: Store;
  runsDir: string;
  leaseTtlMs: number;
  /** When set, every call must carry `authorization: Bearer <token>`. */
  token?: string | undefined;
  maxFileBytes: number;
  maxUploadBytes: number;
  /** An upload silent this long ends with DEADLINE_EXCEEDED (sync_receiver.ts). @default 60 s */
  uploadIdleMs?: number | undefined;
  /** Bounds of the Watch streams (watch.ts). */
  watch?: WatchOptions | undefined;
  log: (line: string) => void;
}

/** Maps what a handler threw to the most specific gRPC status; handlers never throw at grpc-js. */
function toStatus(err: unknown): Partial<grpc.StatusObject> {
  const e = err as Error;
  switch (e?.name) {
    case 'StaleAttemptError':
      return { code: grpc.status.FAILED_PRECONDITION, details: e.message };
    case 'NotFoundError':
      return { code: grpc.status.NOT_FOUND, details: e.message };
    case 'UsageError':
      return { code: grpc.status.INVALID_ARGUMENT, details: e.message };
    default:
      return { code: grpc.status.INTERNAL, details: e?.message ?? String(err) };
  }
}

type UnaryHandler<Req, Res> = grpc.handleUnaryCall<Req, Res>;

/** At least this long after a start before leases expire: an agent's reconnect backoff reaches 2 s. */
const RESTART_GRACE_MS = 5000;

/**
 * The coordinator's gRPC service: a thin layer that checks the token, turns messages into store
 * calls (each one SQLite transaction) and store errors into gRPC statuses.
 */
export class CoordinatorServer {
  private readonly server = new grpc.Server({
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  private readonly watch: WatchHub;
  private expiry: NodeJS.Timeout | null = null;
  /** Agents whose latest lease reply said nothing is left to do (unfinished 0). */
  private readonly toldIdle = new Set<string>();

  constructor(private readonly opts: CoordinatorOptions) {
    this.watch = new WatchHub({ events: opts.store, deny: (md) => this.unauthenticated(md), log: opts.log, options: opts.watch });
    this.server.addService(dlphysProto.Coordinator.service, this.handlers());
  }

  /** Binds and starts serving; resolves to the bound port (useful with port 0). */
  async listen(host: string, port: number, credentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const bound = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
    // Leases are not expired during the first TTL after a start: agents that kept training while
    // the coordinator was down need one heartbeat to reconnect before their runs are given away.
    const period = Math.max(50, Math.floor(this.opts.leaseTtlMs / 4));
    const graceUntil = Date.now() + Math.max(this.opts.leaseTtlMs, RESTART_GRACE_MS);
    this.expiry = setInterval(() => {
      if (Date.now() < graceUntil) return;
      let result;
      try {
        result = this.opts.store.expireLeases(this.opts.leaseTtlMs);
      } catch (err) {
        // A timer must not take the coordinator down; the next tick tries again.
        this.opts.log(`lease expiry failed: ${(err as Error).message}`);
        return;
      }
      for (const r of result.requeued) this.opts.log(`lease of ${r.runId} attempt ${r.attempt} expired: queued again`);
      for (const r of result.failed) this.opts.log(`lease of ${r.runId} attempt ${r.attempt} expired: failed (max attempts reached)`);
    }, period);
    return bound;
  }

  /**
   * Waits (at most `timeoutMs`) until every live agent has been told there is nothing left, so
   * agents started with --exit-when-idle exit on their own rather than retrying a coordinator
   * that has just gone away.
   */
  async waitUntilAgentsToldIdle(timeoutMs: number): Promise<void> {
    const since = Date.now();
    const live = () => this.opts.store.status(undefined, this.opts.leaseTtlMs).agents.filter((a) => a.alive);
    while (Date.now() - since < timeoutMs) {
      if (live().every((a) => this.toldIdle.has(a.id))) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops accepting calls, ends watch streams, and waits for calls in flight (bounded). */
  async close(): Promise<void> {
    if (this.expiry) clearInterval(this.expiry);
    this.watch.close();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2000);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  private authorized(metadata: grpc.Metadata): boolean {
    if (!this.opts.token) return true;
    const [value] = metadata.get('authorization');
    return value === `Bearer ${this.opts.token}`;
  }

  private unauthenticated(metadata: grpc.Metadata): Partial<grpc.StatusObject> | null {
    if (this.authorized(metadata)) return null;
    const sent = metadata.get('authorization').length > 0;
    return {
      code: grpc.status.UNAUTHENTICATED,
      details: sent ? 'wrong token; pass the coordinator\'s --token (or set DLPHYS_TOKEN)' : 'this coordinator needs a token; pass --token (or set DLPHYS_TOKEN)',
    };
  }

  /** Wraps a handler body: token check, the request's bounds (bounds.ts), then the body's value or its error as a status. */
  private unary<Req, Res>(body: (req: Req) => Res): UnaryHandler<Req, Res> {
    return (call, callback) => {
      const denied = this.unauthenticated(call.metadata);
      if (denied) return callback(denied);
      let reply: Res;
      try {
        checkRequest(call.getPath(), call.request);
        reply = body(call.request);
      } catch (err) {
        return callback(toStatus(err));
      }
      callback(null, reply);
    };
  }

  private handlers(): CoordinatorHandlers {
    const { store, leaseTtlMs, log } = this.opts;
    const ref = (r: { run_id: string; attempt: number } | null) => ({ runId: r?.run_id ?? '', attempt: r?.attempt ?? 0 });
    const wire = (r: { runId: string; attempt: number }) => ({ run_id: r.runId, attempt: r.attempt });
    const upload = makeUploadHandler({
      runsDir: this.opts.runsDir,
      maxFileBytes: this.opts.maxFileBytes,
      maxUploadBytes: this.opts.maxUploadBytes,
      check: (r, agentId) => store.checkCurrent(r, agentId),
      idleTimeoutMs: this.opts.uploadIdleMs,
    });

    return {
      Register: this.unary((req) => {
        store.registerAgent({ id: req.agent_id, host: req.host, gpus: req.gpus, slots: req.slots, version: req.version, backend: req.backend });
        log(`agent ${req.agent_id} registered (${req.slots} slot(s)${req.gpus.length ? `, GPU ${req.gpus.join(',')}` : ''})`);
        return { lease_ttl_ms: leaseTtlMs, heartbeat_ms: Math.max(50, Math.floor(leaseTtlMs / 3)) };
      }),
      Heartbeat: this.unary((req) => {
        const { cancel, lost } = store.heartbeat(req.agent_id, req.runs.map(ref), leaseTtlMs);
        return { cancel: cancel.map(wire), lost: lost.map(wire) };
      }),
      Lease: this.unary((req) => {
        const runs = store.lease(req.agent_id, Math.max(0, req.max_runs), leaseTtlMs);
        const unfinished = store.unfinished();
        if (unfinished === 0) this.toldIdle.add(req.agent_id);
        else this.toldIdle.delete(req.agent_id);
        return {
          runs: runs.map((r) => ({ run: wire(r), sweep: r.sweep, name: r.name, config_json: r.configJson })),
          unfinished,
        };
      }),
      StartRun: this.unary((req) => {
        store.markStarted(ref(req.run), req.agent_id);
        return {};
      }),
      ReportMetrics: this.unary((req) => {
        const acked = store.addMetrics(
          ref(req.run),
          req.agent_id,
          req.rows.map((r) => ({ seq: Number(r.seq), line: r.line })),
        );
        return { acked_seq: String(acked) };
      }),
      Upload: (call, callback) => {
        const denied = this.unauthenticated(call.metadata);
        if (denied) {
          call.on('data', () => {}); // drain what the client already sent
          return callback(denied);
        }
        upload(call, callback);
      },
      Report: this.unary((req) => {
        if (!REPORT_STATUSES.includes(req.status as ReportStatus)) {
          throw new UsageError(`unknown report status "${req.status}"; expected ${REPORT_STATUSES.join(', ')}`);
        }
        const state = store.finishRun(ref(req.run), req.agent_id, { status: req.status as ReportStatus, summaryJson: req.summary_json, error: req.error });
        log(`${req.run?.run_id} ${state}${req.error ? `: ${req.error.split('\n')[0]}` : ''}`);
        return {};
      }),
      Goodbye: this.unary((req) => {
        store.goodbye(req.agent_id);
        log(`agent ${req.agent_id} said goodbye`);
        return {};
      }),
      SubmitSweep: this.unary((req) => {
        const sweep = parseSweepJson(req.sweep_json);
        const { existed, runs } = store.addSweep(sweep);
        log(existed ? `sweep ${sweep.name} already recorded: continuing it` : `sweep ${sweep.name}: ${runs} runs queued`);
        return { sweep: sweep.name, runs, existed };
      }),
      Status: this.unary((req) => store.status(req.sweep || undefined, leaseTtlMs)),
      Cancel: this.unary((req) => ({ affected: store.cancel(req.target) })),
      Retry: this.unary((req) => ({ affected: store.retry(req.target) })),
      Watch: (call) => this.watch.handle(call),
    };
  }
}
