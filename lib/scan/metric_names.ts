import { closestName } from '../closest_name.js';
import { UsageError } from '../errors.js';

/**
 * Metric names as a user reads them in an error: per-layer families folded (`q_l<1..49>` for
 * q_l1 ... q_l49), so a list of 500 probe keys is one short line.
 */
export function foldLayerNames(names: Iterable<string>): string[] {
  const families = new Map<string, number[]>();
  const plain: string[] = [];
  for (const name of names) {
    const m = /^(.+_l)(\d+)$/.exec(name);
    if (m) families.set(m[1]!, [...(families.get(m[1]!) ?? []), Number(m[2])]);
    else plain.push(name);
  }
  const folded = [...families].map(([stem, layers]) => (layers.length === 1 ? `${stem}${layers[0]}` : `${stem}<${Math.min(...layers)}..${Math.max(...layers)}>`));
  return [...plain, ...folded].sort();
}

/** `--metric NAME: no run has this metric` with a did-you-mean and the folded list of names there are. */
export function unknownMetric(flag: string, name: string, known: readonly string[]): UsageError {
  const guess = closestName(name, [...known]);
  const list = foldLayerNames(known);
  return new UsageError(`${flag} ${name}: no run has this metric${guess ? `; did you mean ${guess}?` : ''} (there are: ${list.join(', ') || 'none logged'})`);
}
