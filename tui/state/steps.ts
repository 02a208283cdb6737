/**
 * How many steps a sweep's runs train for. Status does not say (a run's params hold only its swept
 * values), so it is read from a run's resolved config (RunDetail's config_json, `train.steps`), or
 * from a completed run's summary when no run's config has been read.
 */
import type { StatusSnapshot } from '../source.js';
import { num, parseCached, parseObject, parseSummary } from './parse.js';

/** `train.steps` of a resolved ExperimentConfig (JSON); null for a program run's config or a malformed one. */
export function stepsFromConfig(configJson: string): number | null {
  const train = parseObject(configJson).train;
  return train && typeof train === 'object' ? num((train as Record<string, unknown>).steps) : null;
}

/**
 * Each sweep's steps as its completed runs' summaries tell, where `train.steps` is not swept (a
 * swept one is each run's own, read from its params).
 */
export function stepsFromSummaries(status: StatusSnapshot | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of status?.runs ?? []) {
    if (r.sweep in out || r.state !== 'completed' || 'train.steps' in parseCached(r.params_json)) continue;
    const summary = parseSummary(r.summary_json);
    // An early-stopped run ran fewer steps than the sweep asked for.
    if (summary?.status === 'completed' && summary.steps) out[r.sweep] = summary.steps;
  }
  return out;
}
