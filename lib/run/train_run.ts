import path from 'node:path';
import { useBackend, type BackendChoice } from '../backend.js';
import { loadRawConfig } from '../config.js';
import { buildExperiment, fitExperiment, resolveConfig } from '../experiment.js';
import type { FitResult } from '../training/callback.js';
import type { NamedCallback, Trainer } from '../training/trainer.js';
import { provenance } from './provenance.js';
import { checkRunDir, RunFolder } from './run_folder.js';

export interface TrainRunOptions {
  configFile: string;
  sets?: readonly string[];
  runsDir: string;
  /** Folder name under runsDir; default: the config's `name`, else the config file's base name. */
  name?: string;
  overwrite?: boolean;
  backend?: BackendChoice;
  extraCallbacks?: NamedCallback[];
  /** Receives the trainer once it exists, e.g. to wire SIGINT to requestStop. */
  onTrainer?: (t: Trainer) => void;
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
  const { raw, baseDir } = loadRawConfig(opts.configFile, opts.sets);
  const config = resolveConfig(raw, opts.configFile);
  const name = opts.name ?? config.name ?? path.basename(opts.configFile).replace(/\.json$/i, '');
  const overwrite = opts.overwrite ?? false;
  const dir = checkRunDir(opts.runsDir, name, overwrite);
  const backend = await useBackend(opts.backend ?? 'auto');
  const exp = buildExperiment({ ...config, name }, baseDir);
  const folder = RunFolder.create(dir, overwrite);
  const startedAt = new Date().toISOString();
  try {
    folder.writeConfig({ ...exp.config, provenance: provenance(backend.name, config.seed) });
    folder.print(`run ${name} on backend ${backend.name}, seed ${config.seed}, ${exp.model.params.reduce((n, p) => n + p.size, 0)} parameters`);
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
      folder.print(`failed: ${message}`);
      const partial = trainer?.progress() ?? { steps: 0, final: {}, best: {}, wallTime: 0 };
      folder.writeSummary({
        name,
        status: 'failed',
        reason: null,
        steps: partial.steps,
        final: partial.final,
        best: partial.best,
        wall_time: partial.wallTime,
        error: message,
        started_at: startedAt,
        ended_at: new Date().toISOString(),
      });
      throw err;
    }
    folder.print(`${result.status} after ${result.steps} steps in ${result.wallTime.toFixed(2)} s${result.reason ? `: ${result.reason}` : ''}`);
    folder.writeSummary({
      name,
      status: result.status,
      reason: result.reason ?? null,
      steps: result.steps,
      final: result.final,
      best: result.best,
      wall_time: result.wallTime,
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
