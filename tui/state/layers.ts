/**
 * A run's per-layer probe metrics (q_l3, chi1_l3, c_l3, ...: lib/probes) as one table, layer by
 * layer: dozens of them would otherwise each take a chart in the run detail, while what a
 * researcher reads is the profile over depth at the latest measurement.
 */
import type { Curves } from './curves.js';

/** `q_l12` → ['q', 12]; null for a metric that is not per layer. */
export function perLayer(metric: string): [family: string, layer: number] | null {
  const m = /^(.+)_l(\d+)$/.exec(metric);
  return m ? [m[1]!, Number(m[2])] : null;
}

export interface LayerProfile {
  /** The step of the newest per-layer value. */
  readonly step: number;
  /** Metric families in first-logged order: q, mean, var, chi1, ... */
  readonly families: readonly string[];
  /** One row per layer number, ascending; a family the layer lacks is absent. */
  readonly rows: readonly { readonly layer: number; readonly values: Readonly<Record<string, number>> }[];
}

/** The newest value of every per-layer metric, by layer; null when the run logged none. */
export function layerProfile(curves: Curves): LayerProfile | null {
  const families: string[] = [];
  const rows = new Map<number, Record<string, number>>();
  let step = -Infinity;
  for (const [metric, points] of curves) {
    const parsed = perLayer(metric);
    const last = points.at(-1);
    if (!parsed || !last) continue;
    const [family, layer] = parsed;
    if (!families.includes(family)) families.push(family);
    let row = rows.get(layer);
    if (!row) rows.set(layer, (row = {}));
    row[family] = last[1];
    step = Math.max(step, last[0]);
  }
  if (rows.size === 0) return null;
  return { step, families, rows: [...rows.entries()].sort((a, b) => a[0] - b[0]).map(([layer, values]) => ({ layer, values })) };
}
