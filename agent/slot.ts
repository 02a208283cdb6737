import type { RunnerProcess } from './launch/process.js';
import type { ReusePolicy } from './launch/reuse_policy.js';
import type { RunTask } from './run_task.js';

/**
 * A run that will end within this long has its slot's next run leased ahead: the lease round trip
 * (which a coordinator busy with many slots' metrics and uploads answers in tens of ms on a loaded
 * host) is then off the path from one run's last step to the next one's first. Short enough that
 * a run held ahead never waits long while another agent idles.
 */
export const LEASE_AHEAD_MS = 1000;

/** A run held ahead of one that will not end within this long goes back to the queue. */
const HAND_BACK_AFTER_MS = 10 * LEASE_AHEAD_MS;

/** Runs a slot holds leased ahead at most: runs shorter than a lease round trip need more than one. */
export const MAX_AHEAD = 4;

/** What a slot needs from its agent. */
export interface SlotHost {
  spawn(gpu: string | undefined): RunnerProcess;
  readonly reuse: ReusePolicy;
  draining(): boolean;
  log(line: string): void;
  /** The agent's recent Lease round trip (ms), or undefined before one. */
  leaseRoundTrip(): number | undefined;
  /** A run began on the slot; `done` settles once it is reported (or given up). */
  started(task: RunTask, done: Promise<void>): void;
  /** A run leased ahead will not run here (the agent is draining, or it was lost): hand it back. */
  dropped(task: RunTask): void;
  /** The slot can take a run now (wakes the lease loop). */
  freed(): void;
}

/**
 * One training process at a time: the slot's runner trains its runs in turn until its reuse
 * policy retires it (launch/reuse_policy.ts), and a replacement is spawned at once, so it loads
 * tfjs while the slot leases. A run frees the slot when training ends, its upload and report
 * going on beside the next run; a run leased ahead starts that same moment.
 */
export class Slot {
  /** Warm (or warming) process for the slot's next run: the last run's, or a new one; null while one is training. */
  spare: RunnerProcess | null;
  /** The run training here, if any. */
  training: RunTask | null = null;
  /** Runs leased ahead, in order, the first to start when the training one ends. */
  private readonly ahead: RunTask[] = [];
  /** The process training now, and the run leased ahead that it has prepared (runner/main.ts). */
  private trainingOn: RunnerProcess | null = null;
  private preparedAhead: RunTask | null = null;
  /** When the run training here was handed to its process (performance.now()). */
  private startedAt = 0;
  /** How long the slot's last run of each sweep took, job handed over to done (ms). */
  private readonly lastTook = new Map<string, number>();

  constructor(
    readonly index: number,
    readonly gpu: string | undefined,
    private readonly host: SlotHost,
  ) {
    this.spare = this.warm(host.spawn(gpu));
  }

  /** `runner`, with the agent told when it has loaded (a lease may then bring this slot a run). */
  private warm(runner: RunnerProcess): RunnerProcess {
    void runner.ready.then(
      () => this.host.freed(),
      () => this.host.freed(),
    );
    return runner;
  }

  /** Nothing training: a run may start here. */
  get idle(): boolean {
    return this.training === null;
  }

  /**
   * Idle, with a process that has loaded tfjs (or has failed to: its run then fails at once): a
   * lease may bring it a run. A run is not leased to wait for a process still loading, while
   * another agent's slot could have started it.
   */
  get ready(): boolean {
    return this.training === null && (this.spare === null || this.spare.settled);
  }

  /**
   * Its run ends soon and fewer runs than it needs are leased after it: a lease may bring one
   * more ahead. Soon: by the pace of its steps so far, or, before it has reported one, because the
   * slot's last run of the same sweep took no longer than LEASE_AHEAD_MS (short runs end before
   * their first row arrives). It needs one run ahead, or, when its runs are shorter than a lease
   * round trip, enough to cover one (at most MAX_AHEAD).
   */
  get wantsNext(): boolean {
    const run = this.training;
    if (run === null || this.host.draining()) return false;
    const took = this.lastTook.get(run.sweep);
    const rtt = this.host.leaseRoundTrip();
    const depth = took !== undefined && rtt !== undefined ? Math.min(MAX_AHEAD, 1 + Math.floor(rtt / Math.max(took, 1))) : 1;
    if (this.ahead.length >= depth) return false;
    // The last run's length stands in only until this one's own pace is known.
    return run.progress.paced ? run.progress.endsWithin(LEASE_AHEAD_MS) : took !== undefined && took <= LEASE_AHEAD_MS;
  }

  /**
   * Runs held ahead of a run whose own pace now says it will not end soon (its slot's last run was
   * short, this one is not): taken back, for the agent to hand back, so that another agent's idle
   * slot can have them instead of waiting for this run.
   */
  takeAheadIfLong(): RunTask[] {
    const run = this.training;
    if (run === null || this.ahead.length === 0 || !run.progress.paced) return [];
    // Ten times the window it was leased in: a run that slows down on a loaded host keeps what it
    // leased; only one clearly longer (a real run after short ones) gives it back.
    return run.progress.endsWithin(HAND_BACK_AFTER_MS) ? [] : this.takeAhead();
  }

  /** Runs leased ahead, not started yet. */
  get queued(): number {
    return this.ahead.length;
  }

