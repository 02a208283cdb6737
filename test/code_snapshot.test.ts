/** Code snapshots of a program sweep's folder: what goes in, the hash, the archive, extraction. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { archiveHash, createCodeSnapshot, CorruptSnapshotError, extractCodeSnapshot } from '../lib/sweep/code_snapshot.js';
import { waitFor } from './cluster.js';
import { tempDir } from './helpers.js';
import { throwsUsage } from './sweep_fixtures.js';

type Tree = Record<string, string | { text: string; mode: number }>;

/** Writes `tree` under a new folder (or `dir`), in the order given; returns the folder. */
function makeFolder(tree: Tree, dir = tempDir('dlphys-code-')): string {
  for (const [rel, spec] of Object.entries(tree)) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const { text, mode } = typeof spec === 'string' ? { text: spec, mode: 0o644 } : spec;
    fs.writeFileSync(file, text);
    fs.chmodSync(file, mode);
  }
  return dir;
}

/** Every file under `dir`, relative path -> [content, executable]. */
function readTree(dir: string): Record<string, [string, boolean]> {
  const out: Record<string, [string, boolean]> = {};
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const file = path.join(dir, rel);
    if (fs.statSync(file).isFile()) out[rel.split(path.sep).join('/')] = [fs.readFileSync(file, 'utf8'), (fs.statSync(file).mode & 0o111) !== 0];
  }
  return out;
}

/** The paths an archive holds, read straight from its header line. */
function archivePaths(archive: Buffer): string[] {
  const raw = zlib.gunzipSync(archive);
  return (JSON.parse(raw.subarray(0, raw.indexOf(0x0a)).toString()) as { files: { path: string }[] }).files.map((f) => f.path);
}

/** An archive crafted by hand in the documented format (each entry's size and sha256 made to fit its data). */
function craft(files: { path: string; data: string; mode?: string }[]): Buffer {
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const header = { format: 'dlphys-code/1', files: files.map((f) => ({ path: f.path, mode: f.mode ?? '644', size: Buffer.byteLength(f.data), sha256: sha(f.data) })) };
  return zlib.gzipSync(Buffer.from(`${JSON.stringify(header)}\n${files.map((f) => f.data).join('')}`));
}

function throwsCorrupt(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof CorruptSnapshotError && pattern.test(err.message));
}

const program: Tree = {
  'train.py': 'import model\nprint("hi")\n',
  'run.sh': { text: '#!/bin/sh\npython train.py\n', mode: 0o755 },
  'pkg/model.py': 'W = 1\n',
  'pkg/__init__.py': '',
  'configs/a b/ünï.yaml': 'lr: 0.1\n',
};

test('the same content in two folders gives the same hash and the same archive bytes', () => {
  const a = makeFolder(program);
  const b = makeFolder(Object.fromEntries(Object.entries(program).reverse()));
  fs.utimesSync(path.join(a, 'train.py'), new Date('2001-01-01'), new Date('2001-01-01'));
  fs.utimesSync(path.join(b, 'pkg/model.py'), new Date('2030-01-01'), new Date('2030-01-01'));
  const sa = createCodeSnapshot(a);
  const sb = createCodeSnapshot(b);
  assert.match(sa.hash, /^[0-9a-f]{64}$/);
  assert.equal(sa.hash, sb.hash);
  assert.ok(sa.archive.equals(sb.archive));
  assert.equal(sa.files, 5);
  assert.equal(sa.bytes, Object.values(program).reduce((n, s) => n + Buffer.byteLength(typeof s === 'string' ? s : s.text), 0));
  assert.equal(archiveHash(sa.archive), sa.hash);
  assert.deepEqual(archivePaths(sa.archive), ['configs/a b/ünï.yaml', 'pkg/__init__.py', 'pkg/model.py', 'run.sh', 'train.py']);
});

