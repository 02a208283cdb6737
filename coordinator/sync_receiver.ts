/**
 * The coordinator's end of `Upload`: a run folder arrives as a header, then for each file a
 * FileStart, its bytes and a FileEnd with the SHA-256. Files are written into a private staging
 * folder under `<runsDir>/.incoming/`; only when the stream ends with every file complete and
 * checked does the folder replace `<runsDir>/<sweep>/<name>/` by renames, so a reader never sees
 * a half folder, and any failure leaves nothing behind.
 */
import * as grpc from '@grpc/grpc-js';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { UploadChunk__Output } from '../proto/generated/dlphys/UploadChunk.js';
import type { UploadReply } from '../proto/generated/dlphys/UploadReply.js';
import { fromWireRef, type RunRef } from '../proto/run_ref.js';
import { checkRequest, isValidName } from './bounds.js';
import { errorStatus, type CallStatus } from './error_status.js';
import { INCOMING, land } from './landing.js';

export interface UploadDeps {
  /** Root of landed run folders: `<runsDir>/<sweep>/<name>/`. */
  readonly runsDir: string;
  /** Largest single file accepted, in bytes. */
  readonly maxFileBytes: number;
  /** Largest upload (sum of its files) accepted, in bytes. */
  readonly maxUploadBytes: number;
  /**
   * The store's fencing check: returns where the run lands, or throws an error named
   * `StaleAttemptError` (the attempt is no longer the run's current one) or `NotFoundError`.
   */
  readonly check: (ref: RunRef, agentId: string, metadata: grpc.Metadata) => { sweep: string; name: string };
  /**
   * Called once a folder that holds summary.json (a finished run's, not a periodic snapshot) has
   * landed, to record it: the coordinator accepts the run's report only after this.
   */
  readonly landed?: (ref: RunRef, agentId: string, files: number, bytes: number) => void;
  /** Told how each upload ended: null when it landed, else the status it was refused with. */
  readonly outcome?: (err: CallStatus | null) => void;
  /**
   * An upload that sends no message for this long ends with DEADLINE_EXCEEDED, its file closed
   * and its staging folder removed, so a stalled sender holds no descriptor or folder for good.
   * @default 60 s
   */
  readonly idleTimeoutMs?: number;
}

/** @see UploadDeps.idleTimeoutMs */
export const DEFAULT_UPLOAD_IDLE_MS = 60_000;

/** The write stream buffers this much before asking the reader to wait (4 chunks of 1 MiB). */
const WRITE_HIGH_WATER = 4 << 20;

/** A refusal carried to the client as a gRPC status. */
class UploadError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

/** One file being received. Write errors are kept and surface at the next write or at close. */
class IncomingFile {
  readonly hash: Hash = createHash('sha256');
  received = 0;
  private readonly out: WriteStream;
  private error: Error | null = null;
  private closed: Promise<void>;

  constructor(
    readonly relPath: string,
    readonly absPath: string,
    readonly size: number,
  ) {
    // 'wx': the staging folder is fresh, so the file must not exist (and no link is followed).
    // flush: fsync before close. The run is recorded finished once its folder landed, and the
    // agent then deletes its copy: the bytes must be on disk, not in the page cache, by then.
    this.out = createWriteStream(absPath, { flags: 'wx', highWaterMark: WRITE_HIGH_WATER, flush: true });
    this.closed = new Promise((resolve) => this.out.once('close', resolve));
    this.out.on('error', (err) => {
      this.error ??= err;
    });
  }

  async write(data: Buffer): Promise<void> {
    if (this.error) throw this.error;
    this.hash.update(data);
    this.received += data.length;
    if (this.out.write(data)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.out.off('drain', done);
        this.out.off('close', done);
        resolve();
      };
      this.out.on('drain', done);
      this.out.on('close', done);
    });
    if (this.error) throw this.error;
  }

  /** Flushes and closes; rejects with the first write error. */
  async finish(): Promise<void> {
    this.out.end();
    await this.closed;
    if (this.error) throw this.error;
  }

  /** Closes without flushing; never rejects. */
  async abort(): Promise<void> {
    this.out.destroy();
    await this.closed;
  }
}

/** Returns the grpc-js handler for `Coordinator.Upload`. */
export function makeUploadHandler(
  deps: UploadDeps,
): grpc.handleClientStreamingCall<UploadChunk__Output, UploadReply> {
  const runsDir = path.resolve(deps.runsDir);
  return (call, callback) => {
    receive(deps, runsDir, call).then(
      (reply) => {
        deps.outcome?.(null);
        callback(null, reply);
      },
      (err: unknown) => {
        const status = toStatus(err);
        deps.outcome?.(status);
        callback({ code: status.code, details: status.details });
      },
    );
  };
}

