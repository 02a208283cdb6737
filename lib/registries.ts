/**
 * Every registry of components by kind. Importing this module registers every built-in component
 * (each component's file registers itself when its folder's index is imported).
 */
import { callbacks } from './callbacks/index.js';
import './probes/index.js';
import { datasets } from './data/index.js';
import { inits } from './init/index.js';
import { models } from './models/index.js';
import { losses, optimizers, schedules } from './optim/index.js';

export { callbacks, datasets, inits, losses, models, optimizers, schedules };

/** Every registry by the name `dlphys list KIND` takes, in the order a config builds them. */
export const registries = { model: models, init: inits, optimizer: optimizers, loss: losses, schedule: schedules, data: datasets, callback: callbacks } as const;
/** A kind of component: model, init, optimizer, loss, schedule, data, callback. */
export type RegistryKind = keyof typeof registries;
