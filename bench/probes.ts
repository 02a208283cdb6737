// Milliseconds per evaluation of the ntk and fli probes on two MLPs (default n_probe each):
//   node --import tsx bench/probes.ts [backend]
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../lib/backend/index.js';
import { models } from '../lib/registries.js';
import { Rng } from '../lib/rng.js';
import { fliProbe } from '../lib/probes/fli.js';
import { ntkProbe } from '../lib/probes/ntk.js';
import type { Probe } from '../lib/probes/probe.js';
import type { TrainContext } from '../lib/training/callback.js';
import { readScalars } from '../lib/training/read_scalars.js';

const backend = (process.argv[2] ?? 'wasm') as 'wasm' | 'cpu';
await useBackend(backend);

function time(probe: Probe, x: tf.Tensor, reps: number): number {
  const once = () =>
    tf.tidy(() => {
      const out = probe.measure({} as TrainContext, { x, y: x, indices: [], dispose() {} });
      readScalars(Object.fromEntries(Object.entries(out).filter((e): e is [string, tf.Tensor] => typeof e[1] !== 'number')));
    });
  once(); // the reference evaluation, and warm-up
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) once();
  return (performance.now() - t0) / reps;
}

for (const widths of [
  [32, 128, 128, 4],
  [784, 256, 256, 10],
]) {
  const model = models.build({ name: 'mlp', kwargs: { widths, activation: 'tanh' } }, { inputShape: [widths[0]!], outputDim: widths.at(-1)! });
  const rng = new Rng(0, 'bench');
  for (const p of model.params) tf.tidy(() => p.assign(tf.tensor(rng.normalArray(p.size, 0, 0.1), p.shape)));
  for (const [name, make, n] of [
    ['ntk', ntkProbe, 16],
    ['fli', fliProbe, 64],
  ] as const) {
    const x = tf.tensor2d(rng.normalArray(n * widths[0]!), [n, widths[0]!]);
    const probe = make(model);
    const ms = time(probe, x, name === 'ntk' ? 5 : 50);
    probe.dispose?.();
    x.dispose();
    console.log(`${backend} ${name} mlp [${widths.join(', ')}] n=${n}: ${ms.toFixed(1)} ms per evaluation`);
  }
  model.dispose();
}
console.log(`tensors left: ${tf.memory().numTensors}`);
