// Importing this module registers every built-in component (each file registers itself).
export { models } from './models/index.js';
export { datasets } from './data/index.js';
export { inits } from './init/index.js';
export { optimizers, losses, schedules } from './optim/index.js';
export { callbacks } from './callbacks/index.js';

import { callbacks } from './callbacks/index.js';
import { datasets } from './data/index.js';
import { inits } from './init/index.js';
import { losses, optimizers, schedules } from './optim/index.js';
import { models } from './models/index.js';

/** Every registry by the name `dlphys list KIND` takes, in the order a config builds them. */
export const registries = { model: models, init: inits, optimizer: optimizers, loss: losses, schedule: schedules, data: datasets, callback: callbacks } as const;
export type RegistryKind = keyof typeof registries;
