import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stamp } from '../../lib/log.js';
import { writeJsonAtomic, type RunSummary } from '../../lib/run/run_folder.js';
import { argsJson, buildProgramCommand, pythonStr, shellQuote } from '../../lib/sweep/program_command.js';
import type { ProgramJob } from '../../lib/sweep/program_sweep.js';
import { version } from '../../lib/version.js';
import { MetricsTail } from './metrics_tail.js';
import { ProgramSummary } from './program_summary.js';

/** One program run as the agent hands it to its runner child (agent/runner/protocol.ts). */
export interface ProgramRunMessage {
  type: 'program';
  job: ProgramJob;
  /** The run's folder is `<runsDir>/<name>`. */
  runsDir: string;
  name: string;
  sweep: string;
  /** `<sweep>/<name>`. */
  runId: string;
  /** Absolute working directory: the run's folder in the code snapshot, or the in-place folder. */
  cwd: string;
  interpreter: string;
  /** A folder to put first on PYTHONPATH (the wandb shim, agent/wandb_shim), or null. */
  shim: string | null;
  /** The real wandb is installed and used: it must not reach the network. */
  wandbOffline: boolean;
}

/** How often the program's metrics.jsonl is read for new rows. */
const TAIL_MS = 200;
/**
 * After SIGTERM, how long a stopped program has to exit before SIGKILL: W&B's agent waits 30 s,
 * and so does this one, unless WANDB_AGENT_KILL_DELAY (W&B's variable) says otherwise.
 */
const KILL_DELAY_MS = (Number(process.env.WANDB_AGENT_KILL_DELAY) > 0 ? Number(process.env.WANDB_AGENT_KILL_DELAY) : 30) * 1000;
/** A program killed by SIGTERM or SIGINT that the agent did not stop (a scheduler signalled every process of the job): how long to wait for the agent's own stop, which decides whether the run is handed back. */
const SIGNAL_GRACE_MS = 3000;
/** How long, after the program exits, its output pipes may stay open (a leftover child holding them) before they are closed. */
const PIPE_GRACE_MS = 2000;
const STDERR_TAIL_BYTES = 8192;
/** Runner variables that are not the program's business. */
const RUNNER_VARIABLES = ['DLPHYS_BACKEND', 'DLPHYS_THREADS'];

/**
 * A program run: the sweep's own program (a PyTorch `train.py`, say) executed as W&B's agent
 * executes it (lib/sweep/program_command.ts), in a process group of its own, so that stopping it
 * stops its workers too, and nothing of it outlives the run: the group is killed when the
 * program exits, when it is stopped past its grace, and (by the agent, which is told its pid)
 * when this runner dies. The run folder gets what a native run's has: config.json (the params and
 * provenance), train.log (the program's stdout and stderr), metrics.jsonl (the program appends to
 * it; tailed here and each row handed to `onMetricsLine` as it appears) and summary.json (the exit
 * code's status, final and best metrics). W&B's sweep-param files are written for `wandb.init`.
 */
export class ProgramRun {
  readonly dir: string;
  private child: ChildProcess | null = null;
  private stopReason: string | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  private stderrTail = '';
  private onStop: (() => void) | null = null;
  /** The program has exited; a stop now changes nothing, unless it is awaited (awaitingStop). */
  private exited = false;
  private awaitingStop = false;

  constructor(
    private readonly msg: ProgramRunMessage,
    private readonly onMetricsLine: (line: string) => void,
    /** The program's pid, which is its process group's id, once it is spawned. */
    private readonly onSpawn: (pgid: number) => void = () => {},
  ) {
    this.dir = path.join(msg.runsDir, msg.name);
  }

