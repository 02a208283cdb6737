import { Registry } from '../registry.js';
import type { ExperimentConfig } from '../config.js';
import type { Callback } from '../training/callback.js';

/**
 * The named callbacks a config's `callbacks` list may use. The Callback interface is the
 * trainer's contract and stays beside it (lib/training/callback.ts); which callbacks exist by
 * name is the components' business, like models, datasets and inits.
 */
export const callbacks = new Registry<Callback>('callback');

/**
 * Checks a callback makes against the whole resolved config, by callback name, run by
 * resolveConfig: a callback that cannot work with the config's model fails there, so `dlphys
 * train` writes nothing and a sweep whose runs could never work fails when it is expanded, not
 * once per run on the agents. Each throws a plain message; resolveConfig names the config.
 */
export const callbackConfigChecks = new Map<string, (config: ExperimentConfig) => void>();
