/**
 * Bad and hostile input against a real `dlphys-coord` on 127.0.0.1, driven by a raw gRPC client
 * in the test process (fake agents that send exactly what the test wants): stale attempts,
 * upload paths and sizes, tokens, TLS, and the watch stream.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { uploadFolder } from '../agent/sync_sender.js';
import { connect, unary, type Connection } from '../proto/client.js';
import { COORDINATOR_SERVICE, checkHealth } from '../proto/health.js';
import { AGENT_SECRET_KEY, PROTOCOL_VERSION } from '../proto/wire.js';
import type { Event__Output } from '../proto/generated/dlphys/Event.js';
import type { RunRef } from '../proto/generated/dlphys/RunRef.js';
import type { UploadChunk } from '../proto/generated/dlphys/UploadChunk.js';
import type { UploadReply__Output } from '../proto/generated/dlphys/UploadReply.js';
import {
  query,
  runStates,
  serveSweep,
  startCoordinator,
  startOneSlotAgent,
  tinySweep,
  waitFor,
  withCluster,
  within,
  workspace,
  type Workspace,
} from './cluster.js';
import { writeText } from './helpers.js';

/** A raw client, closed when `fn` ends. */
async function withClient(address: string, options: Parameters<typeof connect>[1], fn: (conn: Connection) => Promise<void>): Promise<void> {
  const conn = connect(address, options);
  try {
    await fn(conn);
  } finally {
    conn.close();
  }
}

/** Each fake agent's connection: the client's, plus the secret Register gave that agent. */
const agentConns = new Map<string, Connection>();

function as(agentId: string): Connection {
  const conn = agentConns.get(agentId);
  if (!conn) throw new Error(`test bug: ${agentId} has not registered`);
  return conn;
}

async function register(conn: Connection, agentId: string) {
  const reply = await unary(conn, 'Register', { agent_id: agentId, host: 'test', gpus: [], slots: 1, version: 'test', backend: 'cpu', protocol: PROTOCOL_VERSION });
  const metadata = conn.metadata.clone();
  metadata.set(AGENT_SECRET_KEY, reply.agent_secret);
  agentConns.set(agentId, { ...conn, metadata });
  return reply;
}

/** Heartbeats for a fake agent every 300 ms (its leases stay alive) until the returned function is called. */
function keepAlive(conn: Connection, agentId: string, runs: RunRef[]): () => void {
  const timer = setInterval(() => void unary(conn, 'Heartbeat', { agent_id: agentId, runs }, 1000).catch(() => undefined), 300);
  return () => clearInterval(timer);
}

/** Asserts that `call` fails with the gRPC status `code` (and details matching `details`). */
async function refused(what: string, call: Promise<unknown>, code: grpc.status, details?: RegExp): Promise<void> {
  await assert.rejects(call, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, `${what}: expected ${grpc.status[code]}, got ${grpc.status[err.code]} (${err.details})`);
    if (details) assert.match(err.details, details, what);
    return true;
  });
}

/** Sends exactly `chunks` as one Upload stream; resolves with the reply, rejects with the status. */
function rawUpload(conn: Connection, chunks: UploadChunk[]): Promise<UploadReply__Output> {
  return new Promise((resolve, reject) => {
    const call = conn.client.Upload(conn.metadata, { deadline: Date.now() + 15_000 }, (err, reply) => (err ? reject(err) : resolve(reply!)));
    call.on('error', () => undefined); // the status arrives through the callback
    for (const chunk of chunks) call.write(chunk);
    call.end();
  });
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The chunks of one file: start, bytes, end with the checksum of those bytes. */
function fileChunks(relPath: string, data: Buffer, declaredSize = data.length): UploadChunk[] {
  return [{ file: { path: relPath, size: declaredSize } }, { data }, { end: { sha256: sha256(data) } }];
}

/** Every entry under `dir`, relative, sorted (empty when it does not exist). */
function tree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map(String).sort();
}

