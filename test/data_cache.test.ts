import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cacheDir, cachedArrays } from '../lib/data/cache.js';
import { tempDir } from './helpers.js';

function withCacheDir<T>(value: string, fn: () => T): T {
  const before = process.env.DLPHYS_CACHE_DIR;
  process.env.DLPHYS_CACHE_DIR = value;
  try {
    return fn();
  } finally {
    process.env.DLPHYS_CACHE_DIR = before;
  }
}

const draw = () => ({ x: Float32Array.from([1.5, -2.25, Math.PI]), y: Int32Array.from([3, 1, 4, 1, 5]) });

test('a second draw of the same key reads the cached arrays back, value for value', () => {
  const dir = tempDir();
  withCacheDir(dir, () => {
    let draws = 0;
    const first = cachedArrays({ k: 1 }, () => (draws++, draw()));
    const second = cachedArrays({ k: 1 }, () => (draws++, draw()));
    assert.equal(draws, 1);
    assert.deepEqual(second, first);
    assert.ok(second.x instanceof Float32Array && second.y instanceof Int32Array);
    // Another key is drawn anew.
    cachedArrays({ k: 2 }, () => (draws++, draw()));
    assert.equal(draws, 2);
  });
});

test('a process keeps what it read: the next read of a key comes from memory, a copy whatever was done to the last', () => {
  const dir = tempDir();
  withCacheDir(dir, () => {
    const first = cachedArrays({ k: 'memory' }, draw);
    first.x[0] = 99; // a dataset scaling its arrays in place
    const [file] = fs.readdirSync(path.join(dir, 'data'));
    const full = path.join(dir, 'data', file!);
    // Unreadable now, yet the same file (inode and size): only memory can answer.
    const stat = fs.statSync(full);
    fs.writeFileSync(full, Buffer.alloc(stat.size));
    fs.utimesSync(full, stat.atimeMs / 1000, stat.mtimeMs / 1000);
    let draws = 0;
    const second = cachedArrays({ k: 'memory' }, () => (draws++, draw()));
    assert.equal(draws, 0);
    assert.deepEqual(second, draw());
  });
});

test('a damaged cache file is drawn again and replaced; DLPHYS_CACHE_DIR=off writes nothing', () => {
  const dir = tempDir();
  withCacheDir(dir, () => {
    cachedArrays({ k: 'damaged' }, draw);
    const [file] = fs.readdirSync(path.join(dir, 'data'));
    const full = path.join(dir, 'data', file!);
    fs.truncateSync(full, fs.statSync(full).size - 3);
    let draws = 0;
    assert.deepEqual(cachedArrays({ k: 'damaged' }, () => (draws++, draw())), draw());
    assert.equal(draws, 1);
    assert.deepEqual(cachedArrays({ k: 'damaged' }, () => (draws++, draw())), draw());
    assert.equal(draws, 1, 'the rewritten file is read');
  });
  withCacheDir('off', () => {
    assert.equal(cacheDir(), null);
    let draws = 0;
    cachedArrays({ k: 1 }, () => (draws++, draw()));
    cachedArrays({ k: 1 }, () => (draws++, draw()));
    assert.equal(draws, 2);
  });
});

for (const [name, kwargs] of [
  ['synthetic', { n_train: 64, n_val: 16, dim: 5, classes: 3, clusters_per_class: 2 }],
  ['teacher_student', { n_train: 32, n_val: 8, dim: 6, teacher_widths: [7], out_dim: 2, noise: 0.1 }],
] as const) {
  test(`the ${name} dataset read from the cache is the one drawn without it`, async () => {
    const { useBackend } = await import('../lib/backend/index.js');
    const { datasets } = await import('../lib/data/index.js');
    await useBackend('cpu');
    const values = () => {
      const data = datasets.build({ name, kwargs }, { seed: 7 });
      try {
        return [data.train.x, data.train.y, data.val.x, data.val.y].map((t) => Array.from(t.dataSync()));
      } finally {
        data.dispose();
      }
    };
    const fresh = withCacheDir('off', values);
    const dir = tempDir();
    assert.deepEqual(withCacheDir(dir, values), fresh, 'drawn and written');
    assert.equal(fs.readdirSync(path.join(dir, 'data')).length, 1);
    assert.deepEqual(withCacheDir(dir, values), fresh, 'read back');
  });
}
