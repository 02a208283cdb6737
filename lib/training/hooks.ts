import { prefixed } from '../errors.js';
import type { Callback, StepGradients, TrainContext } from './callback.js';

export interface NamedCallback {
  name: string;
  callback: Callback;
}

type AsyncHook = Exclude<keyof Callback, 'onGradients' | 'checkModel'>;

interface Entry {
  /** Unique name for the time report (a repeated name gets #2, #3). */
  key: string;
  name: string;
  callback: Callback;
  seconds: number;
}

/**
 * Calls the callbacks' hooks in order, names the callback and hook in any error, and keeps the
 * time each callback spends: summary.json reports it, so a probe's cost is seen per run.
 */
export class CallbackHooks {
  private readonly entries: Entry[];

  constructor(callbacks: readonly NamedCallback[]) {
    const seen = new Map<string, number>();
    this.entries = callbacks.map(({ name, callback }) => {
      const n = (seen.get(name) ?? 0) + 1;
      seen.set(name, n);
      return { key: n === 1 ? name : `${name}#${n}`, name, callback, seconds: 0 };
    });
  }

  /** Whether any callback has this hook (the trainer skips work nobody asked for). */
  has(hook: keyof Callback): boolean {
    return this.entries.some((e) => typeof e.callback[hook] === 'function');
  }

  /** Awaits one hook on every callback, in order; the first error stops the others and is re-thrown, prefixed. */
  async call(hook: AsyncHook, ctx: TrainContext, arg?: unknown): Promise<void> {
    for (const entry of this.entries) await this.invoke(entry, hook, ctx, arg);
  }

  /**
   * Calls a hook on every callback even when some throw (onException, teardown: one callback's
   * failure must not keep another from releasing its tensors); returns the errors, prefixed.
   */
  async callAll(hook: 'onException' | 'teardown', ctx: TrainContext, arg?: unknown): Promise<Error[]> {
    const errors: Error[] = [];
    for (const entry of this.entries) {
      try {
        await this.invoke(entry, hook, ctx, arg);
      } catch (err) {
        errors.push(err as Error);
      }
    }
    return errors;
  }

  /** One callback's hook, timed; its error comes back naming the callback and the hook. */
  private async invoke(entry: Entry, hook: AsyncHook, ctx: TrainContext, arg: unknown): Promise<void> {
    const fn = entry.callback[hook] as ((ctx: TrainContext, arg?: unknown) => void | Promise<void>) | undefined;
    if (!fn) return;
    const start = performance.now();
    try {
      await fn.call(entry.callback, ctx, arg);
    } catch (err) {
      throw prefixed(`callback ${entry.name} (${hook})`, err);
    } finally {
      entry.seconds += (performance.now() - start) / 1000;
    }
  }

  /** The synchronous gradient hook, inside the step's tidy. */
  gradients(ctx: TrainContext, grads: StepGradients): void {
    for (const entry of this.entries) {
      if (!entry.callback.onGradients) continue;
      const start = performance.now();
      try {
        entry.callback.onGradients(ctx, grads);
      } catch (err) {
        throw prefixed(`callback ${entry.name} (onGradients)`, err);
      } finally {
        entry.seconds += (performance.now() - start) / 1000;
      }
    }
  }

  /** Seconds spent in each callback so far, by unique name, rounded to the millisecond. */
  times(): Record<string, number> {
    return Object.fromEntries(this.entries.map((e) => [e.key, Math.round(e.seconds * 1000) / 1000]));
  }
}