  /** Runs the program to its end; resolves with the summary it wrote to summary.json (null when even that failed). Never rejects. */
  async run(): Promise<{ summary: RunSummary | null; error: string | null }> {
    const { msg, dir } = this;
    const started = new Date();
    let logFd: number | null = null;
    const log = (line: string) => {
      if (logFd !== null) writeQuietly(logFd, `${stamp('iso')} ${line}\n`);
    };
    const summary = new ProgramSummary(msg.job.metric);
    const finish = (status: RunSummary['status'], error: string | null, reason: string | null) => {
      if (error) log(error.split('\n')[0]!);
      try {
        const result = summary.summary(dir, {
          name: msg.name,
          status,
          reason,
          wall_time: (Date.now() - started.getTime()) / 1000,
          error,
          started_at: started.toISOString(),
          ended_at: new Date().toISOString(),
        });
        writeJsonAtomic(path.join(dir, 'summary.json'), result);
        return { summary: result, error };
      } catch (err) {
        // A full disk, say: the report still says what happened.
        return { summary: null, error: error ?? `summary.json could not be written: ${(err as Error).message}` };
      }
    };
    try {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      logFd = fs.openSync(path.join(dir, 'train.log'), 'a');
      const argv = this.prepareFolder(started);
      if (!fs.existsSync(msg.cwd)) {
        return finish('failed', `the run's folder ${msg.cwd} does not exist on this host (a sweep with code_dir: false runs in place and needs a shared file system)`, null);
      }
      log(`program run ${msg.runId}: ${argv.map(shellQuote).join(' ')} (in ${msg.cwd})`);
      let rows = 0;
      let warned = false;
      const tail = new MetricsTail(
        path.join(dir, 'metrics.jsonl'),
        (line, row) => {
          rows++;
          summary.add(row);
          this.onMetricsLine(line);
        },
        ({ line, why }) => {
          if (!warned) log(`warning: metrics.jsonl line skipped (${why}): ${line}; rows are JSON objects such as {"step": 10, "loss": 0.5}`);
          warned = true;
        },
      );
      const exit = await this.spawnAndWait(argv, logFd, tail);
      tail.finish();
      if (rows === 0 && msg.wandbOffline) {
        log('warning: the program logged no row to metrics.jsonl: the real wandb logs offline into wandb/ in the run folder; dlphys-agent --wandb-shim streams its metrics instead');
      }
      if (this.stopReason !== null) {
        log(`stopped: ${this.stopReason}`);
        return finish('stopped', null, this.stopReason);
      }
      if (exit.spawnError) return finish('failed', exit.spawnError, null);
      if (exit.code === 0) {
        log('program exited with code 0');
        return finish('completed', null, null);
      }
      return finish('failed', this.describeFailure(argv, exit.code, exit.signal), null);
    } catch (err) {
      return finish('failed', `program run could not start: ${(err as Error).message}`, null);
    } finally {
      if (this.killTimer) clearTimeout(this.killTimer);
      if (logFd !== null) fs.closeSync(logFd);
    }
  }

  /**
   * Asks the program to stop (SIGTERM to its process group), then kills it after the grace. A stop
   * that comes once the program has exited changes nothing: it ended on its own.
   */
  stop(reason: string): void {
    if (this.exited && !this.awaitingStop) return;
    this.stopReason ??= reason;
    this.onStop?.();
    if (!this.child || this.exited) return; // spawnAndWait signals it as soon as it is spawned
    this.signalGroup('SIGTERM');
    this.killTimer ??= setTimeout(() => this.kill(), KILL_DELAY_MS);
  }

  /** Kills the program and everything in its process group, at once. */
  kill(): void {
    this.signalGroup('SIGKILL');
  }

