import type { RunRecord } from '../scan/read_run.js';
import { flattenConfig, shownConfigKeys, type Cell, type Row } from '../scan/scan.js';

/** A config value that differs across a sweep's runs. */
export interface Parameter {
  /** Dotted config key, as scan names it (`init.kwargs.sigma_w2`; a program sweep's own `lr`). */
  readonly key: string;
  /** Its distinct values over the runs, numbers ascending first, then the rest as text. */
  readonly values: readonly Cell[];
  /** Every run that has a config has a number here. */
  readonly numeric: boolean;
  /** A random seed (`seed`, `train.seed`, `data_seed`): runs differing only here are repeats. */
  readonly seed: boolean;
}

const SEED_KEY = /(^|[._])seed$/i;
const natural = new Intl.Collator('en', { numeric: true });

/** `{optimizer: {kwargs: {lr}}}` flattened, for each run in order. */
export function runConfigs(runs: readonly RunRecord[]): Row[] {
  return runs.map((run) => flattenConfig(run.config));
}

/**
 * The config keys whose value differs across `runs`, in config order. Runs without a config
 * (one that crashed before writing config.json) are left out: otherwise every key would "differ".
 */
export function varyingParameters(runs: readonly RunRecord[]): Parameter[] {
  const configs = runConfigs(runs).filter((config) => Object.keys(config).length > 0);
  return shownConfigKeys(configs).map((key) => {
    const present = configs.map((config) => config[key]).filter((value): value is Cell => value !== undefined);
    const distinct = new Map(present.map((value) => [JSON.stringify(value), value]));
    const values = [...distinct.values()].sort(compareCells);
    return { key, values, numeric: present.length === configs.length && present.every((v) => typeof v === 'number'), seed: SEED_KEY.test(key) };
  });
}

/**
 * How many distinct combinations of `keys` the runs hold: one per run when no two runs share
 * them, fewer when seeds (or plain repeats) put several runs in one.
 */
export function groupCount(configs: readonly Row[], keys: readonly string[]): number {
  return new Set(configs.map((config) => JSON.stringify(keys.map((key) => config[key] ?? null)))).size;
}

function compareCells(a: Cell, b: Cell): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return natural.compare(String(a), String(b));
}
