/**
 * A DashSource as plain lines, for when there is no terminal to draw on (a pipe, CI, nohup) or
 * no dashboard in the build: one line per sweep whenever its counts change (the coordinator's
 * own progress line), one when the feed is lost or back, and one per run that fails.
 */
import { ACTIVE_STATES } from '../../coordinator/run_states.js';
import { sweepProgressLine } from '../../coordinator/sweep_progress.js';
import type { DashSource, StatusSnapshot } from '../source.js';

export interface PlainProgressOptions {
  /** Where each line goes (a timestamp is the writer's business). */
  readonly write: (line: string) => void;
  /** Resolve once no run is queued or running (after the first snapshot). @default true */
  readonly untilIdle?: boolean;
  /** Stops printing and resolves. */
  readonly signal?: AbortSignal;
}

/** Prints `source` until every run has finished (or `signal` aborts); resolves with which it was. */
export function printProgress(source: DashSource, opts: PlainProgressOptions): Promise<'idle' | 'aborted'> {
  return new Promise((resolve) => {
    const last = new Map<string, string>();
    const failed = new Set<string>();
    let first = true;
    let done = false;
    const finish = (how: 'idle' | 'aborted') => {
      if (done) return;
      done = true;
      opts.signal?.removeEventListener('abort', onAbort);
      // Stopped on the next turn: a source may call the sink again before start() has returned.
      setImmediate(() => stop());
      resolve(how);
    };
    const onAbort = () => finish('aborted');
    const onStatus = (s: StatusSnapshot) => {
      for (const sweep of s.sweeps) {
        const line = sweepProgressLine(sweep);
        if (last.get(sweep.name) !== line) opts.write(line);
        last.set(sweep.name, line);
      }
      for (const run of s.runs) {
        // Runs already failed when watching began are in the counts; only new failures get a line.
        if (run.state === 'failed' && !failed.has(run.id) && !first) opts.write(`run ${run.id} failed${run.error ? `: ${run.error}` : ''}`);
        if (run.state === 'failed') failed.add(run.id);
      }
      if (first && s.sweeps.length === 0) opts.write(`no runs yet in ${source.label}`);
      first = false;
      const active = s.sweeps.some((sw) => ACTIVE_STATES.some((st) => (sw.states[st] ?? 0) > 0));
      if ((opts.untilIdle ?? true) && !active) finish('idle');
    };
    const stop = source.start({
      status: (s) => {
        if (!done) onStatus(s);
      },
      events: () => {},
      connection: (c) => {
        if (!done && c.state === 'reconnecting') opts.write(`${source.label}: ${c.reason}; trying again`);
      },
    });
    if (opts.signal?.aborted) finish('aborted');
    else opts.signal?.addEventListener('abort', onAbort);
  });
}