test('one changed byte, or a changed executable bit, changes the hash', () => {
  const dir = makeFolder(program);
  const before = createCodeSnapshot(dir).hash;
  fs.writeFileSync(path.join(dir, 'pkg/model.py'), 'W = 2\n');
  const edited = createCodeSnapshot(dir).hash;
  assert.notEqual(edited, before);
  fs.chmodSync(path.join(dir, 'train.py'), 0o744);
  assert.notEqual(createCodeSnapshot(dir).hash, edited);
});

test('an archive crafted in the documented format has the hash createCodeSnapshot gives', () => {
  const dir = makeFolder({ 'b.py': 'b', 'a.sh': { text: 'a', mode: 0o700 } });
  assert.equal(archiveHash(craft([{ path: 'a.sh', data: 'a', mode: '755' }, { path: 'b.py', data: 'b' }])), createCodeSnapshot(dir).hash);
});

test('extraction reproduces every file and the executable bit', () => {
  const snap = createCodeSnapshot(makeFolder(program));
  const dest = path.join(tempDir(), 'cache', snap.hash);
  assert.equal(extractCodeSnapshot(snap.archive, snap.hash, dest), dest);
  const tree = readTree(dest);
  assert.deepEqual(Object.keys(tree).sort(), archivePaths(snap.archive));
  for (const [rel, spec] of Object.entries(program)) {
    assert.deepEqual(tree[rel], typeof spec === 'string' ? [spec, false] : [spec.text, true], rel);
  }
  assert.deepEqual(fs.readdirSync(path.dirname(dest)), [snap.hash], 'no temp folder is left beside it');
});

test('an empty folder is a snapshot of 0 files that extracts to an empty folder', () => {
  const snap = createCodeSnapshot(tempDir());
  assert.deepEqual([snap.files, snap.bytes], [0, 0]);
  const dest = path.join(tempDir(), 'empty');
  extractCodeSnapshot(snap.archive, snap.hash, dest);
  assert.deepEqual(fs.readdirSync(dest), []);
});

test('a missing folder, or a file, is a UsageError', () => {
  const dir = tempDir();
  throwsUsage(() => createCodeSnapshot(path.join(dir, 'nope')), /code folder .*nope does not exist; set code_dir/);
  fs.writeFileSync(path.join(dir, 'train.py'), '');
  throwsUsage(() => createCodeSnapshot(path.join(dir, 'train.py')), /code folder .*train\.py is not a folder/);
});

test('default ignores, .gitignore files (nested ones for their subtree) and .dlphysignore are honoured', () => {
  const ignored = [
    '.git/config', 'sub/.git', '__pycache__/m.cpython-311.pyc', 'pkg/m.pyc', '.venv/bin/python', 'venv/lib/x.py',
    'node_modules/x/index.js', 'wandb/run-1/files/config.yaml', '.ipynb_checkpoints/nb.ipynb', 'pkg.egg-info/PKG-INFO',
    '.mypy_cache/x.json', '.pytest_cache/v', '.DS_Store', 'sub/.DS_Store', '.dlphys-agent-work/log', '.dlphys-agent.pid',
    'out.log', 'data/train.csv', 'sub/secret.txt', 'sub/deep/secret.txt', 'sub/build/x.o', 'notes.md',
  ];
  const kept = [
    'train.py', 'runs/config.py', 'keep.pyc', 'other/secret.txt', 'other/data/x.csv', 'sub/important.log', 'sub/deep/build/x.o',
    'sub/keep/secret.txt', '.gitignore', '.dlphysignore', 'sub/.gitignore',
  ];
  const dir = makeFolder(Object.fromEntries([...ignored, ...kept].map((rel) => [rel, rel])));
  fs.writeFileSync(path.join(dir, '.gitignore'), '# outputs\n*.log\n/data/\n\n');
  fs.writeFileSync(path.join(dir, 'sub/.gitignore'), 'secret.txt\n!important.log\n/build/\n');
  fs.writeFileSync(path.join(dir, '.dlphysignore'), '!keep.pyc\nnotes.md\n!sub/keep/secret.txt\n');
  assert.deepEqual(archivePaths(createCodeSnapshot(dir).archive), [...kept].sort());
});

