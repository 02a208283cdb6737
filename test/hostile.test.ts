/**
 * Unbounded and malformed input against a real `dlphys-coord` on 127.0.0.1: every request field
 * has a bound (coordinator/bounds.ts), and a message over one is refused with INVALID_ARGUMENT
 * naming the field, quoting at most ~100 characters of the value, storing nothing and logging
 * nothing forged. Uploads that stall or carry no file are refused and leave nothing behind.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AGENT_SECRET_KEY, PROTOCOL_VERSION } from '../proto/wire.js';
import { connect, unary, type Connection } from '../proto/client.js';
import type { UploadChunk } from '../proto/generated/dlphys/UploadChunk.js';
import { query, startCoordinator, tinySweep, waitFor, within, withCluster, workspace } from './cluster.js';

const MB = 'x'.repeat(1 << 20);

/** Registers a fake agent; keeps its secret (if the coordinator hands one out) in the connection's metadata. */
async function register(conn: Connection, agentId: string): Promise<void> {
  const reply = await unary(conn, 'Register', { agent_id: agentId, host: 'test', gpus: [], slots: 1, version: 'test', backend: 'cpu', protocol: PROTOCOL_VERSION });
  conn.metadata.set(AGENT_SECRET_KEY, reply.agent_secret);
}

/** Sends `chunks` as one Upload stream, then waits (without ending it when `hold`); resolves with the status. */
function upload(conn: Connection, chunks: UploadChunk[], hold = false): Promise<grpc.ServiceError | null> {
  return new Promise((resolve) => {
    const call = conn.client.Upload(conn.metadata, { deadline: Date.now() + 30_000 }, (err) => resolve(err));
    call.on('error', () => undefined);
    for (const c of chunks) call.write(c);
    if (!hold) call.end();
  });
}

