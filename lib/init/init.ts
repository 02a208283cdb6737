import type { Model } from '../models/model.js';
import { Registry } from '../registry.js';
import type { Rng } from '../rng.js';

/** Fills a built model's parameters in place (variable.assign). Draws come from `rng` only. */
export type InitScheme = (model: Model, rng: Rng) => void;

export const inits = new Registry<InitScheme>('init');
