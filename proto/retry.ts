/**
 * Calling the coordinator again until it takes a call: one loop, with capped exponential backoff,
 * for every client that must not lose what it sends (the agent's registration, its leases, and
 * each run's start, metrics, upload and report). Which failures are final is the caller's to say
 * (by default a definite refusal, errors.ts); everything else may pass (the coordinator is
 * restarting, its disk is full, a deadline passed) and is tried again.
 */
import { isDefiniteRefusal } from './errors.js';

/** The retrying was stopped from outside (RetryOptions.stopped) before the call succeeded. */
export class RetryStopped extends Error {
  override readonly name = 'RetryStopped';
  constructor() {
    super('stopped before the call succeeded');
  }
}

/** How retryWhile retries: what is final, how long it waits, what it says, when it stops. */
export interface RetryOptions {
  /**
   * True for an error that retrying cannot change: retryWhile rejects with it at once.
   * @default isDefiniteRefusal
   */
  readonly final?: (err: unknown) => boolean;
  /**
   * Called after each failure that is to be tried again (`failures` counts them from 1), before
   * the wait: where a caller logs the first one, or gives up by throwing (a connect timeout, say),
   * which retryWhile then rejects with.
   */
  readonly onRetry?: (err: unknown, failures: number) => void;
  /** Called when the call succeeds after `failures` failures (never after a first-try success). */
  readonly onRecover?: (failures: number) => void;
  /** Checked before every try and every wait: once true, retryWhile rejects with RetryStopped. */
  readonly stopped?: () => boolean;
  /** The first wait, in ms; each failure doubles it. */
  readonly initialDelayMs: number;
  /** The longest wait, in ms. */
  readonly maxDelayMs: number;
  /**
   * How to wait `ms` milliseconds; may resolve early (the agent wakes its waits when it drains).
   * @default a timer
   */
  readonly sleep?: (ms: number) => Promise<void>;
}

function timer(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Calls `fn` until it resolves, and resolves with its value. Rejects with the error of a failure
 * that `final` says is final, with what `onRetry` throws, or with RetryStopped once `stopped`.
 * Waits between tries double from `initialDelayMs` up to `maxDelayMs`.
 */
export async function retryWhile<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const final = opts.final ?? isDefiniteRefusal;
  const sleep = opts.sleep ?? timer;
  let delay = opts.initialDelayMs;
  for (let failures = 0; ; ) {
    if (opts.stopped?.()) throw new RetryStopped();
    let value: T;
    try {
      value = await fn();
    } catch (err) {
      if (final(err)) throw err;
      failures++;
      opts.onRetry?.(err, failures);
      if (opts.stopped?.()) throw new RetryStopped();
      await sleep(delay);
      delay = Math.min(delay * 2, opts.maxDelayMs);
      continue;
    }
    if (failures > 0) opts.onRecover?.(failures);
    return value;
  }
}
