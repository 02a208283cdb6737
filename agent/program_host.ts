import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { packagePath } from '../lib/package_dir.js';
import { extractCodeSnapshot } from '../lib/sweep/code_snapshot.js';
import type { ProgramJob } from '../lib/sweep/program_sweep.js';
import { unary, type Connection } from '../proto/client.js';
import { callDetails, isDefiniteRefusal, isNotFound } from '../proto/errors.js';
import { retryWhile } from '../proto/retry.js';

/** The wandb-compatible module put on PYTHONPATH for program runs (agent/wandb_shim/README.md). */
export const WANDB_SHIM_DIR = packagePath('agent', 'wandb_shim');

export interface ProgramHostOptions {
  conn: Connection;
  agentId: string;
  /** Where snapshots are cached: `<codeDir>/<hash>/`. */
  codeDir: string;
  /** --interpreter, or undefined: python3 when on PATH, else python (W&B's agent runs `python`). */
  interpreter: string | undefined;
  /** --wandb-shim: always the shim; otherwise the shim only where the interpreter cannot import the real wandb. */
  forceShim: boolean;
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
  private wandb: { shim: string | null; offline: boolean } | undefined;
  private resolvedInterpreter: string | undefined;

  constructor(private readonly opts: ProgramHostOptions) {}

  /** Where and how `job` runs here; ProgramSetupError when its code cannot be had. */
  async prepare(job: ProgramJob, stopped: () => boolean): Promise<ProgramSetup> {
    let cwd = job.cwd;
    if (job.code !== null) {
      const root = await this.code(job.code, stopped);
      cwd = path.join(root, ...job.cwd.split('/').filter(Boolean));
    }
    const interpreter = this.interpreter();
    const wandb = this.wandbMode(interpreter);
    return { cwd, interpreter, shim: wandb.shim, wandbOffline: wandb.offline };
  }

  /** The interpreter for `${interpreter}`: --interpreter, else python3 when on PATH, else python. */
  interpreter(): string {
    this.resolvedInterpreter ??= this.opts.interpreter ?? (onPath('python3') ? 'python3' : onPath('python') ? 'python' : 'python3');
    return this.resolvedInterpreter;
  }

  private wandbMode(interpreter: string): { shim: string | null; offline: boolean } {
    if (this.wandb) return this.wandb;
    if (this.opts.forceShim) {
      this.wandb = { shim: WANDB_SHIM_DIR, offline: false };
    } else {
      // The real wandb where the user installed it (offline: nothing leaves the host); else the shim.
      const probe = spawnSync(interpreter, ['-c', 'import wandb'], { stdio: 'ignore', timeout: 60_000 });
      const real = probe.status === 0;
      this.wandb = real ? { shim: null, offline: true } : { shim: WANDB_SHIM_DIR, offline: false };
      this.opts.log(
        real
          ? `program runs: ${interpreter} has wandb installed; runs log with it offline into their folders (dlphys-agent --wandb-shim to stream their metrics instead)`
          : `program runs: ${interpreter} has no wandb module; runs use dlphys's wandb shim (agent/wandb_shim)`,
      );
    }
    return this.wandb;
  }

  /** The snapshot's folder, fetched and extracted once per hash (concurrent runs share the fetch). */
  private code(hash: string, stopped: () => boolean): Promise<string> {
    const dest = path.join(this.opts.codeDir, hash);
    if (fs.existsSync(dest)) return Promise.resolve(dest);
    let pending = this.fetching.get(hash);
    if (!pending) {
      pending = this.fetch(hash, dest, stopped).finally(() => this.fetching.delete(hash));
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
    fs.mkdirSync(this.opts.codeDir, { recursive: true });
    try {
      extractCodeSnapshot(Buffer.from(reply.archive), hash, dest);
    } catch (err) {
      throw new ProgramSetupError(`the sweep's code ${hash.slice(0, 12)} could not be unpacked: ${(err as Error).message}`);
    }
    this.opts.log(`code ${hash.slice(0, 12)}: fetched into ${dest}`);
    return dest;
  }
}

/** Whether `command` is an executable file in a folder of PATH. */
function onPath(command: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      fs.accessSync(path.join(dir, command), fs.constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}
