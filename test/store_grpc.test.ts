/**
 * The store's behaviours (test/store_*.test.ts) again, through a real coordinator's gRPC API on
 * 127.0.0.1: lease, heartbeat, metrics ack, a report after the run folder landed, cancel, retry
 * and the status counts, so the mapping of the store's answers to the wire (status_wire.ts,
 * server.ts) is covered too.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CoordinatorServer } from '../coordinator/server.js';
import { Store, type ExpandedSweep } from '../coordinator/store/index.js';
import { connect, unary, type Connection } from '../proto/client.js';
import type { RunRef } from '../proto/generated/dlphys/RunRef.js';
import type { UploadChunk } from '../proto/generated/dlphys/UploadChunk.js';
import type { UploadReply__Output } from '../proto/generated/dlphys/UploadReply.js';
import { AGENT_SECRET_KEY, PROTOCOL_VERSION } from '../proto/wire.js';

/** Long enough that no lease expires while a test runs: expiry is store_runs.test.ts's to drive. */
const TTL = 60_000;

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dlphys-store-grpc-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));

interface Coord {
  store: Store;
  runsDir: string;
  /** A client without an agent's secret (a user's). */
  user: Connection;
  /** Registers a fake agent; returns its connection, which carries its secret. */
  register(agentId: string): Promise<Connection>;
}

/** An in-process coordinator on a fresh database, listening on 127.0.0.1 port 0, closed after fn. */
async function withCoordinator(fn: (c: Coord) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(root, 't-'));
  const runsDir = path.join(dir, 'runs');
  fs.mkdirSync(runsDir);
  const store = Store.open(path.join(dir, 'dlphys.db'));
  const logs: string[] = [];
  const server = new CoordinatorServer({ store, runsDir, leaseTtlMs: TTL, maxFileBytes: 1 << 20, maxUploadBytes: 1 << 20, log: (l) => logs.push(l) });
  const port = await server.listen('127.0.0.1', 0);
  const conns: Connection[] = [];
  const open = () => {
    const conn = connect(`127.0.0.1:${port}`);
    conns.push(conn);
    return conn;
  };
  const register = async (agentId: string): Promise<Connection> => {
    const conn = open();
    const reply = await unary(conn, 'Register', { agent_id: agentId, host: `host-${agentId}`, gpus: ['0'], slots: 2, version: 'test', backend: 'cpu', protocol: PROTOCOL_VERSION });
    conn.metadata.set(AGENT_SECRET_KEY, reply.agent_secret);
    return conn;
  };
  try {
    await fn({ store, runsDir, user: open(), register });
  } catch (err) {
    (err as Error).message += `\n--- coordinator log ---\n${logs.join('\n')}`;
    throw err;
  } finally {
    for (const c of conns) c.close();
    await server.close();
    store.close();
  }
}

/** An expanded sweep of n runs named lr=0.., as `dlphys-coord sweep` submits it. */
function sweep(name: string, n: number): ExpandedSweep {
  return {
    name,
    kind: 'native',
    method: 'grid',
    metric: { name: 'val_loss', goal: 'min' },
    spec: { method: 'grid', parameters: { lr: { values: Array.from({ length: n }, (_, i) => i) } } },
    specHash: createHash('sha256').update(name).digest('hex'),
    runs: Array.from({ length: n }, (_, i) => ({ index: i, name: `lr=${i}`, params: { lr: i }, config: { name: `lr=${i}`, seed: i } as unknown as ExpandedSweep['runs'][number]['config'] })),
    warnings: [],
  };
}

async function submit(c: Coord, s: ExpandedSweep): Promise<void> {
  const reply = await unary(c.user, 'SubmitSweep', { sweep_json: JSON.stringify(s) });
  assert.deepEqual(reply, { sweep: s.name, runs: s.runs.length, existed: false });
}

async function lease(conn: Connection, agentId: string, max: number): Promise<RunRef[]> {
  return (await unary(conn, 'Lease', { agent_id: agentId, max_runs: max })).runs.map((r) => r.run!);
}

function line(step: number): string {
  return JSON.stringify({ step, epoch: 0, split: 'train', loss: 1 / (step + 1) });
}

