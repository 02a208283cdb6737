import { z } from 'zod';
import type { Rng } from '../rng.js';
import { inits } from './init.js';
import { assignValues, assignWeight } from './variance_scaling.js';
import type { LayerShape } from './init.js';

inits.register('orthogonal', {
  description:
    'Haar-random (semi-)orthogonal weights times gain (conv: on the [k*k*cin, cout] matrix), b ~ N(0, sigma_b2)',
  kwargs: z.object({
    gain: z.number().positive().default(1).describe('scale of the orthogonal matrix (sqrt(2) suits relu)'),
    sigma_b2: z.number().nonnegative().default(0).describe('bias variance'),
  }),
  build: ({ gain, sigma_b2 }) => ({
    apply(model, rng) {
      for (const layer of model.layers) {
        const w = layer.weight;
        // A conv kernel [k, k, cin, cout] in row-major order is already the [k*k*cin, cout] matrix.
        const cols = w.shape[w.shape.length - 1]!;
        assignWeight(layer, orthogonalMatrix(w.size / cols, cols, gain, rng));
        if (layer.bias) assignValues(layer.bias, rng.normalArray(layer.bias.size, 0, Math.sqrt(sigma_b2)));
      }
    },
    variances: (layers) => layers.map((l) => ({ sigma_w2: orthogonalSigmaW2(l, gain), sigma_b2 })),
  }),
});

/**
 * sigma_w2 of a gain-scaled (semi-)orthogonal rows x cols weight matrix: ||W||_F^2 / cols times
 * rows / fanIn. Orthonormal columns (rows >= cols) give ||W||_F^2 = gain^2 cols, orthonormal rows
 * gain^2 rows; per entry that is the variance times fanIn = rows (dense) in mean-field terms.
 */
export function orthogonalSigmaW2(layer: LayerShape, gain: number, rows?: number, cols?: number): number {
  const c = cols ?? layer.weightShape[layer.weightShape.length - 1]!;
  const r = rows ?? layer.weightShape.reduce((a, b) => a * b, 1) / c;
  const frob2 = gain * gain * Math.min(r, c);
  return (frob2 / (r * c)) * layer.fanIn;
}

/**
 * A rows x cols row-major matrix, gain times Haar-random with orthonormal columns (rows >= cols)
 * or orthonormal rows (rows < cols).
 */
export function orthogonalMatrix(rows: number, cols: number, gain: number, rng: Rng): Float32Array {
  const tall = rows >= cols;
  const m = tall ? rows : cols;
  const n = tall ? cols : rows;
  const q = haarColumns(m, n, rng);
  const out = new Float32Array(rows * cols);
  if (tall) {
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = gain * q[j * m + i]!;
  } else {
    // W = Q^T, and Q^T row-major is Q column-major.
    for (let k = 0; k < out.length; k++) out[k] = gain * q[k]!;
  }
  return out;
}

/**
 * An m x n (m >= n) matrix with orthonormal columns, column-major, distributed by Haar measure:
 * Householder QR of a Gaussian matrix, each column of Q multiplied by the sign of R's diagonal.
 * Without that correction QR's sign convention biases Q (Mezzadri, "How to generate random
 * matrices from the classical compact groups", 2007). Float64 throughout so that Q^T Q = I holds
 * to float32 precision even for wide layers.
 */
export function haarColumns(m: number, n: number, rng: Rng): Float64Array {
  const a = new Float64Array(m * n);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();

  // Column-major so that every reflection runs over contiguous memory.
  const reflectors: (Float64Array | null)[] = [];
  const signs = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const v = householder(a, k * m + k, m - k);
    reflectors.push(v);
    // R's diagonal entry is alpha = -sign(x0)·|x| (see householder).
    signs[k] = v !== null && a[k * m + k]! >= 0 ? -1 : 1;
    if (v) for (let j = k + 1; j < n; j++) reflect(a, j * m + k, v);
  }

  // Q = H_0 H_1 ... H_{n-1} [I_n; 0], applied right to left; H_k leaves columns j < k alone.
  const q = new Float64Array(m * n);
  for (let j = 0; j < n; j++) q[j * m + j] = 1;
  for (let k = n - 1; k >= 0; k--) {
    const v = reflectors[k];
    if (v) for (let j = k; j < n; j++) reflect(q, j * m + k, v);
  }
  for (let j = 0; j < n; j++) {
    if (signs[j]! < 0) for (let i = 0; i < m; i++) q[j * m + i] = -q[j * m + i]!;
  }
  return q;
}

/**
 * The unit vector v with (I - 2 v v^T) x = alpha e_0 for x = buf[start .. start + len), or null
 * when x = 0 (probability zero for Gaussian input; the identity then keeps Q orthonormal).
 */
function householder(buf: Float64Array, start: number, len: number): Float64Array | null {
  let norm2 = 0;
  for (let i = 0; i < len; i++) norm2 += buf[start + i]! * buf[start + i]!;
  if (norm2 === 0) return null;
  const norm = Math.sqrt(norm2);
  const x0 = buf[start]!;
  // The sign opposite to x0's avoids cancellation in v = x - alpha e_0.
  const alpha = x0 >= 0 ? -norm : norm;
  const v = buf.slice(start, start + len);
  v[0] = x0 - alpha;
  let vNorm2 = 0;
  for (let i = 0; i < len; i++) vNorm2 += v[i]! * v[i]!;
  const inv = 1 / Math.sqrt(vNorm2);
  for (let i = 0; i < len; i++) v[i] = v[i]! * inv;
  return v;
}

/** x <- (I - 2 v v^T) x for the segment x = buf[start .. start + v.length). */
function reflect(buf: Float64Array, start: number, v: Float64Array): void {
  const n = v.length;
  // Four partial sums break the add-latency chain of the dot product: about twice as fast in V8.
  let d0 = 0;
  let d1 = 0;
  let d2 = 0;
  let d3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    d0 += v[i]! * buf[start + i]!;
    d1 += v[i + 1]! * buf[start + i + 1]!;
    d2 += v[i + 2]! * buf[start + i + 2]!;
    d3 += v[i + 3]! * buf[start + i + 3]!;
  }
  for (; i < n; i++) d0 += v[i]! * buf[start + i]!;
  const d = 2 * (d0 + d1 + (d2 + d3));
  for (i = 0; i < n; i++) buf[start + i] = buf[start + i]! - d * v[i]!;
}
