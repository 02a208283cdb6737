/**
 * The wire module (proto/) on an in-process coordinator: the token interceptor in front of every
 * method, the standard health service beside it, and the one retry loop the clients share.
 */
import * as grpc from '@grpc/grpc-js';
import { service as healthDefinition } from 'grpc-health-check';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CoordinatorServer } from '../coordinator/server.js';
import { Store } from '../coordinator/store/index.js';
import { connect, unary, type Connection } from '../proto/client.js';
import { describeCallError, isDefiniteRefusal } from '../proto/errors.js';
import { COORDINATOR_SERVICE, HEALTH_SERVICE, checkHealth } from '../proto/health.js';
import { dlphysProto } from '../proto/load.js';
import { RetryStopped, retryWhile } from '../proto/retry.js';
import { tempDir } from './helpers.js';

const NO_TOKEN = /^this coordinator needs a token; pass it with --token-file FILE \(or DLPHYS_TOKEN_FILE\)$/;
const WRONG_TOKEN = /^wrong token; pass the coordinator's token with --token-file FILE \(or DLPHYS_TOKEN_FILE\)$/;

interface Served {
  server: CoordinatorServer;
  store: Store;
  address: string;
  /** A client with `token` (none when undefined), closed when the test ends. */
  client(token?: string): Connection;
}

/** An in-process coordinator on 127.0.0.1 port 0 (with `token`, if any), closed after `fn` unless `fn` closed it. */
async function withServer(token: string | undefined, fn: (s: Served) => Promise<void>): Promise<void> {
  const dir = tempDir('dlphys-wire-');
  const runsDir = path.join(dir, 'runs');
  fs.mkdirSync(runsDir);
  const store = Store.open(path.join(dir, 'dlphys.db'));
  const server = new CoordinatorServer({ store, runsDir, leaseTtlMs: 60_000, token, maxFileBytes: 1 << 20, maxUploadBytes: 1 << 20, log: () => {} });
  const address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
  const conns: Connection[] = [];
  try {
    await fn({
      server,
      store,
      address,
      client: (t) => {
        const conn = connect(address, { token: t });
        conns.push(conn);
        return conn;
      },
    });
  } finally {
    for (const c of conns) c.close();
    await server.close();
    store.close();
  }
}

/**
 * Calls `method` of the Coordinator service the way its kind calls (unary, client stream with a
 * few MiB of chunks, server stream) and resolves with the status it ends with.
 */
function callAnyKind(client: grpc.Client, def: grpc.MethodDefinition<object, object>, metadata: grpc.Metadata): Promise<grpc.ServiceError> {
  const options = { deadline: Date.now() + 15_000 };
  return new Promise((resolve, reject) => {
    const answered = (err: grpc.ServiceError | null) => (err ? resolve(err) : reject(new Error(`${def.path} answered without the token`)));
    if (!def.requestStream && !def.responseStream) {
      client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, {}, metadata, options, answered);
    } else if (def.requestStream && !def.responseStream) {
      const call = client.makeClientStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, metadata, options, answered);
      call.on('error', () => undefined); // the status arrives through the callback
      // More than the stream's flow-control window: a refusal must not wait for it to be read.
      call.write({ header: { run: { run_id: 's/r', attempt: 1 }, agent_id: 'intruder' } });
      call.write({ file: { path: 'big.bin', size: 4 << 20 } });
      for (let i = 0; i < 4; i++) call.write({ data: Buffer.alloc(1 << 20, i) });
      call.end();
    } else if (!def.requestStream && def.responseStream) {
      const call = client.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, { since_id: '0' }, metadata, options);
      call.on('data', () => reject(new Error(`${def.path} streamed data without the token`)));
      call.on('error', resolve);
      call.on('status', (s: grpc.StatusObject) => s.code === grpc.status.OK && reject(new Error(`${def.path} ended OK without the token`)));
    } else {
      reject(new Error(`test bug: ${def.path} is a bidi stream, which this test does not call`));
    }
  });
}

test('with a token, every method of every kind (unary, the Upload stream, the Watch stream) is UNAUTHENTICATED without it or with a wrong one, before its handler runs', async () => {
  await withServer('s3cret', async ({ address, store, client }) => {
    const raw = new grpc.Client(address, grpc.credentials.createInsecure());
    try {
      const methods = Object.values(dlphysProto.Coordinator.service) as grpc.MethodDefinition<object, object>[];
      assert.ok(methods.some((m) => m.requestStream) && methods.some((m) => m.responseStream), 'both stream kinds are covered');
      for (const [what, token, details] of [
        ['no token', undefined, NO_TOKEN],
        ['a wrong token', 'guess', WRONG_TOKEN],
      ] as const) {
        const metadata = new grpc.Metadata();
        if (token) metadata.set('authorization', `Bearer ${token}`);
        for (const def of methods) {
          const err = await callAnyKind(raw, def, metadata);
          assert.equal(err.code, grpc.status.UNAUTHENTICATED, `${def.path} with ${what}: ${grpc.status[err.code]} ${err.details}`);
          assert.match(err.details, details, `${def.path} with ${what}`);
        }
      }
      assert.deepEqual(store.status().agents, [], 'no call reached the store');
      const reply = await unary(client('s3cret'), 'Status', { sweep: '' });
      assert.deepEqual(reply.sweeps, [], 'the right token passes');
    } finally {
      raw.close();
    }
  });
});

