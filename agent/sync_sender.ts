/**
 * The agent's end of `Upload`: sends a run folder as a header, then for each regular file a
 * FileStart, its bytes in chunks and a FileEnd with the SHA-256 computed while reading. The
 * coordinator lands the folder whole, or not at all (coordinator/sync_receiver.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { constants } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { CoordinatorClient } from '../proto/generated/dlphys/Coordinator.js';
import type { UploadChunk } from '../proto/generated/dlphys/UploadChunk.js';
import type { UploadReply__Output } from '../proto/generated/dlphys/UploadReply.js';
import { toWireRef, type RunRef } from '../proto/run_ref.js';

/** @default 1 MiB: large enough that per-message costs vanish, well below grpc's 4 MiB message limit. */
const DEFAULT_CHUNK = 1 << 20;
/** grpc-js refuses received messages above 4 MiB unless the server raises its limit. */
const MAX_CHUNK = (4 << 20) - 1024;
/** @default 10 minutes: a whole upload, not one chunk. */
const DEFAULT_DEADLINE_MS = 10 * 60_000;

export interface UploadArgs {
  readonly ref: RunRef;
  readonly agentId: string;
  /** The run folder; every regular file under it is sent, with its path relative to it. */
  readonly dir: string;
  readonly metadata?: grpc.Metadata;
  /** @default 600000 */
  readonly deadlineMs?: number;
  /** @default 1048576 */
  readonly chunkBytes?: number;
}

/** The server answered (with an error) while we were still sending: stop and report its answer. */
class Answered extends Error {}

/**
 * Uploads the folder `args.dir`. Resolves with what the coordinator stored; rejects with the
 * grpc ServiceError (its `.code` kept) when the coordinator refuses, or with the local error
 * (the call is then cancelled) when a file cannot be read.
 */
export async function uploadFolder(client: CoordinatorClient, args: UploadArgs): Promise<{ files: number; bytes: number }> {
  const chunkBytes = args.chunkBytes ?? DEFAULT_CHUNK;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > MAX_CHUNK) {
    throw new RangeError(`uploadFolder: chunkBytes must be an integer in 1..${MAX_CHUNK}, got ${chunkBytes}`);
  }
  const root = path.resolve(args.dir);
  const files = await listFiles(root);

  const deadline = Date.now() + (args.deadlineMs ?? DEFAULT_DEADLINE_MS);
  let answered = false;
  let call!: grpc.ClientWritableStream<UploadChunk>;
  const reply = new Promise<UploadReply__Output>((resolve, reject) => {
    call = client.Upload(args.metadata ?? new grpc.Metadata(), { deadline }, (err, res) => {
      answered = true;
      if (err) reject(err);
      else if (!res) reject(new Error('upload: empty reply'));
      else resolve(res);
    });
  });
  // Failures arrive through the callback; a write after the call ended would otherwise crash.
  call.on('error', () => undefined);
  const settled = reply.then(
    () => undefined,
    () => undefined,
  );

  const send = async (msg: UploadChunk): Promise<void> => {
    if (answered) throw new Answered();
    if (!call.write(msg)) {
      // 'drain' never comes once the call is over, so also wake on the answer.
      await Promise.race([once(call, 'drain').catch(() => undefined), settled]);
      if (answered) throw new Answered();
    }
  };

  let sent = 0;
  try {
    await send({ header: { run: toWireRef(args.ref), agent_id: args.agentId } });
    for (const rel of files) {
      if (await sendFile(root, rel, chunkBytes, send)) sent += 1;
    }
    call.end();
  } catch (err) {
    // Once the coordinator has answered, its status is the reason; otherwise ours is.
    if (!(err instanceof Answered) && !answered) {
      call.cancel();
      reply.catch(() => undefined);
      throw err;
    }
  }
  const res = await reply;
  if (res.files !== sent) throw new Error(`upload: sent ${sent} files, the coordinator stored ${res.files}`);
  return { files: res.files, bytes: Number(res.bytes) };
}

/**
 * Sends one file; false when it vanished before it could be opened (a temp file renamed away).
 * The size is taken once the file is open, and exactly that many bytes are sent, so a file still
 * being appended to (metrics.jsonl) goes out as a consistent prefix.
 */
async function sendFile(
  root: string,
  rel: string,
  chunkBytes: number,
  send: (msg: UploadChunk) => Promise<void>,
): Promise<boolean> {
  let fh;
  try {
    // O_NOFOLLOW: a file replaced by a link since the walk is skipped, like any link.
    fh = await open(path.join(root, rel), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP') return false;
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return false;
    const size = st.size;
    await send({ file: { path: rel, size } });
    const hash = createHash('sha256');
    let pos = 0;
    while (pos < size) {
      // A fresh buffer each time: grpc may still hold the previous one while we read the next.
      const buf = Buffer.allocUnsafe(Math.min(chunkBytes, size - pos));
      let filled = 0;
      while (filled < buf.length) {
        const { bytesRead } = await fh.read(buf, filled, buf.length - filled, pos + filled);
        if (bytesRead === 0) throw new Error(`upload: ${rel} shrank while being sent (${pos + filled} of ${size} bytes)`);
        filled += bytesRead;
      }
      hash.update(buf);
      pos += buf.length;
      await send({ data: buf });
    }
    await send({ end: { sha256: hash.digest('hex') } });
    return true;
  } finally {
    await fh.close();
  }
}

/** Regular files under `root`, relative with '/', sorted; symlinks and `*.tmp` files are left out. */
async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(dir, e.name), rel);
      else if (e.isFile() && !e.name.endsWith('.tmp')) out.push(rel);
      // Symlinks, sockets, fifos: not part of a run folder's content.
    }
  };
  await walk(root, '');
  return out;
}