async function receive(
  deps: UploadDeps,
  runsDir: string,
  call: grpc.ServerReadableStream<UploadChunk__Output, UploadReply>,
): Promise<UploadReply> {
  let header: (RunRef & { agentId: string; sweep: string; name: string }) | null = null;
  let staging: string | null = null;
  let current: IncomingFile | null = null;
  // Paths taken by this upload, to refuse a duplicate or a file where a folder is (or the reverse).
  const filesSeen = new Set<string>();
  const dirsSeen = new Set<string>();
  let files = 0;
  let declaredTotal = 0;
  let receivedTotal = 0;
  // Armed only while waiting for the client: time spent on our own disk writes is not its fault.
  const idleMs = deps.idleTimeoutMs ?? DEFAULT_UPLOAD_IDLE_MS;
  let idle: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    clearTimeout(idle);
    // Destroying the stream with the error ends the loop below, which cleans up and answers it.
    idle = setTimeout(
      () => call.destroy(new UploadError(grpc.status.DEADLINE_EXCEEDED, `upload: no message for ${idleMs / 1000} s; the upload was abandoned`)),
      idleMs,
    );
  };
  try {
    armIdle();
    // Async iteration pulls one message at a time: grpc-js reads the next only when asked, so a
    // slow disk slows the sender through HTTP/2 flow control instead of filling memory.
    for await (const chunk of call as AsyncIterable<UploadChunk__Output>) {
      clearTimeout(idle);
      try {
        checkRequest('Upload', chunk);
      } catch (err) {
        throw new UploadError(grpc.status.INVALID_ARGUMENT, (err as Error).message);
      }
      if (header === null) {
        if (chunk.kind !== 'header' || !chunk.header) {
          throw new UploadError(grpc.status.INVALID_ARGUMENT, 'upload: the first message must be a header');
        }
        const run = chunk.header.run;
        if (!run || !run.run_id) throw new UploadError(grpc.status.INVALID_ARGUMENT, 'upload: header without a run');
        const ref = fromWireRef(run);
        const where = deps.check(ref, chunk.header.agent_id, call.metadata);
        checkSegment(where.sweep, 'sweep');
        checkSegment(where.name, 'run name');
        header = { ...ref, agentId: chunk.header.agent_id, ...where };
        staging = path.join(
          runsDir,
          INCOMING,
          `${where.sweep}__${where.name}__${ref.attempt}__${randomBytes(6).toString('hex')}`,
        );
        await mkdir(staging, { recursive: true });
        armIdle();
        continue;
      }
      const dir = staging as string;
      switch (chunk.kind) {
        case 'file': {
          if (current) throw new UploadError(grpc.status.INVALID_ARGUMENT, `upload: ${current.relPath}: file started before the previous one ended`);
          const start = chunk.file;
          if (!start) throw new UploadError(grpc.status.INVALID_ARGUMENT, 'upload: empty FileStart');
          const rel = start.path;
          const abs = confine(dir, rel);
          if (filesSeen.has(rel) || dirsSeen.has(rel) || ancestors(rel).some((a) => filesSeen.has(a))) {
            throw new UploadError(grpc.status.INVALID_ARGUMENT, `upload: path ${JSON.stringify(rel)} clashes with another file of this upload`);
          }
          const size = parseSize(start.size, rel);
          if (size > deps.maxFileBytes) {
            throw new UploadError(grpc.status.OUT_OF_RANGE, `upload: ${rel} is ${size} bytes, above the limit of ${deps.maxFileBytes}`);
          }
          declaredTotal += size;
          if (declaredTotal > deps.maxUploadBytes) {
            throw new UploadError(grpc.status.OUT_OF_RANGE, `upload: more than ${deps.maxUploadBytes} bytes in total (the coordinator's --max-upload-mb)`);
          }
          filesSeen.add(rel);
          for (const a of ancestors(rel)) dirsSeen.add(a);
          await mkdir(path.dirname(abs), { recursive: true });
          current = new IncomingFile(rel, abs, size);
          break;
        }
        case 'data': {
          if (!current) throw new UploadError(grpc.status.INVALID_ARGUMENT, 'upload: data outside a file');
          const data = chunk.data ?? Buffer.alloc(0);
          if (current.received + data.length > deps.maxFileBytes) {
            throw new UploadError(grpc.status.OUT_OF_RANGE, `upload: ${current.relPath} sent more than the limit of ${deps.maxFileBytes} bytes`);
          }
          receivedTotal += data.length;
          if (receivedTotal > deps.maxUploadBytes) {
            throw new UploadError(grpc.status.OUT_OF_RANGE, `upload: more than ${deps.maxUploadBytes} bytes in total (the coordinator's --max-upload-mb)`);
          }
          if (current.received + data.length > current.size) {
            throw new UploadError(grpc.status.DATA_LOSS, `upload: ${current.relPath} sent more than its declared ${current.size} bytes`);
          }
          await current.write(data);
          break;
        }
        case 'end': {
          if (!current) throw new UploadError(grpc.status.INVALID_ARGUMENT, 'upload: FileEnd outside a file');
          const file = current;
          current = null;
          const finishing = file.finish();
          if (file.received !== file.size) {
            await finishing.catch(() => undefined);
            throw new UploadError(grpc.status.DATA_LOSS, `upload: ${file.relPath}: received ${file.received} bytes, declared ${file.size}`);
          }
          const sha = file.hash.digest('hex');
          const expected = (chunk.end?.sha256 ?? '').toLowerCase();
          await finishing;
          if (sha !== expected) {
            throw new UploadError(grpc.status.DATA_LOSS, `upload: ${file.relPath}: SHA-256 mismatch (got ${sha}, sender said ${expected || 'nothing'})`);
          }
          files += 1;
          break;
        }
        default:
          throw new UploadError(grpc.status.INVALID_ARGUMENT, 'upload: a message with no known kind');
      }
      armIdle();
    }
    clearTimeout(idle);
    if (header === null) throw new UploadError(grpc.status.INVALID_ARGUMENT, 'upload: the stream ended before the header');
    if (current) throw new UploadError(grpc.status.DATA_LOSS, `upload: the stream ended in the middle of ${current.relPath}`);
    if (files === 0) throw new UploadError(grpc.status.INVALID_ARGUMENT, 'upload: no files: an empty upload would land an empty run folder');
    const dir = staging as string;
    const h = header;
    await land(runsDir, dir, h.sweep, h.name, () => {
      // The upload may have outlived its lease: ask again before the folder becomes visible.
      deps.check({ runId: h.runId, attempt: h.attempt }, h.agentId, call.metadata);
    });
    staging = null;
    // After the rename: a crash in between leaves a landed folder the agent uploads again.
    if (filesSeen.has('summary.json')) deps.landed?.({ runId: h.runId, attempt: h.attempt }, h.agentId, files, receivedTotal);
    return { files, bytes: receivedTotal };
  } catch (err) {
    clearTimeout(idle);
    // Clean up before answering, so that when the client sees the error nothing is left behind.
    if (current) await current.abort();
    if (staging) await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/**
 * Resolves an upload path inside `root`, refusing anything that is not a plain relative POSIX
 * path: empty, absolute (POSIX or Windows), NUL, backslashes, `.`/`..`/empty segments, or a path
 * that is not already in normal form.
 */
function confine(root: string, rel: string): string {
  const bad = (why: string): never => {
    throw new UploadError(grpc.status.INVALID_ARGUMENT, `upload: path ${JSON.stringify(rel)} refused: ${why}`);
  };
  if (typeof rel !== 'string' || rel.length === 0) bad('empty');
  if (rel.includes('\0')) bad('contains NUL');
  if (rel.includes('\\')) bad('contains a backslash');
  if (path.posix.isAbsolute(rel) || path.win32.isAbsolute(rel) || /^[A-Za-z]:/.test(rel)) bad('absolute');
  const segments = rel.split('/');
  if (segments.some((s) => s === '..')) bad('contains ..');
  if (segments.some((s) => s === '' || s === '.')) bad('not normalised');
  if (path.posix.normalize(rel) !== rel) bad('not normalised');
  if (Buffer.byteLength(rel) > 1024 || segments.some((s) => Buffer.byteLength(s) > 255)) bad('too long');
  const abs = path.resolve(root, rel);
  if (!abs.startsWith(root + path.sep)) bad('outside the run folder');
  return abs;
}

/** Sweep and run names come from the store (which keeps the same rule), but they still become path segments. */
function checkSegment(s: string, what: string): void {
  if (!isValidName(s)) {
    throw new UploadError(grpc.status.INTERNAL, `upload: the store gave an unusable ${what} ${JSON.stringify(s)}`);
  }
}

function ancestors(rel: string): string[] {
  const parts = rel.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

function parseSize(size: string | number, rel: string): number {
  const s = String(size);
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n)) {
    throw new UploadError(grpc.status.INVALID_ARGUMENT, `upload: ${rel}: bad size ${JSON.stringify(s)}`);
  }
  return n;
}

/** errorStatus (error_status.ts), with the upload's own statuses and every message saying it was the upload. */
function toStatus(err: unknown): CallStatus {
  if (err instanceof UploadError) return { code: err.code, details: err.message };
  const e = err as { name?: string; code?: unknown } | null;
  // The stream was cancelled or destroyed under us; the client no longer listens, but say so.
  if (e?.code === 'ERR_STREAM_PREMATURE_CLOSE' || e?.name === 'AbortError') {
    return { code: grpc.status.CANCELLED, details: `upload: ${(err as Error).message}` };
  }
  const status = errorStatus(err);
  // A refusal of the coordinator's own (a stale attempt, say) speaks for itself; a malformed
  // header (UsageError) or an unexpected failure is said to be the upload's.
  const own = e?.name !== 'UsageError' && status.code !== grpc.status.INTERNAL;
  return own ? status : { ...status, details: `upload: ${status.details}` };
}
