export { markFloatRanges } from './float_ranges.js';
export { canonicalJson } from './canonical_json.js';
export { onDemandLine, sweepMetric } from './expand.js';
export { loadSweep, expandSweep, asNativeSweep, MAX_RUNS, type CodeRef, type ExpandedRun, type ExpandedSweep } from './expand.js';
export { isProgramJob, type ProgramJob } from './program_sweep.js';
export { sweepParameters } from './assignments.js';
export { bayesNext, type SearchRun } from './bayes.js';
export { parseSweepSpec, sweepSpecSchema, parameterSpecSchema, METHODS, SWEEP_KEYS, PARAMETER_KEYS, type SweepSpec, type SweepMethod, type ParameterSpec } from './spec.js';
export {
  DISTRIBUTIONS,
  GRID_DISTRIBUTIONS,
  MAX_GRID_VALUES,
  normalizeParameter,
  sample,
  gridValues,
  quantize,
  type Distribution,
  type Parameter,
} from './distributions.js';