/** A run folder on the fake agent's side, made under `parent`. */
function runFolder(parent: string, files: Record<string, string | Buffer>): string {
  const dir = fs.mkdtempSync(path.join(parent, 'upload-'));
  for (const [rel, content] of Object.entries(files)) writeText(path.join(dir, rel), content as string);
  return dir;
}

test('a metrics batch, a report and an upload carrying a stale attempt are refused with FAILED_PRECONDITION and change nothing', async () => {
  const ws = workspace(tinySweep({ name: 'stale', runs: 1, steps: 30 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    await withClient(coord.address, {}, async (conn) => {
      await register(conn, 'fake-a');
      await register(conn, 'fake-b');
      const [leasedA] = (await unary(as('fake-a'), 'Lease', { agent_id: 'fake-a', max_runs: 1 })).runs;
      const a1 = leasedA!.run!;
      assert.deepEqual(a1, { run_id: 'stale/r000', attempt: 1 });
      await unary(as('fake-a'), 'StartRun', { run: a1, agent_id: 'fake-a' });
      await unary(as('fake-a'), 'ReportMetrics', { run: a1, agent_id: 'fake-a', rows: [{ seq: '1', line: '{"step":1,"split":"train","loss":1}' }] });

      // fake-a sends no heartbeat: its lease expires, and the run goes to fake-b as attempt 2.
      await waitFor(
        'the lease of attempt 1 to expire',
        () => query<{ outcome: string }>(ws.db, "SELECT outcome FROM attempts WHERE run_id = 'stale/r000' AND attempt = 1")[0]?.outcome === 'lost',
        30_000,
        c.logs,
      );
      const [leasedB] = (await unary(as('fake-b'), 'Lease', { agent_id: 'fake-b', max_runs: 1 })).runs;
      const b2 = leasedB!.run!;
      assert.deepEqual(b2, { run_id: 'stale/r000', attempt: 2 });
      const stopHeartbeats = keepAlive(as('fake-b'), 'fake-b', [b2]);
      try {
        await unary(as('fake-b'), 'StartRun', { run: b2, agent_id: 'fake-b' });
        const bLine = '{"step":1,"split":"train","loss":0.5}';
        assert.equal((await unary(as('fake-b'), 'ReportMetrics', { run: b2, agent_id: 'fake-b', rows: [{ seq: '1', line: bLine }] })).acked_seq, '1');

        const snapshot = () => ({
          run: query(ws.db, "SELECT id, state, attempt, agent_id, summary_json, error, started_at, ended_at, updated_at FROM runs WHERE id = 'stale/r000'"),
          attempts: query(ws.db, "SELECT * FROM attempts WHERE run_id = 'stale/r000' ORDER BY attempt"),
          metrics: query(ws.db, "SELECT * FROM metrics WHERE run_id = 'stale/r000' ORDER BY attempt, seq"),
          // agent_lost for the silent fake-a may come at any time; it is not the refused calls' doing.
          events: query(ws.db, "SELECT * FROM events WHERE type != 'agent_lost' ORDER BY id"),
          landed: tree(ws.runsDir),
        });
        const before = snapshot();
        assert.deepEqual(before.run, [{ ...(before.run[0] as object), state: 'running', attempt: 2, agent_id: 'fake-b' }]);
        assert.deepEqual(before.landed, [], 'nothing landed yet');

        const stale = /stale attempt/;
        await refused(
          'a stale metrics batch',
          unary(as('fake-a'), 'ReportMetrics', { run: a1, agent_id: 'fake-a', rows: [1, 2, 3].map((seq) => ({ seq: String(seq), line: `{"step":${seq},"from":"a"}` })) }),
          grpc.status.FAILED_PRECONDITION,
          stale,
        );
        await refused(
          'a stale report',
          unary(as('fake-a'), 'Report', { run: a1, agent_id: 'fake-a', status: 'completed', summary_json: '{"status":"completed"}', error: '' }),
          grpc.status.FAILED_PRECONDITION,
          stale,
        );
        await refused(
          "a report of the current attempt from the agent that does not hold it",
          unary(as('fake-a'), 'Report', { run: b2, agent_id: 'fake-a', status: 'failed', summary_json: '', error: 'not mine' }),
          grpc.status.FAILED_PRECONDITION,
          /held by agent fake-b/,
        );
        await refused('a stale start', unary(as('fake-a'), 'StartRun', { run: a1, agent_id: 'fake-a' }), grpc.status.FAILED_PRECONDITION, stale);
        const dir = runFolder(ws.dir, { 'summary.json': '{"status":"completed"}\n', 'metrics.jsonl': '{"step":1,"from":"a"}\n' });
        await refused(
          'a stale upload',
          uploadFolder(conn.client, { ref: { runId: a1.run_id, attempt: a1.attempt }, agentId: 'fake-a', dir, metadata: as('fake-a').metadata, deadlineMs: 15_000 }),
          grpc.status.FAILED_PRECONDITION,
          stale,
        );
        // A heartbeat naming the stale attempt is told it is lost (and renews nothing).
        const hb = await unary(as('fake-a'), 'Heartbeat', { agent_id: 'fake-a', runs: [a1] });
        assert.deepEqual(hb.lost, [a1]);

        assert.deepEqual(snapshot(), before, 'the refused calls changed nothing');
        assert.deepEqual(
          query<{ attempt: number; line: string }>(ws.db, "SELECT attempt, line FROM metrics WHERE run_id = 'stale/r000' ORDER BY attempt, seq"),
          [
            { attempt: 1, line: '{"step":1,"split":"train","loss":1}' },
            { attempt: 2, line: bLine },
          ],
          "attempt 1 keeps what it sent while it was current, and nothing after; attempt 2 has its own",
        );

        // The current attempt is still honoured: fake-b lands its folder and records the run.
        const bDir = runFolder(ws.dir, { 'summary.json': '{"status":"completed"}\n', 'metrics.jsonl': `${bLine}\n` });
        assert.deepEqual(
          await uploadFolder(conn.client, { ref: { runId: b2.run_id, attempt: b2.attempt }, agentId: 'fake-b', dir: bDir, metadata: as('fake-b').metadata, deadlineMs: 15_000 }),
          { files: 2, bytes: 23 + bLine.length + 1 },
        );
        await unary(as('fake-b'), 'Report', { run: b2, agent_id: 'fake-b', status: 'completed', summary_json: '{"status":"completed"}', error: '' });
        assert.deepEqual(runStates(ws.db), { 'stale/r000': 'completed' });
        assert.equal(fs.readFileSync(path.join(ws.runsDir, 'stale', 'r000', 'metrics.jsonl'), 'utf8'), `${bLine}\n`);
      } finally {
        stopHeartbeats();
      }
    });
  });
});

test('upload paths with "..", absolute paths and sizes over --max-upload-mb are refused, and nothing lands', async () => {
  const ws = workspace(tinySweep({ name: 'paths', runs: 1, steps: 30 }));
  await withCluster(async (c) => {
    // 0.01 MB: 10485 bytes.
    const coord = await serveSweep(c, ws, ['--max-upload-mb', '0.01']);
    await withClient(coord.address, {}, async (conn) => {
      await register(conn, 'fake');
      const [leased] = (await unary(as('fake'), 'Lease', { agent_id: 'fake', max_runs: 1 })).runs;
      const ref = leased!.run!;
      const stopHeartbeats = keepAlive(as('fake'), 'fake', [ref]);
      try {
        await unary(as('fake'), 'StartRun', { run: ref, agent_id: 'fake' });
        const header: UploadChunk = { header: { run: ref, agent_id: 'fake' } };
        const ok = fileChunks('config.json', Buffer.from('{}\n'));
        const escapeName = `dlphys-escape-${process.pid}-${Date.now()}.txt`;
        const evil = Buffer.from('written outside the run folder\n');
        const cases: [string, UploadChunk[], grpc.status, RegExp][] = [
          ['a path with ..', [header, ...ok, ...fileChunks(`../../${escapeName}`, evil)], grpc.status.INVALID_ARGUMENT, /contains \.\./],
          ['a path with .. inside', [header, ...fileChunks(`logs/../../../${escapeName}`, evil)], grpc.status.INVALID_ARGUMENT, /contains \.\./],
          ['an absolute path', [header, ...ok, ...fileChunks(path.join(ws.dir, escapeName), evil)], grpc.status.INVALID_ARGUMENT, /absolute/],
          ['a file declared over the limit', [header, ...ok, ...fileChunks('big.bin', Buffer.alloc(20_000, 1))], grpc.status.OUT_OF_RANGE, /limit/],
          ['a file that sends more than the limit', [header, ...fileChunks('small.bin', Buffer.alloc(20_000, 2), 100)], grpc.status.OUT_OF_RANGE, /limit/],
          ['a header with attempt 0', [{ header: { run: { run_id: ref.run_id, attempt: 0 }, agent_id: 'fake' } }, ...ok], grpc.status.INVALID_ARGUMENT, /attempt must be/],
          ['a header naming no run', [{ header: { run: { run_id: 'paths/r999', attempt: 1 }, agent_id: 'fake' } }, ...ok], grpc.status.NOT_FOUND, /no run paths\/r999/],
          ['a stream without a header', [...ok], grpc.status.INVALID_ARGUMENT, /first message must be a header/],
          [
            'files that together pass the limit',
            [header, ...fileChunks('a.bin', Buffer.alloc(6000, 3)), ...fileChunks('b.bin', Buffer.alloc(6000, 4))],
            grpc.status.OUT_OF_RANGE,
            /in total/,
          ],
        ];
        for (const [what, chunks, code, details] of cases) {
          await refused(what, rawUpload(as('fake'), chunks), code, details);
          assert.deepEqual(tree(ws.runsDir).filter((e) => !e.startsWith('.incoming')), [], `${what}: nothing landed`);
          assert.deepEqual(tree(path.join(ws.runsDir, '.incoming')), [], `${what}: nothing left in staging`);
        }
        // Neither next to the runs dir, nor two levels up, nor where the absolute path pointed.
        for (const dir of [ws.dir, path.dirname(ws.dir), ws.runsDir]) assert.equal(fs.existsSync(path.join(dir, escapeName)), false, `nothing escaped into ${dir}`);

        // The agent's own sender is refused the same way for a folder over the limit.
        const big = runFolder(ws.dir, { 'config.json': '{}\n', 'weights.bin': Buffer.alloc(20_000, 5) });
        await refused(
          'a folder over the limit sent by uploadFolder',
          uploadFolder(conn.client, { ref: { runId: ref.run_id, attempt: ref.attempt }, agentId: 'fake', dir: big, metadata: as('fake').metadata, deadlineMs: 15_000 }),
          grpc.status.OUT_OF_RANGE,
        );
        assert.deepEqual(tree(ws.runsDir).filter((e) => !e.startsWith('.incoming')), [], 'nothing landed');
        assert.deepEqual(runStates(ws.db), { 'paths/r000': 'running' }, 'the refusals did not touch the run');

        // Under the limit, with a nested relative path: it lands.
        const reply = await rawUpload(as('fake'), [header, ...ok, ...fileChunks('logs/train.log', Buffer.from('fine\n'))]);
        assert.deepEqual(reply, { files: 2, bytes: '8' });
        assert.deepEqual(tree(path.join(ws.runsDir, 'paths', 'r000')), ['config.json', 'logs', 'logs/train.log']);
      } finally {
        stopHeartbeats();
      }
    });
  });
});

test("no client can act as an agent it did not register: calls without the agent's secret are PERMISSION_DENIED, a live id cannot be taken, and completed needs a landed folder", async () => {
  const ws = workspace(tinySweep({ name: 'own', runs: 2, steps: 30 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws);
    await withClient(coord.address, {}, async (conn) => {
      await refused(
        'Register speaking another contract version',
        unary(conn, 'Register', { agent_id: 'old', host: 'h', gpus: [], slots: 1, version: '0', backend: 'cpu', protocol: 1 }),
        grpc.status.FAILED_PRECONDITION,
        /contract version 1/,
      );
      await register(conn, 'owner');
      const owner = as('owner');
      await refused('Register under a live agent\'s id', register(conn, 'owner'), grpc.status.ALREADY_EXISTS, /belongs to a live agent/);

      // A Lease whose reply was lost is asked again with the same request id: same runs, no new attempt.
      const first = (await unary(owner, 'Lease', { agent_id: 'owner', max_runs: 1, request_id: 'req-1' })).runs;
      const again = (await unary(owner, 'Lease', { agent_id: 'owner', max_runs: 1, request_id: 'req-1' })).runs;
      assert.deepEqual(again, first);
      assert.deepEqual(runStates(ws.db), { 'own/r000': 'leased', 'own/r001': 'queued' }, 'the repeat leased nothing more');
      const run = first[0]!.run!;
      assert.deepEqual(run, { run_id: 'own/r000', attempt: 1 });

      const forged = { ...conn, metadata: conn.metadata.clone() };
      forged.metadata.set('x-dlphys-agent-secret', 'guessed');
      for (const [who, client] of [['no secret', conn], ['a wrong secret', forged]] as const) {
        const calls: [string, Promise<unknown>][] = [
          ['Report', unary(client, 'Report', { run, agent_id: 'owner', status: 'completed', summary_json: '{"status":"completed"}', error: '' })],
          ['Heartbeat', unary(client, 'Heartbeat', { agent_id: 'owner', runs: [run] })],
          ['Lease', unary(client, 'Lease', { agent_id: 'owner', max_runs: 1, request_id: 'x' })],
          ['StartRun', unary(client, 'StartRun', { run, agent_id: 'owner' })],
          ['ReportMetrics', unary(client, 'ReportMetrics', { run, agent_id: 'owner', rows: [{ seq: '1', line: '{"step":1}' }] })],
          ['Goodbye', unary(client, 'Goodbye', { agent_id: 'owner' })],
          ['Upload', rawUpload(client, [{ header: { run, agent_id: 'owner' } }, ...fileChunks('summary.json', Buffer.from('{}'))])],
        ];
        for (const [what, call] of calls) await refused(`${what} with ${who}`, call, grpc.status.PERMISSION_DENIED, /lacks the secret/);
      }
      assert.deepEqual(runStates(ws.db), { 'own/r000': 'leased', 'own/r001': 'queued' }, 'the forged calls changed nothing');
      assert.equal(tree(ws.runsDir).length, 0, 'nothing landed');

      // The owner itself cannot record completed before its folder, with its summary, has landed.
      const report = { run, agent_id: 'owner', status: 'completed', summary_json: '{"status":"completed"}', error: '' };
      await refused('completed with nothing landed', unary(owner, 'Report', report), grpc.status.ABORTED, /has not landed/);
      await rawUpload(owner, [{ header: { run, agent_id: 'owner' } }, ...fileChunks('metrics.jsonl', Buffer.from('{"step":1}\n'))]);
      await refused('completed after a snapshot without summary.json', unary(owner, 'Report', report), grpc.status.ABORTED, /has not landed/);
      await rawUpload(owner, [{ header: { run, agent_id: 'owner' } }, ...fileChunks('summary.json', Buffer.from('{"status":"completed"}\n'))]);
      await unary(owner, 'Report', report);
      assert.equal(runStates(ws.db)['own/r000'], 'completed');
    });
  });
});

test('once --exit-when-done is reached nothing new is taken: a retry is refused and a lease answers nothing, while the coordinator waits for agents to hear it', async () => {
  const ws = workspace(tinySweep({ name: 'bye', runs: 1, steps: 30 }));
  await withCluster(async (c) => {
    const coord = c.track(
      'coordinator',
      await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--lease-ttl', '10', '--exit-when-done']),
    );
    await withClient(coord.address, {}, async (conn) => {
      await register(conn, 'fake');
      const fake = as('fake');
      const [leased] = (await unary(fake, 'Lease', { agent_id: 'fake', max_runs: 1, request_id: 'a' })).runs;
      const run = leased!.run!;
      await rawUpload(fake, [{ header: { run, agent_id: 'fake' } }, ...fileChunks('summary.json', Buffer.from('{"status":"failed"}\n'))]);
      await unary(fake, 'Report', { run, agent_id: 'fake', status: 'failed', summary_json: '', error: 'boom' });
      await waitFor('the coordinator to say it exits', () => /every run has finished: exiting/.test(coord.log()), 30_000, coord.log);
      // It waits (up to a lease TTL) for this agent to hear there is nothing left; meanwhile:
      await refused('a retry after the exit was decided', unary(conn, 'Retry', { target: 'bye' }), grpc.status.UNAVAILABLE, /exiting/);
      assert.equal(await checkHealth(conn), 'NOT_SERVING', 'health checks hear it is on its way out');
      const reply = await unary(fake, 'Lease', { agent_id: 'fake', max_runs: 1, request_id: 'b' });
      assert.deepEqual(reply.runs, []);
      assert.equal(reply.unfinished, 0);
    });
    assert.equal(await within('the coordinator to exit', coord.exited, 30_000, coord.log), 0, coord.log());
    assert.deepEqual(runStates(ws.db), { 'bye/r000': 'failed' }, 'the refused retry queued nothing');
  });
});

test('with --token, calls without the token or with a wrong one are UNAUTHENTICATED; an agent with a wrong token exits 2 with one line, with the right one it completes the sweep', async () => {
  const ws = workspace(tinySweep({ name: 'tok', runs: 2, steps: 30 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--token', 's3cret', '--exit-when-done']);
    for (const [what, token, details] of [
      ['no token', undefined, /needs a token/],
      ['a wrong token', 'guess', /wrong token/],
    ] as const) {
      await withClient(coord.address, { token }, async (conn) => {
        await refused(`Status with ${what}`, unary(conn, 'Status', { sweep: '' }), grpc.status.UNAUTHENTICATED, details);
        await refused(`Register with ${what}`, register(conn, `intruder-${what}`), grpc.status.UNAUTHENTICATED, details);
        await refused(`Lease with ${what}`, unary(conn, 'Lease', { agent_id: 'intruder', max_runs: 1 }), grpc.status.UNAUTHENTICATED, details);
        await refused(`Cancel with ${what}`, unary(conn, 'Cancel', { target: 'tok' }), grpc.status.UNAUTHENTICATED, details);
        await refused(
          `Upload with ${what}`,
          rawUpload(conn, [{ header: { run: { run_id: 'tok/r000', attempt: 1 }, agent_id: 'intruder' } }, ...fileChunks('x.txt', Buffer.from('x'))]),
          grpc.status.UNAUTHENTICATED,
          details,
        );
        const watch = conn.client.Watch({ since_id: '0' }, conn.metadata, { deadline: Date.now() + 15_000 });
        watch.on('data', () => assert.fail(`Watch with ${what} delivered an event`));
        const err = await new Promise<grpc.ServiceError>((resolve) => watch.on('error', resolve));
        assert.equal(err.code, grpc.status.UNAUTHENTICATED, `Watch with ${what}: ${err.details}`);
        assert.match(err.details, details);
      });
    }
    assert.deepEqual(query(ws.db, 'SELECT id FROM agents'), [], 'no intruder was recorded');
    assert.deepEqual(runStates(ws.db), { 'tok/r000': 'queued', 'tok/r001': 'queued' });

    const wrong = c.track('agent with a wrong token', startOneSlotAgent(coord.address, ['--token', 'guess', '--exit-when-idle']));
    assert.equal(await within('the agent with a wrong token to exit', wrong.exited, 30_000, c.logs), 2, c.logs());
    const lines = wrong.log().trim().split('\n');
    assert.equal(lines.length, 1, `one line, got:\n${wrong.log()}`);
    assert.match(lines[0]!, /^dlphys-agent: the coordinator at 127\.0\.0\.1:\d+ refused the token: wrong token; pass the coordinator's token with --token-file FILE \(or DLPHYS_TOKEN_FILE\)$/);

    const byFlag = c.track('agent with --token', startOneSlotAgent(coord.address, ['--token', 's3cret', '--exit-when-idle']));
    const byEnv = c.track('agent with DLPHYS_TOKEN', startOneSlotAgent(coord.address, ['--exit-when-idle'], { DLPHYS_TOKEN: 's3cret' }));
    assert.equal(await within('the agent with --token to exit', byFlag.exited, 90_000, c.logs), 0, c.logs());
    assert.equal(await within('the agent with DLPHYS_TOKEN to exit', byEnv.exited, 90_000, c.logs), 0, c.logs());
    assert.equal(await within('the coordinator to exit when done', coord.exited, 30_000, c.logs), 0, c.logs());
    assert.deepEqual(runStates(ws.db), { 'tok/r000': 'completed', 'tok/r001': 'completed' });
    assert.equal(query(ws.db, 'SELECT id FROM agents').length, 2, 'both agents with the right token registered');
  });
});

test('a coordinator process started with --token answers health checks without it: SERVING, for the server and for its Coordinator service', async () => {
  const ws = workspace(tinySweep({ name: 'health', runs: 1 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--token', 's3cret']);
    await withClient(coord.address, {}, async (conn) => {
      assert.equal(await checkHealth(conn), 'SERVING');
      assert.equal(await checkHealth(conn, COORDINATOR_SERVICE), 'SERVING');
      await refused('Status without the token', unary(conn, 'Status', { sweep: '' }), grpc.status.UNAUTHENTICATED, /needs a token/);
    });
  });
});

test('TLS: an agent with --tls-ca completes the sweep; one without it cannot reach the coordinator', async (t) => {
  if (spawnSync('openssl', ['version'], { encoding: 'utf8' }).status !== 0) {
    t.skip('openssl is not on PATH: cannot make a self-signed certificate');
    return;
  }
  const ws = workspace(tinySweep({ name: 'tls', runs: 2, steps: 30 }));
  const cert = path.join(ws.dir, 'cert.pem');
  const key = path.join(ws.dir, 'key.pem');
  const made = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(made.status, 0, made.stderr);

  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--tls-cert', cert, '--tls-key', key, '--exit-when-done']);
    assert.match(coord.log(), /serving on 127\.0\.0\.1:\d+ \(TLS\)/);
    const plain = c.track('agent without --tls-ca', startOneSlotAgent(coord.address, ['--exit-when-idle']));
    const secure = c.track('agent with --tls-ca', startOneSlotAgent(coord.address, ['--tls-ca', cert, '--exit-when-idle']));

    await waitFor('the agent without --tls-ca to say the coordinator is unreachable', () => /no coordinator answers at 127\.0\.0\.1:\d+ .*; retrying/.test(plain.log()), 60_000, c.logs);
    assert.equal(plain.child.exitCode, null, 'it keeps retrying');
    plain.kill('SIGKILL');

    assert.equal(await within('the agent with --tls-ca to complete the sweep and exit', secure.exited, 90_000, c.logs), 0, c.logs());
    assert.equal(await within('the coordinator to exit when done', coord.exited, 30_000, c.logs), 0, c.logs());
    assert.deepEqual(runStates(ws.db), { 'tls/r000': 'completed', 'tls/r001': 'completed' });
    assert.equal(query(ws.db, 'SELECT id FROM agents').length, 1, 'only the agent with the CA got through');
    assert.doesNotMatch(plain.log(), /registered as/);
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
