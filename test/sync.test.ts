import { test, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dlphysProto } from '../proto/load.js';
import type { CoordinatorClient } from '../proto/generated/dlphys/Coordinator.js';
import type { UploadChunk } from '../proto/generated/dlphys/UploadChunk.js';
import type { UploadReply__Output } from '../proto/generated/dlphys/UploadReply.js';
import { cleanStaging } from '../coordinator/landing.js';
import { makeUploadHandler, type UploadDeps } from '../coordinator/sync_receiver.js';
import { uploadFolder } from '../agent/sync_sender.js';

class StaleAttemptError extends Error {
  override readonly name = 'StaleAttemptError';
}
class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

const tmpRoot = await mkdtemp(path.join(os.tmpdir(), 'dlphys-sync-'));
after(() => rm(tmpRoot, { recursive: true, force: true }));

interface Bench {
  client: CoordinatorClient;
  runsDir: string;
}

/** A coordinator serving only Upload on 127.0.0.1, torn down when the test ends. */
async function serve(t: TestContext, deps: Partial<UploadDeps> = {}): Promise<Bench> {
  const runsDir = await mkdtemp(path.join(tmpRoot, 'runs-'));
  const server = new grpc.Server();
  server.addService(dlphysProto.Coordinator.service, {
    Upload: makeUploadHandler({
      runsDir,
      maxFileBytes: 100 << 20,
      maxUploadBytes: 200 << 20,
      check: (ref) => {
        const [sweep, name] = ref.runId.split('/');
        if (!sweep || !name) throw new NotFoundError(`no run ${ref.runId}`);
        return { sweep, name };
      },
      ...deps,
    }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const client = new dlphysProto.Coordinator(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.after(async () => {
    client.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  });
  return { client, runsDir };
}

async function makeFolder(files: Record<string, Buffer | string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpRoot, 'src-'));
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
  }
  return dir;
}

/** Every regular file under dir, relative path -> SHA-256. */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const full = path.join(e.parentPath, e.name);
    out[path.relative(dir, full).split(path.sep).join('/')] = createHash('sha256').update(await readFile(full)).digest('hex');
  }
  return out;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function assertNothingLanded(runsDir: string, sweep = 'sw', name = 'r1'): Promise<void> {
  assert.equal(await exists(path.join(runsDir, sweep, name)), false, 'a run folder landed');
  const staging = await readdir(path.join(runsDir, '.incoming')).catch(() => []);
  assert.deepEqual(staging, [], 'a staging folder was left behind');
}

const ref = { runId: 'sw/r1', attempt: 1 };
const header: UploadChunk = { header: { run: { run_id: 'sw/r1', attempt: 1 }, agent_id: 'agent-1' } };
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** Sends hand-made messages (things the sender never produces) and returns the call's outcome. */
function raw(client: CoordinatorClient, msgs: UploadChunk[]): Promise<grpc.ServiceError | UploadReply__Output> {
  return new Promise((resolve) => {
    const call = client.Upload(new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => resolve(err ?? res!));
    call.on('error', () => undefined);
    for (const m of msgs) call.write(m);
    call.end();
  });
}

function assertCode(result: unknown, code: grpc.status, pattern?: RegExp): void {
  const err = result as grpc.ServiceError;
  assert.ok(err instanceof Error, `expected ${grpc.status[code]}, got a reply ${JSON.stringify(result)}`);
  assert.equal(err.code, code, `expected ${grpc.status[code]}, got ${grpc.status[err.code]}: ${err.details}`);
  if (pattern) assert.match(err.details, pattern);
}

async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a folder with nested files and an empty file lands byte-identical', async (t) => {
  const { client, runsDir } = await serve(t);
  const src = await makeFolder({
    'config.json': '{"a":1}\n',
    'metrics.jsonl': '{"step":1}\n{"step":2}\n',
    'empty.txt': '',
    'ckpt/deep/w.bin': randomBytes(3 * 1024 * 1024 + 17),
    'ckpt/b.bin': randomBytes(1000),
  });
  const reply = await uploadFolder(client, { ref, agentId: 'agent-1', dir: src, chunkBytes: 256 * 1024 });
  assert.deepEqual(reply, { files: 5, bytes: 8 + 22 + 3 * 1024 * 1024 + 17 + 1000 });
  assert.deepEqual(await tree(path.join(runsDir, 'sw', 'r1')), await tree(src));
  assert.equal((await stat(path.join(runsDir, 'sw', 'r1', 'empty.txt'))).size, 0);
  assert.deepEqual(await readdir(path.join(runsDir, '.incoming')), []);
});

