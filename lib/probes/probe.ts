import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { ExperimentConfig } from '../config.js';
import type { Model } from '../models/model.js';
import type { Callback, Logs, StepGradients, TrainContext } from '../training/callback.js';
import { readScalars } from '../training/read_scalars.js';
import { drawProbeBatch, type ProbeBatch } from './probe_batch.js';

/**
 * The kwargs every probe shares: when it measures, and on how many inputs. Each probe file
 * spreads these into its own schema with its own default n_probe.
 */
export function probeScheduleKwargs(defaultNProbe: number) {
  return {
    every: z
      .int()
      .positive()
      .optional()
      .describe("steps between measurements (default: the run's train.eval_every; the last step is always measured)"),
    at: z
      .array(z.int().nonnegative())
      .default([0])
      .describe('further steps to measure at; 0 = at initialisation, before the first update'),
    n_probe: z
      .int()
      .min(2)
      .default(defaultNProbe)
      .describe("probe inputs, drawn once from the training split with the run's seed (capped at its size)"),
  };
}

export interface ProbeSchedule {
  every?: number | undefined;
  at: number[];
  n_probe: number;
}

/** What one probe measures; the shared callback does the scheduling, batching, reading and logging. */
export interface Probe {
  /** At fit start, once the probe batch is drawn and before any measurement: take references that mean "at initialisation". */
  start?(ctx: TrainContext, batch: ProbeBatch): void;
  /**
   * Measures at the current step (`ctx.step`; 0 = before the first update) on the probe batch.
   * Runs inside a tf.tidy: returned tensors must each hold one value and are read back together
   * in one transfer (readScalars); numbers are logged as they are. Tensors the probe keeps across
   * calls must be tf.keep-ed and released in `dispose`.
   */
  measure(ctx: TrainContext, batch: ProbeBatch): Record<string, tf.Tensor | number>;
  /** The training step's gradients, when the probe reads them (see Callback.onGradients). */
  onGradients?(ctx: TrainContext, grads: StepGradients, batch: ProbeBatch): void;
  /** Frees what the probe keeps (reference kernels, initial weights). Called once, always. */
  dispose?(): void;
}

/** Whether a probe scheduled with `every` and `at` measures at `step` of `totalSteps`. */
export function probeDue(step: number, totalSteps: number, every: number, at: readonly number[]): boolean {
  return step === totalSteps || at.includes(step) || (every > 0 && step > 0 && step % every === 0);
}

/**
 * A probe as a trainer callback: draws the probe batch at fit start, measures at the scheduled
 * steps (step 0 from onFitStart, later ones after the step's update), logs with split `probe`,
 * and frees the batch and the probe's state in teardown, whatever ends the fit.
 */
export interface ProbeOptions {
  /** Refuses a model the probe cannot measure, before anything is written (see Callback.checkModel). */
  checkModel?(model: Model, config: ExperimentConfig): void;
  /** Whether the probe reads the training step's gradients (Probe.onGradients): only then is the trainer's gradient hook set. */
  readsGradients?: boolean;
}

export function probeCallback(
  schedule: ProbeSchedule,
  make: (ctx: TrainContext, due: (step: number) => boolean) => Probe,
  options: ProbeOptions = {},
): Callback {
  let batch: ProbeBatch | null = null;
  let probe: Probe | null = null;
  let every = 0;
  const measured = new Set<number>();
  const due = (step: number, totalSteps: number) => probeDue(step, totalSteps, every, schedule.at);

  const measure = (ctx: TrainContext) => {
    if (measured.has(ctx.step)) return;
    measured.add(ctx.step);
    let logs: Logs = {};
    tf.tidy(() => {
      const out = probe!.measure(ctx, batch!);
      const tensors: Record<string, tf.Tensor> = {};
      for (const [k, v] of Object.entries(out)) if (typeof v !== 'number') tensors[k] = v;
      const read = readScalars(tensors);
      logs = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, typeof v === 'number' ? v : read[k]!]));
    });
    ctx.log(logs, 'probe');
  };

  const callback: Callback = {
    onFitStart(ctx) {
      every = schedule.every ?? ctx.config.train.eval_every;
      batch = drawProbeBatch(ctx.data, schedule.n_probe, ctx.config.seed);
      probe = make(ctx, (step) => due(step, ctx.totalSteps));
      probe.start?.(ctx, batch);
      if (due(0, ctx.totalSteps)) measure(ctx);
    },
    onStepEnd(ctx) {
      if (due(ctx.step, ctx.totalSteps)) measure(ctx);
    },
    teardown() {
      probe?.dispose?.();
      batch?.dispose();
      probe = null;
      batch = null;
      measured.clear();
    },
  };
  if (options.checkModel) callback.checkModel = options.checkModel;
  // Defined only for probes that read gradients: the trainer skips the hook when no callback has it.
  if (options.readsGradients) callback.onGradients = (ctx, grads) => probe?.onGradients?.(ctx, grads, batch!);
  return callback;
}
