import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { RunFolder } from '../lib/run/run_folder.js';
import { tempDir } from './helpers.js';

// An agent removes the attempt folder a settled run leaves empty (agent/run_task.ts) while the
// next run of the same sweep may be creating its folder inside it. Here a worker thread removes
// the parent as fast as it can while folders are created in it: each must still be created.
test('a run folder is created even when its empty parent is removed at the same moment', async () => {
  const parent = path.join(tempDir(), 'sweep', 'a1');
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const remover = new Worker(
    `const fs = require('node:fs'); const { parent, stop } = require('node:worker_threads').workerData;
     while (Atomics.load(stop, 0) === 0) { try { fs.rmdirSync(parent); } catch {} }`,
    { eval: true, workerData: { parent, stop } },
  );
  await new Promise((resolve) => remover.once('online', resolve));
  let failures = 0;
  try {
    for (let i = 0; i < 400; i++) {
      const dir = path.join(parent, `r${i}`);
      try {
        const folder = RunFolder.create(dir, { overwrite: false, config: { i } });
        folder.close();
      } catch {
        failures++;
      }
      // Empty again, so the remover can take the parent before the next create.
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    Atomics.store(stop, 0, 1);
    await remover.terminate();
  }
  assert.equal(failures, 0, `${failures} of 400 run folders failed to be created`);
});
