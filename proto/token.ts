/**
 * The coordinator's shared token on the wire: a client sends `authorization: Bearer <token>` with
 * every call (client.ts connect), and the coordinator checks it in one server interceptor, before
 * any handler runs, for every method of every kind (unary, the Upload stream, the Watch stream)
 * but those of the health service (health.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { isHealthMethod, metadataValue } from './wire.js';

const AUTHORIZATION = 'authorization';

/** Makes every call with `metadata` carry `token`. */
export function setToken(metadata: grpc.Metadata, token: string): void {
  metadata.set(AUTHORIZATION, `Bearer ${token}`);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The status a call without the right token ends with; says whether a token was sent at all. */
function refusal(metadata: grpc.Metadata): { code: grpc.status; details: string } {
  const sent = metadata.get(AUTHORIZATION).length > 0;
  return {
    code: grpc.status.UNAUTHENTICATED,
    details: sent
      ? "wrong token; pass the coordinator's token with --token-file FILE (or DLPHYS_TOKEN_FILE)"
      : 'this coordinator needs a token; pass it with --token-file FILE (or DLPHYS_TOKEN_FILE)',
  };
}

/**
 * A server interceptor that ends every call not carrying `token` with UNAUTHENTICATED, before its
 * handler sees its metadata or a message (health checks pass without one).
 */
export function tokenInterceptor(token: string): grpc.ServerInterceptor {
  const expected = digest(`Bearer ${token}`);
  // Digests of equal length compared in constant time: the time taken tells nothing about the token.
  const authorized = (metadata: grpc.Metadata) => timingSafeEqual(digest(metadataValue(metadata, AUTHORIZATION)), expected);
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, pass) => {
            if (isHealthMethod(method.path) || authorized(metadata)) pass(metadata);
            else call.sendStatus(refusal(metadata));
          },
        }),
    });
}
