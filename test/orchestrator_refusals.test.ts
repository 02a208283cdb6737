/**
 * What a misbehaving or confused agent is refused by a real `dlphys-coord` on 127.0.0.1, driven by
 * fake agents (fake_agent_fixtures.ts) that send exactly what the test wants: stale attempts,
 * upload paths and sizes, calls without the agent's secret, and new work once --exit-when-done is
 * reached. Tokens and TLS are orchestrator_auth.test.ts; the watch stream, watch.test.ts.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { uploadFolder } from '../agent/sync_sender.js';
import { unary } from '../proto/client.js';
import { checkHealth } from '../proto/health.js';
import type { UploadChunk } from '../proto/generated/dlphys/UploadChunk.js';
import {
  query,
  runStates,
  serveSweep,
  startCoordinator,
  tinySweep,
  waitFor,
  withCluster,
  within,
  workspace,
} from './cluster.js';
import { as, fileChunks, keepAlive, rawUpload, refused, register, runFolder, tree, withClient } from './fake_agent_fixtures.js';

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
        // Made one at a time: each refusal is awaited before the next call starts.
        const calls: [string, () => Promise<unknown>][] = [
          ['Report', () => unary(client, 'Report', { run, agent_id: 'owner', status: 'completed', summary_json: '{"status":"completed"}', error: '' })],
          ['Heartbeat', () => unary(client, 'Heartbeat', { agent_id: 'owner', runs: [run] })],
          ['Lease', () => unary(client, 'Lease', { agent_id: 'owner', max_runs: 1, request_id: 'x' })],
          ['StartRun', () => unary(client, 'StartRun', { run, agent_id: 'owner' })],
          ['ReportMetrics', () => unary(client, 'ReportMetrics', { run, agent_id: 'owner', rows: [{ seq: '1', line: '{"step":1}' }] })],
          ['Goodbye', () => unary(client, 'Goodbye', { agent_id: 'owner' })],
          ['Upload', () => rawUpload(client, [{ header: { run, agent_id: 'owner' } }, ...fileChunks('summary.json', Buffer.from('{}'))])],
        ];
        for (const [what, call] of calls) await refused(`${what} with ${who}`, call(), grpc.status.PERMISSION_DENIED, /lacks the secret/);
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
