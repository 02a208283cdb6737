/**
 * RunDetail, the dashboard's view of one run: through a real coordinator after a real agent
 * trained a tiny sweep (the run's status, its config, every metric line as landed, the end of its
 * train.log), before anything landed (no lines, no log), the refusals (unknown run, too many log
 * lines, no token), and the caps that keep a reply bounded for a very long run.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tailLines } from '../lib/run/log_tail.js';
import { unary } from '../proto/client.js';
import { landedLines, runStates, serveSweep, startOneSlotAgent, tinySweep, waitFor, withCluster, workspace } from './cluster.js';
import { refused, withClient } from './fake_agent_fixtures.js';
import { tempDir, writeText } from './helpers.js';
import { TTL, agent, fresh, line, ref, sweep } from './store_fixtures.js';

const TOKEN = 's3cret';

test('RunDetail through a real coordinator: nothing before the run lands; after, its status, config, every metric line and the end of its train.log', async () => {
  const ws = workspace(tinySweep({ name: 'detail', runs: 2, steps: 30 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--token', TOKEN]);
    await withClient(coord.address, { token: TOKEN }, async (conn) => {
      const queued = await unary(conn, 'RunDetail', { run_id: 'detail/r001', log_lines: 50 });
      assert.deepEqual([queued.run?.state, queued.run?.attempt, queued.metric_lines, queued.log_tail], ['queued', 0, [], []]);
      assert.equal((JSON.parse(queued.config_json) as { seed: number }).seed, 1, "the run's resolved config, its swept seed in it");

      c.track('agent', startOneSlotAgent(coord.address, ['--token', TOKEN, '--exit-when-idle']));
      await waitFor('both runs to complete', () => Object.values(runStates(ws.db)).filter((s) => s === 'completed').length === 2, 120_000, c.logs);

      const detail = await unary(conn, 'RunDetail', { run_id: 'detail/r001', log_lines: 3 });
      assert.equal(detail.run?.id, 'detail/r001');
      assert.equal(detail.run?.state, 'completed');
      assert.equal(detail.run?.attempt, 1);
      assert.ok(JSON.parse(detail.run!.summary_json), 'the summary is there');
      const config = JSON.parse(detail.config_json) as { seed: number; name: string };
      assert.deepEqual([config.seed, config.name], [1, 'r001']);
      assert.deepEqual(detail.metric_lines, landedLines(ws.runsDir, 'detail/r001'), 'the stored lines are the landed metrics.jsonl, in order');
      assert.ok(detail.metric_lines.some((l) => JSON.parse(l).split === 'val'));

      const log = fs.readFileSync(path.join(ws.runsDir, 'detail', 'r001', 'train.log'), 'utf8').trimEnd().split('\n');
      assert.ok(log.length > 3, `train.log has ${log.length} lines`);
      assert.deepEqual(detail.log_tail, log.slice(-3), 'the last 3 lines of the landed train.log');
      assert.deepEqual((await unary(conn, 'RunDetail', { run_id: 'detail/r001', log_lines: 1000 })).log_tail, log, 'the whole log when it is shorter');
      assert.deepEqual((await unary(conn, 'RunDetail', { run_id: 'detail/r001', log_lines: 0 })).log_tail, []);

      await refused('an unknown run', unary(conn, 'RunDetail', { run_id: 'detail/r999', log_lines: 5 }), grpc.status.NOT_FOUND, /no run detail\/r999/);
      await refused('1001 log lines', unary(conn, 'RunDetail', { run_id: 'detail/r001', log_lines: 1001 }), grpc.status.INVALID_ARGUMENT, /RunDetail: log_lines must be an integer from 0 to 1000/);
      await refused('no run id', unary(conn, 'RunDetail', { run_id: '', log_lines: 5 }), grpc.status.INVALID_ARGUMENT, /run_id is required/);
    });
    await withClient(coord.address, {}, async (conn) => {
      await refused('RunDetail without the token', unary(conn, 'RunDetail', { run_id: 'detail/r001', log_lines: 5 }), grpc.status.UNAUTHENTICATED, /needs a token/);
    });
  });
});

test("a very long run's detail keeps its newest metric lines, in order, within the line and byte caps", () => {
  const { store } = fresh();
  store.addSweep(sweep('s', 2));
  agent(store, 'a1');
  const [r] = store.lease('a1', 1, TTL);
  const lines = Array.from({ length: 50 }, (_, i) => line(i + 1));
  store.addMetrics(ref(r!), 'a1', lines.map((l, i) => ({ seq: i + 1, line: l })));
  assert.deepEqual(store.runDetail(r!.runId, 100, 1 << 20).metricLines, lines);
  assert.deepEqual(store.runDetail(r!.runId, 10, 1 << 20).metricLines, lines.slice(-10), 'the last 10, oldest first');
  const bytes = lines.slice(-7).reduce((n, l) => n + Buffer.byteLength(l), 0);
  assert.deepEqual(store.runDetail(r!.runId, 100, bytes + 1).metricLines, lines.slice(-7), 'as many of the newest as fit the bytes');
  assert.equal(store.runDetail(r!.runId, 100, 1 << 20).run.state, 'leased');
  assert.deepEqual(store.runDetail('s/lr=1', 100, 1 << 20).metricLines, [], 'a queued run has none');
  assert.throws(() => store.runDetail('s/nope', 100, 1 << 20), { name: 'NotFoundError' });
  store.close();
});

test("a log's tail is read from its end: the last n lines, never half a line when the byte limit cuts", async () => {
  const file = path.join(tempDir(), 'train.log');
  const lines = Array.from({ length: 200_000 }, (_, i) => `step ${i} loss=0.${i} λ`);
  writeText(file, lines.join('\n') + '\n');
  assert.deepEqual(await tailLines(file, 3), lines.slice(-3));
  assert.deepEqual(await tailLines(file, 1000), lines.slice(-1000));
  const cut = await tailLines(file, 1000, 200);
  assert.ok(cut.length > 0 && cut.length < 1000);
  assert.deepEqual(cut, lines.slice(-cut.length), 'whole lines only');
  writeText(file, 'first\r\nlast without newline');
  assert.deepEqual(await tailLines(file, 5), ['first', 'last without newline']);
  writeText(file, '');
  assert.deepEqual(await tailLines(file, 5), []);
  assert.deepEqual(await tailLines(path.join(tempDir(), 'missing.log'), 5), []);
});
