import { parseConfig, type ExperimentConfig, type RawConfig } from './config.js';
import { resolveConfigPaths } from './config_paths.js';
import { callbackConfigChecks } from './callbacks/registry.js';
import { callbacks, datasets, inits, losses, models, optimizers, schedules } from './registries.js';
import type { Dataset } from './data/dataset.js';
import { UsageError, withPrefix } from './errors.js';
import type { Model } from './models/model.js';
import type { LossFn, Optimizer, Schedule } from './optim/optimizer.js';
import type { ResolvedSpec } from './registry.js';
import { Rng } from './rng.js';
import type { FitResult } from './training/callback.js';
import { Trainer, type FitSink, type NamedCallback } from './training/trainer.js';

/**
 * Validates a raw config completely — top-level keys and every component's kwargs against its
 * registry — and returns it with all defaults filled in. Nothing is built, so this is cheap and
 * is done before any file is created. `checkSizes: false` skips the checks between sections
 * (batch size against n_train), for a sweep's base that its parameters complete.
 */
export function resolveConfig(raw: RawConfig, source: string, options: { checkSizes?: boolean } = {}): ExperimentConfig {
  const config = parseConfig(raw, source);
  const at = <T extends ResolvedSpec>(fn: () => T) => withPrefix(source, fn);
  const data = at(() => datasets.resolve(config.data));
  // Where the data's kwargs say how many training examples there are (n_train, the convention of
  // every dataset here), a batch larger than that is refused now: in a sweep, when it is
  // expanded, not on an agent. buildExperiment checks the built split in every case.
  const nTrain = data.kwargs.n_train;
  if (typeof nTrain === 'number' && options.checkSizes !== false) withPrefix(source, () => checkBatchSize(config.train.batch_size, nTrain));
  const resolved: ExperimentConfig = {
    ...config,
    model: at(() => models.resolve(config.model)),
    init: at(() => inits.resolve(config.init)),
    optimizer: at(() => optimizers.resolve(config.optimizer)),
    ...(config.loss ? { loss: at(() => losses.resolve(config.loss)) } : {}),
    schedule: at(() => schedules.resolve(config.schedule)),
    data,
    callbacks: config.callbacks.map((spec, i) => withPrefix(`${source}: callbacks[${i}]`, () => callbacks.resolve(spec))),
  };
  resolved.callbacks.forEach((spec, i) => {
    const check = callbackConfigChecks.get(spec.name);
    if (check) withPrefix(`${source}: callbacks[${i}] ${spec.name}`, () => check(resolved));
  });
  return resolved;
}

/** The sampler would quietly train full-batch while config.json records the size asked for. */
function checkBatchSize(batch: number, trainSize: number): void {
  if (batch > trainSize) {
    throw new UsageError(
      `train.batch_size ${batch} is larger than the training split (${trainSize} examples); set train.batch_size to at most ${trainSize}, or use more training data`,
    );
  }
}

/** Everything a run needs, built in the fixed order data -> model -> init -> optimizer. */
export interface BuiltExperiment {
  config: ExperimentConfig;
  data: Dataset;
  model: Model;
  optimizer: Optimizer;
  loss: LossFn;
  schedule: Schedule;
  callbacks: NamedCallback[];
  dispose(): void;
}

/**
 * Builds a resolved config on the active backend; relative path kwargs resolve against `baseDir`,
 * the config file's folder. Init must see the built parameters and the optimizer the initialised
 * ones, hence the order. Fills in the default loss from the data's task, so the returned config
 * is the one to record.
 */
export function buildExperiment(resolved: ExperimentConfig, baseDir: string, onDataBuilt?: () => void): BuiltExperiment {
  // Relative paths are made absolute here, so the config recorded in the run folder trains again
  // from anywhere (dlphys train runs/x/config.json).
  const config = resolveConfigPaths(resolved, baseDir);
  // Whatever was built is freed again if a later step fails (a width mismatch, say).
  const owned: { dispose(): void }[] = [];
  const disposeAll = () => {
    for (const item of owned.reverse()) item.dispose();
  };
  try {
    const data = datasets.build(config.data, { seed: config.seed });
    owned.push(data);
    onDataBuilt?.();
    checkBatchSize(config.train.batch_size, data.train.size);
    const model = models.build(config.model, { inputShape: data.inputShape, outputDim: data.outputDim });
    owned.push(model);
    inits.build(config.init, undefined).apply(model, new Rng(config.seed, 'init'));
    const optimizer = optimizers.build(config.optimizer, { params: model.params });
    owned.push(optimizer);
    const lossSpec = config.loss ?? losses.resolve({ name: data.task === 'classification' ? 'cross_entropy' : 'mse' });
    const loss = losses.build(lossSpec, undefined);
    const schedule = schedules.build(config.schedule, undefined);
    const cbs = config.callbacks.map((spec) => ({ name: spec.name, callback: callbacks.build(spec, undefined) }));
    for (const { name, callback } of cbs) withPrefix(`callback ${name}`, () => callback.checkModel?.(model, config));
    return { config: { ...config, loss: lossSpec }, data, model, optimizer, loss, schedule, callbacks: cbs, dispose: disposeAll };
  } catch (err) {
    disposeAll();
    // A typed array or wasm heap too small for the model or data is a size the user chose.
    if (err instanceof RangeError || /out of memory|memory access out of bounds/i.test((err as Error)?.message ?? '')) {
      throw new UsageError(`the experiment does not fit in memory (${(err as Error).message.split('\n')[0]}); reduce model widths or data sizes`);
    }
    throw err;
  }
}

/** Trains a built experiment; extra callbacks (progress display) run after the config's own. */
export async function fitExperiment(
  exp: BuiltExperiment,
  options: { runDir: string | null; sink?: FitSink; extraCallbacks?: NamedCallback[]; onTrainer?: (t: Trainer) => void },
): Promise<FitResult> {
  const trainer = new Trainer({
    config: exp.config,
    runDir: options.runDir,
    model: exp.model,
    data: exp.data,
    optimizer: exp.optimizer,
    loss: exp.loss,
    schedule: exp.schedule,
    callbacks: [...exp.callbacks, ...(options.extraCallbacks ?? [])],
    rng: new Rng(exp.config.seed, 'shuffle'),
    ...(options.sink ? { sink: options.sink } : {}),
  });
  options.onTrainer?.(trainer);
  return trainer.fit();
}
