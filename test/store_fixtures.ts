/**
 * What the store tests (store_*.test.ts) share: a store on a fresh file with a clock moved by
 * hand, a sweep of n runs, a registered agent, and the small records the calls take.
 */
import path from 'node:path';
import { Store, type ExpandedSweep, type RunRef } from '../coordinator/store/index.js';
import { tempDir } from './helpers.js';

export const TTL = 10_000;

/** A store on a fresh file with a clock the test moves by hand. */
export function fresh(options: { maxAttempts?: number } = {}) {
  const dir = tempDir('dlphys-store-');
  const file = path.join(dir, 'sub', 'dlphys.db');
  const clock = { t: 1_700_000_000_000 };
  const store = Store.open(file, { ...options, now: () => clock.t });
  return { store, file, clock, dir };
}

export function sweep(name: string, n: number, specHash = 'hash-1'): ExpandedSweep {
  return {
    name,
    kind: 'native',
    method: 'grid',
    metric: { name: 'val_loss', goal: 'min' },
    spec: { method: 'grid', parameters: { lr: { values: Array.from({ length: n }, (_, i) => i) } } },
    specHash,
    runs: Array.from({ length: n }, (_, i) => ({ index: i, name: `lr=${i}`, params: { lr: i }, config: { name: `lr=${i}`, seed: i } as unknown as ExpandedSweep['runs'][number]['config'] })),
    warnings: [],
  };
}

export function agent(store: Store, id = 'a1'): string {
  store.registerAgent({ id, host: 'host-' + id, gpus: ['0'], slots: 2, version: '0.1.0', backend: 'cpu' });
  return id;
}

/** Records the attempt's run folder as landed, as the upload receiver does, so its report is taken. */
export function landed(store: Store, r: RunRef, agentId = 'a1'): Store {
  store.recordLanded(ref(r), agentId, 3, 100);
  return store;
}

export function ref(r: RunRef): RunRef {
  return { runId: r.runId, attempt: r.attempt };
}

export function line(step: number, split = 'train'): string {
  return JSON.stringify({ step, epoch: 0, time: step * 0.01, split, loss: 1 / (step + 1) });
}