/** Uploads a run folder holding summary.json (the landing a report of a finished run needs). */
function uploadSummary(conn: Connection, run: RunRef, agentId: string, summary = '{"status":"completed"}'): Promise<UploadReply__Output> {
  const data = Buffer.from(summary);
  const chunks: UploadChunk[] = [
    { header: { run, agent_id: agentId } },
    { file: { path: 'summary.json', size: data.length } },
    { data },
    { end: { sha256: createHash('sha256').update(data).digest('hex') } },
  ];
  return new Promise((resolve, reject) => {
    const call = conn.client.Upload(conn.metadata, { deadline: Date.now() + 15_000 }, (err, reply) => (err ? reject(err) : resolve(reply!)));
    call.on('error', () => undefined); // the status arrives through the callback
    for (const chunk of chunks) call.write(chunk);
    call.end();
  });
}

async function refused(what: string, call: Promise<unknown>, code: grpc.status, details?: RegExp): Promise<void> {
  await assert.rejects(call, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, `${what}: expected ${grpc.status[code]}, got ${grpc.status[err.code]} (${err.details})`);
    if (details) assert.match(err.details, details, what);
    return true;
  });
}

const ALL_ZERO = { queued: 0, leased: 0, running: 0, completed: 0, diverged: 0, failed: 0, cancelled: 0, early_stopped: 0 };

