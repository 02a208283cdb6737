import { Registry } from '../registry.js';
import type { Callback } from '../training/callback.js';

/**
 * The named callbacks a config's `callbacks` list may use. The Callback interface is the
 * trainer's contract and stays beside it (lib/training/callback.ts); which callbacks exist by
 * name is the components' business, like models, datasets and inits.
 */
export const callbacks = new Registry<Callback>('callback');
