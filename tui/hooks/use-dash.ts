/**
 * useDash(source): the one hook that turns a DashSource into DashData. The source may call its
 * sink hundreds of times a second (a replay, a busy sweep); what it sends is queued and reduced
 * in one state update at most every `frameMs`, so the terminal redraws at most ~10 times a second
 * however fast the data comes.
 */
import { useEffect, useState } from 'react';
import type { DashSource } from '../source.js';
import { INITIAL_DATA, reduce, type DashAction, type DashData } from '../state/dash_data.js';

/** Least time between two state updates, in ms (10 fps). */
export const FRAME_MS = 100;

/** How useDash batches and stamps what arrives. */
export interface UseDashOptions {
  /** @default FRAME_MS */
  readonly frameMs?: number;
  /** Local time, for when each thing arrived. @default Date.now */
  readonly clock?: () => number;
}

/** What `source` has sent so far, reduced; the source is started on mount and stopped on unmount. */
export function useDash(source: DashSource, options: UseDashOptions = {}): DashData {
  const [data, setData] = useState<DashData>(INITIAL_DATA);
  const frameMs = options.frameMs ?? FRAME_MS;
  const clock = options.clock ?? Date.now;
  useEffect(() => {
    let queue: DashAction[] = [];
    let timer: NodeJS.Timeout | undefined;
    let lastFlush = 0;
    const flush = () => {
      timer = undefined;
      lastFlush = Date.now();
      const actions = queue;
      queue = [];
      setData((d) => actions.reduce(reduce, d));
    };
    const push = (action: DashAction) => {
      queue.push(action);
      timer ??= setTimeout(flush, Math.max(0, frameMs - (Date.now() - lastFlush)));
    };
    const stop = source.start({
      status: (snapshot) => push({ type: 'status', snapshot, at: clock() }),
      events: (events) => push({ type: 'events', events, at: clock() }),
      connection: (state) => push({ type: 'connection', state }),
    });
    return () => {
      stop();
      clearTimeout(timer);
    };
    // The clock is read when things arrive; a new function each render must not restart the source.
  }, [source, frameMs]);
  return data;
}
