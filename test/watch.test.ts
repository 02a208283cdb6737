/**
 * Watch streams against a real `dlphys-coord` on 127.0.0.1: the replay from since_id 0, then live
 * events in id order until cancelled, and a later watch from the last id seen; a long replay is
 * paged with backpressure (memory stays bounded, Status stays fast), a client that never reads is
 * dropped with RESOURCE_EXHAUSTED saying why, and the number of streams is bounded, a cancelled
 * one giving its slot back.
 */
import * as grpc from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import { test } from 'node:test';
import { Store } from '../coordinator/store/index.js';
import { connect, unary } from '../proto/client.js';
import type { Event__Output } from '../proto/generated/dlphys/Event.js';
import { dlphysProto, type CoordinatorClient } from '../proto/load.js';
import { serveSweep, startCoordinator, tinySweep, waitFor, within, withCluster, workspace } from './cluster.js';
import { as, keepAlive, register, withClient } from './fake_agent_fixtures.js';

const EVENTS = 20_000;
const READERS = 5;
const NON_READERS = 45;

const procMb = (pid: number, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** A database at the current schema holding `n` lifecycle events (none compacted away). */
function prefill(db: string, n: number): void {
  Store.open(db).close();
  const conn = new Database(db);
  const insert = conn.prepare(`INSERT INTO events (time, type, sweep, run_id, agent_id, data_json) VALUES (?, 'run_started', 'w', ?, 'host-1', ?)`);
  conn.transaction(() => {
    for (let i = 0; i < n; i++) insert.run(1_700_000_000_000 + i, `w/r${i % 100}`, JSON.stringify({ attempt: 1, filler: 'x'.repeat(100) }));
  })();
  conn.close();
}

/** A Watch stream that is never read: a raw HTTP/2 stream (a grpc-js client reads whatever arrives). */
function nonReader(session: http2.ClientHttp2Session): http2.ClientHttp2Stream {
  const req = session.request({ ':method': 'POST', ':path': '/dlphys.Coordinator/Watch', 'content-type': 'application/grpc', te: 'trailers' });
  req.on('error', () => undefined);
  req.end(Buffer.from([0, 0, 0, 0, 0])); // an empty WatchRequest: since_id 0
  return req;
}

test('50 watchers replaying 20k events: readers get every event in order, non-readers are dropped, memory stays bounded and Status fast', async () => {
  const ws = workspace({});
  prefill(ws.db, EVENTS);
  await withCluster(async (c) => {
    const coord = c.track('coordinator', await startCoordinator(['serve', '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--watch-stall', '2']));
    const pid = coord.child.pid!;
    const status = connect(coord.address);
    await unary(status, 'Status', { sweep: '' });
    const baseline = procMb(pid, 'VmRSS');

    const sessions = Array.from({ length: NON_READERS }, () => http2.connect(`http://${coord.address}`).on('error', () => undefined));
    const silent = sessions.map(nonReader);
    const clients: CoordinatorClient[] = [];
    const got: number[][] = [];
    for (let i = 0; i < READERS; i++) {
      const client = new dlphysProto.Coordinator(coord.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as unknown as CoordinatorClient;
      clients.push(client);
      const ids: number[] = [];
      got.push(ids);
      const stream = client.Watch({ since_id: '0' }, new grpc.Metadata(), { deadline: Date.now() + 120_000 });
      stream.on('data', (e: Event__Output) => ids.push(Number(e.id)));
      stream.on('error', () => undefined);
    }
    try {
      const latencies: number[] = [];
      const dropped = () => (coord.log().match(/ dropped: the client read nothing/g) ?? []).length;
      await within(
        'every reader to get the whole log and every non-reader to be dropped',
        (async () => {
          while (got.some((ids) => ids.length < EVENTS) || dropped() < NON_READERS) {
            const t = performance.now();
            await unary(status, 'Status', { sweep: '' });
            latencies.push(performance.now() - t);
            await new Promise((r) => setTimeout(r, 100));
          }
        })(),
        120_000,
        c.logs,
      );
      for (const ids of got) {
        assert.equal(ids.length, EVENTS);
        assert.ok(ids.every((id, i) => id === i + 1), 'every event once, in id order');
      }
      const growth = procMb(pid, 'VmHWM') - baseline;
      // Replaying the whole log into each stream's buffer took ~1 GB here; a paged replay holds a few pages.
      assert.ok(growth < 150, `the coordinator grew by ${growth.toFixed(0)} MB while 50 streams replayed`);
      assert.ok(Math.max(...latencies) < 2000, `Status took up to ${Math.max(...latencies).toFixed(0)} ms during the replay`);

      // A dropped client that reads at last gets what was sent, then the status saying why.
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => silent[0]!.on('trailers', resolve));
      silent[0]!.resume();
      const t = await within('the dropped stream to end with its status', trailers, 10_000, c.logs);
      assert.equal(t['grpc-status'], String(grpc.status.RESOURCE_EXHAUSTED));
      assert.match(decodeURIComponent(String(t['grpc-message'])), /^watch: dropped: the client read nothing for 2 s .*watch again with since_id \d+$/);
    } finally {
      for (const s of sessions) s.destroy();
      for (const client of clients) client.close();
      status.close();
    }
  });
});

test('watch streams are bounded: one more is refused with RESOURCE_EXHAUSTED, and a cancelled one frees its slot', async () => {
  const ws = workspace(tinySweep({ name: 'bound', runs: 1 }));
  await withCluster(async (c) => {
    const coord = c.track('coordinator', await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--watch-max', '2']));
    const conn = connect(coord.address);
    /** Opens a stream; resolves with it once it replays the first event, or with its error. */
    const open = () =>
      new Promise<grpc.ClientReadableStream<Event__Output> | grpc.ServiceError>((resolve) => {
        const s = conn.client.Watch({ since_id: '0' }, conn.metadata, { deadline: Date.now() + 60_000 });
        s.once('data', () => resolve(s));
        s.on('error', (err: grpc.ServiceError) => resolve(err));
      });
    try {
      const first = await open();
      const second = await open();
      assert.ok(!(first instanceof Error) && !(second instanceof Error), 'two streams are served');
      const third = await open();
      assert.ok(third instanceof Error);
      assert.equal((third as grpc.ServiceError).code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match((third as grpc.ServiceError).details, /2 watch streams are open already.*--watch-max/);

      (first as grpc.ClientReadableStream<Event__Output>).cancel();
      // The server learns of the cancel a moment later: ask until a stream is served.
      let again = await open();
      for (const deadline = Date.now() + 10_000; again instanceof Error && Date.now() < deadline; ) {
        assert.equal(again.code, grpc.status.RESOURCE_EXHAUSTED, again.details);
        await new Promise((r) => setTimeout(r, 50));
        again = await open();
      }
      assert.ok(!(again instanceof Error), 'a new stream is served once one was cancelled');
      (again as grpc.ClientReadableStream<Event__Output>).cancel();
      (second as grpc.ClientReadableStream<Event__Output>).cancel();
    } finally {
      conn.close();
    }
  });
});

test('Watch replays the events from since_id 0, then streams new ones as they happen, until cancelled', async (t) => {
  const ws = workspace(tinySweep({ name: 'watch', runs: 2, steps: 30 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    await withClient(coord.address, {}, async (conn) => {
      const events: Event__Output[] = [];
      const stream = conn.client.Watch({ since_id: '0' }, conn.metadata, { deadline: Date.now() + 60_000 });
      stream.on('data', (e: Event__Output) => events.push(e));
      const ended = new Promise<grpc.StatusObject | grpc.ServiceError>((resolve) => {
        stream.on('error', resolve);
        stream.on('status', resolve);
      });
      const seen = (type: string, runId = '') => events.find((e) => e.type === type && (!runId || e.run_id === runId));

      // The replay: what happened before the stream was opened.
      const submitted = await waitFor('the replayed sweep_submitted event', () => seen('sweep_submitted'), 15_000, c.logs);
      assert.equal(submitted.sweep, 'watch');
      assert.equal(submitted.id, '1');
      assert.equal(JSON.parse(submitted.data_json).runs, 2);

      // Then live events.
      await register(conn, 'fake');
      const [leased] = (await unary(as('fake'), 'Lease', { agent_id: 'fake', max_runs: 1 })).runs;
      const stopHeartbeats = keepAlive(as('fake'), 'fake', [leased!.run!]);
      t.after(stopHeartbeats);
      const registered = await waitFor('a live agent_registered event', () => seen('agent_registered'), 15_000, c.logs);
      assert.equal(registered.agent_id, 'fake');
      const leasedEvent = await waitFor('a live run_leased event', () => seen('run_leased', leased!.run!.run_id), 15_000, c.logs);
      assert.equal(leasedEvent.agent_id, 'fake');
      assert.equal(JSON.parse(leasedEvent.data_json).attempt, 1);
      const ids = events.map((e) => Number(e.id));
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'in id order');
      assert.equal(new Set(ids).size, ids.length, 'each event once');
      assert.deepEqual(
        events.map((e) => e.type),
        ['sweep_submitted', 'agent_registered', 'run_leased'],
      );

      stream.cancel();
      const status = await within('the cancelled stream to end', ended, 10_000, c.logs);
      assert.equal(status.code, grpc.status.CANCELLED);
      const count = events.length;

      // A later watch from the last id seen gets only what came after it.
      await unary(as('fake'), 'StartRun', { run: leased!.run!, agent_id: 'fake' });
      const later: Event__Output[] = [];
      const again = conn.client.Watch({ since_id: leasedEvent.id }, conn.metadata, { deadline: Date.now() + 60_000 });
      again.on('data', (e: Event__Output) => later.push(e));
      again.on('error', () => undefined);
      await waitFor('the run_started event on a second watch', () => later.some((e) => e.type === 'run_started'), 15_000, c.logs);
      assert.deepEqual(
        later.map((e) => e.type),
        ['run_started'],
      );
      again.cancel();
      stopHeartbeats();
      assert.equal(events.length, count, 'the cancelled stream received nothing more');
    });

    // No watcher is left holding the coordinator: it shuts down promptly on SIGTERM.
    coord.kill('SIGTERM');
    assert.equal(await within('the coordinator to shut down', coord.exited, 15_000, c.logs), 0, c.logs());
  });
});
