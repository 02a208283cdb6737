import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packagePath } from '../lib/package_dir.js';
import { extractCodeSnapshot } from '../lib/sweep/code_snapshot.js';
import type { ProgramJob } from '../lib/sweep/program_sweep.js';
import { unary, type Connection } from '../proto/client.js';
import { callDetails, isDefiniteRefusal, isNotFound } from '../proto/errors.js';
import { retryWhile } from '../proto/retry.js';
import { UsageError } from '../lib/errors.js';
import { runnerEnv } from './launch/process.js';

/** The wandb-compatible module put on PYTHONPATH for program runs (agent/wandb_shim/README.md). */
export const WANDB_SHIM_DIR = packagePath('agent', 'wandb_shim');

/** What a ProgramHost works with: the agent's connection and id, where it caches code, and its flags. */
export interface ProgramHostOptions {
  conn: Connection;
  agentId: string;
  /** Where snapshots are cached: `<codeDir>/<hash>/`. */
  codeDir: string;
  /** The interpreter for `${interpreter}` (resolveInterpreter). */
  interpreter: string;
  /** --wandb-shim: always the shim; otherwise the shim only where the interpreter cannot import the real wandb. */
  forceShim: boolean;
  /** True once the agent is shutting down: a code fetch in progress gives up. */
  stopped: () => boolean;
  log: (line: string) => void;
}

/** What a program run needs from its host, beside its job. */
export interface ProgramSetup {
  cwd: string;
  interpreter: string;
  shim: string | null;
  wandbOffline: boolean;
}

/** The program cannot run on this host (its code cannot be had): the run fails with this message. */
export class ProgramSetupError extends Error {}

/**
 * An agent's side of program sweeps: fetches each code snapshot once (GetCode) and caches it by
 * hash, picks the interpreter, and decides once whether runs use the real wandb (offline) or the
 * shim.
 */
export class ProgramHost {
  private readonly fetching = new Map<string, Promise<string>>();
  private wandb: Promise<{ shim: string | null; offline: boolean }> | undefined;

  constructor(private readonly opts: ProgramHostOptions) {}

  /** Where and how `job` runs here; ProgramSetupError when its code cannot be had. */
  async prepare(job: ProgramJob): Promise<ProgramSetup> {
    let cwd = job.cwd;
    if (job.code !== null) {
      // The job came over the wire: its hash names a folder, its cwd must stay inside the snapshot.
      if (!/^[0-9a-f]{64}$/.test(job.code)) throw new ProgramSetupError(`the run's code hash ${JSON.stringify(job.code).slice(0, 80)} is not a sha256 hex digest`);
      const root = await this.code(job.code);
      cwd = path.resolve(root, ...job.cwd.split('/'));
      if (cwd !== root && !cwd.startsWith(root + path.sep)) throw new ProgramSetupError(`the run's folder ${JSON.stringify(job.cwd)} leaves its code snapshot`);
    } else if (!path.isAbsolute(cwd)) {
      throw new ProgramSetupError(`the run's folder ${JSON.stringify(job.cwd)} is not an absolute path (code_dir: false runs in place)`);
    }
    const interpreter = this.opts.interpreter;
    const wandb = await this.wandbMode(interpreter);
    return { cwd, interpreter, shim: wandb.shim, wandbOffline: wandb.offline };
  }


  /** The real wandb where the user installed it (offline: nothing leaves the host), else the shim; decided once. */
  private wandbMode(interpreter: string): Promise<{ shim: string | null; offline: boolean }> {
    this.wandb ??= (async () => {
      if (this.opts.forceShim) return { shim: WANDB_SHIM_DIR, offline: false };
      const real = await hasRealWandb(interpreter);
      this.opts.log(
        real
          ? `program runs: ${interpreter} has wandb installed; runs log with it offline into their folders (dlphys-agent --wandb-shim to stream their metrics instead)`
          : `program runs: ${interpreter} has no wandb module; runs use dlphys's wandb shim (agent/wandb_shim)`,
      );
      return real ? { shim: null, offline: true } : { shim: WANDB_SHIM_DIR, offline: false };
    })();
    return this.wandb;
  }

