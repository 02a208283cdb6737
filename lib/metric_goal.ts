/**
 * Whether a larger value of a metric is better. Accuracies are maximised, everything else
 * (losses, errors, norms) minimised; scan and the trainer's best-so-far share this one rule.
 */
export function higherIsBetter(metric: string): boolean {
  return /acc/i.test(metric);
}

/** Keys of a metrics.jsonl line that are bookkeeping, not metrics. */
export const BOOKKEEPING_KEYS: ReadonlySet<string> = new Set(['step', 'epoch', 'time', 'split']);