  /** Trains `task` now when idle, else holds it leased ahead. */
  assign(task: RunTask): void {
    const where = `slot ${this.index}${this.gpu !== undefined ? ` (GPU ${this.gpu})` : ''}`;
    const after = this.ahead.at(-1) ?? this.training;
    this.host.log(`leased ${task.ref.runId} (attempt ${task.ref.attempt}) on ${where}${after ? `, to start after ${after.ref.runId}` : ''}`);
    if (this.training === null) this.start(task);
    else {
      this.ahead.push(task);
      this.prepareAhead();
    }
  }

  /** Takes `task` back if it waits here leased ahead (it was cancelled); false if it is not waiting here. */
  withdraw(task: RunTask): boolean {
    const at = this.ahead.indexOf(task);
    if (at < 0) return false;
    if (this.preparedAhead === task) this.unprepareAhead();
    this.ahead.splice(at, 1);
    this.prepareAhead();
    return true;
  }

  /** Takes back the runs leased ahead (the agent is draining). */
  takeAhead(): RunTask[] {
    this.unprepareAhead();
    return this.ahead.splice(0);
  }

  /**
   * The first run leased ahead is built by the process training now (its data and model) once the
   * run it trains will end within LEASE_AHEAD_MS, so that only the hand-over stands between the two
   * runs' training. Only the first, and only in that last second: a process holds two runs' models
   * (on a GPU, two in its memory) no longer than that. Called again as the run reports progress.
   * If the process is replaced after its run instead, the prepared run is freed there and the next
   * process builds it again.
   */
  prepareAhead(): void {
    const next = this.ahead[0];
    const job = next?.trainerJob;
    if (!next || !job || this.preparedAhead === next || this.trainingOn === null || this.host.reuse.maxRuns === 1) return;
    if (!this.endsSoon()) return;
    this.unprepareAhead();
    this.trainingOn.prepare(job);
    this.preparedAhead = next;
  }

  /**
   * The run training here will end within LEASE_AHEAD_MS: by its pace, or, before it has one,
   * because it has trained for less than its slot's last run of the sweep took, which was short.
   */
  private endsSoon(): boolean {
    const run = this.training;
    if (run === null) return false;
    if (run.progress.paced) return run.progress.endsWithin(LEASE_AHEAD_MS);
    const took = this.lastTook.get(run.sweep);
    return took !== undefined && took <= LEASE_AHEAD_MS && performance.now() - this.startedAt <= LEASE_AHEAD_MS;
  }

  /** The prepared run will not start on this process: its model, data and folder go. */
  private unprepareAhead(): void {
    const job = this.preparedAhead?.trainerJob;
    if (job && this.trainingOn) this.trainingOn.unprepare(job);
    this.preparedAhead = null;
  }

  private start(task: RunTask): void {
    this.training = task;
    // A spare that died while it waited (the OOM killer, say) is replaced, not handed a run to fail.
    const runner = this.spare && !(this.spare.settled && !this.spare.reusable) ? this.spare : this.host.spawn(this.gpu);
    const reuse = this.host.reuse;
    // One process per run (maxRuns 1): the next run's process warms up while this one trains.
    // Otherwise this one is kept for the next run, unless the run gives a reason to replace it.
    this.spare = reuse.maxRuns === 1 && !task.isProgram ? this.warm(this.host.spawn(this.gpu)) : null;
    // Prepared on the process that trained the run before this one: built there, or not at all.
    if (this.preparedAhead !== task || this.trainingOn !== runner) this.unprepareAhead();
    this.preparedAhead = null;
    this.trainingOn = runner;
    const began = performance.now();
    this.startedAt = began;
    const freeSlot = () => {
      if (this.training !== task) return;
      this.training = null;
      // Only a run that ran to its end says how long the sweep's runs take.
      if (task.completedNormally) this.lastTook.set(task.sweep, performance.now() - began);
      const draining = this.host.draining();
      // A run prepared here that will not be the next to start on this process (it was lost, or
      // the agent is draining) is freed; one that will start here is kept by start().
      const next = this.ahead[0];
      if (this.preparedAhead !== null && (this.preparedAhead !== next || draining || next.isLost)) this.unprepareAhead();
      // A process that trains no more frees what it prepared first (the message goes before the
      // channel closes): its next run starts on another process, which builds it again.
      if (task.isLost) {
        this.unprepareAhead();
        runner.kill();
      } else if (this.spare || draining) {
        this.unprepareAhead();
        runner.release();
      } else {
        const why = runner.retireReason(reuse);
        if (why === null) this.spare = runner;
        else {
          this.unprepareAhead();
          runner.release();
          // Replacing after every run is what one process per run means: nothing to say then.
          if (reuse.maxRuns > 1) this.host.log(`slot ${this.index}: a new runner process (pid ${runner.pid} retired: ${why})`);
        }
      }
      if (!this.spare && !draining) this.spare = this.warm(this.host.spawn(this.gpu));
      // The runs leased ahead: the first one that can still run starts now; lost ones, or all of
      // them when the agent is draining, go back.
      while (this.ahead.length > 0) {
        const next = this.ahead.shift()!;
        if (draining || next.isLost) this.host.dropped(next);
        else {
          this.start(next);
          break;
        }
      }
      this.host.freed();
    };
    const done = task
      .execute(runner, freeSlot)
      .catch((err) => this.host.log(`${task.ref.runId}: ${(err as Error).message}`))
      .finally(freeSlot);
    this.host.started(task, done);
    this.prepareAhead();
  }
}
