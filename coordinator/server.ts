import * as grpc from '@grpc/grpc-js';
import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import { UsageError } from '../lib/errors.js';
import type { CoordinatorHandlers } from '../proto/generated/dlphys/Coordinator.js';
import { dlphysProto } from '../proto/load.js';
import { AGENT_SECRET_KEY, PROTOCOL_VERSION } from '../proto/wire.js';
import { version } from '../lib/version.js';
import { checkRequest } from './bounds.js';
import { diskFullStatus, domainStatus } from './error_status.js';
import { statusToWire } from './status_wire.js';
import { REPORT_STATUSES, type ReportStatus, type Store } from './store/index.js';
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
  return domainStatus(err) ?? diskFullStatus(err) ?? { code: grpc.status.INTERNAL, details: (err as Error)?.message ?? String(err) };
}

type UnaryHandler<Req, Res> = grpc.handleUnaryCall<Req, Res>;

/** Work refused because the coordinator is on its way out (--exit-when-done reached). */
class ClosingError extends Error {
  override readonly name = 'ClosingError';
}

/** Free space on the runs dir's file system that counts as "not full any more" without a landing. */
const ROOM_AGAIN_BYTES = 256 * 1024 * 1024;

/** An agent that speaks another version of the contract. */
class ContractError extends Error {
  override readonly name = 'ContractError';
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The first value of a metadata key as a string ('' when absent). */
function metadataValue(metadata: grpc.Metadata, key: string): string {
  const [value] = metadata.get(key);
  return typeof value === 'string' ? value : value ? value.toString('utf8') : '';
}

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
  /** Set by stopAcceptingWork: no new leases, sweeps or retries. */
  private closing = false;
  /**
   * When each agent last made an authenticated call that the store could not record (its disk
   * full, say): that still proves the agent alive, so its leases are kept meanwhile. Cleared by
   * its next recorded call, from which on the leases follow the heartbeats again.
   */
  private readonly heardWhileFailing = new Map<string, number>();
  /** The last landing that failed for lack of space, until a landing succeeds. */
  private diskFull: { since: number; error: string } | null = null;

