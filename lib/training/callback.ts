import type * as tf from '@tensorflow/tfjs-core';
import type { ExperimentConfig } from '../config.js';
import type { Dataset } from '../data/dataset.js';
import type { Model } from '../models/model.js';
import type { LossFn, Optimizer } from '../optim/optimizer.js';

/**
 * Which split a metric row was measured on: the `split` field of metrics.jsonl. `probe` rows are
 * measurements of the network itself (lib/probes) on a fixed batch of training inputs.
 */
export type MetricSplit = 'train' | 'val' | 'probe';

/**
 * The metrics the trainer itself logs: train rows carry loss (mean over the logging window), acc
 * (classification), lr and steps_per_sec; validation rows val_loss and val_acc (classification).
 * Callbacks add theirs (each registry entry's `logs`). What a sweep's metric.name is checked
 * against when the sweep is expanded.
 */
export const TRAINER_METRICS = ['loss', 'acc', 'lr', 'steps_per_sec', 'val_loss', 'val_acc'] as const;

/** Plain numbers only: user code never receives tensors in logs. */
export type Logs = Record<string, number>;

/**
 * The one object every callback hook receives. The trainer updates `step`, `epoch`, `logs` and
 * `batch` as it goes; callbacks read them and act through `log`, `requestStop` and `print`.
 */
export interface TrainContext {
  readonly config: ExperimentConfig;
  /** The run folder, or null for a run that writes nothing (tests, benches). */
  readonly runDir: string | null;
  readonly model: Model;
  readonly data: Dataset;
  readonly optimizer: Optimizer;
  readonly loss: LossFn;
  /** Steps completed so far (1-based after the first step). */
  step: number;
  /** Current epoch, 0-based. */
  epoch: number;
  readonly totalSteps: number;
  readonly stepsPerEpoch: number;
  /** Learning rate used by the last step. */
  lr: number;
  /** The batch of the last step, valid only inside onStepEnd (the trainer disposes it after). */
  batch: { x: tf.Tensor; y: tf.Tensor } | null;
  /** The latest logged value of every metric, by name (validation metrics are prefixed `val_`). */
  readonly logs: Logs;
  /** Records metrics at the current step (written to metrics.jsonl and merged into `logs`). */
  log(metrics: Logs, split?: MetricSplit): void;
  /** Asks the trainer to stop after the current hook; the run ends with status `stopped`. */
  requestStop(reason: string): void;
  /** A line for train.log (and the console when verbose). */
  print(line: string): void;
}

/**
 * The gradients of one training step, before the optimizer applies them: `grads[i]` belongs to
 * `ctx.model.params[i]`. They are freed when the hook returns; keep (tf.keep) what must outlive it.
 */
export type StepGradients = readonly tf.Tensor[];

/**
 * Every hook is optional and awaited in order; an error names the callback and the hook.
 * `onException` and `teardown` are how a callback that holds tensors stays clean: whatever
 * happens, `teardown` runs once at the end of the fit (after onFitEnd, or after onException),
 * so a failed run, a stop, or the next run in the same process inherits nothing.
 */
export interface Callback {
  /**
   * Called once the model is built, before the run folder is created: throw a UsageError naming
   * the fix when this callback cannot work with the model, so the mistake writes nothing.
   */
  checkModel?(model: Model, config: ExperimentConfig): void;
  onFitStart?(ctx: TrainContext): void | Promise<void>;
  onEpochStart?(ctx: TrainContext): void | Promise<void>;
  onStepEnd?(ctx: TrainContext): void | Promise<void>;
  /** After each evaluation on the validation split; `ctx.logs` holds the fresh `val_` metrics. */
  onEvalEnd?(ctx: TrainContext, valLogs: Logs): void | Promise<void>;
  onEpochEnd?(ctx: TrainContext): void | Promise<void>;
  onFitEnd?(ctx: TrainContext, result: FitResult): void | Promise<void>;
  /**
   * Synchronous, inside the step: the gradients of step `ctx.step + 1`, taken at the parameters
   * after `ctx.step` updates, before the update. Called at every step, so the callback decides
   * cheaply whether to act; gradient probes read them here instead of recomputing them.
   */
  onGradients?(ctx: TrainContext, grads: StepGradients): void;
  /** The fit is failing with `error` (a hook, a step or the backend threw); it is re-thrown after. */
  onException?(ctx: TrainContext, error: unknown): void | Promise<void>;
  /** Always the last hook, whether the fit completed, stopped, diverged or failed: release what the callback holds. */
  teardown?(ctx: TrainContext): void | Promise<void>;
}

export type RunStatus = 'completed' | 'diverged' | 'stopped' | 'failed';

export interface FitResult {
  status: RunStatus;
  steps: number;
  /** Why the run stopped early (stop request, divergence), if it did. */
  reason?: string;
  /** Last value of every metric. */
  final: Logs;
  /** Best value of every metric: min for losses and most metrics, max for accuracies. */
  best: Logs;
  wallTime: number;
  /** Seconds spent in each callback's hooks, by callback name (a repeated name gets `#2`, `#3`). */
  callbackTime: Record<string, number>;
}
