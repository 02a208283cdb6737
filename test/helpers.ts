import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));
export const dlphysBin = path.join(repoRoot, 'bin', 'dlphys.js');

/** A fresh temporary directory, removed when the test process exits. */
const tempDirs: string[] = [];
process.on('exit', () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = 'dlphys-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

// Generated data is cached per test process (and its children), never in the user's ~/.cache.
process.env.DLPHYS_CACHE_DIR ??= tempDir('dlphys-cache-');

/** Runs the real `dlphys` CLI as a child process and waits for it. */
export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [dlphysBin, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    encoding: 'utf8',
    timeout: 120_000,
  });
}

/** Same, without blocking the test's event loop (for tests that watch a run while it trains). */
export function startCli(args: string[], options: { cwd?: string } = {}) {
  return spawn(process.execPath, [dlphysBin, ...args], { cwd: options.cwd ?? repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A small, fast experiment config; `overrides` replace whole top-level keys. */
export function tinyConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'tiny',
    seed: 0,
    model: { name: 'mlp', kwargs: { widths: [8, 16, 3], activation: 'tanh' } },
    init: { name: 'gaussian', kwargs: { sigma_w2: 1.0 } },
    optimizer: { name: 'sgd', kwargs: { lr: 0.1, momentum: 0.9 } },
    data: { name: 'synthetic', kwargs: { n_train: 256, n_val: 128, dim: 8, classes: 3 } },
    train: { steps: 40, batch_size: 32, eval_every: 20, log_every: 5 },
    ...overrides,
  };
}

export function writeJson(file: string, value: unknown): string {
  return writeText(file, JSON.stringify(value, null, 2));
}

export function writeText(file: string, text: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

export function readJsonl(file: string): Record<string, unknown>[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** Polls `check` every 50 ms until it holds; fails after `timeoutMs`. */
export async function waitUntil(check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A run folder's metrics.jsonl rows without their wall-clock fields (time, steps_per_sec): what training computed. */
export function computedRows(runDir: string): Record<string, unknown>[] {
  return fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const { time: _time, steps_per_sec: _rate, ...row } = JSON.parse(line) as Record<string, unknown>;
      return row;
    });
}
