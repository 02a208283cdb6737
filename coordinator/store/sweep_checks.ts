/**
 * What the store checks of a sweep before recording it, beyond its JSON shape (sweep_json.ts): the
 * fields a client computed that agents and the lease act on. A SubmitSweep can come from any
 * client, so a program sweep's jobs must all be its template's (one code hash, one folder inside
 * the snapshot), and only a random sweep without run_cap, sent with no runs, may be open-ended.
 */
import { isDeepStrictEqual } from 'node:util';
import { UsageError } from '../../lib/errors.js';
import type { ExpandedSweep, ProgramJob } from '../../lib/sweep/index.js';

/** Throws a UsageError naming the first field that does not fit. */
export function checkSweepShape(sweep: ExpandedSweep): void {
  const fail = (message: string): never => {
    throw new UsageError(`sweep ${sweep.name}: ${message}`);
  };
  const spec = sweep.spec as { method?: unknown; run_cap?: unknown };
  const onDemand = spec.method === 'bayes' || (spec.method === 'random' && spec.run_cap === undefined);
  if (Boolean(sweep.open) !== onDemand || (onDemand && sweep.runs.length > 0)) {
    fail('a bayes sweep, or a random one without run_cap, is sent with no runs and open; any other with its runs');
  }
  const program = sweep.kind === 'program';
  const template = sweep.programTemplate;
  if (program !== (template !== undefined)) fail(program ? 'a program sweep needs its programTemplate' : 'only a program sweep has a programTemplate');
  for (const run of sweep.runs) {
    const isJob = (run.config as { kind?: unknown }).kind === 'program';
    if (isJob !== program) fail(`run ${run.name}: ${program ? 'a program sweep runs program jobs' : 'a native sweep runs experiment configs'}`);
  }
  if (!template) return;
  const code = sweep.code?.hash ?? null;
  if (template.code !== code) fail('its programTemplate names another code snapshot than the sweep');
  checkCwd(template, fail);
  for (const run of sweep.runs) {
    const { params: _params, ...job } = run.config as ProgramJob;
    if (!isDeepStrictEqual(job, template)) fail(`run ${run.name}: its job differs from the sweep's programTemplate beyond its params`);
  }
}

/** A job's folder: inside its snapshot (relative, no `..`) when it has one, else absolute. */
function checkCwd(template: Omit<ProgramJob, 'params'>, fail: (message: string) => never): void {
  const cwd = template.cwd;
  if (typeof cwd !== 'string') return fail('its programTemplate has no cwd');
  if (template.code !== null) {
    if (cwd.startsWith('/') || cwd.split('/').some((part) => part === '..')) fail(`its programTemplate's cwd ${JSON.stringify(cwd)} leaves its code snapshot`);
  } else if (!cwd.startsWith('/')) {
    fail(`its programTemplate's cwd ${JSON.stringify(cwd)} must be absolute (code_dir: false runs in place)`);
  }
}
