import * as tf from '@tensorflow/tfjs-core';
import type { ExperimentConfig } from '../config.js';
import type { Dataset } from '../data/dataset.js';
import { formatNumber } from '../format_number.js';
import { higherIsBetter, UNRANKED_METRICS } from '../metric_goal.js';
import type { Model } from '../models/model.js';
import { accuracy } from '../optim/losses.js';
import type { LossFn, Optimizer, Schedule } from '../optim/optimizer.js';
import type { Rng } from '../rng.js';
import type { FitResult, Logs, RunStatus, MetricSplit, TrainContext } from './callback.js';
import { BatchSampler } from './batches.js';
import { CallbackHooks, type NamedCallback } from './hooks.js';

export type { NamedCallback } from './hooks.js';

/** Where a fit writes: the run manager in a real run, nothing in tests and benches. */
export interface FitSink {
  metrics(record: Record<string, number | string>): void;
  print(line: string): void;
}

export interface TrainerOptions {
  config: ExperimentConfig;
  runDir: string | null;
  model: Model;
  data: Dataset;
  optimizer: Optimizer;
  loss: LossFn;
  schedule: Schedule;
  callbacks: readonly NamedCallback[];
  /** Shuffles the training split each epoch. */
  rng: Rng;
  sink?: FitSink;
}

/** How long the loop may run without giving the event loop a turn. */
const YIELD_EVERY_MS = 50;

/** Losses kept on the backend at most before a readback, whatever log_every (each step appends to them). */
const MAX_PENDING_LOSSES = 256;

/**
 * The training loop: steps over shuffled batches, periodic evaluation, and ordered callbacks
 * that all share one TrainContext. Metric logging, progress and early stopping are callbacks or
 * sink writes, not special cases here. A non-finite loss ends the run as `diverged` (in a sweep
 * over chaotic inits that is a result, not a crash) at the next readback of the losses: they stay
 * on the backend and are read in one go when train metrics are logged, before an evaluation, at
 * the end and at least every MAX_PENDING_LOSSES steps, so a diverging run goes on for at most
 * `log_every` - 1 steps after its loss stopped being finite.
 */
export class Trainer {
  private stopReason: string | null = null;
  private readonly final: Logs = {};
  private readonly best: Logs = {};
  private readonly ctx: TrainContext;
  private readonly sampler: BatchSampler;
  private startTime = 0;
  /**
   * The loss of every step since the last readback, still on the backend: a read per step would
   * stall an asynchronous backend (GPU) once a step. Always a tensor while fitting, so the
   * tensor count stays flat.
   */
  private pendingLosses: tf.Tensor1D | null = null;
  private readonly hooks: CallbackHooks;
  /** The step's batch from the sampler until it is freed, so that a step that throws frees it too. */
  private heldBatch: { x: tf.Tensor; y: tf.Tensor } | null = null;
  /** Whether some callback reads the step's gradients (onGradients). */
  private readonly gradientHook: boolean;

  constructor(private readonly opts: TrainerOptions) {
    this.hooks = new CallbackHooks(opts.callbacks);
    this.gradientHook = this.hooks.has('onGradients');
    const { config, data } = opts;
    const batchSize = Math.min(config.train.batch_size, data.train.size);
    this.sampler = new BatchSampler(data.train, batchSize, opts.rng);
    const stepsPerEpoch = this.sampler.batchesPerEpoch;
    const totalSteps = config.train.steps ?? (config.train.epochs ?? 1) * stepsPerEpoch;
    const logs: Logs = {};
    this.ctx = {
      config,
      runDir: opts.runDir,
      model: opts.model,
      data,
      optimizer: opts.optimizer,
      loss: opts.loss,
      step: 0,
      epoch: 0,
      totalSteps,
      stepsPerEpoch,
      lr: opts.optimizer.lr,
      batch: null,
      logs,
      log: (metrics, split = 'train') => this.log(metrics, split),
      requestStop: (reason) => this.requestStop(reason),
      print: (line) => opts.sink?.print(line),
    };
  }

  get context(): TrainContext {
    return this.ctx;
  }

  /** Ends the run after the current step (or hook) with status `stopped`. Safe from a signal handler. */
  requestStop(reason: string): void {
    this.stopReason ??= reason;
  }

  /** Where the run is now; what a failed run's summary records. */
  progress(): Pick<FitResult, 'steps' | 'final' | 'best' | 'wallTime'> {
    return {
      steps: this.ctx.step,
      final: { ...this.final },
      best: { ...this.best },
      wallTime: this.startTime ? (performance.now() - this.startTime) / 1000 : 0,
    };
  }

