import * as grpc from '@grpc/grpc-js';
import fs from 'node:fs';
import type { CoordinatorHandlers } from '../proto/generated/dlphys/Coordinator.js';
import { serveHealth, type HealthService } from '../proto/health.js';
import { dlphysProto } from '../proto/load.js';
import { healthFromWire } from '../proto/host_health.js';
import { fromWireRef, toWireRef } from '../proto/run_ref.js';
import { tokenInterceptor } from '../proto/token.js';
import { AGENT_SECRET_KEY, PROTOCOL_VERSION, metadataValue } from '../proto/wire.js';
import { version } from '../lib/version.js';
import { checkRequest } from './bounds.js';
import { ClosingError, ContractError, NotFoundError } from './errors.js';
import { errorStatus, isCoordinatorFault, type CallStatus } from './error_status.js';
import { statusToWire } from './status_wire.js';
import { type ReportStatus, type Store } from './store/index.js';
import { runDetail } from './run_detail.js';
import { parseSweepJson } from './sweep_json.js';
import { writeSweepSpec } from './sweep_files.js';
import { makeUploadHandler } from './sync_receiver.js';
import { WatchHub, type WatchOptions } from './watch.js';
import type { SlurmJobs } from './slurm/jobs.js';
import { parseSlurmOptionsJson } from './slurm/options.js';

export interface CoordinatorOptions {
  store: Store;
  runsDir: string;
  leaseTtlMs: number;
  /** When set, every call but a health check must carry `authorization: Bearer <token>` (proto/token.ts). */
  token?: string | undefined;
  maxFileBytes: number;
  maxUploadBytes: number;
  /** An upload silent this long ends with DEADLINE_EXCEEDED (sync_receiver.ts). @default 60 s */
  uploadIdleMs?: number | undefined;
  /** Bounds of the Watch streams (watch.ts). */
  watch?: WatchOptions | undefined;
  /** Submits and watches SLURM job arrays of agents (SubmitSlurm; a cancelled sweep's jobs are scancelled). */
  slurm?: SlurmJobs | undefined;
  log: (line: string) => void;
}

type UnaryHandler<Req, Res> = grpc.handleUnaryCall<Req, Res>;

/** Free space on the runs dir's file system that counts as "not full any more" without a landing. */
const ROOM_AGAIN_BYTES = 256 * 1024 * 1024;

/** At least this long after a start before leases expire: an agent's reconnect backoff reaches 2 s. */
const RESTART_GRACE_MS = 5000;

/**
 * The coordinator's gRPC service: a thin layer that turns messages into store calls (each one
 * SQLite transaction) and store errors into gRPC statuses. The token is checked before any of it,
 * by one interceptor (proto/token.ts); beside it runs the standard health service.
 */
export class CoordinatorServer {
  private readonly server: grpc.Server;
  /** grpc.health.v1.Health: SERVING until stopAcceptingWork or close. */
  private readonly healthService: HealthService;
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
    this.server = new grpc.Server({
      // A SubmitSweep carries every run's config (48 MiB at most) and a program sweep's code (56 MiB).
      'grpc.max_receive_message_length': 128 * 1024 * 1024,
      'grpc.max_send_message_length': 128 * 1024 * 1024,
      interceptors: opts.token ? [tokenInterceptor(opts.token)] : [],
    });
    this.watch = new WatchHub({ events: opts.store, log: opts.log, options: opts.watch });
    this.server.addService(dlphysProto.Coordinator.service, this.handlers());
    this.healthService = serveHealth(this.server);
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
   * From now on no run is leased (agents hear there is nothing left), sweeps and retries are
   * refused with UNAVAILABLE, and health checks answer NOT_SERVING: what a coordinator about to
   * exit must not accept.
   */
  stopAcceptingWork(): void {
    // Called after every commit once done: health watchers hear NOT_SERVING once, not each time.
    if (this.closing) return;
    this.closing = true;
    this.healthService.setServing(false);
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

  private noteDisk(err: CallStatus | null): void {
    if (err === null) {
      if (this.diskFull) this.opts.log('the runs dir has room again: uploads land');
      this.diskFull = null;
    } else if (err.diskFull) {
      if (!this.diskFull) this.opts.log(`DISK FULL: ${err.details}; agents keep their run folders and retry; free space in the runs dir`);
      this.diskFull ??= { since: Date.now(), error: err.details ?? '' };
    }
  }

  /** Stops accepting calls, ends watch streams (health's too), and waits for calls in flight (bounded). */
  async close(): Promise<void> {
    if (this.expiry) clearInterval(this.expiry);
    this.watch.close();
    this.healthService.close();
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

  /** Wraps a handler body: the request's bounds (bounds.ts), then the body's value or its error as a status. */
  private unary<Req, Res>(body: (req: Req, metadata: grpc.Metadata) => Res): UnaryHandler<Req, Res> {
    return (call, callback) => {
      let reply: Res;
      try {
        checkRequest(call.getPath(), call.request);
        reply = body(call.request, call.metadata);
      } catch (err) {
        const status = errorStatus(err);
        this.noteDisk(status);
        return callback({ code: status.code, details: status.details });
      }
      callback(null, reply);
    };
  }

  /** Like unary, for a body that resolves later (it reads files): the bounds first, then its value or its error as a status. */
  private unaryAsync<Req, Res>(body: (req: Req) => Promise<Res>): UnaryHandler<Req, Res> {
    return (call, callback) => {
      const fail = (err: unknown) => {
        const status = errorStatus(err);
        callback({ code: status.code, details: status.details });
      };
      try {
        checkRequest(call.getPath(), call.request);
        body(call.request).then((reply) => callback(null, reply), fail);
      } catch (err) {
        fail(err);
      }
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
        if (isCoordinatorFault(errorStatus(err))) {
          this.heardWhileFailing.set(req.agent_id, Date.now());
        }
        throw err;
      }
    });
  }

