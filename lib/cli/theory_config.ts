import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../backend/index.js';
import { loadRawConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { buildExperiment, resolveConfig, type BuiltExperiment } from '../experiment.js';
import { inits, layerShape, type LayerVariances } from '../init/index.js';
import { drawProbeBatch } from '../probes/probe_batch.js';
import { formatCsv, formatJson, formatText, type Format } from '../scan/format.js';
import { mergeProbeRows, readProbeRows } from '../scan/probe_rows.js';
import type { Row } from '../scan/scan.js';
import { predictLayers, type LayerPrediction } from '../theory/predict.js';

/** Probe inputs when neither --n-probe nor the config's preact_stats/criticality says (preact_stats' default). */
const DEFAULT_N_PROBE = 64;

export interface ConfigReportOptions {
  /** The probe step whose measurements go beside the prediction (0 = at initialisation). */
  step: number;
  /** Probe inputs to predict for (default: each column on its probe's n_probe: preact_stats for q and c, criticality for chi1; else 64). */
  nProbe?: number;
  format: Format;
}

/**
 * `dlphys theory CONFIG|RUN`: the mean-field prediction per layer (q_l, c_l, χ1_l) for the
 * network a config builds, fed the same probe inputs its probes draw (same seed, same n), and,
 * given a run folder, what preact_stats and criticality measured at `step` beside it. The config
 * is built as a run would build it (data, model, init), so the variances come from the init
 * scheme's own declaration, not a second copy. Throws a UsageError for a model that is not a
 * chain of dense layers, a folder without config.json, or a step with no probe row.
 */
export async function configReport(target: string, opts: ConfigReportOptions): Promise<string> {
  const runDir = fs.existsSync(target) && fs.statSync(target).isDirectory() ? target : null;
  const configFile = runDir ? path.join(runDir, 'config.json') : target;
  if (runDir && !fs.existsSync(configFile)) {
    throw new UsageError(`${target} is a folder without config.json; give an experiment config file or a run folder`);
  }
  if (!fs.existsSync(configFile)) throw new UsageError(`${target}: no such file or folder; give an experiment config file or a run folder`);
  if (runDir && opts.nProbe !== undefined) {
    throw new UsageError(`--n-probe is for a config alone: with a run folder the prediction uses the inputs its probes measured on (drop --n-probe)`);
  }
  if (!runDir && opts.step !== 0) throw new UsageError(`--step picks a probe step of a run folder, but ${target} is a config; give the run folder instead`);
  const { raw, baseDir } = loadRawConfig(configFile);
  const config = resolveConfig(raw, configFile);
  if (config.model.name !== 'mlp') {
    throw new UsageError(`${configFile}: mean-field theory here covers fully connected networks (model mlp), but this config's model is ${config.model.name}`);
  }
  // Each column is predicted on the inputs its probe measured: q and c on preact_stats' n_probe,
  // chi1 on criticality's (they differ by default: 64 and 32).
  const nFor = (...names: string[]) => opts.nProbe ?? names.map((n) => configuredNProbe(config.callbacks, n)).find((n) => n !== undefined) ?? DEFAULT_N_PROBE;
  const nQ = nFor('preact_stats', 'criticality');
  const nChi = nFor('criticality', 'preact_stats');
  const measured = runDir ? probeRowsAt(runDir, opts.step) : null;

  await useBackend('auto');
  const exp = buildExperiment(config, baseDir);
  let prediction: ExperimentPrediction;
  let chiPrediction: ExperimentPrediction;
  try {
    prediction = predictForExperiment(exp, nQ);
    chiPrediction = nChi === nQ ? prediction : predictForExperiment(exp, nChi);
  } finally {
    exp.dispose();
  }
  const { predictions, variances, inputs } = prediction;
  const chiInputs = chiPrediction.inputs === inputs ? '' : ` (${chiPrediction.inputs} for chi1, as criticality measures)`;
  const widths = runLength([exp.model.layers[0]!.fanIn, ...exp.model.layers.map((l) => l.fanOut)]);
  const distinct = (xs: number[]) => [...new Set(xs.map((v) => Number(v.toPrecision(6))))].join('/');
  const header =
    `mlp ${widths}, ${exp.model.activation}, init ${config.init.name}: sigma_w2 ${distinct(variances.map((v) => v.sigma_w2))}, ` +
    `sigma_b2 ${distinct(variances.map((v) => v.sigma_b2))}; ${inputs} probe inputs${chiInputs} (seed ${config.seed})` +
    (runDir ? `; measured at step ${opts.step} in ${runDir}` : '');

  const rows: Row[] = predictions.map((p) => {
    const row: Row = { layer: p.layer, q_theory: p.q };
    if (measured) row.q_measured = measured[`q_l${p.layer}`] ?? null;
    row.c_theory = Number.isFinite(p.c) ? p.c : null;
    if (measured) row.c_measured = measured[`c_l${p.layer}`] ?? null;
    row.chi1_theory = chiPrediction.predictions[p.layer - 1]!.chi1 ?? null;
    if (measured) row.chi1_measured = measured[`chi1_l${p.layer}`] ?? null;
    return row;
  });
  const columns = Object.keys(rows[0] ?? {});
  const table = { columns, rows };
  switch (opts.format) {
    case 'table': {
      const notes = [header];
      if (measured && !Object.keys(measured).some((k) => /^(q|c|chi1)_l\d+$/.test(k))) {
        notes.push('this run has no preact_stats or criticality measurements (nothing to show beside the theory): add them to its callbacks');
      }
      if (opts.step > 0) notes.push(`mean-field theory describes the network at initialisation; at step ${opts.step} training has moved it`);
      return `${notes.join('\n')}\n${formatText(table)}`;
    }
    case 'csv':
      return formatCsv(table);
    case 'json':
      return formatJson(table);
  }
}

export interface ExperimentPrediction {
  predictions: LayerPrediction[];
  /** Each layer's σ_w², σ_b² as its init scheme declares them. */
  variances: LayerVariances[];
  /** Probe inputs predicted for. */
  inputs: number;
}

/**
 * The per-layer mean-field prediction for a built experiment's network at initialisation, fed
 * its first nProbe probe inputs (drawProbeBatch with the config's seed: what its probes measure
 * on). The network must be a chain of dense layers (mlp); the variances come from the init
 * scheme's declaration (InitScheme.variances).
 */
export function predictForExperiment(exp: BuiltExperiment, nProbe: number): ExperimentPrediction {
  const { model, data, config } = exp;
  const variances = inits.build(config.init, undefined).variances(model.layers.map(layerShape));
  const batch = drawProbeBatch(data, nProbe, config.seed);
  const features = model.layers[0]!.fanIn;
  const inputs = tf.tidy(() => tf.reshape(batch.x, [batch.indices.length, features]).arraySync() as number[][]);
  batch.dispose();
  const layers = model.layers.map((l, i) => ({ ...variances[i]!, fanIn: l.fanIn, fanOut: l.fanOut }));
  return { predictions: predictLayers({ activation: model.activation, layers, inputs }), variances, inputs: inputs.length };
}

/** Widths as a user reads them: 784-1024x30-10, not thirty 1024s. */
function runLength(widths: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < widths.length; ) {
    let j = i;
    while (j + 1 < widths.length && widths[j + 1] === widths[i]) j++;
    parts.push(j - i + 1 > 2 ? `${widths[i]}x${j - i + 1}` : widths.slice(i, j + 1).join('-'));
    i = j + 1;
  }
  return parts.join('-');
}

/** n_probe of the config's callback `name`, if it has one. */
function configuredNProbe(callbacks: readonly { name: string; kwargs?: Record<string, unknown> | undefined }[], name: string): number | undefined {
  const n = callbacks.find((c) => c.name === name)?.kwargs?.n_probe;
  return typeof n === 'number' ? n : undefined;
}

/**
 * Every probe number the run logged at `step`, merged over its probes' rows; empty when the run
 * has no probe rows at all. A step with no row while others have them is a UsageError that lists
 * the probe steps there are.
 */
function probeRowsAt(runDir: string, step: number): Record<string, number> {
  const rows = readProbeRows(runDir);
  if (rows.length === 0) return {};
  const merged = mergeProbeRows(rows, step);
  if (!merged) {
    const steps = [...new Set(rows.map((r) => r.step))].sort((a, b) => a - b);
    throw new UsageError(`${runDir} has no probe measurement at step ${step}; its probe steps are ${steps.join(', ')} (choose one with --step)`);
  }
  return merged;
}