  /** Seconds each callback has spent in its hooks so far (summary.json's callback_time). */
  callbackTime(): Record<string, number> {
    return this.hooks.times();
  }

  /**
   * Trains to the end, a stop, or divergence. Whatever happens, every callback's `teardown` runs
   * once before this returns or throws; when the fit throws, `onException` runs first.
   */
  async fit(): Promise<FitResult> {
    let failure: { error: unknown } | null = null;
    try {
      return await this.run();
    } catch (err) {
      failure = { error: err };
      const errors = await this.hooks.callAll('onException', this.ctx, err);
      for (const e of errors) this.opts.sink?.print(`while handling the failure: ${e.message}`);
      throw err;
    } finally {
      this.pendingLosses?.dispose();
      this.pendingLosses = null;
      // The batch of a step that threw (in the update, a gradient hook, a readback) before onStepEnd freed it.
      if (this.heldBatch) tf.dispose([this.heldBatch.x, this.heldBatch.y]);
      this.heldBatch = null;
      this.ctx.batch = null;
      const errors = await this.hooks.callAll('teardown', this.ctx);
      // A teardown error fails a run that had otherwise succeeded; after a failure it is only logged.
      if (errors.length > 0) {
        if (failure) for (const e of errors) this.opts.sink?.print(`while cleaning up: ${e.message}`);
        else throw errors[0]!;
      }
    }
  }

  private async run(): Promise<FitResult> {
    const { ctx, opts } = this;
    const { train } = opts.config;
    this.startTime = performance.now();
    let status: RunStatus = 'completed';
    let reason: string | undefined;
    let windowLoss = 0;
    let windowSteps = 0;
    let windowStart = performance.now();

    /** Reads the pending losses into the window; on a non-finite one, logs it and returns why the run diverged. */
    const readLosses = (): string | null => {
      const losses = this.takeLosses();
      const bad = losses.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) {
        this.log({ loss: losses[bad]!, lr: ctx.lr }, 'train');
        return `loss became ${losses[bad]} at step ${ctx.step - losses.length + bad + 1}`;
      }
      for (const v of losses) windowLoss += v;
      windowSteps += losses.length;
      return null;
    };

    await this.hooks.call('onFitStart', ctx);
    await this.hooks.call('onEpochStart', ctx);
    this.pendingLosses = tf.tensor1d([], 'float32');
    let lastYield = performance.now();
    while (ctx.step < ctx.totalSteps && this.stopReason === null) {
      // Steps are synchronous; without a turn of the event loop now and then, a signal handler
      // (Ctrl-C) or a message (an agent's stop) would wait until the run had ended.
      if (performance.now() - lastYield > YIELD_EVERY_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastYield = performance.now();
        if (this.stopReason !== null) break;
      }
      const batch = this.sampler.next();
      this.heldBatch = batch;
      ctx.lr = opts.schedule(ctx.step, ctx.totalSteps, opts.optimizer.lr);
      this.step(batch.x, batch.y, ctx.lr);
      ctx.step += 1;
      ctx.batch = batch;

      const logDue = ctx.step % train.log_every === 0 || ctx.step === ctx.totalSteps;
      const evalDue = (train.eval_every > 0 && ctx.step % train.eval_every === 0) || ctx.step === ctx.totalSteps;
      const diverged = logDue || evalDue || this.pendingLosses.size >= MAX_PENDING_LOSSES ? readLosses() : null;
      if (diverged !== null) {
        tf.dispose([batch.x, batch.y]);
        this.heldBatch = null;
        ctx.batch = null;
        status = 'diverged';
        reason = diverged;
        opts.sink?.print(`diverged: ${reason}`);
        break;
      }

      if (logDue) {
        const now = performance.now();
        const metrics: Logs = { loss: windowLoss / windowSteps, lr: ctx.lr, steps_per_sec: (windowSteps * 1000) / Math.max(now - windowStart, 1e-3) };
        if (opts.data.task === 'classification') metrics.acc = this.batchAccuracy(batch.x, batch.y);
        this.log(metrics, 'train');
        windowLoss = 0;
        windowSteps = 0;
        windowStart = now;
      }
      try {
        await this.hooks.call('onStepEnd', ctx);
      } finally {
        tf.dispose([batch.x, batch.y]);
        this.heldBatch = null;
        ctx.batch = null;
      }

      if (evalDue && this.stopReason === null) await this.evaluate();

      if (ctx.step % ctx.stepsPerEpoch === 0) {
        await this.hooks.call('onEpochEnd', ctx);
        if (ctx.step < ctx.totalSteps && this.stopReason === null) {
          ctx.epoch += 1;
          await this.hooks.call('onEpochStart', ctx);
        }
      }
    }
    // Every onEpochStart gets its onEpochEnd, also when the run ends inside an epoch.
    if (ctx.step % ctx.stepsPerEpoch !== 0 || ctx.step === 0) await this.hooks.call('onEpochEnd', ctx);

