import { nanoid } from 'nanoid';
import os from 'node:os';
import path from 'node:path';
import { MAX_WASM_THREADS } from '../lib/backend/threads.js';
import { unary } from '../proto/client.js';
import { describeCallError, isDefiniteRefusal, isNotFound } from '../proto/errors.js';
import { RetryStopped, retryWhile } from '../proto/retry.js';
import { toWireRef, type WireRunRef } from '../proto/run_ref.js';
import { AGENT_SECRET_KEY, newAgentSecret } from '../proto/wire.js';
import { drainRuns } from './drain.js';
import { beat } from './heartbeat.js';
import { registerRequest } from './registration.js';
import { HostHealthMonitor } from './host_health.js';
import { ProgramHost } from './program_host.js';
import { buildRunnerBundle } from './launch/bundle.js';
import { RunnerProcess } from './launch/process.js';
import { DEFAULT_REUSE } from './launch/reuse_policy.js';
import { RunTask, type TaskContext } from './run_task.js';
import { Slot, type SlotHost } from './slot.js';
import type { AgentOptions } from './agent_options.js';

export type { AgentOptions } from './agent_options.js';

/** Waits between tries of Register and Lease while the coordinator does not answer (proto/retry.ts). */
const AGENT_BACKOFF = { initialDelayMs: 200, maxDelayMs: 5000 } as const;

/** Refused for a reason retrying cannot fix (wrong token, say): the agent exits with it. */
export class AgentFatalError extends Error {}

/**
 * Leases runs from the coordinator and trains each in its own child process, one per slot.
 * Heartbeats renew the leases and bring back cancel requests; an unreachable coordinator is
 * waited out (training goes on, unacknowledged metrics and reports are resent).
 */
