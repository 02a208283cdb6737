import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { packagePath } from '../../lib/package_dir.js';
import type { RunSummary } from '../../lib/run/run_folder.js';
import type { FromRunner, RunJob, RunnerHeld, RunnerMarks, ToRunner } from '../runner/protocol.js';
import { retireReason, type ReusePolicy, type RunnerRecord } from './reuse_policy.js';

/** The runner through tsx, from the TypeScript sources; agents pass their compiled one instead. */
export const TSX_ENTRY = packagePath('agent', 'runner', 'entry.js');
const STDERR_TAIL = 4096;
/** The runner's niceness (agent's + this): see the constructor. */
const RUNNER_NICE = 5;
/** The coordinator's secret: a run (its config's callbacks, a user's program) has no business seeing it. */
const SECRET_VARIABLES = ['DLPHYS_TOKEN', 'DLPHYS_TOKEN_FILE'];

/** The agent's environment without its secrets: what a runner child starts from. */
export function runnerEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of SECRET_VARIABLES) delete out[name];
  return out;
}

export interface RunOutcome {
  summary: RunSummary | null;
  error: string | null;
  /** What the runner held after a dlphys run (runner/protocol.ts). */
  held?: RunnerHeld;
  /** When it received the run and ended each phase (runner/protocol.ts). */
  marks?: RunnerMarks;
}

/**
 * One runner child as the agent sees it: spawned warm (tfjs loaded, backend chosen), then given
 * runs one at a time for as long as its reuse policy allows (retireReason). Its stderr tail is
 * kept so a crash can be reported with its last words.
 */
export class RunnerProcess {
  readonly ready: Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private stderrTail = '';
  private onMetrics: ((line: string) => void) | null = null;
  private resolveDone: ((outcome: RunOutcome) => void) | null = null;
  private earlyDone: RunOutcome | null = null;
  /**
   * dlphys runs this process has trained (or started). Program runs do not count: their program is
   * a process of its own, which leaves nothing behind in this one, so the warm process (and its
   * loaded tfjs) serves the slot's next run whatever --runs-per-process says.
   */
  runs = 0;
  /** A stop asked for before the job reached the child (it was still loading): sent right after it. */
  private stopBeforeJob: string | null = null;
  /** The process group of the program this runner is running (a program run), killed with the runner. */
  private programGroup: number | null = null;
  private jobSent = false;
  /** The name of the run given to run() and not yet done. */
  private current: string | null = null;
  /** Loaded (ready) or failed to: it will not make a run wait for tfjs to load. */
  settled = false;
  private readonly spawnedAt = performance.now();
  /** What it held when ready, and after its first dlphys run (reuse_policy.ts). */
  private atReady: RunnerHeld | null = null;
  private afterFirst: RunnerHeld | null = null;
  /** Its last dlphys run's outcome (program runs leave it as it was). */
  private lastRun: RunOutcome | null = null;