test('every request field out of bounds is refused with INVALID_ARGUMENT naming it, and nothing is stored or logged', async () => {
  const ws = workspace(tinySweep({ name: 'hostile', runs: 2, steps: 30 }));
  await withCluster(async (c) => {
    const coord = c.track('coordinator', await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--lease-ttl', '30']));
    const conn = connect(coord.address);
    try {
      await register(conn, 'fake');
      const [leased] = (await unary(conn, 'Lease', { agent_id: 'fake', max_runs: 1, request_id: 'r1' })).runs;
      const run = leased!.run!;
      await unary(conn, 'StartRun', { run, agent_id: 'fake' });
      const reg = { agent_id: 'intruder', host: 'h', gpus: [] as string[], slots: 1, version: 'v', backend: 'cpu' };
      const row = (seq: string, line: string) => ({ run, agent_id: 'fake', rows: [{ seq, line }] });
      const report = { run, agent_id: 'fake', status: 'completed', summary_json: '', error: '' };
      const sweep = (patch: Record<string, unknown>) =>
        JSON.stringify({ name: 'other', method: 'grid', metric: null, spec: {}, specHash: 'ab', runs: [{ index: 0, name: 'r0', params: {}, config: {} }], ...patch });
      type Case = [what: string, call: () => Promise<unknown>, field: RegExp];
      const cases: Case[] = [
        ['a 1 MB agent id', () => unary(conn, 'Register', { ...reg, agent_id: MB }), /agent_id/],
        ['an agent id with a newline', () => unary(conn, 'Register', { ...reg, agent_id: 'a\n12:00:00 FORGED agent x registered' }), /agent_id/],
        ['an agent id with a space', () => unary(conn, 'Register', { ...reg, agent_id: 'a b' }), /agent_id/],
        ['negative slots', () => unary(conn, 'Register', { ...reg, slots: -1 }), /slots/],
        ['2000 slots', () => unary(conn, 'Register', { ...reg, slots: 2000 }), /slots/],
        ['1,000,000 GPUs', () => unary(conn, 'Register', { ...reg, gpus: Array.from({ length: 1_000_000 }, (_, i) => String(i % 8)) }), /gpus/],
        ['a GPU id with a newline', () => unary(conn, 'Register', { ...reg, gpus: ['0\nFORGED'] }), /gpus\[0\]/],
        ['a host with a newline', () => unary(conn, 'Register', { ...reg, host: 'h\nFORGED' }), /host/],
        ['100,000 heartbeat runs', () => unary(conn, 'Heartbeat', { agent_id: 'fake', runs: Array.from({ length: 100_000 }, () => run) }), /runs/],
        ['a negative max_runs', () => unary(conn, 'Lease', { agent_id: 'fake', max_runs: -5 }), /max_runs/],
        ['a 10 MB metric line', () => unary(conn, 'ReportMetrics', row('1', `{"a":"${'x'.repeat(10 << 20)}"}`)), /rows\[0\]\.line/],
        ['a metric line that is not JSON', () => unary(conn, 'ReportMetrics', row('1', 'loss=1 FORGED')), /rows\[0\]\.line.*not a JSON object/],
        ['a metric line that is a JSON array', () => unary(conn, 'ReportMetrics', row('1', '[1,2]')), /rows\[0\]\.line.*not a JSON object/],
        ['seq 2^53-1', () => unary(conn, 'ReportMetrics', row('9007199254740991', '{"step":1}')), /rows\[0\]\.seq/],
        ['seq 0', () => unary(conn, 'ReportMetrics', row('0', '{"step":1}')), /rows\[0\]\.seq/],
        ['10,000 rows in a batch', () => unary(conn, 'ReportMetrics', { run, agent_id: 'fake', rows: Array.from({ length: 10_000 }, (_, i) => ({ seq: String(i + 1), line: '{}' })) }), /rows has 10000 entries/],
        ['a summary that is not JSON', () => unary(conn, 'Report', { ...report, summary_json: 'nope' }), /summary_json/],
        ['a summary that is a JSON string', () => unary(conn, 'Report', { ...report, summary_json: '"done"' }), /summary_json/],
        ['a 1 MB summary', () => unary(conn, 'Report', { ...report, summary_json: `{"a":"${MB}"}` }), /summary_json/],
        ['a 10 MB error', () => unary(conn, 'Report', { ...report, status: 'failed', error: MB.repeat(10) }), /error/],
        ['an unknown report status', () => unary(conn, 'Report', { ...report, status: 'bogus' }), /status/],
        ['a 1 MB run id', () => unary(conn, 'StartRun', { run: { run_id: MB, attempt: 1 }, agent_id: 'fake' }), /run\.run_id/],
        ['attempt 0', () => unary(conn, 'StartRun', { run: { run_id: run.run_id, attempt: 0 }, agent_id: 'fake' }), /run\.attempt/],
        ['a sweep without method', () => unary(conn, 'SubmitSweep', { sweep_json: sweep({ method: undefined }) }), /sweep_json\.method/],
        ['a sweep named ".hidden"', () => unary(conn, 'SubmitSweep', { sweep_json: sweep({ name: '.hidden' }) }), /sweep_json\.name/],
        ['a sweep whose runs is not a list', () => unary(conn, 'SubmitSweep', { sweep_json: sweep({ runs: {} }) }), /sweep_json\.runs/],
        ['a sweep run named "a/b"', () => unary(conn, 'SubmitSweep', { sweep_json: sweep({ runs: [{ index: 0, name: 'a/b', params: {}, config: {} }] }) }), /sweep_json\.runs\.0\.name/],
        ['sweep_json that is not JSON', () => unary(conn, 'SubmitSweep', { sweep_json: `{${MB}` }), /sweep_json is not valid JSON/],
        ['a status of "../x"', () => unary(conn, 'Status', { sweep: '../x' }), /sweep/],
        ['a 1 MB cancel target', () => unary(conn, 'Cancel', { target: MB }), /target/],
      ];
      for (const [what, call, field] of cases) {
        await assert.rejects(call(), (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.INVALID_ARGUMENT, `${what}: expected INVALID_ARGUMENT, got ${grpc.status[err.code]} (${err.details?.slice(0, 300)})`);
          assert.match(err.details, field, what);
          assert.ok(err.details.length < 400, `${what}: the refusal echoes ${err.details.length} characters`);
          return true;
        });
      }
      const watch = conn.client.Watch({ since_id: '-1' }, conn.metadata, { deadline: Date.now() + 10_000 });
      const watchErr = await new Promise<grpc.ServiceError>((resolve) => watch.on('error', resolve));
      assert.equal(watchErr.code, grpc.status.INVALID_ARGUMENT);
      assert.match(watchErr.details, /since_id/);

      assert.deepEqual(query(ws.db, 'SELECT id, slots FROM agents'), [{ id: 'fake', slots: 1 }], 'no intruder was recorded');
      assert.deepEqual(query(ws.db, 'SELECT count(*) AS n FROM metrics'), [{ n: 0 }]);
      assert.deepEqual(query(ws.db, 'SELECT name FROM sweeps'), [{ name: 'hostile' }]);
      assert.deepEqual(query(ws.db, `SELECT state FROM runs WHERE id = ?`, run.run_id), [{ state: 'running' }]);
      assert.doesNotMatch(coord.log(), /FORGED/, 'no forged line reached the log');
      // The honest calls still work.
      assert.equal((await unary(conn, 'ReportMetrics', row('1', '{"step":1,"split":"train","loss":0.5}'))).acked_seq, '1');
    } finally {
      conn.close();
    }
  });
});

