/**
 * The standard gRPC health service (grpc.health.v1.Health: Check, Watch, List), served by the
 * coordinator beside its own, from the grpc team's `grpc-health-check` package. It answers for
 * the server as a whole ('') and for the Coordinator service by name: SERVING while it takes
 * work, NOT_SERVING once it is on its way out (--exit-when-done reached, or closing).
 *
 * It is served without the token (token.ts lets its methods through): load balancers and
 * orchestrators probe it without credentials, and it tells nothing but up or not.
 */
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, service as healthDefinition } from 'grpc-health-check';
import type { Connection } from './client.js';
import { dlphysProto } from './load.js';
import { HEALTH_SERVICE } from './wire.js';

export { HEALTH_SERVICE };

/** The name a health check gives to ask about the Coordinator service itself (dlphys.Coordinator), read off the contract. */
export const COORDINATOR_SERVICE: string = Object.values(dlphysProto.Coordinator.service)[0]!.path.split('/')[1]!;

/** What Check answers; SERVICE_UNKNOWN only comes from Watch, for a name that is not served. */
export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** The coordinator's side of the health service. */
export interface HealthService {
  /** Says SERVING (true) or NOT_SERVING (false) from now on, to Check and to every Watch. */
  setServing(serving: boolean): void;
  /** Says NOT_SERVING and ends the Watch streams, so a server shutdown does not wait for them. */
  close(): void;
}

type HealthWatchCall = grpc.ServerWritableStream<unknown, unknown>;

/** Adds the health service to `server` (before it binds), SERVING. */
export function serveHealth(server: grpc.Server): HealthService {
  const health = new HealthImplementation({ '': 'SERVING', [COORDINATOR_SERVICE]: 'SERVING' });
  const watching = new Set<HealthWatchCall>();
  // The package's Watch streams last until their client cancels; these are kept to be ended
  // on close (grpc-js's graceful shutdown waits for every open call).
  health.addToServer({
    addService: (service, handlers) => {
      const watch = handlers.watch as (call: HealthWatchCall) => void;
      server.addService(service as unknown as grpc.ServiceDefinition, {
        ...(handlers as grpc.UntypedServiceImplementation),
        watch: (call: HealthWatchCall) => {
          watching.add(call);
          call.once('cancelled', () => watching.delete(call));
          watch(call);
        },
      });
    },
  });
  let closed = false;
  const setServing = (serving: boolean) => {
    // After close the package still holds the ended Watch calls (ending one emits no
    // 'cancelled'), so nothing may be written to them any more.
    if (closed) return;
    for (const name of ['', COORDINATOR_SERVICE]) health.setStatus(name, serving ? 'SERVING' : 'NOT_SERVING');
  };
  return {
    setServing,
    close: () => {
      setServing(false);
      closed = true;
      for (const call of watching) call.end();
      watching.clear();
    },
  };
}

interface HealthClient extends grpc.Client {
  Check(
    request: { service: string },
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, reply?: { status: ServingStatus }) => void,
  ): grpc.ClientUnaryCall;
}

const HealthClientCtor = grpc.makeClientConstructor(healthDefinition as unknown as grpc.ServiceDefinition, HEALTH_SERVICE);

/**
 * Asks the coordinator behind `conn` (on the same channel, so with its TLS) whether `service`
 * ('' for the server as a whole) is serving. Needs no token. Rejects with the grpc ServiceError
 * when nothing answers within `deadlineMs` (UNAVAILABLE, DEADLINE_EXCEEDED), or NOT_FOUND for a
 * service name the coordinator does not serve.
 */
export function checkHealth(conn: Connection, service = '', deadlineMs = 5000): Promise<ServingStatus> {
  const client = new HealthClientCtor(conn.address, grpc.credentials.createInsecure(), {
    channelOverride: conn.client.getChannel(),
  }) as unknown as HealthClient;
  return new Promise((resolve, reject) => {
    // Not closed: it shares the connection's channel, which conn.close() closes.
    client.Check({ service }, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, reply) => {
      if (err) reject(err);
      else resolve(reply!.status);
    });
  });
}
