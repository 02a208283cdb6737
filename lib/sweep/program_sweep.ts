/**
 * Program sweeps: W&B's `program` / `command`. Each run executes the user's script (a PyTorch
 * `train.py`, say) on an agent, with the run's parameters on its command line as W&B's agent puts
 * them (lib/sweep/program_command.ts); the script's folder travels with the sweep as a
 * content-hashed snapshot (lib/sweep/code_snapshot.ts). Expanding one checks what can be checked
 * before anything is recorded: the command's macros, that the program exists, the code's size.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { assignRuns, flattenParameters, isOpenEnded, normalizeAll, type RunWindow } from './assignments.js';
import { canonicalJson } from './canonical_json.js';
import { createCodeSnapshot } from './code_snapshot.js';
import { checkEarlyTerminate, sweepMetric, type ExpandedRun, type ExpandedSweep } from './expand.js';
import { unknownMacros, usesProgram } from './program_command.js';
import type { SweepSpec } from './spec.js';

/** What an agent needs to execute one run of a program sweep (the run's `config` in the database). */
export interface ProgramJob {
  kind: 'program';
  /** The sweep's `program`, as `${program}` gives it (relative to `cwd`), or null. */
  program: string | null;
  /** The sweep's `command` as written, or null for W&B's default. */
  command: (string | number | boolean)[] | null;
  /** Hash of the code snapshot the run executes in (the agent fetches and caches it), or null: `cwd` as it is (code_dir: false). */
  code: string | null;
  /** Working directory: relative to the snapshot's root (`/`-separated, '' for the root) when `code` is set, else absolute. */
  cwd: string;
  /** The run's parameters as W&B's run config: nested `parameters` blocks as nested objects, in file order. */
  params: Record<string, unknown>;
  /** The sweep metric, for the run's summary (its best value). */
  metric: { name: string; goal: 'min' | 'max' } | null;
}

/** Whether a run's config is a program job. */
export function isProgramJob(config: unknown): config is ProgramJob {
  return config !== null && typeof config === 'object' && (config as { kind?: unknown }).kind === 'program';
}

/**
 * Expands a program sweep (one without `base`). `baseDir` is the sweep file's folder: `program`
 * and `code_dir` are relative to it, as a W&B user writes them (W&B's agent runs in that folder).
 * Errors (UsageError, one line): `${program}` in a command without `program`, a program that is not
 * a file inside the code folder, a code folder over the snapshot's caps.
 */
export function expandProgramSweep(
  sweep: SweepSpec,
  ctx: {
    source: string;
    baseDir: string;
    name: string;
    spec: Record<string, unknown>;
    warnings: string[];
    window?: RunWindow;
    proposed?: { from: number; values: unknown[][] };
    /** Made again from the stored spec: the job as first made; no file is read. */
    template?: Omit<ProgramJob, 'params'>;
    /** Paths the code snapshot leaves out. */
    codeExclude?: string[];
  },
): ExpandedSweep {
  const { source, baseDir, warnings } = ctx;
  const fail = (message: string): never => {
    throw new UsageError(`${source}: ${message}`);
  };
  const command = sweep.command ?? null;
  if (usesProgram(command ?? undefined) && sweep.program === undefined) {
    fail('the command uses ${program} but the sweep has no "program"; add program: <script> or take ${program} out of command');
  }
  for (const macro of unknownMacros(command ?? [])) {
    warnings.push(`command: ${macro} is not a macro W&B's agent fills, so it is dropped from the command line, as W&B drops it`);
  }

  // Where the run executes. With a snapshot: the sweep file's folder within it (or its root when
  // the code folder does not hold the sweep file), so `program` means what it meant to the user.
  let code: ExpandedSweep['code'] = null;
  let codeArchive: Buffer | undefined;
  let cwd: string;
  let program = sweep.program ?? null;
  if (ctx.template) {
    cwd = ctx.template.cwd;
    program = ctx.template.program;
  } else if (sweep.code_dir === false) {
    cwd = baseDir;
    if (program !== null) requireFile(path.resolve(baseDir, program), program, fail);
  } else {
    const codeDir = path.resolve(baseDir, sweep.code_dir ?? '.');
    const inside = (p: string) => p === codeDir || p.startsWith(codeDir + path.sep);
    const runDir = inside(baseDir) ? baseDir : codeDir;
    if (program !== null) {
      const file = path.resolve(baseDir, program);
      if (!inside(file)) fail(`program "${program}" is outside the code folder ${codeDir}; set code_dir to a folder that holds it`);
      requireFile(file, program, fail);
      if (runDir !== baseDir) program = path.relative(runDir, file).split(path.sep).join('/');
    }
    const snapshot = createCodeSnapshot(codeDir, { exclude: ctx.codeExclude ?? [] });
    code = { hash: snapshot.hash, files: snapshot.files, bytes: snapshot.bytes };
    codeArchive = snapshot.archive;
    cwd = path.relative(codeDir, runDir).split(path.sep).join('/');
  }

  const flat = flattenParameters(sweep.parameters, source, false);
  const params = normalizeAll(flat, source);
  const { values, names, first } = assignRuns(sweep, params, source, warnings, ctx.window, ctx.proposed);
  checkEarlyTerminate(sweep, source);
  const metric = sweepMetric(sweep);

  const runs = values.map((row, index): ExpandedRun => {
    const nested: Record<string, unknown> = {};
    const shown: Record<string, unknown> = {};
    flat.forEach(({ keys, path: dotted }, j) => {
      setNested(nested, keys, structuredClone(row[j]));
      shown[dotted] = structuredClone(row[j]);
    });
    const job: ProgramJob = { kind: 'program', program, command, code: ctx.template ? ctx.template.code : (code?.hash ?? null), cwd, params: nested, metric };
    return { index: first + index, name: names[index]!, params: shown, config: job };
  });
  const programTemplate: Omit<ProgramJob, 'params'> = { kind: 'program', program, command, code: ctx.template ? ctx.template.code : (code?.hash ?? null), cwd, metric };

  // The code is part of what the sweep is: the same file with an edited script is another sweep.
  const storedSpec = structuredClone(ctx.spec);
  const specHash = createHash('sha256')
    .update(canonicalJson(storedSpec))
    .update(code ? `\ncode ${code.hash}` : '')
    .digest('hex');
  return {
    name: ctx.name,
    kind: 'program',
    method: sweep.method,
    metric,
    spec: storedSpec,
    specHash,
    runs,
    warnings,
    code,
    open: isOpenEnded(sweep),
    programTemplate,
    ...(codeArchive ? { codeArchive } : {}),
  };
}

function requireFile(file: string, program: string, fail: (message: string) => never): void {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(file);
  } catch {
    // reported below
  }
  if (!stat?.isFile()) fail(`program "${program}" is not a file (looked for ${file}; program is relative to the sweep file's folder)`);
}

/** Sets `keys` in a nested object, creating the objects on the way (W&B's nested run config). */
function setNested(target: Record<string, unknown>, keys: string[], value: unknown): void {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    node = (next !== null && typeof next === 'object' && !Array.isArray(next) ? next : (node[key] = {})) as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}