test('a .dlphysignore `!` re-includes a folder a default ignores', () => {
  const dir = makeFolder({ 'train.py': '', 'wandb/settings': 'x', '.dlphysignore': '!wandb/\n' });
  assert.deepEqual(archivePaths(createCodeSnapshot(dir).archive), ['.dlphysignore', 'train.py', 'wandb/settings']);
});

test('a symlink to a file inside is kept as its content; to a folder, outside, or nowhere, skipped', () => {
  const outside = makeFolder({ 'secret.txt': 'password', 'lib/x.py': 'x' });
  const dir = makeFolder({ 'train.py': 'real', 'tools/run.sh': { text: '#!/bin/sh\n', mode: 0o755 } });
  fs.symlinkSync('train.py', path.join(dir, 'alias.py'));
  fs.symlinkSync(path.join(dir, 'tools/run.sh'), path.join(dir, 'run.sh'));
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(dir, 'secret.txt'));
  fs.symlinkSync(path.join(outside, 'lib'), path.join(dir, 'lib'));
  fs.symlinkSync('tools', path.join(dir, 'tools2'));
  fs.symlinkSync('.', path.join(dir, 'loop'));
  fs.symlinkSync('missing.py', path.join(dir, 'dangling.py'));
  const snap = createCodeSnapshot(dir);
  assert.deepEqual(archivePaths(snap.archive), ['alias.py', 'run.sh', 'tools/run.sh', 'train.py']);
  const dest = path.join(tempDir(), 'x');
  extractCodeSnapshot(snap.archive, snap.hash, dest);
  assert.deepEqual(readTree(dest)['alias.py'], ['real', false]);
  assert.deepEqual(readTree(dest)['run.sh'], ['#!/bin/sh\n', true]);
  assert.ok(!fs.lstatSync(path.join(dest, 'alias.py')).isSymbolicLink());
  // The folder named through a symlink is the same folder.
  const link = path.join(tempDir(), 'code');
  fs.symlinkSync(dir, link);
  assert.equal(createCodeSnapshot(link).hash, snap.hash);
});

test('a folder over the size cap names its largest entries and the fix', () => {
  const k = 'x'.repeat(1000);
  const dir = makeFolder({ 'big/a': k, 'big/b': k, 'big/c': k, 'model.bin': 'm'.repeat(2048), 'src/x.py': 'y'.repeat(100), 'tiny.txt': 'z' });
  throwsUsage(
    () => createCodeSnapshot(dir, { maxBytes: 1000 }),
    /^code folder \S+ holds 5\.0 KiB, over the 1000 B cap; largest entries: big\/ 2\.9 KiB, model\.bin 2\.0 KiB, src\/ 100 B; /,
    /add them to \S+\/\.dlphysignore, or set code_dir in the sweep to a smaller folder \(data the program reads from its own folder: code_dir: false runs it in place, on a shared file system\)$/,
  );
  assert.equal(createCodeSnapshot(dir, { maxBytes: 5149 }).bytes, 5149);
});

test('a folder over the file cap names the entries with the most files', () => {
  const dir = makeFolder({ 'a.py': '', 'data/1': '', 'data/2': '', 'data/3': '', 'src/x.py': '', 'src/y.py': '' });
  throwsUsage(
    () => createCodeSnapshot(dir, { maxFiles: 5 }),
    /^code folder \S+ holds 6 files, over the 5-file cap; largest entries: data\/ 3 files, src\/ 2 files, a\.py 1 files; add them to/,
  );
  assert.equal(createCodeSnapshot(dir, { maxFiles: 6 }).files, 6);
});

