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

/** The known name closest to `name` by edit distance, when close enough to be a typo (≤ a third of its length). */
export function didYouMean(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}

/** `--metric NAME: no run has this metric` with a did-you-mean and the folded list of names there are. */
export function unknownMetric(flag: string, name: string, known: readonly string[]): UsageError {
  const guess = didYouMean(name, known);
  const list = foldLayerNames(known);
  return new UsageError(`${flag} ${name}: no run has this metric${guess ? `; did you mean ${guess}?` : ''} (there are: ${list.join(', ') || 'none logged'})`);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}
