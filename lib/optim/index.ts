// Imported for their side effect: each file registers its components.
import './sgd.js';
import './adam.js';
import './losses.js';
import './schedules.js';

export * from './optimizer.js';
export { accuracy } from './losses.js';
