/** Sweeps: recording one with its runs (all queued, attempt 0), and a program sweep's code snapshot. */
import { UsageError } from '../../lib/errors.js';
import type { ExpandedSweep } from '../../lib/sweep/index.js';
import { archiveHash } from '../../lib/sweep/code_snapshot.js';
import { checkName } from '../bounds.js';
import { checkSweepShape } from './sweep_checks.js';
import type { StoreCore } from './core.js';

/** See Store.addSweep. */
export function addSweep(core: StoreCore, sweep: ExpandedSweep, codeArchive?: Buffer): { existed: boolean; runs: number } {
  const name = checkName(sweep?.name, 'sweep name');
  if (typeof sweep.specHash !== 'string' || sweep.specHash === '') throw new UsageError(`sweep ${name}: missing specHash`);
  checkSweepShape(sweep);
  const { s } = core;
  return core.tx(() => {
    const existing = s.getSweep.get(name);
    if (existing) {
      if (existing.spec_hash === sweep.specHash) return { existed: true, runs: s.countRuns.get(name)! };
      throw new UsageError(`sweep ${name} already exists with different content; pass --name to record this one under another name`);
    }
    const now = core.now();
    const code = sweep.code ?? null;
    if (code) {
      // Checked against its content before the sweep exists: agents must never fetch a snapshot
      // that is not the one the sweep was hashed with.
      if (codeArchive && codeArchive.length > 0) {
        let hash: string;
        try {
          hash = archiveHash(codeArchive);
        } catch (err) {
          throw new UsageError(`sweep ${name}: its code snapshot is corrupt (${(err as Error).message}); submit it again`);
        }
        if (hash !== code.hash) throw new UsageError(`sweep ${name}: its code snapshot hashes to ${hash}, not ${code.hash}; submit it again`);
        s.insertCode.run(code.hash, codeArchive, code.files, code.bytes, now);
      } else if (s.hasCode.get(code.hash) === 0) {
        throw new UsageError(`sweep ${name}: its code snapshot ${code.hash.slice(0, 12)} was not sent; submit it again`);
      }
    }
    s.insertSweep.run(
      name,
      JSON.stringify(sweep.spec ?? {}),
      sweep.specHash,
      sweep.method,
      sweep.metric?.name ?? null,
      sweep.metric?.goal ?? null,
      now,
      sweep.kind === 'program' ? 'program' : 'native',
      code?.hash ?? null,
      sweep.open ? 1 : 0,
      sweep.programTemplate ? JSON.stringify(sweep.programTemplate) : null,
    );
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

/** See Store.codeArchive. */
export function codeArchive(core: StoreCore, hash: string): Buffer | null {
  return core.s.getCode.get(hash) ?? null;
}
