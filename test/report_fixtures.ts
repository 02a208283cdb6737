import path from 'node:path';
import { tempDir, writeJson, writeText } from './helpers.js';

/**
 * Run folders of a small edge-of-chaos sweep for the report's tests and its screenshot:
 * init.kwargs.sigma_w2 {1.5, 2} x model.kwargs.depth {4, 16} x seed {0, 1, 2}, each with train
 * loss and val_acc at steps 10..50 and a probe row of q_l, chi1_l, c_l and x_l at step 0. The run
 * sigma_w2 = 2, depth 16, seed 2 failed at step 20: no val_acc, an error with markup in it, and a
 * train.log whose last lines hold a script tag. With `sweepFile`, DIR/sweep.json as submitted.
 */
export function eocSweep(options: { sweepFile?: boolean } = {}): string {
  const root = tempDir('dlphys-report-');
  for (const sigmaW2 of [1.5, 2]) {
    for (const depth of [4, 16]) {
      for (const seed of [0, 1, 2]) {
        const name = `w${sigmaW2}-d${depth}-s${seed}`;
        const failed = sigmaW2 === 2 && depth === 16 && seed === 2;
        writeEocRun(path.join(root, name), { name, sigmaW2, depth, seed, failed });
      }
    }
  }
  if (options.sweepFile !== false) {
    writeJson(path.join(root, 'sweep.json'), {
      name: 'eoc-mini',
      description: 'Trainability around chi1 = 1 </script><b>bold?</b>',
      method: 'grid',
      metric: { name: 'val_acc', goal: 'maximize' },
      parameters: { 'init.kwargs.sigma_w2': { values: [1.5, 2] }, 'model.kwargs.depth': { values: [4, 16] }, seed: { values: [0, 1, 2] } },
      base: { model: { name: 'mlp', kwargs: { width: 32, activation: 'tanh' } } },
    });
  }
  return root;
}

interface EocRun {
  name: string;
  sigmaW2: number;
  depth: number;
  seed: number;
  failed: boolean;
}

function writeEocRun(dir: string, { name, sigmaW2, depth, seed, failed }: EocRun): void {
  writeJson(path.join(dir, 'config.json'), {
    name,
    seed,
    model: { name: 'mlp', kwargs: { width: 32, depth, activation: 'tanh' } },
    init: { name: 'gaussian', kwargs: { sigma_w2: sigmaW2, sigma_b2: 0.05 } },
    train: { steps: 50 },
  });
  // Deep nets far from sigma_w2 = 1.76 train worse; seeds spread a little.
  const skill = 0.9 - 0.02 * depth * Math.abs(sigmaW2 - 1.76) + 0.01 * seed;
  const chi1 = sigmaW2 / 1.76;
  const rows: Record<string, unknown>[] = [{ step: 0, split: 'probe', ...layers('q', depth, (l) => 0.5 * sigmaW2 ** (l / depth)), ...layers('chi1', depth, () => chi1), ...layers('c', depth, (l) => 1 - 0.5 / l), ...layers('x', depth, (l) => l) }];
  const last = failed ? 2 : 5;
  for (let i = 1; i <= last; i++) {
    rows.push({ step: i * 10, epoch: i, time: i * 0.5, split: 'train', loss: 2.3 * Math.exp(-i * skill * 0.4) });
    if (!failed) rows.push({ step: i * 10, epoch: i, time: i * 0.5 + 0.1, split: 'val', val_acc: skill * (1 - Math.exp(-i)) });
  }
  writeText(path.join(dir, 'metrics.jsonl'), rows.map((r) => JSON.stringify(r) + '\n').join(''));
  const log = Array.from({ length: 30 }, (_, i) => `2026-01-01T00:00:${String(i).padStart(2, '0')}.000Z step ${i} loss 1.0`);
  if (failed) log.push('<script>alert(1)</script>', 'Error: loss is NaN at step 20 & the run stops');
  writeText(path.join(dir, 'train.log'), log.join('\n') + '\n');
  writeJson(
    path.join(dir, 'summary.json'),
    failed
      ? { name, status: 'failed', steps: 20, error: 'loss became <b>NaN</b> at step 20', final: { loss: rows.at(-1)!.loss }, best: {} }
      : { name, status: 'completed', steps: 50, final: { loss: rows.at(-2)!.loss, val_acc: rows.at(-1)!.val_acc }, best: { val_acc: rows.at(-1)!.val_acc } },
  );
}

function layers(family: string, depth: number, value: (layer: number) => number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: depth }, (_, i) => [`${family}_l${i + 1}`, value(i + 1)]));
}

/** Three runs over optimizer.kwargs.lr {0.01, 0.1, 1}, no sweep.json: a scatter's case. */
export function lrSweep(): string {
  const root = tempDir('dlphys-report-lr-');
  for (const lr of [0.01, 0.1, 1]) {
    const name = `lr${lr}`;
    const dir = path.join(root, name);
    writeJson(path.join(dir, 'config.json'), { name, seed: 0, optimizer: { name: 'sgd', kwargs: { lr } } });
    const rows = [1, 2, 3].flatMap((i) => [
      { step: i * 10, split: 'train', loss: 1 / (1 + lr * i) },
      { step: i * 10, split: 'val', val_acc: 1 - 1 / (1 + lr * i) },
    ]);
    writeText(path.join(dir, 'metrics.jsonl'), rows.map((r) => JSON.stringify(r) + '\n').join(''));
  }
  return root;
}
