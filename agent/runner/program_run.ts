import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { stamp } from '../../lib/log.js';
import { writeJsonAtomic, type RunSummary } from '../../lib/run/run_folder.js';
import { argsJson, buildProgramCommand } from '../../lib/sweep/program_command.js';
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
/** After SIGTERM, how long a stopped program has to exit before SIGKILL (W&B's agent waits 30 s). */
const KILL_DELAY_MS = 10_000;
const STDERR_TAIL_BYTES = 8192;
/** Runner variables that are not the program's business. */
const RUNNER_VARIABLES = ['DLPHYS_BACKEND', 'DLPHYS_THREADS'];

/**
 * A program run: the sweep's own program (a PyTorch `train.py`, say) executed as W&B's agent
 * executes it (lib/sweep/program_command.ts), in a process group of its own so that stopping it
 * stops its workers too. The run folder gets what a native run's has: config.json (the params and
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

  constructor(
    private readonly msg: ProgramRunMessage,
    private readonly onMetricsLine: (line: string) => void,
  ) {
    this.dir = path.join(msg.runsDir, msg.name);
  }

  /** Runs the program to its end; resolves with the summary it wrote to summary.json. Never rejects for the program's sake. */
  async run(): Promise<{ summary: RunSummary; error: string | null }> {
    const { msg, dir } = this;
    const { job } = msg;
    const started = new Date();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const logFd = fs.openSync(path.join(dir, 'train.log'), 'a');
    const log = (line: string) => fs.writeSync(logFd, `${stamp('iso')} ${line}\n`);
    const summary = new ProgramSummary(job.metric);
    const finish = (status: RunSummary['status'], error: string | null, reason: string | null) => {
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
    };
    try {
      // W&B's sweep-param files, where its SDK (and the shim) look for them at wandb.init.
      const paramDir = path.join(dir, 'wandb', `sweep-${msg.sweep}`);
      fs.mkdirSync(paramDir, { recursive: true });
      const paramFile = path.join(paramDir, `config-${msg.name}.yaml`);
      const argsJsonFile = path.join(paramDir, `config-${msg.name}.json`);
      const asValues = Object.fromEntries(Object.entries(job.params).map(([k, v]) => [k, { value: v }]));
      fs.writeFileSync(paramFile, toYaml({ wandb_version: 1, ...asValues }));
      const argv = buildProgramCommand({ command: job.command ?? undefined, program: job.program ?? undefined, params: job.params, interpreter: msg.interpreter, argsJsonFile, env: process.env });
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
      if (!fs.existsSync(msg.cwd)) {
        const error = `the run's folder ${msg.cwd} does not exist on this host (a sweep with code_dir: false runs in place and needs a shared file system)`;
        log(error);
        return finish('failed', error, null);
      }
      log(`program run ${msg.runId}: ${argv.map(quoteArg).join(' ')} (in ${msg.cwd})`);

      const tail = new MetricsTail(
        path.join(dir, 'metrics.jsonl'),
        (line, row) => {
          summary.add(row);
          this.onMetricsLine(line);
        },
        (() => {
          let warned = false;
          return ({ line, why }) => {
            if (!warned) log(`warning: metrics.jsonl line skipped (${why}): ${line}; rows are JSON objects such as {"step": 10, "loss": 0.5}`);
            warned = true;
          };
        })(),
      );
      const exit = await this.spawnAndWait(argv, logFd, tail);
      tail.finish();
      if (this.stopReason !== null) {
        log(`stopped: ${this.stopReason}`);
        return finish('stopped', null, this.stopReason);
      }
      if (exit.spawnError) {
        log(exit.spawnError);
        return finish('failed', exit.spawnError, null);
      }
      if (exit.code === 0) {
        log('program exited with code 0');
        return finish('completed', null, null);
      }
      const error = this.describeFailure(argv, exit.code, exit.signal);
      log(error.split('\n')[0]!);
      return finish('failed', error, null);
    } catch (err) {
      const error = `program run could not start: ${(err as Error).message}`;
      try {
        log(error);
      } catch {
        // the log itself failed: the report carries the error
      }
      return finish('failed', error, null);
    } finally {
      if (this.killTimer) clearTimeout(this.killTimer);
      fs.closeSync(logFd);
    }
  }

  /** Asks the program to stop (SIGTERM to its process group), then kills it after a grace period. */
  stop(reason: string): void {
    this.stopReason ??= reason;
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.signalGroup('SIGTERM');
    this.killTimer ??= setTimeout(() => this.kill(), KILL_DELAY_MS);
  }

  /** Kills the program and everything it started, at once. */
  kill(): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.signalGroup('SIGKILL');
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }

  private spawnAndWait(argv: string[], logFd: number, tail: MetricsTail): Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: string }> {
    const { msg } = this;
    return new Promise((resolve) => {
      const child = spawn(argv[0]!, argv.slice(1), { cwd: msg.cwd, env: this.env(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      this.child = child;
      // A stop asked for while the folder was being written.
      if (this.stopReason !== null) this.stop(this.stopReason);
      const timer = setInterval(() => tail.poll(), TAIL_MS);
      child.stdout!.on('data', (chunk: Buffer) => fs.writeSync(logFd, chunk));
      child.stderr!.on('data', (chunk: Buffer) => {
        fs.writeSync(logFd, chunk);
        this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
      });
      let spawnError: string | undefined;
      child.once('error', (err: NodeJS.ErrnoException) => {
        spawnError =
          err.code === 'ENOENT'
            ? `cannot run "${argv[0]}": not found${argv[0] === msg.interpreter ? ' (install it, or give dlphys-agent --interpreter PATH)' : ''}`
            : `cannot run "${argv[0]}": ${err.message}`;
      });
      // 'close': the process exited and its output pipes are drained into train.log.
      child.once('close', (code, signal) => {
        clearInterval(timer);
        resolve({ code, signal, ...(spawnError ? { spawnError } : {}) });
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

/** An argument as a shell would need it quoted, for the log line only. */
function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