  constructor(env: { backend: string; cudaVisibleDevices?: string | undefined; threads: number; entry?: string }) {
    this.child = fork(env.entry ?? TSX_ENTRY, [], {
      execArgv: [],
      env: {
        ...runnerEnv(),
        DLPHYS_BACKEND: env.backend,
        DLPHYS_THREADS: String(env.threads),
        ...(env.cudaVisibleDevices !== undefined ? { CUDA_VISIBLE_DEVICES: env.cudaVisibleDevices } : {}),
      },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    // Training yields the CPU to the agent and the coordinator on a loaded host: their heartbeats,
    // leases and reports are short, and everything waits on them (5 nicer than the agent).
    try {
      if (this.child.pid !== undefined) os.setPriority(this.child.pid, Math.min(19, os.getPriority() + RUNNER_NICE));
    } catch {
      // Not permitted here: the runner keeps the agent's priority.
    }
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        // A runner that died (killed, out of memory) cannot stop its program: it goes here.
        this.killProgram();
        resolve({ code, signal });
      }),
    );
    this.ready = new Promise((resolve, reject) => {
      this.child.on('message', (message: FromRunner) => {
        if (message.type === 'ready') {
          this.atReady = message.held;
          resolve(message.backend);
        }
        else if (message.type === 'metrics') this.onMetrics?.(message.line);
        else if (message.type === 'program_pid') this.programGroup = message.pid;
        else if (message.type === 'done') {
          this.programGroup = null;
          const outcome: RunOutcome = { summary: message.summary, error: message.error, ...(message.held ? { held: message.held } : {}), ...(message.marks ? { marks: message.marks } : {}) };
          if (this.resolveDone) {
            this.resolveDone(outcome);
            this.resolveDone = null;
          }
          else {
            this.earlyDone = outcome;
            reject(new Error(message.error ?? 'runner ended before it was ready'));
          }
        }
      });
      void this.exited.then(({ code, signal }) => reject(new Error(this.describeExit(code, signal))));
    });
    this.ready.then(
      () => (this.settled = true),
      () => (this.settled = true), // observed by whoever awaits it; never an unhandled rejection
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The last few KiB the child wrote to stderr (a run's own output goes to its train.log). */
  get stderr(): string {
    return this.stderrTail;
  }

  /**
   * Trains one run; resolves when the child reports it done or dies (a death is a failed run).
   * `onSent` marks the job's handing over; `stopAtOnce` stops it as soon as it starts (cancelled
   * while it waited).
   */
  async run(job: RunJob, onMetrics: (line: string) => void, onSent: () => void = () => {}, stopAtOnce: string | null = null): Promise<RunOutcome> {
    this.current = job.name;
    this.stopBeforeJob = stopAtOnce;
    try {
      return await this.runJob(job, onMetrics, onSent);
    } finally {
      // Whatever stop was meant for this run ends with it.
      this.current = null;
      this.jobSent = false;
      this.stopBeforeJob = null;
      this.onMetrics = null;
    }
  }

  private async runJob(job: RunJob, onMetrics: (line: string) => void, onSent: () => void): Promise<RunOutcome> {
    // A run leased right after the previous one ended may find its process still loading tfjs.
    try {
      await this.ready;
    } catch (err) {
      return this.earlyDone ?? { summary: null, error: (err as Error).message };
    }
    if (job.type === 'run') this.runs += 1;
    this.jobSent = false;
    this.onMetrics = onMetrics;
    const done = new Promise<RunOutcome>((resolve) => {
      this.resolveDone = resolve;
      void this.exited.then(({ code, signal }) => resolve({ summary: null, error: this.describeExit(code, signal) }));
    });
    this.send(job);
    onSent();
    this.jobSent = true;
    if (this.stopBeforeJob !== null) this.send({ type: 'stop', reason: this.stopBeforeJob, run: job.name });
    this.stopBeforeJob = null;
    const outcome = await done;
    if (job.type === 'run') {
      this.lastRun = outcome;
      if (this.runs === 1) this.afterFirst = outcome.held ?? null;
    }
    return outcome;
  }

  /**
   * Why this process must not train another run (in words for the agent's log), or null when it
   * may: it has exited, or its reuse policy retires it (reuse_policy.ts).
   */
  retireReason(policy: ReusePolicy): string | null {
    if (!this.reusable) return 'it has exited';
    if (this.lastRun === null || this.atReady === null) return null;
    const record: RunnerRecord = { runs: this.runs, ageMs: performance.now() - this.spawnedAt, atReady: this.atReady, afterFirst: this.afterFirst, last: this.lastRun };
    return retireReason(record, policy);
  }

  /** Alive and connected: can take another run. */
  get reusable(): boolean {
    return this.child.connected && this.child.exitCode === null && this.earlyDone === null;
  }

  /**
   * Has the child build a dlphys run now, while another trains, so that it starts at once when
   * run() sends it (runner/main.ts); unprepare() when it will not run here after all.
   */
  prepare(job: RunJob): void {
    if (job.type === 'run') this.send({ ...job, type: 'prepare' });
  }

  /** Frees what prepare() built (its folder included). */
  unprepare(job: RunJob): void {
    if (job.type === 'run') this.send({ type: 'unprepare', runsDir: job.runsDir, name: job.name });
  }

  /** Lets the process end on its own (it exits when the channel closes). */
  release(): void {
    if (this.child.connected) this.child.disconnect();
    // A process that does not end within a few seconds is killed.
    setTimeout(() => this.kill(), 5000).unref();
  }

  /** Stops the run in progress (sent with it if it has not reached the child yet); nothing without one. */
  stop(reason: string): void {
    if (this.current === null) return;
    if (this.jobSent) this.send({ type: 'stop', reason, run: this.current });
    else this.stopBeforeJob = reason;
  }

  kill(): void {
    this.killProgram();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  /** SIGKILL to the process group of the program run in progress, if any. */
  private killProgram(): void {
    if (this.programGroup === null) return;
    try {
      process.kill(-this.programGroup, 'SIGKILL');
    } catch {
      // already gone
    }
    this.programGroup = null;
  }

  private send(message: ToRunner): void {
    if (this.child.connected) this.child.send(message);
  }

  private describeExit(code: number | null, signal: NodeJS.Signals | null): string {
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const tail = this.stderrTail.trim().split('\n').slice(-5).join(' | ');
    return `runner process ${how}${tail ? `: ${tail}` : ''}`;
  }
}
