import type { Layer, Model } from '../models/model.js';
import { Registry } from '../registry.js';
import type { Rng } from '../rng.js';

/**
 * The variances one layer's parameters are drawn with, in mean-field terms: weights with
 * variance sigma_w2 / fanIn per entry (on average over the entries, for structured draws such as
 * orthogonal or delta-orthogonal), biases with variance sigma_b2. lib/theory reads these rather
 * than keeping its own copy of each scheme's arithmetic.
 */
export interface LayerVariances {
  sigma_w2: number;
  sigma_b2: number;
}

/** A layer as a scheme sees it before anything is drawn: its kind, shape and fans. */
export type LayerShape = Pick<Layer, 'name' | 'kind' | 'fanIn' | 'fanOut'> & { readonly weightShape: readonly number[] };

/**
 * An initialisation scheme: `apply` fills a built model's parameters in place (variable.assign),
 * drawing from `rng` only; `variances` declares, per layer in forward order, the variances those
 * draws have (what test/init.test.ts checks against the drawn values).
 */
export interface InitScheme {
  apply(model: Model, rng: Rng): void;
  variances(layers: readonly LayerShape[]): LayerVariances[];
}

/** A layer's shape as InitScheme.variances takes it. */
export function layerShape(layer: Layer): LayerShape {
  return { name: layer.name, kind: layer.kind, fanIn: layer.fanIn, fanOut: layer.fanOut, weightShape: layer.weight.shape };
}

export const inits = new Registry<InitScheme>('init');