test('a folder over the cap fails fast, without reading its files (a 1 GiB sparse file)', () => {
  const dir = makeFolder({ 'train.py': 'print(1)\n' });
  fs.mkdirSync(path.join(dir, 'checkpoints'));
  fs.writeFileSync(path.join(dir, 'checkpoints/model.pt'), '');
  fs.truncateSync(path.join(dir, 'checkpoints/model.pt'), 1024 ** 3);
  const reads: string[] = [];
  const realRead = fs.readFileSync;
  fs.readFileSync = ((file: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
    reads.push(String(file));
    return (realRead as (...args: unknown[]) => unknown)(file, ...rest);
  }) as typeof fs.readFileSync;
  const started = performance.now();
  try {
    throwsUsage(() => createCodeSnapshot(dir, { maxBytes: 1024 }), /holds 1\.0 GiB, over the 1\.0 KiB cap; largest entries: checkpoints\/ 1\.0 GiB, train\.py 9 B;/);
  } finally {
    fs.readFileSync = realRead;
  }
  assert.ok(performance.now() - started < 1000, `took ${performance.now() - started} ms`);
  assert.deepEqual(reads.filter((f) => !/ignore$/.test(f)), [], 'only ignore files were read');
});

test('an unreadable file is a UsageError saying to add it to .dlphysignore', { skip: process.getuid?.() === 0 && 'root reads everything' }, () => {
  const dir = makeFolder({ 'train.py': '', 'locked.bin': 'x' });
  fs.chmodSync(path.join(dir, 'locked.bin'), 0);
  throwsUsage(() => createCodeSnapshot(dir), /cannot read \S+locked\.bin \(EACCES\); add it to \S+\.dlphysignore$/);
});

test('a tampered archive is refused by extract and by archiveHash, and nothing is written', () => {
  const snap = createCodeSnapshot(makeFolder({ ...program, 'pkg/data.py': 'A = [' + '1, '.repeat(2000) + ']\n' }));
  const raw = zlib.gunzipSync(snap.archive);
  raw[raw.length - 3] ^= 1;
  const content = zlib.gzipSync(raw);
  const stream = Buffer.from(snap.archive);
  stream[Math.floor(stream.length / 2)] ^= 0x10;
  const dest = path.join(tempDir(), 'x');
  for (const bad of [content, stream, snap.archive.subarray(0, snap.archive.length - 4), Buffer.from('not gzip')]) {
    throwsCorrupt(() => archiveHash(bad), /^code snapshot archive is corrupt: /);
    throwsCorrupt(() => extractCodeSnapshot(bad, snap.hash, dest), /^code snapshot archive is corrupt: /);
  }
  throwsCorrupt(() => extractCodeSnapshot(snap.archive, '0'.repeat(64), dest), /^code snapshot hash mismatch: expected 0{64}, the archive holds [0-9a-f]{64}$/);
  assert.deepEqual(fs.readdirSync(path.dirname(dest)), []);
});

test('an archive with a path that leaves the folder is refused and writes nothing', () => {
  const root = tempDir();
  const dest = path.join(root, 'cache', 'x');
  fs.mkdirSync(path.dirname(dest));
  const outside = path.join(root, 'evil-abs');
  for (const evil of ['../evil', 'a/../../evil', outside, '/evil', 'a//b', './a', 'a/./b']) {
    const archive = craft([{ path: 'a.py', data: 'ok' }, { path: evil, data: 'pwned' }].sort((x, y) => Buffer.compare(Buffer.from(x.path), Buffer.from(y.path))));
    throwsCorrupt(() => archiveHash(archive), /leaves the folder or is not relative/);
    throwsCorrupt(() => extractCodeSnapshot(archive, '0'.repeat(64), dest), /leaves the folder or is not relative/);
  }
  throwsCorrupt(() => archiveHash(craft([{ path: 'b', data: '' }, { path: 'a', data: '' }])), /not sorted and unique/);
  throwsCorrupt(() => archiveHash(craft([{ path: 'a', data: '' }, { path: 'a', data: '' }])), /not sorted and unique/);
  throwsCorrupt(() => archiveHash(craft([{ path: 'a', data: '' }, { path: 'a/b', data: '' }])), /a is both a file and a folder/);
  throwsCorrupt(() => archiveHash(craft([{ path: 'a', data: '', mode: '4755' }])), /a malformed entry for "a"/);
  assert.deepEqual(fs.readdirSync(root), ['cache']);
  assert.deepEqual(fs.readdirSync(path.join(root, 'cache')), []);
});