    // A stop can end the loop between two readbacks: what is pending decides diverged or stopped.
    if (status !== 'diverged' && this.pendingLosses.size > 0) {
      const diverged = readLosses();
      if (diverged !== null) {
        status = 'diverged';
        reason = diverged;
        opts.sink?.print(`diverged: ${reason}`);
      }
    }
    if (status !== 'diverged' && this.stopReason !== null) {
      status = 'stopped';
      reason = this.stopReason;
      // A stopped run still gets a final evaluation, so its row in a scan is comparable.
      if (this.lastEvalStep !== ctx.step && ctx.step > 0) await this.evaluate();
    }
    const result: FitResult = { status, ...(reason !== undefined ? { reason } : {}), ...this.progress(), callbackTime: {} };
    await this.hooks.call('onFitEnd', ctx, result);
    result.callbackTime = this.hooks.times();
    return result;
  }

  /** One optimizer step; its loss joins the pending ones on the backend, nothing is read back. */
  private step(x: tf.Tensor, y: tf.Tensor, lr: number): void {
    const { model, optimizer, loss } = this.opts;
    const pending = this.pendingLosses!;
    this.pendingLosses = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => loss(model.forward(x).output, y), model.params as tf.Variable[]);
      const ordered = model.params.map((p) => grads[p.name]!);
      if (this.gradientHook) this.hooks.gradients(this.ctx, ordered);
      optimizer.apply(ordered, lr);
      return tf.concat1d([pending, tf.reshape<tf.Rank.R1>(value, [1])]);
    });
    pending.dispose();
  }

  /** The pending losses as numbers, in step order, in one read; none are pending after. */
  private takeLosses(): number[] {
    const pending = this.pendingLosses!;
    const values = Array.from(pending.dataSync());
    pending.dispose();
    this.pendingLosses = tf.tensor1d([], 'float32');
    return values;
  }

  private batchAccuracy(x: tf.Tensor, y: tf.Tensor): number {
    return tf.tidy(() => accuracy(this.opts.model.forward(x).output, y).dataSync()[0]!);
  }

  private lastEvalStep = -1;

  /** Loss (and accuracy) over the whole validation split, in batches of eval_batch_size. */
  private async evaluate(): Promise<void> {
    const { model, data, loss, config } = this.opts;
    const { x, y, size } = data.val;
    if (size === 0) return;
    const bs = config.train.eval_batch_size;
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < size; start += bs) {
      const n = Math.min(bs, size - start);
      const [l, c] = tf.tidy(() => {
        const xb = tf.slice(x, start, n);
        const yb = tf.slice(y, start, n);
        const out = model.forward(xb).output;
        const lossSum = loss(out, yb).dataSync()[0]! * n;
        const correctSum = data.task === 'classification' ? accuracy(out, yb).dataSync()[0]! * n : 0;
        return [lossSum, correctSum];
      });
      lossSum += l;
      correct += c;
    }
    const valLogs: Logs = { val_loss: lossSum / size };
    if (data.task === 'classification') valLogs.val_acc = correct / size;
    this.lastEvalStep = this.ctx.step;
    this.log(valLogs, 'val');
    this.opts.sink?.print(
      `step ${this.ctx.step}/${this.ctx.totalSteps} ` + Object.entries(valLogs).map(([k, v]) => `${k}=${formatNumber(v)}`).join(' '),
    );
    await this.hooks.call('onEvalEnd', this.ctx, valLogs);
  }

  private log(metrics: Logs, split: MetricSplit): void {
    const clean: Logs = {};
    for (const [k, v] of Object.entries(metrics)) {
      if (typeof v !== 'number') throw new Error(`metric "${k}" must be a number, got ${typeof v}`);
      clean[k] = v;
      this.ctx.logs[k] = v;
      this.final[k] = v;
      // A probe's numbers describe the network, not how well it does: none of them is "best".
      if (split !== 'probe' && Number.isFinite(v) && !UNRANKED_METRICS.has(k)) {
        const prev = this.best[k];
        if (prev === undefined || (higherIsBetter(k) ? v > prev : v < prev)) this.best[k] = v;
      }
    }
    const time = (performance.now() - this.startTime) / 1000;
    this.opts.sink?.metrics({ step: this.ctx.step, epoch: this.ctx.epoch, time: round(time, 4), split, ...clean });
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
