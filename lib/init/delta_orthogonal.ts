import { z } from 'zod';
import { UsageError } from '../errors.js';
import { inits } from './init.js';
import { orthogonalMatrix, orthogonalSigmaW2 } from './orthogonal.js';
import { assignValues, assignWeight } from './variance_scaling.js';

inits.register('delta_orthogonal', {
  description:
    'conv: gain times a Haar-random orthogonal [cin, cout] matrix at the kernel centre, zeros elsewhere (Xiao et al. 2018); dense: orthogonal; b ~ N(0, sigma_b2)',
  kwargs: z.object({
    gain: z.number().positive().default(1).describe('scale of the orthogonal matrix, sigma_w (sqrt(2) suits relu)'),
    sigma_b2: z.number().nonnegative().default(0).describe('bias variance'),
  }),
  build: ({ gain, sigma_b2 }) => ({
    apply(model, rng) {
    for (const layer of model.layers) {
      const w = layer.weight;
      if (layer.kind === 'conv2d') {
        const [kh, kw, cin, cout] = w.shape as [number, number, number, number];
        // An orthogonal map from cin to cout channels preserves norms only when cin <= cout
        // (orthonormal rows); the paper's construction needs it, as does JAX's delta_orthogonal.
        if (cin > cout) {
          throw new UsageError(
            `init delta_orthogonal needs each conv layer's output channels >= its input channels, but ${layer.name} maps ${cin} to ${cout}; widen model.kwargs.channels or use init orthogonal`,
          );
        }
        assignWeight(layer, deltaOrthogonalKernel(kh, kw, orthogonalMatrix(cin, cout, gain, rng)));
      } else {
        const cols = w.shape[1]!;
        assignWeight(layer, orthogonalMatrix(w.size / cols, cols, gain, rng));
      }
      if (layer.bias) assignValues(layer.bias, rng.normalArray(layer.bias.size, 0, Math.sqrt(sigma_b2)));
    }
    },
    variances: (layers) =>
      layers.map((l) => {
        if (l.kind !== 'conv2d') return { sigma_w2: orthogonalSigmaW2(l, gain), sigma_b2 };
        // The [cin, cout] centre holds all of the kernel's weight: its Frobenius norm over the
        // whole kh*kw*cin*cout kernel.
        const [kh, kw, cin, cout] = l.weightShape as [number, number, number, number];
        return { sigma_w2: orthogonalSigmaW2(l, gain, cin, cout) / (kh * kw), sigma_b2 };
      }),
  }),
});

/**
 * A conv kernel [kh, kw, cin, cout] (row-major, tfjs's NHWC filter layout) that is zero but at
 * the spatial centre (kh/2, kw/2 rounded down, as JAX's `delta_orthogonal` places it), where it
 * holds `centre` ([cin, cout], row-major). With 'same' padding such a convolution acts on each
 * pixel's channel vector alone, so a deep stack of them has an input-output Jacobian whose
 * singular values all equal gain^depth at initialisation: dynamical isometry for CNNs.
 * Source: Xiao, Bahri, Sohl-Dickstein, Schoenholz, Pennington, "Dynamical Isometry and a Mean
 * Field Theory of CNNs", ICML 2018, Algorithm 2.
 */
export function deltaOrthogonalKernel(kh: number, kw: number, centre: Float32Array): Float32Array {
  const out = new Float32Array(kh * kw * centre.length);
  const offset = (Math.floor(kh / 2) * kw + Math.floor(kw / 2)) * centre.length;
  out.set(centre, offset);
  return out;
}
