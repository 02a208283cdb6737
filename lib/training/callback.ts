import type * as tf from '@tensorflow/tfjs-core';
import type { ExperimentConfig } from '../config.js';
import type { Dataset } from '../data/dataset.js';
import type { Model } from '../models/model.js';
import type { LossFn, Optimizer } from '../optim/optimizer.js';

/** Which split a metric row was measured on: the `split` field of metrics.jsonl. */
export type MetricSplit = 'train' | 'val';

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

/** Every hook is optional and awaited in order; an error names the callback and the hook. */
export interface Callback {
  onFitStart?(ctx: TrainContext): void | Promise<void>;
  onEpochStart?(ctx: TrainContext): void | Promise<void>;
  onStepEnd?(ctx: TrainContext): void | Promise<void>;
  /** After each evaluation on the validation split; `ctx.logs` holds the fresh `val_` metrics. */
  onEvalEnd?(ctx: TrainContext, valLogs: Logs): void | Promise<void>;
  onEpochEnd?(ctx: TrainContext): void | Promise<void>;
  onFitEnd?(ctx: TrainContext, result: FitResult): void | Promise<void>;
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
}
