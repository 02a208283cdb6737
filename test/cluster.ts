/**
 * Real coordinator and agent processes on 127.0.0.1 for the orchestration tests, plus ways to
 * wait on what they write (the SQLite file, the landed run folders) without sleeping blindly.
 */
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, tempDir, writeJson } from './helpers.js';

const COORD_BIN = path.join(repoRoot, 'bin', 'dlphys-coord.js');
const AGENT_BIN = path.join(repoRoot, 'bin', 'dlphys-agent.js');

export interface Proc {
  child: ChildProcess;
  /** Everything the process wrote to stderr so far (its log). */
  log(): string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** `group`: the process leads a process group of its own (and its children are in it), as under SLURM or systemd. */
function start(bin: string, args: string[], env: NodeJS.ProcessEnv = {}, group = false): Proc {
  const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: group });
  live.add(child);
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? -1);
    }),
  );
  return { child, log: () => out, exited, kill: (signal = 'SIGTERM') => child.kill(signal) };
}

/** Polls `check` until it returns a truthy value; fails with `what` and the logs after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | null | false, timeoutMs = 60_000, logs: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- logs ---\n${logs()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Coordinator extends Proc {
  port: number;
  address: string;
}

/** Starts `dlphys-coord <args>` and resolves once it prints the port it serves on. */
export async function startCoordinator(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Coordinator> {
  const proc = start(COORD_BIN, args, env);
  const line = await Promise.race([
    waitFor('the coordinator to serve', () => /serving on [^:]+:(\d+)/.exec(proc.log()), 60_000, proc.log),
    proc.exited.then((code) => {
      throw new Error(`coordinator exited (${code}) before serving:\n${proc.log()}`);
    }),
  ]);
  const port = Number(line[1]);
  return { ...proc, port, address: `127.0.0.1:${port}` };
}

export function startAgent(coordAddress: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, group = false): Proc {
  return start(AGENT_BIN, ['--coord', coordAddress, '--work-dir', tempDir('dlphys-agent-'), '--poll', '100', ...args], env, group);
}

/** A read-only view of the coordinator's database (WAL lets it read while the coordinator writes). */
export function openDb(file: string): Database.Database {
  return new Database(file, { readonly: true, fileMustExist: true });
}

export function runStates(dbFile: string): Record<string, string> {
  if (!fs.existsSync(dbFile)) return {};
  const db = openDb(dbFile);
  try {
    return Object.fromEntries((db.prepare('SELECT id, state FROM runs ORDER BY id').all() as { id: string; state: string }[]).map((r) => [r.id, r.state]));
  } finally {
    db.close();
  }
}

export function query<T>(dbFile: string, sql: string, ...params: unknown[]): T[] {
  const db = openDb(dbFile);
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** A fresh workspace: db path, runs dir, and a sweep file written from `sweep`. */
export function workspace(sweep: Record<string, unknown>, file = 'sweep.json') {
  const dir = tempDir('dlphys-cluster-');
  return {
    dir,
    db: path.join(dir, 'dlphys.db'),
    runsDir: path.join(dir, 'runs'),
    sweepFile: writeJson(path.join(dir, file), sweep),
  };
}

/** A small sweep of `n` runs of a tiny MLP; `steps` sets how long each trains. */
export function tinySweep(options: { name?: string; runs?: number; steps?: number; logEvery?: number } = {}): Record<string, unknown> {
  const runs = options.runs ?? 4;
  return {
    name: options.name ?? 'tiny',
    method: 'grid',
    metric: { name: 'val_acc', goal: 'maximize' },
    parameters: { seed: { values: Array.from({ length: runs }, (_, i) => i) } },
    base: {
      model: { name: 'mlp', kwargs: { widths: [8, 16, 3], activation: 'tanh' } },
      optimizer: { name: 'sgd', kwargs: { lr: 0.1 } },
      data: { name: 'synthetic', kwargs: { n_train: 256, n_val: 64, dim: 8, classes: 3 } },
      train: { steps: options.steps ?? 30, batch_size: 32, eval_every: 10, log_every: options.logEvery ?? 5 },
    },
  };
}

/** The metrics.jsonl lines of a landed run folder (no empty lines). */
export function landedLines(runsDir: string, runId: string): string[] {
  return fs
    .readFileSync(path.join(runsDir, runId, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim());
}

/** `promise`'s value, or a failure naming `what` (with the logs) once `ms` have passed. */
export async function within<T>(what: string, promise: Promise<T>, ms: number, logs: () => string = () => ''): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}\n--- logs ---\n${logs()}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `dlphys-coord <args>` to its end without blocking the test's event loop (a fake agent's
 * heartbeats and the logs of running processes go on meanwhile); killed after `timeoutMs`.
 */
export function coordCommand(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CommandResult> {
  const child = spawn(process.execPath, [COORD_BIN, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ status: code, stdout, stderr });
    }),
  );
}

