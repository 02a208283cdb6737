/**
 * The coordinator source against a fake coordinator served in-process (Status, Watch, RunDetail):
 * Status and the event replay on start, live events after; a broken stream and a coordinator
 * restart reported as reconnecting, resumed from the last event without duplicates, live again;
 * a stream's deadline resumed silently; finished sweeps' runs asked for once; the token sent.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type { Event } from '../proto/generated/dlphys/Event.js';
import type { StatusRequest__Output } from '../proto/generated/dlphys/StatusRequest.js';
import type { WatchRequest__Output } from '../proto/generated/dlphys/WatchRequest.js';
import type { RunDetailRequest__Output } from '../proto/generated/dlphys/RunDetailRequest.js';
import { dlphysProto } from '../proto/load.js';
import type { ConnectionState, DashEvent, StatusSnapshot } from '../tui/source.js';
import { coordinatorSource, type CoordinatorSourceOptions } from '../tui/sources/coordinator.js';
import { event, run, snapshot, sweep } from './dash_fixtures.js';
import { waitFor } from './cluster.js';

type WatchCall = grpc.ServerWritableStream<WatchRequest__Output, Event>;

/** A coordinator that answers Status from `status`, streams `events`, and records what it was asked. */
class FakeCoordinator {
  events: DashEvent[] = [];
  status: StatusSnapshot = snapshot([sweep('live', { running: 1 }), sweep('old', { completed: 1 })], [], [run('live', 'r0', 'running', { lr: 1 })]);
  readonly statusAsked: string[] = [];
  readonly watchedFrom: number[] = [];
  readonly tokens: string[] = [];
  readonly streams = new Set<WatchCall>();
  detail = true;
  server: grpc.Server | null = null;
  port = 0;

  async start(port = 0): Promise<void> {
    const server = new grpc.Server();
    const handlers: grpc.UntypedServiceImplementation = {
      Status: (call: grpc.ServerUnaryCall<StatusRequest__Output, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        this.tokens.push(String(call.metadata.get('authorization')[0] ?? ''));
        this.statusAsked.push(call.request.sweep);
        if (call.request.sweep === 'old') return cb(null, { ...this.status, runs: [run('old', 'r9', 'completed', { lr: 2 })] });
        if (call.request.sweep) return cb({ code: grpc.status.NOT_FOUND, details: `no sweep named ${call.request.sweep}` });
        cb(null, this.status);
      },
      Watch: (call: WatchCall) => {
        const since = Number(call.request.since_id);
        this.watchedFrom.push(since);
        for (const e of this.events) if (Number(e.id) > since) call.write(e);
        this.streams.add(call);
        call.on('cancelled', () => this.streams.delete(call));
      },
      RunDetail: (call: grpc.ServerUnaryCall<RunDetailRequest__Output, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        if (!this.detail) return cb({ code: grpc.status.UNIMPLEMENTED, details: 'unimplemented' });
        cb(null, { run: null, config_json: '{"train":{"steps":7}}', metric_lines: ['{"step":1,"loss":1}'], log_tail: [`log of ${call.request.run_id}`].slice(-call.request.log_lines) });
      },
    };
    server.addService(dlphysProto.Coordinator.service, handlers);
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.server = server;
  }

  /** A new event, written to every open stream. */
  push(type: string, f: Parameters<typeof event>[3] = {}): DashEvent {
    const e = event(this.events.length + 1, type, this.events.length, f);
    this.events.push(e);
    for (const s of this.streams) s.write(e);
    return e;
  }

  /** Ends every stream with `code`, as a coordinator in trouble would. */
  breakStreams(code: grpc.status, details: string): void {
    for (const s of this.streams) s.emit('error', Object.assign(new Error(details), { code, details }));
    this.streams.clear();
  }

  stop(): void {
    this.server?.forceShutdown();
    this.server = null;
    this.streams.clear();
  }
}

