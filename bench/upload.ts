/**
 * Upload throughput on loopback: an in-process coordinator serving only Upload, and the agent's
 * sender pushing a 256 MiB run folder (4 files of random bytes) three times to the same run, so
 * each upload after the first also replaces a landed folder. Prints MB/s (10^6 bytes) per upload,
 * the median, and one JSON line for tooling.
 *
 *   node --import tsx bench/upload.ts [--mib 256] [--files 4] [--chunk-kib 1024] [--repeat 3]
 */
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { scriptArgs } from '../lib/cli/flags.js';
import { dlphysProto } from '../proto/load.js';
import { makeUploadHandler } from '../coordinator/sync_receiver.js';
import { uploadFolder } from '../agent/sync_sender.js';

const values = scriptArgs({ mib: 256, files: 4, 'chunk-kib': 1024, repeat: 3 });
const totalBytes = values.mib * 2 ** 20;
const fileCount = values.files;
const chunkBytes = values['chunk-kib'] * 1024;
const repeat = values.repeat;

const root = await mkdtemp(path.join(os.tmpdir(), 'dlphys-bench-upload-'));
const server = new grpc.Server();
let client: InstanceType<typeof dlphysProto.Coordinator> | undefined;
try {
  const src = path.join(root, 'src');
  const runsDir = path.join(root, 'runs');
  await mkdir(src);
  const per = Math.floor(totalBytes / fileCount);
  for (let i = 0; i < fileCount; i++) {
    const size = i === fileCount - 1 ? totalBytes - per * (fileCount - 1) : per;
    await writeFile(path.join(src, `shard-${i}.bin`), randomBytes(size));
  }

  server.addService(dlphysProto.Coordinator.service, {
    Upload: makeUploadHandler({
      runsDir,
      maxFileBytes: totalBytes,
      maxUploadBytes: totalBytes,
      check: () => ({ sweep: 'bench', name: 'run' }),
    }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  client = new dlphysProto.Coordinator(`127.0.0.1:${port}`, grpc.credentials.createInsecure());

  const rates: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const started = process.hrtime.bigint();
    const reply = await uploadFolder(client, {
      ref: { runId: 'bench/run', attempt: 1 },
      agentId: 'bench',
      dir: src,
      chunkBytes,
      deadlineMs: 120_000,
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (reply.bytes !== totalBytes) throw new Error(`uploaded ${reply.bytes} bytes, expected ${totalBytes}`);
    const rate = reply.bytes / 1e6 / seconds;
    rates.push(rate);
    console.log(`upload ${i + 1}/${repeat}: ${values.mib} MiB in ${reply.files} files, ${seconds.toFixed(2)} s, ${rate.toFixed(1)} MB/s`);
  }
  const sorted = [...rates].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  console.log(`median: ${median.toFixed(1)} MB/s (chunk ${values['chunk-kib']} KiB)`);
  console.log(JSON.stringify({ bench: 'upload', mb_per_s: Number(median.toFixed(1)) }));
} finally {
  client?.close();
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  await rm(root, { recursive: true, force: true });
}
