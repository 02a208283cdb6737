/**
 * What both ends of the contract agree on beyond proto/dlphys.proto: its version, the metadata
 * that carries an agent's secret, and the bounds agents keep to. The rest of the wire module:
 * errors.ts (what a status means), retry.ts (calling again while it may pass), run_ref.ts,
 * token.ts (the shared token), health.ts (the standard health service), client.ts (connect).
 */
import type * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';

/** The contract version; an agent speaking another one is refused at Register. */
export const PROTOCOL_VERSION = 3;

/** The bounds a run's records keep to on the wire (lib/run/limits.ts). */
export { MAX_ERROR_BYTES, MAX_METRIC_LINE_BYTES } from '../lib/run/limits.js';

/** Metadata key of the secret Register hands an agent (see the proto's header). */
export const AGENT_SECRET_KEY = 'x-dlphys-agent-secret';

/** The first value of a metadata key as a string ('' when absent). */
export function metadataValue(metadata: grpc.Metadata, key: string): string {
  const [value] = metadata.get(key);
  return typeof value === 'string' ? value : value ? value.toString('utf8') : '';
}

/** The full name of the standard health service (health.ts), which is served without the token. */
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

/** True for a call path ("/package.Service/Method") of the health service. */
export function isHealthMethod(path: string): boolean {
  return path.startsWith(`/${HEALTH_SERVICE}/`);
}


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
