import fs from 'node:fs';
import path from 'node:path';

/** One probe row of metrics.jsonl: `step` and the numbers one probe logged there. */
export type ProbeRow = Record<string, number> & { step: number };

/**
 * The rows a run's probes wrote to metrics.jsonl (split "probe"), in the order written, without
 * `split`. Each probe writes its own row per step; `mergeProbeRows` joins a step's rows. A torn
 * last line (a run still writing) and non-numeric fields are skipped; a run without
 * metrics.jsonl has none.
 */
export function readProbeRows(runDir: string): ProbeRow[] {
  const file = path.join(runDir, 'metrics.jsonl');
  if (!fs.existsSync(file)) return [];
  const rows: ProbeRow[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      continue;
    }
    if (o === null || typeof o !== 'object' || Array.isArray(o)) continue;
    const entry = o as Record<string, unknown>;
    if (entry.split !== 'probe' || typeof entry.step !== 'number') continue;
    const row: Record<string, number> = {};
    for (const [k, v] of Object.entries(entry)) if (typeof v === 'number') row[k] = v;
    rows.push(row as ProbeRow);
  }
  return rows;
}

/** Every probe number logged at `step`, the rows of all probes joined; null when none was. */
export function mergeProbeRows(rows: readonly ProbeRow[], step: number): ProbeRow | null {
  const at = rows.filter((r) => r.step === step);
  return at.length ? (Object.assign({}, ...at) as ProbeRow) : null;
}
