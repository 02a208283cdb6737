/**
 * Runs made on demand: an open-ended sweep (W&B's random search without run_cap) has no runs up
 * front; the lease that finds its queue short makes the runs it asks for, in its own transaction,
 * from the stored spec alone (the spec holds its base inline; a program sweep's job template is
 * stored beside it). Run i is the i-th draw of the sweep's seed (lib/sweep/assignments.ts), so a
 * coordinator restarted on the same database makes the same next runs: nothing about the search
 * lives outside the database.
 */
import { expandSweep, MAX_RUNS, type ProgramJob } from '../../lib/sweep/index.js';
import type { StoreCore } from './core.js';
import type { SweepKind } from './types.js';

/**
 * An open-ended sweep whose first this many runs all failed is closed: its program cannot run
 * (W&B's agent gives up after 5 failures of its first runs, too).
 */
export const MAX_INITIAL_FAILURES = 5;

/**
 * Makes up to `wanted` runs of the open-ended sweeps, oldest first (only those of kind `only`
 * when set), counting the runs already queued in them; returns how many it
 * made. Call inside the lease's transaction. A sweep whose runs can no longer be made (its cap
 * reached, its stored spec refused, or its first runs all failed) is closed, with an event and
 * the sweep's warning saying why.
 */
export function proposeRuns(core: StoreCore, wanted: number, only: SweepKind | null): number {
  const { s } = core;
  let made = 0;
  const close = (name: string, reason: string) => {
    s.closeSweep.run(name);
    s.setWarning.run(`no more runs are made: ${reason}`, name);
    core.event('sweep_closed', { sweep: name, data: { reason } });
  };
  for (const sweep of s.openSweeps.all()) {
    if (made >= wanted) break;
    if (only !== null && only !== sweep.kind) continue;
    if (sweep.runs >= MAX_RUNS) {
      close(sweep.name, `it made ${MAX_RUNS} runs, the most one sweep makes`);
      continue;
    }
    const outcomes = s.outcomesOf.get(sweep.name)!;
    if (outcomes.failed >= MAX_INITIAL_FAILURES && outcomes.succeeded === 0) {
      close(sweep.name, `its first ${outcomes.failed} runs failed (see their errors: dlphys-coord status ${sweep.name}); fix the cause and submit it again`);
      continue;
    }
    const need = Math.min(wanted - made - sweep.queued, MAX_RUNS - sweep.runs);
    if (need <= 0) continue;
    let runs;
    try {
      runs = expandSweep(JSON.parse(sweep.spec_json), {
        source: `sweep ${sweep.name}`,
        baseDir: '/',
        name: sweep.name,
        window: { from: sweep.runs, count: need },
        ...(sweep.template_json ? { programTemplate: JSON.parse(sweep.template_json) as Omit<ProgramJob, 'params'> } : {}),
      }).runs;
    } catch (err) {
      // It expanded when it was submitted; a coordinator of another version may refuse it now.
      close(sweep.name, `its next runs cannot be made: ${(err as Error).message}`);
      continue;
    }
    const now = core.now();
    for (const run of runs) {
      s.insertRun.run(`${sweep.name}/${run.name}`, sweep.name, run.index, run.name, JSON.stringify(run.params), JSON.stringify(run.config), now, now);
    }
    core.event('runs_proposed', { sweep: sweep.name, data: { runs: runs.length, from: sweep.runs } });
    made += runs.length;
  }
  return made;
}
