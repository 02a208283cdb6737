/**
 * useCompare(source, runIds, ...): the curves of the marked runs for the compare view. Each run's
 * metric lines are fetched (RunDetail, no log); until they arrive, or when the coordinator has
 * no RunDetail, the bounded curves the events carried stand in.
 */
import { useMemo } from 'react';
import type { DashSource } from '../source.js';
import { detailCurves, sampledCurves, type Curves } from '../state/curves.js';
import type { DashData } from '../state/dash_data.js';
import { useRunDetails } from './use-run-details.js';

/** What the compare view draws from. */
export interface CompareData {
  /** Every metric any of the runs logged, the preferred one first. */
  readonly metrics: readonly string[];
  readonly curves: ReadonlyMap<string, Curves>;
  /** Runs whose detail has not arrived (nor failed). */
  readonly loading: number;
}

/** Curves by run id; `preferred` (the sweep's metric) is listed first when logged. */
export function useCompare(source: DashSource, runIds: readonly string[], data: DashData, preferred: string, isActive: (id: string) => boolean): CompareData {
  const details = useRunDetails(source, runIds, { logLines: 0, isActive });
  return useMemo(() => {
    const curves = new Map<string, Curves>();
    let loading = 0;
    for (const id of runIds) {
      const d = details.get(id);
      if (!d) loading++;
      if (d?.detail) curves.set(id, detailCurves(d.detail));
      else curves.set(id, sampledCurves(data, id));
    }
    const names = new Set<string>();
    for (const c of curves.values()) for (const k of c.keys()) names.add(k);
    const metrics = [...names].sort((a, b) => Number(b === preferred) - Number(a === preferred));
    return { metrics, curves, loading };
  }, [details, runIds, data.runs, preferred]);
}