test('a second upload of the same run replaces the first atomically', async (t) => {
  const { client, runsDir } = await serve(t);
  const landed = path.join(runsDir, 'sw', 'r1');
  const first = await makeFolder({ 'metrics.jsonl': 'one\n', 'old.txt': 'only in the first' });
  await uploadFolder(client, { ref, agentId: 'agent-1', dir: first });
  const firstTree = await tree(landed);

  // Hold the second upload open mid-way: the first folder must still be there, whole.
  let resolveReply!: (r: grpc.ServiceError | UploadReply__Output) => void;
  const done = new Promise<grpc.ServiceError | UploadReply__Output>((r) => (resolveReply = r));
  const call = client.Upload(new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => resolveReply(err ?? res!));
  const body = 'one\ntwo\n';
  call.write(header);
  call.write({ file: { path: 'metrics.jsonl', size: body.length } });
  call.write({ data: Buffer.from(body) });
  call.write({ end: { sha256: sha(body) } });
  await until(async () => (await readdir(path.join(runsDir, '.incoming')).catch(() => [])).length > 0, 'the staging folder');
  assert.deepEqual(await tree(landed), firstTree);
  call.write({ file: { path: 'new/file.txt', size: 3 } });
  call.write({ data: Buffer.from('new') });
  call.write({ end: { sha256: sha('new') } });
  call.end();

  const reply = await done;
  assert.ok(!(reply instanceof Error), String(reply));
  assert.deepEqual(await tree(landed), { 'metrics.jsonl': sha(body), 'new/file.txt': sha('new') });
  assert.deepEqual(await readdir(path.join(runsDir, 'sw')), ['r1'], 'the replaced folder was not deleted');
  assert.deepEqual(await readdir(path.join(runsDir, '.incoming')), []);
});

test('an upload for a stale attempt is refused with FAILED_PRECONDITION and nothing lands', async (t) => {
  const { client, runsDir } = await serve(t, {
    check: () => {
      throw new StaleAttemptError('sw/r1: attempt 1 is stale (current 2)');
    },
  });
  const src = await makeFolder({ 'a.txt': 'a' });
  const err = await uploadFolder(client, { ref, agentId: 'agent-1', dir: src }).catch((e: unknown) => e);
  assertCode(err, grpc.status.FAILED_PRECONDITION, /attempt 1 is stale/);
  await assertNothingLanded(runsDir);
});

test('an attempt that goes stale while uploading is refused at landing and nothing lands', async (t) => {
  let calls = 0;
  const { client, runsDir } = await serve(t, {
    check: () => {
      calls += 1;
      if (calls > 1) throw new StaleAttemptError('sw/r1: lease expired');
      return { sweep: 'sw', name: 'r1' };
    },
  });
  const src = await makeFolder({ 'a.txt': 'a' });
  const err = await uploadFolder(client, { ref, agentId: 'agent-1', dir: src }).catch((e: unknown) => e);
  assertCode(err, grpc.status.FAILED_PRECONDITION, /lease expired/);
  await assertNothingLanded(runsDir);
});

test('an upload for an unknown run is refused with NOT_FOUND', async (t) => {
  const { client, runsDir } = await serve(t);
  const src = await makeFolder({ 'a.txt': 'a' });
  const err = await uploadFolder(client, { ref: { runId: 'nosuchrun', attempt: 1 }, agentId: 'a', dir: src }).catch((e: unknown) => e);
  assertCode(err, grpc.status.NOT_FOUND, /no run nosuchrun/);
  assert.deepEqual(await readdir(runsDir).then((l) => l.filter((e) => e !== '.incoming')), []);
});

test('upload paths that climb out, are absolute or are not plain are refused with INVALID_ARGUMENT', async (t) => {
  const { client, runsDir } = await serve(t);
  const bad = ['..', '../escape', 'a/../../b', 'a/../b', '/etc/passwd', 'C:/x', '..\\x', 'a\\..\\..\\b', 'a\0b', './a', 'a//b', 'a/', ''];
  for (const p of bad) {
    const result = await raw(client, [
      header,
      { file: { path: 'ok.txt', size: 2 } },
      { data: Buffer.from('ok') },
      { end: { sha256: sha('ok') } },
      { file: { path: p, size: 1 } },
      { data: Buffer.from('x') },
      { end: { sha256: sha('x') } },
    ]);
    assertCode(result, grpc.status.INVALID_ARGUMENT, /refused/);
    if (p) assert.ok((result as grpc.ServiceError).details.includes(JSON.stringify(p)), `details should name ${JSON.stringify(p)}`);
    await assertNothingLanded(runsDir);
  }
  assert.deepEqual(await readdir(tmpRoot).then((l) => l.filter((e) => !/^(runs|src)-/.test(e))), [], 'something escaped');
});