  /** Writes the run's W&B sweep-param files and config.json; returns the command line. */
  private prepareFolder(started: Date): string[] {
    const { msg, dir } = this;
    const { job } = msg;
    const paramDir = path.join(dir, 'wandb', `sweep-${msg.sweep}`);
    fs.mkdirSync(paramDir, { recursive: true });
    const argsJsonFile = path.join(paramDir, `config-${msg.name}.json`);
    fs.writeFileSync(path.join(paramDir, `config-${msg.name}.yaml`), sweepParamYaml(job.params));
    const argv = buildProgramCommand({ command: job.command ?? undefined, program: job.program ?? undefined, params: job.params, interpreter: msg.interpreter, argsJsonFile, env: process.env });
    // W&B writes it only for a command that names it.
    if ((job.command ?? []).some((c) => String(c) === '${args_json_file}')) fs.writeFileSync(argsJsonFile, argsJson(job.params));
    writeJsonAtomic(path.join(dir, 'config.json'), {
      ...job.params,
      provenance: {
        kind: 'program',
        program: job.program,
        command: argv,
        code: job.code,
        cwd: msg.cwd,
        sweep: msg.sweep,
        run_id: msg.runId,
        host: os.hostname(),
        dlphys_version: version,
        started_at: started.toISOString(),
      },
    });
    return argv;
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal); // the whole group, even once its leader is gone
    } catch {
      // nothing left in it
    }
  }

  private spawnAndWait(argv: string[], logFd: number, tail: MetricsTail): Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: string }> {
    const { msg } = this;
    return new Promise((resolve) => {
      const child = spawn(argv[0]!, argv.slice(1), { cwd: msg.cwd, env: this.env(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      this.child = child;
      if (child.pid !== undefined) this.onSpawn(child.pid);
      // A stop asked for while the folder was being written.
      if (this.stopReason !== null) {
        this.signalGroup('SIGTERM');
        this.killTimer ??= setTimeout(() => this.kill(), KILL_DELAY_MS);
      }
      const timer = setInterval(() => tail.poll(), TAIL_MS);
      child.stdout!.on('data', (chunk: Buffer) => writeQuietly(logFd, chunk));
      child.stderr!.on('data', (chunk: Buffer) => {
        writeQuietly(logFd, chunk);
        this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
      });
      let spawnError: string | undefined;
      child.once('error', (err: NodeJS.ErrnoException) => {
        spawnError =
          err.code === 'ENOENT'
            ? `cannot run "${argv[0]}": not found${argv[0] === msg.interpreter ? ' on this host (install it, or give dlphys-agent --interpreter PATH)' : ''}`
            : `cannot run "${argv[0]}": ${err.message}`;
      });
      let settled = false;
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        if (settled) return;
        settled = true;
        clearInterval(timer);
        resolve({ code, signal, ...(spawnError ? { spawnError } : {}) });
      };
      let closed = false;
      child.once('close', (code, signal) => {
        closed = true;
        // A spawn that failed emits 'error' and 'close' but no 'exit'.
        if (child.pid === undefined || spawnError) done(code, signal);
      });
      child.once('exit', async (code, signal) => {
        this.exited = true;
        // What the program left running (a stuck worker, a server it started) goes with it.
        this.signalGroup('SIGKILL');
        // Killed by a signal the agent did not send: a scheduler (scancel, a time limit, systemd)
        // signalled every process. The agent, signalled too, is about to stop the run; wait for it.
        if (this.stopReason === null && (signal === 'SIGTERM' || signal === 'SIGINT')) {
          this.awaitingStop = true;
          await new Promise<void>((r) => {
            const t = setTimeout(r, SIGNAL_GRACE_MS);
            this.onStop = () => {
              clearTimeout(t);
              r();
            };
          });
          this.awaitingStop = false;
        }
        // Its output drained into train.log ('close'), or given up on after a grace.
        if (closed) return done(code, signal);
        const grace = setTimeout(() => {
          child.stdout!.destroy();
          child.stderr!.destroy();
          done(code, signal);
        }, PIPE_GRACE_MS);
        child.once('close', () => {
          clearTimeout(grace);
          done(code, signal);
        });
      });
    });
  }

  /** The program's environment: the agent's (without its secrets), W&B's run variables, ours. */
  private env(): NodeJS.ProcessEnv {
    const { msg, dir } = this;
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of RUNNER_VARIABLES) delete env[name];
    const threads = process.env.DLPHYS_THREADS;
    // A CPU slot's share of the cores, as for native runs, unless the user chose.
    if (threads && env.CUDA_VISIBLE_DEVICES === undefined && env.OMP_NUM_THREADS === undefined) env.OMP_NUM_THREADS = threads;
    Object.assign(env, {
      DLPHYS_RUN_DIR: dir,
      DLPHYS_RUN_ID: msg.runId,
      DLPHYS_SWEEP: msg.sweep,
      DLPHYS_PARAMS_JSON: JSON.stringify(msg.job.params),
      WANDB_RUN_ID: msg.name,
      WANDB_SWEEP_ID: msg.sweep,
      WANDB_SWEEP_PARAM_PATH: path.join(dir, 'wandb', `sweep-${msg.sweep}`, `config-${msg.name}.yaml`),
      WANDB_DIR: dir,
      // Output reaches train.log (and the dashboard) as it is printed, not when a buffer fills.
      PYTHONUNBUFFERED: '1',
    });
    if (msg.shim) env.PYTHONPATH = env.PYTHONPATH ? `${msg.shim}${path.delimiter}${env.PYTHONPATH}` : msg.shim;
    if (msg.wandbOffline) env.WANDB_MODE = 'offline';
    return env;
  }

  /** `program exited with code 1: <its last stderr line>`, then the tail of its stderr. */
  private describeFailure(argv: string[], code: number | null, signal: NodeJS.Signals | null): string {
    const lines = this.stderrTail.split('\n').map((l) => l.trimEnd()).filter(Boolean);
    // `/usr/bin/env python3` when python3 is missing: env says so and exits 127.
    if (code === 127 && argv[0] === '/usr/bin/env' && lines.some((l) => /No such file or directory/.test(l))) {
      return `cannot run "${argv[1]}": not found on this host${argv[1] === this.msg.interpreter ? ' (install it, or give dlphys-agent --interpreter PATH)' : ''}`;
    }
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const last = lines[lines.length - 1];
    return `program ${how}${last ? `: ${last}` : ''}${lines.length > 1 ? `\n${lines.slice(-20).join('\n')}` : ''}`;
  }
}

/** Writes to the run's train.log; a write that fails (a full disk) loses the output, not the run. */
function writeQuietly(fd: number, data: string | Buffer): void {
  try {
    if (typeof data === 'string') fs.writeSync(fd, data);
    else fs.writeSync(fd, data);
  } catch {
    // the report and summary still say how the run ended
  }
}

/**
 * W&B's sweep-param file (`config-<run>.yaml`, `{wandb_version: 1, <param>: {value: ...}}`), which
 * the real wandb reads with PyYAML: YAML 1.1, where `1e-07` is a string, so floats are written as
 * W&B writes them (`1.0e-07`). Written as JSON, which is YAML too, with those numbers.
 */
export function sweepParamYaml(params: Record<string, unknown>): string {
  const values = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, { value: v }]));
  const marked = JSON.stringify({ wandb_version: 1, ...values }, (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? `\u0000${v}` : v), 2);
  // Numbers went through as marked strings; put them back as YAML 1.1 floats.
  return (
    marked.replace(/"\\u0000([^"]+)"/g, (_m, text: string) => {
      const repr = pythonStr(Number(text));
      const e = repr.indexOf('e');
      return e >= 0 && !repr.slice(0, e).includes('.') ? `${repr.slice(0, e)}.0${repr.slice(e)}` : repr;
    }) + '\n'
  );
}
