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
import { summaryMetric } from '../../lib/metric_goal.js';
import { bayesNext, expandSweep, MAX_RUNS, sweepMetric, sweepParameters, type ProgramJob, type SearchRun } from '../../lib/sweep/index.js';
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
        const goal = sweepMetric(parsed)!.goal;
        const history = s.historyOf
          .all(sweep.name)
          .map((r) => searchRun(r, flat.map((f) => f.path), parsed.metric!.name, goal))
          .filter((r): r is SearchRun => r !== null);
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

/**
 * A run of the sweep as bayes search sees it: its values by parameter path, its state, its value
 * of the metric; null for a cancelled run, which says nothing about the metric.
 */
function searchRun(row: { params_json: string; state: string; summary_json: string | null }, paths: string[], metric: string, goal: 'min' | 'max'): SearchRun | null {
  if (row.state === 'cancelled') return null;
  const params = JSON.parse(row.params_json) as Record<string, unknown>;
  // An early-stopped run's values are observations like a finished one's (worse, as a rule).
  const state = ['completed', 'diverged', 'early_stopped'].includes(row.state) ? 'finished' : row.state === 'failed' ? 'failed' : 'pending';
  const value = row.summary_json ? summaryMetric(JSON.parse(row.summary_json) as Parameters<typeof summaryMetric>[0], metric, goal) : null;
  return { values: paths.map((p) => params[p]), state, metric: value };
}