/** What the sink heard. */
class Heard {
  readonly states: ConnectionState[] = [];
  readonly events: DashEvent[] = [];
  readonly snapshots: StatusSnapshot[] = [];
  readonly sink = {
    status: (s: StatusSnapshot) => this.snapshots.push(s),
    events: (e: DashEvent[]) => this.events.push(...e),
    connection: (c: ConnectionState) => this.states.push(c),
  };
  ids(): number[] {
    return this.events.map((e) => Number(e.id));
  }
  get state(): string {
    return this.states.at(-1)?.state ?? '';
  }
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

const FAST: CoordinatorSourceOptions = { statusEveryMs: 200, retryInitialMs: 50, retryMaxMs: 200 };

async function setup(options: CoordinatorSourceOptions = FAST, token?: string) {
  const fake = new FakeCoordinator();
  await fake.start();
  fake.push('sweep_submitted', { sweep: 'live' });
  fake.push('run_leased', { sweep: 'live', run: 'live/r0', data: { attempt: 1 } });
  const source = coordinatorSource(`127.0.0.1:${fake.port}`, { token }, options);
  const heard = new Heard();
  const stop = source.start(heard.sink);
  cleanups.push(() => fake.stop(), () => source.close(), stop);
  await waitFor('live', () => heard.state === 'live', 10_000);
  return { fake, source, heard, stop };
}

test('on start: connecting, a snapshot, the events replayed, live; then live events, each once, in order', async () => {
  const { fake, heard } = await setup();
  assert.equal(heard.states[0]!.state, 'connecting');
  await waitFor('the replay', () => heard.events.length === 2, 5000);
  assert.deepEqual(fake.watchedFrom, [0]);
  fake.push('run_started', { sweep: 'live', run: 'live/r0', data: { attempt: 1 } });
  fake.push('metrics', { sweep: 'live', run: 'live/r0', data: { attempt: 1, last: { step: 1, loss: 1 } } });
  await waitFor('live events', () => heard.events.length === 4, 5000);
  assert.deepEqual(heard.ids(), [1, 2, 3, 4]);
  assert.equal(heard.snapshots[0]!.sweeps.length, 2);
});

test('a finished sweep\'s runs are asked for once and kept with the live ones, in the sweeps\' order', async () => {
  const { fake, heard } = await setup();
  await waitFor('two snapshots', () => heard.snapshots.length >= 3, 5000);
  assert.deepEqual(
    heard.snapshots.at(-1)!.runs.map((r) => r.id),
    ['live/r0', 'old/r9'],
  );
  assert.equal(fake.statusAsked.filter((s) => s === 'old').length, 1);
});

test('a broken stream: reconnecting with why, then a stream from the last event, no duplicates, live again', async () => {
  const { fake, heard } = await setup();
  await waitFor('the replay', () => heard.events.length === 2, 5000);
  fake.breakStreams(grpc.status.UNAVAILABLE, 'the coordinator is restarting');
  await waitFor('reconnecting', () => heard.states.some((s) => s.state === 'reconnecting'), 5000);
  const reconnecting = heard.states.find((s) => s.state === 'reconnecting') as { reason: string };
  assert.match(reconnecting.reason, /the coordinator is restarting/);
  await waitFor('live again', () => heard.state === 'live' && fake.streams.size === 1, 5000);
  assert.deepEqual(fake.watchedFrom, [0, 2]);
  fake.push('run_started', { sweep: 'live', run: 'live/r0' });
  await waitFor('the new event', () => heard.events.length === 3, 5000);
  assert.deepEqual(heard.ids(), [1, 2, 3]);
});

test('a coordinator restart on the same port: reconnecting while it is down, resumed after, each event once', async () => {
  const { fake, heard } = await setup();
  await waitFor('the replay', () => heard.events.length === 2, 5000);
  const port = fake.port;
  fake.stop();
  await waitFor('reconnecting', () => heard.state === 'reconnecting', 10_000);
  // Events happened while the dashboard was away.
  fake.push('run_started', { sweep: 'live', run: 'live/r0' });
  fake.push('run_finished', { sweep: 'live', run: 'live/r0', data: { attempt: 1, state: 'completed' } });
  await fake.start(port);
  await waitFor('live again', () => heard.state === 'live', 15_000);
  await waitFor('the missed events', () => heard.events.length === 4, 5000);
  assert.deepEqual(heard.ids(), [1, 2, 3, 4]);
  assert.equal(fake.watchedFrom.at(-1), 2);
});

test('a stream that reaches its deadline is reopened from the last event without a word', async () => {
  const { fake, heard } = await setup({ ...FAST, watchRotateMs: 300 });
  await waitFor('two streams', () => fake.watchedFrom.length >= 3, 5000);
  fake.push('run_started', { sweep: 'live', run: 'live/r0' });
  await waitFor('the event', () => heard.events.length === 3, 5000);
  assert.ok(fake.watchedFrom.slice(1).every((id) => id >= 2), String(fake.watchedFrom));
  assert.ok(!heard.states.some((s) => s.state === 'reconnecting'), JSON.stringify(heard.states));
  assert.deepEqual(heard.ids(), [1, 2, 3]);
});

test('an event that changes counts brings a snapshot soon, without waiting for the poll', async () => {
  const { fake, heard } = await setup({ ...FAST, statusEveryMs: 60_000 });
  await waitFor('the replay', () => heard.events.length === 2, 5000);
  // The replayed run_leased brings one refresh of its own: let it pass.
  await new Promise((r) => setTimeout(r, 600));
  const before = heard.snapshots.length;
  fake.push('metrics', { sweep: 'live', run: 'live/r0', data: { attempt: 1, last: { step: 2 } } });
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(heard.snapshots.length, before, 'metrics change no count');
  fake.push('run_finished', { sweep: 'live', run: 'live/r0', data: { attempt: 1, state: 'completed' } });
  await waitFor('a snapshot', () => heard.snapshots.length > before, 3000);
});

test('the token goes with every call; runDetail answers, or says the coordinator has none', async () => {
  const { fake, source } = await setup(FAST, 's3cret');
  assert.ok(fake.tokens.length > 0 && fake.tokens.every((t) => t === 'Bearer s3cret'));
  const d = await source.runDetail('live/r0', 5);
  assert.deepEqual(d.log_tail, ['log of live/r0']);
  fake.detail = false;
  await assert.rejects(source.runDetail('live/r0', 5), /has no RunDetail \(it is older than this dashboard\)/);
});

test('probe: a coordinator that answers is fine; nobody listening rejects with UNAVAILABLE', async () => {
  const { source } = await setup();
  await source.probe();
  const nobody = coordinatorSource('127.0.0.1:1', {}, FAST);
  cleanups.push(() => nobody.close());
  await assert.rejects(nobody.probe(), (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE);
});

test('stop ends the stream and the polls: nothing is heard after it', async () => {
  const { fake, heard, stop } = await setup();
  await waitFor('the replay', () => heard.events.length === 2, 5000);
  stop();
  await waitFor('the server to see the cancel', () => fake.streams.size === 0, 5000);
  const n = heard.snapshots.length;
  fake.push('run_started', { sweep: 'live', run: 'live/r0' });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(heard.snapshots.length, n);
  assert.equal(heard.events.length, 2);
});