test('the health service answers SERVING without a token, for the server and for the Coordinator service, and NOT_FOUND for another name', async () => {
  await withServer('s3cret', async ({ client }) => {
    const anonymous = client();
    assert.equal(await checkHealth(anonymous), 'SERVING');
    assert.equal(await checkHealth(anonymous, COORDINATOR_SERVICE), 'SERVING');
    await assert.rejects(checkHealth(anonymous, 'nope.Service'), (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND);
    await assert.rejects(unary(anonymous, 'Status', { sweep: '' }), (err: grpc.ServiceError) => err.code === grpc.status.UNAUTHENTICATED);
  });
});

test('once the coordinator stops taking work, health says NOT_SERVING to Check and to Watch, and closing ends the Watch streams at once', async () => {
  await withServer(undefined, async ({ server, address, client }) => {
    const Health = grpc.makeClientConstructor(healthDefinition as unknown as grpc.ServiceDefinition, HEALTH_SERVICE);
    const health = new Health(address, grpc.credentials.createInsecure());
    try {
      const watch = health.makeServerStreamRequest(
        `/${HEALTH_SERVICE}/Watch`,
        (healthDefinition.Watch!.requestSerialize as (v: object) => Buffer),
        (healthDefinition.Watch!.responseDeserialize as (b: Buffer) => { status: string }),
        { service: '' },
        new grpc.Metadata(),
        {},
      );
      const seen: string[] = [];
      const ended = new Promise<grpc.StatusObject>((resolve) => watch.on('status', resolve));
      watch.on('error', () => undefined);
      const next = () => new Promise<void>((resolve) => watch.once('data', (m: { status: string }) => (seen.push(m.status), resolve())));
      await next();
      assert.deepEqual(seen, ['SERVING']);

      const turned = next();
      server.stopAcceptingWork();
      await turned;
      assert.deepEqual(seen, ['SERVING', 'NOT_SERVING']);
      assert.equal(await checkHealth(client()), 'NOT_SERVING');

      const t = performance.now();
      await server.close();
      assert.ok(performance.now() - t < 1500, `close waited ${Math.round(performance.now() - t)} ms for the Watch stream`);
      assert.equal((await ended).code, grpc.status.OK);
    } finally {
      health.close();
    }
  });
});

test('a health check of an address where nothing listens fails as unreachable, described as such', async () => {
  const conn = connect('127.0.0.1:1');
  try {
    await assert.rejects(checkHealth(conn, '', 2000), (err: grpc.ServiceError) => {
      assert.match(describeCallError(conn.address, err), /^no coordinator answers at 127\.0\.0\.1:1 /);
      return true;
    });
  } finally {
    conn.close();
  }
});

/** A ServiceError-like rejection with `code`. */
function failure(code: grpc.status): grpc.ServiceError {
  return Object.assign(new Error(grpc.status[code]), { code, details: grpc.status[code], metadata: new grpc.Metadata() });
}

test('retryWhile: tries again with doubling waits up to the cap, tells of each failure and of the recovery, and resolves with the value', async () => {
  const waits: number[] = [];
  const retries: number[] = [];
  let recovered = 0;
  let calls = 0;
  const value = await retryWhile(
    async () => {
      if (++calls <= 5) throw failure(grpc.status.UNAVAILABLE);
      return 'taken';
    },
    {
      initialDelayMs: 100,
      maxDelayMs: 500,
      sleep: async (ms) => void waits.push(ms),
      onRetry: (_err, failures) => void retries.push(failures),
      onRecover: (failures) => void (recovered = failures),
    },
  );
  assert.equal(value, 'taken');
  assert.deepEqual(waits, [100, 200, 400, 500, 500]);
  assert.deepEqual(retries, [1, 2, 3, 4, 5]);
  assert.equal(recovered, 5);
});

test('retryWhile: a final error (by default a definite refusal) and what onRetry throws end it; stopped ends it with RetryStopped', async () => {
  const noWait = { initialDelayMs: 1, maxDelayMs: 1, sleep: async () => {} };
  const refusal = failure(grpc.status.UNAUTHENTICATED);
  assert.ok(isDefiniteRefusal(refusal));
  let calls = 0;
  await assert.rejects(
    retryWhile(async () => {
      calls++;
      throw refusal;
    }, noWait),
    (err) => err === refusal,
  );
  assert.equal(calls, 1, 'a definite refusal is not tried again');

  const giveUp = new Error('gave up after --connect-timeout');
  await assert.rejects(
    retryWhile(() => Promise.reject(failure(grpc.status.UNAVAILABLE)), {
      ...noWait,
      onRetry: (_err, failures) => {
        if (failures === 3) throw giveUp;
      },
    }),
    (err) => err === giveUp,
  );

  let stop = false;
  calls = 0;
  await assert.rejects(
    retryWhile(
      async () => {
        if (++calls === 2) stop = true;
        throw failure(grpc.status.INTERNAL);
      },
      { ...noWait, stopped: () => stop },
    ),
    RetryStopped,
  );
  assert.equal(calls, 2, 'no try after stopped');
});
