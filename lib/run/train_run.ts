import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend, type BackendChoice } from '../backend/index.js';
import type { RawConfig } from '../config.js';
import { RunFailedError, UsageError } from '../errors.js';
import { buildExperiment, fitExperiment, resolveConfig, type BuiltExperiment } from '../experiment.js';
import type { FitResult } from '../training/callback.js';
import type { NamedCallback, Trainer } from '../training/trainer.js';
import { provenance } from './provenance.js';
import { checkRunDir, RunFolder, type RunSummary } from './run_folder.js';

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

/** When each phase of a run ended, in ms since the epoch: data loaded, model built, training begun, training (and its final evaluation) done. */
export interface RunMarks {
  data?: number;
  model?: number;
  started?: number;
  trained?: number;
}

export interface TrainRunResult {
  runDir: string;
  result: FitResult;
  /** What summary.json now holds. */
  summary: RunSummary;
}

/**
 * A run validated and built (data, model, init, optimizer, callbacks), not yet trained: what a
 * runner process holds for the run leased after the one it is training, so that only its folder
 * (about a millisecond) and training stand between the two (agent/runner/main.ts). Its folder is
 * made when it trains: a run prepared and then dropped (its process retired or killed) leaves
 * nothing on disk, and can never touch the folder another process trains it in.
 */
export interface PreparedRun {
  readonly runDir: string;
  /** Tensors it holds (model, data, optimizer state), counted by tf.memory().numTensors. */
  readonly tensors: number;
  /** Trains it; once, and not after discard(). */
  train(): Promise<TrainRunResult>;
  /** Frees its tensors: it will not run here. */
  discard(): void;
}

/**
 * `dlphys train`: validates everything (config, kwargs, run name, runs dir), builds the
 * experiment, and only then creates the run folder, so a bad input leaves nothing behind. A run
 * that throws while training still gets a summary.json with status `failed` and the error.
 * Errors: UsageError for bad input (nothing written), RunFailedError for a run that failed while
 * training (its folder says why).
 */
export async function trainRun(opts: TrainRunOptions): Promise<TrainRunResult> {
  return (await prepareRun(opts)).train();
}

/**
 * The first half of trainRun: everything up to the folder and the first step, nothing written.
 * Throws UsageError for bad input.
 */
export async function prepareRun(opts: TrainRunOptions): Promise<PreparedRun> {
  const config = resolveConfig(opts.raw, opts.source);
  const name = opts.name ?? config.name ?? path.basename(opts.source).replace(/\.json$/i, '');
  const overwrite = opts.overwrite ?? false;
  const dir = checkRunDir(opts.runsDir, name, overwrite);
  const backend = await useBackend(opts.backend ?? 'auto', opts.threads !== undefined ? { threads: opts.threads } : {});
  const marks = opts.marks ?? {};
  const before = tf.memory().numTensors;
  const exp = buildExperiment({ ...config, name }, opts.baseDir, () => (marks.data = Date.now()));
  const tensors = tf.memory().numTensors - before;
  marks.model = Date.now();
  let used = false;
  const use = () => {
    if (used) throw new Error(`run ${name} was trained or discarded already`);
    used = true;
  };
  return {
    runDir: dir,
    tensors,
    train: () => {
      use();
      let folder: RunFolder;
      try {
        folder = RunFolder.create(dir, {
          overwrite,
          config: { ...exp.config, provenance: provenance(backend, config.seed) },
          ...(opts.onMetricsLine ? { onMetricsLine: opts.onMetricsLine } : {}),
        });
      } catch (err) {
        exp.dispose();
        throw err;
      }
      return train(opts, { name, seed: config.seed, dir, backend, exp, folder, marks });
    },
    discard: () => {
      use();
      exp.dispose();
    },
  };
}

async function train(
  opts: TrainRunOptions,
  run: { name: string; seed: number; dir: string; backend: { name: string; threads?: number }; exp: BuiltExperiment; folder: RunFolder; marks: RunMarks },
): Promise<TrainRunResult> {
  const { name, dir, backend, exp, folder, marks } = run;
  marks.started = Date.now();
  const startedAt = new Date(marks.started).toISOString();
  try {
    const on = backend.threads && backend.threads > 1 ? `${backend.name} (${backend.threads} threads)` : backend.name;
    folder.print(`run ${name} on backend ${on}, seed ${run.seed}, ${exp.model.params.reduce((n, p) => n + p.size, 0)} parameters`);
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
    const summary: RunSummary = {
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
    };
    folder.writeSummary(summary);
    return { runDir: dir, result, summary };
  } finally {
    folder.close();
    exp.dispose();
  }
}