  /**
   * Like agentCall, for the calls every slot of every agent makes per run (heartbeat, lease,
   * start, metrics): the body runs in the store's next group commit, and the reply goes once that
   * group is durable.
   */
  private groupedAgentCall<Req extends { agent_id: string }, Res>(body: (req: Req) => Res): UnaryHandler<Req, Res> {
    return (call, callback) => {
      const fail = (err: unknown) => {
        const status = errorStatus(err);
        this.noteDisk(status);
        if (isCoordinatorFault(status)) this.heardWhileFailing.set(call.request.agent_id, Date.now());
        callback({ code: status.code, details: status.details });
      };
      try {
        checkRequest(call.getPath(), call.request);
      } catch (err) {
        return fail(err);
      }
      const secret = metadataValue(call.metadata, AGENT_SECRET_KEY);
      this.opts.store
        .grouped(() => {
          this.opts.store.authenticateAgent(call.request.agent_id, secret);
          return body(call.request);
        })
        .then((reply) => {
          this.heardWhileFailing.delete(call.request.agent_id);
          callback(null, reply);
        }, fail);
    };
  }

  private handlers(): CoordinatorHandlers {
    const { store, leaseTtlMs, log } = this.opts;
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
          { id: req.agent_id, host: req.host, gpus: req.gpus, slots: req.slots, version: req.version, backend: req.backend, slurmJob: req.slurm_job },
          metadataValue(metadata, AGENT_SECRET_KEY),
          leaseTtlMs,
        );
        log(`agent ${req.agent_id} registered (${req.slots} slot(s)${req.gpus.length ? `, GPU ${req.gpus.join(',')}` : ''})`);
        return { lease_ttl_ms: leaseTtlMs, heartbeat_ms: Math.max(50, Math.floor(leaseTtlMs / 3)), agent_secret: secret };
      }),
      Heartbeat: this.groupedAgentCall((req) => {
        const health = req.health ? healthFromWire(req.health) : null;
        const { cancel, lost, earlyStop } = store.heartbeat(req.agent_id, req.runs.map(fromWireRef), leaseTtlMs, health);
        return { cancel: cancel.map(toWireRef), lost: lost.map(toWireRef), early_stop: earlyStop.map((e) => ({ run: toWireRef(e.ref), reason: e.reason })) };
      }),
      Lease: this.groupedAgentCall((req) => {
        const runs = this.closing ? [] : store.lease(req.agent_id, Math.max(0, req.max_runs), leaseTtlMs, req.request_id, req.programs_only ? 'program' : req.native_only ? 'native' : null);
        const unfinished = this.closing ? 0 : store.unfinished();
        if (unfinished === 0) this.toldIdle.add(req.agent_id);
        else this.toldIdle.delete(req.agent_id);
        return {
          runs: runs.map((r) => ({ run: toWireRef(r), sweep: r.sweep, name: r.name, config_json: r.configJson })),
          unfinished,
        };
      }),
      StartRun: this.groupedAgentCall((req) => {
        store.markStarted(fromWireRef(req.run), req.agent_id);
        return {};
      }),
      ReportMetrics: this.groupedAgentCall((req) => {
        const ref = fromWireRef(req.run);
        const acked = store.addMetrics(
          ref,
          req.agent_id,
          req.rows.map((r) => ({ seq: Number(r.seq), line: r.line })),
        );
        return { acked_seq: String(acked), early_stop: store.stopReason(ref) ?? '' };
      }),
      Upload: upload,
      Report: this.agentCall((req) => {
        // The status was checked against REPORT_STATUSES with the rest of the request (bounds.ts).
        const state = store.finishRun(fromWireRef(req.run), req.agent_id, { status: req.status as ReportStatus, summaryJson: req.summary_json, error: req.error });
        log(`${req.run?.run_id} ${state}${req.error ? `: ${req.error.split('\n')[0]}` : ''}`);
        return {};
      }),
      GetCode: this.agentCall((req) => {
        const archive = store.codeArchive(req.hash.toLowerCase());
        if (!archive) throw new NotFoundError(`no code snapshot ${req.hash} is recorded here (was its sweep submitted to this coordinator?)`);
        return { archive };
      }),
      Goodbye: this.agentCall((req) => {
        store.goodbye(req.agent_id);
        log(`agent ${req.agent_id} said goodbye`);
        return {};
      }),
      SubmitSweep: this.unary((req) => {
        if (this.closing) throw new ClosingError('the coordinator is exiting (--exit-when-done): start it again to add a sweep');
        const sweep = parseSweepJson(req.sweep_json);
        // A program sweep runs its command on every agent: over the network, only from a client
        // holding the token. Without one (a loopback coordinator) any local user could reach it.
        if (sweep.kind === 'program' && !this.opts.token) {
          throw new ContractError(
            `sweep ${sweep.name} runs a program on every agent: this coordinator takes one from dlphys-coord submit only when it has a token (start it with --token-file); or record it where the coordinator starts, with dlphys-coord sweep FILE`,
          );
        }
        const { existed, runs } = store.addSweep(sweep, req.code_archive.length ? req.code_archive : undefined);
        log(existed ? `sweep ${sweep.name} already recorded: continuing it` : `sweep ${sweep.name}: ${runs} runs queued`);
        if (!existed) writeSweepSpec(this.opts.runsDir, sweep, log);
        return { sweep: sweep.name, runs, existed };
      }),
      Status: this.unary((req) => statusToWire(store.status(req.sweep || undefined, leaseTtlMs), this.health())),
      Cancel: this.unary((req) => {
        const affected = store.cancel(req.target);
        // A whole sweep: its SLURM jobs go too. Not waited for: a busy slurmctld may take longer
        // than the client waits, and the cancel itself is done (a failure is in the log).
        if (!req.target.includes('/')) void this.opts.slurm?.cancelSweep(req.target);
        return { affected };
      }),
      SubmitSlurm: this.unaryAsync(async (req) => {
        if (!this.opts.slurm) throw new ContractError('this coordinator cannot submit SLURM jobs');
        if (this.closing) throw new ClosingError('the coordinator is exiting (--exit-when-done): start it again to submit agents');
        const options = parseSlurmOptionsJson(req.options_json);
        // A job runs as this coordinator's user on the cluster (its setup lines, the coordinator its
        // agents reach, the allocation it spends): only from a client holding the token (any local
        // user reaches a loopback coordinator).
        if (!this.opts.token) {
          throw new ContractError('this coordinator submits SLURM jobs for dlphys-coord slurm only when it has a token (start it with --token-file); or start it with dlphys-coord sweep FILE --slurm');
        }
        const s = await this.opts.slurm.submit(req.sweep, options, req.dry_run);
        return { job_id: s.jobId, script_path: s.scriptPath, script: s.script, warnings: s.warnings };
      }),
      Retry: this.unary((req) => {
        if (this.closing) throw new ClosingError('the coordinator is exiting (--exit-when-done): start it again (dlphys-coord serve) to retry');
        return { affected: store.retry(req.target) };
      }),
      RunDetail: this.unaryAsync((req) => runDetail(store, this.opts.runsDir, req)),
      Watch: (call) => this.watch.handle(call),
    };
  }
}
