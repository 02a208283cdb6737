/**
 * Runs made on demand: a bayes sweep, and W&B's random search without run_cap, have no runs up
 * front; the lease that finds the queue short makes the runs it asks for, in its own transaction,
 * from the database alone (the spec holds its base inline; a program sweep's job template is
 * stored beside it; bayes reads every run's params, state and summary). Random run i is the i-th
 * draw of the seed (lib/sweep/assignments.ts); bayes proposals come from the history and a seed
 * made of the sweep's seed and its run count (lib/sweep/bayes.ts). So a coordinator restarted on
 * the same database makes the same next runs: nothing about the search lives outside it.
 */
import { Rng } from '../../lib/rng.js';
import { bayesNext, expandSweep, MAX_RUNS, sweepParameters, type ProgramJob, type SearchRun } from '../../lib/sweep/index.js';
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
    let runs;
    try {
      const spec = JSON.parse(sweep.spec_json) as Record<string, unknown>;
      const source = `sweep ${sweep.name}`;
      const { sweep: parsed, flat, params } = sweepParameters(spec, source);
      // A bayes sweep with run_cap is done making runs at the cap.
      const cap = parsed.run_cap ?? MAX_RUNS;
      if (sweep.runs >= cap) {
        s.closeSweep.run(sweep.name);
        core.event('sweep_closed', { sweep: sweep.name, data: { reason: `run_cap ${cap} reached` } });
        continue;
      }
      const need = Math.min(wanted - made - sweep.queued, cap - sweep.runs);
      if (need <= 0) continue;
      const options = {
        source,
        baseDir: '/',
        name: sweep.name,
        ...(sweep.template_json ? { programTemplate: JSON.parse(sweep.template_json) as Omit<ProgramJob, 'params'> } : {}),
      };
      if (parsed.method === 'bayes') {
        // The next points from every run so far: the same history gives the same proposals.
        const history = s.historyOf.all(sweep.name).map((r) => searchRun(r, flat.map((f) => f.path), parsed.metric!.name));
        const goal = parsed.metric!.goal === 'maximize' || parsed.metric!.goal === 'max' ? 'max' : 'min';
        const values = bayesNext(params, history, need, goal, new Rng(parsed.seed, `bayes ${sweep.runs}`));
        runs = expandSweep(spec, { ...options, proposed: { from: sweep.runs, values } }).runs;
      } else {
        runs = expandSweep(spec, { ...options, window: { from: sweep.runs, count: need } }).runs;
      }
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

/** A run of the sweep as bayes search sees it: its values by parameter path, its state, its best value of the metric. */
function searchRun(row: { params_json: string; state: string; summary_json: string | null }, paths: string[], metric: string): SearchRun {
  const params = JSON.parse(row.params_json) as Record<string, unknown>;
  const state = row.state === 'completed' || row.state === 'diverged' ? 'finished' : row.state === 'failed' ? 'failed' : 'pending';
  let value: number | null = null;
  if (row.summary_json) {
    const summary = JSON.parse(row.summary_json) as { best?: Record<string, unknown>; final?: Record<string, unknown> };
    const v = summary.best?.[metric] ?? summary.final?.[metric];
    if (typeof v === 'number' && Number.isFinite(v)) value = v;
  }
  // A cancelled run says nothing about the metric: it is left out as a pending point would be.
  return { values: paths.map((p) => params[p]), state: row.state === 'cancelled' ? 'pending' : state, metric: value };
}