test('through gRPC: lease order, heartbeat, metrics ack, a report after landing, and the status counts', async () => {
  await withCoordinator(async (c) => {
    await submit(c, sweep('old', 3));
    await new Promise((r) => setTimeout(r, 5)); // created_at orders the sweeps
    await submit(c, sweep('new', 2));
    const a1 = await c.register('a1');
    const a2 = await c.register('a2');

    // Lease: the oldest sweep first, then by index; attempts count from 1.
    await refused('a lease for an unregistered agent', unary(c.user, 'Lease', { agent_id: 'nobody', max_runs: 1 }), grpc.status.NOT_FOUND);
    const first = await unary(a1, 'Lease', { agent_id: 'a1', max_runs: 2 });
    assert.deepEqual(first.runs.map((r) => [r.run!.run_id, r.run!.attempt]), [['old/lr=0', 1], ['old/lr=1', 1]]);
    assert.equal(first.runs[0]!.sweep, 'old');
    assert.equal(first.runs[0]!.name, 'lr=0');
    assert.deepEqual(JSON.parse(first.runs[0]!.config_json), { name: 'lr=0', seed: 0 });
    const [r0, r1] = first.runs.map((r) => r.run!);
    assert.deepEqual((await lease(a2, 'a2', 10)).map((r) => r.run_id), ['old/lr=2', 'new/lr=0', 'new/lr=1']);
    const none = await unary(a2, 'Lease', { agent_id: 'a2', max_runs: 10 });
    assert.deepEqual(none.runs, []);
    assert.equal(none.unfinished, 5);

    // Heartbeat: held leases renewed; others' and unknown attempts lost; cancelled ones named.
    await unary(a1, 'StartRun', { run: r0, agent_id: 'a1' });
    assert.deepEqual(await unary(c.user, 'Cancel', { target: r1!.run_id }), { affected: 1 });
    const beat = await unary(a1, 'Heartbeat', { agent_id: 'a1', runs: [r0!, r1!, { run_id: 'old/lr=2', attempt: 1 }, { run_id: 'nope/x', attempt: 1 }] });
    assert.deepEqual(beat.cancel, [r1]);
    assert.deepEqual(beat.lost, [{ run_id: 'old/lr=2', attempt: 1 }, { run_id: 'nope/x', attempt: 1 }]);

    // Metrics: the ack is the contiguous prefix of seqs; resends change nothing.
    const rows = (seqs: number[]) => seqs.map((seq) => ({ seq: String(seq), line: line(seq * 10) }));
    const send = async (seqs: number[]) => (await unary(a1, 'ReportMetrics', { run: r0, agent_id: 'a1', rows: rows(seqs) })).acked_seq;
    assert.equal(await send([1, 2, 3]), '3');
    assert.equal(await send([5, 6]), '3', 'a gap holds the ack back');
    assert.equal(await send([1, 2, 3]), '3', 'a resend changes nothing');
    assert.equal(await send([4]), '6', 'filling the gap acks what was after it');
    await refused('seq 0', send([0]), grpc.status.INVALID_ARGUMENT);
    assert.equal(c.store.metricsOf(r0!.run_id).length, 6);

    // A finished run's report needs its folder landed first.
    const completed = { run: r0, agent_id: 'a1', status: 'completed', summary_json: '{"status":"completed"}', error: '' };
    await refused('a report before landing', unary(a1, 'Report', completed), grpc.status.ABORTED, /has not landed/);
    assert.deepEqual(await uploadSummary(a1, r0!, 'a1'), { files: 1, bytes: '22' });
    assert.ok(fs.existsSync(path.join(c.runsDir, 'old', 'lr=0', 'summary.json')));
    await unary(a1, 'Report', completed);
    await unary(a1, 'Report', completed); // the same report again (a lost reply) is answered alike
    await refused('a report of a stale attempt', unary(a1, 'Report', { ...completed, run: { ...r0!, attempt: 2 } }), grpc.status.FAILED_PRECONDITION, /stale attempt/);
    await unary(a1, 'Report', { run: r1, agent_id: 'a1', status: 'handback', summary_json: '', error: '' });
    await refused('an unknown report status', unary(a2, 'Report', { run: { run_id: 'old/lr=2', attempt: 1 }, agent_id: 'a2', status: 'done', summary_json: '', error: '' }), grpc.status.INVALID_ARGUMENT);
    await uploadSummary(a2, { run_id: 'new/lr=0', attempt: 1 }, 'a2', '{"status":"diverged"}');
    await unary(a2, 'Report', { run: { run_id: 'new/lr=0', attempt: 1 }, agent_id: 'a2', status: 'diverged', summary_json: '{}', error: 'loss is NaN' });

    // Status, mapped to the wire.
    const st = await unary(c.user, 'Status', { sweep: '' });
    assert.deepEqual(
      st.sweeps.map((s) => [s.name, s.total, s.states, s.metric, s.goal]),
      [
        ['old', 3, { ...ALL_ZERO, leased: 1, completed: 1, cancelled: 1 }, 'val_loss', 'min'],
        ['new', 2, { ...ALL_ZERO, leased: 1, diverged: 1 }, 'val_loss', 'min'],
      ],
    );
    assert.ok(new Date(st.sweeps[0]!.created_at).getTime() > 0, 'created_at is an ISO time');
    assert.deepEqual(
      st.agents.map((a) => [a.id, a.host, a.gpus, a.slots, a.alive, a.running, a.state, a.quarantined_until, a.lost_runs]),
      [
        ['a1', 'host-a1', ['0'], 2, true, 0, 'alive', '', 0],
        ['a2', 'host-a2', ['0'], 2, true, 2, 'alive', '', 0],
      ],
    );
    assert.ok(st.agents[0]!.last_heartbeat.endsWith('Z'));
    const runs = Object.fromEntries(st.runs.map((r) => [r.id, r]));
    assert.deepEqual(Object.keys(runs), ['old/lr=0', 'old/lr=1', 'old/lr=2', 'new/lr=0', 'new/lr=1']);
    assert.deepEqual(
      [runs['old/lr=0'], runs['old/lr=1'], runs['new/lr=0']].map((r) => [r!.state, r!.attempt, r!.agent_id, r!.summary_json, r!.error, r!.lost_attempts]),
      [
        ['completed', 1, 'a1', '{"status":"completed"}', '', 0],
        ['cancelled', 1, 'a1', '', '', 0],
        ['diverged', 1, 'a2', '{}', 'loss is NaN', 0],
      ],
    );
    assert.deepEqual(JSON.parse(runs['old/lr=2']!.params_json), { lr: 2 });
    assert.equal(st.coordinator?.disk_full, false);
    const old = await unary(c.user, 'Status', { sweep: 'old' });
    assert.deepEqual(old.sweeps.map((s) => s.name), ['old']);
    assert.deepEqual(old.runs.map((r) => r.state), ['completed', 'cancelled', 'leased']);
    await refused('status of an unknown sweep', unary(c.user, 'Status', { sweep: 'nope' }), grpc.status.NOT_FOUND);
    // What went over the wire is what the store says.
    assert.deepEqual(old.runs, c.store.status('old', TTL).runs);

    // Goodbye: shown as left at once.
    await unary(a1, 'Goodbye', { agent_id: 'a1' });
    const a1Row = (await unary(c.user, 'Status', { sweep: '' })).agents.find((a) => a.id === 'a1')!;
    assert.deepEqual([a1Row.alive, a1Row.state], [false, 'left']);
  });
});

