import fs from 'node:fs';
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

/** One run folder of a made-up sweep: what each of its files holds (left out: not written). */
export interface FixtureRun {
  /** Its path under the sweep's folder; may nest (`a</script>` is folder `a<`, then `script>`). */
  readonly path: string;
  readonly config?: Record<string, unknown>;
  readonly rows?: readonly Record<string, unknown>[];
  readonly summary?: Record<string, unknown>;
  /** train.log's text; 'folder' makes train.log a folder, which cannot be read as a file. */
  readonly log?: string | 'folder';
}

/** Run folders under a new temp folder, as `runs` describe them. */
export function runFolders(runs: readonly FixtureRun[], prefix = 'dlphys-report-made-'): string {
  const root = tempDir(prefix);
  for (const run of runs) {
    const dir = path.join(root, ...run.path.split('/'));
    fs.mkdirSync(dir, { recursive: true });
    if (run.config !== undefined) writeJson(path.join(dir, 'config.json'), run.config);
    if (run.rows !== undefined) writeText(path.join(dir, 'metrics.jsonl'), run.rows.map((r) => JSON.stringify(r) + '\n').join(''));
    if (run.summary !== undefined) writeJson(path.join(dir, 'summary.json'), run.summary);
    if (run.log === 'folder') fs.mkdirSync(path.join(dir, 'train.log'));
    else if (run.log !== undefined) writeText(path.join(dir, 'train.log'), run.log);
  }
  return root;
}

/**
 * Five runs over optimizer.kwargs.lr whose val_loss is -Infinity, 0.5, Infinity, 0.3 and NaN (a
 * run folder writes them as strings): finite values rank first whatever the goal.
 */
export function infinitySweep(): string {
  const values: (number | string)[] = ['-Infinity', 0.5, 'Infinity', 0.3, 'NaN'];
  return runFolders(
    values.map((v, i) => ({
      path: `r${i}`,
      config: { name: `r${i}`, seed: 0, optimizer: { name: 'sgd', kwargs: { lr: 0.1 * (i + 1) } } },
      rows: [10, 20].map((step) => ({ step, split: 'val', val_loss: v })),
      summary: { name: `r${i}`, status: typeof v === 'number' ? 'completed' : 'diverged', steps: 20, final: { val_loss: v }, best: { val_loss: v } },
    })),
    'dlphys-report-inf-',
  );
}

/**
 * Three runs differing only in their seed: val_acc logged once each (at the end, no curve to
 * draw), and a probe row at step 0 whose q_l1..q_l5 grow 10× a layer (0.01 to 100).
 */
export function seedsSweep(): string {
  return runFolders(
    [0, 1, 2].map((seed) => ({
      path: `s${seed}`,
      config: { name: `s${seed}`, seed, optimizer: { name: 'sgd', kwargs: { lr: 0.1 } } },
      rows: [{ step: 0, split: 'probe', ...layers('q', 5, (l) => 10 ** (l - 3) * (1 + 0.1 * seed)) }, { step: 100, split: 'val', val_acc: 0.8 + 0.01 * seed }],
    })),
    'dlphys-report-seeds-',
  );
}

/**
 * optimizer.kwargs.lr {0.001, 0.01, 0.1, 1} × model.kwargs.depth {4, 8, 16, 48} × seed {0, 1}:
 * 16 groups of two runs each, more than a legend tells apart; both axes span 10× or more.
 */
export function gridSweep(): string {
  const runs: FixtureRun[] = [];
  for (const lr of [0.001, 0.01, 0.1, 1]) {
    for (const depth of [4, 8, 16, 48]) {
      for (const seed of [0, 1]) {
        const name = `lr${lr}-d${depth}-s${seed}`;
        const rows = [1, 2, 3].map((i) => ({ step: i * 10, split: 'val', val_loss: 1 / (1 + lr * i) + 0.01 * depth + 0.001 * seed }));
        runs.push({ path: name, config: { name, seed, model: { name: 'mlp', kwargs: { depth } }, optimizer: { name: 'sgd', kwargs: { lr } } }, rows });
      }
    }
  }
  return runFolders(runs, 'dlphys-report-grid-');
}

/** `count` runs over optimizer.kwargs.lr (no seeds), each logging val_loss at every one of `steps` steps. */
export function manyRunsSweep(count: number, steps: number): string {
  return runFolders(
    Array.from({ length: count }, (_, i) => ({
      path: `r${String(i).padStart(4, '0')}`,
      config: { name: `r${i}`, seed: 0, optimizer: { name: 'sgd', kwargs: { lr: 0.001 * (i + 1) } } },
      rows: Array.from({ length: steps }, (_, s) => ({ step: s + 1, split: 'val', val_loss: 1 / (1 + 0.001 * (i + 1) * (s + 1)) })),
    })),
    'dlphys-report-many-',
  );
}

/** `count` failed runs, their errors one of three lines (the first with a second line), each with a train.log. */
export function failedSweep(count: number): string {
  const errors = ['CUDA out of memory\n  at step 3', 'loss became NaN', 'killed by signal 9'];
  return runFolders(
    Array.from({ length: count }, (_, i) => ({
      path: `f${String(i).padStart(4, '0')}`,
      config: { name: `f${i}`, seed: i },
      rows: [{ step: 1, split: 'train', loss: 1 }],
      summary: { name: `f${i}`, status: 'failed', steps: 1, error: errors[i % 3], final: { loss: 1 }, best: {} },
      log: `started f${i}\nfailed f${i}\n`,
    })),
    'dlphys-report-failed-',
  );
}

/** What a hostile run folder tries: markup in its folder's name, a config key and value, and its error. */
export const PWN = '<img src=x onerror=window.__pwned=1>';
export const ALERT = '<img src=x onerror=alert(1)>';

/**
 * Two runs whose folder name, config key and config value hold markup meant to run script in the
 * report (`</script>` to end the page's data, an <img> whose onerror sets window.__pwned or opens
 * a dialog): the first run's folder is `a</script><img src=x onerror=alert(1)>` (nested folders:
 * a path cannot hold a slash otherwise).
 */
export function hostileSweep(): string {
  return runFolders(
    [`a</script>${ALERT}`, 'b'].map((name, i) => ({
      path: name,
      config: { name, seed: 0, [`${PWN}</script>`]: i + 1, note: `${PWN}</script><script>window.__pwned=2</script> ${i}` },
      rows: [10, 20].map((step) => ({ step, split: 'val', val_loss: 1 / (step + i) })),
      summary: { name, status: i === 0 ? 'failed' : 'completed', steps: 20, error: i === 0 ? `${PWN} went wrong</script>` : undefined, final: { val_loss: 1 / (20 + i) }, best: { val_loss: 1 / (20 + i) } },
      log: `${ALERT}\n</script>${PWN}\n`,
    })),
    'dlphys-report-hostile-',
  );
}
