/**
 * The database source (tui/sources/database.ts) and `dlphys dash FILE.db`, against the database
 * of a real coordinator with a real agent: followed read-only while the coordinator writes it,
 * then read again once it has finished.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { databaseSource, openReadOnly } from '../tui/sources/database.js';
import { MIGRATIONS } from '../coordinator/schema.js';
import { landedLines, serveSweep, startOneSlotAgent, tinySweep, waitFor, withCluster, within, workspace } from './cluster.js';
import { recordingSink } from './dash_sink.js';
import { runCli, tempDir } from './helpers.js';

test("a coordinator's database followed while it runs a sweep, then read once it has finished", async () => {
  const ws = workspace(tinySweep({ runs: 3, steps: 30 }));
  await withCluster(async (c) => {
    const coord = await serveSweep(c, ws, ['--exit-when-done']);
    const rec = recordingSink();
    const stop = databaseSource(ws.db, { pollMs: 100, runsDir: ws.runsDir }).start(rec.sink);
    try {
      // Recorded, nothing leased yet: three queued runs, and the sweep's event.
      const first = await waitFor('the first snapshot', () => rec.last(), 30_000, c.logs);
      assert.deepEqual(first.sweeps.map((s) => [s.name, s.total, s.states.queued, s.metric, s.goal]), [['tiny', 3, 3, 'val_acc', 'max']]);
      assert.deepEqual(first.runs.map((r) => [r.id, r.state, JSON.parse(r.params_json)]), [
        ['tiny/r000', 'queued', { seed: 0 }],
        ['tiny/r001', 'queued', { seed: 1 }],
        ['tiny/r002', 'queued', { seed: 2 }],
      ]);
      assert.equal(rec.events[0]?.type, 'sweep_submitted');

      c.track('agent', startOneSlotAgent(coord.address, ['--exit-when-idle']));
      await waitFor('an agent alive', () => rec.last()!.agents.find((a) => a.state === 'alive'), 60_000, c.logs);
      await waitFor('three runs finished', () => rec.data('run_finished').length === 3, 120_000, c.logs);
      await within('the coordinator to exit', coord.exited, 60_000, c.logs);
      const last = await waitFor('every run completed', () => (rec.last()!.sweeps[0]!.states.completed === 3 ? rec.last() : null));
      assert.ok(last.runs.every((r) => r.state === 'completed' && r.attempt === 1 && JSON.parse(r.summary_json).status === 'completed'));
      await waitFor('the agent shown as left', () => rec.last()!.agents.every((a) => a.state === 'left'), 30_000, c.logs);

      // The coordinator's own event log, in id order, each event once.
      const ids = rec.events.map((e) => Number(e.id));
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
      assert.equal(new Set(ids).size, ids.length);
      for (const type of ['agent_registered', 'run_leased', 'run_started', 'run_landed', 'run_finished', 'agent_left']) {
        assert.ok(rec.events.some((e) => e.type === type), type);
      }
      const metrics = rec.data('metrics', 'tiny/r001');
      assert.ok(metrics.length > 0);
      assert.equal((metrics.at(-1)!.last as { step: number }).step, 30);
      assert.deepEqual(rec.connections.map((x) => x.state), ['connecting', 'live']);
    } finally {
      stop();
    }

    // Read again from scratch once the coordinator has gone: the compacted log, then a run in full.
    const again = recordingSink();
    const source = databaseSource(ws.db, { runsDir: ws.runsDir });
    const stop2 = source.start(again.sink);
    try {
      const s = await waitFor('a snapshot', () => again.last());
      assert.equal(s.sweeps[0]!.states.completed, 3);
      assert.equal(again.data('metrics').length, 3, 'one metrics event per run left in the log');
    } finally {
      stop2();
    }
    const detail = await source.runDetail('tiny/r002', 3);
    assert.equal(detail.run!.state, 'completed');
    assert.equal(JSON.parse(detail.config_json).seed, 2);
    assert.deepEqual(detail.metric_lines, landedLines(ws.runsDir, 'tiny/r002'));
    const log = fs.readFileSync(path.join(ws.runsDir, 'tiny', 'r002', 'train.log'), 'utf8').trim().split('\n');
    assert.deepEqual(detail.log_tail, log.slice(-3));
    await assert.rejects(source.runDetail('tiny/r999', 3), /no run tiny\/r999/);

    // The same through the command, without a terminal.
    const r = runCli(['dash', ws.db]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /sweep tiny: 3\/3 finished \(3 completed\), 0 running, 0 queued/);
  });
});

test('a SQLite file that is no coordinator database is refused in one line', () => {
  const file = path.join(tempDir(), 'other.db');
  const db = new Database(file);
  db.exec('CREATE TABLE t (x)');
  db.close();
  assert.throws(() => openReadOnly(file), /not a dlphys coordinator database/);
  const r = runCli(['dash', file]);
  assert.equal(r.status, 2);
  assert.match(r.stderr.trim(), /^dlphys: cannot read \S+other\.db: \S+ is not a dlphys coordinator database \(schema version 0\)$/);
});

test('a database from before SLURM jobs (schema 5) is read, with no SLURM job', async () => {
  const file = path.join(tempDir(), 'v5.db');
  const db = new Database(file);
  for (const m of MIGRATIONS.filter((x) => x.version <= 5)) db.exec(m.sql);
  db.pragma('user_version = 5');
  db.prepare("INSERT INTO agents (id, host, gpus_json, slots, version, backend, registered_at, last_heartbeat) VALUES ('old', 'h', '[]', 1, '0', 'cpu', 0, 0)").run();
  db.close();
  const rec = recordingSink();
  const stop = databaseSource(file).start(rec.sink);
  try {
    const status = await waitFor('a status from the old file', () => rec.last(), 10_000, () => JSON.stringify(rec.connections));
    assert.deepEqual(status.agents.map((a) => [a.id, a.slurm_job]), [['old', '']]);
    assert.deepEqual(status.slurm_jobs, []);
  } finally {
    stop();
  }
});