test('through gRPC: cancel and retry, and a cancelled run reported stopped or handed back stays cancelled', async () => {
  await withCoordinator(async (c) => {
    await submit(c, sweep('s', 4));
    const a1 = await c.register('a1');
    const [r0, r1] = await lease(a1, 'a1', 2);

    // A failed report needs no landing; a queued run is cancelled at once.
    await unary(a1, 'Report', { run: r0, agent_id: 'a1', status: 'failed', summary_json: '', error: 'boom' });
    await refused('cancel of nothing', unary(c.user, 'Cancel', { target: 'nothing' }), grpc.status.NOT_FOUND);
    assert.deepEqual(await unary(c.user, 'Cancel', { target: 's/lr=2' }), { affected: 1 });
    assert.deepEqual(await unary(c.user, 'Cancel', { target: 's/lr=2' }), { affected: 0 }, 'cancelling again changes nothing');
    let st = await unary(c.user, 'Status', { sweep: 's' });
    assert.deepEqual(st.sweeps[0]!.states, { ...ALL_ZERO, queued: 1, leased: 1, failed: 1, cancelled: 1 });
    assert.equal(st.runs[0]!.error, 'boom');

    // Retry: failed and cancelled runs are queued again; the attempt counter is kept.
    await refused('retry of nothing', unary(c.user, 'Retry', { target: 's/none' }), grpc.status.NOT_FOUND);
    assert.deepEqual(await unary(c.user, 'Retry', { target: 's' }), { affected: 2 });
    assert.deepEqual(await unary(c.user, 'Retry', { target: 's' }), { affected: 0 });
    st = await unary(c.user, 'Status', { sweep: 's' });
    assert.deepEqual(st.runs.map((r) => [r.id, r.state, r.attempt, r.error]), [
      ['s/lr=0', 'queued', 1, ''],
      ['s/lr=1', 'leased', 1, ''],
      ['s/lr=2', 'queued', 0, ''],
      ['s/lr=3', 'queued', 0, ''],
    ]);
    const again = await lease(a1, 'a1', 5);
    assert.deepEqual(again.map((r) => [r.run_id, r.attempt]), [['s/lr=0', 2], ['s/lr=2', 1], ['s/lr=3', 1]]);

    // Cancel the sweep: every held run is asked to stop; the agent hears it at its heartbeat.
    assert.deepEqual(await unary(c.user, 'Cancel', { target: 's' }), { affected: 4 });
    const held = [r1!, ...again];
    const beat = await unary(a1, 'Heartbeat', { agent_id: 'a1', runs: held });
    assert.deepEqual(beat.cancel, held);
    assert.deepEqual(beat.lost, []);
    // stopped -> cancelled (after landing); handback of a cancelled run -> cancelled, not queued.
    await uploadSummary(a1, r1!, 'a1', '{"status":"stopped"}');
    await unary(a1, 'Report', { run: r1, agent_id: 'a1', status: 'stopped', summary_json: '{"status":"stopped"}', error: '' });
    for (const r of again) await unary(a1, 'Report', { run: r, agent_id: 'a1', status: 'handback', summary_json: '', error: '' });
    st = await unary(c.user, 'Status', { sweep: 's' });
    assert.deepEqual(st.sweeps[0]!.states, { ...ALL_ZERO, cancelled: 4 });
    const after = await unary(a1, 'Lease', { agent_id: 'a1', max_runs: 4 });
    assert.deepEqual([after.runs, after.unfinished], [[], 0]);
    // Retry once more: all four back in the queue.
    assert.deepEqual(await unary(c.user, 'Retry', { target: 's' }), { affected: 4 });
    assert.deepEqual((await unary(c.user, 'Status', { sweep: 's' })).sweeps[0]!.states, { ...ALL_ZERO, queued: 4 });
  });
});
