/**
 * Fake agents for the tests that drive a real `dlphys-coord` with a raw gRPC client in the test
 * process, sending exactly what the test wants: registered connections with their secret,
 * heartbeats, hand-made upload streams, and a check for a refused call's status.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { connect, unary, type Connection } from '../proto/client.js';
import { AGENT_SECRET_KEY, PROTOCOL_VERSION } from '../proto/wire.js';
import type { RunRef } from '../proto/generated/dlphys/RunRef.js';
import type { UploadChunk } from '../proto/generated/dlphys/UploadChunk.js';
import type { UploadReply__Output } from '../proto/generated/dlphys/UploadReply.js';
import { writeText } from './helpers.js';

/** A raw client, closed when `fn` ends. */
export async function withClient(address: string, options: Parameters<typeof connect>[1], fn: (conn: Connection) => Promise<void>): Promise<void> {
  const conn = connect(address, options);
  try {
    await fn(conn);
  } finally {
    conn.close();
  }
}

/** Each fake agent's connection: the client's, plus the secret Register gave that agent. */
const agentConns = new Map<string, Connection>();

export function as(agentId: string): Connection {
  const conn = agentConns.get(agentId);
  if (!conn) throw new Error(`test bug: ${agentId} has not registered`);
  return conn;
}

export async function register(conn: Connection, agentId: string) {
  const reply = await unary(conn, 'Register', { agent_id: agentId, host: 'test', gpus: [], slots: 1, version: 'test', backend: 'cpu', protocol: PROTOCOL_VERSION });
  const metadata = conn.metadata.clone();
  metadata.set(AGENT_SECRET_KEY, reply.agent_secret);
  agentConns.set(agentId, { ...conn, metadata });
  return reply;
}

/** Heartbeats for a fake agent every 300 ms (its leases stay alive) until the returned function is called. */
export function keepAlive(conn: Connection, agentId: string, runs: RunRef[]): () => void {
  const timer = setInterval(() => void unary(conn, 'Heartbeat', { agent_id: agentId, runs }, 1000).catch(() => undefined), 300);
  return () => clearInterval(timer);
}

/** Asserts that `call` fails with the gRPC status `code` (and details matching `details`). */
export async function refused(what: string, call: Promise<unknown>, code: grpc.status, details?: RegExp): Promise<void> {
  await assert.rejects(call, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, `${what}: expected ${grpc.status[code]}, got ${grpc.status[err.code]} (${err.details})`);
    if (details) assert.match(err.details, details, what);
    return true;
  });
}

/** Sends exactly `chunks` as one Upload stream; resolves with the reply, rejects with the status. */
export function rawUpload(conn: Connection, chunks: UploadChunk[]): Promise<UploadReply__Output> {
  return new Promise((resolve, reject) => {
    const call = conn.client.Upload(conn.metadata, { deadline: Date.now() + 15_000 }, (err, reply) => (err ? reject(err) : resolve(reply!)));
    call.on('error', () => undefined); // the status arrives through the callback
    for (const chunk of chunks) call.write(chunk);
    call.end();
  });
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The chunks of one file: start, bytes, end with the checksum of those bytes. */
export function fileChunks(relPath: string, data: Buffer, declaredSize = data.length): UploadChunk[] {
  return [{ file: { path: relPath, size: declaredSize } }, { data }, { end: { sha256: sha256(data) } }];
}

/** Every entry under `dir`, relative, sorted (empty when it does not exist). */
export function tree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const all = (fs.readdirSync(dir, { recursive: true }) as string[]).map(String).sort();
  // A sweep's own files (sweep.json, written when it is recorded) are not landed runs: a sweep
  // folder holding nothing else is left out with them.
  const sweepFiles = new Set(all.filter((e) => /^[^/]+\/(sweep\.json|report\.html)$/.test(e)));
  const rest = all.filter((e) => !sweepFiles.has(e));
  return rest.filter((e) => e.includes('/') || ![...sweepFiles].some((f) => f.startsWith(`${e}/`)) || rest.some((o) => o.startsWith(`${e}/`)));
}

/** A run folder on the fake agent's side, made under `parent`. */
export function runFolder(parent: string, files: Record<string, string | Buffer>): string {
  const dir = fs.mkdtempSync(path.join(parent, 'upload-'));
  for (const [rel, content] of Object.entries(files)) writeText(path.join(dir, rel), content as string);
  return dir;
}
