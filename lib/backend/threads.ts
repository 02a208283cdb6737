import os from 'node:os';
import { UsageError } from '../errors.js';

// Kept apart from lib/backend/index.ts so that the agent can size its runs without loading tfjs.

/** The most threads the wasm build starts workers for up front. */
export const MAX_WASM_THREADS = 8;

/**
 * Threads for the wasm backend when none are asked for: DLPHYS_THREADS (an agent sets it to its
 * share of the cores), else every core this process may use.
 */
export function defaultThreads(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.DLPHYS_THREADS;
  // A core count from the environment is taken as "all of them", up to what wasm can use.
  if (raw !== undefined && raw !== '') return Math.min(parseThreads(raw, 'DLPHYS_THREADS', Infinity), MAX_WASM_THREADS);
  return Math.min(os.availableParallelism(), MAX_WASM_THREADS);
}

export function parseThreads(raw: string, what: string, max = MAX_WASM_THREADS): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new UsageError(`${what} must be a whole number from 1${max === Infinity ? ' up' : ` to ${max}`}, got "${raw}"`);
  }
  return n;
}
