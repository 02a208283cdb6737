/** Sweeps: recording one with its runs (all queued, attempt 0). */
import { UsageError } from '../../lib/errors.js';
import type { ExpandedSweep } from '../../lib/sweep/index.js';
import { checkName } from '../bounds.js';
import type { StoreCore } from './core.js';

/** See Store.addSweep. */
export function addSweep(core: StoreCore, sweep: ExpandedSweep): { existed: boolean; runs: number } {
  const name = checkName(sweep?.name, 'sweep name');
  if (typeof sweep.specHash !== 'string' || sweep.specHash === '') throw new UsageError(`sweep ${name}: missing specHash`);
  const { s } = core;
  return core.tx(() => {
    const existing = s.getSweep.get(name);
    if (existing) {
      if (existing.spec_hash === sweep.specHash) return { existed: true, runs: s.countRuns.get(name)! };
      throw new UsageError(`sweep ${name} already exists with different content; pass --name to record this one under another name`);
    }
    const now = core.now();
    s.insertSweep.run(name, JSON.stringify(sweep.spec ?? {}), sweep.specHash, sweep.method, sweep.metric?.name ?? null, sweep.metric?.goal ?? null, now);
    const seen = new Set<string>();
    for (const run of sweep.runs) {
      const runName = checkName(run.name, `sweep ${name}: run name`);
      if (seen.has(runName)) throw new UsageError(`sweep ${name}: two runs are named ${runName}; run names must be unique`);
      seen.add(runName);
      s.insertRun.run(`${name}/${runName}`, name, run.index, runName, JSON.stringify(run.params ?? {}), JSON.stringify(run.config), now, now);
    }
    core.event('sweep_submitted', { sweep: name, data: { runs: sweep.runs.length, method: sweep.method, spec_hash: sweep.specHash } });
    return { existed: false, runs: sweep.runs.length };
  });
}
