import os from 'node:os';
import { UsageError } from './errors.js';

// Kept apart from lib/backend.ts so that the agent can size its runs without loading tfjs.

/** The most threads the wasm build starts workers for up front. */
export const MAX_WASM_THREADS = 8;

/**
 * Threads for the wasm backend when none are asked for: DLPHYS_THREADS (an agent sets it to its
 * share of the cores), else every core this process may use.
 */
export function defaultThreads(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.DLPHYS_THREADS;
  if (raw !== undefined && raw !== '') return parseThreads(raw, 'DLPHYS_THREADS');
  return Math.min(os.availableParallelism(), MAX_WASM_THREADS);
}

export function parseThreads(raw: string, what: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new UsageError(`${what} must be a whole number from 1 to ${MAX_WASM_THREADS}, got "${raw}"`);
  }
  return n;
}