test('a second file at the same path is refused with INVALID_ARGUMENT', async (t) => {
  const { client, runsDir } = await serve(t);
  const f = (p: string): UploadChunk[] => [{ file: { path: p, size: 1 } }, { data: Buffer.from('x') }, { end: { sha256: sha('x') } }];
  assertCode(await raw(client, [header, ...f('a'), ...f('a')]), grpc.status.INVALID_ARGUMENT, /clashes/);
  assertCode(await raw(client, [header, ...f('a'), ...f('a/b')]), grpc.status.INVALID_ARGUMENT, /clashes/);
  assertCode(await raw(client, [header, ...f('a/b'), ...f('a')]), grpc.status.INVALID_ARGUMENT, /clashes/);
  await assertNothingLanded(runsDir);
});

test('a stream that does not start with a header is refused with INVALID_ARGUMENT', async (t) => {
  const { client, runsDir } = await serve(t);
  assertCode(await raw(client, [{ file: { path: 'a', size: 0 } }]), grpc.status.INVALID_ARGUMENT, /header/);
  assertCode(await raw(client, []), grpc.status.INVALID_ARGUMENT, /header/);
  await assertNothingLanded(runsDir);
});

test('a file over the size limit is refused with OUT_OF_RANGE and nothing lands', async (t) => {
  const { client, runsDir } = await serve(t, { maxFileBytes: 1000 });
  const src = await makeFolder({ 'small.txt': 'ok', 'big.bin': randomBytes(1001) });
  const err = await uploadFolder(client, { ref, agentId: 'agent-1', dir: src }).catch((e: unknown) => e);
  assertCode(err, grpc.status.OUT_OF_RANGE, /big\.bin is 1001 bytes/);
  await assertNothingLanded(runsDir);
});

test('a file that declares a small size but sends more than the limit is refused with OUT_OF_RANGE', async (t) => {
  const { client, runsDir } = await serve(t, { maxFileBytes: 1000 });
  const result = await raw(client, [header, { file: { path: 'a.bin', size: 10 } }, { data: randomBytes(2000) }, { end: { sha256: '' } }]);
  assertCode(result, grpc.status.OUT_OF_RANGE, /a\.bin sent more than the limit/);
  await assertNothingLanded(runsDir);
});

test('an upload whose files add up to more than the total limit is refused with OUT_OF_RANGE', async (t) => {
  const { client, runsDir } = await serve(t, { maxFileBytes: 1000, maxUploadBytes: 1500 });
  const src = await makeFolder({ 'a.bin': randomBytes(800), 'b.bin': randomBytes(800) });
  const err = await uploadFolder(client, { ref, agentId: 'agent-1', dir: src }).catch((e: unknown) => e);
  assertCode(err, grpc.status.OUT_OF_RANGE, /in total/);
  await assertNothingLanded(runsDir);
});

test('a wrong checksum is refused with DATA_LOSS and nothing lands', async (t) => {
  const { client, runsDir } = await serve(t);
  const result = await raw(client, [header, { file: { path: 'a.txt', size: 5 } }, { data: Buffer.from('hello') }, { end: { sha256: sha('hellO') } }]);
  assertCode(result, grpc.status.DATA_LOSS, /a\.txt: SHA-256 mismatch/);
  await assertNothingLanded(runsDir);
});

test('a file shorter than its declared size is refused with DATA_LOSS', async (t) => {
  const { client, runsDir } = await serve(t);
  const result = await raw(client, [header, { file: { path: 'a.txt', size: 6 } }, { data: Buffer.from('hello') }, { end: { sha256: sha('hello') } }]);
  assertCode(result, grpc.status.DATA_LOSS, /received 5 bytes, declared 6/);
  await assertNothingLanded(runsDir);
});

test('a stream that ends mid-file leaves no staging folder and nothing landed', async (t) => {
  const { client, runsDir } = await serve(t);
  const result = await raw(client, [header, { file: { path: 'a.bin', size: 100_000 } }, { data: randomBytes(50_000) }]);
  assertCode(result, grpc.status.DATA_LOSS, /ended in the middle of a\.bin/);
  await assertNothingLanded(runsDir);
});