  constructor(private readonly opts: CoordinatorOptions) {
    this.tokenDigest = opts.token ? digest(`Bearer ${opts.token}`) : null;
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
        const now = Date.now();
        result = this.opts.store.expireLeases(this.opts.leaseTtlMs, (id) => now - (this.heardWhileFailing.get(id) ?? 0) < this.opts.leaseTtlMs);
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

  /**
   * From now on no run is leased (agents hear there is nothing left), and sweeps and retries are
   * refused with UNAVAILABLE: what a coordinator about to exit must not accept.
   */
  stopAcceptingWork(): void {
    this.closing = true;
  }

  /** The coordinator's own health, as Status reports it. */
  health() {
    let free = -1;
    try {
      const st = fs.statfsSync(this.opts.runsDir);
      free = st.bavail * st.bsize;
    } catch {
      // Unknown: the runs dir is missing or the platform has no statfs.
    }
    // Without a landing to prove it (no run in flight), plenty of free space clears the flag.
    if (this.diskFull && free >= ROOM_AGAIN_BYTES) this.noteDisk(null);
    return {
      disk_full: this.diskFull !== null,
      disk_error: this.diskFull?.error ?? '',
      disk_full_since: this.diskFull ? new Date(this.diskFull.since).toISOString() : '',
      runs_dir_free_bytes: String(free),
      version,
    };
  }

  private noteDisk(err: Partial<grpc.StatusObject> | null): void {
    if (err === null) {
      if (this.diskFull) this.opts.log('the runs dir has room again: uploads land');
      this.diskFull = null;
    } else if (err.code === grpc.status.RESOURCE_EXHAUSTED && /disk is full|disk full|ENOSPC|SQLITE_FULL/i.test(err.details ?? '')) {
      if (!this.diskFull) this.opts.log(`DISK FULL: ${err.details}; agents keep their run folders and retry; free space in the runs dir`);
      this.diskFull ??= { since: Date.now(), error: err.details ?? '' };
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

  private readonly tokenDigest: Buffer | null;

  /** Compares digests in constant time, so the time taken tells nothing about the token. */
  private authorized(metadata: grpc.Metadata): boolean {
    if (!this.tokenDigest) return true;
    return timingSafeEqual(digest(metadataValue(metadata, 'authorization')), this.tokenDigest);
  }

  private unauthenticated(metadata: grpc.Metadata): Partial<grpc.StatusObject> | null {
    if (this.authorized(metadata)) return null;
    const sent = metadata.get('authorization').length > 0;
    return {
      code: grpc.status.UNAUTHENTICATED,
      details: sent
        ? "wrong token; pass the coordinator's token with --token-file FILE (or DLPHYS_TOKEN_FILE)"
        : 'this coordinator needs a token; pass it with --token-file FILE (or DLPHYS_TOKEN_FILE)',
    };
  }

  /** Wraps a handler body: token check, the request's bounds (bounds.ts), then the body's value or its error as a status. */
  private unary<Req, Res>(body: (req: Req, metadata: grpc.Metadata) => Res): UnaryHandler<Req, Res> {
    return (call, callback) => {
      const denied = this.unauthenticated(call.metadata);
      if (denied) return callback(denied);
      let reply: Res;
      try {
        checkRequest(call.getPath(), call.request);
        reply = body(call.request, call.metadata);
      } catch (err) {
        const status = toStatus(err);
        this.noteDisk(status);
        return callback(status);
      }
      callback(null, reply);
    };
  }

  /** Like unary, for the calls of a registered agent: the request's agent_id must come with that agent's secret. */
  private agentCall<Req extends { agent_id: string }, Res>(body: (req: Req) => Res): UnaryHandler<Req, Res> {
    return this.unary((req: Req, metadata) => {
      this.opts.store.authenticateAgent(req.agent_id, metadataValue(metadata, AGENT_SECRET_KEY));
      try {
        const reply = body(req);
        this.heardWhileFailing.delete(req.agent_id);
        return reply;
      } catch (err) {
        const { code } = toStatus(err);
        if (code === grpc.status.INTERNAL || code === grpc.status.RESOURCE_EXHAUSTED) {
          this.heardWhileFailing.set(req.agent_id, Date.now());
        }
        throw err;
      }
    });
  }

  private handlers(): CoordinatorHandlers {
    const { store, leaseTtlMs, log } = this.opts;
    const ref = (r: { run_id: string; attempt: number } | null) => ({ runId: r?.run_id ?? '', attempt: r?.attempt ?? 0 });
    const wire = (r: { runId: string; attempt: number }) => ({ run_id: r.runId, attempt: r.attempt });
    const upload = makeUploadHandler({
      runsDir: this.opts.runsDir,
      maxFileBytes: this.opts.maxFileBytes,
      maxUploadBytes: this.opts.maxUploadBytes,
      check: (r, agentId, metadata) => {
        store.authenticateAgent(agentId, metadataValue(metadata, AGENT_SECRET_KEY));
        return store.checkCurrent(r, agentId);
      },
      landed: (r, agentId, files, bytes) => store.recordLanded(r, agentId, files, bytes),
      outcome: (err) => this.noteDisk(err),
      idleTimeoutMs: this.opts.uploadIdleMs,
    });

    return {
      Register: this.unary((req, metadata) => {
        if (req.protocol !== PROTOCOL_VERSION) {
          throw new ContractError(`the agent speaks contract version ${req.protocol || 1}, this coordinator ${PROTOCOL_VERSION} (dlphys ${version}); run the same dlphys version on both`);
        }
        const secret = store.registerAgent(
          { id: req.agent_id, host: req.host, gpus: req.gpus, slots: req.slots, version: req.version, backend: req.backend },
          metadataValue(metadata, AGENT_SECRET_KEY),
          leaseTtlMs,
        );
        log(`agent ${req.agent_id} registered (${req.slots} slot(s)${req.gpus.length ? `, GPU ${req.gpus.join(',')}` : ''})`);
        return { lease_ttl_ms: leaseTtlMs, heartbeat_ms: Math.max(50, Math.floor(leaseTtlMs / 3)), agent_secret: secret };
      }),
      Heartbeat: this.agentCall((req) => {
        const { cancel, lost } = store.heartbeat(req.agent_id, req.runs.map(ref), leaseTtlMs);
        return { cancel: cancel.map(wire), lost: lost.map(wire) };
      }),
      Lease: this.agentCall((req) => {
        const runs = this.closing ? [] : store.lease(req.agent_id, Math.max(0, req.max_runs), leaseTtlMs, req.request_id);
        const unfinished = this.closing ? 0 : store.unfinished();
        if (unfinished === 0) this.toldIdle.add(req.agent_id);
        else this.toldIdle.delete(req.agent_id);
        return {
          runs: runs.map((r) => ({ run: wire(r), sweep: r.sweep, name: r.name, config_json: r.configJson })),
          unfinished,
        };
      }),
      StartRun: this.agentCall((req) => {
        store.markStarted(ref(req.run), req.agent_id);
        return {};
      }),
      ReportMetrics: this.agentCall((req) => {
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
      Report: this.agentCall((req) => {
        if (!REPORT_STATUSES.includes(req.status as ReportStatus)) {
          throw new UsageError(`unknown report status "${req.status}"; expected ${REPORT_STATUSES.join(', ')}`);
        }
        const state = store.finishRun(ref(req.run), req.agent_id, { status: req.status as ReportStatus, summaryJson: req.summary_json, error: req.error });
        log(`${req.run?.run_id} ${state}${req.error ? `: ${req.error.split('\n')[0]}` : ''}`);
        return {};
      }),
      Goodbye: this.agentCall((req) => {
        store.goodbye(req.agent_id);
        log(`agent ${req.agent_id} said goodbye`);
        return {};
      }),
      SubmitSweep: this.unary((req) => {
        if (this.closing) throw new ClosingError('the coordinator is exiting (--exit-when-done): start it again to add a sweep');
        const sweep = parseSweepJson(req.sweep_json);
        const { existed, runs } = store.addSweep(sweep);
        log(existed ? `sweep ${sweep.name} already recorded: continuing it` : `sweep ${sweep.name}: ${runs} runs queued`);
        return { sweep: sweep.name, runs, existed };
      }),
      Status: this.unary((req) => statusToWire(store.status(req.sweep || undefined, leaseTtlMs), this.health())),
      Cancel: this.unary((req) => ({ affected: store.cancel(req.target) })),
      Retry: this.unary((req) => {
        if (this.closing) throw new ClosingError('the coordinator is exiting (--exit-when-done): start it again (dlphys-coord serve) to retry');
        return { affected: store.retry(req.target) };
      }),
      Watch: (call) => this.watch.handle(call),
    };
  }
}