export class Agent {
  readonly id = `${os.hostname()}-${nanoid(6)}`;
  private readonly slots: Slot[] = [];
  /** The compiled runner (agent/launch/bundle.ts), when it could be built. */
  private runnerEntry: string | undefined;
  /**
   * wasm threads per run: the agent's share of the cores for each CPU slot, so slots never
   * oversubscribe the machine (GPU runs ignore it).
   */
  private get threadsPerRun(): number {
    return Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(os.availableParallelism() / this.opts.slots)));
  }
  /** Every run not yet reported: leased ahead, training, or uploading and reporting after training. */
  private readonly tasks = new Map<RunTask, Promise<void>>();
  /** Settles the promise `tasks` holds for a run leased ahead, once it has run or been dropped. */
  private readonly aheadSettled = new Map<RunTask, () => void>();
  /** The lease loop waits for a slot (none idle, none ending soon): a run nearing its end wakes it. */
  private waitingForSlot = false;
  /** The recent Lease round trip (ms, a moving average; the last try of each call). */
  private leaseRtt: number | undefined;
  private readonly slotHost: SlotHost;
  private draining = false;
  private heartbeatMs = 2000;
  private wake: (() => void) | null = null;
  private readonly ctx: TaskContext;
  private stoppedBeforeRegistering = false;
  /** The host's load, sent with every heartbeat. */
  private readonly health: HostHealthMonitor;

  constructor(private readonly opts: AgentOptions) {
    this.health = new HostHealthMonitor({ log: opts.log });
    this.slotHost = {
      spawn: (gpu) => this.spawnRunner(gpu),
      reuse: opts.reuse ?? DEFAULT_REUSE,
      draining: () => this.draining,
      log: opts.log,
      started: (task, done) => {
        const settle = this.aheadSettled.get(task);
        this.aheadSettled.delete(task);
        this.tasks.set(
          task,
          done.finally(() => {
            this.tasks.delete(task);
            settle?.();
            this.wake?.();
          }),
        );
      },
      dropped: (task) => void this.dropAhead(task, 'leased while draining'),
      leaseRoundTrip: () => this.leaseRtt,
      freed: () => this.wake?.(),
    };
    this.ctx = {
      conn: opts.conn,
      agentId: this.id,
      workDir: opts.workDir,
      uploadEverySec: opts.uploadEverySec,
      log: opts.log,
      draining: () => this.draining,
      onProgress: () => {
        for (const slot of this.slots) {
          for (const task of slot.takeAheadIfLong()) void this.dropAhead(task, 'the run before it on its slot is long');
          slot.prepareAhead();
        }
        if (this.waitingForSlot && this.slots.some((s) => s.wantsNext)) this.wake?.();
      },
      programs: new ProgramHost({
        conn: opts.conn,
        agentId: this.id,
        codeDir: path.join(opts.workDir, 'code'),
        interpreter: opts.interpreter,
        forceShim: opts.wandbShim ?? false,
        stopped: () => this.draining,
        log: opts.log,
      }),
    };
  }

  /**
   * Stops leasing, hands back the runs leased ahead, and asks the running runs to stop and hands
   * them back, but for those that finish within --drain-grace (drain.ts); run() then returns.
   * `signal` names what asked, for the log; `graceSec` 0 drains at once. A drain at once during a
   * drain with a grace (SLURM's TERM after its warning) stops the runs still training now.
   */
  drain(signal = 'drain', graceSec = this.opts.drainGraceSec ?? 0): void {
    const training = this.slots.flatMap((s) => (s.training ? [s.training] : []));
    if (this.draining) {
      if (graceSec === 0 && training.length > 0) {
        this.opts.log(`${signal}: stopping the ${training.length} run(s) still training and handing them back`);
        for (const task of training) task.stopForDrain();
      }
      return;
    }
    this.draining = true;
    const stillTraining = (task: RunTask) => this.slots.some((s) => s.training === task);
    this.endDrain = drainRuns({ signal, graceSec, training, stillTraining, log: this.opts.log });
    for (const slot of this.slots) for (const next of slot.takeAhead()) void this.dropAhead(next, 'leased while draining');
    this.wake?.();
  }

  /** Clears the drain's grace timer. */
  private endDrain = () => {};

  async run(): Promise<void> {
    // Compiled while the coordinator answers; until then (or if it fails) runners start through tsx.
    const bundle = buildRunnerBundle();
    // The CPU baseline the first heartbeat's reading is measured from; nvidia-smi asked once.
    await this.health.start();
    try {
      await this.register();
    } catch (err) {
      await bundle; // let the build finish writing before the process exits
      throw err;
    }
    this.runnerEntry = (await bundle) ?? undefined;
    if (this.stoppedBeforeRegistering) return this.opts.log('stopped before the coordinator answered');
    for (let i = 0; i < this.opts.slots; i++) {
      const gpu = this.opts.gpus.length ? this.opts.gpus[i % this.opts.gpus.length] : undefined;
      this.slots.push(new Slot(i, gpu, this.slotHost));
    }
    const heartbeat = setInterval(() => {
      this.opts.onHeartbeat?.();
      void this.heartbeat();
    }, this.heartbeatMs);
    const metrics = setInterval(() => {
      for (const task of this.tasks.keys()) void task.flushMetrics();
    }, 200);
    try {
      try {
        await this.leaseLoop();
      } catch (err) {
        // Refused for good: the runs here can neither be reported nor handed back. Their folders
        // stay on disk (run_task.ts); their leases expire and they are trained elsewhere.
        for (const task of this.tasks.keys()) task.abandon(err instanceof Error ? err.message : String(err));
        await Promise.all(this.tasks.values());
        throw err;
      }
      while (this.tasks.size) await Promise.all(this.tasks.values());
    } finally {
      clearInterval(heartbeat);
      clearInterval(metrics);
      this.endDrain();
      for (const s of this.slots) s.spare?.kill();
      await this.goodbye();
    }
  }

  /** Tells the coordinator this agent is gone (best effort: a short deadline, no retry). */
  private async goodbye(): Promise<void> {
    try {
      await unary(this.opts.conn, 'Goodbye', { agent_id: this.id }, 2000);
    } catch {
      // It will notice the silence within 2 lease TTLs all the same.
    }
  }

  /**
   * Throws when the coordinator has been unreachable for longer than --connect-timeout since
   * `since` (the first failure of this stretch); a no-op without a timeout.
   */
  private checkConnectTimeout(since: number, err: unknown): void {
    const limit = this.opts.connectTimeoutMs ?? 0;
    if (limit > 0 && Date.now() - since >= limit) {
      throw new AgentFatalError(`${describeCallError(this.opts.conn.address, err)}; gave up after --connect-timeout ${Math.round(limit / 1000)} s`);
    }
  }

  private async register(): Promise<void> {
    // Proposed by the agent and sent from the first try, so a Register repeated after a lost
    // reply is recognised as this agent's, not refused as a live agent's id.
    if (!this.opts.conn.metadata.get(AGENT_SECRET_KEY).length) this.opts.conn.metadata.set(AGENT_SECRET_KEY, newAgentSecret());
    const since = Date.now();
    let reply;
    try {
      reply = await retryWhile(
        () =>
          unary(this.opts.conn, 'Register', registerRequest(this.id, this.opts)),
        {
          onRetry: (err, failures) => {
            this.checkConnectTimeout(since, err);
            if (failures === 1) this.opts.log(`${describeCallError(this.opts.conn.address, err)}; retrying`);
          },
          stopped: () => this.draining,
          ...AGENT_BACKOFF,
          sleep: (ms) => this.sleep(ms),
        },
      );
    } catch (err) {
      if (err instanceof RetryStopped) {
        this.stoppedBeforeRegistering = true;
        return;
      }
      throw this.fatal(err);
    }
    this.heartbeatMs = reply.heartbeat_ms || this.heartbeatMs;
    // Every later call of this agent carries it (proto/dlphys.proto's header).
    this.opts.conn.metadata.set(AGENT_SECRET_KEY, reply.agent_secret);
    this.opts.log(
      `registered as ${this.id} with ${this.opts.conn.address}: ${this.opts.slots} slot(s)${this.opts.gpus.length ? ` on GPU ${this.opts.gpus.join(',')}` : ''}` +
        (this.opts.programsOnly ? ', program sweeps only' : this.opts.nativeOnly ? ", dlphys's own sweeps only" : ''),
    );
  }

  /** A definite refusal as the agent's fatal error (one line naming the address); anything else as it is. */
  private fatal(err: unknown): unknown {
    return isDefiniteRefusal(err) ? new AgentFatalError(describeCallError(this.opts.conn.address, err)) : err;
  }

  private spawnRunner(gpu: string | undefined): RunnerProcess {
    return new RunnerProcess({ backend: this.opts.programsOnly ? 'none' : this.opts.backend, cudaVisibleDevices: gpu, threads: this.threadsPerRun, ...(this.runnerEntry ? { entry: this.runnerEntry } : {}) });
  }

  private async leaseLoop(): Promise<void> {
    const pollMs = this.opts.pollMs ?? 1000;
    // One id per lease asked for, kept when the call is repeated after a failure: a reply lost
    // on the way is answered again instead of leasing more runs (proto LeaseRequest.request_id).
    let requestId = nanoid();
    // When the coordinator first failed to answer in this stretch, and whether that was logged:
    // kept across a registration again, so one outage gives one line and one connect timeout.
    let failingSince: number | null = null;
    let warned = false;
    /** A Lease that got no answer: it may have leased runs, which a drain must hand back. */
    let unanswered = false;
    while (!this.draining) {
      // Idle slots first, then slots whose run ends soon (their next run is leased ahead).
      const wanting = () => [...this.slots.filter((s) => s.ready), ...this.slots.filter((s) => s.wantsNext)];
      let free = wanting();
      // Runs that trained but that the coordinator cannot take for now (a full disk, say) are
      // bounded: past 2 per slot the agent trains nothing new until they are taken.
      if (free.length === 0 || [...this.tasks.keys()].filter((t) => t.backlogged).length >= 2 * this.opts.slots) {
        this.waitingForSlot = true;
        await this.sleep(60_000); // woken when a slot frees, a task ends or a run nears its end
        this.waitingForSlot = false;
        continue;
      }
      let reply;
      let leaseSent = Date.now();
      try {
        reply = await retryWhile(
          () => {
            // Slots may have freed while the coordinator did not answer: ask for them too.
            free = wanting();
            unanswered = true;
            leaseSent = Date.now();
            return unary(this.opts.conn, 'Lease', { agent_id: this.id, max_runs: free.length, request_id: requestId, programs_only: this.opts.programsOnly ?? false, native_only: this.opts.nativeOnly ?? false });
          },
          {
            // NOT_FOUND: the coordinator does not know this agent (below).
            final: (err) => isDefiniteRefusal(err) || isNotFound(err),
            onRetry: (err) => {
              // Running runs go on meanwhile; only an agent with nothing to do gives up.
              failingSince ??= Date.now();
              if (this.tasks.size === 0) this.checkConnectTimeout(failingSince, err);
              else failingSince = Date.now();
              if (!warned) this.opts.log(`lease: ${describeCallError(this.opts.conn.address, err)}; retrying`);
              warned = true;
            },
            stopped: () => this.draining,
            ...AGENT_BACKOFF,
            sleep: (ms) => this.sleep(ms),
          },
        );
      } catch (err) {
        if (err instanceof RetryStopped) break;
        if (!isNotFound(err)) throw this.fatal(err);
        // The coordinator does not know this agent (it was started on another database).
        this.opts.log(`the coordinator at ${this.opts.conn.address} does not know this agent: registering again`);
        await this.register();
        continue;
      }
      requestId = nanoid();
      unanswered = false;
      if (warned) this.opts.log(`the coordinator at ${this.opts.conn.address} answers again`);
      failingSince = null;
      warned = false;
      if (this.draining) {
        // Ctrl-C came while this lease was in flight: give the runs straight back.
        for (const run of reply.runs) void this.handBack(run.run!, 'leased while draining');
        break;
      }
      const answered = Date.now();
      this.leaseRtt = this.leaseRtt === undefined ? answered - leaseSent : 0.8 * this.leaseRtt + 0.2 * (answered - leaseSent);
      reply.runs.forEach((run, i) => this.assign(free[i]!, new RunTask(this.ctx, run, { sent: leaseSent, answered, slot: free[i]!.index })));
      if (reply.runs.length > 0) continue;
      if (this.opts.exitWhenIdle && this.tasks.size === 0 && reply.unfinished === 0) {
        this.opts.log('idle: no run left in any sweep; exiting');
        return;
      }
      await this.sleep(pollMs);
    }
    if (unanswered) await this.handBackUnanswered(requestId);
  }

  /** Draining after a Lease that got no answer: asks once more under its id and hands back what it had leased. */
  private async handBackUnanswered(requestId: string): Promise<void> {
    try {
      const reply = await unary(this.opts.conn, 'Lease', { agent_id: this.id, max_runs: 0, request_id: requestId }, 2000);
      await Promise.all(reply.runs.map((run) => this.handBack(run.run!, 'leased while draining')));
    } catch {
      // Unreachable still: those leases expire.
    }
  }

  /** Gives a leased run to its slot: trained now if the slot is idle, else next, tracked (heartbeats renew its lease) until it has run. */
  private assign(slot: Slot, task: RunTask): void {
    if (!slot.idle) this.tasks.set(task, new Promise<void>((resolve) => this.aheadSettled.set(task, resolve)));
    slot.assign(task);
  }

  /** A run leased ahead that will not run here: handed back (unless it was lost), and no longer tracked. */
  private async dropAhead(task: RunTask, why: string): Promise<void> {
    if (!task.isLost) await this.handBack(toWireRef(task.ref), why);
    this.tasks.delete(task);
    this.aheadSettled.get(task)?.();
    this.aheadSettled.delete(task);
    this.wake?.();
  }

  private async handBack(ref: WireRunRef, why: string): Promise<void> {
    try {
      await unary(this.opts.conn, 'Report', { run: ref, agent_id: this.id, status: 'handback', summary_json: '', error: '' });
      this.opts.log(`handed back ${ref.run_id} (${why})`);
    } catch {
      // Its lease expires and the run is queued again all the same.
    }
  }

  /** The heartbeat in flight, if any: a slow one is not overtaken by the next tick. */
  private beating = false;

  private async heartbeat(): Promise<void> {
    if (this.beating) return;
    this.beating = true;
    try {
      // Never waits on nvidia-smi and never fails (host_health.ts): the leases come first.
      const health = await this.health.read();
      await beat({
        conn: this.opts.conn,
        agentId: this.id,
        tasks: [...this.tasks.keys()],
        health,
        periodMs: this.heartbeatMs,
        log: this.opts.log,
        // Cancelled or stopped before it started: handed back, the coordinator records it so.
        stopped: (task) => {
          if (this.slots.some((slot) => slot.withdraw(task))) void this.dropAhead(task, 'stopped before it started');
        },
      });
    } finally {
      this.beating = false;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
