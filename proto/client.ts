import * as grpc from '@grpc/grpc-js';
import fs from 'node:fs';
import type { MethodDefinition } from '@grpc/proto-loader';
import type { CoordinatorDefinition } from './generated/dlphys/Coordinator.js';
import { dlphysProto, type CoordinatorClient } from './load.js';
import { UsageError } from '../lib/errors.js';
import { setToken } from './token.js';

/** How to reach a coordinator: its token, and TLS. */
export interface ConnectOptions {
  /** The shared token (--token, --token-file), sent as a bearer token on every call. */
  token?: string | undefined;
  /** PEM file of the CA that signed the coordinator's certificate; enables TLS. */
  tlsCa?: string | undefined;
}

/** A client of the coordinator plus the metadata (token) every call carries. */
export interface Connection {
  address: string;
  client: CoordinatorClient;
  metadata: grpc.Metadata;
  close(): void;
}

/** Parses HOST:PORT (or [v6]:PORT) with a usage error that shows the form. */
export function parseAddress(address: string, flag = '--coord'): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(address);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`${flag} ${address}: expected HOST:PORT, e.g. 127.0.0.1:50051`);
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * A client of the coordinator at `address` (HOST:PORT), with the token (if any) in the metadata
 * every call sends. Connects lazily: an unreachable address fails the first call, not this.
 * Throws UsageError for a malformed address or a --tls-ca file that cannot be read.
 */
export function connect(address: string, options: ConnectOptions = {}): Connection {
  parseAddress(address);
  let credentials = grpc.credentials.createInsecure();
  if (options.tlsCa) {
    let ca: Buffer;
    try {
      ca = fs.readFileSync(options.tlsCa);
    } catch (err) {
      throw new UsageError(`--tls-ca ${options.tlsCa}: ${(err as Error).message}`);
    }
    credentials = grpc.credentials.createSsl(ca);
  }
  const client = new dlphysProto.Coordinator(address, credentials, {
    // Reconnect quickly after a coordinator restart rather than backing off to minutes.
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 2000,
    'grpc.max_receive_message_length': 128 * 1024 * 1024,
    'grpc.max_send_message_length': 128 * 1024 * 1024,
  }) as unknown as CoordinatorClient;
  const metadata = new grpc.Metadata();
  if (options.token) setToken(metadata, options.token);
  return { address, client, metadata, close: () => client.close() };
}

type UnaryName =
  | 'Register'
  | 'Heartbeat'
  | 'Lease'
  | 'StartRun'
  | 'ReportMetrics'
  | 'Report'
  | 'Goodbye'
  | 'GetCode'
  | 'SubmitSweep'
  | 'Status'
  | 'Cancel'
  | 'Retry'
  | 'RunDetail'
  | 'SubmitSlurm';
/* eslint-disable @typescript-eslint/no-explicit-any -- `any` is what lets `infer` match MethodDefinition's other parameters */
type RequestOf<K extends UnaryName> = CoordinatorDefinition[K] extends MethodDefinition<infer Req, any, any, any> ? Req : never;
type ReplyOf<K extends UnaryName> = CoordinatorDefinition[K] extends MethodDefinition<any, any, any, infer Res> ? Res : never;

/** One unary call with a deadline, as a promise; rejects with the grpc ServiceError (its `.code` kept). */
export function unary<K extends UnaryName>(conn: Connection, method: K, request: RequestOf<K>, deadlineMs = 10_000): Promise<ReplyOf<K>> {
  return new Promise((resolve, reject) => {
    const fn = conn.client[method] as unknown as (
      req: RequestOf<K>,
      md: grpc.Metadata,
      opts: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, value?: ReplyOf<K>) => void,
    ) => grpc.ClientUnaryCall;
    fn.call(conn.client, request, conn.metadata, { deadline: Date.now() + deadlineMs }, (err, value) => {
      if (err) reject(err);
      else resolve(value as ReplyOf<K>);
    });
  });
}