/** A process's state letter from /proc (R, S, Z, ...), or null when there is no such process. */
function procState(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null;
  }
}

/** The pids of a process's direct children (Linux: read from /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/** The runner children of an agent (its other children, e.g. esbuild's service, are left out). */
export function runnerPids(agentPid: number): number[] {
  return childPids(agentPid).filter((pid) => {
    try {
      return /runner\/entry\.js|runner\.generated\.mjs/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
    } catch {
      return false;
    }
  });
}

/** True while `pid` is a live process; a zombie (dead, not yet reaped by its new parent) counts as gone. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const state = procState(pid);
  return state !== null && state !== 'Z' && state !== 'X';
}

/** The processes a test started, labelled for its failure messages, and killed when it ends. */
export class Cluster {
  private readonly procs: { label: string; proc: Proc }[] = [];

  track<T extends Proc>(label: string, proc: T): T {
    this.procs.push({ label, proc });
    return proc;
  }

  readonly logs = (): string => this.procs.map(({ label, proc }) => `--- ${label} ---\n${proc.log()}`).join('\n');

  /** SIGKILLs whatever is still running and waits until it has gone. */
  async shutdown(): Promise<void> {
    for (const { proc } of this.procs) {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.kill('SIGKILL');
    }
    await Promise.all(this.procs.map(({ label, proc }) => within(`${label} to exit`, proc.exited, 10_000)));
  }
}

export async function withCluster(fn: (c: Cluster) => Promise<void>): Promise<void> {
  const c = new Cluster();
  try {
    await fn(c);
  } finally {
    await c.shutdown();
  }
}

/** An agent that trains one run at a time (a CPU-only agent defaults to one slot per core). */
export function startOneSlotAgent(coordAddress: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, group = false): Proc {
  return startAgent(coordAddress, ['--slots', '1', ...args], env, group);
}

export type Workspace = ReturnType<typeof workspace>;

/**
 * Short leases, so a vanished agent's run comes back within seconds (heartbeats every second),
 * yet long enough that a heartbeat delayed by a loaded machine does not let a live lease lapse.
 */
export const LEASE_TTL = ['--lease-ttl', '3'];

/** `dlphys-coord sweep` on the workspace's sweep file, any free port, LEASE_TTL (a later --lease-ttl in `extra` wins), tracked by `c`. */
export async function serveSweep(c: Cluster, ws: Workspace, extra: string[] = []): Promise<Coordinator> {
  return c.track('coordinator', await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, ...LEASE_TTL, ...extra]));
}

/** The attempts rows of a run, in order. */
export function attemptsOf(db: string, runId: string) {
  return query<{ attempt: number; agent_id: string; outcome: string | null; error: string | null }>(
    db,
    'SELECT attempt, agent_id, outcome, error FROM attempts WHERE run_id = ? ORDER BY attempt',
    runId,
  );
}
