// Each file registers one callback; importing this module registers them all.
import './early_stopping.js';
import './param_norms.js';
import './progress.js';

export { callbacks } from './registry.js';
export type { Callback, TrainContext, FitResult, Logs } from '../training/callback.js';