  /** The snapshot's folder, fetched and extracted once per hash (concurrent runs share the fetch). */
  private code(hash: string): Promise<string> {
    const dest = path.join(this.opts.codeDir, hash);
    if (fs.existsSync(dest)) return Promise.resolve(dest);
    let pending = this.fetching.get(hash);
    if (!pending) {
      // Shared by every run of the sweep on this agent: it stops with the agent, not with one run.
      pending = this.fetch(hash, dest, this.opts.stopped).finally(() => this.fetching.delete(hash));
      this.fetching.set(hash, pending);
    }
    return pending;
  }

  private async fetch(hash: string, dest: string, stopped: () => boolean): Promise<string> {
    let reply;
    try {
      reply = await retryWhile(() => unary(this.opts.conn, 'GetCode', { agent_id: this.opts.agentId, hash }, 120_000), {
        final: (err) => isDefiniteRefusal(err) || isNotFound(err),
        stopped,
        onRetry: (err, failures) => {
          if (failures === 1) this.opts.log(`code ${hash.slice(0, 12)}: ${callDetails(err).split('\n')[0]}; retrying`);
        },
        initialDelayMs: 200,
        maxDelayMs: 10_000,
      });
    } catch (err) {
      throw new ProgramSetupError(`cannot fetch the sweep's code ${hash.slice(0, 12)} from the coordinator: ${callDetails(err).split('\n')[0]}`);
    }
    try {
      fs.mkdirSync(this.opts.codeDir, { recursive: true });
      extractCodeSnapshot(Buffer.from(reply.archive), hash, dest);
    } catch (err) {
      throw new ProgramSetupError(`the sweep's code ${hash.slice(0, 12)} could not be unpacked: ${(err as Error).message}`);
    }
    this.opts.log(`code ${hash.slice(0, 12)}: fetched into ${dest}`);
    return dest;
  }
}

/**
 * Whether `interpreter` imports a real wandb package: run from an empty folder (a `wandb/` folder
 * of W&B's local runs in the agent's folder would import as a namespace package), without the
 * agent's secrets, and asking for the package's file and `init` (a namespace package has neither).
 */
export function hasRealWandb(interpreter: string): Promise<boolean> {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'dlphys-probe-'));
  return new Promise<boolean>((resolve) => {
    const child = spawn(interpreter, ['-c', 'import sys, wandb; sys.exit(0 if getattr(wandb, "__file__", None) and hasattr(wandb, "init") else 1)'], {
      cwd,
      env: runnerEnv(),
      stdio: 'ignore',
      timeout: 60_000,
    });
    child.once('error', () => resolve(false));
    child.once('close', (code) => resolve(code === 0));
  }).finally(() => fs.rmSync(cwd, { recursive: true, force: true }));
}

/**
 * The interpreter program runs use: `--interpreter` (a path, or a command on PATH), else python3
 * when on PATH, else python (W&B's agent runs `python`). `found` is false when it cannot be run
 * here. A --interpreter that is not there is the user's mistake: UsageError.
 */
export function resolveInterpreter(flag: string | undefined): { interpreter: string; found: boolean } {
  if (flag !== undefined) {
    const found = flag.includes('/') ? isExecutable(path.resolve(flag)) : onPath(flag);
    if (!found) throw new UsageError(`--interpreter ${flag}: not found${flag.includes('/') ? '' : ' on PATH'}; give the path of a Python, e.g. --interpreter ~/venv/bin/python`);
    return { interpreter: flag, found };
  }
  if (onPath('python3')) return { interpreter: 'python3', found: true };
  if (onPath('python')) return { interpreter: 'python', found: true };
  return { interpreter: 'python3', found: false };
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Whether `command` is an executable file in a folder of PATH. */
function onPath(command: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, command))) return true;
  }
  return false;
}
