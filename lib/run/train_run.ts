import path from 'node:path';
import { useBackend, type BackendChoice } from '../backend/index.js';
import type { RawConfig } from '../config.js';
import { RunFailedError, UsageError } from '../errors.js';
import { buildExperiment, fitExperiment, resolveConfig } from '../experiment.js';
import type { FitResult } from '../training/callback.js';
import type { NamedCallback, Trainer } from '../training/trainer.js';
import { provenance } from './provenance.js';
import { checkRunDir, RunFolder } from './run_folder.js';

export interface TrainRunOptions {
  /** The config as read (before defaults), `source` names it in messages, relative paths resolve against baseDir. */
  raw: RawConfig;
  source: string;
  baseDir: string;
  runsDir: string;
  /** Folder name under runsDir; default: the config's `name`, else the source's base name. */
  name?: string;
  overwrite?: boolean;
  backend?: BackendChoice;
  /** wasm threads (default: DLPHYS_THREADS, else every core). */
  threads?: number;
  extraCallbacks?: NamedCallback[];
  /** Receives the trainer once it exists, e.g. to wire SIGINT to requestStop. */
  onTrainer?: (t: Trainer) => void;
  /** Sees every metrics.jsonl line once it is written (the agent streams them to the coordinator). */
  onMetricsLine?: (line: string) => void;
  /** Filled with when (Date.now(), ms) each phase ended: where a run's time goes (bench/sweep.ts). */
  marks?: RunMarks;
}

/** When each phase of trainRun ended, in ms since the epoch: data loaded, model built, training (and its final evaluation) done. */
export interface RunMarks {
  data?: number;
  model?: number;
  trained?: number;
}

export interface TrainRunResult {
  runDir: string;
  result: FitResult;
}

/**
 * `dlphys train`: validates everything (config, kwargs, run name, runs dir), builds the
 * experiment, and only then creates the run folder, so a bad input leaves nothing behind. A run
 * that throws while training still gets a summary.json with status `failed` and the error.
 */
export async function trainRun(opts: TrainRunOptions): Promise<TrainRunResult> {
  const config = resolveConfig(opts.raw, opts.source);
  const name = opts.name ?? config.name ?? path.basename(opts.source).replace(/\.json$/i, '');
  const overwrite = opts.overwrite ?? false;
  const dir = checkRunDir(opts.runsDir, name, overwrite);
  const backend = await useBackend(opts.backend ?? 'auto', opts.threads !== undefined ? { threads: opts.threads } : {});
  const marks = opts.marks ?? {};
  const exp = buildExperiment({ ...config, name }, opts.baseDir, () => (marks.data = Date.now()));
  marks.model = Date.now();
  const folder = RunFolder.create(dir, {
    overwrite,
    config: { ...exp.config, provenance: provenance(backend, config.seed) },
    ...(opts.onMetricsLine ? { onMetricsLine: opts.onMetricsLine } : {}),
  });
  const startedAt = new Date().toISOString();
  try {
    const on = backend.threads && backend.threads > 1 ? `${backend.name} (${backend.threads} threads)` : backend.name;
    folder.print(`run ${name} on backend ${on}, seed ${config.seed}, ${exp.model.params.reduce((n, p) => n + p.size, 0)} parameters`);
    let result: FitResult;
    let trainer: Trainer | undefined;
    try {
      result = await fitExperiment(exp, {
        runDir: dir,
        sink: folder,
        ...(opts.extraCallbacks ? { extraCallbacks: opts.extraCallbacks } : {}),
        onTrainer: (t) => {
          trainer = t;
          opts.onTrainer?.(t);
        },
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      folder.print(`failed: ${err instanceof Error && !(err instanceof UsageError) ? (err.stack ?? message) : message}`);
      const partial = trainer?.progress() ?? { steps: 0, final: {}, best: {}, wallTime: 0 };
      folder.writeSummary({
        name,
        status: 'failed',
        reason: null,
        steps: partial.steps,
        final: partial.final,
        best: partial.best,
        wall_time: partial.wallTime,
        callback_time: trainer?.callbackTime() ?? {},
        error: message,
        started_at: startedAt,
        ended_at: new Date().toISOString(),
      });
      const where = path.relative(process.cwd(), dir) || dir;
      throw new RunFailedError(`run ${name} failed: ${message.split('\n')[0]} (details in ${path.join(where, 'train.log')})`, { cause: err });
    }
    marks.trained = Date.now();
    folder.print(`${result.status} after ${result.steps} steps in ${result.wallTime.toFixed(2)} s${result.reason ? `: ${result.reason}` : ''}`);
    folder.writeSummary({
      name,
      status: result.status,
      reason: result.reason ?? null,
      steps: result.steps,
      final: result.final,
      best: result.best,
      wall_time: result.wallTime,
      callback_time: result.callbackTime,
      error: null,
      started_at: startedAt,
      ended_at: new Date().toISOString(),
    });
    return { runDir: dir, result };
  } finally {
    folder.close();
    exp.dispose();
  }
}