test('an upload that stalls ends with DEADLINE_EXCEEDED, its file closed and staging folder removed; an empty one lands nothing', async () => {
  const ws = workspace(tinySweep({ name: 'stall', runs: 1, steps: 30 }));
  await withCluster(async (c) => {
    const coord = c.track(
      'coordinator',
      await startCoordinator(['sweep', ws.sweepFile, '--port', '0', '--db', ws.db, '--runs-dir', ws.runsDir, '--lease-ttl', '30', '--upload-idle', '1']),
    );
    const conn = connect(coord.address);
    try {
      await register(conn, 'fake');
      const [leased] = (await unary(conn, 'Lease', { agent_id: 'fake', max_runs: 1, request_id: 'r1' })).runs;
      const header: UploadChunk = { header: { run: leased!.run!, agent_id: 'fake' } };
      const incoming = path.join(ws.runsDir, '.incoming');
      const openIncoming = () => fs.readdirSync(`/proc/${coord.child.pid}/fd`).filter((fd) => {
        try {
          return fs.readlinkSync(`/proc/${coord.child.pid}/fd/${fd}`).includes('.incoming');
        } catch {
          return false;
        }
      });

      const stalled = upload(conn, [header, { file: { path: 'metrics.jsonl', size: 100 } }, { data: Buffer.from('{"step":1}\n') }], true);
      await waitFor('the stalled upload to hold a file open', () => openIncoming().length === 1, 10_000, c.logs);
      const err = await within('the stalled upload to time out', stalled, 15_000, c.logs);
      assert.equal(err?.code, grpc.status.DEADLINE_EXCEEDED, err?.details);
      assert.match(err!.details, /no message for 1 s/);
      assert.deepEqual(openIncoming(), [], 'its file is closed');
      assert.deepEqual(fs.existsSync(incoming) ? fs.readdirSync(incoming) : [], [], 'its staging folder is removed');

      const empty = await upload(conn, [header]);
      assert.equal(empty?.code, grpc.status.INVALID_ARGUMENT, empty?.details);
      assert.match(empty!.details, /no files/);
      const bad = await upload(conn, [{ header: { run: leased!.run!, agent_id: 'fake\nFORGED' } }]);
      assert.equal(bad?.code, grpc.status.INVALID_ARGUMENT, bad?.details);
      assert.match(bad!.details, /header\.agent_id/);
      // The sweep's folder holds its sweep.json (written when it was recorded) and no run.
      assert.deepEqual(fs.readdirSync(path.join(ws.runsDir, 'stall')), ['sweep.json'], 'nothing landed');
      assert.deepEqual(fs.existsSync(incoming) ? fs.readdirSync(incoming) : [], []);
    } finally {
      conn.close();
    }
  });
});
