/**
 * Whether a larger value of a metric is better. Accuracies are maximised, everything else
 * (losses, errors, norms, drifts) minimised; scan and the trainer's best-so-far share this rule.
 */
export function higherIsBetter(metric: string): boolean {
  return metric.includes('acc');
}

/** Keys of a metrics.jsonl line that are bookkeeping, not metrics. */
export const BOOKKEEPING_KEYS: ReadonlySet<string> = new Set(['step', 'epoch', 'time', 'split']);

/** Logged like metrics but with no "best" (a best learning rate or speed means nothing). */
export const UNRANKED_METRICS: ReadonlySet<string> = new Set(['lr', 'steps_per_sec', 'samples_per_sec', 'examples_per_sec']);

/**
 * A run's value of a sweep metric from its summary.json: its best when the summary's `best` went
 * the sweep's way (the trainer ranks by the name: accuracies up, everything else down), else its
 * final value; null when it has neither as a finite number.
 */
export function summaryMetric(summary: { best?: Record<string, unknown>; final?: Record<string, unknown> }, metric: string, goal: 'min' | 'max'): number | null {
  const best = summary.best?.[metric];
  const final = summary.final?.[metric];
  const value = (goal === 'max') === higherIsBetter(metric) && best !== undefined ? best : final ?? best;
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
