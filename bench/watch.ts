/**
 * Many Watch streams replaying a long event log, against a real `dlphys-coord serve` on
 * 127.0.0.1: what the coordinator's memory peaks at, and how long Status takes meanwhile.
 *   1. a database pre-filled with --events lifecycle events (none of them compacted away, so
 *      every stream replays all of them);
 *   2. --watchers streams from since_id 0: --readers of them read everything, the others never
 *      read (they stall, and are dropped after --stall seconds);
 *   3. Status every 100 ms until every reader has the whole log and the others are dropped
 *      (or --timeout).
 * Prints the coordinator's peak RSS (VmHWM from /proc), Status latency quantiles, the replay
 * rate and how the streams ended; one JSON line at the end.
 * Usage: npm run bench:watch [-- --events 100000 --watchers 1000 --readers 100 --stall 30]
 */
import * as grpc from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import { scriptArgs } from '../lib/cli/flags.js';
import { Store } from '../coordinator/store/index.js';
import { connect, unary, type Connection } from '../proto/client.js';
import { dlphysProto, type CoordinatorClient } from '../proto/load.js';
import { startCoordinator, workspace } from '../test/cluster.js';

const args = scriptArgs({ events: 100000, watchers: 1000, readers: 100, stall: 30, timeout: 300, 'per-connection': 10 });
const nEvents = args.events;
const nWatchers = args.watchers;
const nReaders = Math.min(nWatchers, args.readers);
const perConnection = args['per-connection'];

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;
const procKb = (pid: number, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

/** A database at the current schema with `n` events of a 1000-run sweep's lifecycle. */
function prefill(db: string, n: number): void {
  Store.open(db).close();
  const conn = new Database(db);
  const insert = conn.prepare('INSERT INTO events (time, type, sweep, run_id, agent_id, data_json) VALUES (?, ?, ?, ?, ?, ?)');
  const types = ['run_leased', 'run_started', 'run_finished', 'run_requeued'];
  conn.transaction(() => {
    const t0 = Date.now() - n;
    for (let i = 0; i < n; i++) {
      const run = `bench/r${String(i % 1000).padStart(4, '0')}`;
      insert.run(t0 + i, types[i % types.length], 'bench', run, `host-${i % 16}`, JSON.stringify({ attempt: 1 + Math.floor(i / 4000), state: 'completed', status: 'completed' }));
    }
  })();
  conn.close();
}

async function main(): Promise<void> {
  const ws = workspace({});
  prefill(ws.db, nEvents);
  const coord = await startCoordinator([
    'serve', '--port', '0', '--db', ws.db, '--runs-dir', path.join(ws.dir, 'runs'),
    '--watch-max', String(nWatchers), '--watch-stall', String(args.stall),
  ]);
  const pid = coord.child.pid!;
  const status = connect(coord.address);
  await unary(status, 'Status', { sweep: '' }, 60_000); // warm-up: the first call compiles the path
  const idleRssMb = procKb(pid, 'VmRSS') / 1024;
  const connections: Connection[] = [];
  const sessions: http2.ClientHttp2Session[] = [];
  const ended = { ok: 0, other: 0 };
  const endings: Promise<void>[] = [];
  let readersDone = 0;
  let received = 0;
  let allRead = 0;
  const t0 = performance.now();
  for (let i = 0; i < nWatchers; i++) {
    if (i >= nReaders) {
      // A grpc-js client reads whatever arrives into its own memory, read or not, so a reader
      // that never reads is a raw HTTP/2 stream that is never read: flow control then stops
      // the coordinator's writes, as with a hung dashboard.
      const k = Math.floor((i - nReaders) / perConnection);
      if (!sessions[k]) sessions[k] = http2.connect(`http://${coord.address}`).on('error', () => undefined);
      const req = sessions[k]!.request({ ':method': 'POST', ':path': '/dlphys.Coordinator/Watch', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => undefined);
      req.end(Buffer.from([0, 0, 0, 0, 0])); // one empty WatchRequest: since_id 0
      continue;
    }
    // A reader: a grpc-js client of its own (not grpc-js's shared subchannel pool), its own TCP connection.
    const client = new dlphysProto.Coordinator(coord.address, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
    }) as unknown as CoordinatorClient;
    connections.push({ address: coord.address, client, metadata: new grpc.Metadata(), close: () => client.close() });
    const stream = client.Watch({ since_id: '0' }, new grpc.Metadata(), { deadline: Date.now() + args.timeout * 1000 });
    let mine = 0;
    stream.on('data', () => {
      received++;
      if (++mine === nEvents && ++readersDone === nReaders) allRead = performance.now();
    });
    endings.push(
      new Promise<void>((resolve) => {
        let counted = false;
        const done = (s: { code: number }) => {
          if (counted) return;
          counted = true;
          if (s.code === grpc.status.OK) ended.ok++;
          else ended.other++;
          resolve();
        };
        stream.on('error', done);
        stream.on('status', done);
      }),
    );
  }

  const latencies: number[] = [];
  const deadline = Date.now() + args.timeout * 1000;
  const droppedSoFar = () => (coord.log().match(/ dropped: /g) ?? []).length;
  // Until the readers have everything and the others have been dropped for not reading.
  while ((readersDone < nReaders || droppedSoFar() < nWatchers - nReaders) && Date.now() < deadline) {
    const s = performance.now();
    await unary(status, 'Status', { sweep: '' }, 60_000);
    latencies.push(performance.now() - s);
    await new Promise((r) => setTimeout(r, 100));
  }
  const peakRssMb = procKb(pid, 'VmHWM') / 1024;
  const replaySec = ((allRead || performance.now()) - t0) / 1000;
  const figures = {
    events: nEvents,
    watchers: nWatchers,
    readers: nReaders,
    readers_done: readersDone,
    coordinator_idle_rss_mb: Math.round(idleRssMb),
    coordinator_peak_rss_mb: Math.round(peakRssMb),
    status_calls: latencies.length,
    status_p50_ms: Math.round(quantile(latencies, 0.5) * 10) / 10,
    status_p99_ms: Math.round(quantile(latencies, 0.99) * 10) / 10,
    status_max_ms: Math.round(Math.max(...latencies) * 10) / 10,
    replay_s: Math.round(replaySec * 10) / 10,
    events_per_s: Math.round(received / replaySec),
  };
  const dropped = droppedSoFar();
  if (process.env.BENCH_LOG) console.error(coord.log());
  coord.kill('SIGTERM');
  await Promise.race([Promise.all(endings), new Promise((r) => setTimeout(r, 10_000))]);
  await coord.exited;
  for (const c of connections) c.close();
  for (const s of sessions) s.destroy();
  status.close();
  console.log(`coordinator RSS: ${figures.coordinator_idle_rss_mb} MB idle, peak ${figures.coordinator_peak_rss_mb} MB (VmHWM)`);
  console.log(`Status while replaying: p50 ${figures.status_p50_ms} ms, p99 ${figures.status_p99_ms} ms, max ${figures.status_max_ms} ms over ${figures.status_calls} calls`);
  console.log(`${readersDone}/${nReaders} readers got all ${nEvents} events in ${figures.replay_s} s (${figures.events_per_s} events/s sent)`);
  console.log(`non-reading streams dropped after --stall ${args.stall} s: ${dropped} of ${nWatchers - nReaders}; readers' streams ended: ${JSON.stringify(ended)}`);
  console.log(JSON.stringify({ bench: 'watch', ...figures, non_readers_dropped: dropped }));
  fs.rmSync(ws.dir, { recursive: true, force: true });
}

await main();
