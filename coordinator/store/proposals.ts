/**
 * Runs made on demand: an open-ended sweep (W&B's random search without run_cap) has no runs up
 * front; the lease that finds its queue short makes the runs it asks for, in its own transaction,
 * from the stored spec alone (the spec holds its base inline; a program sweep's job template is
 * stored beside it). Run i is the i-th draw of the sweep's seed (lib/sweep/assignments.ts), so a
 * coordinator restarted on the same database makes the same next runs: nothing about the search
 * lives outside the database.
 */
import { expandSweep, type ProgramJob } from '../../lib/sweep/index.js';
import { MAX_RUNS } from '../../lib/sweep/index.js';
import type { StoreCore } from './core.js';

/**
 * Tops up the queue of every open-ended sweep to `wanted` queued runs (oldest sweep first; only
 * program sweeps for an agent that runs programs only). Call inside the lease's transaction. A
 * sweep whose runs can no longer be made (its cap reached, or its stored spec refused) is closed,
 * with an event saying why.
 */
export function proposeRuns(core: StoreCore, wanted: number, programsOnly: boolean): void {
  if (!(wanted >= 1)) return;
  const { s } = core;
  for (const sweep of s.openSweeps.all()) {
    if (programsOnly && sweep.template_json === null) continue;
    const need = Math.min(wanted - sweep.queued, MAX_RUNS - sweep.runs);
    if (sweep.runs >= MAX_RUNS) {
      s.closeSweep.run(sweep.name);
      core.event('sweep_closed', { sweep: sweep.name, data: { reason: `it made ${MAX_RUNS} runs, the most one sweep makes` } });
      continue;
    }
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
      s.closeSweep.run(sweep.name);
      core.event('sweep_closed', { sweep: sweep.name, data: { reason: `its next runs cannot be made: ${(err as Error).message}` } });
      continue;
    }
    const now = core.now();
    for (const run of runs) {
      s.insertRun.run(`${sweep.name}/${run.name}`, sweep.name, run.index, run.name, JSON.stringify(run.params), JSON.stringify(run.config), now, now);
    }
    core.event('runs_proposed', { sweep: sweep.name, data: { runs: runs.length, from: sweep.runs } });
  }
}
