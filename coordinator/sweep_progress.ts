import type { Store } from './store/index.js';

/**
 * One progress line per sweep on stderr whenever its counts change: how many runs finished,
 * how many are running, and how many failed — what a user watching a head node wants to see.
 */
export class SweepProgress {
  private last = new Map<string, string>();
  private readonly warned = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly log: (line: string) => void,
  ) {}

  /** Prints within a second; many events in a burst cost one status query. */
  schedule(): void {
    this.timer ??= setTimeout(() => this.flush(), 1000);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const s of this.store.status().sweeps) {
      const line = sweepProgressLine(s);
      if (this.last.get(s.name) !== line) {
        this.last.set(s.name, line);
        this.log(line);
      }
      if (s.finished_reason && !this.warned.has(`${s.name} finished`)) {
        this.warned.add(`${s.name} finished`);
        this.log(`sweep ${s.name} finished: ${s.finished_reason}; its running runs finish, no new one starts`);
      }
      if (s.warning && !this.warned.has(s.name)) {
        this.warned.add(s.name);
        this.log(`warning: sweep ${s.name}: ${s.warning}`);
      }
    }
  }
}

/**
 * `sweep NAME: 3/12 finished (2 completed, 1 failed), 2 running, 7 queued`: a sweep's counts in
 * one line, as the coordinator logs them and as the dashboard's plain-lines mode prints them.
 */
export function sweepProgressLine(s: { name: string; total: number; states: Record<string, number> }): string {
  const n = (state: string) => s.states[state] ?? 0;
  const finished = n('completed') + n('diverged') + n('failed') + n('cancelled') + n('early_stopped');
  return (
    `sweep ${s.name}: ${finished}/${s.total} finished (${n('completed')} completed` +
    `${n('diverged') ? `, ${n('diverged')} diverged` : ''}${n('failed') ? `, ${n('failed')} failed` : ''}${n('cancelled') ? `, ${n('cancelled')} cancelled` : ''}${n('early_stopped') ? `, ${n('early_stopped')} early-stopped` : ''})` +
    `, ${n('leased') + n('running')} running, ${n('queued')} queued`
  );
}
