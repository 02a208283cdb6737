import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { checkRunDir, RunFolder } from '../lib/run/run_folder.js';
import { lockWorkDir } from '../agent/work_dir.js';
import { tempDir } from './helpers.js';

/** A worker thread that removes the (empty) folder `dir` as fast as it can until the returned function is called. */
async function removeRepeatedly(dir: string): Promise<() => Promise<void>> {
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const remover = new Worker(
    `const fs = require('node:fs'); const { dir, stop } = require('node:worker_threads').workerData;
     while (Atomics.load(stop, 0) === 0) { try { fs.rmdirSync(dir); } catch {} }`,
    { eval: true, workerData: { dir, stop } },
  );
  await new Promise((resolve) => remover.once('online', resolve));
  return async () => {
    Atomics.store(stop, 0, 1);
    await remover.terminate();
  };
}

// An empty parent folder can be removed (an agent pruning its work dir, a user tidying up) while
// a run creates its folder inside it. Here a worker thread removes the parent as fast as it can
// while folders are created in it: each must still be created.
test('a run folder is created even when its empty parent is removed at the same moment', async () => {
  const parent = path.join(tempDir(), 'sweep', 'a1');
  const stopRemover = await removeRepeatedly(parent);
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
    await stopRemover();
  }
  assert.equal(failures, 0, `${failures} of 400 run folders failed to be created`);
});

// The check before a run (checkRunDir) looks for the nearest existing ancestor and asks whether it
// is writable; a parent pruned between the look and the question made a run fail as "not
// writable" (seen once in CI). The whole kind: the check looks again.
test('the runs-dir check passes while an empty parent is removed at the same moment', async () => {
  const parent = path.join(tempDir(), 'sweep', 'a1');
  const stopRemover = await removeRepeatedly(parent);
  const failures: string[] = [];
  try {
    for (let i = 0; i < 3000; i++) {
      try {
        // Node's recursive mkdir itself can lose this race (EEXIST, then the stat finds nothing).
        fs.mkdirSync(parent, { recursive: true });
      } catch {
        // The check below then sees the parent gone, which it must also take.
      }
      try {
        checkRunDir(parent, `r${i}`, false);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  } finally {
    await stopRemover();
  }
  assert.deepEqual(failures.slice(0, 3), [], `${failures.length} of 3000 checks failed`);
});

test("an agent's work dir keeps the folders of runs that did not land and loses the empty ones when it stops", () => {
  const dir = path.join(tempDir(), 'work');
  const lock = lockWorkDir(dir);
  fs.mkdirSync(path.join(dir, 'sweep', 'a1'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'sweep', 'a2', 'r003'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'sweep', 'a2', 'r003', 'summary.json'), '{}');
  fs.mkdirSync(path.join(dir, 'other', 'a1'), { recursive: true });
  lock.release();
  assert.deepEqual(fs.readdirSync(dir, { recursive: true }).map(String).sort(), ['sweep', 'sweep/a2', 'sweep/a2/r003', 'sweep/a2/r003/summary.json']);

  const empty = path.join(tempDir(), 'work2');
  const lock2 = lockWorkDir(empty);
  fs.mkdirSync(path.join(empty, 'sweep', 'a1'), { recursive: true });
  lock2.release();
  assert.equal(fs.existsSync(empty), false, 'a work dir the agent made and left empty goes too');
});
