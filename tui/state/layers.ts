/**
 * A run's per-layer probe metrics (q_l3, chi1_l3, c_l3, ...: lib/probes) as one table, layer by
 * layer: dozens of them would otherwise each take a chart in the run detail, while what a
 * researcher reads is the profile over depth at the latest measurement.
 */
import { parseObject } from './parse.js';

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
  /** Every per-layer probe metric the run logged, at any step: these are not charted one by one. */
  readonly keys: ReadonlySet<string>;
  /** One row per layer number, ascending; a family the layer lacks is absent. */
  readonly rows: readonly { readonly layer: number; readonly values: Readonly<Record<string, number>> }[];
}

/**
 * The per-layer numbers of the newest probe step, from a run's metrics.jsonl lines: only rows
 * with split "probe" and only that step (each probe writes its own row, and probes on different
 * schedules must not be blended into one profile); null when the run logged none.
 */
export function layerProfile(lines: readonly string[]): LayerProfile | null {
  const probeRows = lines.map((l) => parseObject(l)).filter((o) => o.split === 'probe' && typeof o.step === 'number');
  const rowsWithLayers = probeRows.filter((o) => Object.keys(o).some((k) => perLayer(k)));
  if (rowsWithLayers.length === 0) return null;
  const step = Math.max(...rowsWithLayers.map((o) => o.step as number));
  const keys = new Set(rowsWithLayers.flatMap((o) => Object.keys(o).filter((k) => perLayer(k))));
  const families: string[] = [];
  const rows = new Map<number, Record<string, number>>();
  for (const o of rowsWithLayers) {
    if (o.step !== step) continue;
    for (const [metric, v] of Object.entries(o)) {
      const parsed = perLayer(metric);
      if (!parsed || typeof v !== 'number') continue;
      const [family, layer] = parsed;
      if (!families.includes(family)) families.push(family);
      let row = rows.get(layer);
      if (!row) rows.set(layer, (row = {}));
      row[family] = v;
    }
  }
  return { step, families, keys, rows: [...rows.entries()].sort((a, b) => a[0] - b[0]).map(([layer, values]) => ({ layer, values })) };
}
