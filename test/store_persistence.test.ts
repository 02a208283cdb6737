/** What the store's database keeps: everything across close and reopen, and every acknowledged row across a SIGKILL. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { UsageError } from '../lib/errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../coordinator/schema.js';
import { Store } from '../coordinator/store/index.js';
import { tempDir } from './helpers.js';
import { TTL, agent, fresh, landed, line, ref, sweep } from './store_fixtures.js';

test('the database survives close and reopen with everything in it, and records its schema version', () => {
  const { store, file, clock } = fresh();
  store.addSweep(sweep('s', 3));
  agent(store);
  const [r0, r1] = store.lease('a1', 2, TTL);
  store.markStarted(ref(r0!), 'a1');
  store.addMetrics(ref(r0!), 'a1', [1, 2].map((seq) => ({ seq, line: line(seq) })));
  landed(store, r1!, 'a1').finishRun(ref(r1!), 'a1', { status: 'completed', summaryJson: '{"ok":true}', error: '' });
  const lastEvent = store.eventsSince(0).at(-1)!.id;
  store.close();

  // The coordinator restarts on the same file.
  const again = Store.open(file, { now: () => clock.t });
  assert.equal(again.schemaVersion(), SCHEMA_VERSION);
  assert.equal(again.run(r0!.runId).state, 'running');
  assert.equal(again.run(r1!.runId).summary_json, '{"ok":true}');
  assert.deepEqual(again.metricsOf(r0!.runId), [line(1), line(2)]);
  assert.equal(again.eventsSince(0).at(-1)!.id, lastEvent);
  // The agent carries on where it was: its lease, its attempt, its metric ack.
  assert.deepEqual(again.heartbeat('a1', [ref(r0!)], TTL), { cancel: [], lost: [], earlyStop: [] });
  assert.equal(again.addMetrics(ref(r0!), 'a1', [2, 3].map((seq) => ({ seq, line: line(seq) }))), 3);
  assert.equal(landed(again, r0!, 'a1').finishRun(ref(r0!), 'a1', { status: 'completed', summaryJson: '{}', error: '' }), 'completed');
  assert.equal(again.addSweep(sweep('s', 3)).existed, true);
  assert.deepEqual(again.lease('a1', 5, TTL).map((r) => r.runId), ['s/lr=2']);
  again.close();

  const db = new Database(file, { readonly: true });
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();
  // A database from a newer dlphys is refused; a file that is not a database too.
  const newer = new Database(file);
  newer.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  newer.close();
  assert.throws(() => Store.open(file), (e: unknown) => e instanceof UsageError && /newer than this dlphys/.test(e.message));
  const junk = path.join(path.dirname(file), 'junk.db');
  fs.writeFileSync(junk, 'this is not a database, not even a little bit'.repeat(100));
  assert.throws(() => Store.open(junk), (e: unknown) => e instanceof UsageError && /not a SQLite database/.test(e.message));
});

test('a coordinator killed with SIGKILL mid-ingestion has every acknowledged metric row on reopening', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  const file = path.join(dir, 'dlphys.db');
  const setup = Store.open(file);
  setup.addSweep(sweep('s', 1));
  agent(setup);
  const [r] = setup.lease('a1', 1, 600_000);
  setup.close();
  const storeUrl = new URL('../coordinator/store/index.ts', import.meta.url).href;
  const child = path.join(dir, 'writer.mjs');
  fs.writeFileSync(
    child,
    `import { Store } from ${JSON.stringify(storeUrl)};
     const store = Store.open(${JSON.stringify(file)});
     for (let b = 0; ; b++) {
       const rows = Array.from({ length: 100 }, (_, i) => ({ seq: b * 100 + i + 1, line: JSON.stringify({ step: b * 100 + i + 1, split: 'train', loss: 1 }) }));
       process.stdout.write(store.addMetrics(${JSON.stringify(ref(r!))}, 'a1', rows) + '\\n');
       await new Promise((resolve) => setImmediate(resolve)); // let stdout flush where pipes are asynchronous
     }`,
  );
  const proc = spawn(process.execPath, ['--import', 'tsx', child], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] });
  let lastAck = 0;
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    proc.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const l of lines) lastAck = Number(l);
      if (lastAck >= 3000) {
        proc.kill('SIGKILL');
        resolve();
      }
    });
    proc.on('exit', () => (lastAck >= 3000 ? resolve() : reject(new Error(`the writer exited early: ${stderr}`))));
  });
  const reopened = Store.open(file);
  const lines = reopened.metricsOf('s/lr=0');
  assert.ok(lines.length >= lastAck, `${lines.length} rows stored, ${lastAck} acknowledged`);
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { step: number }).step), Array.from({ length: lines.length }, (_, i) => i + 1));
  reopened.close();
});

test('a database of the previous schema (4) is migrated with its runs, attempts and metrics kept, foreign keys intact', () => {
  const file = path.join(tempDir('dlphys-migrate-'), 'old.db');
  const old = new Database(file);
  for (const m of MIGRATIONS.filter((x) => x.version <= 4)) old.exec(m.sql);
  old.pragma('user_version = 4');
  old.exec(`
    INSERT INTO sweeps (name, spec_json, spec_hash, method, metric_name, metric_goal, created_at) VALUES ('s', '{}', 'h', 'grid', 'loss', 'min', 1);
    INSERT INTO runs (id, sweep, idx, name, params_json, config_json, state, attempt, created_at, updated_at) VALUES ('s/r0', 's', 0, 'r0', '{}', '{}', 'completed', 1, 1, 2);
    INSERT INTO runs (id, sweep, idx, name, params_json, config_json, state, attempt, agent_id, created_at, updated_at) VALUES ('s/r1', 's', 1, 'r1', '{"lr":1}', '{}', 'running', 2, 'a1', 1, 2);
    INSERT INTO attempts (run_id, attempt, agent_id, leased_at) VALUES ('s/r1', 2, 'a1', 5);
    INSERT INTO metrics (run_id, attempt, seq, step, split, line) VALUES ('s/r1', 2, 1, 0, 'train', '{"step":0,"loss":1}');
  `);
  old.close();
  const store = Store.open(file);
  const runs = store.status('s', TTL).runs;
  assert.deepEqual(runs.map((r) => [r.id, r.state, r.attempt, r.params_json]), [['s/r0', 'completed', 1, '{}'], ['s/r1', 'running', 2, '{"lr":1}']]);
  store.close();
  const db = new Database(file, { readonly: true });
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.deepEqual(db.pragma('foreign_key_check'), []);
  assert.equal((db.prepare('SELECT count(*) AS n FROM metrics').get() as { n: number }).n, 1);
  assert.match((db.prepare("SELECT sql FROM sqlite_master WHERE name = 'runs'").get() as { sql: string }).sql, /'early_stopped'/);
  db.close();
});
