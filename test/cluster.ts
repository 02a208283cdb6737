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

function start(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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

export function startAgent(coordAddress: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Proc {
  return start(AGENT_BIN, ['--coord', coordAddress, '--work-dir', tempDir('dlphys-agent-'), '--poll', '100', ...args], env);
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