test('a cancelled upload leaves no staging folder and nothing landed', async (t) => {
  const { client, runsDir } = await serve(t);
  const incoming = path.join(runsDir, '.incoming');
  const outcome = new Promise<grpc.ServiceError | null>((resolve) => {
    const call = client.Upload(new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err) => resolve(err));
    call.write(header);
    call.write({ file: { path: 'a.bin', size: 100_000 } });
    call.write({ data: randomBytes(50_000) });
    void until(async () => (await readdir(incoming).catch(() => [])).length > 0, 'the staging folder').then(() => call.cancel());
  });
  assertCode(await outcome, grpc.status.CANCELLED);
  await until(async () => (await readdir(incoming).catch(() => [])).length === 0, 'the staging folder to go');
  await assertNothingLanded(runsDir);
});

test('the sender skips symlinks and *.tmp files', async (t) => {
  const { client, runsDir } = await serve(t);
  const src = await makeFolder({ 'summary.json': '{}', 'summary.json.tmp': '{"half', 'sub/x.txt': 'x' });
  await symlink('/etc/hostname', path.join(src, 'link'));
  await symlink(path.join(src, 'sub'), path.join(src, 'dirlink'));
  const reply = await uploadFolder(client, { ref, agentId: 'agent-1', dir: src });
  assert.equal(reply.files, 2);
  assert.deepEqual(Object.keys(await tree(path.join(runsDir, 'sw', 'r1'))).sort(), ['sub/x.txt', 'summary.json']);
});

test('a file that grows while it is sent lands as a consistent prefix', async (t) => {
  const { client, runsDir } = await serve(t);
  const line = (i: number): string => `{"step":${i},"loss":${Math.random()}}\n`;
  const initial = Array.from({ length: 100_000 }, (_, i) => line(i)).join('');
  const src = await makeFolder({ 'metrics.jsonl': initial });
  let i = 100_000;
  let appending = true;
  const appender = (async () => {
    while (appending) await appendFile(path.join(src, 'metrics.jsonl'), line(i++));
  })();
  try {
    await uploadFolder(client, { ref, agentId: 'agent-1', dir: src, chunkBytes: 16 * 1024 });
  } finally {
    appending = false;
    await appender;
  }
  const sent = await readFile(path.join(runsDir, 'sw', 'r1', 'metrics.jsonl'), 'utf8');
  const final = await readFile(path.join(src, 'metrics.jsonl'), 'utf8');
  assert.ok(sent.length >= initial.length, 'less than the file held when the upload began');
  assert.equal(final.slice(0, sent.length), sent);
});

test('cleanStaging removes staging leftovers and puts back a folder left aside', async () => {
  const runsDir = await mkdtemp(path.join(tmpRoot, 'runs-'));
  await mkdir(path.join(runsDir, '.incoming', 'sw__r1__1__abc', 'sub'), { recursive: true });
  await writeFile(path.join(runsDir, '.incoming', 'sw__r1__1__abc', 'sub', 'f'), 'half');
  // r2 crashed between its two renames: only the aside copy exists. r3 crashed before deleting it.
  await mkdir(path.join(runsDir, 'sw', '.r2.old-0a1b'), { recursive: true });
  await writeFile(path.join(runsDir, 'sw', '.r2.old-0a1b', 'metrics.jsonl'), 'kept\n');
  await mkdir(path.join(runsDir, 'sw', '.r3.old-ff'), { recursive: true });
  await mkdir(path.join(runsDir, 'sw', 'r3'), { recursive: true });
  assert.deepEqual(await cleanStaging(runsDir), { removed: 2, restored: 1 });
  assert.equal(await exists(path.join(runsDir, '.incoming')), false);
  assert.deepEqual((await readdir(path.join(runsDir, 'sw'))).sort(), ['r2', 'r3']);
  assert.equal(await readFile(path.join(runsDir, 'sw', 'r2', 'metrics.jsonl'), 'utf8'), 'kept\n');
});

test('a 64 MiB upload lands intact and reports its throughput', async (t) => {
  const { client, runsDir } = await serve(t);
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 4; i++) files[`shard-${i}.bin`] = randomBytes(16 << 20);
  const src = await makeFolder(files);
  const started = process.hrtime.bigint();
  const reply = await uploadFolder(client, { ref, agentId: 'agent-1', dir: src });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  assert.equal(reply.bytes, 64 << 20);
  assert.deepEqual(await tree(path.join(runsDir, 'sw', 'r1')), await tree(src));
  console.log(`upload 64 MiB: ${(reply.bytes / 1e6 / seconds).toFixed(1)} MB/s (${seconds.toFixed(2)} s)`);
});
