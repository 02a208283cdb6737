/**
 * What both ends of the contract agree on beyond proto/dlphys.proto: its version, the metadata
 * that carries an agent's secret, and which refusals are final.
 */
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';

/** The contract version; an agent speaking another one is refused at Register. */
export const PROTOCOL_VERSION = 2;

/** Longest metrics.jsonl line the coordinator stores; agents send a stand-in for a longer one. */
export const MAX_METRIC_LINE_BYTES = 64 * 1024;

/** Metadata key of the secret Register hands an agent (see the proto's header). */
export const AGENT_SECRET_KEY = 'x-dlphys-agent-secret';

/** Longest `error` of a RunReport the coordinator takes (coordinator/bounds.ts); agents clip to it. */
export const MAX_ERROR_BYTES = 16 * 1024;

/**
 * A secret an agent proposes at Register (32 characters): kept by the coordinator, so a Register
 * repeated after a lost reply gets the same answer instead of finding its id taken.
 */
export function newAgentSecret(): string {
  return randomBytes(24).toString('base64url');
}

/** `text` cut to at most `bytes` UTF-8 bytes (head and tail kept, the middle marked), never inside a character. */
export function clipUtf8(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  const buf = Buffer.from(text);
  const half = Math.floor((bytes - 40) / 2);
  // toString drops a partial character at either cut as U+FFFD; strip those.
  const head = buf.subarray(0, half).toString('utf8').replace(/\uFFFD$/, '');
  const tail = buf.subarray(buf.length - half).toString('utf8').replace(/^\uFFFD/, '');
  return `${head} [... ${buf.length - 2 * half} bytes cut ...] ${tail}`;
}

/**
 * True for a refusal that retrying cannot change: a bad token (UNAUTHENTICATED), a call that is
 * not this agent's to make (PERMISSION_DENIED), a stale attempt or another contract version
 * (FAILED_PRECONDITION), an id that is taken (ALREADY_EXISTS). Everything else (UNAVAILABLE, a
 * deadline, INTERNAL from a full disk, RESOURCE_EXHAUSTED, ...) may pass and is retried.
 */
export function isDefiniteRefusal(err: unknown): boolean {
  const code = (err as grpc.ServiceError)?.code;
  return (
    code === grpc.status.UNAUTHENTICATED ||
    code === grpc.status.PERMISSION_DENIED ||
    code === grpc.status.FAILED_PRECONDITION ||
    code === grpc.status.ALREADY_EXISTS
  );
}
