import os from 'node:os';
import { wholeNumber } from '../cli/flags.js';

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

/** A thread count from a flag or variable (`what` names it), from 1 to `max`. */
export function parseThreads(raw: string, what: string, max = MAX_WASM_THREADS): number {
  return wholeNumber(what, 1, max)(raw);
}
