/**
 * useSweepSteps(source, status): how many steps each sweep's runs train for, so the runs table can
 * show "step 120/500". Status does not carry it: one run's config is asked for per sweep (through
 * RunDetail, without log lines), and completed runs' summaries fill in meanwhile. A sweep whose
 * run could not be asked (an older coordinator without RunDetail, a reconnect) is asked again
 * after a while, not at every snapshot.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { DashSource, StatusSnapshot } from '../source.js';
import type { SweepSteps } from '../state/run_facts.js';
import { stepsFromConfig, stepsFromSummaries } from '../state/steps.js';

/** After a failed ask, this long before the sweep is asked again. */
const RETRY_MS = 30_000;
/** A run that has trained least has the fewest metric lines for RunDetail to send along. */
const PREFERRED = ['queued', 'leased', 'running'];

/** Sweep name → steps, where known. */
export function useSweepSteps(source: DashSource, status: StatusSnapshot | null): SweepSteps {
  const [asked, setAsked] = useState<Record<string, number>>({});
  /** Sweep → time before which it is not asked again (Infinity once answered). */
  const holdUntil = useRef(new Map<string, number>());
  // Replies outlive the snapshot that asked (the next one comes in 2 s); only unmounting drops them.
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
    },
    [],
  );
  useEffect(() => {
    const now = Date.now();
    for (const sweep of status?.sweeps ?? []) {
      if ((holdUntil.current.get(sweep.name) ?? 0) > now) continue;
      const runs = (status?.runs ?? []).filter((r) => r.sweep === sweep.name);
      const run = runs.find((r) => PREFERRED.includes(r.state)) ?? runs[0];
      if (!run) continue;
      holdUntil.current.set(sweep.name, Infinity);
      source.runDetail(run.id, 0).then(
        (d) => {
          const steps = stepsFromConfig(d.config_json);
          if (mounted.current && steps !== null) setAsked((m) => ({ ...m, [sweep.name]: steps }));
        },
        () => holdUntil.current.set(sweep.name, Date.now() + RETRY_MS),
      );
    }
  }, [source, status]);
  return useMemo(() => ({ ...stepsFromSummaries(status), ...asked }), [status, asked]);
}
