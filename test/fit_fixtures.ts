import { buildExperiment, fitExperiment, resolveConfig } from '../lib/experiment.js';
import type { FitResult } from '../lib/training/callback.js';
import type { NamedCallback } from '../lib/training/trainer.js';

/** A metrics.jsonl row as the trainer writes it. */
export type Row = Record<string, number | string>;

/**
 * Builds a raw config (resolved as "test") in-process on the active backend, fits it with `extra`
 * callbacks after the config's own, and disposes it whatever happens: the fit's result and every
 * metrics row in the order written. The in-process counterpart of `dlphys train`, for tests.
 */
export async function fitRows(raw: Record<string, unknown>, extra: readonly NamedCallback[] = []): Promise<{ result: FitResult; lines: Row[] }> {
  const exp = buildExperiment(resolveConfig(raw, 'test'), process.cwd());
  const lines: Row[] = [];
  try {
    const result = await fitExperiment(exp, { runDir: null, sink: { metrics: (r) => lines.push(r), print: () => {} }, extraCallbacks: [...extra] });
    return { result, lines };
  } finally {
    exp.dispose();
  }
}