test('extracting into a folder that exists leaves it as it is', () => {
  const snap = createCodeSnapshot(makeFolder(program));
  const dest = makeFolder({ 'marker.txt': 'earlier run' });
  assert.equal(extractCodeSnapshot(snap.archive, snap.hash, dest), dest);
  assert.deepEqual(readTree(dest), { 'marker.txt': ['earlier run', false] });
  assert.deepEqual(fs.readdirSync(path.dirname(dest)).filter((n) => n.includes('.tmp-')), []);
});

/** A snapshot of many files, so that writing them takes long enough for two extractors to overlap. */
function manyFiles(): ReturnType<typeof createCodeSnapshot> {
  return createCodeSnapshot(makeFolder(Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`pkg${i % 30}/m${i}.py`, `X = ${i}\n`]))));
}

test('an extraction that loses the race to rename keeps the winner and removes its temp folder', () => {
  const snap = manyFiles();
  const dest = path.join(tempDir(), 'code', snap.hash);
  const realRename = fs.renameSync;
  let interleaved = false;
  // Just before the first extraction renames its temp folder into place, a second one runs through.
  fs.renameSync = ((from: fs.PathLike, to: fs.PathLike) => {
    if (!interleaved) {
      interleaved = true;
      assert.equal(extractCodeSnapshot(snap.archive, snap.hash, dest), dest);
    }
    realRename(from, to);
  }) as typeof fs.renameSync;
  try {
    assert.equal(extractCodeSnapshot(snap.archive, snap.hash, dest), dest);
  } finally {
    fs.renameSync = realRename;
  }
  assert.ok(interleaved);
  assert.deepEqual(fs.readdirSync(path.dirname(dest)), [snap.hash]);
  assert.equal(Object.keys(readTree(dest)).length, 1500);
});

test('two processes extracting the same archive into the same folder both succeed, leaving one complete folder', async () => {
  const snap = manyFiles();
  const work = tempDir();
  const archiveFile = path.join(work, 'code.tar.gz');
  fs.writeFileSync(archiveFile, snap.archive);
  const script = path.join(work, 'extract.ts');
  // A barrier: each says it is ready, then waits for the test's go, so that their extractions
  // start together (the interleaving itself is pinned down by the test above).
  fs.writeFileSync(
    script,
    `import fs from 'node:fs';
const [lib, archive, hash, dest, ready, go] = process.argv.slice(2);
const { extractCodeSnapshot } = await import(lib);
const bytes = fs.readFileSync(archive);
fs.writeFileSync(ready, '');
while (!fs.existsSync(go)) await new Promise((resolve) => setTimeout(resolve, 5));
const existed = fs.existsSync(dest);
extractCodeSnapshot(bytes, hash, dest);
console.log(existed ? 'found' : 'extracted');
`,
  );
  const dest = path.join(work, 'cache', snap.hash);
  const lib = new URL('../lib/sweep/code_snapshot.ts', import.meta.url).href;
  const go = path.join(work, 'go');
  const run = (n: number) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, lib, archiveFile, snap.hash, dest, path.join(work, `ready${n}`), go], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (code) => resolve({ code, out: out.trim() }));
    });
  const both = Promise.all([run(1), run(2)]);
  await waitFor('both extractors to be ready', () => fs.existsSync(path.join(work, 'ready1')) && fs.existsSync(path.join(work, 'ready2')), 60_000);
  fs.writeFileSync(go, '');
  const results = await both;
  for (const r of results) {
    assert.equal(r.code, 0);
    assert.ok(r.out === 'extracted' || r.out === 'found', r.out);
  }
  assert.deepEqual(fs.readdirSync(path.dirname(dest)), [snap.hash]);
  assert.equal(Object.keys(readTree(dest)).length, 1500);
  assert.equal(archiveHash(createCodeSnapshot(dest).archive), snap.hash);
});
