/**
 * useRunDetails(source, runIds) and useRunDetail(source, runId): runs in full (config, metric
 * lines, log tail) for the detail and compare views, fetched when asked for and again every
 * `refreshMs` while the run is still going. A reply that arrives after the view has moved on is
 * dropped.
 */
import { useEffect, useRef, useState } from 'react';
import type { DashSource, RunDetail } from '../source.js';

/** What is known of one run's detail: the last reply, and the error of the last try if it failed. */
export interface DetailState {
  readonly detail: RunDetail | null;
  readonly error: string | null;
}

/** How much of a run to fetch, and how often to fetch it again. */
export interface RunDetailOptions {
  /** Lines of train.log to ask for. @default 200 */
  readonly logLines?: number;
  /** Ask again this often while the run is active (ms). @default 3000 */
  readonly refreshMs?: number;
  /** Whether a run may still change (its detail is fetched again); @default every run */
  readonly isActive?: (runId: string) => boolean;
}

function message(err: unknown): string {
  const e = err as { details?: string; message?: string };
  return e?.details || e?.message || String(err);
}

/** The details of `runIds`, by id (absent until the first reply or error). */
export function useRunDetails(source: DashSource, runIds: readonly string[], options: RunDetailOptions = {}): ReadonlyMap<string, DetailState> {
  const [details, setDetails] = useState<ReadonlyMap<string, DetailState>>(new Map());
  const key = runIds.join('\n');
  const logLines = options.logLines ?? 200;
  const refreshMs = options.refreshMs ?? 3000;
  // Read when a reply comes, so the latest states decide; a new function each render must not refetch.
  const isActive = useRef(options.isActive);
  isActive.current = options.isActive;
  useEffect(() => {
    let cancelled = false;
    const timers = new Set<NodeJS.Timeout>();
    const fetchOne = (id: string) => {
      source.runDetail(id, logLines).then(
        (detail) => {
          if (cancelled) return;
          setDetails((m) => new Map(m).set(id, { detail, error: null }));
          if (!isActive.current || isActive.current(id)) {
            const t = setTimeout(() => {
              timers.delete(t);
              fetchOne(id);
            }, refreshMs);
            timers.add(t);
          }
        },
        (err: unknown) => {
          if (cancelled) return;
          setDetails((m) => new Map(m).set(id, { detail: m.get(id)?.detail ?? null, error: message(err) }));
        },
      );
    };
    for (const id of key ? key.split('\n') : []) fetchOne(id);
    return () => {
      cancelled = true;
      for (const t of timers) clearTimeout(t);
    };
  }, [source, key, logLines, refreshMs]);
  return details;
}

/** One run's detail (none for a null id). */
export function useRunDetail(source: DashSource, runId: string | null, options: RunDetailOptions = {}): DetailState {
  const details = useRunDetails(source, runId ? [runId] : [], options);
  return (runId ? details.get(runId) : undefined) ?? { detail: null, error: null };
}
