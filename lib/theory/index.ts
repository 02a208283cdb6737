// The mean-field theory of fully connected networks (Poole et al. 2016; Schoenholz et al. 2017).
export { gaussHermite, expect1d, expect2d, type GaussHermiteRule } from './gauss_hermite.js';
export { expectScaled, expectPairScaled, expectPairProduct, expectPairConditional } from './gaussian_trapezoid.js';
export { erf, erfc, normalCdf, normalPdf } from './special.js';
export { ACTIVATION_THEORY, THEORY_ACTIVATIONS, isActivation, type ActivationTheory } from './activations.js';
export {
  qMap,
  qStar,
  pairMap,
  cMap,
  cStar,
  chi1,
  chiC,
  depthScales,
  criticalPoint,
  criticalSigmaW2,
  type MeanField,
  type PairState,
  type CriticalPoint,
} from './mean_field.js';
export { predictLayers, type PredictSpec, type LayerSpec, type LayerPrediction } from './predict.js';
